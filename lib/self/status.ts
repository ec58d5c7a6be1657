/**
 * The updater's part of the status document (`status --json`'s `updater`, the dashboard's
 * line): which ms11-update runs, in which form and from where, the candidate waiting for its
 * trial at the next launch, the previous one kept, the versions refused, and the last change.
 * Reads only.
 *
 * @module
 */
import type { Layout } from "../root/layout.ts";
import { runningForm, UPDATER_VERSION, type UpdaterForm } from "./form.ts";
import { readSelfState, type RefusedUpdater, type SelfEvent } from "./state.ts";

/**
 * The updater's status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdaterStatus } from "./status.ts";
 * const status: UpdaterStatus = { version: "0.1.0", form: "bundle", path: "/opt/ms11/bin/main.js",
 *   pending: null, previous: null, refused: [], last: null, problem: null };
 * assert.equal(status.pending, null);
 * ```
 */
export interface UpdaterStatus {
  /** The running ms11-update's version. */
  version: string;
  /** Its form: `executable`, `bundle` or `source`. */
  form: UpdaterForm["kind"];
  /** The file it runs from (the launcher's path). */
  path: string;
  /** The updater update waiting for its trial at the next launch, or null. */
  pending: { version: string; channel: string; staged_at: string } | null;
  /** The kept previous updater (`self rollback` returns to it), or null. */
  previous: string | null;
  /** Versions refused (failed their trial or smoke test, or rolled back from). */
  refused: RefusedUpdater[];
  /** The last promotion, failed trial or rollback, or null. */
  last: SelfEvent | null;
  /** What is wrong with the updater's state file, or null. */
  problem: string | null;
}

/**
 * The updater's status in `layout`, for the running updater (`form`, `running`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { updaterStatus } from "./status.ts";
 * import { emptySelfState, writeSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const form = { kind: "bundle" as const, path: "/opt/ms11/bin/main.js", key: "bundle" };
 * const state = emptySelfState();
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: form.path };
 * await writeSelfState(layout, state);
 * assert.deepEqual((await updaterStatus(layout, { form, running: "0.1.0" })).pending,
 *   { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" });
 * // Staged by another updater (this one replaced it since): nothing pending for this one.
 * assert.equal((await updaterStatus(layout, { form, running: "0.2.0" })).pending, null);
 * await Deno.writeTextFile(`${layout.root}/updater/state.json`, '{"schema": 9}');
 * assert.match((await updaterStatus(layout, { form })).problem!, /has schema 9, newer than/);
 * ```
 */
export async function updaterStatus(
  layout: Layout,
  options: { form?: UpdaterForm; running?: string } = {},
): Promise<UpdaterStatus> {
  const form = options.form ?? runningForm();
  const running = options.running ?? UPDATER_VERSION;
  const status: UpdaterStatus = {
    version: running,
    form: form.kind,
    path: form.path,
    pending: null,
    previous: null,
    refused: [],
    last: null,
    problem: null,
  };
  try {
    const { state, problem } = await readSelfState(layout);
    const s = state.staged;
    if (s !== null && s.by === running && s.path === form.path) {
      status.pending = { version: s.version, channel: s.channel, staged_at: s.staged_at };
    }
    status.previous = state.previous !== running && state.previous !== null &&
        state.kept[state.previous] !== undefined
      ? state.previous
      : null;
    status.refused = state.refused;
    status.last = state.last;
    status.problem = problem;
  } catch (error) {
    status.problem = (error as Error).message;
  }
  return status;
}
