// The update commands: `ms11-update` itself (check, download, verify, stage), `check` and
// `install`. They parse options, call lib/actions/ and print: a line for people on stderr,
// data on stdout.
import { adoptExisting, installFromChannel } from "../lib/actions/install.ts";
import { checkForUpdate, updateFromChannel } from "../lib/actions/update.ts";
import { actionContext, type GlobalOptions, loadContext } from "./_context.ts";
import { formatBytes } from "./_ui.ts";

/**
 * Options of the update, check and install commands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdateCommandOptions } from "./update.ts";
 * const options: UpdateCommandOptions = { channel: "canary", auto: true, json: true };
 * assert.equal(options.force, undefined);
 * ```
 */
export interface UpdateCommandOptions extends GlobalOptions {
  channel?: string;
  allowDowngrade?: boolean;
  force?: boolean;
  auto?: boolean;
  /** `--now`: take the newest release ahead of its staged rollout. */
  now?: boolean;
  /** commander's `--no-delta`: false when given. */
  delta?: boolean;
}

/**
 * `ms11-update [--channel NAME]`: check, download, verify and stage for the next launch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "../lib/publish/release.ts";
 * import { serveReleases } from "../lib/publish/serve.ts";
 * import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
 * import { installCommand, updateCommand } from "./update.ts";
 * const dir = await Deno.makeTempDir();
 * const key = await readSigningKey((await writeKeyPair(`${dir}/keys`)).privatePath);
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho MS11 1.1.0\n");
 * await publishRelease(`${dir}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${dir}/ms11`, keys: [key],
 * });
 * const server = serveReleases(`${dir}/tree`); // 127.0.0.1, a free port
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({
 *   platform: "linux-x64",
 *   update_servers: { stable: { base_url: `${server.url}/stable`, description: "Stable" } },
 *   security: { require_https: false, allowed_domains: ["127.0.0.1"],
 *     signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } } },
 * }));
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * await assert.rejects(updateCommand(options), /^Error: No install at /); // only install sets one up
 * await Deno.writeTextFile(`${dir}/ms11-1.0.0`, "#!/bin/sh\necho MS11 1.0.0\n");
 * assert.equal(await installCommand({ ...options, adopt: `${dir}/ms11-1.0.0`, version: "1.0.0" }), 0);
 * assert.equal(await updateCommand(options), 0);
 * const state = JSON.parse(await Deno.readTextFile(`${dir}/root/state.json`));
 * assert.equal(state.staged.version, "1.1.0"); // applied at the next launch
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function updateCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const noDelta = options.delta === false;
  let report = await updateFromChannel(actionContext(ctx, { progress: true }), {
    ...options,
    noDelta,
  });
  const refused = report.summary?.decision;
  if (
    options.channel !== undefined && refused?.action === "none" &&
    refused.reason === "downgrade-refused"
  ) {
    // A channel for this run whose newest release is lower: ask, as `channel NAME` does.
    const { available, current } = report.summary!;
    const answer = await ctx.ui.ask(
      `${options.channel}'s newest release ${available} is lower than the installed ${current}. Install ${available} (a downgrade)? [y/N]`,
    );
    if (answer === "y" || answer === "yes") {
      report = await updateFromChannel(actionContext(ctx, { progress: true }), {
        ...options,
        noDelta,
        allowDowngrade: true,
      });
    }
  }
  if (report.problem) ctx.ui.warn(report.problem);
  ctx.ui.notice(report.message);
  if (report.skipped) {
    ctx.ui.data(report.skipped, "");
    return 0;
  }
  const summary = report.summary!;
  if (report.updater?.staged) ctx.ui.notice(report.updater.message);
  // Data for people: the release notes of what was staged (the line above said the rest); for
  // --json, the summary with the updater's own update (docs/EVENTS.md).
  ctx.ui.data(
    { ...summary, updater: report.updater ?? null },
    summary.staged && summary.notes ? notesText(summary) : "",
  );
  return 0;
}

/** A release's notes as people read them: a heading line, then the notes. */
function notesText(s: { available: string; notes: string | null }): string {
  return `Release notes of ${s.available}:\n${s.notes}`;
}

/**
 * `ms11-update check`: report current and available versions; download nothing. An unknown
 * `--channel` is a `ConfigError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkCommand } from "./update.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * const options = { config: `${dir}/config.json`, root: `${dir}/root` };
 * await assert.rejects(checkCommand({ ...options, channel: "beta" }), {
 *   name: "ConfigError",
 *   message: 'Unknown channel "beta": configured channels are stable, canary',
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const { summary } = await checkForUpdate(actionContext(ctx), {
    ...options,
    noDelta: options.delta === false,
  });
  const { decision } = summary;
  ctx.ui.data(
    summary,
    [
      `channel:   ${summary.channel}${summary.description ? ` - ${summary.description}` : ""}`,
      `risk:      ${summary.risk} (checked every ${summary.check_interval_hours} h by --auto)`,
      `current:   ${summary.current ?? "none"}`,
      `available: ${summary.available} (released ${summary.released_at}, ${
        formatBytes(summary.size)
      })`,
      `update:    ${summary.update_available ? "yes" : `no - ${decision.message}`}`,
      ...(summary.notes ? [`notes:     ${summary.notes.replaceAll("\n", "\n           ")}`] : []),
    ].join("\n"),
  );
  return 0;
}

/**
 * Options of `install`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InstallCommandOptions } from "./update.ts";
 * const options: InstallCommandOptions = { adopt: "/usr/local/bin/ms11", version: "1.0.0" };
 * assert.equal(options.channel, undefined);
 * ```
 */
export interface InstallCommandOptions extends UpdateCommandOptions {
  adopt?: string;
  version?: string;
}

/**
 * `ms11-update install`: set up an install root from a channel's current release, or adopt an
 * existing build (`--adopt PATH --version VERSION`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { installCommand } from "./update.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho MS11 1.0.0\n", { mode: 0o755 });
 * const options = { config: `${dir}/config.json`, root: `${dir}/root`, json: true };
 * assert.equal(await installCommand({ ...options, adopt: `${dir}/ms11`, version: "1.0.0" }), 0);
 * const launched = await new Deno.Command(`${dir}/root/current/ms11`).output(); // as a launcher does
 * assert.equal(new TextDecoder().decode(launched.stdout), "MS11 1.0.0\n");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function installCommand(options: InstallCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const report = options.adopt !== undefined
    ? await adoptExisting(actionContext(ctx), options.adopt, { version: options.version })
    : await installFromChannel(actionContext(ctx, { progress: true }), options);
  ctx.ui.notice(report.message);
  ctx.ui.data(
    report.adopted === null
      ? { installed: report.installed, channel: report.channel, root: report.root }
      : { installed: report.installed, adopted: report.adopted, root: report.root },
    "",
  );
  return 0;
}
