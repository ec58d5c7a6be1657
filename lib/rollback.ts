/**
 * Rolling back by hand: restore the newest (or a named) backup. The build it replaces is kept as
 * a backup and is not installed again by updates until a newer release appears (or `--force`).
 *
 * @module
 */
import { appendAudit } from "./audit.ts";
import { listBackups } from "./backups.ts";
import { currentVersion, type Layout } from "./layout.ts";
import { acquireLock, readState, writeState } from "./state.ts";
import { recordSwap, switchCurrent } from "./swap.ts";

/** Options of {@linkcode rollback}. */
export interface RollbackOptions {
  /** The backup to restore (default: the one most recently current). */
  to?: string;
  /** The time to record (default now). */
  now?: Date;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /** Why (recorded with the version rolled back from). */
  reason?: string;
}

/** What `rollback` did. */
export interface RollbackResult {
  /** The version current before. */
  from: string;
  /** The version current now. */
  to: string;
  /** A staged build that was cancelled, if there was one. */
  cancelledStaged: string | null;
}

/**
 * Restore a backup. Throws a `RangeError` when there is no backup (or not the named one),
 * listing the backups there are; a staged build is cancelled, so that the next launch does not
 * undo the rollback.
 *
 * @example
 * ```ts
 * import { layoutOf } from "./layout.ts";
 * import { rollback } from "./rollback.ts";
 * await rollback(layoutOf(await Deno.makeTempDir())).catch((e) => console.assert(e instanceof Error));
 * ```
 */
export async function rollback(
  layout: Layout,
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state } = await readState(layout);
  const from = await currentVersion(layout);
  if (from === null) {
    throw new Error(`Nothing is installed in ${layout.root}; nothing to roll back`);
  }
  const backups = await listBackups(layout, state);
  // By default: the newest backup that ran before and was not itself rolled back from, so that
  // rolling back twice goes further back instead of flipping, and never forward to a build
  // that never ran.
  const rejected = (version: string) =>
    state.rejected.some((r) =>
      r.version === version && r.channel === state.builds[version]?.channel
    );
  const target = options.to === undefined
    ? backups.find((b) => b.retired_at !== null && !rejected(b.version))
    : backups.find((b) => b.version === options.to);
  if (target === undefined) {
    const have = backups.map((b) => b.version).join(", ");
    throw new RangeError(
      options.to === undefined
        ? `No backup to roll back to in ${layout.root}${
          have ? ` (backups: ${have}; they never ran or were rolled back from: use --to)` : ""
        }`
        : options.to === from
        ? `${from} is already the current build`
        : `No backup ${options.to} in ${layout.root} (backups: ${have || "none"})`,
    );
  }
  const at = (options.now ?? new Date()).toISOString();
  await switchCurrent(layout, target.version);
  recordSwap(state, from, target.version, at);
  const cancelledStaged = state.staged?.version ?? null;
  state.staged = null;
  const channel = state.builds[from]?.channel ?? "unknown";
  state.rejected = state.rejected.filter((r) => !(r.version === from && r.channel === channel));
  state.rejected.push({
    version: from,
    channel,
    reason: options.reason ?? `rolled back to ${target.version} by hand`,
    at,
  });
  await writeState(layout, state);
  await appendAudit(layout, {
    at,
    event: "rolled_back",
    reason: options.reason ?? "by hand",
    from,
    to: target.version,
    cancelled_staged: cancelledStaged,
  });
  return { from, to: target.version, cancelledStaged };
}
