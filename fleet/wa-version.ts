/**
 * Which WhatsApp Web version our sockets announce.
 *
 * Fetching the latest version costs a request to web.whatsapp.com, so it is
 * never done per socket: every socket uses the configured version until the
 * server rejects it (close code 405). Then the process fetches the latest
 * version once, and every instance shares the result; a hundred numbers
 * hitting 405 at the same moment cause one fetch, not a hundred.
 */
import { fetchLatestWaWebVersion, type WAVersion } from "@whiskeysockets/baileys";
import type { Logger } from "pino";

export type FetchLatestVersion = () => Promise<{ version: WAVersion; isLatest: boolean; error?: unknown }>;

export class WaVersionSource {
  #current: WAVersion;
  #refresh: Promise<WAVersion> | null = null;
  #fetchLatest: FetchLatestVersion;
  #logger: Logger;

  constructor(configured: WAVersion, logger: Logger, fetchLatest: FetchLatestVersion = () => fetchLatestWaWebVersion()) {
    this.#current = configured;
    this.#logger = logger;
    this.#fetchLatest = fetchLatest;
  }

  current(): WAVersion {
    return this.#current;
  }

  /**
   * Fetches the latest version the first time it is called in this process;
   * later and concurrent calls share that one result. Never rejects: when the
   * fetch fails the configured version stays in use.
   */
  refresh(): Promise<WAVersion> {
    this.#refresh ??= this.#fetchLatest().then(
      ({ version, isLatest, error }) => {
        // Baileys answers a failed fetch with its own bundled version and
        // isLatest=false; that is not news, keep what we were told to use.
        if (!isLatest) {
          this.#logger.warn({ err: String(error ?? "unknown") }, "wa version refresh failed, keeping configured version");
          return this.#current;
        }
        this.#logger.warn({ from: this.#current.join("."), to: version.join(".") }, "wa version refreshed");
        this.#current = version;
        return version;
      },
      (err: unknown) => {
        this.#logger.warn({ err: String(err) }, "wa version refresh failed, keeping configured version");
        return this.#current;
      },
    );
    return this.#refresh;
  }
}
