/**
 * Where the install root is, where things live inside it, and whether there is an install there.
 * Nothing here writes to the disk.
 *
 * ```
 * <root>/
 *   builds/<version>/     each verified build; backups are simply the non-current ones
 *   current -> builds/<v> symlink: what launchers start; swapped by one atomic rename
 *   state.json            versioned state: staged build, build records, last check and error
 *   trust.json            trust state: last manifest accepted per channel, rotated keys
 *   trust.json.bak        its verified backup copy (lib/root/trust_state.ts)
 *   downloads/            partial downloads
 *   data/                 the application's user data: never touched by apply, rollback, pruning
 *   logs/audit.jsonl      append-only record of every decision
 *   lock                  held by every mutating command (lock.guard: see lib/root/lock.ts)
 * ```
 *
 * @module
 */

/**
 * Paths inside an install root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Layout, layoutOf } from "./layout.ts";
 * const layout: Layout = layoutOf("/opt/ms11");
 * assert.equal(layout.state, "/opt/ms11/state.json");
 * assert.equal(layout.audit, "/opt/ms11/logs/audit.jsonl");
 * ```
 */
export interface Layout {
  /** The install root. */
  root: string;
  /** Directory of builds, one per version. */
  builds: string;
  /** The `current` symlink. */
  current: string;
  /** The state file. */
  state: string;
  /** The trust file (rollback protection, rotated keys). */
  trust: string;
  /** The trust file's backup copy. */
  trustBackup: string;
  /** Partial and finished downloads. */
  downloads: string;
  /** User data, never touched by the updater. */
  data: string;
  /** The install lock file. */
  lock: string;
  /** The audit log (JSON lines). */
  audit: string;
}

/**
 * The layout of an install root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * assert.deepEqual(layoutOf("/opt/ms11"), {
 *   root: "/opt/ms11",
 *   builds: "/opt/ms11/builds",
 *   current: "/opt/ms11/current",
 *   state: "/opt/ms11/state.json",
 *   trust: "/opt/ms11/trust.json",
 *   trustBackup: "/opt/ms11/trust.json.bak",
 *   downloads: "/opt/ms11/downloads",
 *   data: "/opt/ms11/data",
 *   lock: "/opt/ms11/lock",
 *   audit: "/opt/ms11/logs/audit.jsonl",
 * });
 * ```
 */
export function layoutOf(root: string): Layout {
  return {
    root,
    builds: `${root}/builds`,
    current: `${root}/current`,
    state: `${root}/state.json`,
    trust: `${root}/trust.json`,
    trustBackup: `${root}/trust.json.bak`,
    downloads: `${root}/downloads`,
    data: `${root}/data`,
    lock: `${root}/lock`,
    audit: `${root}/logs/audit.jsonl`,
  };
}

/**
 * The install root: the flag, else `$MS11_UPDATE_ROOT`, else the config's `install_root`, else
 * `$XDG_DATA_HOME/ms11` (`~/.local/share/ms11`; `%LOCALAPPDATA%\ms11` on Windows).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveRoot } from "./layout.ts";
 * const env = { MS11_UPDATE_ROOT: "/srv/ms11/", HOME: "/home/ada" };
 * assert.equal(resolveRoot("/opt/ms11", env, "/etc-root"), "/opt/ms11");
 * assert.equal(resolveRoot(undefined, env, "/etc-root"), "/srv/ms11");
 * assert.equal(resolveRoot(undefined, { HOME: "/home/ada" }, null), "/home/ada/.local/share/ms11");
 * ```
 */
export function resolveRoot(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  configured: string | null,
): string {
  const root = flag || env.MS11_UPDATE_ROOT || configured ||
    `${
      env.XDG_DATA_HOME || env.LOCALAPPDATA || (env.HOME ? `${env.HOME}/.local/share` : ".")
    }/ms11`;
  return root.length > 1 ? root.replace(/\/+$/, "") : root;
}

/**
 * Whether `name` can name a build directory: the characters of a semver version, never `.` or
 * `..`, so that `builds/<name>` stays inside `builds/` whatever a damaged state file says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBuildName } from "./layout.ts";
 * assert.equal(isBuildName("1.5.0-canary.20261126.3+linux"), true);
 * assert.equal(isBuildName("../../x"), false);
 * assert.equal(isBuildName(".."), false);
 * ```
 */
export function isBuildName(name: string): boolean {
  return /^[0-9A-Za-z][0-9A-Za-z.+-]{0,127}$/.test(name) && !name.includes("..");
}

/**
 * The directory of one build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildDir, layoutOf } from "./layout.ts";
 * assert.equal(buildDir(layoutOf("/r"), "1.0.0"), "/r/builds/1.0.0");
 * ```
 */
export function buildDir(layout: Layout, version: string): string {
  return `${layout.builds}/${version}`;
}

/**
 * The version the `current` link points at, or null when there is no current build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentVersion, layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(await currentVersion(layout), null);
 * await Deno.symlink("builds/1.1.0", layout.current);
 * assert.equal(await currentVersion(layout), "1.1.0");
 * ```
 */
export async function currentVersion(layout: Layout): Promise<string | null> {
  try {
    const target = await Deno.readLink(layout.current);
    return target.slice(target.lastIndexOf("/") + 1) || null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Why there is no install at `layout.root`, or null when there is one: the root is a folder
 * holding a `current` link, a state file or a `builds/` folder. Only `install` sets one up; every
 * other command says so instead of creating folders at a mistyped path. Reads only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installProblem, layoutOf } from "./layout.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await installProblem(layoutOf(`${dir}/nope`)), "it does not exist");
 * assert.equal(await installProblem(layoutOf(dir)), "the folder holds no install");
 * await Deno.mkdir(`${dir}/builds`);
 * assert.equal(await installProblem(layoutOf(dir)), null);
 * const file = await Deno.makeTempFile();
 * assert.equal(await installProblem(layoutOf(file)), "it is a file, not a folder");
 * ```
 */
export async function installProblem(layout: Layout): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(layout.root);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "it does not exist";
    if (error instanceof Deno.errors.NotADirectory) return "a folder above it is a file";
    throw error;
  }
  if (!info.isDirectory) return "it is a file, not a folder";
  for (const path of [layout.current, layout.state, layout.builds]) {
    try {
      await Deno.lstat(path);
      return null;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return "the folder holds no install";
}

/**
 * Throw an `Error` naming the root and why when there is no install at `layout.root` (see
 * {@linkcode installProblem}), pointing at `install` and at where the root comes from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf, requireInstall } from "./layout.ts";
 * const dir = await Deno.makeTempDir();
 * await assert.rejects(requireInstall(layoutOf(`${dir}/typo`)), {
 *   message: `No install at ${dir}/typo: it does not exist (ms11-update install sets one up; the root comes from --root, $MS11_UPDATE_ROOT or install_root)`,
 * });
 * ```
 */
export async function requireInstall(layout: Layout): Promise<void> {
  const problem = await installProblem(layout);
  if (problem === null) return;
  const hint = problem === "it does not exist" || problem === "the folder holds no install"
    ? " (ms11-update install sets one up; the root comes from --root, $MS11_UPDATE_ROOT or install_root)"
    : "";
  throw new Error(`No install at ${layout.root}: ${problem}${hint}`);
}
