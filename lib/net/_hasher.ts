/**
 * The running SHA-256 of a download, computed off the thread that reads the network (private to
 * lib/net): a Web Worker (its source inlined here, so that a bundle or a compiled executable
 * carries it) is handed each chunk once it is written, by transfer (no copy), and hands the buffer
 * back for the next read. Reading, writing and hashing then run at once on three threads instead
 * of the hash taking its turn on the reading one (SHA-256 of 1 GiB takes about 0.55 s here).
 *
 * Memory is bounded: the hasher owns a pool of read buffers, at most `maxQueued` of them queued at
 * the worker, and {@linkcode ChunkHasher.buffer} waits for one to come back when the worker is
 * behind (backpressure on the reads). Where a worker cannot start (none in this runtime, or its
 * module fails to load), the same interface hashes on the calling thread, as before.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/** Size of each pooled buffer: 1 MiB (reads are as large as what has arrived, about 0.5 MiB). */
const DEFAULT_BUFFER_SIZE = 1024 * 1024;
/** Chunks queued at the worker at most before reads wait for one to be hashed. */
const DEFAULT_MAX_QUEUED = 4;
/** How long the worker may take to start before hashing stays on this thread. */
const START_TIMEOUT_MS = 10_000;

/**
 * The worker: one `node:crypto` hash, fed by `update` messages in order; `digest` answers the
 * digest so far (the hash goes on), `reset` starts a new one. It says `ready` once it can hash, or
 * `failed`; a failure while hashing is an `error` message (never an uncaught error: those are
 * printed). A module of its own would not be in a bundle; this text is.
 */
const WORKER_SOURCE = `const say = (op, error) =>
  self.postMessage({ op, message: String(error?.message ?? error) });
let createHash;
try {
  ({ createHash } = await import("node:crypto"));
} catch (error) {
  say("failed", error);
}
if (createHash !== undefined) {
  let hash = createHash("sha256");
  self.onmessage = (event) => {
    const m = event.data;
    try {
      if (m.op === "update") {
        hash.update(new Uint8Array(m.buffer, 0, m.length));
        self.postMessage({ op: "buffer", buffer: m.buffer, pooled: m.pooled }, [m.buffer]);
      } else if (m.op === "digest") {
        self.postMessage({ op: "digest", hex: hash.copy().digest("hex") });
      } else if (m.op === "reset") {
        hash = createHash("sha256");
      }
    } catch (error) {
      say("error", error);
    }
  };
  self.postMessage({ op: "ready" });
}
`;

/**
 * Options of {@linkcode startHasher}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type HasherOptions, startHasher } from "./_hasher.ts";
 * const options: HasherOptions = { bufferSize: 64, maxQueued: 2, worker: false };
 * const hasher = startHasher(options);
 * assert.equal(await hasher.started(), false);
 * hasher.close();
 * ```
 */
export interface HasherOptions {
  /** Size of each pooled buffer, in bytes (default 1 MiB). */
  bufferSize?: number;
  /** Chunks queued at the worker at most (default 4). */
  maxQueued?: number;
  /** Try a worker (default true); false hashes on this thread. */
  worker?: boolean;
  /** The worker's module text (default: the one above); tests give a broken one. */
  workerSource?: string;
}

/**
 * Start a {@linkcode ChunkHasher}. Its worker starts meanwhile (tens of milliseconds, on its own
 * thread): chunks given before it is ready wait for it (`maxQueued` at most), and are hashed on
 * this thread if it cannot start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHasher } from "./_hasher.ts";
 * const hasher = startHasher();
 * const buffer = await hasher.buffer();
 * const n = new TextEncoder().encodeInto("abc", buffer).written;
 * hasher.update(buffer.subarray(0, n), { owned: true }); // the buffer is the hasher's again
 * assert.equal(await hasher.digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * hasher.close();
 * ```
 */
export function startHasher(options: HasherOptions = {}): ChunkHasher {
  return new ChunkHasher(options);
}

/** What the worker says. */
type WorkerMessage = {
  op: "ready" | "failed" | "error" | "buffer" | "digest";
  buffer?: ArrayBuffer;
  pooled?: boolean;
  hex?: string;
  message?: string;
};

/** A chunk for the worker: its buffer (moved there), its length, whether it is a pooled one. */
type Job = { buffer: ArrayBuffer; length: number; pooled: boolean };

type Waiter<T> = { resolve: (value: T) => void; reject: (error: unknown) => void };

/**
 * A running SHA-256 fed chunk by chunk, with the pool of buffers the chunks are read into. Make
 * one with {@linkcode startHasher}; `close` it (a worker is terminated).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startHasher } from "./_hasher.ts";
 * const hasher = startHasher({ worker: false });
 * hasher.update(new TextEncoder().encode("ab"));
 * hasher.update(new TextEncoder().encode("c")); // not a pooled buffer: hashed where it is
 * assert.equal(await hasher.digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * hasher.reset();
 * assert.equal(await hasher.digest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
 * hasher.close();
 * ```
 */
export class ChunkHasher {
  #bufferSize: number;
  #maxQueued: number;
  /** The worker, once ready; null while it starts, and when hashing is on this thread. */
  #worker: Worker | null = null;
  /** Settles once the worker is ready (true) or hashing stays here (false). */
  #starting: Promise<boolean>;
  /** What is given while the worker starts, in order (jobs, and null for a reset). */
  #held: (Job | null)[] | null = null;
  #hash: Hash = createHash("sha256");
  #free: Uint8Array<ArrayBuffer>[] = [];
  /** Chunks given to the worker (or held for it) and not hashed yet. */
  #queued = 0;
  /** Pooled buffers made and not dropped. */
  #made = 0;
  #bufferWaiters: Waiter<Uint8Array<ArrayBuffer>>[] = [];
  #digestWaiters: Waiter<string>[] = [];
  #failure: Error | null = null;
  #closed = false;
  /** Ends the wait for the worker (closed meanwhile). */
  #stopStart: (() => void) | null = null;

  /** @param options see {@linkcode HasherOptions} */
  constructor(options: HasherOptions = {}) {
    this.#bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    for (
      const [name, value] of [["bufferSize", this.#bufferSize], ["maxQueued", this.#maxQueued]]
    ) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        throw new RangeError(`Hasher option ${name} must be a positive integer, got ${value}`);
      }
    }
    this.#starting = options.worker ?? true
      ? this.#start(options.workerSource ?? WORKER_SOURCE)
      : Promise.resolve(false);
  }

  /** Whether the hashing runs in a worker, once that is known (false: on this thread). */
  started(): Promise<boolean> {
    return this.#starting;
  }

  /** How many pooled buffers exist (free, lent out or queued): at most `maxQueued` + those lent. */
  get buffers(): number {
    return this.#made;
  }

  /**
   * Start the worker; what is given meanwhile is held. Ready: the held chunks go to it. Where it
   * cannot start (or takes more than 10 s), the held chunks are hashed here, and so is the rest.
   */
  #start(source: string): Promise<boolean> {
    let worker: Worker;
    let url = "";
    try {
      url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
      worker = new Worker(url, { type: "module" });
    } catch {
      if (url !== "") URL.revokeObjectURL(url);
      return Promise.resolve(false);
    }
    this.#held = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ready = new Promise<boolean>((resolve) => {
      this.#stopStart = () => resolve(false);
      worker.onmessage = (event: MessageEvent) => resolve(event.data?.op === "ready");
      worker.onerror = (event) => {
        event.preventDefault();
        resolve(false);
      };
      worker.onmessageerror = () => resolve(false);
      timer = setTimeout(() => resolve(false), START_TIMEOUT_MS);
    });
    return ready.then((ok) => {
      clearTimeout(timer);
      this.#stopStart = null;
      URL.revokeObjectURL(url);
      const held = this.#held ?? [];
      this.#held = null;
      if (!ok || this.#closed) {
        worker.terminate();
        if (!this.#closed) this.#hashHere(held);
        return false;
      }
      worker.onmessage = (event: MessageEvent) => this.#onMessage(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#fail(new Error(`Hashing worker failed: ${event.message}`));
      };
      worker.onmessageerror = () =>
        this.#fail(new Error("Hashing worker sent an unreadable message"));
      this.#worker = worker;
      for (const job of held) this.#post(job);
      return true;
    });
  }

  /** The worker did not start: what was held for it is hashed here, its buffers pooled again. */
  #hashHere(held: (Job | null)[]): void {
    for (const job of held) {
      if (job === null) {
        this.#hash = createHash("sha256");
        continue;
      }
      this.#hash.update(new Uint8Array(job.buffer, 0, job.length));
      this.#returned(job.buffer, job.pooled);
    }
  }

  /** Send a job (or a reset) to the worker. */
  #post(job: Job | null): void {
    if (job === null) this.#worker!.postMessage({ op: "reset" });
    else {
      this.#worker!.postMessage({ op: "update", ...job }, [job.buffer]);
    }
  }

  #onMessage(message: WorkerMessage): void {
    if (message.op === "error") {
      this.#fail(new Error(`Hashing worker failed: ${message.message}`));
    } else if (message.op === "buffer" && message.buffer !== undefined) {
      this.#returned(message.buffer, message.pooled === true);
    } else if (message.op === "digest" && message.hex !== undefined) {
      this.#digestWaiters.shift()?.resolve(message.hex);
    }
  }

  /** A queued chunk is hashed: its buffer back to the pool (or a waiter), or a copy dropped. */
  #returned(buffer: ArrayBuffer, pooled: boolean): void {
    this.#queued--;
    const waiter = this.#bufferWaiters.shift();
    if (!pooled) {
      // A copied chunk: dropped, and a waiter may now have a new buffer.
      if (waiter !== undefined) waiter.resolve(this.#make());
      return;
    }
    if (waiter !== undefined) waiter.resolve(new Uint8Array(buffer));
    else this.#free.push(new Uint8Array(buffer));
  }

  #fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    for (const waiter of [...this.#bufferWaiters, ...this.#digestWaiters]) waiter.reject(error);
    this.#bufferWaiters = [];
    this.#digestWaiters = [];
  }

  /**
   * A buffer to read the next chunk into: a free one from the pool, a new one while fewer than
   * `maxQueued` chunks are queued, else the next one the worker hands back.
   */
  buffer(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    const free = this.#free.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (this.#queued < this.#maxQueued) return Promise.resolve(this.#make());
    return new Promise((resolve, reject) => this.#bufferWaiters.push({ resolve, reject }));
  }

  #make(): Uint8Array<ArrayBuffer> {
    this.#made++;
    return new Uint8Array(this.#bufferSize);
  }

  /** Whether chunks go to a worker (ready, or still starting). */
  get #offThread(): boolean {
    return this.#worker !== null || this.#held !== null;
  }

  /**
   * Hash `chunk` next. With `owned`, `chunk` is a view (from offset 0) of a buffer from
   * {@linkcode ChunkHasher.buffer} that the caller is done with: it is moved to the worker (the
   * caller's view is detached) and comes back to the pool. Otherwise it is copied to the worker
   * (or, on this thread, hashed where it is) and stays the caller's.
   */
  update(chunk: Uint8Array, options: { owned?: boolean } = {}): void {
    if (this.#failure !== null) throw this.#failure;
    const owned = options.owned === true && chunk.byteOffset === 0 &&
      chunk.buffer instanceof ArrayBuffer && chunk.buffer.byteLength === this.#bufferSize;
    if (!this.#offThread) {
      this.#hash.update(chunk);
      if (owned) this.#free.push(new Uint8Array(chunk.buffer as ArrayBuffer));
      return;
    }
    const job = {
      buffer: owned ? chunk.buffer as ArrayBuffer : chunk.slice().buffer,
      length: chunk.length,
      pooled: owned,
    };
    this.#queued++;
    if (this.#held !== null) this.#held.push(job);
    else this.#post(job);
  }

  /**
   * Hash `chunk`, whose write to the file is `writing`, and wait for that write: on this thread
   * while the write runs; for the worker once it is done (a buffer moved away must not be read by
   * the write still), with `owned` as in {@linkcode ChunkHasher.update}. A failed write rejects
   * (and its chunk is not hashed by the worker).
   */
  async hashWritten(
    chunk: Uint8Array,
    writing: Promise<void>,
    options: { owned?: boolean } = {},
  ): Promise<void> {
    if (!this.#offThread) {
      try {
        this.update(chunk, options);
      } finally {
        await writing;
      }
      return;
    }
    await writing;
    this.update(chunk, options);
  }

  /** The SHA-256 of everything given so far, lowercase hex (hashing can go on). */
  async digest(): Promise<string> {
    if (this.#failure !== null) throw this.#failure;
    await this.#starting;
    if (this.#failure !== null) throw this.#failure;
    const worker = this.#worker;
    if (worker === null) return this.#hash.copy().digest("hex");
    const answer = new Promise<string>((resolve, reject) =>
      this.#digestWaiters.push({ resolve, reject })
    );
    worker.postMessage({ op: "digest" });
    return await answer;
  }

  /** Forget everything given so far (a download that starts over). */
  reset(): void {
    if (this.#held !== null) this.#held.push(null);
    else if (this.#worker !== null) this.#post(null);
    else this.#hash = createHash("sha256");
  }

  /** Stop the worker; what is pending rejects. */
  close(): void {
    this.#closed = true;
    this.#stopStart?.();
    this.#worker?.terminate();
    this.#worker = null;
    this.#held = null;
    this.#fail(new Error("Hasher is closed"));
  }
}
