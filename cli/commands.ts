// The CLI commands other than `apply`: thin, they turn options into calls of lib/ and print.
import { resolveChannel } from "../lib/core/channel.ts";
import { detectPlatform, updateConfigFile } from "../lib/core/config.ts";
import { serveDashboard } from "../dashboard/server.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { confirmBuild } from "../lib/root/health.ts";
import { adoptBuild, installRelease } from "../lib/actions/install.ts";
import { currentVersion } from "../lib/root/layout.ts";
import { isAnnounced, runHook, type UpdateEvent } from "../lib/actions/notify.ts";
import { rollback } from "../lib/root/rollback.ts";
import { serveReleases } from "../lib/publish/serve.ts";
import { checkReleaseName, publishRelease, verifyRelease } from "../lib/publish/release.ts";
import { isPublicKey, keyId, type KeySet } from "../lib/trust/keys.ts";
import { readSigningKey, type SigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { readStatus, type StatusDocument } from "../lib/root/status.ts";
import { recordFailure, runUpdate, type UpdateResult } from "../lib/actions/update.ts";
import { autoCheckDue } from "../lib/trust/check.ts";
import { readState } from "../lib/root/state.ts";
import { isVersion } from "../lib/core/version.ts";
import { parsePort } from "../lib/core/validate.ts";
import { type Context, type GlobalOptions, loadContext } from "./_context.ts";
import { formatBytes, Ui } from "./_ui.ts";

/** Options of the update, check and install commands. */
export interface UpdateCommandOptions extends GlobalOptions {
  channel?: string;
  allowDowngrade?: boolean;
  force?: boolean;
  auto?: boolean;
}

/** Announces events: a line on stderr, and the hook command when configured. */
class Announcer {
  #ctx: Context;
  #pending: UpdateEvent[] = [];
  constructor(ctx: Context) {
    this.#ctx = ctx;
  }
  /** Announce: a line on stderr now, the hook at flush. */
  event = (event: UpdateEvent): void => {
    if (this.hookOnly(event)) this.#ctx.ui.notice(event.message);
  };
  /** Queue for the hook only (when the line for people is printed elsewhere); true if announced. */
  hookOnly(event: UpdateEvent): boolean {
    if (!isAnnounced(event.type, this.#ctx.config.notifications)) return false;
    this.#pending.push(event);
    return true;
  }
  async flush(): Promise<void> {
    const command = this.#ctx.config.notifications.command;
    const events = this.#pending.splice(0);
    if (command === null) return;
    for (const event of events) {
      const failure = await runHook(command, event);
      if (failure) this.#ctx.ui.warn(failure);
    }
  }
}

/** Run `body` with the context; record and announce a failure, then rethrow it. */
async function withFailureRecord<T>(
  ctx: Context,
  command: string,
  channel: string,
  body: (announcer: Announcer) => Promise<T>,
): Promise<T> {
  const announcer = new Announcer(ctx);
  try {
    return await body(announcer);
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      const message = (error as Error).message;
      await recordFailure(ctx.layout, message, { command });
      announcer.hookOnly({
        type: "failure",
        at: new Date().toISOString(),
        channel,
        version: null,
        current: await currentVersion(ctx.layout).catch(() => null),
        message: `${command} failed: ${message}`,
      });
      // The error itself is printed by main; the announcement only reaches the hook.
    }
    throw error;
  } finally {
    await announcer.flush();
  }
}

function updateSummary(result: UpdateResult) {
  const { check } = result;
  return {
    channel: check.channel,
    current: check.current,
    available: check.manifest.version,
    released_at: check.manifest.released_at,
    notes: check.manifest.notes,
    decision: check.decision,
    staged: result.staged,
    downloaded: result.downloaded,
    manifest_not_modified: check.notModified,
  };
}

/** `ms11-update [--channel NAME]`: check, download, verify and stage. */
export async function updateCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const channel = resolveChannel(ctx.config, options.channel);
  if (options.auto) {
    const { state } = await readState(ctx.layout);
    const due = autoCheckDue(ctx.config, state, { channel, now: new Date(), force: options.force });
    if (!due.due) {
      ctx.ui.notice(due.message);
      ctx.ui.data(
        { channel, skipped: true, reason: due.reason, next_check_at: due.next },
        `skipped: ${due.reason}`,
      );
      return 0;
    }
  }
  const result = await withFailureRecord(
    ctx,
    "update",
    channel,
    (announcer) =>
      runUpdate(ctx.layout, ctx.config, {
        channel,
        platform: ctx.platform,
        allowDowngrade: options.allowDowngrade,
        force: options.force,
        onProgress: ctx.ui.progress(),
        onEvent: announcer.event,
        lockWaitMs: ctx.lockWaitMs,
      }),
  );
  if (result.problem) ctx.ui.warn(result.problem);
  const { decision } = result.check;
  if (decision.action === "none") ctx.ui.notice(decision.message);
  ctx.ui.data(
    updateSummary(result),
    result.staged
      ? `staged ${result.staged} from ${channel}`
      : `no update: ${decision.action === "none" ? decision.reason : "none"} (current ${
        result.check.current ?? "none"
      }, ${channel} has ${result.check.manifest.version})`,
  );
  return 0;
}

/** `ms11-update check`: report current and available versions; download nothing. */
export async function checkCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const channel = resolveChannel(ctx.config, options.channel);
  const result = await withFailureRecord(
    ctx,
    "check",
    channel,
    (announcer) =>
      runUpdate(ctx.layout, ctx.config, {
        channel,
        platform: ctx.platform,
        checkOnly: true,
        allowDowngrade: options.allowDowngrade,
        force: options.force,
        onEvent: announcer.event,
        lockWaitMs: ctx.lockWaitMs,
      }),
  );
  const { decision, manifest, artifact } = result.check;
  const applies = decision.action === "update";
  ctx.ui.data(
    { ...updateSummary(result), update_available: applies, size: artifact.size },
    [
      `channel:   ${channel}`,
      `current:   ${result.check.current ?? "none"}`,
      `available: ${manifest.version} (released ${manifest.released_at}, ${
        formatBytes(artifact.size)
      })`,
      `update:    ${applies ? "yes" : `no - ${decision.message}`}`,
    ].join("\n"),
  );
  return 0;
}

/** Options of `install`. */
export interface InstallCommandOptions extends UpdateCommandOptions {
  adopt?: string;
  version?: string;
}

/** `ms11-update install`: set up an install root from a release, or adopt an existing build. */
export async function installCommand(options: InstallCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  if (options.adopt !== undefined) {
    if (options.version === undefined || !isVersion(options.version)) {
      throw new ConfigError(
        `install --adopt needs --version with a semver version, got ${
          JSON.stringify(options.version ?? null)
        }`,
      );
    }
    const version = options.version;
    await withFailureRecord(
      ctx,
      "install",
      ctx.config.channel,
      () =>
        adoptBuild(ctx.layout, options.adopt!, {
          version,
          executable: ctx.config.executable,
        }),
    );
    ctx.ui.notice(`Adopted ${options.adopt} as ${version} in ${ctx.layout.root}`);
    ctx.ui.data(
      { installed: version, adopted: options.adopt, root: ctx.layout.root },
      `installed ${version}`,
    );
    return 0;
  }
  const channel = resolveChannel(ctx.config, options.channel);
  const result = await withFailureRecord(
    ctx,
    "install",
    channel,
    (announcer) =>
      installRelease(ctx.layout, ctx.config, {
        channel,
        platform: ctx.platform,
        onProgress: ctx.ui.progress(),
        onEvent: announcer.event,
        lockWaitMs: ctx.lockWaitMs,
      }),
  );
  const installed = result.check.manifest.version;
  ctx.ui.notice(`Installed ${installed} from ${channel} in ${ctx.layout.root}`);
  ctx.ui.data({ installed, channel, root: ctx.layout.root }, `installed ${installed}`);
  return 0;
}

/** Options of `rollback`. */
export interface RollbackCommandOptions extends GlobalOptions {
  to?: string;
}

/** `ms11-update rollback [--to VERSION]`. */
export async function rollbackCommand(options: RollbackCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  if (options.to !== undefined && !isVersion(options.to)) {
    throw new ConfigError(`Invalid --to ${JSON.stringify(options.to)}: expected a version`);
  }
  const result = await withFailureRecord(
    ctx,
    "rollback",
    ctx.config.channel,
    () => rollback(ctx.layout, { to: options.to, lockWaitMs: ctx.lockWaitMs }),
  );
  ctx.ui.notice(
    `Rolled back ${result.from} -> ${result.to}; ${result.from} is kept as a backup and skipped by updates until a newer release`,
  );
  if (result.cancelledStaged) ctx.ui.notice(`Cancelled the staged ${result.cancelledStaged}`);
  ctx.ui.data(result, `rolled back to ${result.to}`);
  return 0;
}

/** `ms11-update confirm`: the build on trial is healthy; commit it. */
export async function confirmCommand(options: GlobalOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const result = await withFailureRecord(
    ctx,
    "confirm",
    ctx.config.channel,
    () =>
      confirmBuild(ctx.layout, {
        lockWaitMs: ctx.lockWaitMs,
        keepBackups: ctx.config.keep_backups_count,
      }),
  );
  if (result.confirmed !== null) {
    ctx.ui.notice(`Confirmed ${result.confirmed} after ${result.attempts} launch(es)`);
    if (result.pruned.length > 0) ctx.ui.notice(`Removed old backups: ${result.pruned.join(", ")}`);
  }
  ctx.ui.data(
    result,
    result.confirmed !== null
      ? `confirmed ${result.confirmed}`
      : `nothing on trial; current ${result.current ?? "none"}`,
  );
  return 0;
}

function statusText(s: StatusDocument): string {
  const lines = [
    `root:       ${s.root}`,
    `channel:    ${s.channel}`,
    `platform:   ${s.platform}`,
    `current:    ${
      s.current ? `${s.current.version} (${s.current.channel ?? "unknown channel"})` : "none"
    }`,
    `staged:     ${
      s.staged ? `${s.staged.version} from ${s.staged.channel}, applied at next launch` : "none"
    }`,
    `trial:      ${
      s.trial
        ? `${s.trial.version}, launch ${s.trial.attempts} of ${s.trial.max_attempts} without a confirm (falls back to ${
          s.trial.from ?? "nothing"
        })`
        : "none"
    }`,
    `backups:    ${
      s.backups.length === 0
        ? "none"
        : s.backups.map((b) => `${b.version}${b.retired_at ? ` (until ${b.retired_at})` : ""}`)
          .join(", ")
    }`,
    `last check: ${
      s.last_check
        ? `${s.last_check.at} on ${s.last_check.channel}: ${s.last_check.available} available (${s.last_check.decision})`
        : "never"
    }`,
    `rejected:   ${
      s.rejected.length === 0
        ? "none"
        : s.rejected.map((r) => `${r.version} on ${r.channel} (${r.reason})`).join("; ")
    }`,
    `last error: ${
      s.last_error ? `${s.last_error.at} ${s.last_error.command}: ${s.last_error.message}` : "none"
    }`,
  ];
  return lines.join("\n");
}

/** `ms11-update status [--json]`. */
export async function statusCommand(options: UpdateCommandOptions): Promise<number> {
  const ctx = await loadContext(options);
  const channel = resolveChannel(ctx.config, options.channel);
  const status = await readStatus(ctx.layout, ctx.config, { channel, platform: ctx.platform });
  if (status.state_problem) ctx.ui.warn(status.state_problem);
  ctx.ui.data(status, statusText(status));
  return 0;
}

/** `ms11-update channel [NAME]`: show channels, or persist a switch. */
export async function channelCommand(
  name: string | undefined,
  options: GlobalOptions,
): Promise<number> {
  const ctx = await loadContext(options);
  const channels = Object.entries(ctx.config.update_servers).map(([n, s]) => ({
    name: n,
    description: s.description,
    base_url: s.base_url,
    current: n === ctx.config.channel,
  }));
  if (name === undefined) {
    ctx.ui.data(
      { channel: ctx.config.channel, channels },
      channels.map((c) => `${c.current ? "*" : " "} ${c.name.padEnd(10)} ${c.description}`).join(
        "\n",
      ),
    );
    return 0;
  }
  const channel = resolveChannel(ctx.config, name);
  const previous = ctx.config.channel;
  if (channel !== previous) {
    await updateConfigFile(ctx.configPath, (raw) => ({ ...raw, channel }));
    const announcer = new Announcer(ctx);
    announcer.event({
      type: "channel_changed",
      at: new Date().toISOString(),
      channel,
      version: null,
      current: await currentVersion(ctx.layout).catch(() => null),
      message: `Channel changed: ${previous} -> ${channel} (saved in ${ctx.configPath})`,
    });
    await announcer.flush();
  } else {
    ctx.ui.notice(`Already on ${channel}`);
  }
  ctx.ui.data({ channel, previous, config: ctx.configPath }, `channel ${channel}`);
  return 0;
}

/** Options of `dashboard`. */
export interface DashboardCommandOptions extends GlobalOptions {
  port?: string;
  host?: string;
  allowRemote?: boolean;
  open?: boolean;
}

/** The command that opens a URL in the default browser on this OS. */
export function openerCommand(os: string, url: string): string[] {
  if (os === "darwin") return ["open", url];
  if (os === "windows") return ["cmd", "/c", "start", "", url];
  return ["xdg-open", url];
}

/** `ms11-update dashboard`: serve the status page and JSON API until interrupted. */
export async function dashboardCommand(options: DashboardCommandOptions): Promise<number> {
  const ctx = await loadContext(options, 5);
  const port = parsePort(options.port ?? "0");
  if (port === null) {
    throw new ConfigError(`Invalid --port ${JSON.stringify(options.port)}: expected 0-65535`);
  }
  const hook = ctx.config.notifications.command;
  const dashboard = serveDashboard(ctx.layout, {
    configPath: ctx.configPath,
    configExplicit: ctx.configExists,
    platform: ctx.platform,
    hostname: options.host ?? "127.0.0.1",
    port,
    allowRemote: options.allowRemote ?? false,
    lockWaitMs: ctx.lockWaitMs,
    onEvent: (event) => {
      if (!isAnnounced(event.type, ctx.config.notifications)) return;
      ctx.ui.notice(event.message);
      if (hook !== null) {
        runHook(hook, event).then((failure) => failure && ctx.ui.warn(failure));
      }
    },
  });
  const stop = () => void dashboard.shutdown();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  try {
    if (options.open) {
      const [program, ...args] = openerCommand(Deno.build.os, dashboard.url);
      const opened = await new Deno.Command(program, { args, stdin: "null", stdout: "null" })
        .output()
        .then((o) => o.success ? null : `${program} exited with ${o.code}`)
        .catch((error) => `${program}: ${(error as Error).message}`);
      if (opened !== null) {
        ctx.ui.warn(`Could not open a browser (${opened}); open the URL yourself`);
      }
    }
    ctx.ui.notice(`Dashboard of ${ctx.layout.root} at ${dashboard.url} (Ctrl-C to stop)`);
    ctx.ui.data(
      {
        url: dashboard.url,
        origin: dashboard.origin,
        port: dashboard.port,
        token: dashboard.token,
      },
      dashboard.url,
    );
    await dashboard.finished;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
    await dashboard.shutdown();
  }
  return 0;
}

/** Options of `release`. */
export interface ReleaseCommandOptions {
  channel: string;
  version: string;
  artifact: string;
  out: string;
  platform?: string;
  notes?: string;
  json?: boolean;
  key?: string[];
  unsigned?: boolean;
  expires?: string;
  nextKey?: string[];
  nextThreshold?: string;
  republish?: boolean;
}

/**
 * Parse a lifetime such as `30d`, `12h` or `90m` into milliseconds; a usage error otherwise.
 */
function parseLifetime(text: string): number {
  const m = /^(\d+)([dhm])$/.exec(text);
  const ms = m === null ? 0 : Number(m[1]) * { d: 86400_000, h: 3600_000, m: 60_000 }[m[2]]!;
  if (ms <= 0 || ms > 3660 * 86400_000) {
    throw new ConfigError(
      `Invalid --expires ${JSON.stringify(text)}: expected a lifetime such as 30d, 12h or 90m`,
    );
  }
  return ms;
}

/** `ms11-update release`: add a build to a release tree. */
export async function releaseCommand(options: ReleaseCommandOptions): Promise<number> {
  const ui = new Ui({ json: options.json });
  const platform = options.platform ?? detectPlatform();
  checkReleaseName({ channel: options.channel, version: options.version, platform });
  const info = await Deno.stat(options.artifact).catch(() => null);
  if (!info?.isFile) throw new ConfigError(`Artifact ${options.artifact} is not a file`);
  const keyFiles = options.key ?? [];
  if (keyFiles.length === 0 && !options.unsigned) {
    throw new ConfigError(
      "release needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)",
    );
  }
  if (keyFiles.length > 0 && options.unsigned) {
    throw new ConfigError("release takes --key or --unsigned, not both");
  }
  const lifetime = parseLifetime(options.expires ?? "30d");
  const keys: SigningKey[] = [];
  for (const file of keyFiles) {
    try {
      keys.push(await readSigningKey(file));
    } catch (error) {
      throw new ConfigError(`Invalid --key ${file}: ${(error as Error).message}`);
    }
  }
  let nextKeys: KeySet | undefined;
  if (options.nextKey !== undefined) {
    const next = await readPublicKeys(options.nextKey, "--next-key");
    const threshold = Number(options.nextThreshold ?? "1");
    if (!Number.isInteger(threshold) || threshold < 1 || threshold > next.length) {
      throw new ConfigError(
        `Invalid --next-threshold ${
          JSON.stringify(options.nextThreshold)
        }: expected 1 to ${next.length}`,
      );
    }
    nextKeys = { threshold, keys: next };
  }
  const releasedAt = new Date();
  const result = await publishRelease(options.out, {
    channel: options.channel,
    version: options.version,
    platform,
    artifact: options.artifact,
    notes: options.notes,
    keys,
    releasedAt,
    expires: new Date(releasedAt.getTime() + lifetime),
    nextKeys,
    republish: options.republish,
  });
  if (options.unsigned) {
    ui.warn(`Published an unsigned manifest: clients that verify signatures refuse it`);
  }
  const a = result.manifest.artifacts[platform];
  ui.notice(
    `Published ${options.version} (${platform}, ${formatBytes(a.size)}) on ${options.channel}`,
  );
  ui.data(
    {
      manifest: result.manifestPath,
      artifact: result.artifactPath,
      sha256: a.sha256,
      size: a.size,
      serial: result.manifest.serial,
      expires: result.manifest.expires,
      signature: result.signaturePath,
      signed_by: keys.map((k) => k.keyid),
    },
    result.manifestPath,
  );
  return 0;
}

/** Options of `keygen`. */
export interface KeygenCommandOptions {
  out: string;
  name?: string;
  json?: boolean;
}

/** `ms11-update keygen --out DIR`: a new Ed25519 key pair for signing manifests. */
export async function keygenCommand(options: KeygenCommandOptions): Promise<number> {
  const ui = new Ui({ json: options.json });
  if (options.name !== undefined && !/^[A-Za-z0-9._-]+$/.test(options.name)) {
    throw new ConfigError(`Invalid --name ${JSON.stringify(options.name)}: expected a file name`);
  }
  let written;
  try {
    written = await writeKeyPair(options.out, { name: options.name });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) throw new ConfigError(error.message);
    throw error;
  }
  ui.notice(
    `Wrote the private key ${written.privatePath} (mode 0600: keep it secret, off the release server) and the public key ${written.publicPath}`,
  );
  ui.notice(
    `Pin it in the clients' configuration: "security": {"signing_keys": {"<channel>": {"threshold": 1, "keys": ["${written.publicKey}"]}}}`,
  );
  ui.data(
    {
      private_key: written.privatePath,
      public_key_file: written.publicPath,
      public_key: written.publicKey,
      keyid: written.keyid,
    },
    written.publicKey,
  );
  return 0;
}

/** Options of `verify-release`. */
export interface VerifyReleaseCommandOptions {
  pubkey?: string[];
  threshold?: string;
  json?: boolean;
}

/** Read `--pubkey` values: a key in configuration form, or a file holding one. */
async function readPublicKeys(values: string[], flag = "--pubkey"): Promise<string[]> {
  const keys: string[] = [];
  for (const value of values) {
    const text = isPublicKey(value) ? value : await Deno.readTextFile(value).then(
      (t) => t.trim(),
      () => value,
    );
    if (!isPublicKey(text)) {
      throw new ConfigError(
        `Invalid ${flag} ${JSON.stringify(value)}: expected ed25519:<base64> or a .pub file`,
      );
    }
    keys.push(text);
  }
  return keys;
}

/** `ms11-update verify-release DIR --pubkey KEY`: check a release tree before publishing it. */
export async function verifyReleaseCommand(
  dir: string,
  options: VerifyReleaseCommandOptions,
): Promise<number> {
  const ui = new Ui({ json: options.json });
  const keys = await readPublicKeys(options.pubkey ?? []);
  if (keys.length === 0) throw new ConfigError("verify-release needs at least one --pubkey");
  const threshold = Number(options.threshold ?? "1");
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new ConfigError(
      `Invalid --threshold ${JSON.stringify(options.threshold)}: expected 1 to ${keys.length}`,
    );
  }
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${dir} does not exist`);
  const keySet: KeySet = { threshold, keys };
  const channels = await verifyRelease(dir, { keys: keySet });
  const bad = channels.filter((c) => c.problems.length > 0);
  for (const c of bad) for (const p of c.problems) ui.warn(`${c.channel}: ${p}`);
  ui.data(
    { ok: bad.length === 0 && channels.length > 0, keyids: keys.map(keyId), channels },
    channels.map((c) =>
      `${c.problems.length === 0 ? "ok " : "BAD"} ${c.channel} ${c.version ?? "?"} serial ${
        c.serial ?? "?"
      } expires ${c.expires ?? "?"}`
    ).join("\n") || "no channels",
  );
  if (channels.length === 0) {
    throw new Error(`Release tree ${dir} has no <channel>/manifest.json`);
  }
  if (bad.length > 0) {
    throw new Error(
      `Release tree ${dir} is not ready: ${bad.length} channel${
        bad.length === 1 ? "" : "s"
      } with problems (${bad.map((c) => c.channel).join(", ")})`,
    );
  }
  return 0;
}

/** Options of `serve`. */
export interface ServeCommandOptions {
  port?: string;
  host?: string;
}

/** `ms11-update serve DIR`: a static release server for testing and local mirrors. */
export async function serveCommand(dir: string, options: ServeCommandOptions): Promise<number> {
  const port = parsePort(options.port ?? "8011");
  if (port === null) {
    throw new ConfigError(`Invalid --port ${JSON.stringify(options.port)}: expected 0-65535`);
  }
  const info = await Deno.stat(dir).catch(() => null);
  if (!info?.isDirectory) throw new ConfigError(`Release directory ${dir} does not exist`);
  const server = serveReleases(dir, { hostname: options.host ?? "127.0.0.1", port });
  new Ui().notice(`Serving ${dir} at ${server.url} (Ctrl-C to stop)`);
  Deno.addSignalListener("SIGINT", () => server.shutdown());
  await server.finished;
  return 0;
}
