CREATE TABLE `outbound_media_expiry` (
	`r2_key` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`message_id` text NOT NULL,
	`delete_after` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `outbound_media_expiry_due` ON `outbound_media_expiry` (`delete_after`);--> statement-breakpoint
ALTER TABLE `suppressions` ADD `note` text;