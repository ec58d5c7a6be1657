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
 * import { type ArchiveKind, archiveKindOf } from "./extract.ts";
 * const kind: ArchiveKind | null = archiveKindOf("app.tgz");
 * console.assert(kind === "tar.gz");
 * ```
 */
export type ArchiveKind = "tar.gz" | "zip";

/**
 * Default of {@linkcode ExtractOptions.maxEntries}.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_ENTRIES } from "./extract.ts";
 * console.assert(DEFAULT_MAX_ENTRIES === 100_000);
 * ```
 */
export const DEFAULT_MAX_ENTRIES = 100_000;
/**
 * Default of {@linkcode ExtractOptions.maxBytes}: 8 GiB.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BYTES } from "./extract.ts";
 * console.assert(DEFAULT_MAX_BYTES === 8 * 1024 ** 3);
 * ```
 */
export const DEFAULT_MAX_BYTES = 8 * 1024 ** 3;

/**
 * Options of {@linkcode extractArchive}.
 *
 * @example
 * ```ts
 * import type { ExtractOptions } from "./extract.ts";
 * const options: ExtractOptions = { kind: "zip", maxEntries: 10_000, maxBytes: 2 * 1024 ** 3 };
 * console.assert(options.kind === "zip");
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
 * import type { ExtractResult } from "./extract.ts";
 * const result: ExtractResult = { files: 12, bytes: 48_213 };
 * console.assert(result.files === 12);
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
 * import { archiveKindOf } from "./extract.ts";
 * console.assert(archiveKindOf("ms11-1.2.0-linux-x64.tar.gz") === "tar.gz");
 * console.assert(archiveKindOf("ms11-1.2.0-windows-x64.zip") === "zip");
 * console.assert(archiveKindOf("ms11-1.2.0.tar.xz") === null);
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
 * import { extractArchive } from "./extract.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * await new Deno.Command("tar", { args: ["-czf", `${dir}/app.tar.gz`, "-C", dir, "hello.txt"] })
 *   .output();
 * const result = await extractArchive(`${dir}/app.tar.gz`, `${dir}/build`, { kind: "tar.gz" });
 * console.assert(result.files === 1 && result.bytes === 5);
 * console.assert(await Deno.readTextFile(`${dir}/build/hello.txt`) === "hello");
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
