/**
 * Backups are the builds in `builds/` that are neither current nor staged. They are listed
 * newest first (by when they were last current) and pruned oldest first.
 *
 * @module
 */
import { removeIfExists, syncDir } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import { appendAudit } from "./audit.ts";
import { buildDir, currentVersion, isBuildName, type Layout } from "./layout.ts";
import { trimLifecycle } from "./lifecycle.ts";
import { type State, writeState } from "./state.ts";

/** One backup build. */
export interface Backup {
  /** Its version. */
  version: string;
  /** The channel it came from, when known. */
  channel: string | null;
  /** When it was installed, when known. */
  installed_at: string | null;
  /** When it last stopped being current, when known. */
  retired_at: string | null;
}

/**
 * The backups of an install root, newest first: most recently retired first, then builds that
 * never ran (by installed time), then by version.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * import { listBackups } from "./backups.ts";
 * import { emptyState } from "./state.ts";
 * console.assert((await listBackups(layoutOf("/nonexistent"), emptyState())).length === 0);
 * ```
 */
export async function listBackups(layout: Layout, state: State): Promise<Backup[]> {
  const current = await currentVersion(layout);
  const backups: Backup[] = [];
  try {
    for await (const entry of Deno.readDir(layout.builds)) {
      if (!entry.isDirectory || !isBuildName(entry.name)) {
        continue;
      }
      if (entry.name === current || entry.name === state.staged?.version) continue;
      const record = state.builds[entry.name];
      backups.push({
        version: entry.name,
        channel: record?.channel ?? null,
        installed_at: record?.installed_at ?? null,
        retired_at: record?.retired_at ?? null,
      });
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const key = (b: Backup) => b.retired_at ?? "";
  return backups.sort((a, b) =>
    key(b).localeCompare(key(a)) ||
    (b.installed_at ?? "").localeCompare(a.installed_at ?? "") ||
    b.version.localeCompare(a.version, "en", { numeric: true })
  );
}

/** Options of {@linkcode pruneBackups}. */
export interface PruneOptions {
  /** How many backups to keep. */
  keep: number;
  /** The time recorded in the audit log (default now). */
  at?: string;
}

/**
 * Remove the oldest backups beyond `keep`, and their records, and record the removal in the audit
 * log; returns the versions removed.
 * The fallback of a build on trial is never removed (it is what an automatic rollback needs).
 * Only `builds/<version>` directories are touched: user data never is. The caller holds the lock.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * import { pruneBackups } from "./backups.ts";
 * import { emptyState } from "./state.ts";
 * const removed = await pruneBackups(layoutOf(await Deno.makeTempDir()), emptyState(), { keep: 2 });
 * console.assert(removed.length === 0);
 * ```
 */
export async function pruneBackups(
  layout: Layout,
  state: State,
  options: PruneOptions,
): Promise<string[]> {
  const backups = await listBackups(layout, state);
  const doomed = backups.slice(options.keep).map((b) => b.version)
    .filter((v) => v !== state.trial?.from);
  if (doomed.length === 0) return [];
  // Forget the records first: a crash mid-removal leaves a half-removed directory that is
  // recognisably not a usable backup only if the record is gone.
  for (const version of doomed) delete state.builds[version];
  // Their lifecycle is kept only while it matters: a rejected or held version stays skipped.
  state.lifecycle = trimLifecycle(state.lifecycle, new Set(Object.keys(state.builds)));
  await writeState(layout, state);
  for (const version of doomed) {
    // Rename out of the way first so a half-removed directory is never taken for a build.
    const dir = buildDir(layout, version);
    const trash = `${layout.builds}/.trash-${version}-${Date.now()}`;
    await Deno.rename(dir, trash);
    faultPoint("during-prune");
    await removeIfExists(trash, true);
  }
  await syncDir(layout.builds);
  await appendAudit(layout, {
    at: options.at ?? new Date().toISOString(),
    event: "pruned",
    reason: `more than ${options.keep} backups`,
    versions: doomed,
  });
  return doomed;
}
