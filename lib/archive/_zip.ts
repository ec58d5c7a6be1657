// Private helper of extract.ts: extract a .zip with zip.js, reading the file with random access
// (never buffering the whole archive) and writing each entry as a stream.
//
// Every entry of the central directory is checked before anything is written. Symlink entries
// are refused, all of them: zip.js cannot create links (it would write the target path as a
// regular file), and our zip builds have no reason to contain any.
import { type Entry, Reader, ZipReader } from "@zip.js/zip.js";
import { claim, controlProblem, entryParts, fileMode } from "./_paths.ts";
import { checkSize, countEntry, type Job, makeDirs, report, writeFile } from "./_write.ts";
import { UnsafeArchiveError } from "../core/errors.ts";

/** Unix file-type bits of a mode. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** zip.js Reader over an open file: random-access reads, serialised (zip.js may overlap them). */
class FileReader extends Reader<Deno.FsFile> {
  #file: Deno.FsFile;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: Deno.FsFile) {
    super(file);
    this.#file = file;
  }

  override async init(): Promise<void> {
    this.size = (await this.#file.stat()).size;
  }

  override readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const result = this.#queue.then(async () => {
      await this.#file.seek(index, Deno.SeekMode.Start);
      const data = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const n = await this.#file.read(data.subarray(filled));
        if (n === null) return data.subarray(0, filled);
        filled += n;
      }
      return data;
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

/** A zip entry that passed the checks, with where and how to write it. */
interface Planned {
  entry: Entry;
  rel: string;
  missing: string[];
  mode: number;
}

/** Describe a Unix file type for a message. */
function typeName(type: number): string {
  switch (type) {
    case 0o010000:
      return "FIFO";
    case 0o020000:
      return "character device";
    case 0o060000:
      return "block device";
    case 0o140000:
      return "socket";
    default:
      return `0o${type.toString(8)}`;
  }
}

/** Refuse an entry of a refused type (symlink, device, FIFO, socket) or an encrypted one. */
function checkType(job: Job, entry: Entry): void {
  const upper = (entry.externalFileAttributes >>> 16) & S_IFMT;
  const fromMode = (entry.unixMode ?? 0) & S_IFMT;
  if (entry.symlink || upper === S_IFLNK || fromMode === S_IFLNK) {
    throw new UnsafeArchiveError(
      job.archive,
      entry.filename,
      "symlink entries are not allowed in zip archives",
    );
  }
  for (const type of [upper, fromMode]) {
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
      throw new UnsafeArchiveError(
        job.archive,
        entry.filename,
        `entry type ${typeName(type)} is not allowed`,
      );
    }
  }
  if (entry.encrypted) {
    throw new UnsafeArchiveError(
      job.archive,
      entry.filename,
      "encrypted entries are not supported",
    );
  }
}

/**
 * Refuse a name whose stored bytes hold a control character (a NUL cuts it short; in a name not
 * marked UTF-8, zip.js would show a C0 byte as a CP437 symbol instead of refusing it).
 */
function checkRawName(job: Job, entry: Entry): void {
  const raw = entry.rawFilename;
  if (!raw.some((b) => b < 0x20 || b === 0x7f)) return;
  const full = new TextDecoder().decode(raw);
  throw new UnsafeArchiveError(
    job.archive,
    full,
    controlProblem(full) ?? "path contains a control character",
  );
}

/** Turn a zip.js failure into our errors (a refused name, or a corrupt archive). */
function translate(job: Job, error: unknown, entry?: string): Error {
  if (!(error instanceof Error)) return new Error(`Cannot extract ${job.archive}: ${error}`);
  if (error instanceof UnsafeArchiveError) return error;
  // A system error writing the entry (a full disk) is not a corrupt archive.
  if (typeof (error as { code?: unknown }).code === "string") return error;
  const filename = (error as { filename?: unknown }).filename;
  if (error.message === "Unsafe filename" && typeof filename === "string") {
    return new UnsafeArchiveError(
      job.archive,
      filename,
      'zip.js reports an unsafe file name (absolute, drive letter or ".." component)',
    );
  }
  const where = entry === undefined ? "" : ` (entry ${JSON.stringify(entry)})`;
  return new Error(
    `Cannot extract ${job.archive}: invalid or corrupt zip archive${where}: ${error.message}`,
    { cause: error },
  );
}

/** Check every entry of the central directory and plan its extraction. */
async function plan(job: Job, reader: ZipReader<unknown>): Promise<Planned[]> {
  const planned: Planned[] = [];
  let declared = 0;
  for await (const entry of reader.getEntriesGenerator()) {
    countEntry(job, entry.filename);
    checkRawName(job, entry);
    checkType(job, entry);
    const parts = entryParts(job.archive, entry.filename);
    if (parts.length === 0) {
      if (entry.directory) continue;
      throw new UnsafeArchiveError(job.archive, entry.filename, "entry names the build directory");
    }
    const rel = parts.join("/");
    const kind = entry.directory ? "dir" : "file";
    const isNew = !job.tree.nodes.has(rel);
    const missing = claim(job.tree, job.archive, entry.filename, parts, kind);
    const bits = (entry.unixMode ?? 0) & 0o777;
    if (kind === "dir") {
      if (bits !== 0) job.tree.dirModes.set(rel, bits);
      if (isNew) missing.push(rel);
      planned.push({ entry, rel, missing, mode: 0 });
      continue;
    }
    checkSize(job, entry.filename, entry.uncompressedSize, declared);
    declared += entry.uncompressedSize;
    const mode = bits !== 0 ? fileMode(bits) : entry.executable ? 0o755 : 0o644;
    planned.push({ entry, rel, missing, mode });
  }
  if (planned.length === 0 && job.entries === 0) {
    throw new Error(`Cannot extract ${job.archive}: the zip archive has no entries`);
  }
  job.total = declared;
  return planned;
}

/**
 * Extract every entry of the zip `job.archive` into `job.dest`.
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
 * import { newTree } from "./_paths.ts";
 * import { extractZip } from "./_zip.ts";
 * await Deno.writeFile(`${dir}/app.zip`, await zipOf({ "ms11": "#!/bin/sh\n", "../evil": "x" }));
 * const job = {
 *   archive: `${dir}/app.zip`, dest: `${dir}/build`, maxEntries: 100, maxBytes: 1024, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * await Deno.mkdir(job.dest);
 * await assert.rejects(extractZip(job), { name: "UnsafeArchiveError" });
 * assert.deepEqual([...Deno.readDirSync(job.dest)], []); // every entry is checked before any is written
 * ```
 */
export async function extractZip(job: Job): Promise<void> {
  const file = await Deno.open(job.archive, { read: true });
  const reader = new ZipReader(new FileReader(file), {
    useWebWorkers: false,
    strictness: "strict",
    filenameValidation: "balanced",
  });
  try {
    let planned: Planned[];
    try {
      planned = await plan(job, reader);
    } catch (error) {
      throw translate(job, error);
    }
    report(job);
    for (const { entry, rel, missing, mode } of planned) {
      await makeDirs(job, missing);
      if (entry.directory) continue;
      const size = entry.uncompressedSize;
      await writeFile(job, entry.filename, rel, mode, size, async (out) => {
        const sink = new WritableStream<Uint8Array>({ write: (chunk) => out.write(chunk) });
        try {
          await entry.getData(sink, { checkSignature: true, useWebWorkers: false });
        } catch (error) {
          // zip.js checks the size and CRC-32 of what it inflates (checkSignature)
          throw translate(job, error, entry.filename);
        }
      });
    }
  } finally {
    await reader.close().catch(() => {});
    try {
      file.close();
    } catch {
      // already closed
    }
  }
}
