ALTER TABLE `contacts` ADD `avatar_media_id` text;--> statement-breakpoint
ALTER TABLE `contacts` ADD `avatar_checked_at` text;