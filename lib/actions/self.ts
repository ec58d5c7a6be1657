/**
 * The updater's own update, as both front ends call it: find the ms11-update the channel's
 * signed manifest offers for this form (a compiled executable per platform, or the code-split
 * bundle), download it (size and SHA-256 checked as it streams), keep it, smoke-test it against
 * this install, and stage it: at the next launch the updater at the launcher's path hands the
 * launch to it, on trial, and puts it in its own place once it has started (lib/self/trial.ts).
 * Also: roll the updater back to the kept previous one, and the updater's part of the status.
 *
 * @module
 */
import type { Manifest } from "../trust/manifest.ts";
import { compareVersions } from "../core/version.ts";
import { downloadArtifact } from "../net/download.ts";
import { loadCredentials } from "../net/credentials.ts";
import { httpEnv } from "../net/http_env.ts";
import { appendAudit } from "../root/audit.ts";
import { acquireLock } from "../root/lock.ts";
import { requireInstall } from "../root/layout.ts";
import { ensureDir, MODES, refuseLinks } from "../root/safe.ts";
import { exists, removeIfExists } from "../core/fs.ts";
import { faultPoint } from "../core/fault.ts";
import { resolveChannel } from "../core/channel.ts";
import { runningForm, UPDATER_VERSION, type UpdaterForm } from "../self/form.ts";
import { keepArtifact, keepRunning } from "../self/stage.ts";
import { pruneKept } from "../self/place.ts";
import { rollBackSelf, type SelfRollback } from "../self/promote.ts";
import { smokeUpdater } from "../self/smoke.ts";
import { type UpdaterStatus, updaterStatus } from "../self/status.ts";
import { readSelfState, type SelfState, writeSelfState } from "../self/state.ts";
import { runAction } from "./_act.ts";
import type { ActionContext } from "./context.ts";
import { runUpdate } from "./pipeline.ts";

/**
 * What to do about the updater a manifest offers (pure): `stage` it, or nothing and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideSelfUpdate, type SelfDecision } from "./self.ts";
 * const artifact = { url: "https://u.test/x", size: 1, sha256: "a".repeat(64), kind: "executable" as const };
 * const offer = { version: "0.2.0", artifacts: { "linux-x64": artifact } };
 * const d: SelfDecision = decideSelfUpdate(offer, { running: "0.1.0", key: "linux-x64", refused: [], staged: null });
 * assert.deepEqual(d, { action: "stage", version: "0.2.0", artifact, message: "Staging ms11-update 0.2.0 (this is 0.1.0)" });
 * ```
 */
export type SelfDecision =
  | { action: "stage"; version: string; artifact: Manifest["artifacts"][string]; message: string }
  | { action: "none"; reason: string; message: string };

/**
 * Decide whether to stage the updater `offer` (a manifest's `updater`), for a running updater
 * `running` whose form takes the artifact `key`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideSelfUpdate } from "./self.ts";
 * const artifact = { url: "https://u.test/x", size: 1, sha256: "a".repeat(64), kind: "tar.gz" as const };
 * const offer = { version: "0.2.0", artifacts: { bundle: artifact } };
 * const none = { refused: [], staged: null };
 * assert.equal(decideSelfUpdate(null, { running: "0.1.0", key: "bundle", ...none }).message, "The channel offers no ms11-update");
 * assert.equal(decideSelfUpdate(offer, { running: "0.2.0", key: "bundle", ...none }).message, "ms11-update 0.2.0 is up to date (the channel offers 0.2.0)");
 * assert.equal(decideSelfUpdate(offer, { running: "0.1.0", key: "linux-x64", ...none }).message,
 *   "The channel's ms11-update 0.2.0 has no build for linux-x64 (it has bundle)");
 * const refused = { refused: [{ version: "0.2.0", reason: "exited with code 1 before it started", at: "2026-11-27T00:00:00Z" }], staged: null };
 * assert.equal(decideSelfUpdate(offer, { running: "0.1.0", key: "bundle", ...refused }).message,
 *   "ms11-update 0.2.0 was refused (exited with code 1 before it started); self update --force stages it again");
 * assert.equal(decideSelfUpdate(offer, { running: "0.1.0", key: "bundle", ...refused, force: true }).action, "stage");
 * ```
 */
export function decideSelfUpdate(
  offer: Manifest["updater"],
  context: {
    running: string;
    key: string;
    refused: SelfState["refused"];
    staged: SelfState["staged"];
    force?: boolean;
  },
): SelfDecision {
  const { running, key } = context;
  const none = (reason: string, message: string): SelfDecision => ({
    action: "none",
    reason,
    message,
  });
  if (offer === null) return none("none_offered", "The channel offers no ms11-update");
  if (compareVersions(offer.version, running) <= 0) {
    return none(
      "up_to_date",
      `ms11-update ${running} is up to date (the channel offers ${offer.version})`,
    );
  }
  const artifact = offer.artifacts[key];
  if (artifact === undefined) {
    return none(
      "no_build",
      `The channel's ms11-update ${offer.version} has no build for ${key} (it has ${
        Object.keys(offer.artifacts).join(", ")
      })`,
    );
  }
  const refused = context.refused.find((r) => r.version === offer.version);
  if (refused !== undefined && !context.force) {
    return none(
      "refused",
      `ms11-update ${offer.version} was refused (${refused.reason}); self update --force stages it again`,
    );
  }
  if (context.staged?.version === offer.version && context.staged.by === running) {
    return none(
      "already_staged",
      `ms11-update ${offer.version} is already staged; it takes over at the next launch`,
    );
  }
  return {
    action: "stage",
    version: offer.version,
    artifact,
    message: `Staging ms11-update ${offer.version} (this is ${running})`,
  };
}

/**
 * Options of {@linkcode updateUpdater}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfUpdateOptions } from "./self.ts";
 * const options: SelfUpdateOptions = { checkOnly: true };
 * assert.equal(options.checkOnly, true);
 * ```
 */
export interface SelfUpdateOptions {
  /** The channel (default: the configured one). */
  channel?: string;
  /** Only say what would be done. */
  checkOnly?: boolean;
  /** Stage a version that was refused. */
  force?: boolean;
  /** The channel's manifest, already fetched and verified (by `update`); else it is fetched. */
  manifest?: Manifest;
  /** The running updater's form (default: this process's). */
  form?: UpdaterForm;
  /** The running updater's version (default: this program's). */
  running?: string;
}

/**
 * What {@linkcode updateUpdater} found and did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SelfUpdateReport } from "./self.ts";
 * const report: SelfUpdateReport = { running: "0.1.0", form: "bundle", available: "0.2.0", staged: "0.2.0",
 *   message: "Staged ms11-update 0.2.0; it takes over at the next launch" };
 * assert.equal(report.staged, "0.2.0");
 * ```
 */
export interface SelfUpdateReport {
  /** The running updater's version. */
  running: string;
  /** Its form. */
  form: UpdaterForm["kind"];
  /** The version the channel offers (null: none). */
  available: string | null;
  /** The version staged by this run (null: nothing staged). */
  staged: string | null;
  /** One line for people. */
  message: string;
}

/** The configuration file to hand a smoke test: the one in force, when it is a file. */
async function configOf(ctx: ActionContext): Promise<string | undefined> {
  return await exists(ctx.configPath) ? ctx.configPath : undefined;
}

/** Refuse self-updates this install cannot do safely; the reason, or null. */
function cannotSelfUpdate(ctx: ActionContext, form: UpdaterForm): string | null {
  if (form.kind === "source") {
    return `ms11-update runs from source (${form.path}); it is updated with its checkout, not by itself`;
  }
  if (!ctx.config.security.verify_signatures) {
    return "ms11-update updates itself only from a signed manifest; security.verify_signatures is false";
  }
  return null;
}

/**
 * Stage the ms11-update the channel offers, when it is newer than this one: downloaded into
 * `downloads/` (size and SHA-256 checked as it streams; always, whatever
 * `security.verify_checksums` says), kept in `<root>/updater/<version>/`, smoke-tested (it must
 * print its version and read this install's status), then staged for its trial at the next
 * launch. The running updater is kept too (the previous one). Needs a signed manifest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { updateUpdater } from "./self.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "/nowhere.json", platform: "linux-x64" };
 * await assert.rejects(updateUpdater(ctx), { message: /^ms11-update runs from source/ });
 * ```
 */
export async function updateUpdater(
  ctx: ActionContext,
  options: SelfUpdateOptions = {},
): Promise<SelfUpdateReport> {
  const form = options.form ?? runningForm();
  const running = options.running ?? UPDATER_VERSION;
  const channel = resolveChannel(ctx.config, options.channel);
  const refusal = cannotSelfUpdate(ctx, form);
  if (refusal !== null) throw new Error(refusal);
  await requireInstall(ctx.layout); // only install sets a root up
  return await runAction(ctx, { command: "self update", channel }, async () => {
    const manifest = options.manifest ?? (await runUpdate(ctx.layout, ctx.config, {
      channel,
      platform: ctx.platform,
      env: ctx.env,
      checkOnly: true,
      lockWaitMs: ctx.lockWaitMs,
      onWarning: ctx.onWarning,
    })).check.manifest;
    const report = (staged: string | null, message: string): SelfUpdateReport => ({
      running,
      form: form.kind,
      available: manifest.updater?.version ?? null,
      staged,
      message,
    });
    using _lock = await acquireLock(ctx.layout, { waitMs: ctx.lockWaitMs ?? 0 });
    const { state } = await readSelfState(ctx.layout);
    const decision = decideSelfUpdate(manifest.updater, {
      running,
      key: form.key!,
      refused: state.refused,
      staged: state.staged,
      force: options.force,
    });
    if (decision.action === "none") return report(null, decision.message);
    if (options.checkOnly) {
      return report(
        null,
        `ms11-update ${decision.version} is available (this is ${running}); self update stages it`,
      );
    }
    return report(
      decision.version,
      await stage(ctx, { form, running, channel, state, decision }),
    );
  });
}

async function stage(
  ctx: ActionContext,
  job: {
    form: UpdaterForm;
    running: string;
    channel: string;
    state: SelfState;
    decision: Extract<SelfDecision, { action: "stage" }>;
  },
): Promise<string> {
  const { form, running, state, decision } = job;
  const { layout } = ctx;
  const { version, artifact } = decision;
  using ownEnv = ctx.env === undefined
    ? await httpEnv({ caFile: ctx.config.security.ca_file })
    : null;
  const env = ctx.env ?? ownEnv!;
  const now = env.now();
  // The updater at the launcher's path is kept first: the known-good one a rollback returns to.
  state.kept[running] ??= await keepRunning(layout, form, { version: running, now });
  await writeSelfState(layout, state);
  await ensureDir(layout, layout.downloads, MODES.privateDir);
  const ext = artifact.kind === "executable" ? "bin" : artifact.kind;
  const file = `${layout.downloads}/updater-${version}-${form.key}.${ext}`;
  await refuseLinks(layout, file);
  await downloadArtifact(artifact.url, file, {
    size: artifact.size,
    sha256: artifact.sha256,
    env,
    verifyChecksum: true,
    sync: false, // keepArtifact fsyncs what it keeps
    timeoutMs: ctx.config.download_timeout_seconds * 1000,
    maxAttempts: ctx.config.max_retry_attempts,
    requireHttps: ctx.config.security.require_https,
    allowedDomains: ctx.config.security.allowed_domains,
    // An access-controlled channel's credentials go with its updater as with its builds.
    auth: { channel: job.channel, credentials: await loadCredentials(ctx.config, job.channel) },
    onProgress: ctx.onProgress,
  });
  faultPoint("after-download");
  const refuse = async (reason: string): Promise<never> => {
    delete state.kept[version];
    state.refused = [
      ...state.refused.filter((r) => r.version !== version),
      { version, reason, at: env.now().toISOString() },
    ];
    await pruneKept(layout, state, { running, path: null });
    await appendAudit(layout, {
      at: env.now().toISOString(),
      event: "updater_refused",
      reason,
      version,
      running,
    });
    throw new Error(`ms11-update ${version} was not staged: ${reason}`);
  };
  let kept;
  try {
    kept = await keepArtifact(layout, file, {
      version,
      kind: artifact.kind,
      sha256: artifact.sha256,
      channel: job.channel,
      now,
    });
  } catch (error) {
    return await refuse((error as Error).message);
  } finally {
    await removeIfExists(file);
  }
  if (kept.kind !== form.kind) {
    return await refuse(`it is made for the ${kept.kind} form, not the ${form.kind} form`);
  }
  state.kept[version] = kept;
  await writeSelfState(layout, state);
  const problem = await smokeUpdater(layout, kept, { configPath: await configOf(ctx) });
  if (problem !== null) return await refuse(`its smoke test failed: ${problem}`);
  state.staged = {
    version,
    channel: job.channel,
    staged_at: env.now().toISOString(),
    by: running,
    path: form.path,
  };
  await writeSelfState(layout, state);
  await appendAudit(layout, {
    at: env.now().toISOString(),
    event: "updater_staged",
    reason: "downloaded, verified, smoke-tested",
    version,
    running,
    sha256: artifact.sha256,
  });
  return `Staged ms11-update ${version}; it takes over at the next launch`;
}

/**
 * The updater's part of `update`'s result (its `updater` field; docs/EVENTS.md): the running
 * ms11-update (`version`, `form`, as in `status --json`'s `updater`), the version the channel
 * offers, the version this run staged, the update waiting for its trial at the next launch
 * (`pending`, as in `status --json`), and one line saying what was done or why not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdaterReport } from "./self.ts";
 * const report: UpdaterReport = { version: "0.1.0", form: "bundle", available: "0.2.0", staged: "0.2.0",
 *   pending: { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T00:00:00Z" },
 *   message: "Staged ms11-update 0.2.0; it takes over at the next launch" };
 * assert.equal(report.pending?.version, report.staged);
 * ```
 */
export interface UpdaterReport {
  /** The running ms11-update's version. */
  version: string;
  /** Its form: `executable`, `bundle` or `source`. */
  form: UpdaterForm["kind"];
  /** The version the channel's manifest offers (null: none). */
  available: string | null;
  /** The version this run staged (null: nothing staged). */
  staged: string | null;
  /** The updater update waiting for its trial at the next launch (this run's or an earlier one's), or null. */
  pending: UpdaterStatus["pending"];
  /** One line for people: what was done, or why not (a failure's message, also warned). */
  message: string;
}

/**
 * Within `update`: stage the updater the manifest just checked offers, when there is one for
 * this form; a failure is a warning (the application's update stands). Resolves to what was
 * found and done (see {@linkcode UpdaterReport}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { offeredUpdater } from "./self.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "/nowhere.json", platform: "linux-x64" };
 * const manifest = { updater: null } as unknown as Parameters<typeof offeredUpdater>[1];
 * const report = await offeredUpdater(ctx, manifest, { running: "0.1.0" }); // a test runs from source
 * assert.deepEqual(report, { version: "0.1.0", form: "source", available: null, staged: null,
 *   pending: null, message: "The channel offers no ms11-update" });
 * ```
 */
export async function offeredUpdater(
  ctx: ActionContext,
  manifest: Manifest,
  options: Pick<SelfUpdateOptions, "form" | "running" | "channel"> = {},
): Promise<UpdaterReport> {
  const form = options.form ?? runningForm();
  const running = options.running ?? UPDATER_VERSION;
  const report = async (staged: string | null, message: string): Promise<UpdaterReport> => ({
    version: running,
    form: form.kind,
    available: manifest.updater?.version ?? null,
    staged,
    pending: (await updaterStatus(ctx.layout, { form, running })).pending,
    message,
  });
  if (manifest.updater === null) return await report(null, "The channel offers no ms11-update");
  const refusal = cannotSelfUpdate(ctx, form);
  if (refusal !== null) return await report(null, refusal);
  try {
    const done = await updateUpdater(ctx, { ...options, form, running, manifest });
    return await report(done.staged, done.message);
  } catch (error) {
    ctx.onWarning?.((error as Error).message);
    return await report(null, (error as Error).message);
  }
}

/**
 * Put the kept previous ms11-update back at the launcher's path (after its smoke test); the
 * version replaced is refused until `self update --force`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { rollBackUpdater } from "./self.ts";
 * const ctx = { layout: layoutOf(await Deno.makeTempDir()), config: defaultConfig(),
 *   configPath: "/nowhere.json", platform: "linux-x64" };
 * const form = { kind: "executable" as const, path: "/nowhere/ms11-update", key: "linux-x64" };
 * await assert.rejects(rollBackUpdater(ctx, { form }), /^Error: No install at /);
 * await Deno.mkdir(ctx.layout.builds); // an install
 * await assert.rejects(rollBackUpdater(ctx, { form }), { message: "No previous ms11-update is kept to roll back to" });
 * ```
 */
export async function rollBackUpdater(
  ctx: ActionContext,
  options: Pick<SelfUpdateOptions, "form" | "running"> = {},
): Promise<SelfRollback> {
  const form = options.form ?? runningForm();
  if (form.kind === "source") {
    throw new Error(`ms11-update runs from source (${form.path}); it is updated with its checkout`);
  }
  await requireInstall(ctx.layout);
  return await runAction(
    ctx,
    { command: "self rollback", channel: ctx.config.channel },
    () =>
      rollBackSelf(ctx.layout, form, {
        reason: "rolled back by hand (self rollback)",
        lockWaitMs: ctx.lockWaitMs,
        running: options.running,
        check: async (state, version) =>
          await smokeUpdater(ctx.layout, state.kept[version], { configPath: await configOf(ctx) }),
      }),
  );
}
