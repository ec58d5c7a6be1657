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

/** Paths inside an install root. */
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
 * import { layoutOf } from "./layout.ts";
 * console.assert(layoutOf("/opt/ms11").current === "/opt/ms11/current");
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
 * import { resolveRoot } from "./layout.ts";
 * console.assert(resolveRoot(undefined, { MS11_UPDATE_ROOT: "/opt/ms11" }, null) === "/opt/ms11");
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
 * import { isBuildName } from "./layout.ts";
 * console.assert(isBuildName("1.5.0-canary.20261126.3+linux"));
 * console.assert(!isBuildName("../../x"));
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
 * import { buildDir, layoutOf } from "./layout.ts";
 * console.assert(buildDir(layoutOf("/r"), "1.0.0") === "/r/builds/1.0.0");
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
 * import { currentVersion, layoutOf } from "./layout.ts";
 * console.assert(await currentVersion(layoutOf("/nonexistent")) === null);
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
