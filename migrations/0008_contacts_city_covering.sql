DROP INDEX `contacts_city`;--> statement-breakpoint
CREATE INDEX `contacts_city` ON `contacts` (`project_id`,"address_city" COLLATE NOCASE,`status`,`last_message_at`,`email`,`id`);