// Private file-system helpers shared by the pipeline stages: durable writes and renames.

/**
 * fsync a directory so that renames and new entries in it survive a power cut.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syncDir } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "x");
 * await syncDir(dir); // the new entry survives a power cut
 * await assert.rejects(syncDir(`${dir}/missing`), Deno.errors.NotFound);
 * ```
 */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/**
 * fsync every regular file and directory under `dir` (and `dir` itself), so that a tree copied
 * into place survives a power cut whole. Symlinks are not followed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { syncTree } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/lib/deep`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/lib/deep/file`, "x");
 * await Deno.symlink("nowhere", `${dir}/dangling`); // not followed, so no error
 * await syncTree(dir);
 * await assert.rejects(syncTree(`${dir}/missing`), Deno.errors.NotFound);
 * ```
 */
export async function syncTree(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      await syncTree(path);
    } else if (entry.isFile) {
      using file = await Deno.open(path, { read: true });
      await file.sync();
    }
  }
  await syncDir(dir);
}

/**
 * The directory part of a path ("." when there is none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dirOf } from "./fs.ts";
 * assert.equal(dirOf("/opt/ms11/current"), "/opt/ms11");
 * assert.equal(dirOf("/current"), "/");
 * assert.equal(dirOf("current"), ".");
 * ```
 */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * The last part of a path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseOf } from "./fs.ts";
 * assert.equal(baseOf("/opt/ms11/current"), "current");
 * assert.equal(baseOf("current"), "current");
 * ```
 */
export function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * A unique temporary sibling name for `path` (same directory, so a rename is atomic).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tempSibling } from "./fs.ts";
 * const tmp = tempSibling("/opt/ms11/state.json");
 * assert.match(tmp, new RegExp(`^/opt/ms11/\\.state\\.json\\.${Deno.pid}\\.[0-9a-z]+\\.tmp$`));
 * assert.notEqual(tempSibling("/opt/ms11/state.json"), tmp);
 * ```
 */
export function tempSibling(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${dirOf(path)}/.${baseOf(path)}.${Deno.pid}.${rand}.tmp`;
}

/**
 * Rename `from` over `to` and fsync the directory. Never unlinks first; a cross-device rename
 * is an error, never a copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renameDurable } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/new`, "2");
 * await Deno.writeTextFile(`${dir}/old`, "1");
 * await renameDurable(`${dir}/new`, `${dir}/old`);
 * assert.equal(await Deno.readTextFile(`${dir}/old`), "2");
 * await assert.rejects(renameDurable(`${dir}/new`, `${dir}/old`), Deno.errors.NotFound);
 * ```
 */
export async function renameDurable(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch (error) {
    if (error instanceof Error && /cross-device|EXDEV/i.test(error.message)) {
      throw new Error(`Cannot move ${from} to ${to}: they are on different filesystems`);
    }
    throw error;
  }
  await syncDir(dirOf(to));
  if (dirOf(from) !== dirOf(to)) await syncDir(dirOf(from));
}

/**
 * Options of {@linkcode writeFileAtomic}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic, type WriteFileAtomicOptions } from "./fs.ts";
 * const path = `${await Deno.makeTempDir()}/secret`;
 * const options: WriteFileAtomicOptions = { mode: 0o600 };
 * await writeFileAtomic(path, "token", options);
 * assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
 * ```
 */
export interface WriteFileAtomicOptions {
  /** File mode of the new file (default 0o644). */
  mode?: number;
}

/**
 * Write `data` to `path` atomically and durably: temp file in the same directory, fsync, rename
 * over the target, fsync the directory. A crash leaves either the old or the new content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeFileAtomic } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/state.json`, "{}");
 * await writeFileAtomic(`${dir}/state.json`, new TextEncoder().encode('{"v":2}'));
 * assert.equal(await Deno.readTextFile(`${dir}/state.json`), '{"v":2}');
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["state.json"]); // no temp file left
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const tmp = tempSibling(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(tmp, {
    write: true,
    createNew: true,
    mode: options.mode ?? 0o644,
  });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  file.close();
  try {
    await renameDurable(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/**
 * Remove a path if it exists; other errors propagate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists, removeIfExists } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/tree/sub`, { recursive: true });
 * await removeIfExists(`${dir}/missing`); // not there: fine
 * await assert.rejects(removeIfExists(`${dir}/tree`), { code: "ENOTEMPTY" }); // other errors propagate
 * await removeIfExists(`${dir}/tree`, true);
 * assert.equal(await exists(`${dir}/tree`), false);
 * ```
 */
export async function removeIfExists(path: string, recursive = false): Promise<void> {
  try {
    await Deno.remove(path, { recursive });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Whether a path exists (does not follow a final symlink).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exists } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.symlink("nowhere", `${dir}/dangling`);
 * assert.equal(await exists(`${dir}/dangling`), true); // the link itself exists
 * assert.equal(await exists(`${dir}/nowhere`), false);
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
