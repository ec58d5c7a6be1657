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
import { isObject } from "../core/validate.ts";
import { currentVersion, type Layout } from "./layout.ts";
import type { LifecycleRecord } from "./lifecycle.ts";
import type { BadDeltaRecord, DownloadRecord } from "./_state_delta.ts";
import type {
  BuildRecord,
  CheckRecord,
  ControlsRecord,
  ErrorRecord,
  JournalRecord,
  ManifestCacheRecord,
  StagedRecord,
  TrialRecord,
} from "./_state_records.ts";
import { emptyState, parseState } from "./_state_parse.ts";
import { MODES, openInRoot, ownerProblem, refuseLinks } from "./safe.ts";

export type { BadDeltaRecord, DownloadRecord } from "./_state_delta.ts";
export type { LifecycleRecord, RejectedRecord } from "./lifecycle.ts";
export type {
  BuildRecord,
  CheckRecord,
  ControlsRecord,
  ErrorRecord,
  JournalRecord,
  ManifestCacheRecord,
  RolloutRecord,
  StagedRecord,
  TrialRecord,
  YankRecord,
} from "./_state_records.ts";
export { emptyState, parseState, type ParseStateOptions, STATE_SCHEMA } from "./_state_parse.ts";

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
  /** Each channel's yanked versions and minimum version, from its newest accepted manifest. */
  controls?: Record<string, ControlsRecord>;
}

/**
 * Whether `apply` has work to do in `state`: a staged build, a build on trial (its launches are
 * counted), an interrupted swap, or the `current` build (its version) yanked by its channel (it
 * is left: lib/root/yank.ts). Launchers run `apply` at every start; when this is false it changes
 * nothing and needs no lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyPending, emptyState } from "./state.ts";
 * assert.equal(applyPending(emptyState()), false);
 * const staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z" };
 * assert.equal(applyPending({ ...emptyState(), staged }), true);
 * const state = emptyState();
 * state.builds["1.1.0"] = { version: "1.1.0", channel: "stable", sha256: null, kind: "executable",
 *   installed_at: "2026-11-01T00:00:00Z", retired_at: null };
 * const at = "2026-12-01T00:00:00Z";
 * state.controls = { stable: { checked_at: at, minimum_version: null,
 *   yanked: [{ version: "1.1.0", reason: "crashes", at }] } };
 * assert.equal(applyPending(state, "1.1.0"), true); // current 1.1.0 is yanked: leave it
 * assert.equal(applyPending(state, "1.0.0"), false);
 * ```
 */
export function applyPending(state: State, current: string | null = null): boolean {
  return state.staged !== null || state.trial !== undefined || state.journal !== undefined ||
    yankOf(state, current) !== null;
}

/**
 * A build the publisher yanked, as {@linkcode yankOf} finds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { YankedBuild } from "./state.ts";
 * const yanked: YankedBuild = { version: "1.1.0", channel: "stable", reason: "crashes", at: "2026-12-01T00:00:00Z" };
 * assert.equal(yanked.channel, "stable");
 * ```
 */
export interface YankedBuild {
  /** Its version. */
  version: string;
  /** The channel it came from, which yanked it. */
  channel: string;
  /** The publisher's reason. */
  reason: string;
  /** When it was yanked. */
  at: string;
}

/**
 * Whether the build `version` is yanked: by the channel it came from (its build record's, or the
 * staged record's), as that channel's newest accepted manifest says. Null when it is not (or
 * `version` is null, or its channel is not known). Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyState, yankOf } from "./state.ts";
 * const state = emptyState();
 * state.builds["1.1.0"] = { version: "1.1.0", channel: "stable", sha256: null, kind: "executable",
 *   installed_at: "2026-11-01T00:00:00Z", retired_at: null };
 * const yank = { version: "1.1.0", reason: "crashes", at: "2026-12-01T00:00:00Z" };
 * state.controls = { canary: { checked_at: yank.at, yanked: [yank], minimum_version: null } };
 * assert.equal(yankOf(state, "1.1.0"), null); // yanked on canary, not on the build's channel
 * state.controls.stable = state.controls.canary;
 * assert.deepEqual(yankOf(state, "1.1.0"), { ...yank, channel: "stable" });
 * ```
 */
export function yankOf(state: State, version: string | null): YankedBuild | null {
  if (version === null || state.controls === undefined) return null;
  const channel = state.builds[version]?.channel ??
    (state.staged?.version === version ? state.staged.channel : null);
  if (channel === null || !Object.hasOwn(state.controls, channel)) return null;
  const yank = state.controls[channel].yanked.find((y) => y.version === version);
  return yank === undefined ? null : { version, channel, reason: yank.reason, at: yank.at };
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
