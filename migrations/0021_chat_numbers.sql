-- WITHOUT ROWID is written by hand (drizzle-kit cannot declare it): see chat_numbers in edge/db/schema/contacts.ts.
CREATE TABLE `chat_numbers` (
	`project_id` text NOT NULL,
	`chat_jid` text NOT NULL,
	`instance_id` text NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`project_id`, `chat_jid`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
