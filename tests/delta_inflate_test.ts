// The rebuild's zstd decoder (lib/delta/_inflate.ts): straight into the caller's memory through
// node:zlib's handle, or the one-shot call and a copy; both give the same bytes and the same
// refusals, frames with and without their content size, into WebAssembly memory.
import assert from "node:assert/strict";
import { constants, zstdCompress, type ZstdOptions } from "node:zlib";
import { DeltaError } from "../lib/delta/errors.ts";
import { Inflater } from "../lib/delta/_inflate.ts";
import { pseudoRandom } from "./_helpers.ts";
import { zstd } from "./_delta.ts";

/** A frame that says its content size (as the publisher writes them), level 19. */
function sized(data: Uint8Array): Promise<Uint8Array> {
  // Node's option, not in @types/node's ZstdOptions yet.
  const options: ZstdOptions & { pledgedSrcSize: number } = {
    pledgedSrcSize: data.length,
    params: { [constants.ZSTD_c_compressionLevel]: 19, [constants.ZSTD_c_checksumFlag]: 1 },
  };
  return new Promise((resolve, reject) =>
    zstdCompress(data, options, (error, out) => error ? reject(error) : resolve(out))
  );
}

/** What inflating `frame` into `room` bytes gives: the bytes, or the refusal's reason and text. */
function outcome(engine: "handle" | "copy", frame: Uint8Array, room: number) {
  const inflater = new Inflater(engine);
  const memory = new Uint8Array(new WebAssembly.Memory({ initial: 64 }).buffer);
  const into = memory.subarray(1000, 1000 + room);
  try {
    inflater.inflate(frame, into, { label: "p", what: "block 1" });
    return { bytes: Array.from(into) };
  } catch (error) {
    assert.ok(error instanceof DeltaError);
    return { reason: error.reason, message: error.message };
  } finally {
    inflater.close();
  }
}

Deno.test("the handle and the copy agree: bytes, bombs, short and corrupt frames", async () => {
  assert.equal(new Inflater().engine, "handle");
  assert.equal(new Inflater("copy").engine, "copy");
  const data = new Uint8Array(300_000);
  data.set(pseudoRandom(50_000, 7), 100_000);
  const plain = zstd(data);
  const withSize = await sized(data);
  const flipped = Uint8Array.from(plain);
  flipped[flipped.length - 2] ^= 0xff;
  const bomb = zstd(new Uint8Array(16 * 1024 * 1024), 1);
  const cases: [string, Uint8Array, number, RegExp | null][] = [
    ["a frame without its content size", plain, data.length, null],
    ["a frame with it", withSize, data.length, null],
    [
      "more than the room",
      plain,
      data.length - 1,
      /block 1 decompresses to more than its declared 299999 bytes$/,
    ],
    [
      "a sized frame, more than the room",
      withSize,
      data.length - 1,
      /more than its declared 299999 bytes$/,
    ],
    ["a bomb", bomb, 4034, /block 1 decompresses to more than its declared 4034 bytes$/],
    [
      "less than the room",
      plain,
      data.length + 5,
      /block 1 decompresses to 300000 bytes, its header says 300005$/,
    ],
    [
      "a sized frame, less than the room",
      withSize,
      data.length + 5,
      /decompresses to 300000 bytes, its header says 300005$/,
    ],
    [
      "a checksum that does not match",
      flipped,
      data.length,
      /block 1 is not valid zstd data \(.+\)$/,
    ],
    ["not zstd at all", new Uint8Array(64).fill(9), 10, /block 1 is not valid zstd data \(.+\)$/],
  ];
  for (const [name, frame, room, refused] of cases) {
    const handle = outcome("handle", frame, room);
    const copy = outcome("copy", frame, room);
    if (refused === null) {
      assert.deepEqual(handle.bytes, Array.from(data), name);
      assert.deepEqual(copy.bytes, Array.from(data), name);
      continue;
    }
    for (const got of [handle, copy]) {
      assert.equal(got.bytes, undefined, `${name}: not refused`);
      assert.match(got.message!, refused, name);
    }
    assert.equal(handle.reason, copy.reason, name);
  }
});

Deno.test("one decoder serves frame after frame, also after a refusal", () => {
  const inflater = new Inflater();
  const into = new Uint8Array(1000);
  for (let i = 0; i < 5; i++) {
    inflater.inflate(zstd(new Uint8Array(1000).fill(i)), into, { label: "p", what: `block ${i}` });
    assert.equal(into[999], i);
    assert.throws(
      () => inflater.inflate(zstd(new Uint8Array(2000)), into, { label: "p", what: "block x" }),
      /block x decompresses to more than its declared 1000 bytes$/,
    );
  }
  inflater.close();
});
