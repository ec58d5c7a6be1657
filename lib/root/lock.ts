/**
 * The install lock: an OS file lock on `<root>/lock`, released when its holder dies, with the
 * holder's pid inside for messages. Every command that changes the install root takes it.
 *
 * The holder's identity is published atomically with the lock: taking the lock and writing the
 * pid happen while holding a second, short-lived lock on `<root>/lock.guard`, and a rival that
 * finds the lock taken reads the pid under the same guard. A rival therefore never reads the
 * lock file between the moment it is taken and the moment its holder's pid is in it (an empty
 * file, or the pid of the previous holder). The guard is held only for those few system calls,
 * never while waiting.
 *
 * @module
 */
import { LockHeldError } from "../core/errors.ts";
import type { Layout } from "./layout.ts";
import { checkRoot, ensureRoot, MODES, openInRoot } from "./safe.ts";

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

/**
 * The path of the guard of a lock file: held only while the lock is taken and its holder's pid
 * written, or while a rival reads that pid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { lockGuardPath } from "./lock.ts";
 * assert.equal(lockGuardPath(layoutOf("/opt/ms11")), "/opt/ms11/lock.guard");
 * ```
 */
export function lockGuardPath(layout: Layout): string {
  return `${layout.lock}.guard`;
}

/** Run `step` holding the guard of the lock (a blocking OS lock, held for a few calls only). */
async function guarded<T>(layout: Layout, step: () => Promise<T>): Promise<T> {
  using guard = await openInRoot(layout, lockGuardPath(layout), {
    read: true,
    write: true,
    create: true,
    mode: MODES.privateFile,
  });
  await guard.lock(true);
  try {
    return await step();
  } finally {
    try {
      guard.unlockSync();
    } catch { /* closing releases it anyway */ }
  }
}

/** The pid written in the lock file (read through the open `file`), or null. */
async function holderPid(file: Deno.FsFile): Promise<number | null> {
  try {
    await file.seek(0, Deno.SeekMode.Start);
    const buffer = new Uint8Array(32);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    const text = new TextDecoder().decode(buffer.subarray(0, filled));
    const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Replace the lock file's content with this process's pid. */
async function writePid(file: Deno.FsFile): Promise<void> {
  const bytes = new TextEncoder().encode(`${Deno.pid}\n`);
  await file.truncate(0);
  await file.seek(0, Deno.SeekMode.Start);
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
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
  await ensureRoot(layout);
  await checkRoot(layout);
  const file = await openInRoot(layout, layout.lock, {
    read: true,
    write: true,
    create: true,
    mode: MODES.privateFile,
  });
  const deadline = Date.now() + (options.waitMs ?? 0);
  try {
    while (true) {
      const refused = await guarded(layout, async () => {
        if (await file.tryLock(true)) {
          await writePid(file);
          return null;
        }
        return new LockHeldError(layout.lock, await holderPid(file));
      });
      if (refused === null) break;
      if (Date.now() >= deadline) throw refused;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
    }
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
