// Private helper of extract.ts: stream a .tar.gz into a fresh directory, entry by entry.
//
// node-tar's Header, Pax and ReadEntry decode the headers (ustar prefix, base-256 numbers, pax
// and GNU long names); reading, checking and writing are done here, so that every entry is
// judged before anything of it touches the disk and an unsafe one is refused, never rewritten.
import { Buffer } from "node:buffer";
import { Header, Pax, ReadEntry } from "tar";
import { checkLinkTarget, claim, controlProblem, entryParts, fileMode } from "./_paths.ts";
import {
  checkSize,
  countEntry,
  type Job,
  makeDir,
  makeDirs,
  writeFile,
  writeLink,
} from "./_write.ts";
import { UnsafeArchiveError } from "../core/errors.ts";

/**
 * Input read size. DecompressionStream inflates each input chunk into one output chunk, so this
 * bounds the largest chunk held in memory (deflate expands at most ~1032×: 64 KiB → ~66 MB).
 */
const READ_SIZE = 64 * 1024;
/** Largest pax or GNU long-name header accepted (node-tar's default). */
const MAX_META_SIZE = 1024 * 1024;
/** Largest amount of data after the end-of-archive block that is read (to check the gzip CRC). */
const MAX_TRAILER = 1024 * 1024;

/** Entry types written; everything else is refused. */
const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/** Reads exact byte counts from a stream of chunks. */
class ByteSource {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** Bytes consumed so far. */
  offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Whether data remains (waits for a chunk when needed). */
  async more(): Promise<boolean> {
    while (this.#pos >= this.#chunk.length) {
      const next = await this.#reader.read();
      if (next.done) return false;
      this.#chunk = next.value;
      this.#pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes (fewer only at the end of the stream: then the result is shorter). */
  async take(max: number): Promise<Uint8Array> {
    if (!(await this.more())) return new Uint8Array(0);
    const end = Math.min(this.#chunk.length, this.#pos + max);
    const slice = this.#chunk.subarray(this.#pos, end);
    this.#pos = end;
    this.offset += slice.length;
    return slice;
  }

  /** Exactly `size` bytes, or fewer when the stream ends first. */
  async read(size: number): Promise<Uint8Array> {
    const out = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const slice = await this.take(size - filled);
      if (slice.length === 0) return out.subarray(0, filled);
      out.set(slice, filled);
      filled += slice.length;
    }
    return out;
  }

  /** Give up on the rest of the stream. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** A readable stream of the file in small reads, so that inflated chunks stay small. */
function fileChunks(
  file: Deno.FsFile,
  first: Uint8Array<ArrayBuffer>,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      if (first.length > 0) controller.enqueue(first);
    },
    async pull(controller) {
      const buf = new Uint8Array(READ_SIZE);
      const n = await file.read(buf);
      if (n === null) controller.close();
      else controller.enqueue(buf.subarray(0, n));
    },
  }, { highWaterMark: 0 });
}

/** An error for data that is not a complete, well-formed .tar.gz. */
function corrupt(archive: string, what: string, cause?: unknown): Error {
  return new Error(`Cannot extract ${archive}: ${what}`, cause === undefined ? {} : { cause });
}

/** Wrap a decompression failure (DecompressionStream throws TypeError) as a corrupt archive. */
async function guard<T>(archive: string, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    if (error instanceof TypeError) {
      throw corrupt(archive, `corrupt gzip data (${error.message})`, error);
    }
    throw error;
  }
}

/** Read `size` body bytes plus their padding to the next 512-byte block. */
async function readPadded(job: Job, src: ByteSource, name: string, size: number) {
  const data = await guard(job.archive, src.read(size));
  await skipPadding(job, src, name, size, data.length);
  return data;
}

/** Skip the padding after a body of `size` bytes (`got` of which were read). */
async function skipPadding(job: Job, src: ByteSource, name: string, size: number, got: number) {
  const padding = (512 - (size % 512)) % 512;
  const pad = got < size ? new Uint8Array(0) : await guard(job.archive, src.read(padding));
  if (got < size || pad.length < padding) {
    throw corrupt(job.archive, `truncated tar data in entry ${JSON.stringify(name)}`);
  }
}

/** Check the file really is gzip before inflating it; returns what was read of it. */
async function checkGzipMagic(
  archive: string,
  file: Deno.FsFile,
): Promise<Uint8Array<ArrayBuffer>> {
  const first = new Uint8Array(READ_SIZE);
  let n = 0;
  while (n < 2) {
    const got = await file.read(first.subarray(n));
    if (got === null) break;
    n += got;
  }
  if (n < 2 || first[0] !== 0x1f || first[1] !== 0x8b) {
    throw corrupt(archive, "not a gzip file (no gzip magic number)");
  }
  return first.subarray(0, n); // the start of the stream: the archive is read once
}

/**
 * Extract every entry of the .tar.gz `job.archive` into `job.dest`.
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
 * import { newTree } from "./_paths.ts";
 * import { extractTarGz } from "./_tar.ts";
 * const job = {
 *   archive: `${dir}/app.tar.gz`, dest: `${dir}/build`, maxEntries: 100, maxBytes: 1024, sync: false,
 *   total: null, entries: 0, files: 0, bytes: 0, tree: newTree(),
 * };
 * await Deno.mkdir(job.dest);
 * await extractTarGz(job);
 * assert.deepEqual([job.files, job.bytes], [2, 13]);
 * assert.equal(job.tree.nodes.get("lib/libms11.so"), "symlink");
 * await Deno.writeTextFile(`${dir}/fake.tar.gz`, "not gzip");
 * await assert.rejects(extractTarGz({ ...job, archive: `${dir}/fake.tar.gz`, tree: newTree() }));
 * ```
 */
export async function extractTarGz(job: Job): Promise<void> {
  const file = await Deno.open(job.archive, { read: true });
  let src: ByteSource | null = null;
  try {
    const first = await checkGzipMagic(job.archive, file);
    src = new ByteSource(fileChunks(file, first).pipeThrough(new DecompressionStream("gzip")));
    await readEntries(job, src);
    await drainTrailer(job, src);
  } finally {
    await src?.cancel();
    try {
      file.close();
    } catch {
      // already closed by the cancelled stream
    }
  }
}

const utf8 = new TextDecoder();

/** `bytes` as text, without its trailing NUL padding. */
function unpadded(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return utf8.decode(bytes.subarray(0, end));
}

/**
 * Refuse a NUL-padded name field that goes on after its first NUL: readers stop there, so the
 * name installed would be a shortened one (`evil\0/../../x` read as `evil`). Only padding may
 * follow the NUL.
 */
function checkNulPadded(job: Job, field: Uint8Array, link: string | null): void {
  const nul = field.indexOf(0);
  if (nul < 0 || field.subarray(nul).every((b) => b === 0)) return;
  const full = unpadded(field);
  if (link === null) {
    throw new UnsafeArchiveError(job.archive, full, "path contains a NUL character");
  }
  throw new UnsafeArchiveError(
    job.archive,
    link,
    `symlink target ${JSON.stringify(full)}: path contains a NUL character`,
  );
}

/** Refuse the raw name, prefix and link fields of a ustar header that hide data after a NUL. */
function checkHeaderNames(job: Job, block: Uint8Array): void {
  const name = block.subarray(0, 100);
  checkNulPadded(job, name, null);
  // POSIX ustar ("ustar\0"): a prefix of the name in 345..500 (GNU keeps other fields there).
  // Read as node-tar reads it: when byte 475 is NUL the prefix is 345..475, and 476..500 may hold
  // the atime and ctime that node-tar (and so every npm tarball) writes there.
  const posix = block[257] === 0x75 && utf8.decode(block.subarray(257, 263)) === "ustar\0";
  if (posix) checkNulPadded(job, block.subarray(345, block[475] === 0 ? 475 : 500), null);
  checkNulPadded(job, block.subarray(157, 257), unpadded(name));
}

/**
 * Refuse a pax `path` or `linkpath` record with a control character in its value (node-tar
 * would cut it at a NUL). Records are `<length> <key>=<value>\n`, the length in bytes; a
 * malformed record ends the scan (node-tar reads it the same way: not at all).
 */
function checkPaxNames(job: Job, body: Uint8Array): void {
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space < 0) return;
    const length = Number(utf8.decode(body.subarray(at, space)));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > body.length) return;
    const record = body.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    const key = eq < 0 ? "" : utf8.decode(record.subarray(0, eq));
    if (key === "path" || key === "linkpath") {
      const value = utf8.decode(record.subarray(eq + 1));
      const problem = controlProblem(value);
      if (problem !== null) {
        throw new UnsafeArchiveError(
          job.archive,
          value,
          key === "path" ? problem : `pax linkpath: ${problem}`,
        );
      }
    }
    at += length;
  }
}

/** Read headers and bodies until the end-of-archive block. */
async function readEntries(job: Job, src: ByteSource): Promise<void> {
  let ex: Pax | undefined;
  let gex: Pax | undefined;
  let metas = 0;
  let sawEntry = false;
  for (;;) {
    const at = src.offset;
    const block = await guard(job.archive, src.read(512));
    if (block.length === 0 && sawEntry && ex === undefined) return; // no end blocks: tolerated
    if (block.length < 512) throw corrupt(job.archive, `truncated tar header at byte ${at}`);
    if (block.every((byte) => byte === 0)) {
      if (!sawEntry) throw corrupt(job.archive, "not a tar archive (no entries)");
      if (ex !== undefined) throw corrupt(job.archive, "extended header without an entry");
      return;
    }
    const header = new Header(Buffer.from(block.buffer, block.byteOffset, 512), 0, ex, gex);
    if (!header.cksumValid) {
      throw corrupt(
        job.archive,
        sawEntry ? `corrupt tar header at byte ${at} (checksum mismatch)` : "not a tar archive",
      );
    }
    checkHeaderNames(job, block);
    const size = header.size;
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw corrupt(job.archive, `invalid size in the tar header at byte ${at}`);
    }
    sawEntry = true;
    const type = header.type;
    if (
      type === "ExtendedHeader" || type === "OldExtendedHeader" ||
      type === "GlobalExtendedHeader" || type === "NextFileHasLongPath" ||
      type === "OldGnuLongPath" || type === "NextFileHasLongLinkpath"
    ) {
      const label = header.path ?? type;
      if (++metas > job.maxEntries) {
        throw new UnsafeArchiveError(
          job.archive,
          label,
          `archive has more than ${job.maxEntries} extended headers (the limit)`,
        );
      }
      if (size > MAX_META_SIZE) {
        throw new UnsafeArchiveError(
          job.archive,
          label,
          `extended header of ${size} bytes exceeds ${MAX_META_SIZE} bytes`,
        );
      }
      const body = await readPadded(job, src, label, size);
      const text = utf8.decode(body);
      if (type === "GlobalExtendedHeader") {
        checkPaxNames(job, body);
        gex = Pax.parse(text, gex, true);
      } else if (type === "ExtendedHeader" || type === "OldExtendedHeader") {
        checkPaxNames(job, body);
        ex = Pax.parse(text, ex, false);
      } else {
        // A GNU long name or link name: the name, a NUL, and nothing but padding after it.
        checkNulPadded(
          job,
          body,
          type === "NextFileHasLongLinkpath" ? "(GNU long link name)" : null,
        );
        ex ??= new Pax({});
        const value = text.replace(/\0.*/s, "");
        if (type === "NextFileHasLongLinkpath") ex.linkpath = value;
        else ex.path = value;
      }
      continue;
    }
    if (!header.path) throw corrupt(job.archive, `tar header at byte ${at} has no path`);
    const entry = new ReadEntry(header, ex, gex);
    ex = undefined;
    await extractEntry(job, src, entry, size);
  }
}

/** Check one entry and write it (its body is `size` bytes, then padding). */
async function extractEntry(job: Job, src: ByteSource, entry: ReadEntry, size: number) {
  const name = entry.path;
  countEntry(job, name);
  const type = entry.type;
  if (type === "Link") {
    throw new UnsafeArchiveError(job.archive, name, "hard links are not allowed");
  }
  if (!FILE_TYPES.has(type) && type !== "Directory" && type !== "SymbolicLink") {
    throw new UnsafeArchiveError(job.archive, name, `entry type ${type} is not allowed`);
  }
  const parts = entryParts(job.archive, name);
  const rel = parts.join("/");
  const mode = entry.mode ?? (type === "Directory" ? 0o755 : 0o644);
  if (type === "Directory") {
    if (parts.length > 0) {
      const isNew = !job.tree.nodes.has(rel);
      await makeDirs(job, claim(job.tree, job.archive, name, parts, "dir"));
      if (isNew) await makeDir(job, rel);
      job.tree.dirModes.set(rel, mode);
    }
    await skipPadding(job, src, name, 0, 0);
    return;
  }
  if (parts.length === 0) {
    throw new UnsafeArchiveError(job.archive, name, "entry names the build directory itself");
  }
  if (type === "SymbolicLink") {
    checkSize(job, name, size); // a body (never written) still costs inflating
    const target = entry.linkpath ?? "";
    const missing = claim(job.tree, job.archive, name, parts, "symlink");
    checkLinkTarget(job.tree, job.archive, name, parts, target);
    job.tree.links.set(rel, { entry: name, target });
    await makeDirs(job, missing);
    await writeLink(job, rel, target);
    await skipBody(job, src, name, size);
    return;
  }
  checkSize(job, name, size);
  await makeDirs(job, claim(job.tree, job.archive, name, parts, "file"));
  let got = 0;
  await writeFile(job, name, rel, fileMode(mode), size, async (out) => {
    while (got < size) {
      const slice = await guard(job.archive, src.take(size - got));
      if (slice.length === 0) break;
      await out.write(slice);
      got += slice.length;
    }
  });
  await skipPadding(job, src, name, size, got);
}

/** Skip a body that is not written (a symlink should have none). */
async function skipBody(job: Job, src: ByteSource, name: string, size: number) {
  let got = 0;
  while (got < size) {
    const slice = await guard(job.archive, src.take(size - got));
    if (slice.length === 0) break;
    got += slice.length;
  }
  await skipPadding(job, src, name, size, got);
}

/** Read what follows the end-of-archive block (normally zero padding) so the gzip CRC is checked. */
async function drainTrailer(job: Job, src: ByteSource): Promise<void> {
  let seen = 0;
  while (await guard(job.archive, src.more())) {
    seen += (await src.take(MAX_TRAILER)).length;
    if (seen > MAX_TRAILER) {
      throw corrupt(
        job.archive,
        `more than ${MAX_TRAILER} bytes follow the end of the tar archive`,
      );
    }
  }
}
