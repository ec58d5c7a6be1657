// The trust commands: `trust` shows the install's trust state (the last manifest accepted per
// channel, and what is wrong with it); `trust reset` starts it afresh from the pinned keys, the
// explicit and audited way out of a damaged trust state. They call lib/actions/trust.ts.
import { startTrustAfresh, trustStatus } from "../lib/actions/trust.ts";
import type { TrustSummary } from "../lib/root/trust_report.ts";
import { escapeText as t } from "../lib/core/text.ts";
import { actionContext, type GlobalOptions, loadContext } from "./_context.ts";

/**
 * The human form of the trust state, every value read from the trust file escaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustText } from "./trust.ts";
 * assert.equal(
 *   trustText({ file: "/r/trust.json", problem: null, channels: { stable: {
 *     serial: 7, version: "1.1.0", accepted_at: "2026-11-27T00:00:00Z",
 *     expires: "2026-12-27T00:00:00Z", rotated_keys: false } } }),
 *   "file:     /r/trust.json (backup /r/trust.json.bak)\nproblem:  none\n" +
 *     "stable:   serial 7 (1.1.0), accepted 2026-11-27T00:00:00Z, expires 2026-12-27T00:00:00Z",
 * );
 * ```
 */
export function trustText(summary: TrustSummary): string {
  const lines = [
    `file:     ${t(summary.file)} (backup ${t(summary.file)}.bak)`,
    `problem:  ${summary.problem === null ? "none" : t(summary.problem)}`,
  ];
  const channels = Object.entries(summary.channels);
  if (channels.length === 0) lines.push("channels: none accepted yet");
  for (const [name, c] of channels) {
    lines.push(
      `${`${t(name)}:`.padEnd(9)} serial ${c.serial} (${t(c.version)}), accepted ${
        t(c.accepted_at)
      }, expires ${t(c.expires)}${c.rotated_keys ? ", rotated keys" : ""}`,
    );
  }
  return lines.join("\n");
}

/**
 * `ms11-update trust [--json]`: show the trust state, read-only; a problem is also a warning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustCommand } from "./trust.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * assert.equal(await trustCommand(options), 0); // prints {"file": …, "problem": null, "channels": {}}
 * await assert.rejects(Deno.stat(`${dir}/root`), Deno.errors.NotFound); // nothing written
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function trustCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options);
  const summary = await trustStatus(actionContext(ctx));
  if (summary.problem !== null) ctx.ui.warn(summary.problem);
  ctx.ui.data(summary, trustText(summary));
  return 0;
}

/**
 * Options of `trust reset`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TrustResetCommandOptions } from "./trust.ts";
 * const options: TrustResetCommandOptions = { root: "/opt/ms11", channel: "stable" };
 * assert.equal(options.channel, "stable");
 * ```
 */
export interface TrustResetCommandOptions extends GlobalOptions {
  channel?: string;
}

/**
 * `ms11-update trust reset [--channel NAME]`: start trust afresh from the pinned keys (locked,
 * audited); an install root that does not exist is an error and is not created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trustResetCommand } from "./trust.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * await Deno.mkdir(`${dir}/root`);
 * await Deno.writeTextFile(`${dir}/root/trust.json`, "{ damaged");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * assert.equal(await trustResetCommand(options), 0); // prints {"channels": "all", …}
 * assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/root/trust.json`)).generation, 1);
 * await assert.rejects(trustResetCommand({ ...options, root: `${dir}/none` }), /No install at/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function trustResetCommand(options: TrustResetCommandOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const report = await startTrustAfresh(actionContext(ctx), { channel: options.channel });
  ctx.ui.notice(report.message);
  ctx.ui.data(
    report.result,
    `trust reset for ${
      report.result.channels === "all" ? "every channel" : report.result.channels.join(", ")
    }`,
  );
  return 0;
}
