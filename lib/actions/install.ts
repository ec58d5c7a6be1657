/**
 * First run: set up an install root from a channel's current release, or adopt a build that is
 * already on the machine, so that a fresh machine has a `current` build to start.
 *
 * @module
 */
import { cp } from "node:fs/promises";
import { removeIfExists, renameDurable, syncTree } from "../core/fs.ts";
import { appendAudit } from "../root/audit.ts";
import type { Config } from "../core/config_schema.ts";
import { buildDir, currentVersion, installProblem, type Layout } from "../root/layout.ts";
import { markConfirmed } from "../root/lifecycle.ts";
import { readState, writeState } from "../root/state.ts";
import { acquireLock } from "../root/lock.ts";
import { ensureDir, MODES, refuseLinks } from "../root/safe.ts";
import { sweepLeftovers } from "../root/sweep.ts";
import { readTrust, settleTrust } from "../root/trust_state.ts";
import { applyStaged, switchCurrent } from "../root/swap.ts";
import { runUpdate, type UpdateOptions, type UpdateResult } from "./pipeline.ts";
import { isVersion, parseVersion } from "../core/version.ts";
import { resolveChannel } from "../core/channel.ts";
import { ConfigError } from "../core/errors.ts";
import { pipelineOptions, runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";

/**
 * Install a channel's newest release into an empty install root and make it current at once.
 * Refuses a root that already has a current build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateConfig } from "../core/config.ts";
 * import { publishRelease } from "../publish/release.ts";
 * import { serveReleases } from "../publish/serve.ts";
 * import { readSigningKey, writeKeyPair } from "../publish/signing.ts";
 * import { layoutOf } from "../root/layout.ts";
 * const work = await Deno.makeTempDir();
 * const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho MS11 1.1.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.1.0", platform: "linux-x64", artifact: `${work}/ms11`, keys: [key],
 * });
 * const server = serveReleases(`${work}/tree`);
 * const config = validateConfig({
 *   update_servers: { stable: { base_url: `${server.url}/stable`, description: "Stable" } },
 *   security: {
 *     require_https: false,
 *     allowed_domains: ["127.0.0.1"],
 *     signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
 *   },
 * });
 * const layout = layoutOf(`${work}/root`);
 * import { currentVersion } from "../root/layout.ts";
 * import { installRelease } from "./install.ts";
 * await installRelease(layout, config, { channel: "stable", platform: "linux-x64" });
 * assert.equal(await currentVersion(layout), "1.1.0"); // current at once, no launch needed
 * await assert.rejects(installRelease(layout, config, { channel: "stable", platform: "linux-x64" }), {
 *   message: `${layout.root} already has 1.1.0 installed; run ms11-update to update it`,
 * });
 * await server.shutdown();
 * ```
 */
export async function installRelease(
  layout: Layout,
  config: Config,
  options: UpdateOptions,
): Promise<UpdateResult> {
  const existing = await currentVersion(layout);
  if (existing !== null) {
    throw new Error(
      `${layout.root} already has ${existing} installed; run ms11-update to update it`,
    );
  }
  const result = await runUpdate(layout, config, options);
  if (result.staged === null) {
    // Nothing to install: the release is skipped (rejected), or the check only looked.
    throw new Error(`Nothing installed in ${layout.root}: ${result.check.decision.message}`);
  }
  await applyStaged(layout, {
    keepBackups: config.keep_backups_count,
    lockWaitMs: options.lockWaitMs,
  });
  return result;
}

/**
 * Options of {@linkcode adoptBuild}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readState } from "../root/state.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { adoptBuild, type AdoptOptions } from "./install.ts";
 * const source = await Deno.makeTempFile();
 * const layout = layoutOf(await Deno.makeTempDir());
 * const options: AdoptOptions = { version: "1.0.0", executable: "ms11", now: new Date("2026-11-01T00:00:00Z") };
 * await adoptBuild(layout, source, options);
 * const { builds } = (await readState(layout)).state;
 * assert.deepEqual([builds["1.0.0"].channel, builds["1.0.0"].installed_at], ["adopted", "2026-11-01T00:00:00.000Z"]);
 * ```
 */
export interface AdoptOptions {
  /** The adopted build's version. */
  version: string;
  /** The application's file name inside the build (for a single file, its name in the build). */
  executable: string;
  /** The time to record. */
  now?: Date;
}

/**
 * Give a copied tree the modes a staged build has: no setuid, setgid or sticky bit, no group or
 * other write (the owner keeps full access to folders). Symbolic links are not followed.
 */
async function dropUnsafeModes(dir: string): Promise<void> {
  const info = await Deno.lstat(dir);
  await Deno.chmod(dir, ((info.mode ?? 0o755) & 0o755) | 0o700);
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await dropUnsafeModes(path);
    else if (entry.isFile) await Deno.chmod(path, ((await Deno.lstat(path)).mode ?? 0o644) & 0o755);
  }
}

/**
 * Adopt an existing build (a single executable file, or a directory holding `executable`) as
 * the current build of an empty install root. The source is copied, never moved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { adoptBuild } from "./install.ts";
 * const source = await Deno.makeTempFile();
 * await Deno.writeTextFile(source, "#!/bin/sh\necho MS11 1.0.0\n");
 * const layout = layoutOf(await Deno.makeTempDir());
 * await adoptBuild(layout, source, { version: "1.0.0", executable: "ms11" });
 * assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
 * assert.equal((await Deno.stat(`${layout.builds}/1.0.0/ms11`)).mode! & 0o777, 0o755);
 * assert.equal((await Deno.stat(source)).isFile, true); // copied, not moved
 * const empty = await Deno.makeTempDir();
 * await assert.rejects(adoptBuild(layoutOf(await Deno.makeTempDir()), empty, { version: "1.0.0", executable: "ms11" }), {
 *   message: `Cannot adopt ${empty}: it has no file ms11 (the configured executable)`,
 * });
 * ```
 */
export async function adoptBuild(
  layout: Layout,
  source: string,
  options: AdoptOptions,
): Promise<void> {
  const version = parseVersion(options.version, "--version");
  // A symlink is followed: what is adopted is a copy of what it points at.
  const real = await Deno.realPath(source).catch(() => null);
  const info = real === null ? null : await Deno.stat(real);
  if (real === null || info === null) throw new Error(`Cannot adopt ${source}: it does not exist`);
  if (info.isDirectory) {
    const main = await Deno.stat(`${real}/${options.executable}`).catch(() => null);
    if (!main?.isFile) {
      throw new Error(
        `Cannot adopt ${source}: it has no file ${options.executable} (the configured executable)`,
      );
    }
  } else if (!info.isFile) {
    throw new Error(`Cannot adopt ${source}: not a file or directory`);
  }
  using _lock = await acquireLock(layout);
  await ensureDir(layout, layout.builds, MODES.builds);
  const existing = await currentVersion(layout);
  if (existing !== null) {
    throw new Error(`${layout.root} already has ${existing} installed; nothing adopted`);
  }
  await sweepLeftovers(layout);
  const { state } = await readState(layout);
  // A new root gets its trust files now, so that a state.json damaged before the first check
  // is not taken for an old client's lost trust records (lib/root/trust_state.ts).
  await settleTrust(layout, await readTrust(layout), { now: new Date() });
  const tmp = `${layout.builds}/.staging-${version}-adopt`;
  try {
    if (info.isDirectory) {
      await cp(real, tmp, { recursive: true, verbatimSymlinks: true, errorOnExist: true });
      await dropUnsafeModes(tmp);
      await Deno.chmod(tmp, MODES.builds);
    } else {
      await Deno.mkdir(tmp, { mode: MODES.builds });
      await Deno.chmod(tmp, MODES.builds);
      await Deno.copyFile(real, `${tmp}/${options.executable}`);
      await Deno.chmod(`${tmp}/${options.executable}`, 0o755);
    }
    // Copies, unlike renames, must have their contents fsynced before they can become current.
    await syncTree(tmp);
    await refuseLinks(layout, buildDir(layout, version));
    await removeIfExists(buildDir(layout, version), true);
    await renameDurable(tmp, buildDir(layout, version));
  } catch (error) {
    await removeIfExists(tmp, true);
    throw error;
  }
  await switchCurrent(layout, version);
  state.builds[version] = {
    version,
    channel: "adopted",
    sha256: null,
    kind: info.isDirectory ? "directory" : "executable",
    installed_at: (options.now ?? new Date()).toISOString(),
    retired_at: null,
  };
  markConfirmed(state.lifecycle, { version, channel: "adopted" }, {
    at: state.builds[version].installed_at,
    reason: "adopted: the build already on the machine",
  });
  await writeState(layout, state);
  await appendAudit(layout, {
    at: state.builds[version].installed_at,
    event: "adopted",
    reason: `existing build ${source} adopted`,
    version,
  });
}

/** An install root must be a folder, or not exist yet (it is created). */
async function checkInstallRoot(layout: Layout): Promise<void> {
  const problem = await installProblem(layout);
  if (problem === "it is a file, not a folder" || problem === "a folder above it is a file") {
    throw new Error(`Cannot install in ${layout.root}: ${problem}`);
  }
}

/**
 * Options of {@linkcode installFromChannel}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InstallActionOptions } from "./install.ts";
 * const options: InstallActionOptions = { channel: "canary" };
 * assert.equal(options.channel, "canary");
 * ```
 */
export interface InstallActionOptions {
  /** The channel to install from (default: the configured one). */
  channel?: string;
  /** Install the channel's release even when it is rejected on this install. */
  force?: boolean;
}

/**
 * What {@linkcode installFromChannel} or {@linkcode adoptExisting} installed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InstallReport } from "./install.ts";
 * const report: InstallReport = { message: "Adopted ./ms11 as 1.0.0 in /opt/ms11",
 *   installed: "1.0.0", channel: null, adopted: "./ms11", root: "/opt/ms11" };
 * assert.equal(report.channel, null);
 * ```
 */
export interface InstallReport {
  /** One line for people. */
  message: string;
  /** The version now current. */
  installed: string;
  /** The channel it came from (null for an adopted build). */
  channel: string | null;
  /** The adopted source (null for an install from a channel). */
  adopted: string | null;
  /** The install root. */
  root: string;
}

/**
 * First run: install a channel's current release into an empty install root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { installFromChannel } from "./install.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "update_channel.json", platform: "linux-x64" };
 * await assert.rejects(installFromChannel(ctx, { channel: "nightly" }), /Unknown channel/);
 * ```
 */
export async function installFromChannel(
  ctx: ActionContext,
  options: InstallActionOptions = {},
): Promise<InstallReport> {
  const channel = resolveChannel(ctx.config, options.channel);
  await checkInstallRoot(ctx.layout);
  const result = await runAction(
    ctx,
    { command: "install", channel },
    (announce) =>
      installRelease(ctx.layout, ctx.config, {
        ...pipelineOptions(ctx, channel, announce),
        force: options.force,
        // An early adopter takes the newest release ahead of its rollout from the first install.
        rolloutNow: ctx.config.rollout_early_adopter,
      }),
  );
  const installed = result.check.manifest.version;
  return {
    message: `Installed ${installed} from ${channel} in ${ctx.layout.root}`,
    installed,
    channel,
    adopted: null,
    root: ctx.layout.root,
  };
}

/**
 * First run: adopt a build already on the machine (an executable, or a folder holding the
 * configured executable) as the current build of an empty install root. The version must be
 * semver ({@linkcode ConfigError} otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { adoptExisting } from "./install.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "update_channel.json", platform: "linux-x64" };
 * const report = await adoptExisting(ctx, await Deno.makeTempFile(), { version: "1.0.0" });
 * assert.equal(report.installed, "1.0.0");
 * ```
 */
export async function adoptExisting(
  ctx: ActionContext,
  source: string,
  options: { version: string | undefined },
): Promise<InstallReport> {
  const version = options.version;
  if (version === undefined) {
    throw new ConfigError(
      `install --adopt ${source} needs --version: the adopted build's version, such as --version 1.0.0`,
    );
  }
  if (!isVersion(version)) {
    throw new ConfigError(
      `Invalid --version ${
        JSON.stringify(version)
      }: expected the adopted build's semver version, such as 1.0.0`,
    );
  }
  await checkInstallRoot(ctx.layout);
  await runAction(
    ctx,
    { command: "install", channel: ctx.config.channel },
    () =>
      adoptBuild(ctx.layout, source, {
        version,
        executable: ctx.config.executable,
        now: ctx.env?.now(),
      }),
  );
  return {
    message: `Adopted ${source} as ${version} in ${ctx.layout.root}`,
    installed: version,
    channel: null,
    adopted: source,
    root: ctx.layout.root,
  };
}
