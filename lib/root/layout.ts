/**
 * Where the install root is and where things live inside it. Nothing here writes to the disk.
 *
 * ```
 * <root>/
 *   builds/<version>/     each verified build; backups are simply the non-current ones
 *   current -> builds/<v> symlink: what launchers start; swapped by one atomic rename
 *   state.json            versioned state: staged build, build records, last check and error
 *   downloads/            partial downloads
 *   data/                 the application's user data: never touched by apply, rollback, pruning
 *   logs/audit.jsonl      append-only record of every decision
 *   lock                  held by every mutating command
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
