/**
 * The install root's file rules: it is no trampoline (nothing written, appended, truncated,
 * renamed or removed inside it follows a symbolic link the updater did not make; `current` is
 * the one link it owns), and what it creates is owner-only where that matters, whatever the
 * umask. A root, folder or file of the updater writable by other users, or owned by another user,
 * is refused the way ssh refuses a writable `~/.ssh`. docs/SECURITY.md ("The local user") says
 * what each rule defends.
 *
 * Modes (set exactly, not through the umask):
 *
 * | path                            | mode | why                                               |
 * | ------------------------------- | ---- | ------------------------------------------------- |
 * | the root, when ms11-update makes it | 0700 | a per-user install; any mode without group/other write is accepted (0755 for a shared one) |
 * | `builds/`, each `builds/<v>/`   | 0755 | the users of a shared install run the application |
 * | `state.json`, `trust.json(.bak)` | 0644 | nothing secret; `status` by the users of a shared install |
 * | `lock`, `lock.guard`            | 0600 | whoever can open them can hold them and block updates |
 * | `downloads/` and what is in it  | 0700, 0600 | bytes not verified yet                       |
 * | `logs/`, `logs/audit.jsonl`     | 0700, 0600 | URLs, errors and decisions of the owner      |
 *
 * The root itself may be a symbolic link (to put it on another disk): it is followed like any
 * folder above the root, provided the link belongs to this user (or to root) and the folder it
 * leads to passes the same owner and mode checks. Inside the root no other link is followed.
 *
 * These checks run before each operation: against links present before a command they are
 * exact; against another user racing a command they rely on that user being unable to write in
 * the root at all, which the mode checks ensure.
 *
 * @module
 */
import { dirOf, openNoFollow, type OpenNoFollowOptions } from "../core/fs.ts";
import type { Layout } from "./layout.ts";

/**
 * The modes of what the updater creates in an install root (see the table above).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MODES } from "./safe.ts";
 * assert.equal(MODES.root, 0o700);
 * assert.equal(MODES.privateFile & 0o077, 0); // owner-only
 * assert.equal(MODES.builds & 0o022, 0); // nobody else writes a build
 * ```
 */
export const MODES = {
  /** A root made by ms11-update: owner-only. */
  root: 0o700,
  /** `builds/` and each build folder. */
  builds: 0o755,
  /** The owner-only folders (`downloads/`, `logs/`). */
  privateDir: 0o700,
  /** The owner-only files (`lock`, `lock.guard`, downloads, the audit log). */
  privateFile: 0o600,
  /** `state.json`. */
  state: 0o644,
} as const;

/** Mode bits that let other users write. */
const OTHERS_WRITE = 0o022;

/** The mode's permission bits, as `chmod` takes them (e.g. `0777`). */
function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** This process's user id (null where there is none, on Windows). */
function myUid(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null;
  }
}

/** `lstat`, or null when nothing is there. */
async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The error for a symbolic link found at `path` inside the root. */
async function linkError(path: string): Promise<Error> {
  const target = await Deno.readLink(path).catch(() => "?");
  return new Error(
    `Refusing to use ${path}: it is a symbolic link (to ${
      JSON.stringify(target)
    }), and nothing in the install root but current may be one; remove it`,
  );
}

/**
 * Refuse (throw, naming it) when `path` or a folder between the install root and it is a
 * symbolic link; `current` is allowed only as `path` itself (it is renamed over, never written
 * through). A part that does not exist ends the walk: it will be created, and creations never
 * follow links. A path outside the root is a programming error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { refuseLinks } from "./safe.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await refuseLinks(layout, `${layout.downloads}/1.1.0.bin.partial`); // nothing there yet: fine
 * await Deno.symlink("/tmp", layout.downloads);
 * await assert.rejects(refuseLinks(layout, `${layout.downloads}/1.1.0.bin.partial`), {
 *   message: `Refusing to use ${layout.downloads}: it is a symbolic link (to "/tmp"), and ` +
 *     "nothing in the install root but current may be one; remove it",
 * });
 * ```
 */
export async function refuseLinks(layout: Layout, path: string): Promise<void> {
  const root = layout.root;
  if (!path.startsWith(`${root}/`)) {
    throw new RangeError(`Path ${path} is not inside the install root ${root}`);
  }
  const parts = path.slice(root.length + 1).split("/").filter((p) => p !== "");
  let at = root;
  for (const [i, part] of parts.entries()) {
    at = `${at}/${part}`;
    const info = await lstatOrNull(at);
    if (info === null) return;
    if (info.isSymlink && !(at === layout.current && i === parts.length - 1)) {
      throw await linkError(at);
    }
  }
}

/**
 * What makes the file or folder `info` (`what`, at `path`) unsafe to use: it belongs to another
 * user (not root), or group or others may write it; with the command that fixes it, when there
 * is one. Null when it is fine (and always on systems without Unix owners and modes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownerProblem } from "./safe.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.chmod(path, 0o666);
 * assert.deepEqual(ownerProblem("State file", path, await Deno.lstat(path)), {
 *   problem: `State file ${path} is writable by other users (mode 0666)`,
 *   fix: `chmod go-w ${path}`,
 * });
 * await Deno.chmod(path, 0o644);
 * assert.equal(ownerProblem("State file", path, await Deno.lstat(path)), null);
 * ```
 */
export function ownerProblem(
  what: string,
  path: string,
  info: Deno.FileInfo,
): { problem: string; fix: string | null } | null {
  const uid = myUid();
  if (uid !== null && info.uid !== null && info.uid !== uid && info.uid !== 0) {
    return {
      problem: `${what} ${path} belongs to uid ${info.uid}, not to this user (uid ${uid})`,
      fix: null,
    };
  }
  if (info.mode !== null && (info.mode & OTHERS_WRITE) !== 0 && !info.isSymlink) {
    return {
      problem: `${what} ${path} is writable by other users (mode ${octal(info.mode)})`,
      fix: `chmod go-w ${path}`,
    };
  }
  return null;
}

/** Throw the refusal for an unsafe owner or mode, if there is one. */
function refuseUnsafe(what: string, path: string, info: Deno.FileInfo): void {
  const found = ownerProblem(what, path, info);
  if (found === null) return;
  throw new Error(
    `${found.problem}; refusing to use it${found.fix === null ? "" : `: run ${found.fix}`}`,
  );
}

/**
 * Create the install root when it is missing: each missing folder above it with mode 0755, the
 * root itself with {@linkcode MODES}.root, whatever the umask. An existing root is left as it is
 * (see {@linkcode checkRoot}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { ensureRoot } from "./safe.ts";
 * const layout = layoutOf(`${await Deno.makeTempDir()}/a/ms11`);
 * await ensureRoot(layout);
 * assert.equal((await Deno.stat(layout.root)).mode! & 0o777, 0o700);
 * assert.equal((await Deno.stat(`${layout.root}/..`)).mode! & 0o777, 0o755);
 * ```
 */
export async function ensureRoot(layout: Layout): Promise<void> {
  const missing: string[] = [];
  for (let dir = layout.root; dir !== "/" && dir !== "." && dir !== ""; dir = dirOf(dir)) {
    if (await lstatOrNull(dir) !== null) break;
    missing.unshift(dir);
  }
  for (const dir of missing) {
    const mode = dir === layout.root ? MODES.root : 0o755;
    try {
      await Deno.mkdir(dir, { mode });
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue; // made meanwhile: checked later
      throw error;
    }
    await Deno.chmod(dir, mode);
  }
}

/**
 * Refuse an install root that another user could tamper with, before a command changes it:
 * the root (followed when it is a symbolic link that this user or root owns) must be a folder
 * that this user (or root) owns and that group and others cannot write; so must `builds/`,
 * `downloads/`, `logs/`, `state.json`, `lock`, `lock.guard` and the audit log where they exist,
 * none of which may be a symbolic link, and nothing in `builds/` or `downloads/` may be one
 * either. The message names the path, its mode or owner, and the fix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { checkRoot, ensureRoot } from "./safe.ts";
 * const layout = layoutOf(`${await Deno.makeTempDir()}/ms11`);
 * await ensureRoot(layout);
 * await checkRoot(layout);
 * await Deno.chmod(layout.root, 0o777);
 * await assert.rejects(checkRoot(layout), {
 *   message: `Install root ${layout.root} is writable by other users (mode 0777); ` +
 *     `refusing to use it: run chmod go-w ${layout.root}`,
 * });
 * ```
 */
export async function checkRoot(layout: Layout): Promise<void> {
  const root = layout.root;
  const link = await lstatOrNull(root);
  if (link === null) throw new Deno.errors.NotFound(`Install root ${root} does not exist`);
  if (link.isSymlink) refuseUnsafe("Install root link", root, link);
  const info = link.isSymlink ? await Deno.stat(root) : link;
  if (!info.isDirectory) throw new Error(`Install root ${root} is not a directory`);
  refuseUnsafe("Install root", root, info);
  const entries: [string, string][] = [
    ["Folder", layout.builds],
    ["Folder", layout.downloads],
    ["Folder", dirOf(layout.audit)],
    ["State file", layout.state],
    ["Trust file", layout.trust],
    ["Trust file", layout.trustBackup],
    ["Lock file", layout.lock],
    ["Lock file", `${layout.lock}.guard`],
    ["Audit log", layout.audit],
  ];
  for (const [what, path] of entries) {
    await refuseLinks(layout, path);
    const entry = await lstatOrNull(path);
    if (entry !== null) refuseUnsafe(what, path, entry);
  }
  // Nothing in builds/ or downloads/ is a link (what the updater makes there never is).
  for (const dir of [layout.builds, layout.downloads]) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isSymlink) throw await linkError(`${dir}/${entry.name}`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

/**
 * Make the folder `dir` inside the root (its parent exists) with exactly `mode`, or check that
 * it is there as a real folder. Refuses a symbolic link on the way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { ensureDir, MODES } from "./safe.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await ensureDir(layout, layout.downloads, MODES.privateDir);
 * await ensureDir(layout, layout.downloads, MODES.privateDir); // there already: fine
 * assert.equal((await Deno.stat(layout.downloads)).mode! & 0o777, 0o700);
 * ```
 */
export async function ensureDir(layout: Layout, dir: string, mode: number): Promise<void> {
  await refuseLinks(layout, dir);
  try {
    await Deno.mkdir(dir, { mode });
    await Deno.chmod(dir, mode);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.lstat(dir);
  if (info.isSymlink) throw await linkError(dir);
  if (!info.isDirectory) throw new Error(`${dir} is in the way: it is not a directory`);
}

/**
 * Open the regular file `path` inside the root without following a symbolic link, on the way
 * ({@linkcode refuseLinks}) or at the file itself (checked again against a swap while opening).
 * A file created gets `options.mode` (default 0600).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { openInRoot } from "./safe.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * {
 *   using file = await openInRoot(layout, layout.lock, { write: true, create: true });
 *   assert.equal((await file.stat()).mode! & 0o777, 0o600);
 * }
 * await Deno.remove(layout.lock);
 * await Deno.symlink("/etc/passwd", layout.lock);
 * await assert.rejects(openInRoot(layout, layout.lock, { write: true, create: true }), {
 *   message: `Refusing to use ${layout.lock}: it is a symbolic link (to "/etc/passwd"), and ` +
 *     "nothing in the install root but current may be one; remove it",
 * });
 * ```
 */
export async function openInRoot(
  layout: Layout,
  path: string,
  options: OpenNoFollowOptions,
): Promise<Deno.FsFile> {
  await refuseLinks(layout, path);
  return await openNoFollow(path, options);
}
