import { startPeers, RoutingProxy, makeCreds } from "/work/main/test/e2e/peers.ts";
import { rawConnect } from "/work/main/test/e2e/raw-baileys.ts";
const fiq = process.argv[2] === "true";
const peers = await startPeers(2);
const proxy = await new RoutingProxy().start();
proxy.route("inst_a", peers.peers[0]);
const url = proxy.waUrl(peers.accessToken).replace("{instance_id}", "inst_a");
console.log("url", url);
const t0 = Date.now();
const c = rawConnect(url, makeCreds(peers.peers[0].phone), { fireInitQueries: fiq });
c.sock.ev.on("connection.update", (u) => console.log("update", JSON.stringify({ ...u, qr: undefined }).slice(0, 300)));
try { await c.opened; console.log("OPEN after", Date.now() - t0, "ms live", proxy.liveCount("inst_a")); } catch (e) { console.log("FAIL", String(e)); }
await new Promise((r) => setTimeout(r, Number(process.env.WAIT ?? 5000)));
console.log("after 5s live", proxy.liveCount("inst_a"), "max", proxy.maxConcurrent("inst_a"), "total", proxy.connectionsTotal("inst_a"));
c.close();
await new Promise((r) => setTimeout(r, 300));
console.log("after close live", proxy.liveCount("inst_a"), proxy.events.map(e=>e.kind).join(","));
await proxy.close(); await peers.close();
process.exit(0);
