// The launcher's commands: `apply` (swap in a staged build, count a launch of a build on trial,
// roll back one never confirmed) and `run` (apply, then start the application and gate a new
// build on its health). Kept light: no network code and no npm packages are loaded on this
// path. With the install root given (`--root` or `$MS11_UPDATE_ROOT`) and nothing staged, on
// trial or interrupted, `apply` looks at state.json (lib/root/idle.ts) and the `current` link and
// returns: it loads neither the state code, the configuration, the swap code nor (without
// --json) the output code (docs/ARCHITECTURE.md, "Start-up path").
//
// Both first ask whether the updater staged a new version of itself (one lstat of
// <root>/updater/state.json, usually missing; lib/self/launch.ts): if so this launch is handed to
// the candidate, on trial (lib/self/trial.ts, loaded only then), and it is put at the launcher's
// path once it has started. A candidate on trial reports that it started when `apply` is done, or
// when `run` is about to start the application (docs/ARCHITECTURE.md, "The updater updates
// itself").
import type { LauncherApplyResult } from "../lib/actions/apply.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { certainlyIdle } from "../lib/root/idle.ts";
import { currentVersion, installProblem, type Layout, layoutOf } from "../lib/root/layout.ts";
import { runningForm } from "../lib/self/form.ts";
import { reportStarted, selfWork } from "../lib/self/launch.ts";
import { type Context, type GlobalOptions, loadContext, rootOf, waitMs } from "./_context.ts";
import type { Ui } from "./_ui.ts";

/** The install root when the flag or the environment gives it (else the configuration does). */
function givenLayout(options: GlobalOptions): Layout | null {
  const env = { MS11_UPDATE_ROOT: Deno.env.get("MS11_UPDATE_ROOT") };
  if (!options.root && !env.MS11_UPDATE_ROOT) return null;
  return layoutOf(rootOf(options.root, env, null));
}

/** The launcher's options, as a command line for a candidate updater (the root resolved). */
function candidateArgs(root: string, options: RunOptions): string[] {
  const args = ["--root", root];
  if (options.config !== undefined) args.push("--config", options.config);
  if (options.wait !== undefined) args.push("--wait", options.wait);
  if (options.healthTimeout !== undefined) args.push("--health-timeout", options.healthTimeout);
  if (options.json) args.push("--json");
  return args;
}

/**
 * When this updater staged a new version of itself: hand the launch to it, on trial. Resolves
 * to the exit code to end with, or null to go on (nothing staged, or the candidate failed to
 * start and was refused: this updater serves the launch).
 */
async function trial(layout: Layout, args: string[], lockWaitMs: number): Promise<number | null> {
  const form = runningForm();
  const work = await selfWork(layout, form);
  if (work === null) return null;
  const { Ui } = await import("./_ui.ts");
  const ui = new Ui();
  if (work.kind === "settle") {
    // This updater was put in place, and its promoter killed before it said so: say it now.
    const { settlePromotion } = await import("../lib/self/promote.ts");
    await settlePromotion(layout, form, {
      reason: "its promotion was cut short; finished at the next start",
      lockWaitMs,
    }).catch((error) => ui.warn(`ms11-update's own state: ${(error as Error).message}`));
    return null;
  }
  const { handOff } = await import("../lib/self/trial.ts");
  return await handOff(layout, work.kept, {
    args,
    form,
    lockWaitMs,
    onNotice: (line) => ui.notice(line),
  });
}

/** The result of an `apply` with nothing to do, or null when it needs the configuration. */
async function idleApply(layout: Layout | null): Promise<LauncherApplyResult | null> {
  if (layout === null) return null; // the root may come from the config
  if (await certainlyIdle(layout)) {
    const current = await currentVersion(layout);
    return { applied: false, from: current, to: current, pruned: [], problem: null };
  }
  // Not sure: the full read, which warns about (or refuses) what it finds.
  const { applyPending, readState } = await import("../lib/root/state.ts");
  const read = await readState(layout).catch(async (error) => {
    throw await rootError(error, layout);
  });
  const current = await currentVersion(layout);
  if (applyPending(read.state, current)) return null;
  return { applied: false, from: current, to: current, pruned: [], problem: read.problem };
}

/** A root that is a file (or under one) fails with a clear line, not `Not a directory`. */
async function rootError(error: unknown, layout: Layout): Promise<unknown> {
  if (!(error instanceof Deno.errors.NotADirectory)) return error;
  const problem = await installProblem(layout).catch(() => null);
  return problem === null ? error : new Error(`No install at ${layout.root}: ${problem}`);
}

async function apply(ctx: Context, run = false): Promise<LauncherApplyResult> {
  const { applyUpdate } = await import("../lib/actions/apply.ts");
  const result = await applyUpdate(ctx, { run }).catch(async (error) => {
    throw await rootError(error, ctx.layout);
  });
  const { ui } = ctx;
  if (result.problem) ui.warn(result.problem);
  if (result.recovered) {
    const j = result.recovered.journal;
    ui.notice(
      `Interrupted ${j.op} ${j.from ?? "nothing"} -> ${j.to} ${result.recovered.outcome}`,
    );
  }
  for (const y of result.yank ?? []) {
    if (y.outcome === "stayed") ui.warn(y.message);
    else if (y.outcome !== "staged") ui.notice(y.message);
  }
  if (result.refused) {
    ui.warn(`Staged build ${result.refused.version} was not applied: ${result.refused.reason}`);
  }
  if (result.rolledBack) {
    const r = result.rolledBack;
    ui.warn(`Rolled back ${r.from} -> ${r.to}: ${r.reason}`);
  }
  if (result.applied) {
    const trial = result.trial ? "; it is on trial until confirmed" : "";
    const pruned = result.pruned.length > 0
      ? `; removed old backups ${result.pruned.join(", ")}`
      : "";
    ui.notice(`Applied ${result.to} (was ${result.from ?? "nothing"})${trial}${pruned}`);
  }
  return result;
}

/**
 * Run `apply`; returns the exit code. With the root given and nothing to do it reads no
 * configuration and writes nothing; a bad `--wait` is a `ConfigError` all the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyCommand } from "./apply.ts";
 * const dir = await Deno.makeTempDir();
 * const root = `${dir}/root`;
 * assert.equal(await applyCommand({ root, json: true }), 0); // prints {"applied": false, …}
 * await assert.rejects(Deno.stat(root), Deno.errors.NotFound); // nothing written
 * await assert.rejects(applyCommand({ root, wait: "soon" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --wait "soon": expected seconds >= 0',
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function applyCommand(options: GlobalOptions): Promise<number> {
  let layout = givenLayout(options);
  if (layout !== null) {
    const wait = waitMs(options.wait, 5); // a bad --wait is a usage error whether or not there is work
    const code = await trial(layout, ["apply", ...candidateArgs(layout.root, options)], wait);
    if (code !== null) return code;
  }
  const idle = await idleApply(layout);
  let ui: Ui;
  let result: LauncherApplyResult;
  if (idle !== null) {
    await reportStarted(); // a candidate on trial: its part is done
    // Silent when idle: the output code is loaded only for a warning or --json's data.
    if (!idle.problem && !options.json) return 0;
    const { Ui } = await import("./_ui.ts");
    ui = new Ui({ json: options.json });
    if (idle.problem) ui.warn(idle.problem);
    result = idle;
  } else {
    const ctx = await loadContext(options, 5);
    if (layout === null) {
      layout = ctx.layout;
      const code = await trial(
        layout,
        ["apply", ...candidateArgs(layout.root, options)],
        ctx.lockWaitMs ?? 5000,
      );
      if (code !== null) return code;
    }
    ui = ctx.ui;
    result = await apply(ctx);
  }
  await reportStarted();
  // Its lines for people said what happened; with nothing to do it is silent (--json: the data).
  ui.data(result, "");
  return 0;
}

/**
 * Options of `run`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunOptions } from "./apply.ts";
 * const options: RunOptions = { root: "/opt/ms11", healthTimeout: "60" };
 * assert.equal(Number(options.healthTimeout), 60);
 * ```
 */
export interface RunOptions extends GlobalOptions {
  healthTimeout?: string;
}

/**
 * Run `run -- COMMAND [ARGS...]`: apply, start the application and gate a new build on its
 * health; returns the application's exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runCommand } from "./apply.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root` };
 * assert.equal(await runCommand(["sh", "-c", "exit 3"], options), 3);
 * await assert.rejects(runCommand(["true"], { ...options, healthTimeout: "soon" }), {
 *   name: "ConfigError",
 *   message: 'Invalid --health-timeout "soon": expected seconds >= 0',
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runCommand(command: string[], options: RunOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  let healthSeconds: number | undefined;
  if (options.healthTimeout !== undefined) {
    healthSeconds = Number(options.healthTimeout);
    if (
      options.healthTimeout.trim() === "" || !Number.isFinite(healthSeconds) || healthSeconds < 0
    ) {
      throw new ConfigError(
        `Invalid --health-timeout ${JSON.stringify(options.healthTimeout)}: expected seconds >= 0`,
      );
    }
  }
  if (command.length === 0) throw new ConfigError("run needs a command after --");
  const code = await trial(
    ctx.layout,
    ["run", ...candidateArgs(ctx.layout.root, options), "--", ...command],
    ctx.lockWaitMs ?? 5000,
  );
  if (code !== null) return code;
  try {
    await apply(ctx, true);
  } catch (error) {
    // The application starts whatever apply said: the previous build stays current.
    ctx.ui.warn(`apply failed: ${(error as Error).message}`);
  }
  const { launch } = await import("../lib/actions/apply.ts");
  await reportStarted(); // the application is started next: this updater did its part
  const result = await launch(ctx, command, {
    healthTimeoutSeconds: healthSeconds,
    onNotice: (message) => ctx.ui.notice(message),
  });
  return result.code;
}
