// Private helpers of extract.ts: the limits and progress shared by the tar.gz and zip readers,
// and the file-system writes (every one relative to a fresh destination that only this
// extraction writes to; a file is opened with createNew, so an existing path is never followed).
import { createHash } from "node:crypto";
import type { ProgressSink } from "../core/env.ts";
import { noSpaceError, syncDir } from "../core/fs.ts";
import { dirMode, type Tree } from "./_paths.ts";
import { UnsafeArchiveError } from "../core/errors.ts";

/**
 * Limits, progress and counters of one extraction.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { countEntry } from "./_write.ts";
 * countEntry(job, "a");
 * countEntry(job, "b");
 * assert.throws(() => countEntry(job, "c"), { name: "UnsafeArchiveError" }); // maxEntries: 2
 * assert.equal(job.entries, 3);
 * ```
 */
export interface Job {
  /** The archive path (for messages). */
  archive: string;
  /** The destination directory (already created, empty). */
  dest: string;
  /** At most this many entries (files, directories, links, metadata headers counted apart). */
  maxEntries: number;
  /** At most this many bytes of file content in all. */
  maxBytes: number;
  /** What `maxBytes` is, for messages (default "the limit of <maxBytes> bytes"). */
  limitText?: string;
  /** Check and count only, write nothing (`inspectArchive`). */
  dryRun?: boolean;
  /** Receives every entry written (or, in a dry run, that would be), as it is finished. */
  onEntry?: (entry: ArchiveEntry) => void;
  /** fsync files and directories. */
  sync: boolean;
  /** Progress receiver. */
  onProgress?: ProgressSink;
  /** Total bytes when known in advance. */
  total: number | null;
  /** Entries seen. */
  entries: number;
  /** Regular files written. */
  files: number;
  /** File bytes written. */
  bytes: number;
  /** What was created so far. */
  tree: Tree;
}

/**
 * One entry an extraction installs: its path, kind and final mode, and for a file the SHA-256
 * of its content as it was written (for a link, its target). What a build's seal is made of.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ArchiveEntry } from "./_write.ts";
 * const main: ArchiveEntry = { path: "ms11", kind: "file", mode: 0o755, sha256: "ab".repeat(32) };
 * const link: ArchiveEntry = { path: "lib/libms11.so", kind: "symlink", mode: 0o777, target: "libms11.so.1" };
 * assert.equal(main.mode & 0o111, 0o111); // executable
 * assert.equal(link.target, "libms11.so.1");
 * ```
 */
export interface ArchiveEntry {
  /** The path relative to the build folder, normalised (no "./", no trailing "/"). */
  path: string;
  /** What it is. */
  kind: "dir" | "file" | "symlink";
  /** The mode it is installed with (setuid, setgid, sticky and group/other write dropped). */
  mode: number;
  /** A file's SHA-256 (lowercase hex), computed while it was written. */
  sha256?: string;
  /** A link's target. */
  target?: string;
}

/** Bytes between two progress reports inside one large file. */
const PROGRESS_STEP = 4 * 1024 * 1024;

/**
 * Count one entry, refusing it when it is one too many.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { countEntry } from "./_write.ts";
 * countEntry(job, "a");
 * countEntry(job, "b");
 * assert.throws(() => countEntry(job, "c"), {
 *   message: 'Unsafe archive app.tar.gz: entry "c" refused: archive has more than 2 entries (the limit)',
 * });
 * ```
 */
export function countEntry(job: Job, name: string): void {
  job.entries++;
  if (job.entries > job.maxEntries) {
    throw new UnsafeArchiveError(
      job.archive,
      name,
      `archive has more than ${job.maxEntries} entries (the limit)`,
    );
  }
}

/**
 * Refuse an entry whose declared size would take the total over the byte limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { checkSize } from "./_write.ts";
 * checkSize(job, "a", 10); // exactly the limit (maxBytes: 10)
 * assert.throws(() => checkSize(job, "b", 4, 7), {
 *   message: 'Unsafe archive app.tar.gz: entry "b" refused: archive content exceeds the limit of 10 bytes',
 * });
 * ```
 */
export function checkSize(job: Job, name: string, size: number, already = job.bytes): void {
  if (already + size > job.maxBytes) {
    const limit = job.limitText ?? `the limit of ${job.maxBytes} bytes`;
    throw new UnsafeArchiveError(job.archive, name, `archive content exceeds ${limit}`);
  }
}

/**
 * Report progress, if anyone listens.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import type { Progress } from "../core/env.ts";
 * import { report } from "./_write.ts";
 * report(job); // nobody listens: nothing happens
 * const seen: Progress[] = [];
 * job.onProgress = (p) => seen.push(p);
 * job.bytes = 7;
 * report(job);
 * assert.deepEqual(seen, [{ phase: "extract", done: 7, total: null }]);
 * ```
 */
export function report(job: Job): void {
  job.onProgress?.({ phase: "extract", done: job.bytes, total: job.total });
}

/**
 * Create the given directories (relative, outermost first) with mode 0700.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { makeDirs } from "./_write.ts";
 * await makeDirs(job, ["lib", "lib/x"]);
 * assert.equal((await Deno.stat(`${job.dest}/lib/x`)).mode! & 0o777, 0o700);
 * await assert.rejects(makeDirs(job, ["lib"]), Deno.errors.AlreadyExists);
 * ```
 */
export async function makeDirs(job: Job, dirs: string[]): Promise<void> {
  if (job.dryRun) return;
  for (const dir of dirs) await Deno.mkdir(`${job.dest}/${dir}`, { mode: 0o700 });
}

/**
 * Create the directory `rel` (its parents exist) with mode 0700 (nothing in a dry run).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import { type Job, makeDir } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * await makeDir(job, "lib");
 * assert.equal((await Deno.stat(`${job.dest}/lib`)).mode! & 0o777, 0o700);
 * ```
 */
export async function makeDir(job: Job, rel: string): Promise<void> {
  if (!job.dryRun) await Deno.mkdir(`${job.dest}/${rel}`, { mode: 0o700 });
}

/**
 * An open output file that counts and limits what is written to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { type Output, writeFile } from "./_write.ts";
 * await assert.rejects(
 *   writeFile(job, "big", "big", 0o644, 3, async (out: Output) => await out.write(new Uint8Array(4))),
 *   { message: 'Unsafe archive app.tar.gz: entry "big" refused: entry content is larger than its declared size of 3 bytes' },
 * );
 * ```
 */
export interface Output {
  /** Append bytes (refused past `limit`). */
  write(chunk: Uint8Array): Promise<void>;
}

/**
 * Create the file `rel` (which must not exist), let `fill` write its content, then fsync it and
 * set `mode`. At most `limit` bytes are accepted (a larger write refuses the entry).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { writeFile } from "./_write.ts";
 * await writeFile(job, "ms11", "ms11", 0o755, 5, async (out) => {
 *   await out.write(new TextEncoder().encode("#!sh\n"));
 * });
 * assert.equal(await Deno.readTextFile(`${job.dest}/ms11`), "#!sh\n");
 * assert.equal((await Deno.stat(`${job.dest}/ms11`)).mode! & 0o777, 0o755);
 * assert.deepEqual([job.files, job.bytes], [1, 5]);
 * await assert.rejects(writeFile(job, "ms11", "ms11", 0o755, 5, async () => {}), Deno.errors.AlreadyExists);
 * ```
 */
export async function writeFile(
  job: Job,
  name: string,
  rel: string,
  mode: number,
  limit: number,
  fill: (out: Output) => Promise<void>,
): Promise<void> {
  const path = `${job.dest}/${rel}`;
  const file = job.dryRun
    ? null
    : await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  // The content's digest, taken from the very bytes written: the build's seal is made from it,
  // so that nothing has to be read back.
  const hash = createHash("sha256");
  try {
    let written = 0;
    let nextReport = job.bytes + PROGRESS_STEP;
    const out: Output = {
      async write(chunk: Uint8Array) {
        if (written + chunk.length > limit) {
          throw new UnsafeArchiveError(
            job.archive,
            name,
            `entry content is larger than its declared size of ${limit} bytes`,
          );
        }
        checkSize(job, name, chunk.length);
        // The write runs (on another thread) while the chunk is hashed here.
        const writing = file === null ? null : writeAll(file, chunk);
        try {
          hash.update(chunk);
        } finally {
          await writing;
        }
        written += chunk.length;
        job.bytes += chunk.length;
        if (job.bytes >= nextReport) {
          report(job);
          nextReport = job.bytes + PROGRESS_STEP;
        }
      },
    };
    await fill(out);
    if (job.sync) await file?.sync();
  } catch (error) {
    throw noSpaceError(error, `${path}, extracted from ${job.archive}`);
  } finally {
    file?.close();
  }
  if (file !== null) await Deno.chmod(path, mode);
  job.onEntry?.({ path: rel, kind: "file", mode, sha256: hash.digest("hex") });
  job.files++;
  report(job);
}

/**
 * Create the symlink `rel` → `target` (already checked).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { writeLink } from "./_write.ts";
 * await writeLink(job, "current", "lib/ms11");
 * assert.equal(await Deno.readLink(`${job.dest}/current`), "lib/ms11");
 * ```
 */
export async function writeLink(job: Job, rel: string, target: string): Promise<void> {
  if (!job.dryRun) await Deno.symlink(target, `${job.dest}/${rel}`);
  job.onEntry?.({ path: rel, kind: "symlink", mode: 0o777, target });
}

/** Write all of `data` to `file`. */
async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) done += await file.write(data.subarray(done));
}

/**
 * The last step: give every directory its mode (0755 for directories the archive did not
 * list, the destination itself stays 0700) and fsync them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * import type { Job } from "./_write.ts";
 * const job: Job = {
 *   archive: "app.tar.gz", dest: await Deno.makeTempDir(), maxEntries: 2, maxBytes: 10, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * import { claim } from "./_paths.ts";
 * import { finishDirs, makeDirs } from "./_write.ts";
 * await makeDirs(job, claim(job.tree, job.archive, "lib/x", ["lib", "x"], "file"));
 * await makeDirs(job, ["private"]);
 * job.tree.nodes.set("private", "dir");
 * job.tree.dirModes.set("private", 0o750);
 * await finishDirs(job);
 * assert.equal((await Deno.stat(`${job.dest}/lib`)).mode! & 0o777, 0o755); // not listed: 0755
 * assert.equal((await Deno.stat(`${job.dest}/private`)).mode! & 0o777, 0o750);
 * ```
 */
export async function finishDirs(job: Job): Promise<void> {
  const dirs = [...job.tree.nodes].filter(([, kind]) => kind === "dir").map(([path]) => path);
  for (const dir of dirs) {
    const mode = dirMode(job.tree.dirModes.get(dir) ?? 0o755);
    if (!job.dryRun) await Deno.chmod(`${job.dest}/${dir}`, mode);
    job.onEntry?.({ path: dir, kind: "dir", mode });
  }
  if (job.dryRun) return;
  if (!job.sync) return;
  for (const dir of dirs) await syncDir(`${job.dest}/${dir}`);
  await syncDir(job.dest);
}
