// Helpers of the delta tests: whether Debian's bsdiff is here, hand-made (hostile) binary
// patches and folder deltas written byte by byte, and folder listings to compare builds.
import assert from "node:assert/strict";
import { constants, zstdCompressSync } from "node:zlib";
import { DeltaError, type DeltaReason } from "../lib/delta/errors.ts";
import { encodeBlockHeader, encodeHeader, writeInt64 } from "../lib/delta/_wire.ts";
import { FOLDER_MAGIC_V1 } from "../lib/delta/_folder_index.ts";
import { sparseDiff } from "../lib/delta/_encode.ts";
import { sha256 } from "./_helpers.ts";

/** Whether `bsdiff` and `bzip2` run here (CI installs them: .ci/run). */
export const HAVE_BSDIFF = ["bsdiff", "bzip2"].every((program) => {
  try {
    new Deno.Command(program, { args: ["--help"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
});

/** The time bound of one delta test (they take well under a second to a few seconds). */
export const DELTA_TIMEOUT_MS = 60_000;

/** zstd-compress with a checksum, as the publisher does. */
export function zstd(data: Uint8Array, level = 3): Uint8Array {
  return zstdCompressSync(data, {
    params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_checksumFlag]: 1 },
  });
}

/** One block of a hand-made patch. */
export interface CraftBlock {
  /** Control entries (copy, extra, seek). */
  entries: [number, number, number][];
  /** Diff bytes, expanded (default: zeros, as many as the entries copy). */
  diff?: Uint8Array;
  /** Extra bytes (default: "x", as many as the entries need). */
  extra?: Uint8Array;
  /** Override the block header's counts to lie about the content. */
  header?: Partial<{ entries: number; diff: number; extra: number; chunks: number }>;
  /** Use this frame instead of compressing the content. */
  frame?: Uint8Array;
  /** Write the control values as raw i64 words (to put values beyond 2^53 in them). */
  rawControl?: bigint[];
}

/** A hand-made binary patch, byte by byte. */
export function craftPatch(spec: {
  oldSize: number;
  newSize: number;
  oldSha256?: string;
  newSha256: string;
  blocks: CraftBlock[];
  blockCount?: number;
}): Uint8Array {
  const parts: Uint8Array[] = [encodeHeader({
    oldSize: spec.oldSize,
    newSize: spec.newSize,
    blocks: spec.blockCount ?? spec.blocks.length,
    oldSha256: spec.oldSha256 ?? sha256(""),
    newSha256: spec.newSha256,
  })];
  for (const block of spec.blocks) {
    const copy = block.entries.reduce((n, [c]) => n + Math.max(0, c), 0);
    const extraLength = block.entries.reduce((n, [, e]) => n + Math.max(0, e), 0);
    const diff = block.diff ?? new Uint8Array(copy);
    const extra = block.extra ?? new Uint8Array(extraLength).fill(0x78);
    const ctrl = new Uint8Array(block.entries.length * 24);
    const view = new DataView(ctrl.buffer);
    if (block.rawControl) {
      block.rawControl.forEach((v, i) => view.setBigInt64(i * 8, v, true));
    } else block.entries.flat().forEach((v, i) => writeInt64(view, i * 8, v));
    const { bitmap, chunks } = sparseDiff(diff);
    const raw = concat([ctrl, bitmap, chunks, extra]);
    const frame = block.frame ?? zstd(raw);
    parts.push(encodeBlockHeader({
      entries: block.header?.entries ?? block.entries.length,
      diff: block.header?.diff ?? diff.length,
      extra: block.header?.extra ?? extra.length,
      chunks: block.header?.chunks ?? chunks.length / 16,
      frame: frame.length,
    }));
    parts.push(frame);
  }
  return concat(parts);
}

/** The bytes of `parts`, one after the other. */
export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A hand-made folder delta: an index (any JSON value) and the blob area after it, behind `magic`
 * (default MS11FDZ1, the first format).
 */
export function craftFolderDelta(
  index: unknown,
  blobs: Uint8Array = new Uint8Array(0),
  magic: string = FOLDER_MAGIC_V1,
) {
  const json = new TextEncoder().encode(JSON.stringify(index));
  const frame = zstd(json);
  const head = new Uint8Array(16);
  head.set(new TextEncoder().encode(magic));
  new DataView(head.buffer).setUint32(8, frame.length, true);
  new DataView(head.buffer).setUint32(12, json.length, true);
  return concat([head, frame, blobs]);
}

/** Assert `promise` rejects with a DeltaError of `reason` whose message matches `message`. */
export async function rejectsDelta(
  promise: Promise<unknown>,
  reason: DeltaReason,
  message: string | RegExp,
): Promise<DeltaError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  assert.ok(error instanceof DeltaError, `expected a DeltaError, got ${error}`);
  assert.equal(error.reason, reason, error.message);
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
  assert.ok(!error.message.endsWith("."), "no final period");
  assert.ok(!error.message.includes("\n"), "one line");
  return error;
}

/** Everything under `dir`: path → "d 755", "f 644 <sha256>", "l <target>"; sorted. */
export async function describeTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for await (const entry of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const info = await Deno.lstat(`${dir}/${path}`);
      const mode = (info.mode! & 0o7777).toString(8);
      if (info.isSymlink) out.push(`${path} l ${await Deno.readLink(`${dir}/${path}`)}`);
      else if (info.isDirectory) {
        out.push(`${path} d ${mode}`);
        await walk(path);
      } else out.push(`${path} f ${mode} ${sha256(await Deno.readFile(`${dir}/${path}`))}`);
    }
  }
  await walk("");
  return out.sort();
}

/** A file's content for a test: lines that name it, so that files differ but compress well. */
export function textOf(name: string, lines = 200): string {
  let text = "";
  for (let i = 0; i < lines; i++) text += `${name}: line ${i} of a build file\n`;
  return text;
}

/** Write a tree of `files` (path → text, or `{link}` for a symlink) under `dir`. */
export async function writeTree(
  dir: string,
  files: Record<
    string,
    string | { link: string } | { dir: number } | { mode: number; text: string }
  >,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [path, spec] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    if (typeof spec === "string") await Deno.writeTextFile(full, spec);
    else if ("link" in spec) await Deno.symlink(spec.link, full);
    else if ("dir" in spec) {
      await Deno.mkdir(full, { recursive: true });
      await Deno.chmod(full, spec.dir);
    } else {
      await Deno.writeTextFile(full, spec.text);
      await Deno.chmod(full, spec.mode);
    }
  }
}
