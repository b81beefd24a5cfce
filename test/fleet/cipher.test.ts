import { describe, expect, it } from "vitest";
import { CipherError, SessionCipher } from "../../fleet/cipher.ts";

const SECRET = "correct horse battery staple";
const creds = JSON.stringify({ noiseKey: { private: "c2VjcmV0" }, me: { id: "5511999990001:1@s.whatsapp.net" } });

describe("session cipher", () => {
  it("round-trips a value, and the stored form does not contain the plaintext", () => {
    const cipher = new SessionCipher(SECRET);
    const sealed = cipher.encrypt("inst_1", "creds", creds);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain("5511999990001");
    expect(cipher.decrypt("inst_1", "creds", sealed)).toBe(creds);
  });

  it("never produces the same ciphertext twice for the same value (random IV)", () => {
    const cipher = new SessionCipher(SECRET);
    expect(cipher.encrypt("inst_1", "creds", creds)).not.toBe(cipher.encrypt("inst_1", "creds", creds));
  });

  it("rejects a tampered ciphertext", () => {
    const cipher = new SessionCipher(SECRET);
    const [v, iv, body] = cipher.encrypt("inst_1", "creds", creds).split(".");
    const bytes = Buffer.from(body!, "base64");
    bytes[3] = bytes[3]! ^ 0x01;
    expect(() => cipher.decrypt("inst_1", "creds", `${v}.${iv}.${bytes.toString("base64")}`)).toThrow(CipherError);
  });

  it("rejects a value moved to another key or another instance", () => {
    const cipher = new SessionCipher(SECRET);
    const sealed = cipher.encrypt("inst_1", "session:5511@s.whatsapp.net", "x");
    expect(() => cipher.decrypt("inst_1", "creds", sealed)).toThrow(CipherError);
    expect(() => cipher.decrypt("inst_2", "session:5511@s.whatsapp.net", sealed)).toThrow(CipherError);
  });

  it("rejects a value sealed under another POMBO_SESSION_KEY", () => {
    const sealed = new SessionCipher(SECRET).encrypt("inst_1", "creds", creds);
    expect(() => new SessionCipher("another secret").decrypt("inst_1", "creds", sealed)).toThrow(CipherError);
  });

  it("rejects values that are not in its format", () => {
    const cipher = new SessionCipher(SECRET);
    expect(() => cipher.decrypt("inst_1", "creds", creds)).toThrow(CipherError);
    expect(() => cipher.decrypt("inst_1", "creds", "v2.AAAA.BBBB")).toThrow(CipherError);
  });

  it("derives a message's secret the same way on every fleet process, and differently for anything else", () => {
    const secret = new SessionCipher(SECRET).messageSecret("inst_1", "3EB0POLL");
    expect(secret).toHaveLength(32);
    expect(new SessionCipher(SECRET).messageSecret("inst_1", "3EB0POLL")).toEqual(secret);
    expect(new SessionCipher(SECRET).messageSecret("inst_1", "3EB0POLM")).not.toEqual(secret);
    expect(new SessionCipher(SECRET).messageSecret("inst_2", "3EB0POLL")).not.toEqual(secret);
    expect(new SessionCipher("another secret").messageSecret("inst_1", "3EB0POLL")).not.toEqual(secret);
  });
});
