// The publisher's rollout commands: `rollout`, `yank`, `unyank` and `minimum-version`. They
// parse options, call lib/publish/rollout.ts and print; each change re-signs the manifest.
import { ConfigError } from "../lib/core/errors.ts";
import { isChannelName } from "../lib/core/validate.ts";
import {
  changeRollout,
  parsePercent,
  parseRamp,
  readRolloutState,
  type RolloutChange,
  type RolloutPlan,
} from "../lib/publish/rollout.ts";
import { describeRollout } from "../lib/publish/rollout_state.ts";
import { parseLifetime, signingKeys } from "./_signing_flags.ts";
import { Ui } from "./_ui.ts";

/**
 * The options every rollout command takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RolloutCommandOptions } from "./rollout.ts";
 * const options: RolloutCommandOptions = { channel: "stable", key: ["keys/ms11-update.key"], expires: "30d" };
 * assert.equal(options.unsigned, undefined);
 * ```
 */
export interface RolloutCommandOptions {
  channel: string;
  key?: string[];
  unsigned?: boolean;
  expires?: string;
  json?: boolean;
  /** `yank`: why. */
  reason?: string;
}

/**
 * The rollout plan of `release`'s `--rollout PERCENT` or `--ramp LIST [--ramp-every
 * LIFETIME]`, or undefined without either (every install at once). Bad flags are a
 * `ConfigError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rolloutPlan } from "./rollout.ts";
 * assert.deepEqual(rolloutPlan({ rollout: "10%" }), { basis_points: 1000 });
 * assert.equal(rolloutPlan({}), undefined);
 * assert.throws(() => rolloutPlan({ rollout: "10", ramp: "1,100", rampEvery: "24h" }), {
 *   name: "ConfigError",
 *   message: "release takes --rollout or --ramp, not both",
 * });
 * ```
 */
export function rolloutPlan(
  options: { rollout?: string; ramp?: string; rampEvery?: string },
): RolloutPlan | undefined {
  if (options.rollout !== undefined && options.ramp !== undefined) {
    throw new ConfigError("release takes --rollout or --ramp, not both");
  }
  if (options.rampEvery !== undefined && options.ramp === undefined) {
    throw new ConfigError("release takes --ramp-every only with --ramp");
  }
  if (options.rollout !== undefined) {
    return { basis_points: parsePercent(options.rollout, "--rollout") };
  }
  if (options.ramp !== undefined) return parseRamp(options.ramp, options.rampEvery);
  return undefined;
}

function checkChannel(channel: string): void {
  if (!isChannelName(channel)) {
    throw new ConfigError(
      `Invalid channel ${
        JSON.stringify(channel)
      }: expected a channel name like stable or canary (a-z, 0-9, -, _)`,
    );
  }
}

async function checkTree(tree: string): Promise<void> {
  const info = await Deno.stat(tree).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${tree} does not exist`);
}

/** Apply one change: flags checked, keys read, then the manifest rewritten and re-signed. */
async function change(
  command: string,
  tree: string,
  what: RolloutChange,
  options: RolloutCommandOptions,
): Promise<number> {
  const ui = new Ui({ json: options.json });
  checkChannel(options.channel);
  const lifetime = parseLifetime(options.expires ?? "30d");
  const keys = await signingKeys(command, options);
  await checkTree(tree);
  const now = new Date();
  const result = await changeRollout(tree, {
    channel: options.channel,
    change: what,
    keys,
    expires: new Date(now.getTime() + lifetime),
    now,
  });
  if (options.unsigned) {
    ui.warn(`Wrote an unsigned manifest: clients that verify signatures refuse it`);
  }
  ui.notice(`${result.summary} (serial ${result.manifest.serial})`);
  const state = await readRolloutState(tree, options.channel, now);
  ui.data(
    {
      manifest: result.manifestPath,
      signature: result.signaturePath,
      signed_by: keys.map((k) => k.keyid),
      summary: result.summary,
      ...state,
    },
    `${options.channel} ${describeRollout(state)}`,
  );
  return 0;
}

const ACTIONS = ["widen", "pause", "resume", "complete", "show"];

/**
 * `ms11-update rollout TREE --channel C widen PERCENT|pause|resume|complete|show`: change the
 * staged rollout of the channel's release (re-signed), or show it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { rolloutCommand } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * await publishRelease(tree, { channel: "stable", version: "1.0.0", platform: "linux-x64", artifact,
 *   rollout: { basis_points: 1000 } });
 * const options = { channel: "stable", unsigned: true, json: true };
 * assert.equal(await rolloutCommand(tree, { action: "widen", value: "50" }, options), 0);
 * assert.equal(await rolloutCommand(tree, { action: "show" }, options), 0);
 * await assert.rejects(rolloutCommand(tree, { action: "widen", value: "0.5" }, options), {
 *   name: "ConfigError",
 *   message: 'Invalid percent "0.5": expected a whole percent from 1 to 100 (10 means 10%)',
 * });
 * await Deno.remove(tree, { recursive: true });
 * ```
 */
export async function rolloutCommand(
  tree: string,
  asked: { action: string; value?: string },
  options: RolloutCommandOptions,
): Promise<number> {
  const { action, value } = asked;
  if (!ACTIONS.includes(action)) {
    throw new ConfigError(
      `Invalid rollout action ${JSON.stringify(action)}: expected ${ACTIONS.join(", ")}`,
    );
  }
  if ((action === "widen") !== (value !== undefined)) {
    throw new ConfigError(
      action === "widen"
        ? "rollout widen needs a PERCENT (a whole percent from 1 to 100)"
        : `rollout ${action} takes no value, got ${JSON.stringify(value)}`,
    );
  }
  if (action === "show") {
    checkChannel(options.channel);
    await checkTree(tree);
    const state = await readRolloutState(tree, options.channel);
    new Ui({ json: options.json }).data(state, `${options.channel} ${describeRollout(state)}`);
    return 0;
  }
  const what: RolloutChange = action === "widen"
    ? { action, basis_points: parsePercent(value!, "percent") }
    : { action: action as "pause" | "resume" | "complete" };
  return await change("rollout", tree, what, options);
}

/**
 * `ms11-update yank TREE --channel C VERSION --reason TEXT`: mark a version as pulled. Yanking
 * the channel's release puts its `previous` release on top again, for every install.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { yankCommand } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * await publishRelease(tree, { channel: "stable", version: "1.0.0", platform: "linux-x64", artifact });
 * await assert.rejects(yankCommand(tree, "0.9.0", { channel: "stable", unsigned: true }), {
 *   name: "ConfigError",
 *   message: "yank needs --reason TEXT (why the version is pulled; clients record it)",
 * });
 * assert.equal(await yankCommand(tree, "0.9.0", { channel: "stable", unsigned: true, reason: "bad build", json: true }), 0);
 * await Deno.remove(tree, { recursive: true });
 * ```
 */
export async function yankCommand(
  tree: string,
  version: string,
  options: RolloutCommandOptions,
): Promise<number> {
  if (options.reason === undefined || options.reason.trim() === "") {
    throw new ConfigError(
      "yank needs --reason TEXT (why the version is pulled; clients record it)",
    );
  }
  return await change("yank", tree, { action: "yank", version, reason: options.reason }, options);
}

/**
 * `ms11-update unyank TREE --channel C VERSION`: take a version off the yanked list (it is
 * offered again only once it is released again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { unyankCommand, yankCommand } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * await publishRelease(tree, { channel: "stable", version: "1.0.0", platform: "linux-x64", artifact });
 * const options = { channel: "stable", unsigned: true, json: true };
 * await yankCommand(tree, "0.9.0", { ...options, reason: "bad build" });
 * assert.equal(await unyankCommand(tree, "0.9.0", options), 0);
 * await assert.rejects(unyankCommand(tree, "0.9.0", options), {
 *   name: "RangeError", message: "Cannot unyank 0.9.0 on stable: it is not yanked",
 * });
 * await Deno.remove(tree, { recursive: true });
 * ```
 */
export async function unyankCommand(
  tree: string,
  version: string,
  options: RolloutCommandOptions,
): Promise<number> {
  return await change("unyank", tree, { action: "unyank", version }, options);
}

/**
 * `ms11-update minimum-version TREE --channel C VERSION|none`: installs below VERSION update
 * at once (bypassing the rollout and the check interval); `none` removes the minimum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { minimumVersionCommand } from "./rollout.ts";
 * const tree = await Deno.makeTempDir();
 * const artifact = await Deno.makeTempFile();
 * await Deno.writeTextFile(artifact, "#!/bin/sh\necho MS11\n");
 * await publishRelease(tree, { channel: "stable", version: "1.0.0", platform: "linux-x64", artifact });
 * const options = { channel: "stable", unsigned: true, json: true };
 * assert.equal(await minimumVersionCommand(tree, "1.0.0", options), 0);
 * assert.equal(await minimumVersionCommand(tree, "none", options), 0);
 * await assert.rejects(minimumVersionCommand(tree, "2.0.0", options), {
 *   name: "RangeError",
 *   message: "Cannot set the minimum version of stable to 2.0.0: the channel offers 1.0.0",
 * });
 * await Deno.remove(tree, { recursive: true });
 * ```
 */
export async function minimumVersionCommand(
  tree: string,
  version: string,
  options: RolloutCommandOptions,
): Promise<number> {
  return await change(
    "minimum-version",
    tree,
    { action: "minimum", version: version === "none" ? null : version },
    options,
  );
}
