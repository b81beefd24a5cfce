/**
 * Where the edge is, for the fleet and the operator commands: POMBO_EDGE_URL
 * when it is set, else the local edge `npm start` runs on PORT. One rule for
 * `npm start`, `npm run fleet` and `npm run fleet:qr`, so that a PORT set in
 * .env moves all three together.
 */
export const DEFAULT_PORT = 8787;

/** The edge `npm start` serves on `port`. */
export function localEdgeUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/** PORT as `npm start` reads it; a RangeError naming it when it is no port number. */
export function portOf(env: NodeJS.ProcessEnv): number {
  const text = env.PORT?.trim();
  if (!text) return DEFAULT_PORT;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`PORT must be a port number, got "${env.PORT}"`);
  return port;
}

/**
 * The edge URL (no trailing slash) and where it came from, to name in
 * messages. A RangeError when PORT is needed and is no port number.
 */
export function edgeUrlOf(env: NodeJS.ProcessEnv): { url: string; from: string } {
  const explicit = env.POMBO_EDGE_URL?.trim();
  if (explicit) return { url: explicit.replace(/\/+$/, ""), from: "POMBO_EDGE_URL" };
  const port = portOf(env);
  return { url: localEdgeUrl(port), from: env.PORT?.trim() ? `PORT=${port}` : `the default port ${DEFAULT_PORT}` };
}
