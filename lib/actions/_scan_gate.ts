// Private to lib/actions/pipeline.ts: the scan gate. A build staged by an update (verified,
// sealed, in builds/<version>, not yet recorded as staged on disk) is scanned with
// `security.scan_command` before it may become current; the smoke test comes later, at the
// launch that applies it. A threat found rejects the build on its channel (lib/root/lifecycle.ts)
// with the scanner's one-line output, and removes it and its download; a scanner that cannot do
// its job stages nothing unless `security.scan_on_error` is "allow" (the download is kept: the
// next update scans the same bytes again without fetching them).
import type { Config } from "../core/config_schema.ts";
import { removeIfExists } from "../core/fs.ts";
import { escapeText } from "../core/text.ts";
import { appendAudit } from "../root/audit.ts";
import { buildDir, currentVersion, type Layout } from "../root/layout.ts";
import { markRejected } from "../root/lifecycle.ts";
import { refuseLinks } from "../root/safe.ts";
import { scanBuild } from "../root/scan.ts";
import { type State, writeState } from "../root/state.ts";

/**
 * The build the gate judges, and what to restore when it is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import type { ScanGateOptions } from "./_scan_gate.ts";
 * const options: ScanGateOptions = { config: defaultConfig(), version: "1.1.0", channel: "stable", sha256: "a".repeat(64),
 *   at: "2026-12-01T00:00:00.000Z", madeNow: true, previousStaged: null, download: null };
 * assert.equal(options.madeNow, true);
 * ```
 */
export interface ScanGateOptions {
  /** The configuration in force (its `security.scan_*`). */
  config: Config;
  /** The build's version (its folder is `builds/<version>`). */
  version: string;
  /** Its channel. */
  channel: string;
  /** The SHA-256 of the artifact it was made from (for the audit log). */
  sha256: string;
  /** The time to record. */
  at: string;
  /** Whether this run made the build (then a refusal removes it) or found it in builds/. */
  madeNow: boolean;
  /** What `state.staged` was before this run staged the build: restored when refused. */
  previousStaged: State["staged"];
  /** The downloaded artifact the build was made from, if this run downloaded it. */
  download?: string | null;
  /** A scanner failure let through (`scan_on_error: "allow"`). */
  onWarning?: (message: string) => void;
}

/** The scanner as messages name it: its program's file name. */
function scannerName(command: readonly string[]): string {
  return escapeText(command[0].split("/").at(-1) ?? command[0]);
}

/** Take the refused build out of the state and (when it may go) out of builds/. */
async function dropBuild(
  layout: Layout,
  state: State,
  options: ScanGateOptions & { remove: boolean; removeDownload: boolean },
): Promise<void> {
  const { version } = options;
  state.staged = options.previousStaged;
  const removable = options.remove && (await currentVersion(layout)) !== version;
  if (removable) delete state.builds[version];
  await writeState(layout, state);
  if (removable) {
    const dir = buildDir(layout, version);
    const trash = `${layout.builds}/.trash-${version}-scan-${Date.now()}`;
    await refuseLinks(layout, dir);
    await Deno.rename(dir, trash);
    await removeIfExists(trash, true);
  }
  if (options.removeDownload && options.download) {
    await refuseLinks(layout, options.download);
    await removeIfExists(options.download);
  }
}

/**
 * Scan the build `options.version` when `security.scan_command` is set. Resolves when it may be
 * staged: the scanner exited 0, or it failed and `scan_on_error` is "allow" (a warning). Throws
 * when it may not, after recording why (the state written, the audit log):
 *
 * - a threat found (an exit code of `scan_infected_exit_codes`, or any non-zero one when that is
 *   null): the build is removed and rejected on its channel with the scanner's output, so that
 *   updates skip it until a newer release or `--force`;
 * - the scanner missing, timed out, killed, or failing (fail closed): the build is not staged, is
 *   removed when this run made it, and is not rejected (the next update scans it again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptyState } from "../root/state.ts";
 * import { skipReason } from "../root/lifecycle.ts";
 * import { scanGate } from "./_scan_gate.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.1.0`, { recursive: true });
 * await Deno.writeTextFile(`${layout.builds}/1.1.0/ms11`, "EVIL");
 * const scanner = ["sh", "-c", 'grep -rq EVIL "$1" && { echo "$1/ms11: Evil FOUND"; exit 1; }; exit 0', "scan"];
 * const config = validateConfig({ security: { scan_command: scanner, scan_infected_exit_codes: [1] } });
 * const state = emptyState();
 * state.staged = { version: "1.1.0", channel: "stable", staged_at: "2026-12-01T00:00:00.000Z" };
 * await assert.rejects(scanGate(layout, state, { config, version: "1.1.0", channel: "stable",
 *   sha256: "a".repeat(64), at: "2026-12-01T00:00:00.000Z", madeNow: true, previousStaged: null }), {
 *   message: "Build 1.1.0 from stable was refused: the scanner sh found a threat (exited with code 1): builds/1.1.0/ms11: Evil FOUND",
 * });
 * assert.equal(state.staged, null);
 * assert.equal(skipReason(state.lifecycle, { version: "1.1.0", channel: "stable" }),
 *   "the scanner sh found a threat (exited with code 1): builds/1.1.0/ms11: Evil FOUND");
 * ```
 */
export async function scanGate(
  layout: Layout,
  state: State,
  options: ScanGateOptions,
): Promise<void> {
  const { config } = options;
  const command = config.security.scan_command;
  if (command === null) return;
  const { version, channel, at } = options;
  const name = scannerName(command);
  const result = await scanBuild(buildDir(layout, version), {
    command,
    timeoutMs: config.security.scan_timeout_seconds * 1000,
    infectedCodes: config.security.scan_infected_exit_codes,
    shownAs: `builds/${version}`,
  });
  const said = result.summary === "" ? "" : `: ${result.summary}`;
  const audit = { at, channel, version, sha256: options.sha256, scanner: name };
  if (result.outcome === "clean") {
    await appendAudit(layout, {
      ...audit,
      event: "scanned",
      reason: `the scanner ${name} ${result.detail}`,
    });
    return;
  }
  if (result.outcome === "infected") {
    const reason = `the scanner ${name} found a threat (${result.detail})${said}`;
    markRejected(state.lifecycle, { version, channel }, { at, reason });
    await dropBuild(layout, state, { ...options, remove: true, removeDownload: true });
    await appendAudit(layout, { ...audit, event: "scan_refused", reason, bad: true });
    throw new Error(`Build ${version} from ${channel} was refused: ${reason}`);
  }
  const failure = `the scanner ${name} ${result.detail}${said}`;
  if (config.security.scan_on_error === "allow") {
    await appendAudit(layout, { ...audit, event: "scan_failed", reason: failure, allowed: true });
    options.onWarning?.(
      `Staging ${version} unscanned: ${failure} (security.scan_on_error is "allow")`,
    );
    return;
  }
  await dropBuild(layout, state, { ...options, remove: options.madeNow, removeDownload: false });
  await appendAudit(layout, { ...audit, event: "scan_failed", reason: failure, allowed: false });
  throw new Error(
    `Build ${version} from ${channel} was not staged: ${failure}; a build that was not scanned is never staged (security.scan_on_error is "refuse")`,
  );
}
