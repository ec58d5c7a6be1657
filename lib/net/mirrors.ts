/**
 * One artifact from several mirrors: {@linkcode downloadFromMirrors} tries each URL in turn with
 * `downloadArtifact` (lib/net/download.ts) and moves on when a mirror fails (down, 5xx or
 * timeouts after its retries, a 404, wrong bytes), keeping the partial file between mirrors.
 * The size and SHA-256 come from the signed manifest, so any mirror is as good as another; what
 * must not be tried elsewhere (the caller's abort, a local disk error) ends the download at once.
 *
 * @module
 */
import { ChecksumMismatchError, SizeMismatchError } from "../core/errors.ts";
import { downloadArtifact, type DownloadOptions, type DownloadResult } from "./download.ts";
import { showUrl } from "./url_policy.ts";

/**
 * A mirror that failed, and why (the download's own one-line message).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MirrorFailure } from "./mirrors.ts";
 * const failure: MirrorFailure = {
 *   url: "https://eu.ms11.com/stable/1.1.0/ms11",
 *   message: "Download of https://eu.ms11.com/stable/1.1.0/ms11 failed: HTTP 404 Not Found",
 * };
 * assert.match(failure.message, /404/);
 * ```
 */
export interface MirrorFailure {
  /** The URL tried. */
  url: string;
  /** Why it failed. */
  message: string;
}

/**
 * What {@linkcode downloadFromMirrors} produced: the download, the URL that served it, and the
 * mirrors that failed before it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MirrorDownloadResult } from "./mirrors.ts";
 * const result: Pick<MirrorDownloadResult, "url" | "failures"> = {
 *   url: "https://us.ms11.com/stable/1.1.0/ms11",
 *   failures: [],
 * };
 * assert.equal(result.failures.length, 0);
 * ```
 */
export interface MirrorDownloadResult extends DownloadResult {
  /** The URL the file was downloaded from. */
  url: string;
  /** The mirrors tried before it, in order. */
  failures: MirrorFailure[];
}

/**
 * Whether another mirror may succeed where this error failed: yes for what a server did
 * (HTTP errors, retries used up, timeouts, a refused redirect, wrong size or bytes), no for a
 * local failure (a file-system error, a full disk) or bad options, which would fail the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SizeMismatchError } from "../core/errors.ts";
 * import { mirrorMayHelp } from "./mirrors.ts";
 * assert.ok(mirrorMayHelp(new Error("Download of https://a/x failed: HTTP 503 Service Unavailable; gave up after 3 attempts")));
 * assert.ok(mirrorMayHelp(new Deno.errors.TimedOut("Download of https://a/x timed out")));
 * assert.ok(mirrorMayHelp(new SizeMismatchError("/tmp/x.partial", 3, 4)));
 * assert.ok(!mirrorMayHelp(new Deno.errors.PermissionDenied("Permission denied (os error 13)")));
 * assert.ok(!mirrorMayHelp(Object.assign(new Error("Cannot write /r/x: no space left on device"), { code: "ENOSPC" })));
 * assert.ok(!mirrorMayHelp(new RangeError("Option maxAttempts must be an integer >= 1, got 0")));
 * ```
 */
export function mirrorMayHelp(error: unknown): boolean {
  if (error instanceof ChecksumMismatchError || error instanceof SizeMismatchError) return true;
  if (error instanceof Deno.errors.TimedOut) return true;
  if (Object.values(Deno.errors).some((type) => error instanceof type)) return false;
  if (typeof (error as { code?: unknown })?.code === "string") return false;
  return error instanceof Error && !(error instanceof TypeError) &&
    !(error instanceof RangeError);
}

/**
 * Download one artifact from the first of `urls` that serves it (see `downloadArtifact` for
 * what each attempt checks). Each URL gets the whole of `options` (its attempts, its
 * `timeoutMs`); a failure that another server may not have ({@linkcode mirrorMayHelp}) moves on
 * to the next URL, keeping what the partial file holds: the next mirror continues it with a
 * plain `Range` (no `If-Range`: validators belong to the server that sent them) when the
 * checksum is verified, and starts over otherwise. Duplicate URLs are tried once.
 *
 * @throws the error itself when there is one URL or the failure is local; else an `Error`
 * naming every mirror's failure (`No mirror could serve …: <message>; <message>`), whose
 * `cause` is the last one
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadFromMirrors } from "./mirrors.ts";
 * const down = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("busy", { status: 503 }));
 * const up = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("abc"));
 * const dest = `${await Deno.makeTempDir()}/app.bin`;
 * const result = await downloadFromMirrors([
 *   `http://127.0.0.1:${down.addr.port}/app.bin`,
 *   `http://127.0.0.1:${up.addr.port}/app.bin`,
 * ], dest, {
 *   size: 3,
 *   sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 *   requireHttps: false,
 *   maxAttempts: 1,
 * });
 * assert.equal(result.url, `http://127.0.0.1:${up.addr.port}/app.bin`);
 * assert.match(result.failures[0].message, /HTTP 503 Service Unavailable/);
 * assert.equal(await Deno.readTextFile(dest), "abc");
 * await down.shutdown();
 * await up.shutdown();
 * ```
 */
export async function downloadFromMirrors(
  urls: readonly string[],
  dest: string,
  options: DownloadOptions,
): Promise<MirrorDownloadResult> {
  const unique = [...new Set(urls)];
  if (unique.length === 0) throw new TypeError(`No URL to download ${dest} from`);
  const failures: MirrorFailure[] = [];
  let last: unknown = null;
  for (const url of unique) {
    try {
      const result = await downloadArtifact(url, dest, options);
      return { ...result, url, failures };
    } catch (error) {
      if (unique.length === 1 || options.signal?.aborted || !mirrorMayHelp(error)) throw error;
      failures.push({ url: showUrl(url), message: (error as Error).message });
      last = error;
    }
  }
  throw new Error(
    `No mirror could serve ${showUrl(unique[0])} (${unique.length} tried): ${
      failures.map((f) => f.message).join("; ")
    }`,
    { cause: last },
  );
}
