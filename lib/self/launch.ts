/**
 * What the launcher's path asks of the updater's own update at every start, cheaply: is there a
 * candidate this updater staged, waiting for its trial (one read of `<root>/updater/state.json`,
 * usually a file that is not there)? And, in a candidate on trial, the report that it started
 * (`MS11_UPDATE_TRIAL` names the file; lib/self/trial.ts waits for it).
 *
 * @module
 */
import type { Layout } from "../root/layout.ts";
import { UPDATER_VERSION, type UpdaterForm } from "./form.ts";
import type { KeptUpdater } from "./state.ts";

/**
 * The variable naming the file a candidate on trial writes once it has started.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRIAL_ENV } from "./launch.ts";
 * assert.equal(TRIAL_ENV, "MS11_UPDATE_TRIAL");
 * ```
 */
export const TRIAL_ENV = "MS11_UPDATE_TRIAL";

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env
  }
}

/**
 * What the updater's own update asks of this launch: `trial` (hand it to the candidate `kept`,
 * which this updater — this version, at this path — staged), `settle` (this updater is the
 * candidate an older one was promoting when it was killed: the file is in place, the state does
 * not say so yet), or null, the usual case. Null too in a candidate on trial (trials never
 * nest), and when the updater's state is missing, unreadable or of a newer schema (nothing is
 * written).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { selfWork } from "./launch.ts";
 * import { emptySelfState, writeSelfState } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const form = { kind: "bundle" as const, path: "/opt/ms11/main.js", key: "bundle" };
 * assert.equal(await selfWork(layout, form), null); // no updater state: the usual case
 * const state = emptySelfState();
 * state.kept["0.2.0"] = { version: "0.2.0", kind: "bundle", entry: "main.js",
 *   files: { "main.js": "a".repeat(64) }, sha256: "b".repeat(64), channel: "stable", kept_at: "2026-11-27T00:00:00Z" };
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: form.path };
 * await writeSelfState(layout, state);
 * assert.equal((await selfWork(layout, form, "0.1.0"))?.kind, "trial");
 * assert.deepEqual(await selfWork(layout, form, "0.2.0"), { kind: "settle" }); // its promotion was cut short
 * assert.equal(await selfWork(layout, form, "0.1.5"), null); // neither
 * assert.equal(await selfWork(layout, { ...form, path: "/elsewhere/main.js" }, "0.1.0"), null);
 * ```
 */
export async function selfWork(
  layout: Layout,
  form: UpdaterForm,
  running: string = UPDATER_VERSION,
): Promise<{ kind: "trial"; kept: KeptUpdater } | { kind: "settle" } | null> {
  if (form.kind === "source" || envGet(TRIAL_ENV) !== undefined) return null;
  // Usually a file that is not there: one lstat, and the state code is not even loaded.
  try {
    await Deno.lstat(`${layout.root}/updater/state.json`);
  } catch {
    return null;
  }
  let state;
  try {
    // Through lib/root/safe.ts: no link followed.
    const { readSelfState } = await import("./state.ts");
    state = (await readSelfState(layout)).state;
  } catch {
    return null; // unsafe, or a newer schema: the launch goes on with this updater
  }
  const staged = state.staged;
  if (staged === null || staged.path !== form.path) return null;
  if (staged.version === running && staged.by !== running) return { kind: "settle" };
  if (staged.by !== running) return null;
  const kept = state.kept[staged.version];
  return kept !== undefined && kept.kind === form.kind ? { kind: "trial", kept } : null;
}

/**
 * The candidate to hand this launch to, or null (see {@linkcode selfWork}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { candidateFor } from "./launch.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const form = { kind: "bundle" as const, path: "/opt/ms11/main.js", key: "bundle" };
 * assert.equal(await candidateFor(layout, form), null);
 * ```
 */
export async function candidateFor(
  layout: Layout,
  form: UpdaterForm,
  running: string = UPDATER_VERSION,
): Promise<KeptUpdater | null> {
  const work = await selfWork(layout, form, running);
  return work?.kind === "trial" ? work.kept : null;
}

/**
 * In a candidate on trial: report that it has started (the launch is in its hands now), and
 * forget the variable so that the application does not inherit it. Elsewhere: nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UPDATER_VERSION } from "./form.ts";
 * import { reportStarted, TRIAL_ENV } from "./launch.ts";
 * await reportStarted(); // not on trial: nothing happens
 * const report = `${await Deno.makeTempDir()}/.trial-1`;
 * Deno.env.set(TRIAL_ENV, report);
 * await reportStarted();
 * assert.equal(await Deno.readTextFile(report), `${UPDATER_VERSION}\n`);
 * assert.equal(Deno.env.get(TRIAL_ENV), undefined);
 * ```
 */
export async function reportStarted(): Promise<void> {
  const report = envGet(TRIAL_ENV);
  if (report === undefined) return;
  Deno.env.delete(TRIAL_ENV);
  try {
    // A new owner-only file: never through a link, never over something that is there.
    using file = await Deno.open(report, { write: true, createNew: true, mode: 0o600 });
    await file.write(new TextEncoder().encode(`${UPDATER_VERSION}\n`));
  } catch {
    // The waiting updater treats a missing report as a failed start: nothing more to do here.
  }
}
