// Private: the two hot loops of applying a binary patch, and the memory they work in: expanding
// the diff bytes (stored as the 16-byte chunks that are not all zeros, and a bitmap of which), and
// out[i] = (old[i] + diff[i]) mod 256 over every byte copied from the old file.
//
// The executable runs with V8's optimizing compilers off (--no-opt, --no-maglev: see
// docs/PERFORMANCE.md), where a TypeScript byte loop adds 96 MiB in 3.3 s (0.75 s four bytes at a
// time). A WebAssembly module of 283 bytes, compiled by V8's own baseline compiler whatever
// the JavaScript flags, does it in 7 ms with 16-byte SIMD adds. WebAssembly is part of the
// runtime (no native module, nothing loaded from disk), and its bytes are written out below with
// the instructions they encode. Where WebAssembly is unavailable (V8's --jitless) the TypeScript
// loop is used instead, with the same results.

/**
 * The module, in the text format:
 *
 * ```wat
 * (module
 *   (memory (export "memory") 1)
 *   (func (export "add") (param $dst i32) (param $a i32) (param $b i32) (param $n i32)
 *     (block (loop                                    ;; 16 bytes at a time
 *       (br_if 1 (i32.lt_u (local.get $n) (i32.const 16)))
 *       (v128.store (local.get $dst)
 *         (i8x16.add (v128.load (local.get $a)) (v128.load (local.get $b))))
 *       (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
 *       (local.set $a (i32.add (local.get $a) (i32.const 16)))
 *       (local.set $b (i32.add (local.get $b) (i32.const 16)))
 *       (local.set $n (i32.sub (local.get $n) (i32.const 16)))
 *       (br 0)))
 *     (block (loop                                    ;; the last 0-15 bytes
 *       (br_if 1 (i32.eqz (local.get $n)))
 *       (i32.store8 (local.get $dst)
 *         (i32.add (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
 *       (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
 *       (local.set $a (i32.add (local.get $a) (i32.const 1)))
 *       (local.set $b (i32.add (local.get $b) (i32.const 1)))
 *       (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *       (br 0))))
 *   (func (export "expand") (param $dst i32) (param $bits i32) (param $src i32) (param $n i32)
 *     (local $i i32)
 *     (block (loop                                    ;; one 16-byte chunk at a time
 *       (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
 *       (if (i32.and (i32.load8_u (i32.add (local.get $bits) (i32.shr_u (local.get $i) (i32.const 3))))
 *                    (i32.shl (i32.const 1) (i32.and (local.get $i) (i32.const 7))))
 *         (then (v128.store (local.get $dst) (v128.load (local.get $src)))
 *               (local.set $src (i32.add (local.get $src) (i32.const 16))))
 *         (else (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))))
 *       (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
 *       (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *       (br 0))))
 * ```
 */
// deno-fmt-ignore
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, // type section: (i32 i32 i32 i32) -> ()
  0x03, 0x03, 0x02, 0x00, 0x00, // function section: two functions of type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, at least 1 page
  0x07, 0x19, 0x03, // export section, 3 exports:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, //   "memory" = memory 0
  0x03, 0x61, 0x64, 0x64, 0x00, 0x00, //   "add" = function 0
  0x06, 0x65, 0x78, 0x70, 0x61, 0x6e, 0x64, 0x00, 0x01, //   "expand" = function 1
  0x0a, 0xe1, 0x01, 0x02, // code section, two bodies
  0x7a, // add: 122 bytes
  0x00, // no locals
  0x02, 0x40, 0x03, 0x40, // block, loop: 16 bytes at a time
  0x20, 0x03, 0x41, 0x10, 0x49, 0x0d, 0x01, // br_if 1 (n < 16)
  0x20, 0x00, // dst (store address)
  0x20, 0x01, 0xfd, 0x00, 0x00, 0x00, // v128.load a
  0x20, 0x02, 0xfd, 0x00, 0x00, 0x00, // v128.load b
  0xfd, 0x6e, 0xfd, 0x0b, 0x00, 0x00, // i8x16.add, v128.store
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // dst += 16
  0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // a += 16
  0x20, 0x02, 0x41, 0x10, 0x6a, 0x21, 0x02, // b += 16
  0x20, 0x03, 0x41, 0x10, 0x6b, 0x21, 0x03, // n -= 16
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x02, 0x40, 0x03, 0x40, // block, loop: the last 0-15 bytes
  0x20, 0x03, 0x45, 0x0d, 0x01, // br_if 1 (n == 0)
  0x20, 0x00, // dst (store address)
  0x20, 0x01, 0x2d, 0x00, 0x00, // i32.load8_u a
  0x20, 0x02, 0x2d, 0x00, 0x00, // i32.load8_u b
  0x6a, 0x3a, 0x00, 0x00, // i32.add, i32.store8
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, // dst += 1
  0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // a += 1
  0x20, 0x02, 0x41, 0x01, 0x6a, 0x21, 0x02, // b += 1
  0x20, 0x03, 0x41, 0x01, 0x6b, 0x21, 0x03, // n -= 1
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x0b, // end function
  0x64, // expand: 100 bytes
  0x01, 0x01, 0x7f, // one local: $i i32
  0x02, 0x40, 0x03, 0x40, // block, loop: one 16-byte chunk at a time
  0x20, 0x04, 0x20, 0x03, 0x4f, 0x0d, 0x01, // br_if 1 (i >= n)
  0x20, 0x01, 0x20, 0x04, 0x41, 0x03, 0x76, 0x6a, 0x2d, 0x00, 0x00, // i32.load8_u (bits + (i >> 3))
  0x41, 0x01, 0x20, 0x04, 0x41, 0x07, 0x71, 0x74, 0x71, // and (1 << (i & 7))
  0x04, 0x40, // if: the chunk is stored
  0x20, 0x00, 0x20, 0x02, 0xfd, 0x00, 0x00, 0x00, 0xfd, 0x0b, 0x00, 0x00, // v128.store dst (v128.load src)
  0x20, 0x02, 0x41, 0x10, 0x6a, 0x21, 0x02, // src += 16
  0x05, // else: the chunk is zeros
  0x20, 0x00, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x0b, 0x00, 0x00, // v128.store dst (v128.const 0)
  0x0b, // end if
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // dst += 16
  0x20, 0x04, 0x41, 0x01, 0x6a, 0x21, 0x04, // i += 1
  0x0c, 0x00, 0x0b, 0x0b, // br 0, end loop, end block
  0x0b, // end function
]);

/** Bytes of a WebAssembly page. */
const PAGE = 65536;

/**
 * Memory and an adder working in it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Kernel, kernel } from "./_kernel.ts";
 * const k: Kernel = kernel(65536);
 * assert.equal(k.bytes.length, 65536);
 * ```
 */
export interface Kernel {
  /** The working memory (never resized, so this view stays valid). */
  bytes: Uint8Array;
  /** `bytes[dst + i] = bytes[a + i] + bytes[b + i]` (mod 256) for `i < n`. */
  add(dst: number, a: number, b: number, n: number): void;
  /**
   * Write `n` 16-byte chunks at `dst`: chunk `i` is the next 16 bytes from `src` when bit `i` of
   * the bitmap at `bits` is set (bit `i & 7` of byte `i >> 3`), else zeros.
   */
  expand(dst: number, bits: number, src: number, n: number): void;
  /** Which implementation runs: "wasm" or "typescript". */
  engine: "wasm" | "typescript";
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly is unavailable or refuses it. */
function module(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = typeof WebAssembly === "object" ? new WebAssembly.Module(MODULE) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The TypeScript adder: four bytes at a time where the offsets allow, else one. */
function addTs(bytes: Uint8Array, dst: number, a: number, b: number, n: number): void {
  let i = 0;
  if (
    (bytes.byteOffset + dst) % 4 === 0 && (bytes.byteOffset + a) % 4 === 0 &&
    (bytes.byteOffset + b) % 4 === 0
  ) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    const d = dst >>> 2;
    const x = a >>> 2;
    const y = b >>> 2;
    const count = n >>> 2;
    for (let w = 0; w < count; w++) {
      const p = words[x + w];
      const q = words[y + w];
      // Four independent byte additions: add the low 7 bits, then fix up the top bits.
      words[d + w] = ((p & 0x7f7f7f7f) + (q & 0x7f7f7f7f)) ^ ((p ^ q) & 0x80808080);
    }
    i = count * 4;
  }
  for (; i < n; i++) bytes[dst + i] = bytes[a + i] + bytes[b + i];
}

/** The TypeScript expander. */
function expandTs(bytes: Uint8Array, dst: number, bits: number, src: number, n: number): void {
  for (let i = 0; i < n; i++, dst += 16) {
    if (bytes[bits + (i >>> 3)] & (1 << (i & 7))) {
      bytes.copyWithin(dst, src, src + 16);
      src += 16;
    } else bytes.fill(0, dst, dst + 16);
  }
}

/**
 * A kernel with `size` bytes of working memory (rounded up to 64 KiB). `engine` forces an
 * implementation (tests compare them); by default WebAssembly when available.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernel } from "./_kernel.ts";
 * const k = kernel(1024);
 * k.bytes.set([250, 1, 2], 0);
 * k.bytes.set([10, 1, 1], 100);
 * k.add(200, 0, 100, 3);
 * assert.deepEqual([...k.bytes.subarray(200, 203)], [4, 2, 3]);
 * k.bytes[300] = 0b10; // of two chunks, the second is stored (at 400)
 * k.bytes.fill(7, 400, 416);
 * k.expand(500, 300, 400, 2);
 * assert.deepEqual([...k.bytes.subarray(500, 532)], [...new Array(16).fill(0), ...new Array(16).fill(7)]);
 * assert.equal(k.engine, "wasm");
 * ```
 */
export function kernel(size: number, engine?: "wasm" | "typescript"): Kernel {
  const wasm = engine === "typescript" ? null : module();
  if (wasm === null) {
    if (engine === "wasm") throw new Error("WebAssembly is not available in this runtime");
    const bytes = new Uint8Array(Math.ceil(size / PAGE) * PAGE);
    return {
      bytes,
      add: (dst, a, b, n) => addTs(bytes, dst, a, b, n),
      expand: (dst, bits, src, n) => expandTs(bytes, dst, bits, src, n),
      engine: "typescript",
    };
  }
  const instance = new WebAssembly.Instance(wasm);
  const memory = instance.exports.memory as WebAssembly.Memory;
  memory.grow(Math.max(0, Math.ceil(size / PAGE) - 1));
  type Four = (w: number, x: number, y: number, z: number) => void;
  const add = instance.exports.add as Four;
  const expand = instance.exports.expand as Four;
  return { bytes: new Uint8Array(memory.buffer), add, expand, engine: "wasm" };
}
