import { describe, expect, it } from "vitest";
import { closeCodeOf, statusFromConnectionUpdate } from "../../fleet/translator.ts";

const boom = (statusCode: number) => Object.assign(new Error("x"), { output: { statusCode } });

describe("translator: connection.update -> status", () => {
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
