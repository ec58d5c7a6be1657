/**
 * The one error of the delta engine that callers handle: whatever its reason, the caller drops
 * the delta and downloads the full build instead (once).
 *
 * @module
 */

/**
 * Why a delta was refused, as a short code for the audit log:
 *
 * - `format`: not a delta of this kind, or a version or flag this client does not know;
 * - `corrupt`: truncated, undecodable or self-contradictory data;
 * - `unsafe`: it would read outside the old build or write outside the new one (a path with
 *   `..`, an absolute path, a write through a symlink, bytes past the declared size, a read past
 *   the old file);
 * - `source`: the old build on disk is not the one the delta was made from;
 * - `mismatch`: the delta is for another target, or what it rebuilt has another size or hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaReason } from "./errors.ts";
 * const reason: DeltaReason = "corrupt";
 * assert.equal(reason, "corrupt");
 * ```
 */
export type DeltaReason = "format" | "corrupt" | "unsafe" | "source" | "mismatch";

/**
 * A delta (a binary patch or a folder delta) that cannot be applied: the message names the
 * delta file and what failed, with the values; nothing of the output is left behind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeltaError } from "./errors.ts";
 * const error = new DeltaError("/tmp/a.bsz", "unsafe", "block 1 writes past the new size of 10 bytes");
 * assert.equal(error.message, "Delta /tmp/a.bsz: block 1 writes past the new size of 10 bytes");
 * assert.equal(error.reason, "unsafe");
 * ```
 */
export class DeltaError extends Error {
  override name = "DeltaError";
  /** The delta file (or, inside a folder delta, the blob's place in it). */
  readonly delta: string;
  /** Why, as a short code. */
  readonly reason: DeltaReason;
  /**
   * @param delta the delta file @param reason short code @param detail what failed, with values
   * @param options the underlying error, if any
   */
  constructor(delta: string, reason: DeltaReason, detail: string, options?: ErrorOptions) {
    super(`Delta ${delta}: ${detail}`, options);
    this.delta = delta;
    this.reason = reason;
  }
}
