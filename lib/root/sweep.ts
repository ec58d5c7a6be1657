/**
 * Recovery that leaves nothing: what interrupted commands leave in an install root, removed by
 * the next command that holds the lock. Builds half-made or half-removed
 * (`builds/.staging-*`, `builds/.trash-*`), the temporary files of interrupted atomic writes
 * (`.state.json.<pid>.<rand>.tmp`, `.current.<pid>.<rand>.tmp`,
 * `downloads/.<file>.partial.json.<pid>.<rand>.tmp`, …) whose writer is no longer alive, and
 * downloads that no update is after any more.
 *
 * @module
 */
import { removeIfExists } from "../core/fs.ts";
import type { Layout } from "./layout.ts";
import { refuseLinks } from "./safe.ts";

/** A temporary sibling of an atomic write (see `tempSibling`): `.<name>.<pid>.<rand>.tmp`. */
const TEMP = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;

/**
 * Whether the process `pid` may still be writing: this process, or (where `/proc` tells) a
 * process that exists. Without `/proc` the answer is no: every writer in the root holds the
 * install lock, which the caller holds now.
 */
function mayBeWriting(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Remove the dead writers' temporary files directly in `dir`; returns their paths. */
async function sweepTemps(layout: Layout, dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = TEMP.exec(entry.name);
      if (match === null || mayBeWriting(Number(match[1]))) continue;
      const path = `${dir}/${entry.name}`;
      // A temporary link (of `current`) is removed as a link; anything else must be no link.
      if (!(entry.isSymlink && entry.name.startsWith(".current."))) await refuseLinks(layout, path);
      await removeIfExists(path);
      removed.push(path.slice(layout.root.length + 1));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

/**
 * Remove leftovers of interrupted commands: `builds/.staging-*` and `builds/.trash-*` (named as
 * they were), and the temporary files of interrupted atomic writes in the root and in
 * `downloads/` whose writer is gone (named `downloads/<name>` or `<name>`). The caller holds the
 * lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { sweepLeftovers } from "./sweep.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const name of ["1.0.0", ".staging-1.1.0-x1", ".trash-0.9.0-17"]) {
 *   await Deno.mkdir(`${layout.builds}/${name}`, { recursive: true });
 * }
 * await Deno.writeTextFile(`${layout.root}/.state.json.999999999.k3x.tmp`, "{"); // its writer died
 * await Deno.writeTextFile(`${layout.root}/.state.json.${Deno.pid}.k3y.tmp`, "{"); // ours: kept
 * assert.deepEqual((await sweepLeftovers(layout)).sort(), [
 *   ".staging-1.1.0-x1", ".state.json.999999999.k3x.tmp", ".trash-0.9.0-17",
 * ]);
 * assert.deepEqual([...Deno.readDirSync(layout.builds)].map((e) => e.name), ["1.0.0"]);
 * assert.deepEqual(await sweepLeftovers(layoutOf(`${layout.root}/missing`)), []);
 * ```
 */
export async function sweepLeftovers(layout: Layout): Promise<string[]> {
  const removed: string[] = [];
  await refuseLinks(layout, layout.builds);
  try {
    for await (const entry of Deno.readDir(layout.builds)) {
      if (/^\.(staging|trash)-/.test(entry.name)) {
        await refuseLinks(layout, `${layout.builds}/${entry.name}`);
        await removeIfExists(`${layout.builds}/${entry.name}`, true);
        removed.push(entry.name);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  removed.push(...await sweepTemps(layout, layout.root));
  await refuseLinks(layout, layout.downloads);
  removed.push(...await sweepTemps(layout, layout.downloads));
  return removed;
}

/**
 * Remove from `downloads/` everything but the files named in `keep` (the download under way:
 * its file, `.partial` and `.partial.json`) and the temporary files of live writers: downloads of
 * versions no update is after any more, finished downloads already staged. Returns the names
 * removed. The caller holds the lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { sweepDownloads } from "./sweep.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.downloads, { recursive: true });
 * for (const name of ["1.1.0-linux-x64.bin.partial", "1.2.0-linux-x64.bin.partial", "1.2.0-linux-x64.bin.partial.json"]) {
 *   await Deno.writeTextFile(`${layout.downloads}/${name}`, "x");
 * }
 * const keep = ["1.2.0-linux-x64.bin", "1.2.0-linux-x64.bin.partial", "1.2.0-linux-x64.bin.partial.json"];
 * assert.deepEqual(await sweepDownloads(layout, keep), ["1.1.0-linux-x64.bin.partial"]);
 * ```
 */
export async function sweepDownloads(layout: Layout, keep: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  await refuseLinks(layout, layout.downloads);
  try {
    for await (const entry of Deno.readDir(layout.downloads)) {
      if (keep.includes(entry.name)) continue;
      const temp = TEMP.exec(entry.name);
      if (temp !== null && mayBeWriting(Number(temp[1]))) continue;
      await refuseLinks(layout, `${layout.downloads}/${entry.name}`);
      await removeIfExists(`${layout.downloads}/${entry.name}`, true);
      removed.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed.sort();
}
