/**
 * Launcher mode (`ms11-update run -- COMMAND`): start the application with stdin, stdout,
 * stderr, signals and exit code passed through, and watch a build on trial by the health rule
 * of {@linkcode judgeExit}: a clean exit, or living through the health window, confirms it
 * (unless it must confirm by itself); a crash or a failure exit code before that rolls it back,
 * rejects it and starts the previous build once; anything else leaves it on trial.
 *
 * @module
 */
import { forwardSignals } from "../core/signals.ts";
import { confirmBuild, judgeExit } from "./health.ts";
import { currentVersion, type Layout } from "./layout.ts";
import { abandonTrial } from "./rollback.ts";
import { readState } from "./state.ts";

/**
 * Options of {@linkcode launchApp}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { launchApp, type LaunchOptions } from "./launch.ts";
 * import { layoutOf } from "./layout.ts";
 * const options: LaunchOptions = { healthTimeoutMs: 1000, requireConfirm: false };
 * const result = await launchApp(layoutOf(await Deno.makeTempDir()), ["sh", "-c", "exit 3"], options);
 * assert.equal(result.code, 3); // nothing on trial: the exit code is passed on, nothing rolled back
 * ```
 */
export interface LaunchOptions {
  /** How long a build on trial must run without failing, in milliseconds. */
  healthTimeoutMs: number;
  /** The build must run `ms11-update confirm` itself; the window alone does not confirm it. */
  requireConfirm: boolean;
  /** Exit codes that are evidence of failure (`health.failure_exit_codes`); default all non-zero. */
  failureCodes?: readonly number[] | null;
  /** Backups to keep once a trial is confirmed. */
  keepBackups?: number;
  /** How long to wait for the install lock when confirming or rolling back, in milliseconds. */
  lockWaitMs?: number;
  /** Receives one sentence for people about each decision (a rollback, a confirm). */
  onNotice?: (message: string) => void;
}

/**
 * What {@linkcode launchApp} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { launchApp, type LaunchResult } from "./launch.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   const installed_at = "2026-11-01T00:00:00Z";
 *   state.builds[version] = { version, channel: "stable", sha256: null, kind: "executable", installed_at, retired_at: null };
 * }
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" };
 * await writeState(layout, state);
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * const notices: string[] = [];
 * const result: LaunchResult = await launchApp(layout, ["sh", "-c", "exit 3"], {
 *   healthTimeoutMs: 60_000,
 *   requireConfirm: false,
 *   onNotice: (message) => notices.push(message),
 * });
 * const reason = "1.1.0 exited with code 3 before its health check passed";
 * assert.deepEqual(result, { code: 3, confirmed: null, rolledBack: { from: "1.1.0", to: "1.0.0", reason } });
 * assert.deepEqual(notices, [`${reason}; rolled back to 1.0.0 and starting it`]);
 * ```
 */
export interface LaunchResult {
  /** The exit code to pass on (of the last build started; 128 + n for signal n). */
  code: number;
  /** The build confirmed during this run, if any. */
  confirmed: string | null;
  /** The automatic rollback, if there was one. */
  rolledBack: { from: string; to: string; reason: string } | null;
}

interface Ended {
  code: number;
  /** The signal that ended it, if one did. */
  signal: string | null;
  signalled: boolean;
}

function start(command: string[]): { ended: Promise<Ended> } {
  // Listen before spawning (lib/core/signals.ts).
  const forwarder = forwardSignals();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    forwarder.close();
    throw new Error(`Cannot start ${command[0]}: ${(error as Error).message}`);
  }
  forwarder.attach(child);
  const ended = child.status.then((status) => {
    forwarder.close();
    return { code: status.code, signal: status.signal ?? null, signalled: forwarder.signalled };
  });
  return { ended };
}

/**
 * Start `command` (usually `<root>/current/<executable>`) and wait for it, gating a build on
 * trial on its health. The caller applies any staged build first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { launchApp } from "./launch.ts";
 * import { applyStaged, switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const v of ["1.0.0", "1.1.0"]) await Deno.mkdir(`${layout.builds}/${v}`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   const installed_at = "2026-11-01T00:00:00Z";
 *   state.builds[version] = { version, channel: "stable", sha256: null, kind: "executable", installed_at, retired_at: null };
 * }
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" };
 * await writeState(layout, state);
 * await applyStaged(layout); // 1.1.0 current, on trial; 1.0.0 its fallback
 * // It runs through its health window (50 ms here) without failing: confirmed.
 * const result = await launchApp(layout, ["sleep", "0.5"], { healthTimeoutMs: 50, requireConfirm: false });
 * assert.deepEqual(result, { code: 0, confirmed: "1.1.0", rolledBack: null });
 * await assert.rejects(launchApp(layout, [], { healthTimeoutMs: 50, requireConfirm: false }), TypeError);
 * ```
 */
export async function launchApp(
  layout: Layout,
  command: string[],
  options: LaunchOptions,
): Promise<LaunchResult> {
  if (command.length === 0 || command[0] === "") throw new TypeError("No command to run");
  const notice = options.onNotice ?? (() => {});
  const current = await currentVersion(layout);
  let trial: NonNullable<Awaited<ReturnType<typeof readState>>["state"]["trial"]> | null = null;
  try {
    const { state } = await readState(layout);
    trial = state.trial !== undefined && state.trial.version === current ? state.trial : null;
  } catch (error) {
    // A state file of a newer ms11-update (this one was rolled back to): the application starts
    // all the same, with no health gate, and the file is left as it is.
    if (!(error instanceof RangeError)) throw error;
    notice(`${error.message}; starting the application without a health check`);
  }
  const first = start(command);
  let windowOver = false;
  let confirming: Promise<string | null> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (trial !== null) {
    timer = setTimeout(() => {
      windowOver = true;
      if (options.requireConfirm) return;
      confirming = confirmBuild(layout, {
        keepBackups: options.keepBackups,
        lockWaitMs: options.lockWaitMs ?? 5000,
        reason: `ran ${options.healthTimeoutMs / 1000} s without failing under ms11-update run`,
      }).then((r) => {
        if (r.confirmed !== null) notice(`Confirmed ${r.confirmed}: it passed its health window`);
        return r.confirmed;
      });
    }, options.healthTimeoutMs);
  }
  const ended = await first.ended;
  clearTimeout(timer);
  const confirmed = confirming === null ? null : await (confirming as Promise<string | null>);
  if (trial === null || confirmed !== null) {
    return { code: ended.code, confirmed, rolledBack: null };
  }
  const after = (await readState(layout)).state.trial;
  const { verdict, reason: why } = judgeExit({
    code: ended.code,
    signal: ended.signal,
    signalled: ended.signalled,
    onTrial: after !== undefined && after.version === trial.version,
    windowOver,
    requireConfirm: options.requireConfirm,
    failureCodes: options.failureCodes ?? null,
  });
  if (verdict === "healthy") {
    const r = await confirmBuild(layout, {
      keepBackups: options.keepBackups,
      lockWaitMs: options.lockWaitMs ?? 5000,
      reason: `${why} under ms11-update run`,
    });
    if (r.confirmed !== null) notice(`Confirmed ${r.confirmed}: it ${why}`);
    return { code: ended.code, confirmed: r.confirmed, rolledBack: null };
  }
  if (verdict === "none") return { code: ended.code, confirmed: null, rolledBack: null };
  const reason = `${trial.version} ${why}`;
  const back = await abandonTrial(layout, { reason, lockWaitMs: options.lockWaitMs ?? 5000 });
  if (back === null) return { code: ended.code, confirmed: null, rolledBack: null };
  notice(`${reason}; rolled back to ${back.to} and starting it`);
  const second = start(command);
  const again = await second.ended;
  return {
    code: again.code,
    confirmed: null,
    rolledBack: { from: back.from, to: back.to, reason },
  };
}
