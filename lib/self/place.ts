/**
 * Put a kept updater at the launcher's path, and prune the kept updaters no longer needed.
 *
 * A bundle's chunks go beside the launcher's path first (each copied, fsynced, checked, renamed;
 * chunk names carry a content hash, so a new version's chunks never replace an old version's),
 * then its entry module is renamed over the path in one step: at every instant the path is the
 * old entry with all its chunks, or the new one with all its chunks. An executable is one copy
 * renamed over the path. Nothing is unlinked first, and a copy is checked against its SHA-256
 * before it replaces anything.
 *
 * @module
 */
import { baseOf, dirOf, exists, removeIfExists } from "../core/fs.ts";
import type { Layout } from "../root/layout.ts";
import { ownerProblem, refuseLinks } from "../root/safe.ts";
import { copyOver, holds } from "./files.ts";
import { versionsInUse } from "./in_use.ts";
import { keptDir, type KeptUpdater, selfPaths, type SelfState, writeSelfState } from "./state.ts";

/**
 * The launcher's path as it is now: a regular file (its mode), or an error saying why it cannot
 * be replaced (a symbolic link is not followed: point the launcher at the file itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { launcherFileMode } from "./place.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11-update`, "x", { mode: 0o755 });
 * await Deno.chmod(`${dir}/ms11-update`, 0o755);
 * assert.equal(await launcherFileMode(`${dir}/ms11-update`), 0o755);
 * await Deno.chmod(dir, 0o777); // anyone may swap a file in there
 * await assert.rejects(launcherFileMode(`${dir}/ms11-update`), {
 *   message: `The updater's folder ${dir} is writable by other users (mode 0777); refusing to replace it: run chmod go-w ${dir}`,
 * });
 * await Deno.chmod(dir, 0o700);
 * await Deno.symlink("ms11-update", `${dir}/link`);
 * await assert.rejects(launcherFileMode(`${dir}/link`), {
 *   message: `The updater at ${dir}/link is a symbolic link; ms11-update replaces only a regular file (point the launcher at the file itself)`,
 * });
 * ```
 */
export async function launcherFileMode(path: string): Promise<number> {
  const info = await Deno.lstat(path);
  if (info.isSymlink) {
    throw new Error(
      `The updater at ${path} is a symbolic link; ms11-update replaces only a regular file (point the launcher at the file itself)`,
    );
  }
  if (!info.isFile) throw new Error(`The updater at ${path} is not a regular file`);
  // Its folder receives the copy renamed over it: another user who may write either could swap
  // in their own (lib/root/safe.ts refuses the same in the install root).
  for (
    const [what, at, stat] of [
      ["The updater", path, info],
      ["The updater's folder", dirOf(path), await Deno.lstat(dirOf(path))],
    ] as const
  ) {
    const unsafe = ownerProblem(what, at, stat);
    if (unsafe !== null) {
      throw new Error(
        `${unsafe.problem}; refusing to replace it${
          unsafe.fix === null ? "" : `: run ${unsafe.fix}`
        }`,
      );
    }
  }
  return (info.mode ?? 0o755) & 0o7777;
}

/**
 * Put the kept updater `kept` (in `<root>/updater/<version>/`) at the launcher's path `path`.
 * A chunk beside the path with the same name and other bytes is an error, raised before anything
 * is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { hashFiles } from "./files.ts";
 * import { placeUpdater } from "./place.ts";
 * import { keptDir } from "./state.ts";
 * const dir = await Deno.makeTempDir();
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * const from = keptDir(layout, "0.2.0");
 * await Deno.mkdir(from, { recursive: true });
 * await Deno.writeTextFile(`${from}/main.js`, 'await import("./chunk-B.js");');
 * await Deno.writeTextFile(`${from}/chunk-B.js`, "console.log('0.2.0');");
 * const files = await hashFiles(from, ["main.js", "chunk-B.js"]);
 * await Deno.mkdir(`${dir}/bin`);
 * await Deno.writeTextFile(`${dir}/bin/ms11-update.js`, 'await import("./chunk-A.js");');
 * await Deno.writeTextFile(`${dir}/bin/chunk-A.js`, "console.log('0.1.0');");
 * const kept = { version: "0.2.0", kind: "bundle" as const, entry: "main.js", files, sha256: null,
 *   channel: null, kept_at: "2026-11-27T00:00:00Z" };
 * await placeUpdater(layout, kept, `${dir}/bin/ms11-update.js`);
 * assert.equal(await Deno.readTextFile(`${dir}/bin/ms11-update.js`), 'await import("./chunk-B.js");');
 * assert.deepEqual([...Deno.readDirSync(`${dir}/bin`)].map((e) => e.name).sort(),
 *   ["chunk-A.js", "chunk-B.js", "ms11-update.js"]); // the old chunk stays for the old entry
 * ```
 */
export async function placeUpdater(layout: Layout, kept: KeptUpdater, path: string): Promise<void> {
  const from = keptDir(layout, kept.version);
  let mode: number;
  try {
    mode = await launcherFileMode(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    mode = kept.kind === "executable" ? 0o755 : 0o644;
  }
  if (kept.kind === "executable") mode |= 0o100; // its owner runs it; other bits as they were
  const beside = dirOf(path);
  const chunks = Object.keys(kept.files).filter((name) => name !== kept.entry).sort();
  await sweepCopies(beside, [baseOf(path), ...chunks]);
  const missing: string[] = [];
  for (const name of chunks) {
    const target = `${beside}/${name}`;
    if (!(await exists(target))) missing.push(name);
    else if (!(await holds(target, kept.files[name]))) {
      throw new Error(
        `Cannot put ms11-update ${kept.version} at ${path}: ${target} exists with other bytes than its ${name}`,
      );
    }
  }
  for (const name of missing) {
    await copyOver(`${from}/${name}`, `${beside}/${name}`, {
      sha256: kept.files[name],
      mode: 0o644,
    });
  }
  await copyOver(`${from}/${kept.entry}`, path, {
    sha256: kept.files[kept.entry],
    mode,
    faults: true,
  });
}

/**
 * Remove the temporary copies (`.<name>.<pid>.<random>.tmp`, lib/core/fs.ts `tempSibling`) of
 * `names` in `dir` that an earlier placement killed mid-copy left behind; the caller holds the
 * install lock, so none of them is being written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sweepCopies } from "./place.ts";
 * const dir = await Deno.makeTempDir();
 * for (const name of ["ms11-update", ".ms11-update.123.k2j3.tmp", ".other.123.k2j3.tmp"]) {
 *   await Deno.writeTextFile(`${dir}/${name}`, "");
 * }
 * assert.deepEqual(await sweepCopies(dir, ["ms11-update"]), [".ms11-update.123.k2j3.tmp"]);
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [".other.123.k2j3.tmp", "ms11-update"]);
 * ```
 */
export async function sweepCopies(dir: string, names: string[]): Promise<string[]> {
  const wanted = new Set(names);
  const removed: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^\.(.+)\.\d+\.[a-z0-9]+\.tmp$/.exec(entry.name);
    if (m === null || !wanted.has(m[1]) || !entry.isFile) continue;
    await removeIfExists(`${dir}/${entry.name}`);
    removed.push(entry.name);
  }
  return removed.sort();
}

/**
 * The kept versions a state still needs: the one at the launcher's path, the one it replaced,
 * and the candidate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { neededVersions } from "./place.ts";
 * import { emptySelfState } from "./state.ts";
 * const state = { ...emptySelfState(), current: "0.3.0", previous: "0.2.0" };
 * assert.deepEqual(neededVersions(state, "0.3.0"), ["0.3.0", "0.2.0"]);
 * ```
 */
export function neededVersions(state: SelfState, running: string): string[] {
  const needed = [running, state.current, state.previous, state.staged?.version];
  return [...new Set(needed.filter((v): v is string => typeof v === "string"))];
}

/**
 * Forget and remove the kept updaters `state` no longer needs (see {@linkcode neededVersions})
 * and no process runs from (a lease held, lib/self/in_use.ts):
 * their chunks beside the launcher's path that no needed version names and that still hold their
 * bytes, then their records (the state is written), then their folders; and any folder in
 * `<root>/updater/` that no record names (left by an interrupted staging or prune). Returns the
 * versions removed; the caller holds the install lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { pruneKept } from "./place.ts";
 * import { emptySelfState, keptDir, readSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptySelfState();
 * for (const version of ["0.1.0", "0.2.0", "0.3.0"]) {
 *   await Deno.mkdir(keptDir(layout, version), { recursive: true });
 *   await Deno.writeTextFile(`${keptDir(layout, version)}/ms11-update`, version);
 *   state.kept[version] = { version, kind: "executable", entry: "ms11-update",
 *     files: { "ms11-update": "a".repeat(64) }, sha256: null, channel: null, kept_at: "2026-11-27T00:00:00Z" };
 * }
 * Object.assign(state, { current: "0.3.0", previous: "0.2.0" });
 * await Deno.mkdir(`${layout.root}/updater/.staging-x`);
 * assert.deepEqual(await pruneKept(layout, state, { running: "0.3.0", path: null }), ["0.1.0"]);
 * assert.deepEqual(Object.keys((await readSelfState(layout)).state.kept), ["0.2.0", "0.3.0"]);
 * assert.deepEqual([...Deno.readDirSync(`${layout.root}/updater`)].map((e) => e.name).sort(),
 *   ["0.2.0", "0.3.0", "state.json"]);
 * ```
 */
export async function pruneKept(
  layout: Layout,
  state: SelfState,
  options: { running: string; path: string | null },
): Promise<string[]> {
  // And those a running process still executes (a long `run`; lib/self/in_use.ts).
  const needed = [
    ...new Set([...neededVersions(state, options.running), ...await versionsInUse(layout)]),
  ];
  const pruned = Object.keys(state.kept).filter((v) => !needed.includes(v)).sort();
  if (options.path !== null) {
    const named = new Set(needed.flatMap((v) => Object.keys(state.kept[v]?.files ?? {})));
    for (const version of pruned) {
      const kept = state.kept[version];
      if (kept.kind !== "bundle") continue;
      for (const [name, sha256] of Object.entries(kept.files)) {
        if (name === kept.entry || named.has(name)) continue;
        const target = `${dirOf(options.path)}/${name}`;
        if (await holds(target, sha256)) await removeIfExists(target);
      }
    }
  }
  for (const version of pruned) delete state.kept[version];
  await writeSelfState(layout, state);
  const dir = selfPaths(layout).dir;
  await refuseLinks(layout, dir);
  for await (const entry of Deno.readDir(dir)) {
    // Folders no record names (an interrupted staging or prune), and the reports of trials whose
    // launcher died (lib/self/trial.ts).
    const stale = entry.isDirectory
      ? !Object.hasOwn(state.kept, entry.name)
      : entry.isFile && entry.name.startsWith(".trial-");
    if (stale) await removeIfExists(`${dir}/${entry.name}`, true);
  }
  return pruned;
}
