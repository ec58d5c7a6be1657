/**
 * The launcher's quick look: whether `apply` certainly has nothing to do in an install root,
 * decided from the raw text of `state.json`, without loading the state code (lib/root/state.ts
 * and the validation, lifecycle, migration and file-rule modules it brings). Launchers run
 * `apply` at every application start, and nearly always there is nothing to do.
 *
 * It says "idle" only when it is certain: `state.json` is missing (an empty state), or it is a
 * regular file (not a symbolic link, the same file that was opened) that this user or root owns
 * and that group and others cannot write, holding a JSON object of the current schema with
 * `staged` null and no `trial` and no `journal`, and no yanked version (`controls`) that the
 * `current` link names. In every other case (a link, odd modes or owner, damage, another schema,
 * a missing `staged`, anything unreadable) it says "not sure",
 * and the caller reads the state in full (lib/root/state.ts `readState`), which warns or fails
 * as it always does. Records that `apply` does not act on (builds, lifecycle, checks, cached
 * manifests) are left to the commands that use them: they report damage there
 * (docs/ARCHITECTURE.md, "Start-up path").
 *
 * @module
 */
import type { Layout } from "./layout.ts";

/**
 * The schema of `state.json` that {@linkcode certainlyIdle} understands: lib/root/state.ts
 * `STATE_SCHEMA` (tests/idle_test.ts fails when they differ, so that a new schema makes someone
 * check these rules first).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IDLE_STATE_SCHEMA } from "./idle.ts";
 * import { STATE_SCHEMA } from "./state.ts";
 * assert.equal(IDLE_STATE_SCHEMA, STATE_SCHEMA);
 * ```
 */
export const IDLE_STATE_SCHEMA = 2;

/** Mode bits that let other users write (as lib/root/safe.ts refuses them). */
const OTHERS_WRITE = 0o022;

/** Whether lib/root/safe.ts `ownerProblem` would find nothing wrong with `info`. */
function safelyOwned(info: Deno.FileInfo): boolean {
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch { /* no Unix owners here (or no permission to ask): as safe.ts */ }
  if (uid !== null && info.uid !== null && info.uid !== uid && info.uid !== 0) return false;
  return info.mode === null || (info.mode & OTHERS_WRITE) === 0;
}

/** The text of the open file `file` of `size` bytes (it may have grown). */
function readAll(file: Deno.FsFile, size: number): string {
  let buffer = new Uint8Array(size + 1);
  let filled = 0;
  for (;;) {
    if (filled === buffer.length) {
      const bigger = new Uint8Array(buffer.length * 2);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = file.readSync(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return new TextDecoder().decode(buffer.subarray(0, filled));
}

/**
 * Whether `apply` certainly has nothing to do in the install root `layout` (no staged build,
 * no build on trial, no interrupted swap), judged from `state.json` alone; false means "not
 * sure": read the state in full. Reads only; never throws for what it finds (a root that is a
 * file, a folder where the file should be, a permission error: all "not sure").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certainlyIdle } from "./idle.ts";
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(await certainlyIdle(layout), true); // no state file: nothing to do
 * await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 2, staged: null }));
 * await Deno.chmod(layout.state, 0o644);
 * assert.equal(await certainlyIdle(layout), true);
 * const staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T09:00:00Z" };
 * await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 2, staged }));
 * assert.equal(await certainlyIdle(layout), false); // work to do
 * await Deno.writeTextFile(layout.state, "{ half a file");
 * assert.equal(await certainlyIdle(layout), false); // damaged: the full read warns
 * ```
 */
export async function certainlyIdle(layout: Layout): Promise<boolean> {
  let text: string;
  try {
    const seen = await Deno.lstat(layout.state);
    if (!seen.isFile || !safelyOwned(seen)) return false;
    using file = await Deno.open(layout.state, { read: true });
    const opened = await file.stat();
    // A link or another file put there between the look and the open is not what was judged.
    if (opened.ino !== seen.ino || opened.dev !== seen.dev || !safelyOwned(opened)) return false;
    text = readAll(file, opened.size);
  } catch (error) {
    // No state file: an empty state. (A missing root too: apply creates nothing there.)
    return error instanceof Deno.errors.NotFound;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return false;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  const state = raw as Record<string, unknown>;
  if (
    state.schema !== IDLE_STATE_SCHEMA || state.staged !== null ||
    (state.trial !== undefined && state.trial !== null) ||
    (state.journal !== undefined && state.journal !== null)
  ) return false;
  return await noYankedCurrent(layout, state.controls);
}

/**
 * Whether the raw `controls` of a state file certainly yank nothing `current` names: no yanked
 * version at all (nearly always), or none that `current` points at. Anything odd: not sure.
 */
async function noYankedCurrent(layout: Layout, controls: unknown): Promise<boolean> {
  if (controls === undefined) return true;
  if (typeof controls !== "object" || controls === null) return false;
  const yanked = new Set<string>();
  for (const c of Object.values(controls)) {
    const list = (c as { yanked?: unknown })?.yanked;
    if (!Array.isArray(list)) return false;
    for (const y of list) yanked.add(`builds/${(y as { version?: unknown })?.version}`);
  }
  if (yanked.size === 0) return true;
  try {
    return !yanked.has(await Deno.readLink(layout.current));
  } catch (error) {
    return error instanceof Deno.errors.NotFound; // nothing current: nothing to leave
  }
}
