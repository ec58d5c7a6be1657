// Private: the one hot loop of applying a binary patch, out[i] = (old[i] + diff[i]) mod 256 over
// every byte of the new file, and the memory it works in.
//
// The executable runs with V8's optimizing compilers off (--no-opt, --no-maglev: see
// docs/PERFORMANCE.md), where a TypeScript byte loop adds 96 MiB in 3.3 s (0.75 s four bytes at a
// time). A WebAssembly module of 171 bytes, compiled by V8's own baseline compiler whatever
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
 *       (br 0)))))
 * ```
 */
// deno-fmt-ignore
const ADD_MODULE = new Uint8Array([
0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, // type section: (i32 i32 i32 i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, at least 1 page
  0x07, 0x10, 0x02, // export section, 2 exports:
  0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, //   "memory" = memory 0
  0x03, 0x61, 0x64, 0x64, 0x00, 0x00, //   "add" = function 0
  0x0a, 0x7c, 0x01, 0x7a, // code section: one body of 122 bytes
  0x00, // no locals
  0x02, 0x40, 0x03, 0x40, // block, loop (16 bytes at a time)
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
  0x02, 0x40, 0x03, 0x40, // block, loop (the last 0-15 bytes)
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
  /** Which implementation runs: "wasm" or "typescript". */
  engine: "wasm" | "typescript";
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, or null where WebAssembly is unavailable or refuses it. */
function module(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = typeof WebAssembly === "object" ? new WebAssembly.Module(ADD_MODULE) : null;
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
 * assert.equal(k.engine, "wasm");
 * ```
 */
export function kernel(size: number, engine?: "wasm" | "typescript"): Kernel {
  const wasm = engine === "typescript" ? null : module();
  if (wasm === null) {
    if (engine === "wasm") throw new Error("WebAssembly is not available in this runtime");
    const bytes = new Uint8Array(Math.ceil(size / PAGE) * PAGE);
    return { bytes, add: (dst, a, b, n) => addTs(bytes, dst, a, b, n), engine: "typescript" };
  }
  const instance = new WebAssembly.Instance(wasm);
  const memory = instance.exports.memory as WebAssembly.Memory;
  memory.grow(Math.max(0, Math.ceil(size / PAGE) - 1));
  const add = instance.exports.add as (dst: number, a: number, b: number, n: number) => void;
  return { bytes: new Uint8Array(memory.buffer), add, engine: "wasm" };
}
