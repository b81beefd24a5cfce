ALTER TABLE `message_edits` ADD `wa_message_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `message_edits_wa` ON `message_edits` (`message_id`,`wa_message_id`) WHERE wa_message_id IS NOT NULL;