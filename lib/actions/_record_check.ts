// Private: what the update pipeline records of a check under the install lock (lib/actions/
// pipeline.ts): the manifest's yanks and minimum version (_yank_step.ts), a kept manifest when
// every mirror was behind, the accepted manifest's trust record, the state's last_check, and
// their audit entries.
import type { Env } from "../core/env.ts";
import { appendAudit } from "../root/audit.ts";
import type { Layout } from "../root/layout.ts";
import { type State, writeState } from "../root/state.ts";
import { type TrustView, withTrusted, writeTrust } from "../root/trust_state.ts";
import type { CheckResult } from "../trust/check.ts";
import { rolloutFacts } from "./_rollout_facts.ts";
import { yankStep } from "./_yank_step.ts";

/**
 * What {@linkcode recordCheck} needs besides the check.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RecordCheckOptions } from "./_record_check.ts";
 * const options: Partial<RecordCheckOptions> = { current: "1.0.0", executable: "ms11" };
 * assert.equal(options.current, "1.0.0");
 * ```
 */
export interface RecordCheckOptions {
  /** The install root (locked by the caller). */
  layout: Layout;
  /** The trust state read before the check. */
  trust: TrustView;
  /** The version current when the check ran. */
  current: string | null;
  /** The application's executable (for the retreat off a yanked build). */
  executable: string;
  /** The clock. */
  env: Pick<Env, "now">;
  /** Problems worth a warning line. */
  onWarning?: (message: string) => void;
}

/**
 * Record `check` in `state` and the audit log: the channel's controls (a yanked staged build
 * unstaged), a kept manifest, the accepted manifest's trust record (trust.json written only for a
 * new record), `last_check`, and the `checked` entry. `state` is written when trust changed; the
 * caller writes it at its end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testEnv } from "../core/env.ts";
 * import { readAudit } from "../root/audit.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptyState } from "../root/state.ts";
 * import { readTrust } from "../root/trust_state.ts";
 * import type { CheckResult } from "../trust/check.ts";
 * import { recordCheck } from "./_record_check.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(layout.builds, { recursive: true });
 * const check = {
 *   channel: "stable", current: "1.0.0", kept: false, trust: null, manifestRecord: null,
 *   mirror: "https://updates.ms11.com/stable", skippedMirrors: [],
 *   manifest: { version: "1.0.0" }, fetchedManifest: { rollout: null, yanked: [], minimum_version: null },
 *   decision: { action: "none", reason: "up-to-date", message: "1.0.0 is the newest release on stable" },
 * } as unknown as CheckResult;
 * const state = emptyState();
 * const env = testEnv(new Date("2026-12-02T12:00:00Z"));
 * await recordCheck(state, check, { layout, trust: await readTrust(layout), current: "1.0.0",
 *   executable: "ms11", env });
 * assert.equal(state.last_check?.decision, "up-to-date");
 * assert.equal((await readAudit(layout)).at(-1)?.event, "checked");
 * ```
 */
export async function recordCheck(
  state: State,
  check: CheckResult,
  options: RecordCheckOptions,
): Promise<void> {
  const { layout, trust, current, env } = options;
  // The manifest's yanks and minimum version, kept; a yanked staged build unstaged (_yank_step.ts).
  const unstaged = await yankStep(state, check, {
    layout,
    at: env.now().toISOString(),
    executable: options.executable,
  });
  if (unstaged !== null) options.onWarning?.(unstaged.message);
  const { decision, manifest } = check;
  if (check.kept) {
    // Every mirror is behind: the manifest accepted before stands (verified again), and the
    // next check asks again.
    const message = keptMessage(check);
    options.onWarning?.(message);
    await appendAudit(layout, {
      at: env.now().toISOString(),
      event: "manifest_behind",
      reason: message,
      channel: check.channel,
      code: "behind",
      kept: true,
      serial: check.trust?.serial ?? null,
      version: manifest.version,
      ...mirrorFacts(check),
    });
  }
  state.manifests[check.channel] = check.manifestRecord;
  // Moved to trust.json by settleTrust (or stale): an old client's copy goes at this write.
  delete state.trusted;
  if (check.trust !== null) {
    const before = Object.hasOwn(trust.document.channels, check.channel)
      ? trust.document.channels[check.channel]
      : null;
    // The same manifest again changes nothing: the files are written only for a new record.
    if (JSON.stringify(before) !== JSON.stringify(check.trust)) {
      await writeTrust(layout, withTrusted(trust.document, check.channel, check.trust));
    }
    await writeState(layout, state);
    await appendAudit(layout, {
      at: env.now().toISOString(),
      event: "manifest_accepted",
      reason: "signed by the channel's key threshold, not rolled back, not expired",
      channel: check.channel,
      version: manifest.version,
      serial: check.trust.serial,
      expires: check.trust.expires,
      sha256: check.trust.sha256,
      rotated_keys: check.trust.keys !== null,
      ...mirrorFacts(check),
    });
  }
  state.last_check = {
    at: env.now().toISOString(),
    channel: check.channel,
    current,
    available: manifest.version,
    decision: decision.action === "update" ? "update" : decision.reason,
    ...rolloutFacts(check),
  };
  await appendAudit(layout, {
    at: state.last_check.at,
    event: "checked",
    reason: decision.message,
    channel: check.channel,
    current,
    available: manifest.version,
    decision: state.last_check.decision,
    ...rolloutFacts(check, { admission: true }),
    ...mirrorFacts(check),
  });
}

/** What people are told when every mirror was behind and the accepted manifest stands. */
function keptMessage(check: CheckResult): string {
  const behind = check.skippedMirrors.map((s) => s.message).join("; ");
  return `Every server of ${check.channel} is behind (${behind}): keeping ${check.manifest.version} (serial ${
    check.trust?.serial ?? "?"
  }) accepted at an earlier check, its signatures verified again from ${check.mirror}`;
}

/** The audit facts of where a manifest came from: its mirror, and the mirrors skipped. */
function mirrorFacts(check: CheckResult): Record<string, unknown> {
  return {
    mirror: check.mirror,
    ...(check.skippedMirrors.length === 0 ? {} : { mirrors_skipped: check.skippedMirrors }),
  };
}
