/**
 * The files of an updater and how one is copied into place: a bundle's entry module names its
 * chunks (siblings, by relative import), an executable is one file. Every copy is written to a
 * temporary sibling of its target, fsynced, checked against the SHA-256 it must have, and only
 * then renamed over the target: the target is never missing or half-written, and the copy works
 * across filesystems (the rename never does).
 *
 * @module
 */
import { hashFile } from "../core/hash.ts";
import { baseOf, dirOf, renameDurable, tempSibling } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";

/** Relative imports of a sibling chunk, as esbuild writes them (static and dynamic). */
const SIBLING = /["']\.\/([A-Za-z0-9_][A-Za-z0-9_.-]*\.js)["']/g;

/**
 * The chunks a bundle's entry module loads, directly or through other chunks (sorted; the entry
 * itself not included). A chunk it names that is missing is an error naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bundleChunks } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/main.js`, 'import "./chunk-A.js";\nawait import("./apply-B.js");\n');
 * await Deno.writeTextFile(`${dir}/chunk-A.js`, "export const a = 1;\n");
 * await Deno.writeTextFile(`${dir}/apply-B.js`, 'import { a } from "./chunk-A.js";\n');
 * await Deno.writeTextFile(`${dir}/unrelated.js`, "");
 * assert.deepEqual(await bundleChunks(`${dir}/main.js`), ["apply-B.js", "chunk-A.js"]);
 * await Deno.remove(`${dir}/chunk-A.js`);
 * await assert.rejects(bundleChunks(`${dir}/main.js`), {
 *   message: `Bundle ${dir}/main.js names chunk chunk-A.js, which is not beside it`,
 * });
 * ```
 */
export async function bundleChunks(entry: string): Promise<string[]> {
  const dir = dirOf(entry);
  const found = new Set<string>();
  const queue = [baseOf(entry)];
  const entryName = baseOf(entry);
  while (queue.length > 0) {
    const name = queue.shift()!;
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/${name}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && name !== entryName) {
        throw new Error(`Bundle ${entry} names chunk ${name}, which is not beside it`);
      }
      throw error;
    }
    for (const m of text.matchAll(SIBLING)) {
      if (m[1] !== entryName && !found.has(m[1])) {
        found.add(m[1]);
        queue.push(m[1]);
      }
    }
  }
  return [...found].sort();
}

/**
 * The SHA-256 of each of `names` in `dir`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFiles } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "abc");
 * assert.deepEqual(await hashFiles(dir, ["a"]), {
 *   a: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
 * });
 * ```
 */
export async function hashFiles(dir: string, names: string[]): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of names) files[name] = (await hashFile(`${dir}/${name}`)).sha256;
  return files;
}

/**
 * Options of {@linkcode copyOver}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CopyOverOptions } from "./files.ts";
 * const options: CopyOverOptions = { sha256: "a".repeat(64), mode: 0o755 };
 * assert.equal(options.mode, 0o755);
 * ```
 */
export interface CopyOverOptions {
  /** The SHA-256 the copy must have; a copy that differs is removed and nothing is replaced. */
  sha256: string;
  /** The target's file mode. */
  mode: number;
  /** Announce the `self-before-rename` and `self-after-rename` fault points (the entry's copy). */
  faults?: boolean;
}

/**
 * Copy `from` over `to`: a temporary sibling of `to` is written, fsynced, hashed and renamed
 * over `to` (never unlinked first), and the directory fsynced. A copy whose SHA-256 is not
 * `sha256` is removed and `to` is left as it was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { copyOver } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "abc");
 * await Deno.writeTextFile(`${dir}/ms11-update`, "old");
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * await copyOver(`${dir}/new`, `${dir}/ms11-update`, { sha256, mode: 0o755 });
 * assert.equal(await Deno.readTextFile(`${dir}/ms11-update`), "abc");
 * assert.equal((await Deno.stat(`${dir}/ms11-update`)).mode! & 0o777, 0o755);
 * await Deno.writeTextFile(`${dir}/new`, "abd"); // not the bytes expected
 * const other = "a73c7c6f8d0e29a5d2f2b4e0b8b0ba7a93a3d69d6f2e8f0c24bbf4e1c5b2b0d6";
 * await assert.rejects(copyOver(`${dir}/new`, `${dir}/ms11-update`, { sha256: other, mode: 0o755 }), {
 *   message: /^Copy of .*\/new has SHA-256 [0-9a-f]{64}, not a73c7c6f.*; .*\/ms11-update was not replaced$/,
 * });
 * assert.equal(await Deno.readTextFile(`${dir}/ms11-update`), "abc");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["ms11-update", "new"]);
 * ```
 */
export async function copyOver(from: string, to: string, options: CopyOverOptions): Promise<void> {
  const tmp = tempSibling(to);
  try {
    await Deno.copyFile(from, tmp);
    await Deno.chmod(tmp, options.mode);
    const file = await Deno.open(tmp, { read: true, write: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
    const { sha256 } = await hashFile(tmp);
    if (sha256 !== options.sha256) {
      throw new Error(
        `Copy of ${from} has SHA-256 ${sha256}, not ${options.sha256}; ${to} was not replaced`,
      );
    }
    if (options.faults) faultPoint("self-before-rename");
    await renameDurable(tmp, to);
    if (options.faults) faultPoint("self-after-rename");
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Whether `path` is a regular file with SHA-256 `sha256` (false when it is missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { holds } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "abc");
 * const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
 * assert.equal(await holds(`${dir}/a`, sha256), true);
 * assert.equal(await holds(`${dir}/b`, sha256), false);
 * ```
 */
export async function holds(path: string, sha256: string): Promise<boolean> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return false;
    return (await hashFile(path)).sha256 === sha256;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
