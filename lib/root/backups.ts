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
import { refuseLinks } from "./safe.ts";

/**
 * One backup build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Backup, listBackups } from "./backups.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/0.9.0`, { recursive: true }); // no record in the state
 * const [backup]: Backup[] = await listBackups(layout, emptyState());
 * assert.deepEqual(backup, { version: "0.9.0", channel: null, installed_at: null, retired_at: null });
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { listBackups } from "./backups.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await Deno.symlink("builds/1.2.0", layout.current);
 * const state = emptyState();
 * const record = (version: string, retired_at: string) => ({
 *   version, channel: "stable", sha256: null, kind: "executable", installed_at: "2026-01-01T00:00:00Z", retired_at,
 * });
 * state.builds["1.0.0"] = record("1.0.0", "2026-02-01T00:00:00Z");
 * state.builds["1.1.0"] = record("1.1.0", "2026-03-01T00:00:00Z");
 * // 1.2.0 is current: not a backup; the most recently retired comes first.
 * assert.deepEqual((await listBackups(layout, state)).map((b) => b.version), ["1.1.0", "1.0.0"]);
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

/**
 * Options of {@linkcode pruneBackups}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { pruneBackups, type PruneOptions } from "./backups.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await Deno.symlink("builds/1.2.0", layout.current);
 * const state = emptyState();
 * const record = (version: string, retired_at: string) => ({
 *   version, channel: "stable", sha256: null, kind: "executable", installed_at: "2026-01-01T00:00:00Z", retired_at,
 * });
 * state.builds["1.0.0"] = record("1.0.0", "2026-02-01T00:00:00Z");
 * state.builds["1.1.0"] = record("1.1.0", "2026-03-01T00:00:00Z");
 * const options: PruneOptions = { keep: 0, at: "2026-04-01T00:00:00Z" };
 * assert.deepEqual(await pruneBackups(layout, state, options), ["1.1.0", "1.0.0"]);
 * assert.equal((await readAudit(layout))[0].at, "2026-04-01T00:00:00Z");
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { pruneBackups } from "./backups.ts";
 * import { exists } from "../core/fs.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0", "1.2.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await Deno.symlink("builds/1.2.0", layout.current);
 * const state = emptyState();
 * const record = (version: string, retired_at: string) => ({
 *   version, channel: "stable", sha256: null, kind: "executable", installed_at: "2026-01-01T00:00:00Z", retired_at,
 * });
 * state.builds["1.0.0"] = record("1.0.0", "2026-02-01T00:00:00Z");
 * state.builds["1.1.0"] = record("1.1.0", "2026-03-01T00:00:00Z");
 * assert.deepEqual(await pruneBackups(layout, state, { keep: 1 }), ["1.0.0"]);
 * assert.equal(await exists(`${layout.builds}/1.0.0`), false);
 * assert.equal(state.builds["1.0.0"], undefined);
 * assert.deepEqual((await readAudit(layout)).map((e) => [e.event, e.versions]), [["pruned", ["1.0.0"]]]);
 * assert.deepEqual(await pruneBackups(layout, state, { keep: 1 }), []); // nothing more to remove
 * ```
 */
export async function pruneBackups(
  layout: Layout,
  state: State,
  options: PruneOptions,
): Promise<string[]> {
  await refuseLinks(layout, layout.builds);
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
    await refuseLinks(layout, dir);
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
