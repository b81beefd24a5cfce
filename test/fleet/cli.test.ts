import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("fleet/cli.ts qr", () => {
  it("prints the QR as terminal art and exits 0 once the instance is connected", async () => {
    const views = [
      { state: "qr_pending", qr: "2@pombo-test-qr,abc,def", qr_png: "data:image/png;base64,x" },
      { state: "connected", qr: null, qr_png: null },
    ];
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", auth: req.headers.authorization });
      const view = views[Math.min(seen.length - 1, views.length - 1)];
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(view));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const root = fileURLToPath(new URL("../..", import.meta.url));
    try {
      const child = spawn(`${root}/node_modules/.bin/node`, ["fleet/cli.ts", "qr", "inst_qr"], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          POMBO_EDGE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          POMBO_FLEET_TOKEN: "cli-token",
        },
      });
      let out = "";
      child.stdout.on("data", (chunk) => (out += chunk));
      child.stderr.on("data", (chunk) => (out += chunk));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect(code).toBe(0);
      expect(seen[0]).toEqual({ url: "/fleet/instances/inst_qr/qr", auth: "Bearer cli-token" });
      expect(out).toMatch(/[▀▄█]/); // the QR, drawn with half blocks
      expect(out).toContain("inst_qr: connected");
    } finally {
      server.close();
    }
  });
});
