/**
 * Reading the state document defensively (lib/root/state.ts re-exports it): the schema, the empty
 * state, and the validation of each record, dropped one by one when it does not fit.
 *
 * @module
 */
import { isChannelName, isNonEmptyString as str, isObject, isSha256Hex } from "../core/validate.ts";
import { isBuildName } from "./layout.ts";
import { BUILD_STATES, type BuildState, type LifecycleRecord } from "./lifecycle.ts";
import { migrateV1 } from "./_state_migrate.ts";
import { parseDeltaRecords } from "./_state_delta.ts";
import type { ControlsRecord, RolloutRecord, YankRecord } from "./_state_records.ts";
import type { ReadState, State } from "./state.ts";

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
    state.lifecycle = migrateV1(raw, {
      state,
      current: options.current ?? null,
      problems,
    });
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
  if (isObject(raw.controls)) {
    const controls: Record<string, ControlsRecord> = {};
    for (const [channel, c] of Object.entries(raw.controls)) {
      const record = isChannelName(channel) ? parseControls(c) : null;
      if (record !== null) controls[channel] = record;
      else problems.push(`controls.${channel}`);
    }
    if (Object.keys(controls).length > 0) state.controls = controls;
  } else if (raw.controls !== undefined) problems.push("controls");
  return {
    state,
    problem: problems.length === 0
      ? null
      : `State file ${source} had unreadable entries (${problems.join(", ")}); they were ignored`,
  };
}

/** Most yanked versions kept per channel (a manifest holds at most 100). */
const MAX_YANKS = 100;

/** A channel's controls read defensively: null when they do not fit. */
function parseControls(c: unknown): ControlsRecord | null {
  if (
    !isObject(c) || !str(c.checked_at) || !Array.isArray(c.yanked) ||
    c.yanked.length > MAX_YANKS || !nullableStr(c.minimum_version)
  ) return null;
  const yanked: YankRecord[] = [];
  for (const y of c.yanked) {
    if (
      !isObject(y) || !str(y.version) || !isBuildName(y.version) || !str(y.reason) || !str(y.at)
    ) {
      return null;
    }
    yanked.push({ version: y.version, reason: y.reason, at: y.at });
  }
  return { checked_at: c.checked_at, yanked, minimum_version: c.minimum_version };
}
