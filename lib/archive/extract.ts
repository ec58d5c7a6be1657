/**
 * Extract a downloaded build archive (.tar.gz or .zip) into a fresh private directory, refusing
 * every entry that could write outside it.
 *
 * Refused (with {@linkcode UnsafeArchiveError}, naming the entry): names with a ".." component,
 * absolute names (leading "/" or "\"), Windows drive letters, any backslash, NUL; hard links
 * (all of them); devices, FIFOs and other special entries; symlinks whose target is absolute or
 * resolves (through the other symlinks of the archive) outside the destination; any entry
 * written through an earlier symlink (CVE-2025-29787: `link -> sub` then `link/file`); an
 * entry that repeats an earlier path; every symlink of a zip archive; names with a control
 * character (NUL, another C0 control, DEL, a C1 control) in any form the format stores them (a
 * ustar field, a pax record, a GNU long name, a zip name); more than `maxEntries` entries; more
 * bytes of content than the expanded size its manifest declares (`expandedSize`; fewer is refused
 * too, once the archive is read), or, without one, more than {@linkcode MAX_EXPANSION_RATIO}
 * times the archive's own size (at least {@linkcode EXPANSION_FLOOR_BYTES}); more than
 * `maxBytes` in any case. Extraction stops before the first byte over a limit is written.
 *
 * Kept: directories, regular files with their permission bits (without setuid, setgid, sticky,
 * group write and other write), and, in a tar.gz, symlinks that stay inside (e.g.
 * `lib/libfoo.so -> libfoo.so.1`).
 *
 * On any failure the destination is removed entirely and the error propagates: nothing
 * half-extracted remains.
 *
 * @module
 */
import type { ProgressSink } from "../core/env.ts";
import { checkAllLinks, newTree } from "./_paths.ts";
import { extractTarGz } from "./_tar.ts";
import { type ArchiveEntry, finishDirs, type Job, report } from "./_write.ts";
import { extractZip } from "./_zip.ts";
import { dirOf, syncDir } from "../core/fs.ts";
import { UnsafeArchiveError } from "../core/errors.ts";

/**
 * The archive formats {@linkcode extractArchive} reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ArchiveKind, archiveKindOf } from "./extract.ts";
 * const kind: ArchiveKind | null = archiveKindOf("app.tgz");
 * assert.equal(kind, "tar.gz");
 * ```
 */
export type ArchiveKind = "tar.gz" | "zip";

/**
 * Default of {@linkcode ExtractOptions.maxEntries}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_ENTRIES, extractArchive } from "./extract.ts";
 * assert.equal(DEFAULT_MAX_ENTRIES, 100_000);
 * await assert.rejects(extractArchive("app.zip", "build", { kind: "zip", maxEntries: 0 }), {
 *   name: "RangeError",
 *   message: "Extract option maxEntries must be a positive integer, got 0",
 * });
 * ```
 */
export const DEFAULT_MAX_ENTRIES = 100_000;
/**
 * Default of {@linkcode ExtractOptions.maxBytes}: 8 GiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_BYTES, extractArchive } from "./extract.ts";
 * assert.equal(DEFAULT_MAX_BYTES, 8 * 1024 ** 3);
 * await assert.rejects(extractArchive("app.zip", "build", { kind: "zip", maxBytes: 1.5 }), RangeError);
 * ```
 */
export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

/**
 * The expansion cap for an archive whose manifest does not declare its expanded size: its
 * content may be at most this many times the archive's size (or
 * {@linkcode EXPANSION_FLOOR_BYTES}, whichever is more). Application builds compress 2–10 times;
 * a bomb, a thousand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXPANSION_FLOOR_BYTES, expansionLimit, MAX_EXPANSION_RATIO } from "./extract.ts";
 * assert.equal(MAX_EXPANSION_RATIO, 100);
 * assert.equal(expansionLimit(10 * 1024 ** 2), 1000 * 1024 ** 2); // 100 times 10 MiB
 * assert.equal(expansionLimit(1000), EXPANSION_FLOOR_BYTES);
 * ```
 */
export const MAX_EXPANSION_RATIO = 100;

/**
 * The least content an archive without a declared expanded size may hold whatever its size
 * (64 MiB), so that a small archive of text is not refused for compressing well.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXPANSION_FLOOR_BYTES } from "./extract.ts";
 * assert.equal(EXPANSION_FLOOR_BYTES, 64 * 1024 * 1024);
 * ```
 */
export const EXPANSION_FLOOR_BYTES = 64 * 1024 * 1024;

/**
 * The most content an archive of `archiveBytes` may hold when its manifest declares no
 * expanded size: {@linkcode MAX_EXPANSION_RATIO} times its size, at least
 * {@linkcode EXPANSION_FLOOR_BYTES}, at most {@linkcode DEFAULT_MAX_BYTES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expansionLimit } from "./extract.ts";
 * assert.equal(expansionLimit(1_000_000), 100_000_000);
 * assert.equal(expansionLimit(1), 64 * 1024 * 1024);
 * assert.equal(expansionLimit(1024 ** 3), 8 * 1024 ** 3);
 * ```
 */
export function expansionLimit(archiveBytes: number): number {
  return Math.min(
    DEFAULT_MAX_BYTES,
    Math.max(EXPANSION_FLOOR_BYTES, MAX_EXPANSION_RATIO * archiveBytes),
  );
}

/**
 * Options of {@linkcode extractArchive}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TextReader, Uint8ArrayWriter, ZipWriter } from "@zip.js/zip.js";
 * async function zipOf(files: Record<string, string>): Promise<Uint8Array> {
 *   const writer = new ZipWriter(new Uint8ArrayWriter(), { useWebWorkers: false });
 *   for (const [name, text] of Object.entries(files)) await writer.add(name, new TextReader(text));
 *   return await writer.close();
 * }
 * const dir = await Deno.makeTempDir();
 * import { UnsafeArchiveError } from "../core/errors.ts";
 * import { exists } from "../core/fs.ts";
 * import { extractArchive, type ExtractOptions } from "./extract.ts";
 * await Deno.writeFile(`${dir}/app.zip`, await zipOf({ "a.txt": "a", "b.txt": "b" }));
 * const options: ExtractOptions = { kind: "zip", maxEntries: 1, sync: false };
 * await assert.rejects(extractArchive(`${dir}/app.zip`, `${dir}/build`, options), {
 *   name: "UnsafeArchiveError",
 *   message: `Unsafe archive ${dir}/app.zip: entry "b.txt" refused: archive has more than 1 entries (the limit)`,
 * });
 * await assert.rejects(extractArchive(`${dir}/app.zip`, `${dir}/build`, options), UnsafeArchiveError);
 * assert.equal(await exists(`${dir}/build`), false); // nothing half-extracted remains
 * ```
 */
export interface ExtractOptions {
  /** The archive format (see {@linkcode archiveKindOf}). */
  kind: ArchiveKind;
  /** Receives `{phase: "extract", done, total}` in bytes of file content (total null for tar.gz). */
  onProgress?: ProgressSink;
  /** Refuse an archive with more entries than this (default 100,000). */
  maxEntries?: number;
  /** Refuse an archive whose files hold more bytes than this in all (default 8 GiB). */
  maxBytes?: number;
  /**
   * The bytes of content its signed manifest says the archive holds (`expanded_size`): more is
   * refused before the first byte over is written, fewer once the archive is read. Without it,
   * the content may be at most {@linkcode expansionLimit} of the archive's size.
   */
  expandedSize?: number;
  /** fsync every file and directory written (default true; false only for tests and tools). */
  sync?: boolean;
  /**
   * Receives every entry as it is finished: path, kind, final mode, and a file's SHA-256 taken
   * from the bytes as they were written (what a build's seal is made of, without reading back).
   */
  onEntry?: (entry: ArchiveEntry) => void;
}

/**
 * What {@linkcode extractArchive} wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TextReader, Uint8ArrayWriter, ZipWriter } from "@zip.js/zip.js";
 * async function zipOf(files: Record<string, string>): Promise<Uint8Array> {
 *   const writer = new ZipWriter(new Uint8ArrayWriter(), { useWebWorkers: false });
 *   for (const [name, text] of Object.entries(files)) await writer.add(name, new TextReader(text));
 *   return await writer.close();
 * }
 * const dir = await Deno.makeTempDir();
 * import { extractArchive, type ExtractResult } from "./extract.ts";
 * await Deno.writeFile(`${dir}/app.zip`, await zipOf({ "ms11": "#!/bin/sh\n", "data/": "", "data/x": "xyz" }));
 * const result: ExtractResult = await extractArchive(`${dir}/app.zip`, `${dir}/build`, { kind: "zip" });
 * assert.deepEqual(result, { files: 2, bytes: 13 }); // the directory is not counted
 * ```
 */
export interface ExtractResult {
  /** Regular files written (directories and symlinks not counted). */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
}

/**
 * The archive format of a file name by its suffix (`.tar.gz`, `.tgz`, `.zip`; any letter case),
 * or null for any other name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveKindOf } from "./extract.ts";
 * assert.equal(archiveKindOf("ms11-1.2.0-linux-x64.tar.gz"), "tar.gz");
 * assert.equal(archiveKindOf("MS11-1.2.0-WINDOWS-X64.ZIP"), "zip");
 * assert.equal(archiveKindOf("ms11-1.2.0.tar.xz"), null);
 * ```
 */
export function archiveKindOf(name: string): ArchiveKind | null {
  const lower = name.toLowerCase();
  if (lower.endsWith(".tar.gz") || lower.endsWith(".tgz")) return "tar.gz";
  if (lower.endsWith(".zip")) return "zip";
  return null;
}

/** A limit option: a positive safe integer, or the default. */
function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Extract option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** A new job for `options` (the kind checked). */
async function newJob(archive: string, dest: string, options: ExtractOptions): Promise<Job> {
  const kind = options.kind;
  if (kind !== "tar.gz" && kind !== "zip") {
    throw new TypeError(
      `Extract option kind must be "tar.gz" or "zip", got ${JSON.stringify(kind)}`,
    );
  }
  return {
    archive,
    dest,
    maxEntries: limit("maxEntries", options.maxEntries, DEFAULT_MAX_ENTRIES),
    ...await byteLimit(archive, options),
    sync: options.sync ?? true,
    onProgress: options.onProgress,
    onEntry: options.onEntry,
    total: null,
    entries: 0,
    files: 0,
    bytes: 0,
    tree: newTree(),
  };
}

/** Read every entry of the archive and check, write (or only count) and finish them. */
async function readAll(job: Job, options: ExtractOptions): Promise<void> {
  if (options.kind === "tar.gz") await extractTarGz(job);
  else await extractZip(job);
  checkAllLinks(job.tree, job.archive);
  if (options.expandedSize !== undefined && job.bytes !== options.expandedSize) {
    throw new UnsafeArchiveError(
      job.archive,
      "(all entries)",
      `archive holds ${job.bytes} bytes of content, not the ${options.expandedSize} bytes its manifest declares (expanded_size)`,
    );
  }
  await finishDirs(job);
}

/** The byte limit of an extraction and how messages name it. */
async function byteLimit(
  archive: string,
  options: ExtractOptions,
): Promise<{ maxBytes: number; limitText: string }> {
  const max = limit("maxBytes", options.maxBytes, DEFAULT_MAX_BYTES);
  let bound: number;
  let text: string;
  if (options.expandedSize !== undefined) {
    const declared = options.expandedSize;
    if (!Number.isSafeInteger(declared) || declared < 0) {
      throw new RangeError(`Extract option expandedSize must be an integer >= 0, got ${declared}`);
    }
    bound = declared;
    text = `the ${declared} bytes its manifest declares (expanded_size)`;
  } else {
    const size = (await Deno.stat(archive)).size;
    bound = expansionLimit(size);
    text = bound === DEFAULT_MAX_BYTES
      ? `the limit of ${bound} bytes`
      : `${bound} bytes, the most an archive of ${size} bytes may hold without a declared expanded_size (${MAX_EXPANSION_RATIO} times its size, at least ${EXPANSION_FLOOR_BYTES})`;
  }
  return max < bound || (max === bound && options.maxBytes !== undefined)
    ? { maxBytes: max, limitText: `the limit of ${max} bytes` }
    : { maxBytes: bound, limitText: text };
}

/**
 * Extract `archive` into `dest`, which must not exist: it is created with mode 0700, filled,
 * and on any failure removed again before the error propagates. Every entry is checked before
 * it is written (see the module documentation for what is refused); file content is streamed,
 * the archive is never read into memory whole.
 *
 * Throws {@linkcode UnsafeArchiveError} for a refused entry or an exceeded limit,
 * `Deno.errors.AlreadyExists` when `dest` exists (it is left alone), and `Error` for a file
 * that is not a valid archive of `options.kind` (corrupt, truncated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/src/lib`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/src/ms11`, "#!/bin/sh\n");
 * await Deno.chmod(`${dir}/src/ms11`, 0o4755); // setuid: dropped when extracted
 * await Deno.writeTextFile(`${dir}/src/lib/libms11.so.1`, "ELF");
 * await Deno.symlink("libms11.so.1", `${dir}/src/lib/libms11.so`);
 * const made = await new Deno.Command("tar", { args: ["-czf", `${dir}/app.tar.gz`, "-C", `${dir}/src`, "."] }).output();
 * assert.ok(made.success);
 * import { extractArchive } from "./extract.ts";
 * const result = await extractArchive(`${dir}/app.tar.gz`, `${dir}/build`, { kind: "tar.gz" });
 * assert.deepEqual(result, { files: 2, bytes: 13 });
 * assert.equal((await Deno.stat(`${dir}/build/ms11`)).mode! & 0o7777, 0o755);
 * assert.equal(await Deno.readLink(`${dir}/build/lib/libms11.so`), "libms11.so.1");
 * await assert.rejects(extractArchive(`${dir}/app.tar.gz`, `${dir}/build`, { kind: "tar.gz" }), Deno.errors.AlreadyExists);
 * ```
 */
export async function extractArchive(
  archive: string,
  dest: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const job = await newJob(archive, dest, options);
  try {
    await Deno.mkdir(dest, { mode: 0o700 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new Deno.errors.AlreadyExists(
        `Cannot extract ${archive}: destination ${dest} already exists`,
      );
    }
    throw error;
  }
  try {
    await Deno.chmod(dest, 0o700);
    await readAll(job, options);
    if (job.sync) await syncDir(dirOf(dest.replace(/(.)\/+$/, "$1")));
  } catch (error) {
    await Deno.remove(dest, { recursive: true }).catch(() => {});
    throw error;
  }
  report(job);
  return { files: job.files, bytes: job.bytes };
}

export type { ArchiveEntry } from "./_write.ts";

/**
 * What {@linkcode inspectArchive} found: what extracting would write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InspectResult } from "./extract.ts";
 * const result: InspectResult = { files: 1, bytes: 10, entries: [{ path: "ms11", kind: "file", mode: 0o755, sha256: "ab".repeat(32) }] };
 * assert.equal(result.entries.length, 1);
 * ```
 */
export interface InspectResult extends ExtractResult {
  /** Every entry, directories (those implied by a path included) and links too. */
  entries: ArchiveEntry[];
}

/**
 * Read `archive` as {@linkcode extractArchive} would, with every check and limit, but write
 * nothing: what a publisher runs before publishing (the expanded size it declares, the entries a
 * client would install). Throws what extracting would throw.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inspectArchive } from "./extract.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\n");
 * await Deno.chmod(`${dir}/ms11`, 0o755);
 * await new Deno.Command("tar", { args: ["-czf", `${dir}/app.tar.gz`, "-C", dir, "ms11"] }).output();
 * const result = await inspectArchive(`${dir}/app.tar.gz`, { kind: "tar.gz" });
 * import { createHash } from "node:crypto";
 * const sha256 = createHash("sha256").update("#!/bin/sh\n").digest("hex");
 * assert.deepEqual(result, { files: 1, bytes: 10, entries: [{ path: "ms11", kind: "file", mode: 0o755, sha256 }] });
 * ```
 */
export async function inspectArchive(
  archive: string,
  options: Omit<ExtractOptions, "sync" | "onProgress">,
): Promise<InspectResult> {
  const job = await newJob(archive, "(nowhere: a dry run)", { ...options, sync: false });
  const entries: ArchiveEntry[] = [];
  job.dryRun = true;
  job.onEntry = (entry) => entries.push(entry);
  await readAll(job, options);
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files: job.files, bytes: job.bytes, entries };
}
