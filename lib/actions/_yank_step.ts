/**
 * A check's part of a yank and of a minimum version (docs/UPDATE_POLICY.md, "Yanked builds and
 * minimum versions"): the accepted manifest's yanked versions and minimum version kept in the
 * state (for the launcher, offline, and for `--auto`'s schedule); a staged yanked build
 * unstaged; and, when the current build is yanked and no backup here last ran healthy, the
 * release the manifest offers this install downloaded even when it is lower.
 *
 * @module
 */
import { compareVersions } from "../core/version.ts";
import { escapeText } from "../core/text.ts";
import { appendAudit } from "../root/audit.ts";
import type { Layout } from "../root/layout.ts";
import { type State, yankOf } from "../root/state.ts";
import { liftUnyanked, retreatTarget, unstageYanked, type YankOutcome } from "../root/yank.ts";
import type { CheckResult } from "../trust/check.ts";

/**
 * Options of {@linkcode yankStep}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { YankStepOptions } from "./_yank_step.ts";
 * import { layoutOf } from "../root/layout.ts";
 * const options: YankStepOptions = { layout: layoutOf("/opt/ms11"), at: "2026-12-02T00:00:00Z", executable: "ms11" };
 * assert.equal(options.executable, "ms11");
 * ```
 */
export interface YankStepOptions {
  /** The install root. */
  layout: Layout;
  /** When the check ran. */
  at: string;
  /** The application's executable (a backup without it is no place to go back to). */
  executable: string;
}

/**
 * Record the check's controls in `state` (`controls[channel]`), unstage a staged build they yank
 * (written, removed, audited), and, for a yanked current build with no good backup, turn a
 * refused downgrade to the offered release into an update (`check.decision` is replaced); with a
 * good backup the decision says that the next launch goes back to it. The caller holds the lock.
 * Returns the unstaging, if there was one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptyState } from "../root/state.ts";
 * import type { CheckResult } from "../trust/check.ts";
 * import { yankStep } from "./_yank_step.ts";
 * const check = { channel: "stable", current: null, decision: { action: "none", reason: "up-to-date", message: "" },
 *   fetchedManifest: { yanked: [{ version: "1.1.0", reason: "crashes", at: "2026-12-01T00:00:00Z" }],
 *     minimum_version: "1.0.5" } } as unknown as CheckResult;
 * const state = emptyState();
 * const at = "2026-12-02T00:00:00Z";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(await yankStep(state, check, { layout, at, executable: "ms11" }), null);
 * assert.equal(state.controls?.stable.minimum_version, "1.0.5");
 * assert.deepEqual(state.controls?.stable.yanked.map((y) => y.version), ["1.1.0"]);
 * ```
 */
export async function yankStep(
  state: State,
  check: CheckResult,
  options: YankStepOptions,
): Promise<YankOutcome | null> {
  const { layout } = options;
  const { yanked, minimum_version } = check.fetchedManifest;
  state.controls ??= {};
  state.controls[check.channel] = {
    checked_at: options.at,
    yanked: yanked.map((y) => ({ version: y.version, reason: y.reason, at: y.at })),
    minimum_version,
  };
  // An unyank releases the holds its yank put on builds here (written with the check's state).
  for (const version of liftUnyanked(state, check.channel)) {
    await appendAudit(layout, {
      at: options.at,
      event: "yank_lifted",
      reason: `${version} is no longer yanked on ${check.channel}: it may be staged again`,
      version,
      channel: check.channel,
    });
  }
  const unstaged = await unstageYanked(layout, state, { at: options.at });
  const yank = yankOf(state, check.current);
  const { decision } = check;
  if (
    yank === null || yank.channel !== check.channel || check.current === null ||
    decision.action !== "none" || decision.reason !== "downgrade-refused"
  ) return unstaged;
  const why = `${check.current} is yanked on ${check.channel} (${escapeText(yank.reason)})`;
  const { target } = await retreatTarget(layout, state, { executable: options.executable });
  const offered = check.manifest.version;
  if (target !== null) {
    check.decision = {
      ...decision,
      message: `${why}: the next launch goes back to ${target}, a backup that last ran healthy`,
    };
    return unstaged;
  }
  check.decision = {
    action: "update",
    version: offered,
    downgrade: compareVersions(offered, check.current) < 0,
    message:
      `${why} and no backup here last ran healthy: installing ${offered}, the release ${check.channel} offers this install`,
  };
  return unstaged;
}
