/**
 * Everything an instance's Durable Object keeps, in one list: the keys of its
 * key-value storage with their value types (`InstanceKeys`, read and written
 * through `TypedStorage`), and its SQLite tables (`INSTANCE_TABLES`). What is
 * not listed here is not stored by the object.
 */
import type { StatusEvent } from "../../shared/protocol.ts";
import type { Incident } from "../services/health.ts";
import type { Usage } from "../services/pacing.ts";
import type { Announced as CallAnnounced } from "../services/calls.ts";
import type { NumberSettings } from "../services/number-settings.ts";
import type { Settings } from "../services/settings-schema.ts";
import type { Announced } from "./instance-events.ts";
import type { LookupUsage } from "./lookup-budget.ts";
import { AvatarFetches } from "./avatars.ts";
import { Outbox } from "./outbox.ts";
import { ReadReceipts } from "./read-receipts.ts";
import { Journal } from "./records.ts";
import { SessionTable } from "./session-table.ts";
import type { TypedStorage } from "./typed-storage.ts";

export type InstanceMeta = { instance_id: string; project_id: string; name: string; proxy_url: string | null };

export type Status = StatusEvent & { fleet_id: string | null; updated_at: string };

/** The lease as stored: `expires_at` null means "alive while its socket is open". */
export type LeaseRecord = { fleet_id: string; expires_at: number | null };

export type InstanceKeys = {
  /** Which number this is; written by `init`. An object without it is no instance (deleted, or never created). */
  meta: InstanceMeta;
  /** The live status, as the fleet last reported it; D1 holds a copy for listing. */
  status: Status;
  /** Which fleet process may run the number (lease.ts). */
  lease: LeaseRecord;
  /** What the last `instance.*` event told clients (instance-events.ts). */
  announced: Announced;
  /** The number's own JID, the last one known (a drop's status does not repeat it). */
  jid: string;
  /** The first time the number was online with us: warming counts its days from it. */
  first_connected_at: string;
  /** WhatsApp sockets the fleet replaced for silence (`dead_socket_reconnects`). */
  dead_sockets: number;
  /** What went wrong lately, scored by services/health.ts (incidents.ts). */
  incidents: Incident[];
  /** The project's settings, as the last send or settings change brought them (sender.ts). */
  settings: Settings;
  /** Sends counted for the hourly and daily caps (services/pacing.ts). */
  usage: Usage;
  /** Phone lookups counted against the hourly budget (lookup-budget.ts). */
  lookups: LookupUsage;
  /** The gap to keep before the next send, drawn after each send. */
  gap_ms: number;
  /** The chats whose presence the number watches, named again on every connect (presence.ts). */
  presence_subscriptions: string[];
  /** Each WhatsApp group's subject as the number last heard it, by group JID (group-subjects.ts). */
  group_subjects: Record<string, string>;
  /** How this number behaves beside its project's settings (`PATCH /instances/{id}`, services/number-settings.ts). */
  number_settings: NumberSettings;
  /** No contact's picture is asked of WhatsApp before this (ms since the epoch): the pace and the backoff (avatars.ts). */
  avatars_not_before: number;
  /** A call to the number, by its call id: what was done about it, and whether it was announced (services/calls.ts). */
  [call: `call:${string}`]: CallAnnounced;
};

export type InstanceStorage = TypedStorage<InstanceKeys>;

export const callKey = (callId: string) => `call:${callId}` as const;

/** The number's session, its send queue, what its sends did until D1 has it, read receipts until WhatsApp has them, and contacts whose picture to fetch. */
export const INSTANCE_TABLES = [SessionTable.table, Outbox.table, Journal.table, ReadReceipts.table, AvatarFetches.table];
