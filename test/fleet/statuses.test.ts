import { proto } from "@whiskeysockets/baileys";
import { describe, expect, it } from "vitest";
import {
  StatusSteps,
  closeCodeOf,
  statusFromConnectionUpdate,
  statusFromMessageUpdate,
  statusFromReceiptUpdate,
} from "../../fleet/statuses.ts";

const boom = (statusCode: number) => Object.assign(new Error("x"), { output: { statusCode } });

describe("statuses: connection.update -> status", () => {
  it("emits nothing for updates an operator cannot see", () => {
    expect(statusFromConnectionUpdate({ receivedPendingNotifications: true })).toBeNull();
    expect(statusFromConnectionUpdate({ isNewLogin: true, qr: undefined })).toBeNull();
  });

  it("maps a close to disconnected with the reason classified from WhatsApp's code", () => {
    const at = new Date();
    expect(statusFromConnectionUpdate({ connection: "close", lastDisconnect: { error: boom(401), date: at } })).toMatchObject({
      state: "disconnected",
      reason: "logged_out",
      close_code: 401,
    });
    expect(statusFromConnectionUpdate({ connection: "close", lastDisconnect: { error: boom(402), date: at } })).toMatchObject({
      reason: "banned",
      close_code: 402,
    });
    // A plain error (no Boom code) is a network-ish drop: transient, code unknown.
    expect(statusFromConnectionUpdate({ connection: "close", lastDisconnect: { error: new Error("reset"), date: at } })).toMatchObject({
      reason: "transient",
      close_code: null,
    });
  });

  it("reads the close code only from a Boom-shaped error", () => {
    expect(closeCodeOf({ lastDisconnect: { error: boom(515), date: new Date() } })).toBe(515);
    expect(closeCodeOf({ lastDisconnect: undefined })).toBeNull();
  });

  it("carries the QR and its PNG, and clears them once connected", () => {
    expect(statusFromConnectionUpdate({ qr: "2@a" }, { qrPng: "data:image/png;base64,AA" })).toMatchObject({
      state: "qr_pending",
      qr: "2@a",
      qr_png: "data:image/png;base64,AA",
    });
    expect(statusFromConnectionUpdate({ connection: "open" }, { user: { id: "1:2@s.whatsapp.net", notify: "Ana" } })).toMatchObject({
      state: "connected",
      qr: null,
      qr_png: null,
      jid: "1:2@s.whatsapp.net",
      push_name: "Ana",
    });
  });
});

describe("statuses: message updates and receipts -> message.status", () => {
  const S = proto.WebMessageInfo.Status;
  const key = { remoteJid: "5511988887777@s.whatsapp.net", id: "3EB0AB12", fromMe: true };

  it("maps WhatsApp's statuses of our own messages: server ack, delivery, read, played", () => {
    const at = (status: number) => statusFromMessageUpdate({ key, update: { status } });
    expect(at(S.SERVER_ACK)).toEqual({ wa_message_id: "3EB0AB12", chat_jid: key.remoteJid, status: "sent", error_code: null });
    expect(at(S.DELIVERY_ACK)?.status).toBe("delivered");
    expect(at(S.READ)?.status).toBe("read");
    expect(at(S.PLAYED)?.status).toBe("played");
    // Still on its way to the server: nothing to tell yet.
    expect(at(S.PENDING)).toBeNull();
  });

  it("an ERROR carries the server's code, e.g. 463 (this account may not start the chat)", () => {
    expect(statusFromMessageUpdate({ key, update: { status: S.ERROR, messageStubParameters: ["463"] } })).toEqual({
      wa_message_id: "3EB0AB12",
      chat_jid: key.remoteJid,
      status: "failed",
      error_code: "463",
    });
    expect(statusFromMessageUpdate({ key, update: { status: S.ERROR } })?.error_code).toBeNull();
  });

  it("ignores messages others sent us, and updates that are not statuses (edits, poll updates)", () => {
    expect(statusFromMessageUpdate({ key: { ...key, fromMe: false }, update: { status: S.READ } })).toBeNull();
    expect(statusFromMessageUpdate({ key, update: { message: { conversation: "edited" } } })).toBeNull();
  });

  it("reads a group participant's receipt as the furthest step it reports", () => {
    const group = { remoteJid: "120363000000000001@g.us", id: "3EB0CD", fromMe: true, participant: undefined };
    const receipt = (r: proto.IUserReceipt) => statusFromReceiptUpdate({ key: group, receipt: { userJid: "5511977776666@s.whatsapp.net", ...r } });
    expect(receipt({ receiptTimestamp: 1 })).toEqual({ wa_message_id: "3EB0CD", chat_jid: group.remoteJid, status: "delivered", error_code: null });
    expect(receipt({ receiptTimestamp: 1, readTimestamp: 2 })?.status).toBe("read");
    expect(receipt({ playedTimestamp: 3 })?.status).toBe("played");
    expect(receipt({})).toBeNull();
    expect(statusFromReceiptUpdate({ key: { ...group, fromMe: false }, receipt: { userJid: "x", readTimestamp: 2 } })).toBeNull();
  });

  it("reports each message's steps once, forward only, and forgets the oldest messages first", () => {
    const steps = new StatusSteps(2);
    const ev = (id: string, status: "sent" | "delivered" | "read" | "played" | "failed") => ({ wa_message_id: id, chat_jid: "c", status, error_code: null });
    expect(steps.advance(ev("a", "delivered"))).toBe(true);
    expect(steps.advance(ev("a", "delivered"))).toBe(false); // a second participant's delivery
    expect(steps.advance(ev("a", "sent"))).toBe(false); // late, and behind
    expect(steps.advance(ev("a", "read"))).toBe(true);
    expect(steps.advance(ev("b", "delivered"))).toBe(true);
    expect(steps.advance(ev("c", "delivered"))).toBe(true); // "a" is forgotten now
    expect(steps.advance(ev("a", "read"))).toBe(true);
  });
});
