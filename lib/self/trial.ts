/**
 * The trial of a candidate updater at a real launch. The updater at the launcher's path — the
 * one known to start, since the launcher just started it — hands the launch (the same command
 * line, stdin, stdout, stderr, signals) to the candidate and watches it:
 *
 * - once the candidate reports that it started (lib/self/launch.ts `reportStarted`: `apply` done,
 *   or `run` about to start the application), it is promoted: put at the launcher's path, the
 *   running updater kept as the previous one (lib/self/promote.ts). The launch stays in the
 *   candidate's hands; its exit code is passed on.
 * - if it ends without that report (it crashed, or exited with failure, before it started), it is
 *   refused and removed, and the updater at the launcher's path serves this launch itself: the
 *   launcher never sees a failed start, and the candidate never reached the path.
 *   State files it left in a schema this updater does not read are put back first, from the
 *   copy taken before the hand-off (lib/self/state_copy.ts).
 *
 * This answers "who detects that the updater itself cannot start": the old updater does, because
 * the new one reaches the launcher's path only after it has started under a launch.
 *
 * @module
 */
import { removeIfExists } from "../core/fs.ts";
import { forwardSignals } from "../core/signals.ts";
import type { Layout } from "../root/layout.ts";
import { commandOf, UPDATER_VERSION, type UpdaterForm } from "./form.ts";
import { TRIAL_ENV } from "./launch.ts";
import { holds } from "./files.ts";
import { promoteCandidate, refuseCandidate } from "./promote.ts";
import { keptDir, type KeptUpdater, selfPaths } from "./state.ts";
import { copyStateFiles, dropStateCopy, restoreStateFiles } from "./state_copy.ts";

/** How often the report file is looked for while the candidate runs, until it is there. */
const POLL_MS = 25;

/**
 * Options of {@linkcode handOff}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HandOffOptions } from "./trial.ts";
 * const notices: string[] = [];
 * const options: HandOffOptions = {
 *   args: ["apply", "--root", "/opt/ms11"],
 *   form: { kind: "bundle", path: "/opt/ms11/bin/main.js", key: "bundle" },
 *   onNotice: (line) => notices.push(line),
 * };
 * assert.equal(options.args[0], "apply");
 * ```
 */
export interface HandOffOptions {
  /** The launcher's arguments (`apply …` or `run … -- COMMAND …`), given to the candidate. */
  args: string[];
  /** The running updater's form (where the launcher's path is). */
  form: UpdaterForm;
  /** One line for people: the candidate's promotion or refusal. */
  onNotice?: (line: string) => void;
  /** How long to wait for the install lock to promote or refuse (default 5000 ms). */
  lockWaitMs?: number;
  /** The running updater's version (default: this program's). */
  running?: string;
}

/**
 * Hand this launch to the candidate `kept`. Resolves to the exit code to end with (the
 * candidate's; 128 + n when a signal ended it), or to null when the candidate failed to start:
 * it is refused, and the caller serves the launch itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { hashFile } from "../core/hash.ts";
 * import { keepArtifact } from "./stage.ts";
 * import { emptySelfState, readSelfState, writeSelfState } from "./state.ts";
 * import { handOff } from "./trial.ts";
 * const dir = await Deno.makeTempDir();
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * await Deno.writeTextFile(`${dir}/ms11-update`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
 * const form = { kind: "executable" as const, path: `${dir}/ms11-update`, key: "linux-x64" };
 * // A candidate that crashes before it starts: exit 3, no report.
 * await Deno.writeTextFile(`${dir}/download`, "#!/bin/sh\necho crash >&2\nexit 3\n");
 * const { sha256 } = await hashFile(`${dir}/download`);
 * const state = emptySelfState();
 * state.kept["0.2.0"] = await keepArtifact(layout, `${dir}/download`,
 *   { version: "0.2.0", kind: "executable", sha256, channel: "stable", now: new Date() });
 * state.staged = { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z", by: "0.1.0", path: form.path };
 * await writeSelfState(layout, state);
 * const notices: string[] = [];
 * const code = await handOff(layout, state.kept["0.2.0"], {
 *   args: ["apply", "--root", layout.root], form, running: "0.1.0", onNotice: (l) => notices.push(l) });
 * assert.equal(code, null); // this updater serves the launch itself
 * assert.deepEqual(notices, ["ms11-update 0.2.0 exited with code 3 before it started; it was refused, and 0.1.0 runs this launch"]);
 * assert.equal((await readSelfState(layout)).state.refused[0].version, "0.2.0");
 * assert.equal(await Deno.readTextFile(form.path), "#!/bin/sh\nexit 0\n"); // never replaced
 * ```
 */
export async function handOff(
  layout: Layout,
  kept: KeptUpdater,
  options: HandOffOptions,
): Promise<number | null> {
  const running = options.running ?? UPDATER_VERSION;
  const notice = options.onNotice ?? (() => {});
  const report = `${selfPaths(layout).dir}/.trial-${Deno.pid}-${
    crypto.getRandomValues(new Uint32Array(1))[0].toString(36)
  }`;
  const [program, ...args] = commandOf(
    kept.kind,
    `${keptDir(layout, kept.version)}/${kept.entry}`,
    options.args,
  );
  // The install's state files as they are, for a candidate that rewrites them in a newer schema
  // and then fails to start (lib/self/state_copy.ts). No copy, no trial: the next launch tries.
  const copyOptions = { running, candidate: kept.version, lockWaitMs: options.lockWaitMs };
  try {
    await copyStateFiles(layout, copyOptions);
  } catch (error) {
    notice(
      `ms11-update ${kept.version} was not tried: its state files could not be copied first (${
        (error as Error).message
      }); ${running} runs this launch`,
    );
    return null;
  }
  // The candidate gets the launch's signals (as lib/root/launch.ts passes them to the application).
  const forwarder = forwardSignals();
  let child: Deno.ChildProcess;
  try {
    try {
      child = new Deno.Command(program, {
        args,
        env: { [TRIAL_ENV]: report },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      const reason = `could not be started: ${(error as Error).message}`;
      await dropStateCopy(layout).catch(() => {});
      await refuse(layout, kept.version, reason, { ...options, running }, notice);
      return null;
    }
    forwarder.attach(child);
    let ended: Deno.CommandStatus | null = null;
    child.status.then((status) => ended = status, () => {});
    let promoted = false;
    let placed = false;
    const promote = async () => {
      promoted = true;
      try {
        const done = await promoteCandidate(layout, { form: options.form, version: kept.version }, {
          reason: `it started under ms11-update ${options.args[0]}`,
          lockWaitMs: options.lockWaitMs,
          running,
        });
        if (done) {
          placed = true;
          notice(
            `ms11-update ${kept.version} started; it replaces ${running} at ${options.form.path}`,
          );
          await dropStateCopy(layout).catch(() => {}); // its files are the install's now
        }
      } catch (error) {
        // Not promoted this time: it stays staged, and the next launch tries again.
        notice(
          `ms11-update ${kept.version} started but was not put in place: ${
            (error as Error).message
          }`,
        );
      }
    };
    // Looked for until it is there (usually well under a second); then only the end is awaited.
    while (ended === null && !promoted) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (await reported(report)) await promote();
    }
    const status = await child.status;
    if (!promoted && await reported(report)) await promote();
    if (promoted) {
      // Started, but not put in place (nor by another launch): the updater at the path, which
      // serves the next launches, must still read the install's files.
      const inPlace = placed ||
        await holds(options.form.path, kept.files[kept.entry]).catch(() => false);
      if (!inPlace) {
        await restore(layout, {
          ...copyOptions,
          reason: "started but was not put in place",
          notice,
        });
      } else await dropStateCopy(layout).catch(() => {});
      return status.code;
    }
    const reason = forwarder.signalled
      ? "was stopped before it started"
      : status.signal !== null
      ? `was killed by ${status.signal} before it started`
      : `exited with code ${status.code} before it started`;
    await restore(layout, { ...copyOptions, reason, notice });
    if (forwarder.signalled) return status.code; // stopped by the user while it started: not its fault
    await refuse(layout, kept.version, reason, { ...options, running }, notice);
    return null;
  } finally {
    forwarder.close();
    await removeIfExists(report);
  }
}

/** Put back the state files a candidate not put in place left in a newer schema. */
async function restore(
  layout: Layout,
  options: {
    running: string;
    candidate: string;
    lockWaitMs?: number;
    reason: string;
    notice: (line: string) => void;
  },
): Promise<void> {
  const { notice } = options;
  try {
    const restored = await restoreStateFiles(layout, {
      running: options.running,
      candidate: options.candidate,
      lockWaitMs: options.lockWaitMs,
      reason:
        `ms11-update ${options.candidate} ${options.reason}, leaving them in a schema ${options.running} does not understand`,
    });
    if (restored.length > 0) {
      notice(
        `ms11-update ${options.candidate} left ${
          restored.join(", ")
        } in a newer schema; they were put back as they were before its trial`,
      );
    }
  } catch (error) {
    notice(
      `ms11-update ${options.candidate}'s state files were not put back: ${
        (error as Error).message
      }`,
    );
  }
}

async function reported(report: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(report)).length > 0;
  } catch {
    return false;
  }
}

async function refuse(
  layout: Layout,
  version: string,
  reason: string,
  options: HandOffOptions & { running: string },
  notice: (line: string) => void,
): Promise<void> {
  try {
    await refuseCandidate(layout, version, {
      reason,
      lockWaitMs: options.lockWaitMs,
      running: options.running,
    });
    notice(
      `ms11-update ${version} ${reason}; it was refused, and ${options.running} runs this launch`,
    );
  } catch (error) {
    notice(
      `ms11-update ${version} ${reason}; ${options.running} runs this launch (not recorded: ${
        (error as Error).message
      })`,
    );
  }
}
