/**
 * The records of the state file (`<root>/state.json`): what is known about each build, the staged
 * build, the last check and error, the cached manifests, the build on trial and the swap journal.
 * Types only; lib/root/state.ts re-exports them with the whole document.
 *
 * @module
 */

/**
 * What is known about one build in `builds/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BuildRecord, parseState } from "./state.ts";
 * const build: BuildRecord = {
 *   version: "1.1.0",
 *   channel: "stable",
 *   sha256: "a".repeat(64),
 *   kind: "executable",
 *   installed_at: "2026-11-27T09:00:00.000Z",
 *   retired_at: null,
 * };
 * const { state } = parseState({ schema: 1, builds: { "1.1.0": build, "2.0.0": build } }, "s");
 * assert.deepEqual(state.builds, { "1.1.0": build }); // filed under another version: dropped
 * ```
 */
export interface BuildRecord {
  /** The build's version. */
  version: string;
  /** The channel it came from (`adopted` for a build adopted by `install --adopt`). */
  channel: string;
  /** SHA-256 of the artifact it was made from (null for an adopted build). */
  sha256: string | null;
  /** `executable`, `tar.gz`, `zip` or `directory` (adopted). */
  kind: string;
  /** When it was verified and placed in `builds/`. */
  installed_at: string;
  /** When it last stopped being current (null: never current, or current now). */
  retired_at: string | null;
  /**
   * The seal: SHA-256 over the build's files as staged (see `sealOf`, made from what was
   * verified and written). Absent for adopted builds. For a build staged by an older version
   * (no `stat_sha256`), checked again before the build is swapped in.
   */
  tree_sha256?: string;
  /**
   * The stat stamp of the build as staged (see `statStamp`: every entry's type, mode, size,
   * times and inode), checked before it is swapped in, without reading any file.
   */
  stat_sha256?: string;
}

/**
 * The build waiting for the next launch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseState, type StagedRecord } from "./state.ts";
 * const staged: StagedRecord = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z" };
 * assert.deepEqual(parseState({ schema: 1, staged }, "s").state.staged, staged);
 * const escaping = parseState({ schema: 1, staged: { ...staged, version: "../../etc" } }, "s");
 * assert.equal(escaping.state.staged, null);
 * ```
 */
export interface StagedRecord {
  /** Its version (a directory in `builds/`). */
  version: string;
  /** The channel it came from. */
  channel: string;
  /** When it was staged. */
  staged_at: string;
}

/**
 * The last update check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckRecord, parseState } from "./state.ts";
 * const last_check: CheckRecord = {
 *   at: "2026-11-27T09:00:00.000Z",
 *   channel: "stable",
 *   current: "1.0.0",
 *   available: "1.1.0",
 *   decision: "update",
 * };
 * assert.deepEqual(parseState({ schema: 1, last_check }, "s").state.last_check, last_check);
 * ```
 */
export interface CheckRecord {
  /** When it ran. */
  at: string;
  /** The channel checked. */
  channel: string;
  /** The installed version then. */
  current: string | null;
  /** The channel's newest version. */
  available: string;
  /** What was decided. */
  decision: string;
  /** The channel's staged rollout as it applied to this install (absent: none). */
  rollout?: RolloutRecord;
}

/**
 * A staged rollout as a check found it for this install (docs/UPDATE_POLICY.md, "Staged rollouts
 * (client)").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutRecord } from "./state.ts";
 * const rollout: RolloutRecord = { newest: "1.1.0", offered: "previous", in_cohort: false,
 *   share_basis_points: 1000, paused: false, yanked: [], minimum_version: null,
 *   reason: "outside the cohort (10%)" };
 * assert.equal(rollout.share_basis_points / 100, 10);
 * ```
 */
export interface RolloutRecord {
  /** The manifest's newest release. */
  newest: string;
  /** Which release this install was offered. */
  offered: "newest" | "previous" | "none";
  /** Whether this install is in the newest release's cohort. */
  in_cohort: boolean;
  /** The share of installs admitted then, in basis points (10000 = 100%). */
  share_basis_points: number;
  /** Whether the rollout was paused. */
  paused: boolean;
  /** The versions the manifest yanked. */
  yanked: string[];
  /** Installs below it update at once (null: none). */
  minimum_version: string | null;
  /** Why, in a phrase. */
  reason: string;
}

/** A rollout record read defensively: null when it does not fit. */

/**
 * The last failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ErrorRecord, parseState } from "./state.ts";
 * const last_error: ErrorRecord = { at: "2026-11-27T09:00:00Z", command: "update", message: "Offline" };
 * assert.deepEqual(parseState({ schema: 1, last_error }, "s").state.last_error, last_error);
 * ```
 */
export interface ErrorRecord {
  /** When it happened. */
  at: string;
  /** The command that failed. */
  command: string;
  /** Its message. */
  message: string;
}

/**
 * A channel's manifest as last fetched, so that the next check can ask "changed since?"
 * (`If-None-Match` / `If-Modified-Since`) and a 304 costs no body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ManifestCacheRecord, parseState } from "./state.ts";
 * const record: ManifestCacheRecord = {
 *   url: "https://updates.ms11.com/stable/manifest.json",
 *   etag: '"66f1-2a"',
 *   last_modified: null,
 *   body: "{}",
 *   checked_at: "2026-11-27T09:00:00.000Z",
 * };
 * const kept = parseState({ schema: 1, manifests: { stable: record } }, "s");
 * assert.deepEqual(kept.state.manifests.stable, record);
 * const huge = parseState({ schema: 1, manifests: { stable: { ...record, body: "x".repeat(70_000) } } }, "s");
 * assert.deepEqual(huge.state.manifests, {}); // larger than any manifest: not kept
 * ```
 */
export interface ManifestCacheRecord {
  /** The manifest URL asked for. */
  url: string;
  /** The response's ETag, if any. */
  etag: string | null;
  /** The response's Last-Modified, if any. */
  last_modified: string | null;
  /** The manifest document as received (UTF-8 text, at most the manifest size cap). */
  body: string;
  /** When the channel was last checked (a 200 or a 304). */
  checked_at: string;
}

/**
 * A build on trial: swapped in, not yet confirmed healthy. Each launch counts an attempt; after
 * `health.max_attempts` launches without `confirm`, the next `apply` rolls back to `from`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPending, emptyState, type TrialRecord } from "./state.ts";
 * const trial: TrialRecord = {
 *   version: "1.1.0",
 *   from: "1.0.0",
 *   channel: "stable",
 *   started_at: "2026-11-27T09:00:00Z",
 *   attempts: 1,
 * };
 * assert.equal(applyPending({ ...emptyState(), trial }), true); // its launches are counted
 * ```
 */
export interface TrialRecord {
  /** The build on trial (current). */
  version: string;
  /** The build to roll back to (the last one known good), or null when there is none. */
  from: string | null;
  /** The channel the build came from. */
  channel: string;
  /** When it was swapped in. */
  started_at: string;
  /** Launches counted so far (1 after the apply that swapped it in). */
  attempts: number;
}

/**
 * The swap journal: written (atomically, fsynced) before `current` is renamed, cleared once the
 * swap is recorded. Its presence at start-up means a swap was interrupted: every command first
 * finishes it (or undoes it when its target is gone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPending, emptyState, type JournalRecord } from "./state.ts";
 * const journal: JournalRecord = {
 *   op: "apply",
 *   from: "1.0.0",
 *   to: "1.1.0",
 *   at: "2026-11-27T09:00:00Z",
 *   reason: "staged",
 *   bad: false,
 * };
 * assert.equal(applyPending({ ...emptyState(), journal }), true); // an interrupted swap to finish
 * ```
 */
export interface JournalRecord {
  /** `apply` (a staged build goes in) or `rollback` (a backup comes back). */
  op: "apply" | "rollback";
  /** The build current before. */
  from: string | null;
  /** The build being made current. */
  to: string;
  /** When the swap began. */
  at: string;
  /** Why, for the audit log (and, for a rollback, the rejection). */
  reason: string;
  /**
   * For a rollback: reject `from` (an automatic rollback, or `rollback --reject`); otherwise
   * `from` is held back from updates when `hold` says so.
   */
  bad: boolean;
  /**
   * For a rollback that rejects nothing: hold `from` back from updates (it is newer than `to`:
   * an update would bring it back). Absent: true.
   */
  hold?: boolean;
  /**
   * For a rollback: made by the launcher or the health check, not asked for by a person (the
   * audit log's `automatic`). Absent: not known (a journal written before this field).
   */
  automatic?: boolean;
}

/**
 * A version the publisher yanked on a channel, with why (docs/UPDATE_POLICY.md, "Yanked builds
 * and minimum versions").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { YankRecord } from "./state.ts";
 * const yank: YankRecord = { version: "1.1.0", reason: "crashes at start", at: "2026-12-01T00:00:00Z" };
 * assert.equal(yank.reason, "crashes at start");
 * ```
 */
export interface YankRecord {
  /** The version yanked. */
  version: string;
  /** The publisher's reason (from the signed manifest: escape before showing it). */
  reason: string;
  /** When it was yanked. */
  at: string;
}

/**
 * A channel's fleet controls as its newest accepted manifest set them: kept so that the launcher
 * leaves a yanked build offline, and so that an unattended run below the minimum version checks
 * whatever the interval.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState, parseState, type ControlsRecord } from "./state.ts";
 * const stable: ControlsRecord = { checked_at: "2026-12-01T00:00:00Z",
 *   yanked: [{ version: "1.1.0", reason: "crashes at start", at: "2026-12-01T00:00:00Z" }],
 *   minimum_version: "1.0.5" };
 * assert.deepEqual(parseState({ ...emptyState(), controls: { stable } }, "s").state.controls, { stable });
 * ```
 */
export interface ControlsRecord {
  /** When the manifest that said so was accepted. */
  checked_at: string;
  /** The versions it yanks. */
  yanked: YankRecord[];
  /** Installs below it update at once (null: none). */
  minimum_version: string | null;
}
