// Private (publisher side): compute a binary diff with Debian's `bsdiff` program (Colin
// Percival's bsdiff 4.3, classic BSDIFF40 output) and read its three bzip2 streams back, each
// through its own `bzip2 -dc`, as control entries and diff and extra bytes. Nothing of the
// BSDIFF40 file is held in memory: the streams are read as the new patch is written.
//
// BSDIFF40: "BSDIFF40", then three 8-byte sign-magnitude integers (control stream bytes, diff
// stream bytes, new size), then the control, diff and extra streams, each bzip2-compressed.
// A control entry is three such integers: diff bytes, extra bytes, old-position seek.
import { StreamReader } from "./_encode.ts";

/**
 * bsdiff's peak memory, as measured: about 9 bytes per old byte, plus the new file, plus 64 MiB
 * of slack (docs/DELTA.md, "Generation").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bsdiffMemory } from "./_bsdiff.ts";
 * assert.equal(bsdiffMemory(100, 50), 950 + 64 * 1024 * 1024);
 * ```
 */
export function bsdiffMemory(oldSize: number, newSize: number): number {
  return 9 * oldSize + newSize + 64 * 1024 * 1024;
}

/** Spawn `program`, saying clearly which Debian package provides it when it is missing. */
function spawn(
  program: string,
  args: string[],
  options: { stdin?: "piped" | "null"; stdout: "piped" | "null"; signal?: AbortSignal },
): Deno.ChildProcess {
  try {
    return new Deno.Command(program, {
      args,
      stdin: options.stdin ?? "null",
      stdout: options.stdout,
      stderr: "piped",
      signal: options.signal,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot make a binary delta: the ${program} program is not installed (Debian and Ubuntu: apt-get install ${program})`,
      );
    }
    throw error;
  }
}

/**
 * Run bsdiff: write the BSDIFF40 patch from `oldPath` to `newPath` at `patchPath`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runBsdiff } from "./_bsdiff.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old`, "hello world\n".repeat(100));
 * await Deno.writeTextFile(`${dir}/new`, "hello there\n".repeat(100));
 * await runBsdiff(`${dir}/old`, `${dir}/new`, `${dir}/patch`);
 * const magic = (await Deno.readFile(`${dir}/patch`)).subarray(0, 8);
 * assert.equal(new TextDecoder().decode(magic), "BSDIFF40");
 * ```
 */
export async function runBsdiff(
  oldPath: string,
  newPath: string,
  patchPath: string,
  signal?: AbortSignal,
): Promise<void> {
  const child = spawn("bsdiff", [oldPath, newPath, patchPath], { stdout: "null", signal });
  const { code, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(
      `bsdiff ${oldPath} ${newPath} failed with exit code ${code}: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
}

/**
 * A sign-magnitude little-endian 64-bit integer of BSDIFF40.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offtin } from "./_bsdiff.ts";
 * assert.equal(offtin(new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0x80]), 0), -5);
 * assert.equal(offtin(new Uint8Array([0, 1, 0, 0, 0, 0, 0, 0]), 0), 256);
 * ```
 */
export function offtin(bytes: Uint8Array, at: number): number {
  let value = bytes[at + 7] & 0x7f;
  for (let i = 6; i >= 0; i--) value = value * 256 + bytes[at + i];
  if (!Number.isSafeInteger(value)) throw new RangeError(`BSDIFF40 integer out of range`);
  return bytes[at + 7] & 0x80 ? -value : value;
}

/**
 * The three streams of a BSDIFF40 file, decompressed as they are read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BsdiffStreams } from "./_bsdiff.ts";
 * const read = async (s: BsdiffStreams) => (await s.next()) ?? [0, 0, 0];
 * assert.equal(typeof read, "function");
 * ```
 */
export interface BsdiffStreams {
  /** The new file's size. */
  newSize: number;
  /** The next control entry, or null at the end of the control stream. */
  next(): Promise<[number, number, number] | null>;
  /** The diff bytes. */
  diff: StreamReader;
  /** The extra bytes. */
  extra: StreamReader;
  /** Check every stream was read to its end and every bzip2 exited well. */
  close(): Promise<void>;
  /** Stop every bzip2 (after a failure elsewhere). */
  abort(): Promise<void>;
}

/** Kill a child (if still running), and wait for it and its stderr. */
async function stop(child: Deno.ChildProcess, reader: StreamReader): Promise<void> {
  await reader.cancel();
  try {
    child.kill();
  } catch {
    // already exited
  }
  await child.status;
  await child.stderr.cancel().catch(() => {});
}

/** A readable stream of `length` bytes of `path` from `start`. */
async function region(path: string, start: number, length: number) {
  const file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  let left = length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (left === 0) {
        file.close();
        controller.close();
        return;
      }
      const buf = new Uint8Array(Math.min(left, 256 * 1024));
      const n = await file.read(buf);
      if (n === null) {
        file.close();
        controller.error(new Error(`BSDIFF40 file ${path} is truncated`));
        return;
      }
      left -= n;
      controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      file.close();
    },
  });
}

/**
 * Open the BSDIFF40 file `path` and start decompressing its three streams.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBsdiff, runBsdiff } from "./_bsdiff.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/old`, "abcdefgh".repeat(64));
 * await Deno.writeTextFile(`${dir}/new`, "abcdefgh".repeat(64) + "!");
 * await runBsdiff(`${dir}/old`, `${dir}/new`, `${dir}/patch`);
 * const streams = await openBsdiff(`${dir}/patch`);
 * let made = 0;
 * for (let e = await streams.next(); e !== null; e = await streams.next()) {
 *   if (e[0] > 0) await streams.diff.read(e[0]);
 *   if (e[1] > 0) await streams.extra.read(e[1]);
 *   made += e[0] + e[1];
 * }
 * await streams.close();
 * assert.equal(made, 513);
 * assert.equal(streams.newSize, 513);
 * ```
 */
export async function openBsdiff(path: string): Promise<BsdiffStreams> {
  const head = new Uint8Array(32);
  {
    using file = await Deno.open(path, { read: true });
    let filled = 0;
    while (filled < 32) {
      const n = await file.read(head.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled < 32 || new TextDecoder().decode(head.subarray(0, 8)) !== "BSDIFF40") {
      throw new Error(`File ${path} is not a BSDIFF40 patch`);
    }
  }
  const size = (await Deno.stat(path)).size;
  const ctrlLength = offtin(head, 8);
  const diffLength = offtin(head, 16);
  const newSize = offtin(head, 24);
  if (ctrlLength < 0 || diffLength < 0 || newSize < 0 || 32 + ctrlLength + diffLength > size) {
    throw new Error(`BSDIFF40 patch ${path} has an invalid header`);
  }
  const spans: [string, number, number][] = [
    ["control", 32, ctrlLength],
    ["diff", 32 + ctrlLength, diffLength],
    ["extra", 32 + ctrlLength + diffLength, size - 32 - ctrlLength - diffLength],
  ];
  const children: { name: string; child: Deno.ChildProcess; reader: StreamReader }[] = [];
  try {
    for (const [name, start, length] of spans) {
      const child = spawn("bzip2", ["-dc"], { stdin: "piped", stdout: "piped" });
      (await region(path, start, length)).pipeTo(child.stdin).catch(() => {});
      children.push({ name, child, reader: new StreamReader(child.stdout, `${name} of ${path}`) });
    }
  } catch (error) {
    for (const { child, reader } of children) await stop(child, reader);
    throw error;
  }
  const [ctrl, diff, extra] = children.map((c) => c.reader);
  return {
    newSize,
    async next() {
      if (await ctrl.atEnd()) return null;
      const bytes = await ctrl.read(24);
      return [offtin(bytes, 0), offtin(bytes, 8), offtin(bytes, 16)];
    },
    diff,
    extra,
    async close() {
      const problems: string[] = [];
      for (const { name, child, reader } of children) {
        if (!(await reader.atEnd().catch(() => false))) {
          problems.push(`its ${name} stream has bytes no control entry uses`);
          await stop(child, reader);
          continue;
        }
        const stderr = await new Response(child.stderr).text().catch(() => "");
        if (!(await child.status).success) {
          problems.push(`bzip2 failed on its ${name} stream: ${stderr.trim()}`);
        }
      }
      if (problems.length > 0) {
        throw new Error(`BSDIFF40 patch ${path} cannot be converted: ${problems.join("; ")}`);
      }
    },
    async abort() {
      for (const { child, reader } of children) await stop(child, reader);
    },
  };
}
