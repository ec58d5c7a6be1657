// The updater's own commands: `self update` (stage the ms11-update the channel offers, for its
// trial at the next launch) and `self rollback` (put the kept previous one back). They parse
// options, call lib/actions/self.ts and print: a line for people on stderr, data on stdout.
import { rollBackUpdater, updateUpdater } from "../lib/actions/self.ts";
import { actionContext, type GlobalOptions, loadContext } from "./_context.ts";

/**
 * Options of `self update`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfUpdateCommandOptions } from "./self.ts";
 * const options: SelfUpdateCommandOptions = { check: true, channel: "canary" };
 * assert.equal(options.force, undefined);
 * ```
 */
export interface SelfUpdateCommandOptions extends GlobalOptions {
  channel?: string;
  check?: boolean;
  force?: boolean;
}

/**
 * `ms11-update self update [--check] [--force]`: stage the ms11-update the channel's signed
 * manifest offers, when it is newer than this one (downloaded, verified, smoke-tested); it takes
 * over at the next launch, once it has started. Run from source, it fails saying so.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selfUpdateCommand } from "./self.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * await assert.rejects(selfUpdateCommand({ config: `${dir}/config.json`, root: `${dir}/root` }), {
 *   message: /^ms11-update runs from source \(.*\.ts\); it is updated with its checkout, not by itself$/,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function selfUpdateCommand(options: SelfUpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const report = await updateUpdater(actionContext(ctx, { progress: true }), {
    channel: options.channel,
    checkOnly: options.check,
    force: options.force,
  });
  ctx.ui.notice(report.message);
  ctx.ui.data(report, ""); // the line above said it (--json: the report)
  return 0;
}

/**
 * `ms11-update self rollback`: put the kept previous ms11-update back at the launcher's path
 * (smoke-tested first); the version replaced is refused until `self update --force`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selfRollbackCommand } from "./self.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * await assert.rejects(selfRollbackCommand({ config: `${dir}/config.json`, root: `${dir}/root` }), {
 *   message: /^ms11-update runs from source/,
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function selfRollbackCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const result = await rollBackUpdater(actionContext(ctx));
  ctx.ui.notice(`Rolled ms11-update back ${result.from} -> ${result.to} at ${result.path}`);
  ctx.ui.data(result, "");
  return 0;
}
