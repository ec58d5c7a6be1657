/**
 * The versioned state file (`<root>/state.json`).
 *
 * The filesystem is the truth for what is current (the `current` link) and which builds exist
 * (`builds/`); the state file adds what files cannot say: the staged build, when each build was
 * installed and retired, the last check and the last error. It is parsed defensively (garbage
 * gives an empty state and a problem to report, never a crash) and written atomically. It holds
 * no security state: what protects against rollback and retired keys is in `trust.json`
 * (lib/root/trust_state.ts), which fails closed, so that this file may start afresh.
 *
 * @module
 */
import { writeFileAtomic } from "../core/fs.ts";
import { jsonText } from "../core/text.ts";
import { isChannelName, isNonEmptyString as str, isObject, isSha256Hex } from "../core/validate.ts";
import { currentVersion, isBuildName, type Layout } from "./layout.ts";
import { BUILD_STATES, type BuildState, type LifecycleRecord } from "./lifecycle.ts";
import { migrateV1 } from "./_state_migrate.ts";
import { type BadDeltaRecord, type DownloadRecord, parseDeltaRecords } from "./_state_delta.ts";
export type { BadDeltaRecord, DownloadRecord } from "./_state_delta.ts";
import { MODES, openInRoot, ownerProblem, refuseLinks } from "./safe.ts";

export type { LifecycleRecord, RejectedRecord } from "./lifecycle.ts";

/**
 * The state schema this client writes. Schema 1 (a `rejected` list instead of `lifecycle`) is
 * read and converted; a newer schema is refused, so that no client rewrites (and loses) what it
 * does not understand.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState, parseState, STATE_SCHEMA } from "./state.ts";
 * assert.equal(emptyState().schema, STATE_SCHEMA);
 * assert.throws(() => parseState({ schema: STATE_SCHEMA + 1 }, "state.json"), RangeError);
 * ```
 */
export const STATE_SCHEMA = 2;

/** Longest cached manifest body kept (characters): the manifest size cap is 64 KiB. */
const MAX_CACHED_MANIFEST_CHARS = 65_536;

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
function parseRolloutRecord(r: unknown): RolloutRecord | null {
  if (
    !isObject(r) || !str(r.newest) ||
    !["newest", "previous", "none"].includes(r.offered as string) ||
    typeof r.in_cohort !== "boolean" || !Number.isInteger(r.share_basis_points) ||
    typeof r.paused !== "boolean" || !Array.isArray(r.yanked) || !r.yanked.every(str) ||
    !nullableStr(r.minimum_version) || !str(r.reason)
  ) return null;
  return {
    newest: r.newest,
    offered: r.offered as RolloutRecord["offered"],
    in_cohort: r.in_cohort,
    share_basis_points: r.share_basis_points as number,
    paused: r.paused,
    yanked: [...r.yanked] as string[],
    minimum_version: r.minimum_version,
    reason: r.reason,
  };
}

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
 * The whole state document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, readState, type State, writeState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state: State = emptyState();
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z" };
 * await writeState(layout, state);
 * assert.deepEqual(await readState(layout), { state, problem: null });
 * ```
 */
export interface State {
  /** Schema version ({@linkcode STATE_SCHEMA}). */
  schema: number;
  /** The staged build, if any. */
  staged: StagedRecord | null;
  /** Records of the builds in `builds/`, by version. */
  builds: Record<string, BuildRecord>;
  /** The last check. */
  last_check: CheckRecord | null;
  /** The last error. */
  last_error: ErrorRecord | null;
  /** The lifecycle of each build (lib/root/lifecycle.ts): its state, and whether it is held. */
  lifecycle: LifecycleRecord[];
  /** The last manifest fetched per channel (absent from state files of older clients). */
  manifests: Record<string, ManifestCacheRecord>;
  /**
   * Legacy: the trust state as clients before `trust.json` kept it, carried through unchanged
   * (never parsed here, never used for trust) until the first locked check moves it to
   * `trust.json` (lib/root/trust_state.ts) and drops it. Absent from state files since.
   */
  trusted?: unknown;
  /** The build on trial, when the current build has not been confirmed yet. */
  trial?: TrialRecord;
  /** An interrupted swap, when there is one. */
  journal?: JournalRecord;
  /** Deltas that failed, not tried again (lib/root/_state_delta.ts). */
  bad_deltas?: BadDeltaRecord[];
  /** How the last staged build was obtained: a delta or the full download. */
  last_download?: DownloadRecord;
}

/**
 * A fresh, empty state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState } from "./state.ts";
 * assert.deepEqual(emptyState(), {
 *   schema: 2,
 *   staged: null,
 *   builds: {},
 *   last_check: null,
 *   last_error: null,
 *   lifecycle: [],
 *   manifests: {},
 * });
 * assert.notEqual(emptyState().builds, emptyState().builds); // a fresh object each time
 * ```
 */
export function emptyState(): State {
  return {
    schema: STATE_SCHEMA,
    staged: null,
    builds: {},
    last_check: null,
    last_error: null,
    lifecycle: [],
    manifests: {},
  };
}

/**
 * Whether `apply` has work to do in `state`: a staged build, a build on trial (its launches are
 * counted) or an interrupted swap. Launchers run `apply` at every start; when this is false it
 * changes nothing and needs no lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPending, emptyState } from "./state.ts";
 * assert.equal(applyPending(emptyState()), false);
 * const staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z" };
 * assert.equal(applyPending({ ...emptyState(), staged }), true);
 * ```
 */
export function applyPending(state: State): boolean {
  return state.staged !== null || state.trial !== undefined || state.journal !== undefined;
}

/**
 * A state read from disk, with any problem found on the way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, type ReadState, readState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.writeTextFile(layout.state, "{ half a file");
 * const read: ReadState = await readState(layout);
 * assert.deepEqual(read, {
 *   state: emptyState(),
 *   problem: `State file ${layout.state} is not valid JSON; starting afresh`,
 * });
 * ```
 */
export interface ReadState {
  /** The state (empty when the file was missing or unreadable). */
  state: State;
  /** Why the file could not be used, when it could not (to report as a warning). */
  problem: string | null;
}

function nullableStr(value: unknown): value is string | null {
  return value === null || str(value);
}

function sameBuild(a: LifecycleRecord, b: LifecycleRecord): boolean {
  return a.version === b.version && a.channel === b.channel;
}

function parseLifecycleRecord(r: unknown): LifecycleRecord | null {
  if (
    !isObject(r) || !str(r.version) || !isBuildName(r.version) || !str(r.channel) ||
    !BUILD_STATES.includes(r.state as BuildState) || !str(r.at) || typeof r.reason !== "string"
  ) return null;
  const h = r.held;
  if (h !== null && !(isObject(h) && str(h.at) && typeof h.reason === "string")) return null;
  return {
    version: r.version,
    channel: r.channel,
    state: r.state as BuildState,
    at: r.at,
    reason: r.reason,
    held: h === null ? null : { at: h.at as string, reason: h.reason as string },
  };
}

/**
 * Options of {@linkcode parseState}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseState, type ParseStateOptions } from "./state.ts";
 * const options: ParseStateOptions = { current: "1.1.0" };
 * const build = { version: "1.1.0", channel: "stable", sha256: null, kind: "executable",
 *   installed_at: "2026-11-01T00:00:00Z", retired_at: null };
 * const raw = { schema: 1, builds: { "1.1.0": build },
 *   rejected: [{ version: "1.1.0", channel: "stable", reason: "crashed", at: "2026-11-02T00:00:00Z" }] };
 * // Rejected in schema 1, but current now (brought back and running): not rejected any more.
 * const [record] = parseState(raw, "state.json", options).state.lifecycle;
 * assert.equal(record.state, "confirmed");
 * ```
 */
export interface ParseStateOptions {
  /**
   * The current build (the `current` link), used only to convert a schema 1 file: a build
   * rejected there that is current again now is not rejected any more.
   */
  current?: string | null;
}

/**
 * Validate a parsed state document. Records that do not fit are dropped one by one (a problem
 * is reported) rather than failing the whole file; a schema newer than this client is an error.
 * A schema 1 document is converted (its `rejected` list becomes lifecycle records, see
 * lib/root/_state_migrate.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseState } from "./state.ts";
 * const { state, problem } = parseState({ schema: 2, staged: 7 }, "state.json");
 * assert.equal(state.staged, null);
 * assert.equal(problem, "State file state.json had unreadable entries (staged); they were ignored");
 * assert.equal(parseState([], "state.json").problem, "State file state.json is not a JSON object; starting afresh");
 * assert.throws(() => parseState({ schema: 3 }, "state.json"), /newer than this ms11-update/);
 * ```
 */
export function parseState(
  raw: unknown,
  source: string,
  options: ParseStateOptions = {},
): ReadState {
  const problems: string[] = [];
  const state = emptyState();
  if (!isObject(raw)) {
    return { state, problem: `State file ${source} is not a JSON object; starting afresh` };
  }
  if (typeof raw.schema !== "number" || !Number.isInteger(raw.schema) || raw.schema < 1) {
    return { state, problem: `State file ${source} has no valid schema; starting afresh` };
  }
  if (raw.schema > STATE_SCHEMA) {
    throw new RangeError(
      `State file ${source} has schema ${raw.schema}, newer than this ms11-update understands (${STATE_SCHEMA}); update ms11-update`,
    );
  }
  const s = raw.staged;
  if (s === null || s === undefined) {
    state.staged = null;
  } else if (
    isObject(s) && str(s.version) && isBuildName(s.version) && str(s.channel) && str(s.staged_at)
  ) {
    state.staged = { version: s.version, channel: s.channel, staged_at: s.staged_at };
  } else problems.push("staged");
  if (isObject(raw.builds)) {
    for (const [version, b] of Object.entries(raw.builds)) {
      if (
        isObject(b) && b.version === version && isBuildName(version) && str(b.channel) &&
        nullableStr(b.sha256) &&
        str(b.kind) && str(b.installed_at) && nullableStr(b.retired_at)
      ) {
        state.builds[version] = {
          version,
          channel: b.channel,
          sha256: b.sha256,
          kind: b.kind,
          installed_at: b.installed_at,
          retired_at: b.retired_at,
        };
        if (isSha256Hex(b.tree_sha256)) {
          state.builds[version].tree_sha256 = b.tree_sha256;
        }
        if (isSha256Hex(b.stat_sha256)) {
          state.builds[version].stat_sha256 = b.stat_sha256;
        }
      } else problems.push(`builds.${version}`);
    }
  } else if (raw.builds !== undefined) problems.push("builds");
  const c = raw.last_check;
  if (
    isObject(c) && str(c.at) && str(c.channel) && nullableStr(c.current) && str(c.available) &&
    str(c.decision)
  ) {
    state.last_check = {
      at: c.at,
      channel: c.channel,
      current: c.current,
      available: c.available,
      decision: c.decision,
    };
    const rollout = c.rollout === undefined ? null : parseRolloutRecord(c.rollout);
    if (rollout !== null) state.last_check.rollout = rollout;
    else if (c.rollout !== undefined) problems.push("last_check.rollout");
  } else if (c !== null && c !== undefined) problems.push("last_check");
  const e = raw.last_error;
  if (isObject(e) && str(e.at) && str(e.command) && typeof e.message === "string") {
    state.last_error = { at: e.at, command: e.command, message: e.message };
  } else if (e !== null && e !== undefined) problems.push("last_error");
  if (isObject(raw.manifests)) {
    for (const [channel, m] of Object.entries(raw.manifests)) {
      if (
        isChannelName(channel) && isObject(m) && str(m.url) &&
        nullableStr(m.etag) && nullableStr(m.last_modified) && typeof m.body === "string" &&
        m.body.length <= MAX_CACHED_MANIFEST_CHARS && str(m.checked_at)
      ) {
        state.manifests[channel] = {
          url: m.url,
          etag: m.etag,
          last_modified: m.last_modified,
          body: m.body,
          checked_at: m.checked_at,
        };
      } else problems.push(`manifests.${channel}`);
    }
  } else if (raw.manifests !== undefined) problems.push("manifests");
  // Security state is not read here: an old client's records go to trust.json as they are.
  if (raw.trusted !== undefined) state.trusted = raw.trusted;
  const t = raw.trial;
  if (
    isObject(t) && str(t.version) && isBuildName(t.version) &&
    (t.from === null || (str(t.from) && isBuildName(t.from))) && str(t.channel) &&
    str(t.started_at) && typeof t.attempts === "number" && Number.isInteger(t.attempts) &&
    t.attempts >= 0
  ) {
    state.trial = {
      version: t.version,
      from: t.from,
      channel: t.channel,
      started_at: t.started_at,
      attempts: t.attempts,
    };
  } else if (t !== null && t !== undefined) problems.push("trial");
  if (raw.schema === 1) {
    state.lifecycle = migrateV1(raw, state, options.current ?? null, problems);
  } else if (Array.isArray(raw.lifecycle)) {
    for (const r of raw.lifecycle) {
      const record = parseLifecycleRecord(r);
      if (record !== null && !state.lifecycle.some((o) => sameBuild(o, record))) {
        state.lifecycle.push(record);
      } else problems.push("lifecycle[]");
    }
  } else if (raw.lifecycle !== undefined) problems.push("lifecycle");
  const j = raw.journal;
  if (
    isObject(j) && (j.op === "apply" || j.op === "rollback") &&
    (j.from === null || (str(j.from) && isBuildName(j.from))) && str(j.to) && isBuildName(j.to) &&
    str(j.at) && typeof j.reason === "string" && typeof j.bad === "boolean"
  ) {
    state.journal = { op: j.op, from: j.from, to: j.to, at: j.at, reason: j.reason, bad: j.bad };
    if (typeof j.hold === "boolean") state.journal.hold = j.hold;
    if (typeof j.automatic === "boolean") state.journal.automatic = j.automatic;
  } else if (j !== null && j !== undefined) problems.push("journal");
  parseDeltaRecords(raw, state, problems);
  return {
    state,
    problem: problems.length === 0
      ? null
      : `State file ${source} had unreadable entries (${problems.join(", ")}); they were ignored`,
  };
}

/** The whole content of an open file, as UTF-8 text. */
async function readAllText(file: Deno.FsFile, size: number): Promise<string> {
  let buffer = new Uint8Array(size + 1);
  let filled = 0;
  while (true) {
    if (filled === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await file.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return new TextDecoder().decode(buffer.subarray(0, filled));
}

/**
 * Read the state file of an install root. A missing file is an empty state; garbage is an
 * empty state with a problem to report; a file that other users may write is read with a
 * problem to report (commands that change the root refuse it). A symbolic link is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, readState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.deepEqual(await readState(layout), { state: emptyState(), problem: null }); // no file yet
 * ```
 */
export async function readState(layout: Layout): Promise<ReadState> {
  let text: string;
  let unsafe: ReturnType<typeof ownerProblem>;
  try {
    using file = await openInRoot(layout, layout.state, { read: true });
    const info = await file.stat();
    unsafe = ownerProblem("State file", layout.state, info);
    text = await readAllText(file, info.size);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { state: emptyState(), problem: null };
    throw error;
  }
  if (unsafe !== null) {
    const read = await parseText(text, layout);
    const warning = `${unsafe.problem}; commands that change the install refuse it${
      unsafe.fix === null ? "" : `: run ${unsafe.fix}`
    }`;
    return { state: read.state, problem: [warning, read.problem].filter((p) => p).join("; ") };
  }
  return await parseText(text, layout);
}

/** Parse the text of a state file. */
async function parseText(text: string, layout: Layout): Promise<ReadState> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      state: emptyState(),
      problem: `State file ${layout.state} is not valid JSON; starting afresh`,
    };
  }
  // Converting a schema 1 file needs to know which build is current.
  const current = isObject(raw) && raw.schema === 1 ? await currentVersion(layout) : undefined;
  return parseState(raw, layout.state, { current });
}

/**
 * Write the state file atomically (temp file, fsync, rename, fsync directory), mode 0644. A
 * symbolic link in its place is refused, not replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, readState, writeState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptyState();
 * state.last_error = { at: "2026-11-27T09:00:00Z", command: "update", message: "Offline" };
 * await writeState(layout, state);
 * assert.deepEqual((await readState(layout)).state, state);
 * assert.ok((await Deno.readTextFile(layout.state)).endsWith("}\n"));
 * ```
 */
export async function writeState(layout: Layout, state: State): Promise<void> {
  await refuseLinks(layout, layout.state);
  await writeFileAtomic(layout.state, jsonText(state, 2) + "\n", {
    mode: MODES.state,
    what: `the state file ${layout.state}`,
  });
}
