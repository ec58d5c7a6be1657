/**
 * Extract a downloaded build archive (.tar.gz or .zip) into a fresh private directory, refusing
 * every entry that could write outside it.
 *
 * Refused (with {@linkcode UnsafeArchiveError}, naming the entry): names with a ".." component,
 * absolute names (leading "/" or "\"), Windows drive letters, any backslash, NUL; hard links
 * (all of them); devices, FIFOs and other special entries; symlinks whose target is absolute or
 * resolves (through the other symlinks of the archive) outside the destination; any entry
 * written through an earlier symlink (CVE-2025-29787: `link -> sub` then `link/file`); an
 * entry that repeats an earlier path; every symlink of a zip archive; more than `maxEntries`
 * entries or more than `maxBytes` bytes of content.
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
import { finishDirs, type Job, report } from "./_write.ts";
import { extractZip } from "./_zip.ts";
import { dirOf, syncDir } from "../core/fs.ts";

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
  /** fsync every file and directory written (default true; false only for tests and tools). */
  sync?: boolean;
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
  const kind = options.kind;
  if (kind !== "tar.gz" && kind !== "zip") {
    throw new TypeError(
      `Extract option kind must be "tar.gz" or "zip", got ${JSON.stringify(kind)}`,
    );
  }
  const job: Job = {
    archive,
    dest,
    maxEntries: limit("maxEntries", options.maxEntries, DEFAULT_MAX_ENTRIES),
    maxBytes: limit("maxBytes", options.maxBytes, DEFAULT_MAX_BYTES),
    sync: options.sync ?? true,
    onProgress: options.onProgress,
    total: null,
    entries: 0,
    files: 0,
    bytes: 0,
    tree: newTree(),
  };
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
    if (kind === "tar.gz") await extractTarGz(job);
    else await extractZip(job);
    checkAllLinks(job.tree, archive);
    await finishDirs(job);
    if (job.sync) await syncDir(dirOf(dest.replace(/(.)\/+$/, "$1")));
  } catch (error) {
    await Deno.remove(dest, { recursive: true }).catch(() => {});
    throw error;
  }
  report(job);
  return { files: job.files, bytes: job.bytes };
}
