/**
 * The update pipeline in one call: check → download (streamed through SHA-256) → verify →
 * stage for the next launch. Each step is its own module; this one only sequences them under
 * the install lock and records the outcome in the state file.
 *
 * @module
 */
import { readInstallId } from "../root/install_id.ts";
import { checkChannel, type CheckResult } from "../trust/check.ts";
import type { Config } from "../core/config_schema.ts";
import { downloadFromMirrors } from "../net/mirrors.ts";
import { appendAudit } from "../root/audit.ts";
import { faultPoint } from "../core/fault.ts";
import { ManifestBehindError } from "../core/errors.ts";
import type { Env, ProgressSink } from "../core/env.ts";
import { httpEnv } from "../net/http_env.ts";
import { loadCredentials } from "../net/credentials.ts";
import { buildDir, currentVersion, type Layout } from "../root/layout.ts";
import type { UpdateEvent } from "./notify.ts";
import { checkFreeSpace, spaceNeeded, treeBytes } from "../root/space.ts";
import { findLifecycle, markRejected, markStaged } from "../root/lifecycle.ts";
import { NotLaunchableError, UnsafeArchiveError } from "../core/errors.ts";
import { hasBuild, stageBuild } from "../root/stage.ts";
import { sweepDownloads } from "../root/sweep.ts";
import { statStamp } from "../root/stamp.ts";
import { downloadedBytes } from "../net/download.ts";
import { removeIfExists } from "../core/fs.ts";
import { readState, writeState } from "../root/state.ts";
import { readTrust, settleTrust, trustedFor } from "../root/trust_state.ts";
import { acquireLock } from "../root/lock.ts";
import { ensureDir, MODES, refuseLinks } from "../root/safe.ts";
import { recoverSwap } from "../root/swap.ts";
import { recordCheck } from "./_record_check.ts";
import { scanGate } from "./_scan_gate.ts";
import {
  deltaFiles,
  type DeltaOutcome,
  downloadRecord,
  planDelta,
  recordBadDelta,
  runDelta,
} from "./_delta_step.ts";
import { escapeText } from "../core/text.ts";
import type { DownloadRecord } from "../root/state.ts";

/**
 * Options of {@linkcode runUpdate}.
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
 * import type { UpdateEvent } from "./notify.ts";
 * import { runUpdate, type UpdateOptions } from "./pipeline.ts";
 * const events: UpdateEvent[] = [];
 * const options: UpdateOptions = {
 *   channel: "stable", platform: "linux-x64", checkOnly: true, onEvent: (e) => events.push(e),
 * };
 * const result = await runUpdate(layout, config, options);
 * assert.equal(result.staged, null); // only checked
 * assert.deepEqual(events.map((e) => [e.type, e.message]), [["update_available", "1.1.0 is available on stable (nothing is installed)"]]);
 * await server.shutdown();
 * ```
 */
export interface UpdateOptions {
  /** The channel to follow for this run. */
  channel: string;
  /** The platform key to install. */
  platform: string;
  /** Only check: download and stage nothing. */
  checkOnly?: boolean;
  /** Install a lower version when the channel's newest is lower. */
  allowDowngrade?: boolean;
  /** Install even a version that was rolled back from. */
  force?: boolean;
  /** Take the newest release ahead of its staged rollout (`--now`, `rollout_early_adopter`). */
  rolloutNow?: boolean;
  /** Clock and network. */
  env?: Env;
  /** Progress of long steps. */
  onProgress?: ProgressSink;
  /** Events to announce. */
  onEvent?: (event: UpdateEvent) => void;
  /** How long to wait for the install lock, in milliseconds. */
  lockWaitMs?: number;
  /** No byte for this long aborts a download attempt, which is retried (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** A problem that does not stop the run (a trust file restored from its backup). */
  onWarning?: (message: string) => void;
  /** Measures free bytes on the install root's filesystem (default: the real one). */
  freeSpace?: (path: string) => Promise<number>;
  /** Never use a delta for this run (`--no-delta`; config `delta_updates: false` does it always). */
  noDelta?: boolean;
}

/**
 * What `runUpdate` did.
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
 * import { runUpdate, type UpdateResult } from "./pipeline.ts";
 * const result: UpdateResult = await runUpdate(layout, config, { channel: "stable", platform: "linux-x64" });
 * assert.deepEqual([result.staged, result.downloaded, result.problem], ["1.1.0", true, null]);
 * assert.equal(result.check.manifest.serial, 1);
 * await server.shutdown();
 * ```
 */
export interface UpdateResult {
  /** The check's outcome. */
  check: CheckResult;
  /** The version now staged for the next launch (null when nothing new was staged). */
  staged: string | null;
  /** Whether the artifact was downloaded (false when an identical build was already there). */
  downloaded: boolean;
  /** A problem with the state file, when there was one. */
  problem: string | null;
  /**
   * How the build was obtained (a delta or the full artifact, the bytes saved), or, for a
   * check, how it would be; null when nothing is or would be downloaded.
   */
  download: DownloadRecord | null;
}

const EXTENSION: Record<string, string> = {
  "executable": "bin",
  "tar.gz": "tar.gz",
  "zip": "zip",
};

/** The file of the download of `version` in `downloads/`, then its partial and resume record. */
function downloadNames(version: string, platform: string, kind: string): string[] {
  if (EXTENSION[kind] === undefined) return [];
  const file = `${version}-${platform}.${EXTENSION[kind]}`;
  return [file, `${file}.partial`, `${file}.partial.json`];
}

/**
 * Check a channel and, when a newer (or allowed) version is there, download, verify and stage it.
 * Nothing is staged unless the artifact's size and SHA-256 match the manifest.
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
 * import { readState } from "../root/state.ts";
 * import { readTrust } from "../root/trust_state.ts";
 * import { runUpdate } from "./pipeline.ts";
 * const first = await runUpdate(layout, config, { channel: "stable", platform: "linux-x64" });
 * assert.equal(first.check.decision.message, "1.1.0 is available on stable (nothing is installed)");
 * assert.equal(first.staged, "1.1.0"); // downloaded, verified, staged for the next launch
 * const { state } = await readState(layout);
 * assert.equal(state.staged?.version, "1.1.0");
 * assert.equal((await readTrust(layout)).document.channels.stable.serial, 1); // in trust.json
 * const again = await runUpdate(layout, config, { channel: "stable", platform: "linux-x64" });
 * assert.equal(again.check.decision.message, "1.1.0 from stable is already staged; it is applied at the next launch");
 * await server.shutdown();
 * ```
 */
export async function runUpdate(
  layout: Layout,
  config: Config,
  options: UpdateOptions,
): Promise<UpdateResult> {
  using ownEnv = options.env === undefined
    ? await httpEnv({ caFile: config.security.ca_file })
    : null;
  const env = options.env ?? ownEnv!;
  const startedAt = env.now();
  const emit = options.onEvent ?? (() => {});
  using _lock = await acquireLock(layout, { waitMs: options.lockWaitMs ?? 0 });
  const { state, problem } = await readState(layout);
  // Recovery first: an interrupted swap, and what killed commands left (recoverSwap sweeps).
  await recoverSwap(layout, state, { keepBackups: config.keep_backups_count });
  const current = await currentVersion(layout);
  // The trust state fails closed: a damaged copy is restored from the good one (said and
  // audited), records of an old state file are moved; with no good copy the check is refused.
  const trust = await settleTrust(layout, await readTrust(layout), {
    now: env.now(),
    onNote: options.onWarning,
  });
  // The channel's credentials, read once for the manifest, its signatures and the artifact.
  const auth = {
    channel: options.channel,
    credentials: await loadCredentials(config, options.channel),
  };
  let check: CheckResult;
  try {
    check = await checkChannel(config, {
      auth,
      channel: options.channel,
      platform: options.platform,
      current,
      state,
      trusted: config.security.verify_signatures
        ? trustedFor(layout, trust, options.channel)
        : null,
      allowDowngrade: options.allowDowngrade,
      force: options.force,
      installId: await readInstallId(layout),
      rolloutOverride: options.rolloutNow,
      env,
      startedAt,
    });
  } catch (error) {
    // Every mirror behind (an older, valid manifest) is no refusal: a later check brings it.
    await appendAudit(layout, {
      at: env.now().toISOString(),
      event: error instanceof ManifestBehindError ? "manifest_behind" : "manifest_refused",
      reason: (error as Error).message,
      channel: options.channel,
      code: (error as { reason?: string }).reason ?? (error as Error).name,
    });
    throw error;
  }
  await recordCheck(state, check, {
    layout,
    trust,
    current,
    executable: config.executable,
    env,
    onWarning: options.onWarning,
  });
  const { decision, manifest, artifact } = check;
  const event = (type: UpdateEvent["type"], message: string): UpdateEvent => ({
    type,
    at: env.now().toISOString(),
    channel: options.channel,
    version: manifest.version,
    current,
    message,
  });
  const names = decision.action === "update"
    ? downloadNames(decision.version, options.platform, artifact.kind)
    : [];
  // A delta from a build this install has, when the manifest offers one (docs/DELTA.md).
  const { plan, skipped: deltaSkipped } = decision.action === "update" && names.length > 0 &&
      config.delta_updates && !options.noDelta
    ? await planDelta(layout, {
      state,
      version: decision.version,
      current,
      artifact,
      download: `${layout.downloads}/${names[0]}`,
    })
    : { plan: null, skipped: null };
  // downloads/ keeps only what an update is still after: the download of the version decided
  // on (to resume it, or to stage it without downloading it again), and its delta's.
  await sweepDownloads(layout, [...names, ...(plan ? deltaFiles(names[0], plan.delta) : [])]);
  if (decision.action === "none" || options.checkOnly) {
    await writeState(layout, state);
    if (decision.action === "update") emit(event("update_available", decision.message));
    const planned = decision.action === "none" ? null : downloadRecord(plan?.delta ?? null, {
      version: decision.version,
      at: env.now().toISOString(),
      full: artifact.size,
      failed: null,
    });
    return { check, staged: null, downloaded: false, problem, download: planned };
  }
  emit(event("update_available", decision.message));
  const version = decision.version;
  let downloaded = false;
  let servedBy: string | null = null;
  let mirrorsFailed: { url: string; message: string }[] = [];
  let viaDelta: DeltaOutcome | null = null;
  // A refused artifact (size, checksum, unsafe archive) goes to the audit log with the reason.
  // A verified artifact that makes no build a client accepts (unsafe, not launchable) is the
  // release's own fault: downloading the same bytes again changes nothing, so it is rejected on
  // its channel until a newer release or --force.
  const refused = async (error: Error): Promise<never> => {
    const broken = error instanceof NotLaunchableError || error instanceof UnsafeArchiveError;
    const at = env.now().toISOString();
    if (broken) {
      markRejected(state.lifecycle, { version, channel: options.channel }, {
        at,
        reason: error.message,
      });
      await writeState(layout, state);
    }
    await appendAudit(layout, {
      at,
      event: "artifact_refused",
      reason: error.message,
      channel: options.channel,
      version,
      sha256: artifact.sha256,
      ...(broken ? { bad: true } : {}),
    });
    throw error;
  };
  const previousStaged = state.staged;
  const madeNow = !(await hasBuild(layout, { state, version, sha256: artifact.sha256 }));
  if (!madeNow) {
    state.staged = { version, channel: options.channel, staged_at: env.now().toISOString() };
  } else {
    await ensureDir(layout, layout.downloads, MODES.privateDir);
    const currentBuildBytes = current === null || artifact.kind === "executable" ||
        artifact.expanded_size !== undefined
      ? 0
      : await treeBytes(buildDir(layout, current));
    const file = `${layout.downloads}/${version}-${options.platform}.${EXTENSION[artifact.kind]}`;
    await checkFreeSpace(
      layout.downloads,
      spaceNeeded(artifact.kind, artifact.size, {
        currentBuildBytes,
        expandedSize: artifact.expanded_size,
        // Resuming needs room only for what is not on disk yet.
        downloaded: await downloadedBytes(file, artifact),
      }),
      { probe: options.freeSpace },
    );
    for (const path of [file, `${file}.partial`, `${file}.partial.json`]) {
      await refuseLinks(layout, path);
    }
    if (plan !== null) {
      viaDelta = await runDelta(layout, plan, {
        config,
        env,
        auth,
        artifact,
        download: file,
        stage: {
          version,
          channel: options.channel,
          kind: artifact.kind,
          expandedSize: artifact.expanded_size,
          executable: config.executable,
          now: env.now(),
          onProgress: options.onProgress,
          state,
        },
        onProgress: options.onProgress,
        idleTimeoutMs: options.idleTimeoutMs,
        onWarning: options.onWarning,
      });
    }
    if (viaDelta?.staged) {
      downloaded = true;
      servedBy = viaDelta.url;
      emit(event(
        "downloaded",
        `Rebuilt and verified ${version} from ${plan!.delta.from} by a delta of ${
          plan!.delta.size
        } bytes (the full build is ${artifact.size})`,
      ));
    } else {
      const executable = artifact.kind === "executable";
      const download = await downloadFromMirrors(check.artifactUrls, file, {
        size: artifact.size,
        sha256: artifact.sha256,
        env,
        verifyChecksum: config.security.verify_checksums,
        // An executable is installed as downloaded: its one fsync is the download's (with its
        // mode set first). An archive is extracted, each file fsynced, and deleted: never synced.
        sync: executable,
        mode: executable ? 0o755 : undefined,
        timeoutMs: config.download_timeout_seconds * 1000,
        maxAttempts: config.max_retry_attempts,
        requireHttps: config.security.require_https,
        allowedDomains: config.security.allowed_domains,
        auth,
        onProgress: options.onProgress,
        idleTimeoutMs: options.idleTimeoutMs,
      }).catch(refused);
      downloaded = true;
      servedBy = download.url;
      mirrorsFailed = download.failures;
      faultPoint("after-download");
      emit(event("downloaded", `Downloaded and verified ${version} (${artifact.size} bytes)`));
      await stageBuild(layout, file, {
        version,
        channel: options.channel,
        kind: artifact.kind,
        // The digest of the bytes received (the manifest's, when checksums are verified): the
        // seal is made from it and the file's identity, without reading the file again.
        sha256: download.sha256,
        identity: download.identity,
        expandedSize: artifact.expanded_size,
        executable: config.executable,
        now: env.now(),
        onProgress: options.onProgress,
        state,
        // The download stays until the build is recorded: a kill before then costs no download.
        keepArtifact: true,
      }).catch(refused);
    }
  }
  // The scan gate: after verification, before the smoke test (at the launch that applies it).
  // A threat in a build rebuilt from a delta also records the delta bad (a --force later
  // downloads the full build); a scanner that failed says nothing about the delta.
  const deltaRebuilt = viaDelta?.staged ? plan!.delta : null;
  await scanGate(layout, state, {
    config,
    version,
    channel: options.channel,
    sha256: artifact.sha256,
    at: env.now().toISOString(),
    madeNow,
    previousStaged,
    // Kept past a scanner failure (the next update stages it without downloading it again);
    // removed with the build when a threat is found.
    download: madeNow
      ? `${layout.downloads}/${version}-${options.platform}.${EXTENSION[artifact.kind]}`
      : null,
    onWarning: options.onWarning,
  }).catch(async (error: Error) => {
    if (
      deltaRebuilt !== null &&
      findLifecycle(state.lifecycle, { version, channel: options.channel })?.state === "rejected"
    ) {
      await recordBadDelta(layout, state, {
        delta: deltaRebuilt,
        version,
        channel: options.channel,
        at: env.now().toISOString(),
        reason: escapeText(error.message),
        code: "scan_refused",
      });
    }
    throw error;
  });
  markStaged(state.lifecycle, { version, channel: options.channel }, {
    at: env.now().toISOString(),
  });
  const record = downloaded
    ? downloadRecord(viaDelta?.staged ? plan!.delta : null, {
      version,
      at: env.now().toISOString(),
      full: artifact.size,
      failed: viaDelta?.staged === false ? viaDelta.reason : null,
      wasted: viaDelta?.staged === false ? viaDelta.downloaded : 0,
    })
    : null;
  if (record !== null) state.last_download = record;
  await writeState(layout, state);
  if (downloaded) {
    // Recorded as staged: the download can go. An executable's is a second link to the staged
    // file, and removing it changes that file's link count and ctime: its stamp is taken again
    // (a kill before that costs one read of the build at apply, never a download).
    const file = `${layout.downloads}/${version}-${options.platform}.${EXTENSION[artifact.kind]}`;
    await removeIfExists(file);
    if (artifact.kind === "executable") {
      state.builds[version].stat_sha256 = await statStamp(buildDir(layout, version));
      await writeState(layout, state);
    }
  }
  faultPoint("after-stage");
  await appendAudit(layout, {
    at: env.now().toISOString(),
    event: "staged",
    reason: downloaded ? "downloaded and verified" : "same build already in builds/",
    channel: options.channel,
    current,
    version,
    sha256: artifact.sha256,
    ...(servedBy === null ? {} : { artifact_url: servedBy }),
    ...(mirrorsFailed.length === 0 ? {} : { artifact_mirrors_failed: mirrorsFailed }),
    ...(record === null ? {} : {
      method: record.method,
      delta_from: record.from,
      bytes_downloaded: record.bytes,
      bytes_saved: record.saved_bytes,
    }),
    ...(deltaSkipped === null || record === null ? {} : { delta_skipped: deltaSkipped }),
  });
  emit(event("ready_to_apply", `${version} is staged; it is applied at the next launch`));
  return { check, staged: version, downloaded, problem, download: record };
}
