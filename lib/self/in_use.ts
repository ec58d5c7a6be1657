/**
 * Which kept updaters a process still runs from. A code-split bundle loads some chunks only when
 * it needs them (an automatic rollback after the application crashed, days into a `run`), and a
 * candidate on trial runs from its kept folder: pruning the chunks or folder of a version that a
 * long-running `run` still executes would break that run. So `run`, in the bundle form, holds a
 * lease for its version while the application runs: a file `<root>/updater/.in-use.<version>.<pid>`
 * kept open with an exclusive lock (`flock`, released by the system however the process ends).
 * lib/self/place.ts `pruneKept` keeps every version whose lease is held, and removes leases whose
 * holder has gone. Only when the install has an `updater/` folder (a self-update happened) and
 * only in the bundle form (a running executable on Linux keeps its file when it is replaced or
 * removed): one `lstat` otherwise.
 *
 * @module
 */
import { runningForm, UPDATER_VERSION, type UpdaterForm } from "./form.ts";
import type { Layout } from "../root/layout.ts";

const LEASE = /^\.in-use\.(.+)\.(\d+)$/;
/** A lease being taken (or left by a process killed while it took one). */
const FRESH = /^\.in-use-new\.\d+\.[a-z0-9]+$/;

/**
 * A lease held by this process (see the module's documentation).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { holdInUse } from "./in_use.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.root}/updater`);
 * const form = { kind: "bundle" as const, path: "/opt/ms11/main.js", key: "bundle" };
 * const lease = await holdInUse(layout, { form, running: "0.2.0" });
 * assert.equal(lease?.version, "0.2.0");
 * lease?.release();
 * ```
 */
export interface InUseLease {
  /** The version held. */
  version: string;
  /** The lease file. */
  path: string;
  /** Let go of it (the file is removed); safe twice. */
  release(): void;
}

/**
 * Hold a lease on the running updater's version (`options.running`, in `options.form`) for as
 * long as this process runs the application; null when none is needed (not the bundle form, or
 * no `updater/` folder in the install root) or when it cannot be taken (a lease is advice to
 * the pruner: the launch goes on without one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { holdInUse, versionsInUse } from "./in_use.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const form = { kind: "bundle" as const, path: "/opt/ms11/main.js", key: "bundle" };
 * assert.equal(await holdInUse(layout, { form, running: "0.2.0" }), null); // no updater/ folder
 * await Deno.mkdir(`${layout.root}/updater`);
 * const exe = { kind: "executable" as const, path: "/opt/ms11/ms11-update", key: "linux-x64" };
 * assert.equal(await holdInUse(layout, { form: exe, running: "0.2.0" }), null);
 * const lease = await holdInUse(layout, { form, running: "0.2.0" });
 * assert.equal(lease?.path, `${layout.root}/updater/.in-use.0.2.0.${Deno.pid}`);
 * lease!.release();
 * assert.deepEqual(await versionsInUse(layout), []);
 * ```
 */
export async function holdInUse(
  layout: Layout,
  options: { form?: UpdaterForm; running?: string } = {},
): Promise<InUseLease | null> {
  const form = options.form ?? runningForm();
  const version = options.running ?? UPDATER_VERSION;
  if (form.kind !== "bundle" || !/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(version)) return null;
  const dir = `${layout.root}/updater`;
  try {
    const info = await Deno.lstat(dir);
    if (!info.isDirectory) return null;
  } catch {
    return null; // no self-update ever happened here: the usual case
  }
  const path = `${dir}/.in-use.${version}.${Deno.pid}`;
  // Locked under a name no pruner reads, then renamed in (the lock goes with the file): a pruner
  // never finds the lease unlocked and takes it for a dead process's.
  const fresh = `${dir}/.in-use-new.${Deno.pid}.${
    crypto.getRandomValues(new Uint32Array(1))[0].toString(36)
  }`;
  let file: Deno.FsFile;
  try {
    // A new owner-only file: never through a link, never over something that is there.
    file = await Deno.open(fresh, { write: true, createNew: true, mode: 0o600 });
  } catch {
    return null;
  }
  try {
    if (!(await file.tryLock(true))) throw new Error("taken");
    await Deno.rename(fresh, path); // over a dead process's with this pid, if there is one
  } catch {
    file.close();
    await Deno.remove(fresh).catch(() => {});
    return null;
  }
  let held = true;
  return {
    version,
    path,
    release() {
      if (!held) return;
      held = false;
      try {
        Deno.removeSync(path); // removed while still locked: no pruner takes it for a stale one
      } catch {
        // already gone
      }
      file.close();
    },
  };
}

/**
 * The versions whose lease a live process holds in `layout`; the leases of processes that have
 * gone are removed (the caller holds the install lock).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { versionsInUse } from "./in_use.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.deepEqual(await versionsInUse(layout), []); // no updater/ folder
 * await Deno.mkdir(`${layout.root}/updater`);
 * await Deno.writeTextFile(`${layout.root}/updater/.in-use.0.1.0.99999999`, ""); // its holder is gone
 * assert.deepEqual(await versionsInUse(layout), []);
 * assert.deepEqual([...Deno.readDirSync(`${layout.root}/updater`)], []);
 * ```
 */
export async function versionsInUse(layout: Layout): Promise<string[]> {
  const dir = `${layout.root}/updater`;
  const held = new Set<string>();
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return [];
  }
  for (const entry of entries) {
    const m = LEASE.exec(entry.name);
    if ((m === null && !FRESH.test(entry.name)) || !entry.isFile) continue;
    const path = `${dir}/${entry.name}`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch {
      continue; // released meanwhile
    }
    try {
      if (await file.tryLock(true)) {
        await Deno.remove(path).catch(() => {}); // its holder has gone
      } else if (m !== null) held.add(m[1]);
    } finally {
      file.close();
    }
  }
  return [...held].sort();
}
