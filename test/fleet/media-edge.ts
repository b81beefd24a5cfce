/**
 * The edge's media route (`GET /fleet/media/{project}/{id}`, bearer fleet token)
 * as a tiny local HTTP server: serves the files it is given, 404 for the
 * rest, 401 without the token. Records every request.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type MediaEdge = {
  url: string;
  token: string;
  files: Map<string, Buffer>;
  requests: { path: string; authorization: string | undefined }[];
  /** Set: every request answers this status instead. */
  failWith: number | null;
  close(): Promise<void>;
};

export async function startMediaEdge(token = "fleet-token-for-media"): Promise<MediaEdge> {
  const edge: MediaEdge = { url: "", token, files: new Map(), requests: [], failWith: null, close: async () => {} };
  const server = createServer((req, res) => {
    edge.requests.push({ path: req.url ?? "", authorization: req.headers.authorization });
    const match = /^\/fleet\/media\/([^/?]+)\/([^/?]+)$/.exec(req.url ?? "");
    if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
    if (edge.failWith) return void res.writeHead(edge.failWith).end();
    // Media ids are `{project}/{id}`, as the edge's route `/fleet/media/:project/:id` reads them.
    const file = match ? edge.files.get(`${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`) : undefined;
    if (!file) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"not_found"}}');
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(file.length) }).end(file);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  edge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  edge.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return edge;
}
