/**
 * The changes of the launcher's updater, each under the install lock and recorded in the
 * updater's state and the audit log: promote a candidate that started under a real launch, refuse
 * one that did not, and roll back to the kept previous updater.
 *
 * Order of writes in a promotion: the running updater is kept first (the previous copy), then the
 * candidate is put at the launcher's path (lib/self/place.ts: chunks, then one rename of the
 * entry), then the state says so. A kill before the rename leaves the old updater at the path and
 * the candidate staged (its next trial decides again); a kill after it leaves the new updater at
 * the path with a stale `staged`, which no updater acts on (it names the old version as `by`) and
 * the next update clears.
 *
 * @module
 */
import { faultPoint } from "../core/fault.ts";
import { appendAudit } from "../root/audit.ts";
import type { Layout } from "../root/layout.ts";
import { acquireLock } from "../root/lock.ts";
import { UPDATER_VERSION, type UpdaterForm } from "./form.ts";
import { holds } from "./files.ts";
import { placeUpdater, pruneKept } from "./place.ts";
import { keepRunning } from "./stage.ts";
import { readSelfState, type SelfState, writeSelfState } from "./state.ts";

/**
 * Options of the changes below.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChangeOptions } from "./promote.ts";
 * const options: ChangeOptions = { reason: "started under ms11-update apply", lockWaitMs: 5000 };
 * assert.equal(options.lockWaitMs, 5000);
 * ```
 */
export interface ChangeOptions {
  /** Why, for the state and the audit log. */
  reason: string;
  /** How long to wait for the install lock (default 5000 ms). */
  lockWaitMs?: number;
  /** The clock (default: now). */
  now?: Date;
  /** The running updater's version (default: this program's). */
  running?: string;
}

/** "an executable", "a bundle", "a source". */
function article(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;
}

/** Keep the running updater as the previous copy, if it is not kept yet. */
async function keepSelf(
  layout: Layout,
  state: SelfState,
  form: UpdaterForm,
  running: string,
  now: Date,
): Promise<void> {
  if (state.kept[running] !== undefined) return;
  state.kept[running] = await keepRunning(layout, form, { version: running, now });
  await writeSelfState(layout, state);
}

/**
 * Put the staged candidate `version` at the running updater's path (`form.path`), keeping the
 * running one as the previous copy. Resolves to false, changing nothing, when `version` is not
 * staged any more (another launch promoted or refused it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { promoteCandidate } from "./promote.ts";
 * import { keepArtifact } from "./stage.ts";
 * import { emptySelfState, readSelfState, writeSelfState } from "./state.ts";
 * import { hashFile } from "../core/hash.ts";
 * const dir = await Deno.makeTempDir();
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * await Deno.writeTextFile(`${dir}/ms11-update`, "old\n", { mode: 0o755 });
 * await Deno.writeTextFile(`${dir}/download`, "new\n");
 * const { sha256 } = await hashFile(`${dir}/download`);
 * const state = emptySelfState();
 * state.kept["0.2.0"] = await keepArtifact(layout, `${dir}/download`,
 *   { version: "0.2.0", kind: "executable", sha256, channel: "stable", now: new Date() });
 * const form = { kind: "executable" as const, path: `${dir}/ms11-update`, key: "linux-x64" };
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: form.path };
 * await writeSelfState(layout, state);
 * assert.equal(await promoteCandidate(layout, { form, version: "0.2.0" }, { reason: "example", running: "0.1.0" }), true);
 * assert.equal(await Deno.readTextFile(form.path), "new\n");
 * const after = (await readSelfState(layout)).state;
 * assert.deepEqual([after.current, after.previous, after.staged], ["0.2.0", "0.1.0", null]);
 * assert.equal(await promoteCandidate(layout, { form, version: "0.2.0" }, { reason: "again", running: "0.1.0" }), false);
 * ```
 */
export async function promoteCandidate(
  layout: Layout,
  candidate: { form: UpdaterForm; version: string },
  options: ChangeOptions,
): Promise<boolean> {
  const { form, version } = candidate;
  const now = options.now ?? new Date();
  const running = options.running ?? UPDATER_VERSION;
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const { state } = await readSelfState(layout);
  const kept = state.kept[version];
  if (state.staged?.version !== version || kept === undefined) return false;
  await keepSelf(layout, state, form, running, now);
  await placeUpdater(layout, kept, form.path);
  state.staged = null;
  state.path = form.path;
  state.current = version;
  state.previous = running;
  state.refused = state.refused.filter((r) => r.version !== version);
  state.last = {
    event: "promoted",
    version,
    from: running,
    at: now.toISOString(),
    reason: options.reason,
  };
  await writeSelfState(layout, state);
  faultPoint("self-after-promote");
  await appendAudit(layout, {
    at: now.toISOString(),
    event: "updater_promoted",
    reason: options.reason,
    version,
    from: running,
    path: form.path,
  });
  await pruneKept(layout, state, { running: version, path: form.path });
  return true;
}

/**
 * Finish a promotion cut short after its rename: the running updater (`running`, at
 * `form.path`) is the candidate an older one staged and was putting in place. When the file at
 * the path is the kept copy's, the state is made to say so (the older one becomes the previous);
 * else nothing changes. Resolves to whether it finished one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { hashFile } from "../core/hash.ts";
 * import { settlePromotion } from "./promote.ts";
 * import { keepArtifact } from "./stage.ts";
 * import { emptySelfState, readSelfState, writeSelfState } from "./state.ts";
 * const dir = await Deno.makeTempDir();
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * await Deno.writeTextFile(`${dir}/ms11-update`, "new\n"); // renamed in; then the kill
 * const { sha256 } = await hashFile(`${dir}/ms11-update`);
 * const state = emptySelfState();
 * state.kept["0.2.0"] = await keepArtifact(layout, `${dir}/ms11-update`,
 *   { version: "0.2.0", kind: "executable", sha256, channel: "stable", now: new Date() });
 * const form = { kind: "executable" as const, path: `${dir}/ms11-update`, key: "linux-x64" };
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: form.path };
 * await writeSelfState(layout, state);
 * assert.equal(await settlePromotion(layout, form, { reason: "example", running: "0.2.0" }), true);
 * const after = (await readSelfState(layout)).state;
 * assert.deepEqual([after.current, after.previous, after.staged], ["0.2.0", null, null]); // 0.1.0 was not kept
 * ```
 */
export async function settlePromotion(
  layout: Layout,
  form: UpdaterForm,
  options: ChangeOptions,
): Promise<boolean> {
  const now = options.now ?? new Date();
  const running = options.running ?? UPDATER_VERSION;
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const { state } = await readSelfState(layout);
  const staged = state.staged;
  const kept = state.kept[running];
  if (
    staged === null || staged.version !== running || staged.path !== form.path ||
    kept === undefined || !(await holds(form.path, kept.files[kept.entry]))
  ) return false;
  state.staged = null;
  state.path = form.path;
  state.current = running;
  state.previous = state.kept[staged.by] !== undefined ? staged.by : state.previous;
  state.refused = state.refused.filter((r) => r.version !== running);
  state.last = {
    event: "promoted",
    version: running,
    from: staged.by,
    at: now.toISOString(),
    reason: options.reason,
  };
  await writeSelfState(layout, state);
  await appendAudit(layout, {
    at: now.toISOString(),
    event: "updater_promoted",
    reason: options.reason,
    version: running,
    from: staged.by,
    path: form.path,
  });
  return true;
}

/**
 * Refuse the staged candidate `version` (it failed its trial): it is unstaged, its copy removed,
 * and it is not staged again until `self update --force`. Resolves to false when it was not
 * staged any more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { refuseCandidate } from "./promote.ts";
 * import { emptySelfState, readSelfState, writeSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptySelfState();
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: "/u/main.js" };
 * await writeSelfState(layout, state);
 * const reason = "exited with code 1 before it started";
 * assert.equal(await refuseCandidate(layout, "0.2.0", { reason, running: "0.1.0" }), true);
 * const after = (await readSelfState(layout)).state;
 * assert.deepEqual([after.staged, after.refused.map((r) => r.version), after.last?.event], [null, ["0.2.0"], "failed"]);
 * ```
 */
export async function refuseCandidate(
  layout: Layout,
  version: string,
  options: ChangeOptions,
): Promise<boolean> {
  const now = options.now ?? new Date();
  const running = options.running ?? UPDATER_VERSION;
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const { state } = await readSelfState(layout);
  if (state.staged?.version !== version) return false;
  state.staged = null;
  state.refused = [
    ...state.refused.filter((r) => r.version !== version),
    { version, reason: options.reason, at: now.toISOString() },
  ];
  state.last = {
    event: "failed",
    version,
    from: running,
    at: now.toISOString(),
    reason: options.reason,
  };
  await writeSelfState(layout, state);
  await appendAudit(layout, {
    at: now.toISOString(),
    event: "updater_refused",
    reason: options.reason,
    version,
    running,
  });
  await pruneKept(layout, state, { running, path: null });
  return true;
}

/**
 * What {@linkcode rollBackSelf} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfRollback } from "./promote.ts";
 * const r: SelfRollback = { from: "0.2.0", to: "0.1.0", path: "/opt/ms11/bin/ms11-update" };
 * assert.equal(r.to, "0.1.0");
 * ```
 */
export interface SelfRollback {
  /** The version replaced. */
  from: string;
  /** The version put back. */
  to: string;
  /** The launcher's path. */
  path: string;
}

/**
 * Put the kept previous updater back at the running updater's path (`form.path`); the version
 * replaced is refused (not staged again until `self update --force`) and kept as the previous.
 * `check` runs first on the previous copy (the smoke test): a reason it returns stops the
 * rollback with that reason, before anything is replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { rollBackSelf } from "./promote.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const form = { kind: "executable" as const, path: "/nowhere/ms11-update", key: "linux-x64" };
 * await assert.rejects(rollBackSelf(layout, form, { reason: "by hand", check: async () => null }), {
 *   message: "No previous ms11-update is kept to roll back to",
 * });
 * ```
 */
export async function rollBackSelf(
  layout: Layout,
  form: UpdaterForm,
  options: ChangeOptions & { check: (state: SelfState, version: string) => Promise<string | null> },
): Promise<SelfRollback> {
  const now = options.now ?? new Date();
  const running = options.running ?? UPDATER_VERSION;
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 5000 });
  const { state } = await readSelfState(layout);
  const to = state.previous !== running ? state.previous : null;
  const kept = to === null ? undefined : state.kept[to];
  if (to === null || kept === undefined) {
    throw new RangeError("No previous ms11-update is kept to roll back to");
  }
  if (kept.kind !== form.kind) {
    throw new RangeError(
      `The previous ms11-update ${to} is ${article(kept.kind)}; this one runs as ${
        article(form.kind)
      }`,
    );
  }
  const problem = await options.check(state, to);
  if (problem !== null) {
    throw new Error(`Not rolling back to ms11-update ${to}: ${problem}`);
  }
  await keepSelf(layout, state, form, running, now);
  await placeUpdater(layout, kept, form.path);
  state.path = form.path;
  state.current = to;
  state.previous = running;
  if (state.staged !== null && state.staged.by === running) state.staged = null;
  state.refused = [
    ...state.refused.filter((r) => r.version !== running),
    { version: running, reason: options.reason, at: now.toISOString() },
  ];
  state.last = {
    event: "rolled_back",
    version: to,
    from: running,
    at: now.toISOString(),
    reason: options.reason,
  };
  await writeSelfState(layout, state);
  await appendAudit(layout, {
    at: now.toISOString(),
    event: "updater_rolled_back",
    reason: options.reason,
    from: running,
    to,
    path: form.path,
  });
  return { from: running, to, path: form.path };
}
