CREATE TABLE `contacts` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`phone` text,
	`jid` text,
	`lid` text,
	`name` text,
	`avatar_url` text,
	`instance_id` text,
	`message_count` integer DEFAULT 0 NOT NULL,
	`last_message_at` text,
	`source` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_phone` ON `contacts` (`project_id`,`phone`) WHERE phone IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `contacts_lid` ON `contacts` (`project_id`,`lid`) WHERE lid IS NOT NULL;--> statement-breakpoint
CREATE INDEX `contacts_activity` ON `contacts` (`project_id`,`last_message_at`);--> statement-breakpoint
CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`chat_jid` text NOT NULL,
	`instance_id` text,
	`last_message_id` text,
	`last_message_at` text,
	`last_inbound_at` text,
	`unread_count` integer DEFAULT 0 NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `conversations_chat` ON `conversations` (`project_id`,`chat_jid`);--> statement-breakpoint
CREATE UNIQUE INDEX `conversations_contact` ON `conversations` (`project_id`,`contact_id`);--> statement-breakpoint
CREATE INDEX `conversations_recent` ON `conversations` (`project_id`,`last_message_at`);--> statement-breakpoint
CREATE INDEX `conversations_instance` ON `conversations` (`project_id`,`instance_id`,`last_message_at`);--> statement-breakpoint
CREATE TABLE `lid_map` (
	`project_id` text NOT NULL,
	`lid` text NOT NULL,
	`pn` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`project_id`, `lid`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `lid_map_pn` ON `lid_map` (`project_id`,`pn`);--> statement-breakpoint
CREATE TABLE `media` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`r2_key` text NOT NULL,
	`mime_type` text NOT NULL,
	`filename` text,
	`size` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `media_project` ON `media` (`project_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`delivery_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status_code` integer,
	`error` text,
	`duration_ms` integer NOT NULL,
	`at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`delivery_id`) REFERENCES `webhook_deliveries`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_delivery` ON `webhook_attempts` (`delivery_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`body` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`next_attempt_at` text,
	`delivered_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`webhook_id`) REFERENCES `webhooks`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_event` ON `webhook_deliveries` (`webhook_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_list` ON `webhook_deliveries` (`project_id`,`webhook_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`url` text NOT NULL,
	`events` text NOT NULL,
	`description` text,
	`secret_sealed` text NOT NULL,
	`kind` text DEFAULT 'webhook' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`disabled_reason` text,
	`failing_since` text,
	`last_success_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `webhooks_project` ON `webhooks` (`project_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `messages` ADD `contact_id` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `conversation_id` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `sender_jid` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `quoted_id` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `media_id` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `from_me` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `messages_inbound_wa` ON `messages` (`project_id`,`instance_id`,`wa_message_id`) WHERE direction = 'inbound';--> statement-breakpoint
CREATE INDEX `messages_chat` ON `messages` (`project_id`,`chat_jid`,`created_at`);