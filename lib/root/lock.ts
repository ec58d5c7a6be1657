/**
 * The install lock: an OS file lock on `<root>/lock`, released when its holder dies, with the
 * holder's pid inside for messages. Every command that changes the install root takes it.
 *
 * @module
 */
import { LockHeldError } from "../core/errors.ts";
import type { Layout } from "./layout.ts";

/**
 * A held install lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { acquireLock, type InstallLock } from "./lock.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const lock: InstallLock = await acquireLock(layout);
 * lock.release();
 * lock.release(); // once is enough; again does nothing
 * using _again = await acquireLock(layout); // free again
 * ```
 */
export interface InstallLock extends Disposable {
  /** Release the lock (also released when the process dies). */
  release(): void;
}

/**
 * Options of {@linkcode acquireLock}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockHeldError } from "../core/errors.ts";
 * import { layoutOf } from "./layout.ts";
 * import { acquireLock, type AcquireLockOptions } from "./lock.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * using _held = await acquireLock(layout);
 * const options: AcquireLockOptions = { waitMs: 150, pollMs: 50 };
 * const started = Date.now();
 * await assert.rejects(acquireLock(layout, options), LockHeldError);
 * assert.ok(Date.now() - started >= 150);
 * ```
 */
export interface AcquireLockOptions {
  /** How long to wait for another holder, in milliseconds (default 0: fail at once). */
  waitMs?: number;
  /** Pause between attempts (default 100 ms). */
  pollMs?: number;
}

async function holderPid(path: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await Deno.readTextFile(path)).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Take the install lock (an OS file lock on `<root>/lock`, released if the holder dies). Waits
 * up to `waitMs`, then throws {@linkcode LockHeldError} naming the holder's pid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockHeldError } from "../core/errors.ts";
 * import { layoutOf } from "./layout.ts";
 * import { acquireLock } from "./lock.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * {
 *   using _lock = await acquireLock(layout);
 *   assert.equal(await Deno.readTextFile(layout.lock), `${Deno.pid}\n`);
 *   await assert.rejects(acquireLock(layout), (error) => {
 *     assert.ok(error instanceof LockHeldError);
 *     assert.equal(error.pid, Deno.pid);
 *     return true;
 *   });
 * }
 * using _next = await acquireLock(layout); // released at the end of the block
 * ```
 */
export async function acquireLock(
  layout: Layout,
  options: AcquireLockOptions = {},
): Promise<InstallLock> {
  await Deno.mkdir(layout.root, { recursive: true });
  const file = await Deno.open(layout.lock, { read: true, write: true, create: true });
  const deadline = Date.now() + (options.waitMs ?? 0);
  try {
    while (!(await file.tryLock(true))) {
      if (Date.now() >= deadline) {
        throw new LockHeldError(layout.lock, await holderPid(layout.lock));
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (error) {
    file.close();
    throw error;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    // Unlock before closing: a close can be deferred while the runtime still holds the file,
    // and the next acquire (even in this process) must find the lock free.
    try {
      file.unlockSync();
    } catch { /* closing releases it anyway */ }
    file.close();
  };
  return { release, [Symbol.dispose]: release };
}
