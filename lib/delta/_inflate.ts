// Private: one zstd frame decoded into memory the caller owns (the rebuild's working area), so
// that decoding a patch allocates nothing per block.
//
// node:zlib's one-shot zstdDecompressSync returns every frame as a new buffer (built from 16 KiB
// pieces, then joined), which V8 frees only at a full collection: decoding the Deno patch's 12
// blocks that way kept tens of MiB waiting (docs/DELTA.md, "Measured"). The zlib handle under
// node:zlib's streams (the object Node's own streams drive, `writeSync(flush, input, inOffset,
// inLength, output, outOffset, outLength)`, its counts left in `_writeState`) writes into any
// Uint8Array, the WebAssembly memory included. Given the whole frame and room for its content,
// zstd decodes it in one pass straight into that room, without its streaming window. Where the
// handle is not there (another runtime), the one-shot call is used and its result copied in: the
// same bytes, the same refusals.
import { constants, createZstdDecompress, zstdDecompressSync } from "node:zlib";
import { DeltaError } from "./errors.ts";
import { WINDOW_LOG_MAX } from "./_wire.ts";

/** The zlib handle's methods used here (Node's internal binding, also Deno's). */
interface ZstdHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOffset: number,
    inLength: number,
    output: Uint8Array,
    outOffset: number,
    outLength: number,
  ): void;
  reset(): void;
  close(): void;
}

/** The decoder's options: zstd's window capped at 8 MiB, so a frame cannot make it allocate more. */
const DECODER_OPTIONS = { params: { [constants.ZSTD_d_windowLogMax]: WINDOW_LOG_MAX } };

/** The handle and its counts array, or null where the runtime's node:zlib has neither. */
function openHandle(): { handle: ZstdHandle; state: Uint32Array } | null {
  try {
    const stream = createZstdDecompress(DECODER_OPTIONS) as unknown as {
      _handle?: Partial<ZstdHandle>;
      _writeState?: unknown;
    };
    const handle = stream._handle;
    const state = stream._writeState;
    if (
      typeof handle?.writeSync !== "function" || typeof handle.reset !== "function" ||
      typeof handle.close !== "function" || !(state instanceof Uint32Array) || state.length < 2
    ) {
      return null;
    }
    return { handle: handle as ZstdHandle, state };
  } catch {
    return null;
  }
}

/**
 * Decompress one zstd frame to exactly `raw` bytes (window at most 8 MiB), as a new buffer; `what`
 * names it in messages ("block 3", "index").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * import { inflateExact } from "./_inflate.ts";
 * const frame = zstdCompressSync(new Uint8Array(1000));
 * assert.equal(inflateExact("d", "index", frame, 1000).length, 1000);
 * assert.throws(() => inflateExact("d", "index", frame, 999), /index decompresses to more than its declared 999 bytes$/);
 * ```
 */
export function inflateExact(
  label: string,
  what: string,
  frame: Uint8Array,
  raw: number,
): Uint8Array {
  let out: Uint8Array;
  try {
    out = zstdDecompressSync(frame, { ...DECODER_OPTIONS, maxOutputLength: raw });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_BUFFER_TOO_LARGE") throw tooLarge({ label, what }, raw, error);
    throw invalid({ label, what }, error);
  }
  if (out.length !== raw) throw short({ label, what }, { got: out.length, raw });
  return out;
}

/** Which frame a message names: the patch (or blob) and the frame in it ("block 3", "index"). */
interface FrameName {
  label: string;
  what: string;
}

function tooLarge(name: FrameName, raw: number, cause?: unknown): DeltaError {
  return new DeltaError(
    name.label,
    "unsafe",
    `${name.what} decompresses to more than its declared ${raw} bytes`,
    cause === undefined ? undefined : { cause },
  );
}

function invalid(name: FrameName, cause: unknown): DeltaError {
  return new DeltaError(
    name.label,
    "corrupt",
    `${name.what} is not valid zstd data (${(cause as Error).message})`,
    { cause },
  );
}

function short(name: FrameName, sizes: { got: number; raw: number }): DeltaError {
  return new DeltaError(
    name.label,
    "corrupt",
    `${name.what} decompresses to ${sizes.got} bytes, its header says ${sizes.raw}`,
  );
}

/**
 * A zstd decoder that writes each frame into a region the caller gives, exactly filling it.
 * One decoder serves many frames in turn; {@linkcode Inflater.close} frees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zstdCompressSync } from "node:zlib";
 * import { Inflater } from "./_inflate.ts";
 * const inflater = new Inflater();
 * const into = new Uint8Array(1000);
 * inflater.inflate(zstdCompressSync(new Uint8Array(1000).fill(7)), into, { label: "d", what: "block 1" });
 * assert.equal(into[999], 7);
 * assert.throws(
 *   () => inflater.inflate(zstdCompressSync(new Uint8Array(1001)), into, { label: "d", what: "block 2" }),
 *   /block 2 decompresses to more than its declared 1000 bytes$/,
 * );
 * inflater.close();
 * ```
 */
export class Inflater {
  /** The handle once opened; null: the one-shot call and a copy. */
  #open: { handle: ZstdHandle; state: Uint32Array } | null | undefined;
  #forced: boolean;
  #used = false;
  #probe = new Uint8Array(1);

  /**
   * `engine` "copy" forces the one-shot call and a copy (tests compare the two); by default the
   * handle where the runtime has it.
   */
  constructor(engine?: "handle" | "copy") {
    this.#forced = engine === "copy";
    this.#open = this.#forced ? null : undefined;
  }

  /** Which implementation runs: "handle" (straight into the region) or "copy". */
  get engine(): "handle" | "copy" {
    if (this.#open === undefined) this.#open = openHandle();
    return this.#open === null ? "copy" : "handle";
  }

  /**
   * Decode `frame` into `into`, which it must fill exactly; refused with a {@linkcode DeltaError}
   * naming `name.label` and `name.what`: more output than `into` holds (`unsafe`), less, or data
   * zstd refuses (`corrupt`). On a refusal `into` holds whatever was decoded.
   */
  inflate(frame: Uint8Array, into: Uint8Array, name: FrameName): void {
    if (this.engine === "copy") {
      into.set(inflateExact(name.label, name.what, frame, into.length));
      return;
    }
    const { handle, state } = this.#open!;
    const raw = into.length;
    let consumed = 0;
    let produced = 0;
    try {
      if (this.#used) handle.reset();
      this.#used = true;
      // One call decodes a whole frame that fits; the loop is for a decoder that stops early.
      while (produced < raw) {
        const inLength = frame.length - consumed;
        const outLength = raw - produced;
        handle.writeSync(
          constants.ZSTD_e_continue,
          frame,
          consumed,
          inLength,
          into,
          produced,
          outLength,
        );
        const used = inLength - state[1];
        const made = outLength - state[0];
        consumed += used;
        produced += made;
        if (used === 0 && made === 0) break;
      }
      if (produced === raw) {
        // Room is full: one byte more, from the input left or what the decoder holds, is a frame
        // that expands past what its block declares.
        const inLength = frame.length - consumed;
        handle.writeSync(constants.ZSTD_e_continue, frame, consumed, inLength, this.#probe, 0, 1);
        if (state[0] === 0) throw tooLarge(name, raw);
      }
    } catch (error) {
      if (error instanceof DeltaError) throw error;
      throw invalid(name, error);
    }
    if (produced !== raw) throw short(name, { got: produced, raw });
  }

  /** Free the decoder (a later {@linkcode Inflater.inflate} opens another). */
  close(): void {
    if (this.#open) {
      try {
        this.#open.handle.close();
      } catch {
        // already closed
      }
      this.#open = this.#forced ? null : undefined;
      this.#used = false;
    }
  }
}
