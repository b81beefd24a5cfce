CREATE INDEX `contacts_status` ON `contacts` (`project_id`,`status`,`last_message_at`);--> statement-breakpoint
CREATE INDEX `contacts_instance` ON `contacts` (`project_id`,`instance_id`,`last_message_at`);--> statement-breakpoint
CREATE INDEX `contacts_created` ON `contacts` (`project_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `contacts_name` ON `contacts` (`project_id`,("name" IS NULL),"name" COLLATE NOCASE);--> statement-breakpoint
CREATE INDEX `contacts_city` ON `contacts` (`project_id`,"address_city" COLLATE NOCASE);--> statement-breakpoint
CREATE INDEX `contacts_state` ON `contacts` (`project_id`,"address_state" COLLATE NOCASE);--> statement-breakpoint
CREATE INDEX `contacts_zip` ON `contacts` (`project_id`,`address_zip`);--> statement-breakpoint
CREATE INDEX `contacts_document` ON `contacts` (`project_id`,`document`);