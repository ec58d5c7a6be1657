// Private file-system helpers shared by the pipeline stages: durable writes and renames.
import { faultPoint } from "./fault.ts";

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
 * `error` as the one line a full disk deserves, naming what was being written and where
 * (`Cannot write the state file /r/state.json: no space left on device`), its `code` still
 * `ENOSPC`; any other error as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noSpaceError } from "./fs.ts";
 * const full = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * const error = noSpaceError(full, "the state file /r/state.json") as Error & { code: string };
 * assert.equal(error.message, "Cannot write the state file /r/state.json: no space left on device");
 * assert.equal(error.code, "ENOSPC");
 * const other = new Error("Permission denied");
 * assert.equal(noSpaceError(other, "the state file /r/state.json"), other);
 * ```
 */
export function noSpaceError(error: unknown, what: string, detail = ""): unknown {
  if ((error as { code?: unknown })?.code !== "ENOSPC") return error;
  if ((error as Error).message.startsWith("Cannot write ")) return error; // said already
  return Object.assign(
    new Error(`Cannot write ${what}: no space left on device${detail ? ` (${detail})` : ""}`, {
      cause: error,
    }),
    { code: "ENOSPC" },
  );
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
  /** File mode of the new file (default 0o644), set exactly whatever the umask. */
  mode?: number;
  /** What the file is, for a full disk's message (default `the file <path>`). */
  what?: string;
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
  const what = options.what ?? `the file ${path}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
  } catch (error) {
    throw noSpaceError(error, what);
  }
  try {
    // The umask may have taken bits away (a state file must stay readable by `status`).
    await Deno.chmod(tmp, options.mode ?? 0o644);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw noSpaceError(error, what);
  }
  file.close();
  faultPoint("during-write"); // the temporary file written, not renamed yet
  try {
    await renameDurable(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw noSpaceError(error, what);
  }
}

/** The error for a symbolic link found at `path`, where none may be. */
async function symlinkRefusal(path: string): Promise<Error> {
  const target = await Deno.readLink(path).catch(() => "?");
  return new Error(
    `Refusing to open ${path}: it is a symbolic link (to ${JSON.stringify(target)})`,
  );
}

/**
 * Throw when `path` is a symbolic link (naming it and where it leads); nothing there, or
 * anything else, is fine.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refuseSymlink } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await refuseSymlink(`${dir}/missing`);
 * await Deno.symlink("/etc/passwd", `${dir}/link`);
 * await assert.rejects(refuseSymlink(`${dir}/link`), {
 *   message: `Refusing to open ${dir}/link: it is a symbolic link (to "/etc/passwd")`,
 * });
 * ```
 */
export async function refuseSymlink(path: string): Promise<void> {
  try {
    if ((await Deno.lstat(path)).isSymlink) throw await symlinkRefusal(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Options of {@linkcode openNoFollow}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OpenNoFollowOptions } from "./fs.ts";
 * const options: OpenNoFollowOptions = { append: true, create: true, mode: 0o600 };
 * assert.equal(options.mode, 0o600);
 * ```
 */
export interface OpenNoFollowOptions {
  /** Open for reading. */
  read?: boolean;
  /** Open for writing. */
  write?: boolean;
  /** Open for appending. */
  append?: boolean;
  /** Create the file when it does not exist (with `mode`). */
  create?: boolean;
  /** Mode of a file created (default 0o600; the umask can only take bits away). */
  mode?: number;
}

/**
 * Open the regular file `path` without following a symbolic link at `path` itself. A new file is
 * created exclusively (`O_EXCL`, which never follows a link); an existing one is looked at with
 * `lstat`, opened, and its device and inode compared with what was looked at, so that a link
 * put there in between is caught too. Throws when `path` is a symbolic link or not a regular
 * file, naming it. (The folders above `path` are followed: callers check those.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openNoFollow } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * {
 *   using file = await openNoFollow(`${dir}/log`, { append: true, create: true });
 *   await file.write(new TextEncoder().encode("line\n"));
 * }
 * await Deno.symlink(`${dir}/log`, `${dir}/link`);
 * await assert.rejects(
 *   openNoFollow(`${dir}/link`, { append: true, create: true }),
 *   { message: `Refusing to open ${dir}/link: it is a symbolic link (to ${JSON.stringify(`${dir}/log`)})` },
 * );
 * ```
 */
export async function openNoFollow(
  path: string,
  options: OpenNoFollowOptions,
): Promise<Deno.FsFile> {
  const { create = false, mode = 0o600, ...access } = options;
  if (create) {
    try {
      return await Deno.open(path, { ...access, createNew: true, mode });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  const before = await Deno.lstat(path);
  if (before.isSymlink) throw await symlinkRefusal(path);
  if (!before.isFile) throw new Error(`Refusing to open ${path}: it is not a regular file`);
  const file = await Deno.open(path, access);
  const after = await file.stat();
  if (after.ino !== before.ino || after.dev !== before.dev) {
    file.close();
    throw new Error(`Refusing to open ${path}: it was replaced while being opened`);
  }
  return file;
}

/**
 * What identifies one file on disk across renames: its device and inode, and its size and
 * modification time (which writing to it changes). Null fields where the system has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileIdentity, type FileIdentity } from "./fs.ts";
 * const path = await Deno.makeTempFile();
 * const identity: FileIdentity = fileIdentity(await Deno.lstat(path));
 * assert.equal(identity.size, 0);
 * ```
 */
export interface FileIdentity {
  /** The device. */
  dev: number | null;
  /** The inode. */
  ino: number | null;
  /** The length in bytes. */
  size: number;
  /** The modification time, in milliseconds since the epoch. */
  mtimeMs: number | null;
}

/**
 * The {@linkcode FileIdentity} of a file from its `stat`/`lstat`/`FsFile.stat()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileIdentity, sameFile } from "./fs.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "abc");
 * const before = fileIdentity(await Deno.lstat(`${dir}/a`));
 * await Deno.rename(`${dir}/a`, `${dir}/b`); // a rename keeps the identity
 * assert.ok(sameFile(before, fileIdentity(await Deno.lstat(`${dir}/b`))));
 * await Deno.writeTextFile(`${dir}/b`, "abcd");
 * assert.ok(!sameFile(before, fileIdentity(await Deno.lstat(`${dir}/b`))));
 * ```
 */
export function fileIdentity(info: Deno.FileInfo): FileIdentity {
  return {
    dev: info.dev ?? null,
    ino: info.ino ?? null,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? null,
  };
}

/**
 * Whether two identities are of the same, unchanged file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameFile } from "./fs.ts";
 * const a = { dev: 1, ino: 2, size: 3, mtimeMs: 4 };
 * assert.ok(sameFile(a, { ...a }));
 * assert.ok(!sameFile(a, { ...a, ino: 5 }));
 * ```
 */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
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
