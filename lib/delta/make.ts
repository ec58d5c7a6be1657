/**
 * The publisher's side of a single-file delta: a binary patch from one build's executable to
 * the next (docs/DELTA.md, "The binary patch").
 *
 * The diff is computed by Debian's `bsdiff` program (bsdiff 4.3; its BSDIFF40 output is read
 * back through `bzip2 -dc`), then rewritten as blocks of at most 8 MiB, each compressed with
 * zstd through node:zlib, so that the client needs nothing but the runtime to apply it. Both
 * programs must be installed (`apt-get install bsdiff bzip2`); a missing one is reported as
 * `Deno.errors.NotFound` naming it. bsdiff needs about 9 bytes of memory per old byte plus the
 * new file (measured: 821 MiB for the 95.6 MB Deno executables); the estimate is checked
 * against `maxMemory` before it runs.
 *
 * Every delta made is applied once, before it is kept, and must rebuild the new file exactly.
 *
 * @module
 */
import { type FileDigest, hashFile } from "../core/hash.ts";
import { removeIfExists, renameDurable, tempSibling } from "../core/fs.ts";
import { applyPatch } from "./apply.ts";
import { encodePatch } from "./_make_patch.ts";

/**
 * Default of {@linkcode MakeDeltaOptions.maxRatio}: a delta is kept only when it is smaller than
 * half of the full download.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_RATIO } from "./make.ts";
 * assert.equal(DEFAULT_MAX_RATIO, 0.5);
 * ```
 */
export const DEFAULT_MAX_RATIO = 0.5;

/**
 * Default of {@linkcode MakeDeltaOptions.maxMemory}: 4 GiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_MEMORY } from "./make.ts";
 * assert.equal(DEFAULT_MAX_MEMORY, 4 * 1024 ** 3);
 * ```
 */
export const DEFAULT_MAX_MEMORY = 4 * 1024 ** 3;

/**
 * Options of {@linkcode makeDelta}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MakeDeltaOptions } from "./make.ts";
 * const options: MakeDeltaOptions = { out: "/tmp/ms11-1.1.0.bsz", fullSize: 32_600_000 };
 * assert.equal(options.fullSize, 32_600_000);
 * ```
 */
export interface MakeDeltaOptions {
  /** Where to write the delta (replaced atomically if it exists). */
  out: string;
  /**
   * Bytes of the full download the delta competes with (default: the new file's size; pass the
   * compressed size when the full artifact is served compressed).
   */
  fullSize?: number;
  /** Keep the delta only when it is smaller than this share of `fullSize` (default 0.5). */
  maxRatio?: number;
  /** zstd level of the blocks, 1-22 (default 19). */
  level?: number;
  /** Refuse (RangeError) when bsdiff's estimated memory is above this (default 4 GiB). */
  maxMemory?: number;
  /** Blocks compressed at once (default: the number of CPUs, at most 4). */
  concurrency?: number;
  /** Stops bsdiff. */
  signal?: AbortSignal;
}

/**
 * What {@linkcode makeDelta} made.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MakeDeltaResult } from "./make.ts";
 * const digest = { size: 10, sha256: "ab".repeat(32) };
 * const result: MakeDeltaResult = {
 *   written: false, size: 9, sha256: null, fullSize: 10, ratio: 0.9, method: "bsdiff",
 *   from: digest, to: digest,
 * };
 * assert.ok(!result.written && result.ratio > 0.5);
 * ```
 */
export interface MakeDeltaResult {
  /** Whether the delta was kept at `out` (false: not worth it, nothing written). */
  written: boolean;
  /** Bytes of the delta (also when it was not kept). */
  size: number;
  /** SHA-256 of the delta file, or null when it was not kept. */
  sha256: string | null;
  /** The full download's bytes it was compared with. */
  fullSize: number;
  /** `size / fullSize`. */
  ratio: number;
  /** "bsdiff", or "whole" when there was nothing to diff against (an empty file). */
  method: "bsdiff" | "whole";
  /** The old file's size and SHA-256. */
  from: FileDigest;
  /** The new file's size and SHA-256 (what the client verifies). */
  to: FileDigest;
}

/** A ratio option in (0, 1]. */
function ratioOption(value: number | undefined): number {
  const ratio = value ?? DEFAULT_MAX_RATIO;
  if (!(ratio > 0 && ratio <= 1)) {
    throw new RangeError(`Delta option maxRatio must be in (0, 1], got ${value}`);
  }
  return ratio;
}

/**
 * A level option: an integer 1-22 (default 19).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { levelOption } from "./make.ts";
 * assert.equal(levelOption(undefined), 19);
 * assert.throws(() => levelOption(23), RangeError);
 * ```
 */
export function levelOption(value: number | undefined): number {
  const level = value ?? 19;
  if (!Number.isInteger(level) || level < 1 || level > 22) {
    throw new RangeError(`Delta option level must be an integer from 1 to 22, got ${value}`);
  }
  return level;
}

/**
 * The default number of blocks compressed at once: the CPUs, at most 4.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConcurrency } from "./make.ts";
 * assert.ok(defaultConcurrency() >= 1 && defaultConcurrency() <= 4);
 * ```
 */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1));
}

/**
 * Make the binary patch from `oldFile` to `newFile` at `options.out`, if it is worth it: kept
 * only when smaller than `maxRatio` × `fullSize`, and only after applying it once rebuilt
 * `newFile` exactly. Otherwise nothing is written (an existing `out` is left alone) and the
 * result says `written: false` with the size it would have had.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeDelta } from "./make.ts";
 * const dir = await Deno.makeTempDir();
 * const text = "line of a build, much like the strings of a binary\n".repeat(2000);
 * await Deno.writeTextFile(`${dir}/1.0.0`, text);
 * await Deno.writeTextFile(`${dir}/1.0.1`, text.replace("line", "LINE"));
 * const result = await makeDelta(`${dir}/1.0.0`, `${dir}/1.0.1`, { out: `${dir}/delta.bsz` });
 * assert.ok(result.written && result.ratio < 0.01);
 * ```
 */
export async function makeDelta(
  oldFile: string,
  newFile: string,
  options: MakeDeltaOptions,
): Promise<MakeDeltaResult> {
  const maxRatio = ratioOption(options.maxRatio);
  const level = levelOption(options.level);
  const from = await hashFile(oldFile);
  const to = await hashFile(newFile);
  const fullSize = options.fullSize ?? to.size;
  if (!Number.isSafeInteger(fullSize) || fullSize < 0) {
    throw new RangeError(`Delta option fullSize must be a non-negative integer, got ${fullSize}`);
  }
  const tmp = tempSibling(options.out);
  const check = tempSibling(options.out);
  try {
    const { method, size } = await encodePatch(
      { path: oldFile, digest: from },
      { path: newFile, digest: to },
      tmp,
      {
        level,
        concurrency: options.concurrency ?? defaultConcurrency(),
        maxMemory: options.maxMemory ?? DEFAULT_MAX_MEMORY,
        signal: options.signal,
      },
    );
    const ratio = fullSize === 0 ? Infinity : size / fullSize;
    const result = { size, fullSize, ratio, method, from, to };
    if (!(ratio < maxRatio)) return { written: false, sha256: null, ...result };
    await applyPatch(method === "whole" ? null : oldFile, tmp, { out: check, ...to });
    await removeIfExists(check);
    const { sha256 } = await hashFile(tmp);
    await renameDurable(tmp, options.out);
    return { written: true, sha256, ...result };
  } finally {
    await removeIfExists(tmp);
    await removeIfExists(check);
  }
}
