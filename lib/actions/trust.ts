/**
 * The trust use cases: show the install's trust state, and start it afresh from the pinned keys
 * (`ms11-update trust reset`), the one way out of a damaged trust state. A reset is explicit,
 * takes the install lock and is audited; nothing else ever resets trust (docs/SECURITY.md,
 * "Trust state").
 *
 * @module
 */
import { isChannelName } from "../core/validate.ts";
import { acquireLock } from "../root/lock.ts";
import { readTrust } from "../root/trust_state.ts";
import {
  resetTrust,
  summarizeTrust,
  type TrustReset,
  type TrustSummary,
} from "../root/trust_report.ts";
import { runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";

/**
 * The install's trust state: per channel the last manifest accepted, and what is wrong. Reads
 * only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { trustStatus } from "./trust.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "c.json", platform: "linux-x64" };
 * assert.deepEqual((await trustStatus(ctx)).channels, {});
 * ```
 */
export async function trustStatus(ctx: ActionContext): Promise<TrustSummary> {
  return summarizeTrust(ctx.layout, await readTrust(ctx.layout));
}

/**
 * Options of {@linkcode startTrustAfresh}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrustResetOptions } from "./trust.ts";
 * const options: TrustResetOptions = { channel: "stable" };
 * assert.equal(options.channel, "stable");
 * ```
 */
export interface TrustResetOptions {
  /** Only this channel (default: every channel). */
  channel?: string;
}

/**
 * What {@linkcode startTrustAfresh} did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrustResetReport } from "./trust.ts";
 * const report: TrustResetReport = {
 *   message: "Trust started afresh", result: { channels: "all", discarded: {}, damaged: null },
 * };
 * assert.equal(report.result.channels, "all");
 * ```
 */
export interface TrustResetReport {
  /** One line for people. */
  message: string;
  /** What was dropped. */
  result: TrustReset;
}

/**
 * Start trust afresh from the pinned keys for one channel or every channel: the records of the
 * manifests accepted so far (and any rotated keys) are dropped, so the next check accepts
 * whatever the configuration's pinned keys sign, as on a new install. Under the install lock;
 * audited (`trust_reset`). The install root must exist; an invalid channel name is a
 * `RangeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { readAudit } from "../root/audit.ts";
 * import { startTrustAfresh } from "./trust.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.writeTextFile(layout.trust, "{ damaged");
 * const ctx = { layout, config: defaultConfig(), configPath: "c.json", platform: "linux-x64" };
 * const report = await startTrustAfresh(ctx);
 * assert.match(report.message, /^Trust started afresh from the pinned keys for every channel/);
 * assert.equal((await readAudit(layout)).at(-1)?.event, "trust_reset");
 * ```
 */
export async function startTrustAfresh(
  ctx: ActionContext,
  options: TrustResetOptions = {},
): Promise<TrustResetReport> {
  const { channel } = options;
  if (channel !== undefined && !isChannelName(channel)) {
    throw new RangeError(`Invalid channel ${JSON.stringify(channel)}: expected a channel name`);
  }
  const result = await runAction(
    ctx,
    { command: "trust reset", channel: channel ?? ctx.config.channel },
    async () => {
      const info = await Deno.stat(ctx.layout.root).catch(() => null);
      if (info === null || !info.isDirectory) {
        throw new Error(`No install at ${ctx.layout.root}: there is no trust state to reset`);
      }
      using _lock = await acquireLock(ctx.layout, { waitMs: ctx.lockWaitMs ?? 0 });
      return await resetTrust(ctx.layout, { channel, now: ctx.env?.now() ?? new Date() });
    },
  );
  const dropped = Object.entries(result.discarded).map(([name, d]) =>
    `${name} serial ${d.serial} (${d.version}${d.rotated ? ", rotated keys" : ""})`
  );
  return {
    message: `Trust started afresh from the pinned keys for ${channel ?? "every channel"}${
      dropped.length === 0 ? "" : `; dropped ${dropped.join(", ")}`
    }${
      result.damaged === null ? "" : `; the damaged trust files were replaced`
    }: the next check accepts what the pinned keys sign`,
    result,
  };
}
