/**
 * The only code that changes what "current" is. `current` is a symlink to `builds/<version>`;
 * a swap creates a new link beside it and renames it over `current` (atomic: there is never a
 * moment without a launchable `current`), then fsyncs the root.
 *
 * `applyStaged` is the launcher's hook at every start: with nothing staged it reads one small
 * file and returns, without taking the lock or importing anything heavy.
 *
 * @module
 */
import { exists, renameDurable, tempSibling } from "./_fs.ts";
import { appendAudit } from "./audit.ts";
import { pruneBackups } from "./backups.ts";
import { buildDir, currentVersion, type Layout } from "./layout.ts";
import { acquireLock, readState, type State, writeState } from "./state.ts";

/**
 * Point `current` at `builds/<version>` atomically and durably.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * import { switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * console.assert(await Deno.readLink(layout.current) === "builds/1.0.0");
 * ```
 */
export async function switchCurrent(layout: Layout, version: string): Promise<void> {
  const dir = buildDir(layout, version);
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new Error(`Cannot switch to ${version}: build ${dir} is missing`);
  const link = tempSibling(layout.current);
  await Deno.symlink(`builds/${version}`, link);
  try {
    await renameDurable(link, layout.current);
  } catch (error) {
    await Deno.remove(link).catch(() => {});
    throw error;
  }
}

/** Options of {@linkcode applyStaged}. */
export interface ApplyOptions {
  /** The time to record (default now). */
  now?: Date;
  /** Backups to keep after the swap (default 2). */
  keepBackups?: number;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
}

/** What `applyStaged` did. */
export interface ApplyResult {
  /** Whether a build was swapped in. */
  applied: boolean;
  /** The version current before. */
  from: string | null;
  /** The version current after. */
  to: string | null;
  /** Backups removed by pruning. */
  pruned: string[];
  /** A problem with the state file, when there was one. */
  problem: string | null;
}

/**
 * Record in `state` that `from` stopped being current and `to` became it.
 *
 * @example
 * ```ts
 * import { emptyState } from "./state.ts";
 * import { recordSwap } from "./swap.ts";
 * const state = emptyState();
 * state.builds["1.0.0"] = { version: "1.0.0", channel: "stable", sha256: null, kind: "executable",
 *   installed_at: "2026-11-01T00:00:00Z", retired_at: null };
 * recordSwap(state, "1.0.0", "1.1.0", "2026-11-27T00:00:00Z");
 * console.assert(state.builds["1.0.0"].retired_at === "2026-11-27T00:00:00Z");
 * ```
 */
export function recordSwap(state: State, from: string | null, to: string, at: string): void {
  if (from !== null && from !== to && state.builds[from]) state.builds[from].retired_at = at;
  if (state.builds[to]) state.builds[to].retired_at = null;
}

/**
 * Swap the staged build in, if there is one, keeping the replaced build as a backup and pruning
 * backups beyond `keepBackups`. With nothing staged it returns at once. Idempotent: an apply
 * interrupted after the swap but before the state write finishes on the next run.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * import { applyStaged } from "./swap.ts";
 * const result = await applyStaged(layoutOf(await Deno.makeTempDir()));
 * console.assert(result.applied === false);
 * ```
 */
export async function applyStaged(
  layout: Layout,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const first = await readState(layout);
  if (first.state.staged === null) {
    const v = await currentVersion(layout);
    return { applied: false, from: v, to: v, pruned: [], problem: first.problem };
  }
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state, problem } = await readState(layout);
  const from = await currentVersion(layout);
  const staged = state.staged;
  if (staged === null) return { applied: false, from, to: from, pruned: [], problem };
  const at = (options.now ?? new Date()).toISOString();
  if (!(await exists(buildDir(layout, staged.version)))) {
    state.staged = null;
    state.last_error = {
      at,
      command: "apply",
      message: `Staged build ${staged.version} is missing from ${layout.builds}; nothing applied`,
    };
    await writeState(layout, state);
    throw new Error(state.last_error.message);
  }
  if (from !== staged.version) await switchCurrent(layout, staged.version);
  recordSwap(state, from, staged.version, at);
  state.staged = null;
  await writeState(layout, state);
  await appendAudit(layout, {
    at,
    event: "applied",
    reason: "staged build swapped in at launch",
    from,
    to: staged.version,
  });
  const pruned = await pruneBackups(layout, state, { keep: options.keepBackups ?? 2 });
  if (pruned.length > 0) {
    await appendAudit(layout, {
      at,
      event: "pruned",
      reason: `more than ${options.keepBackups ?? 2} backups`,
      versions: pruned,
    });
  }
  return { applied: from !== staged.version, from, to: staged.version, pruned, problem };
}
