// The launcher's commands: `apply` (swap in a staged build, count a launch of a build on trial,
// roll back one never confirmed) and `run` (apply, then start the application and gate a new
// build on its health). Kept light: no network code and no npm packages are loaded on this
// path. With the install root given (`--root` or `$MS11_UPDATE_ROOT`) and nothing staged, on
// trial or interrupted, `apply` looks at state.json (lib/root/idle.ts) and the `current` link and
// returns: it loads neither the state code, the configuration, the swap code nor (without
// --json) the output code (docs/ARCHITECTURE.md, "Start-up path").
import type { ApplyResult } from "../lib/root/swap.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { certainlyIdle } from "../lib/root/idle.ts";
import { currentVersion, installProblem, type Layout, layoutOf } from "../lib/root/layout.ts";
import { type Context, type GlobalOptions, loadContext, rootOf, waitMs } from "./_context.ts";
import type { Ui } from "./_ui.ts";

/** The result of an `apply` with nothing to do, or null when it needs the configuration. */
async function idleApply(options: GlobalOptions): Promise<ApplyResult | null> {
  const env = { MS11_UPDATE_ROOT: Deno.env.get("MS11_UPDATE_ROOT") };
  if (!options.root && !env.MS11_UPDATE_ROOT) return null; // the root may come from the config
  waitMs(options.wait, 5); // a bad --wait is a usage error whether or not there is work
  const layout = layoutOf(rootOf(options.root, env, null));
  let problem: string | null = null;
  if (!await certainlyIdle(layout)) {
    // Not sure: the full read, which warns about (or refuses) what it finds.
    const { applyPending, readState } = await import("../lib/root/state.ts");
    const read = await readState(layout).catch(async (error) => {
      throw await rootError(error, layout);
    });
    if (applyPending(read.state)) return null;
    problem = read.problem;
  }
  const current = await currentVersion(layout);
  return { applied: false, from: current, to: current, pruned: [], problem };
}

/** A root that is a file (or under one) fails with a clear line, not `Not a directory`. */
async function rootError(error: unknown, layout: Layout): Promise<unknown> {
  if (!(error instanceof Deno.errors.NotADirectory)) return error;
  const problem = await installProblem(layout).catch(() => null);
  return problem === null ? error : new Error(`No install at ${layout.root}: ${problem}`);
}

async function apply(ctx: Context, run = false): Promise<ApplyResult> {
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
  const idle = await idleApply(options);
  let ui: Ui;
  let result: ApplyResult;
  if (idle !== null) {
    // Silent when idle: the output code is loaded only for a warning or --json's data.
    if (!idle.problem && !options.json) return 0;
    const { Ui } = await import("./_ui.ts");
    ui = new Ui({ json: options.json });
    if (idle.problem) ui.warn(idle.problem);
    result = idle;
  } else {
    const ctx = await loadContext(options, 5);
    ui = ctx.ui;
    result = await apply(ctx);
  }
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
  try {
    await apply(ctx, true);
  } catch (error) {
    // The application starts whatever apply said: the previous build stays current.
    ctx.ui.warn(`apply failed: ${(error as Error).message}`);
  }
  const { launch } = await import("../lib/actions/apply.ts");
  const result = await launch(ctx, command, {
    healthTimeoutSeconds: healthSeconds,
    onNotice: (message) => ctx.ui.notice(message),
  });
  return result.code;
}
