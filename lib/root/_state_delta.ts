/**
 * The state file's records of delta updates (docs/DELTA.md): the deltas that failed (never
 * tried again) and how the last build was obtained (a delta or the full download, the bytes
 * saved). Parsed like the rest of the state file: an unreadable record is dropped and named.
 *
 * @module
 */
import { isNonEmptyString as str, isObject, isSha256Hex } from "../core/validate.ts";
import { isBuildName } from "./layout.ts";

/**
 * A delta that failed: the same delta (by its SHA-256) is not tried again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BadDeltaRecord } from "./_state_delta.ts";
 * const bad: BadDeltaRecord = {
 *   version: "1.1.0", from: "1.0.0", sha256: "a".repeat(64), at: "2026-12-01T00:00:00Z", reason: "HTTP 404",
 * };
 * assert.equal(bad.from, "1.0.0");
 * ```
 */
export interface BadDeltaRecord {
  /** The version the delta makes. */
  version: string;
  /** The version it is made from. */
  from: string;
  /** The delta file's SHA-256 (from the signed manifest). */
  sha256: string;
  /** When it failed. */
  at: string;
  /** Why (one line). */
  reason: string;
}

/**
 * How the last staged build was obtained.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DownloadRecord } from "./_state_delta.ts";
 * const record: DownloadRecord = {
 *   version: "1.1.0", at: "2026-12-01T00:00:00Z", method: "delta", from: "1.0.0",
 *   bytes: 900, full_bytes: 30_000, saved_bytes: 29_100, delta_failed: null,
 * };
 * assert.equal(record.full_bytes - record.bytes, record.saved_bytes);
 * ```
 */
export interface DownloadRecord {
  /** The version staged. */
  version: string;
  /** When. */
  at: string;
  /** `delta` (rebuilt from a delta) or `full` (the full artifact downloaded). */
  method: "delta" | "full";
  /** For a delta: the version it was made from; else null. */
  from: string | null;
  /** Bytes downloaded for the build (the delta's, or the artifact's plus a failed delta's). */
  bytes: number;
  /** Bytes of the full artifact. */
  full_bytes: number;
  /** `full_bytes - bytes` (negative when a failed delta was downloaded in vain). */
  saved_bytes: number;
  /** Why a delta that was tried failed (then `method` is `full`); else null. */
  delta_failed: string | null;
}

/**
 * The most bad deltas remembered (the oldest go first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_BAD_DELTAS } from "./_state_delta.ts";
 * assert.ok(Number.isInteger(MAX_BAD_DELTAS) && MAX_BAD_DELTAS >= 1);
 * ```
 */
export const MAX_BAD_DELTAS = 32;

/**
 * Read `bad_deltas` and `last_download` from a state document into `into`, naming what is
 * unreadable in `problems`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDeltaRecords } from "./_state_delta.ts";
 * const into: Parameters<typeof parseDeltaRecords>[1] = {};
 * const problems: string[] = [];
 * parseDeltaRecords({ bad_deltas: [{ version: "1.1.0" }] }, into, problems);
 * assert.deepEqual([into.bad_deltas, problems], [undefined, ["bad_deltas[]"]]);
 * ```
 */
export function parseDeltaRecords(
  raw: Record<string, unknown>,
  into: { bad_deltas?: BadDeltaRecord[]; last_download?: DownloadRecord },
  problems: string[],
): void {
  if (Array.isArray(raw.bad_deltas)) {
    const bad: BadDeltaRecord[] = [];
    for (const b of raw.bad_deltas.slice(-MAX_BAD_DELTAS)) {
      if (
        isObject(b) && str(b.version) && isBuildName(b.version) && str(b.from) &&
        isBuildName(b.from) && isSha256Hex(b.sha256) && str(b.at) && typeof b.reason === "string"
      ) {
        bad.push({
          version: b.version,
          from: b.from,
          sha256: b.sha256,
          at: b.at,
          reason: b.reason,
        });
      } else problems.push("bad_deltas[]");
    }
    if (bad.length > 0) into.bad_deltas = bad;
  } else if (raw.bad_deltas !== undefined) problems.push("bad_deltas");
  const d = raw.last_download;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (
    isObject(d) && str(d.version) && str(d.at) && (d.method === "delta" || d.method === "full") &&
    (d.from === null || str(d.from)) && count(d.bytes) && count(d.full_bytes) &&
    Number.isSafeInteger(d.saved_bytes) &&
    (d.delta_failed === null || typeof d.delta_failed === "string")
  ) {
    into.last_download = {
      version: d.version,
      at: d.at,
      method: d.method,
      from: d.from as string | null,
      bytes: d.bytes as number,
      full_bytes: d.full_bytes as number,
      saved_bytes: d.saved_bytes as number,
      delta_failed: d.delta_failed as string | null,
    };
  } else if (d !== undefined && d !== null) problems.push("last_download");
}
