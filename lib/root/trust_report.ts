/**
 * The trust state for people and its one way out: the summary `status` and `ms11-update trust`
 * show, and `trust reset`, which starts trust afresh from the pinned keys (audited). The files
 * themselves are lib/root/trust_state.ts's.
 *
 * @module
 */
import { TrustStateError } from "../core/errors.ts";
import { appendAudit } from "./audit.ts";
import type { Layout } from "./layout.ts";
import {
  emptyTrust,
  readTrust,
  resetCommandFor,
  type TrustDocument,
  trustRefusal,
  type TrustView,
  writeTrust,
} from "./trust_state.ts";

/**
 * The trust state as `status` and `ms11-update trust` show it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrustSummary } from "./trust_report.ts";
 * const summary: TrustSummary = { file: "/opt/ms11/trust.json", problem: null, channels: {} };
 * assert.equal(summary.problem, null);
 * ```
 */
export interface TrustSummary {
  /** The trust file (its backup is the same name with `.bak`). */
  file: string;
  /**
   * What is wrong, or null: manifests refused (with the reset command), or a copy that the
   * next check restores.
   */
  problem: string | null;
  /** Per channel, the last manifest accepted. */
  channels: Record<
    string,
    { serial: number; version: string; accepted_at: string; expires: string; rotated_keys: boolean }
  >;
}

/**
 * Summarise a trust view for people and the status document (pure).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { readTrust } from "./trust_state.ts";
 * import { summarizeTrust } from "./trust_report.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.writeTextFile(layout.trust, "garbage");
 * const summary = summarizeTrust(layout, await readTrust(layout));
 * assert.match(summary.problem!, /^Trust state cannot be read: .* manifests for every channel are refused/);
 * ```
 */
export function summarizeTrust(layout: Layout, view: TrustView): TrustSummary {
  const problems: string[] = [];
  const refusedAll = trustRefusal(layout, view, null);
  if (refusedAll !== null) problems.push(refusedAll);
  else {
    for (const channel of Object.keys(view.document.blocked)) {
      problems.push(trustRefusal(layout, view, channel)!);
    }
    if (view.source === "files") {
      problems.push(...view.notes.map((note) => `${note} at the next check`));
    }
  }
  const channels: TrustSummary["channels"] = {};
  for (const [name, r] of Object.entries(view.document.channels)) {
    channels[name] = {
      serial: r.serial,
      version: r.version,
      accepted_at: r.accepted_at,
      expires: r.expires,
      rotated_keys: r.keys !== null,
    };
  }
  return {
    file: layout.trust,
    problem: problems.length === 0 ? null : problems.join("; "),
    channels,
  };
}

/**
 * Options of {@linkcode resetTrust}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ResetTrustOptions } from "./trust_report.ts";
 * const options: ResetTrustOptions = { channel: "canary", now: new Date() };
 * assert.equal(options.channel, "canary");
 * ```
 */
export interface ResetTrustOptions {
  /** Only this channel (default: every channel). */
  channel?: string;
  /** The time for the audit log. */
  now: Date;
}

/**
 * What a reset discarded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrustReset } from "./trust_report.ts";
 * const reset: TrustReset = { channels: "all", discarded: {}, damaged: null };
 * assert.equal(reset.channels, "all");
 * ```
 */
export interface TrustReset {
  /** The channels started afresh. */
  channels: string[] | "all";
  /** Per channel, the serial, version and digest of the record dropped. */
  discarded: Record<string, { serial: number; version: string; sha256: string; rotated: boolean }>;
  /** What was wrong with the files, when they could not be read. */
  damaged: string | null;
}

/**
 * Start trust afresh from the pinned keys, for one channel or all, under the install lock the
 * caller holds: the records (and blocks) go, both copies are written anew, and the reset is
 * audited (`trust_reset`, with what was dropped). The next check trusts whatever the pinned keys
 * sign, as on a new install. With damaged files only a reset of every channel is possible.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * import { readTrust } from "./trust_state.ts";
 * import { resetTrust } from "./trust_report.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.writeTextFile(layout.trust, "garbage");
 * const reset = await resetTrust(layout, { now: new Date() });
 * assert.match(reset.damaged!, /is damaged \(not valid JSON\)/);
 * assert.equal((await readTrust(layout)).damaged, null);
 * assert.equal((await readAudit(layout)).at(-1)?.event, "trust_reset");
 * ```
 */
export async function resetTrust(layout: Layout, options: ResetTrustOptions): Promise<TrustReset> {
  const view = await readTrust(layout);
  const { channel } = options;
  if (channel !== undefined && view.damaged !== null) {
    throw new TrustStateError(
      layout.trust,
      channel,
      `Trust state cannot be read (${view.damaged}): only every channel can be started afresh (run ${
        resetCommandFor(layout, null)
      })`,
    );
  }
  const old = view.document;
  const dropped = channel === undefined
    ? Object.keys(old.channels)
    : Object.hasOwn(old.channels, channel)
    ? [channel]
    : [];
  const discarded: TrustReset["discarded"] = {};
  for (const name of dropped) {
    const r = old.channels[name];
    discarded[name] = {
      serial: r.serial,
      version: r.version,
      sha256: r.sha256,
      rotated: r.keys !== null,
    };
  }
  const next: TrustDocument = { ...emptyTrust(), generation: old.generation };
  if (channel !== undefined) {
    next.channels = { ...old.channels };
    next.blocked = { ...old.blocked };
    delete next.channels[channel];
    delete next.blocked[channel];
  }
  await writeTrust(layout, next);
  const report: TrustReset = {
    channels: channel === undefined ? "all" : [channel],
    discarded,
    damaged: view.damaged,
  };
  await appendAudit(layout, {
    at: options.now.toISOString(),
    event: "trust_reset",
    reason: `trust started afresh from the pinned keys for ${
      channel ?? "every channel"
    } (ms11-update trust reset)`,
    channels: report.channels,
    discarded,
    damaged: view.damaged,
    blocked: channel === undefined ? old.blocked : (old.blocked[channel] ?? null),
    pid: Deno.pid,
  });
  return report;
}
