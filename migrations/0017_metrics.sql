CREATE TABLE `metric_counts` (
	`project_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`grain` text NOT NULL,
	`start` integer NOT NULL,
	`sent` integer DEFAULT 0 NOT NULL,
	`delivered` integer DEFAULT 0 NOT NULL,
	`read` integer DEFAULT 0 NOT NULL,
	`played` integer DEFAULT 0 NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`opt_outs` integer DEFAULT 0 NOT NULL,
	`webhooks_delivered` integer DEFAULT 0 NOT NULL,
	`webhooks_failed` integer DEFAULT 0 NOT NULL,
	`webhook_attempts_failed` integer DEFAULT 0 NOT NULL,
	`latency_0` integer DEFAULT 0 NOT NULL,
	`latency_1` integer DEFAULT 0 NOT NULL,
	`latency_2` integer DEFAULT 0 NOT NULL,
	`latency_3` integer DEFAULT 0 NOT NULL,
	`latency_4` integer DEFAULT 0 NOT NULL,
	`latency_5` integer DEFAULT 0 NOT NULL,
	`latency_6` integer DEFAULT 0 NOT NULL,
	`latency_7` integer DEFAULT 0 NOT NULL,
	`latency_8` integer DEFAULT 0 NOT NULL,
	`latency_9` integer DEFAULT 0 NOT NULL,
	`latency_10` integer DEFAULT 0 NOT NULL,
	`latency_11` integer DEFAULT 0 NOT NULL,
	`latency_12` integer DEFAULT 0 NOT NULL,
	`latency_13` integer DEFAULT 0 NOT NULL,
	`latency_14` integer DEFAULT 0 NOT NULL,
	`latency_15` integer DEFAULT 0 NOT NULL,
	`latency_16` integer DEFAULT 0 NOT NULL,
	`latency_17` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `grain`, `start`, `instance_id`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `metric_counts_scope` ON `metric_counts` (`project_id`,`instance_id`,`grain`,`start`);--> statement-breakpoint
CREATE TABLE `metric_failures` (
	`project_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`grain` text NOT NULL,
	`start` integer NOT NULL,
	`reason` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `grain`, `start`, `instance_id`, `reason`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `metric_failures_scope` ON `metric_failures` (`project_id`,`instance_id`,`grain`,`start`);