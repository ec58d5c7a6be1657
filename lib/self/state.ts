/**
 * The updater's own state (`<root>/updater/state.json`): the candidate waiting for its trial at
 * the next launch, the kept copies of updaters (`<root>/updater/<version>/`, each with the
 * SHA-256 of its files), which version was put at the launcher's path last and which one it
 * replaced, the versions refused, and the last thing that happened.
 *
 * Versioned like every state file (docs/ARCHITECTURE.md, "State compatibility"): an older
 * schema is read, a newer one is refused with a clear error and never written; top-level fields
 * this version does not know are kept as they are when it rewrites the file, so that an older
 * updater (after a rollback) loses nothing a newer one wrote. Parsed defensively (records that do
 * not fit are dropped and reported), written atomically.
 *
 * @module
 */
import { writeFileAtomic } from "../core/fs.ts";
import { ensureDir, MODES, openInRoot, ownerProblem, refuseLinks } from "../root/safe.ts";
import { isNonEmptyString as str, isObject, isSha256Hex } from "../core/validate.ts";
import { isBuildName, type Layout } from "../root/layout.ts";

/**
 * The schema of the updater's state this version reads and writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptySelfState, SELF_STATE_SCHEMA } from "./state.ts";
 * assert.equal(emptySelfState().schema, SELF_STATE_SCHEMA);
 * ```
 */
export const SELF_STATE_SCHEMA = 1;

/**
 * Where the updater keeps its files in an install root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { selfPaths } from "./state.ts";
 * assert.deepEqual(selfPaths(layoutOf("/opt/ms11")), {
 *   dir: "/opt/ms11/updater",
 *   state: "/opt/ms11/updater/state.json",
 * });
 * ```
 */
export function selfPaths(layout: Layout): { dir: string; state: string } {
  return { dir: `${layout.root}/updater`, state: `${layout.root}/updater/state.json` };
}

/**
 * The folder of a kept updater.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { keptDir } from "./state.ts";
 * assert.equal(keptDir(layoutOf("/opt/ms11"), "0.2.0"), "/opt/ms11/updater/0.2.0");
 * ```
 */
export function keptDir(layout: Layout, version: string): string {
  return `${selfPaths(layout).dir}/${version}`;
}

/**
 * An updater kept in `<root>/updater/<version>/`: the candidate, the one at the launcher's path,
 * or the one it replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KeptUpdater } from "./state.ts";
 * const kept: KeptUpdater = {
 *   version: "0.2.0", kind: "executable", entry: "ms11-update",
 *   files: { "ms11-update": "a".repeat(64) }, sha256: "a".repeat(64), channel: "stable",
 *   kept_at: "2026-11-27T09:00:00Z",
 * };
 * assert.ok(kept.entry in kept.files);
 * ```
 */
export interface KeptUpdater {
  /** Its version. */
  version: string;
  /** `executable` or `bundle`. */
  kind: "executable" | "bundle";
  /** The file the launcher's path receives (`ms11-update`, or the bundle's `main.js`). */
  entry: string;
  /** SHA-256 of each of its files, by name (the entry's included; a bundle's chunks beside it). */
  files: Record<string, string>;
  /** SHA-256 of the artifact it was made from (null: copied from the running updater). */
  sha256: string | null;
  /** The channel it came from (null: copied from the running updater). */
  channel: string | null;
  /** When it was kept. */
  kept_at: string;
}

/**
 * A version refused: it failed its trial, or was rolled back from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RefusedUpdater } from "./state.ts";
 * const r: RefusedUpdater = { version: "0.2.0", reason: "exited with code 1 before it started", at: "2026-11-27T09:00:00Z" };
 * assert.equal(r.version, "0.2.0");
 * ```
 */
export interface RefusedUpdater {
  /** The version. */
  version: string;
  /** Why. */
  reason: string;
  /** When. */
  at: string;
}

/**
 * The last change of the launcher's updater, or the last trial that failed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfEvent } from "./state.ts";
 * const e: SelfEvent = { event: "promoted", version: "0.2.0", from: "0.1.0", at: "2026-11-27T09:00:00Z", reason: "started under ms11-update apply" };
 * assert.equal(e.event, "promoted");
 * ```
 */
export interface SelfEvent {
  /** `promoted` (a candidate passed its trial), `failed` (it did not), `rolled_back`. */
  event: "promoted" | "failed" | "rolled_back";
  /** The version concerned. */
  version: string;
  /** The version that was at the launcher's path before. */
  from: string;
  /** When. */
  at: string;
  /** Why. */
  reason: string;
}

/**
 * The candidate waiting for its trial. Only the updater that staged it (that version, at that
 * path) hands a launch to it: an updater replaced meanwhile (by another install root sharing
 * the launcher's path) leaves it alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StagedUpdater } from "./state.ts";
 * const staged: StagedUpdater = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z",
 *   by: "0.1.0", path: "/opt/ms11/bin/ms11-update" };
 * assert.equal(staged.by, "0.1.0");
 * ```
 */
export interface StagedUpdater {
  /** The candidate's version (kept in `<root>/updater/<version>/`). */
  version: string;
  /** The channel it came from. */
  channel: string;
  /** When it was staged. */
  staged_at: string;
  /** The version of the updater that staged it. */
  by: string;
  /** The launcher's path of the updater that staged it. */
  path: string;
}

/**
 * The updater's state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptySelfState, type SelfState } from "./state.ts";
 * const state: SelfState = emptySelfState();
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z",
 *   by: "0.1.0", path: "/opt/ms11/bin/ms11-update" };
 * assert.equal(state.staged.version, "0.2.0");
 * ```
 */
export interface SelfState {
  /** {@linkcode SELF_STATE_SCHEMA}. */
  schema: number;
  /** The candidate: verified, smoke-tested, kept, waiting for its trial at the next launch. */
  staged: StagedUpdater | null;
  /** The kept updaters, by version. */
  kept: Record<string, KeptUpdater>;
  /** The launcher's path the updater was last put at (null: never replaced). */
  path: string | null;
  /** The version put there last. */
  current: string | null;
  /** The version it replaced (kept, for `self rollback`). */
  previous: string | null;
  /** Versions not to stage again (until `self update --force`). */
  refused: RefusedUpdater[];
  /** The last promotion, failed trial or rollback. */
  last: SelfEvent | null;
  /** Top-level fields of a newer version, written back as they were. */
  other: Record<string, unknown>;
}

/**
 * A fresh, empty updater state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptySelfState } from "./state.ts";
 * assert.deepEqual(emptySelfState(), {
 *   schema: 1, staged: null, kept: {}, path: null, current: null, previous: null, refused: [],
 *   last: null, other: {},
 * });
 * ```
 */
export function emptySelfState(): SelfState {
  return {
    schema: SELF_STATE_SCHEMA,
    staged: null,
    kept: {},
    path: null,
    current: null,
    previous: null,
    refused: [],
    last: null,
    other: {},
  };
}

const KNOWN = new Set([
  "schema",
  "staged",
  "kept",
  "path",
  "current",
  "previous",
  "refused",
  "last",
]);

/** A file name of a kept updater: one path segment, never `.` or `..`. */
function isFileName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(name) && !name.includes("..");
}

function parseKept(version: string, k: unknown): KeptUpdater | null {
  if (
    !isObject(k) || k.version !== version || !isBuildName(version) ||
    (k.kind !== "executable" && k.kind !== "bundle") || !str(k.entry) || !isFileName(k.entry) ||
    !isObject(k.files) || !(k.sha256 === null || isSha256Hex(k.sha256)) ||
    !(k.channel === null || str(k.channel)) || !str(k.kept_at)
  ) return null;
  const files: Record<string, string> = {};
  for (const [name, digest] of Object.entries(k.files)) {
    if (!isFileName(name) || !isSha256Hex(digest)) return null;
    files[name] = digest;
  }
  if (!(k.entry in files)) return null;
  return {
    version,
    kind: k.kind,
    entry: k.entry,
    files,
    sha256: k.sha256,
    channel: k.channel,
    kept_at: k.kept_at,
  };
}

function nullableVersion(value: unknown): value is string | null {
  return value === null || (str(value) && isBuildName(value));
}

/**
 * Validate a parsed updater state. Entries that do not fit are dropped (and named in the
 * problem); a schema newer than this version's is a `RangeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSelfState } from "./state.ts";
 * const { state, problem } = parseSelfState({ schema: 1, staged: { version: "../x" }, future: [1] }, "s.json");
 * assert.equal(state.staged, null);
 * assert.deepEqual(state.other, { future: [1] }); // kept for the version that wrote it
 * assert.equal(problem, "Updater state s.json had unreadable entries (staged); they were ignored");
 * assert.throws(() => parseSelfState({ schema: 2 }, "s.json"), {
 *   name: "RangeError",
 *   message: "Updater state s.json has schema 2, newer than this ms11-update understands (1); it was written by a newer ms11-update",
 * });
 * ```
 */
export function parseSelfState(
  raw: unknown,
  source: string,
): { state: SelfState; problem: string | null } {
  const state = emptySelfState();
  if (!isObject(raw)) {
    return { state, problem: `Updater state ${source} is not a JSON object; starting afresh` };
  }
  if (!Number.isInteger(raw.schema) || (raw.schema as number) < 1) {
    return { state, problem: `Updater state ${source} has no valid schema; starting afresh` };
  }
  if ((raw.schema as number) > SELF_STATE_SCHEMA) {
    throw new RangeError(
      `Updater state ${source} has schema ${raw.schema}, newer than this ms11-update understands (${SELF_STATE_SCHEMA}); it was written by a newer ms11-update`,
    );
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!KNOWN.has(key)) state.other[key] = value;
  }
  const s = raw.staged;
  if (
    isObject(s) && str(s.version) && isBuildName(s.version) && str(s.channel) &&
    str(s.staged_at) && str(s.by) && str(s.path) && s.path.startsWith("/")
  ) {
    state.staged = {
      version: s.version,
      channel: s.channel,
      staged_at: s.staged_at,
      by: s.by,
      path: s.path,
    };
  } else if (s !== null && s !== undefined) problems.push("staged");
  if (isObject(raw.kept)) {
    for (const [version, k] of Object.entries(raw.kept)) {
      const kept = parseKept(version, k);
      if (kept !== null) state.kept[version] = kept;
      else problems.push(`kept.${version}`);
    }
  } else if (raw.kept !== undefined) problems.push("kept");
  if (raw.path === null || (str(raw.path) && raw.path.startsWith("/"))) state.path = raw.path;
  else if (raw.path !== undefined) problems.push("path");
  for (const key of ["current", "previous"] as const) {
    if (nullableVersion(raw[key])) state[key] = raw[key] as string | null;
    else if (raw[key] !== undefined) problems.push(key);
  }
  if (Array.isArray(raw.refused)) {
    for (const r of raw.refused) {
      if (isObject(r) && str(r.version) && typeof r.reason === "string" && str(r.at)) {
        state.refused.push({ version: r.version, reason: r.reason, at: r.at });
      } else problems.push("refused[]");
    }
  } else if (raw.refused !== undefined) problems.push("refused");
  const l = raw.last;
  if (
    isObject(l) && (l.event === "promoted" || l.event === "failed" || l.event === "rolled_back") &&
    str(l.version) && str(l.from) && str(l.at) && typeof l.reason === "string"
  ) {
    state.last = { event: l.event, version: l.version, from: l.from, at: l.at, reason: l.reason };
  } else if (l !== null && l !== undefined) problems.push("last");
  return {
    state,
    problem: problems.length === 0
      ? null
      : `Updater state ${source} had unreadable entries (${
        problems.join(", ")
      }); they were ignored`,
  };
}

/**
 * Read the updater's state of an install root (missing: empty; garbage: empty with a problem;
 * a newer schema: `RangeError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptySelfState, readSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.deepEqual(await readSelfState(layout), { state: emptySelfState(), problem: null });
 * ```
 */
export async function readSelfState(
  layout: Layout,
): Promise<{ state: SelfState; problem: string | null }> {
  const path = selfPaths(layout).state;
  let text: string;
  let unsafe: ReturnType<typeof ownerProblem>;
  try {
    // Never through a link (lib/root/safe.ts); a file others may write is reported.
    using file = await openInRoot(layout, path, { read: true });
    unsafe = ownerProblem("Updater state", path, await file.stat());
    text = await readText(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return { state: emptySelfState(), problem: null };
    }
    throw error;
  }
  if (unsafe !== null) {
    throw new Error(
      `${unsafe.problem}; refusing to use it${unsafe.fix === null ? "" : `: run ${unsafe.fix}`}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      state: emptySelfState(),
      problem: `Updater state ${path} is not valid JSON; starting afresh`,
    };
  }
  return parseSelfState(raw, path);
}

/** All of an open file, as text. */
async function readText(file: Deno.FsFile): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text + decoder.decode();
}

/**
 * Make `<root>/updater/` (mode 0755, like `builds/`) or check that it is a real folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { ensureSelfDir, selfPaths } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await ensureSelfDir(layout);
 * assert.equal((await Deno.stat(selfPaths(layout).dir)).mode! & 0o777, 0o755);
 * ```
 */
export async function ensureSelfDir(layout: Layout): Promise<void> {
  await ensureDir(layout, selfPaths(layout).dir, MODES.builds);
}

/**
 * Write the updater's state atomically (the fields of a newer version it kept, included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptySelfState, readSelfState, selfPaths, writeSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptySelfState();
 * state.other = { from_the_future: { x: 1 } };
 * state.previous = "0.1.0";
 * await writeSelfState(layout, state);
 * assert.deepEqual((await readSelfState(layout)).state, state);
 * assert.equal(JSON.parse(await Deno.readTextFile(selfPaths(layout).state)).from_the_future.x, 1);
 * ```
 */
export async function writeSelfState(layout: Layout, state: SelfState): Promise<void> {
  const path = selfPaths(layout).state;
  await ensureSelfDir(layout);
  await refuseLinks(layout, path);
  const { other, ...known } = state;
  await writeFileAtomic(path, JSON.stringify({ ...other, ...known }, null, 2) + "\n", {
    mode: MODES.state,
    what: `the updater state ${path}`,
  });
}
