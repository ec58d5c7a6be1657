/**
 * The update's delta step (docs/DELTA.md, "The client"): when the signed manifest offers a
 * delta from a build this install has (current or a backup, unchanged since it was staged),
 * download the delta with the same engine as a full build, rebuild the new build from it in
 * staging, verify it exactly as a full download is verified (the artifact's SHA-256 for an
 * executable; every file's hash and the seal for a folder build) and stage it. Any failure is
 * audited and left to the caller, which downloads the full build once; the delta is recorded bad
 * (never tried again) unless the failure was the network's (a later update may try it again).
 *
 * @module
 */
import type { Artifact, Delta } from "../trust/manifest.ts";
import type { Config } from "../core/config_schema.ts";
import type { Env, Progress, ProgressSink } from "../core/env.ts";
import type { RequestAuth } from "../net/credentials.ts";
import { downloadFromMirrors } from "../net/mirrors.ts";
import { appendAudit, type AuditEntry } from "../root/audit.ts";
import { exists, fileIdentity, removeIfExists } from "../core/fs.ts";
import { buildDir, type Layout } from "../root/layout.ts";
import { refuseLinks } from "../root/safe.ts";
import { stageBuild, type StageOptions } from "../root/stage.ts";
import { statStamp } from "../root/stamp.ts";
import { type State, writeState } from "../root/state.ts";
import { type DownloadRecord, MAX_BAD_DELTAS } from "../root/_state_delta.ts";
import { escapeText } from "../core/text.ts";

/**
 * A delta this install can use: the manifest's entry and the build it is made from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaPlan } from "./_delta_step.ts";
 * const plan: DeltaPlan = {
 *   delta: { from: "1.0.0", url: "https://u.ms11.com/stable/1.1.0/ms11.from-1.0.0.delta", size: 9,
 *     sha256: "a".repeat(64), kind: "bsdiff", from_sha256: "b".repeat(64) },
 *   fromDir: "/opt/ms11/builds/1.0.0",
 *   file: "/opt/ms11/downloads/1.1.0-linux-x64.bin.from-1.0.0.delta",
 * };
 * assert.equal(plan.delta.from, "1.0.0");
 * ```
 */
export interface DeltaPlan {
  /** The manifest's delta entry. */
  delta: Delta;
  /** The `from` build's folder. */
  fromDir: string;
  /** Where the delta is downloaded (in `downloads/`). */
  file: string;
}

/**
 * What {@linkcode planDelta} looks at.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PlanDeltaOptions } from "./_delta_step.ts";
 * import { emptyState } from "../root/state.ts";
 * const options: PlanDeltaOptions = {
 *   state: emptyState(), version: "1.1.0", current: "1.0.0", download: "/opt/ms11/downloads/1.1.0-linux-x64.bin",
 *   artifact: { url: "https://u.ms11.com/1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" },
 * };
 * assert.equal(options.current, "1.0.0");
 * ```
 */
export interface PlanDeltaOptions {
  /** The install's state (its builds and bad deltas). */
  state: State;
  /** The version to install. */
  version: string;
  /** The current build's version. */
  current: string | null;
  /** The artifact the manifest offers. */
  artifact: Artifact;
  /** Where the full download goes: a download already begun there is resumed instead. */
  download: string;
}

/**
 * The delta to try, or null (the reason in `skipped`, null when the manifest offers none): the
 * first delta from the current build, else from a backup, whose `from` build is recorded with
 * the delta's `from_sha256` (executable) or `from_seal` (folder), is still as it was staged
 * (its stat stamp), and is not recorded as bad. None when a full download is already begun.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planDelta } from "./_delta_step.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptyState } from "../root/state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const artifact = {
 *   url: "https://u.ms11.com/1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" as const,
 *   deltas: [{ from: "1.0.0", url: "https://u.ms11.com/1.1.0/d", size: 2, sha256: "b".repeat(64),
 *     kind: "bsdiff" as const, from_sha256: "c".repeat(64) }],
 * };
 * const choice = await planDelta(layout, {
 *   state: emptyState(), version: "1.1.0", current: null, artifact, download: `${layout.downloads}/x.bin`,
 * });
 * assert.deepEqual(choice, { plan: null, skipped: "no build here that a delta is made from (1.0.0)" });
 * ```
 */
export async function planDelta(
  layout: Layout,
  options: PlanDeltaOptions,
): Promise<{ plan: DeltaPlan | null; skipped: string | null }> {
  const { state, artifact, version } = options;
  const deltas = artifact.deltas ?? [];
  if (deltas.length === 0) return { plan: null, skipped: null };
  if (
    await exists(options.download) || await exists(`${options.download}.partial`)
  ) {
    return { plan: null, skipped: "a full download is already under way" };
  }
  const bad = (d: Delta) =>
    (state.bad_deltas ?? []).some((b) =>
      b.version === version && b.from === d.from && b.sha256 === d.sha256
    );
  const ordered = [
    ...deltas.filter((d) => d.from === options.current),
    ...deltas.filter((d) => d.from !== options.current),
  ];
  let skipped = `no build here that a delta is made from (${deltas.map((d) => d.from).join(", ")})`;
  for (const delta of ordered) {
    const record = state.builds[delta.from];
    if (record === undefined || delta.from === version) continue;
    const matches = delta.kind === "bsdiff"
      ? record.kind === "executable" && record.sha256 === delta.from_sha256
      : record.tree_sha256 === delta.from_seal;
    if (!matches) continue;
    if (bad(delta)) {
      skipped = `the delta from ${delta.from} failed before`;
      continue;
    }
    const fromDir = buildDir(layout, delta.from);
    // Unchanged since it was staged, by lstat alone (its files' hashes are the seal's).
    if (record.stat_sha256 === undefined || !(await exists(fromDir))) continue;
    if ((await statStamp(fromDir)) !== record.stat_sha256) {
      skipped = `build ${delta.from} changed since it was staged`;
      continue;
    }
    return { plan: { delta, fromDir, file: deltaFileOf(options.download, delta) }, skipped: null };
  }
  return { plan: null, skipped };
}

/**
 * The delta's download path beside the full download's, then its partial and resume record
 * (what the downloads sweep keeps for this update).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deltaFiles } from "./_delta_step.ts";
 * assert.deepEqual(deltaFiles("1.1.0-linux-x64.bin", { from: "1.0.0" }), [
 *   "1.1.0-linux-x64.bin.from-1.0.0.delta", "1.1.0-linux-x64.bin.from-1.0.0.delta.partial",
 *   "1.1.0-linux-x64.bin.from-1.0.0.delta.partial.json",
 * ]);
 * ```
 */
export function deltaFiles(download: string, delta: Pick<Delta, "from">): string[] {
  const file = deltaFileOf(download, delta);
  return [file, `${file}.partial`, `${file}.partial.json`];
}

function deltaFileOf(download: string, delta: Pick<Delta, "from">): string {
  return `${download}.from-${delta.from}.delta`;
}

/**
 * What {@linkcode runDelta} needs besides the plan.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RunDeltaOptions } from "./_delta_step.ts";
 * const keys: (keyof RunDeltaOptions)[] = ["config", "env", "stage", "download"];
 * assert.equal(keys.length, 4);
 * ```
 */
export interface RunDeltaOptions {
  /** The configuration (timeouts, URL policy). */
  config: Config;
  /** Clock and network. */
  env: Env;
  /** The channel's credentials, sent only to its origins. */
  auth?: RequestAuth;
  /** The artifact the delta rebuilds. */
  artifact: Artifact;
  /** The full download's path: an executable is rebuilt there, then staged as a download. */
  download: string;
  /** Staging's options, as for the full download (the caller's state among them). */
  stage: Omit<StageOptions, "sha256" | "identity" | "rebuild" | "keepArtifact">;
  /** Progress: `delta` (the delta's download) and `rebuild` phases. */
  onProgress?: ProgressSink;
  /** No byte for this long aborts the delta's download. */
  idleTimeoutMs?: number;
  /** Told when the delta failed and the full build is downloaded instead. */
  onWarning?: (message: string) => void;
}

/**
 * How the delta step ended: staged (with the URL it came from), or failed (the reason, already
 * audited, and recorded bad unless `transient`; the caller downloads the full build).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaOutcome } from "./_delta_step.ts";
 * const outcome: DeltaOutcome = {
 *   staged: false, reason: "Delta d: patch is truncated in block 1", downloaded: 9, transient: false,
 * };
 * assert.equal(outcome.staged, false);
 * ```
 */
export type DeltaOutcome =
  | { staged: true; url: string }
  | { staged: false; reason: string; downloaded: number; transient: boolean };

/**
 * Download the delta of `plan` (one attempt: a failure falls back to the full download, which
 * retries), rebuild the new build in staging, verify it and stage it. On failure everything it
 * wrote is removed, the failure audited (`delta_failed`) and the delta recorded in
 * `state.bad_deltas` ({@linkcode recordBadDelta}), except for a transient failure (a network
 * failure, a timeout, 408, 429 or a 5xx other than 501: audited with `transient: true`, not
 * recorded, so a later update may try it again), and the outcome says why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runDelta } from "./_delta_step.ts";
 * assert.equal(typeof runDelta, "function"); // exercised end to end by tests/delta_update_test.ts
 * ```
 */
export async function runDelta(
  layout: Layout,
  plan: DeltaPlan,
  options: RunDeltaOptions,
): Promise<DeltaOutcome> {
  const { delta } = plan;
  const { artifact, config, stage } = options;
  const rename = (phase: Progress["phase"]): ProgressSink | undefined =>
    options.onProgress && ((p) => options.onProgress!({ ...p, phase }));
  let madeDownload = false;
  let downloaded = 0;
  try {
    for (const path of deltaFiles(options.download, delta)) await refuseLinks(layout, path);
    await refuseLinks(layout, options.download);
    const got = await downloadFromMirrors([delta.url], plan.file, {
      size: delta.size,
      sha256: delta.sha256,
      env: options.env,
      // The delta's SHA-256 is always checked: it is what makes its index trusted.
      verifyChecksum: true,
      sync: false,
      timeoutMs: config.download_timeout_seconds * 1000,
      maxAttempts: 1,
      requireHttps: config.security.require_https,
      allowedDomains: config.security.allowed_domains,
      auth: options.auth,
      onProgress: rename("delta"),
      idleTimeoutMs: options.idleTimeoutMs,
    });
    downloaded = delta.size;
    if (delta.kind === "bsdiff") {
      const { applyPatch } = await import("../delta/apply.ts");
      madeDownload = true;
      await applyPatch(`${plan.fromDir}/${stage.executable}`, plan.file, {
        out: options.download,
        size: artifact.size,
        sha256: artifact.sha256,
        mode: 0o755,
        sync: true,
        onProgress: rename("rebuild"),
      });
      await removeIfExists(plan.file);
      // Staged as a verified download: the same SHA-256, the file's identity, kept until the
      // build is recorded (the caller removes it, as it removes a download).
      await stageBuild(layout, options.download, {
        ...stage,
        sha256: artifact.sha256,
        identity: fileIdentity(await Deno.lstat(options.download)),
        keepArtifact: true,
      });
    } else {
      const { applyFolderDelta } = await import("../delta/folder.ts");
      await stageBuild(layout, plan.file, {
        ...stage,
        sha256: artifact.sha256,
        keepArtifact: true,
        rebuild: async (dir) =>
          (await applyFolderDelta(plan.fromDir, plan.file, {
            out: dir,
            seal: delta.seal,
            onProgress: rename("rebuild"),
          })).seal,
      });
      await removeIfExists(plan.file);
    }
    return { staged: true, url: got.url };
  } catch (error) {
    for (const path of deltaFiles(options.download, delta)) await removeIfExists(path);
    if (madeDownload) await removeIfExists(options.download);
    const reason = escapeText((error as Error).message ?? String(error));
    const at = options.env.now().toISOString();
    const { state } = stage;
    const transient = transientFailure(error);
    if (transient) {
      await appendAudit(layout, {
        ...deltaFailedAudit(delta, {
          version: stage.version,
          channel: stage.channel,
          at,
          reason,
          error,
        }),
        transient: true,
      });
    } else {
      await recordBadDelta(layout, state, {
        delta,
        version: stage.version,
        channel: stage.channel,
        at,
        reason,
        code: (error as { reason?: string }).reason ?? (error as Error).name,
      });
    }
    options.onWarning?.(
      `The delta from ${delta.from} to ${stage.version} failed (${reason}); downloading the full build${
        transient ? " (a network failure: the delta may be tried again at a later update)" : ""
      }`,
    );
    return { staged: false, reason, downloaded, transient };
  }
}

/**
 * Whether a delta's failure says nothing about the delta: a network failure or a timeout, or an
 * HTTP status worth retrying (408, 429, 5xx) other than 501 Not Implemented, which says the
 * server will not serve it. Such a delta is not recorded bad.
 */
function transientFailure(error: unknown): boolean {
  if (error instanceof Deno.errors.TimedOut) return true;
  const facts = error as { retryable?: unknown; status?: unknown };
  return facts?.retryable === true && facts.status !== 501;
}

/** The `delta_failed` audit entry of `delta` (its code from `code`, else from `error`). */
function deltaFailedAudit(
  delta: Delta,
  facts: {
    version: string;
    channel: string;
    at: string;
    reason: string;
    error?: unknown;
    code?: string;
  },
): AuditEntry {
  const error = facts.error as { reason?: string; name?: string } | undefined;
  return {
    at: facts.at,
    event: "delta_failed",
    reason: facts.reason,
    channel: facts.channel,
    version: facts.version,
    from: delta.from,
    delta_url: delta.url,
    delta_sha256: delta.sha256,
    code: facts.code ?? error?.reason ?? error?.name ?? "Error",
  };
}

/**
 * Record `delta` as bad in `state.bad_deltas` (written at once; the last
 * {@linkcode MAX_BAD_DELTAS} are kept) and audit it (`delta_failed`): {@linkcode planDelta}
 * never picks it again. For a delta that failed, or whose rebuilt build was refused later (a
 * threat the scanner found).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordBadDelta } from "./_delta_step.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { emptyState } from "../root/state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const state = emptyState();
 * const delta = { from: "1.0.0", url: "https://u.ms11.com/d", size: 2, sha256: "b".repeat(64),
 *   kind: "bsdiff" as const, from_sha256: "c".repeat(64) };
 * await recordBadDelta(layout, state, {
 *   delta, version: "1.1.0", channel: "stable", at: "2026-12-01T00:00:00.000Z", reason: "corrupt", code: "corrupt",
 * });
 * assert.deepEqual(state.bad_deltas, [{
 *   version: "1.1.0", from: "1.0.0", sha256: "b".repeat(64), at: "2026-12-01T00:00:00.000Z", reason: "corrupt",
 * }]);
 * ```
 */
export async function recordBadDelta(
  layout: Layout,
  state: State,
  facts: {
    delta: Delta;
    version: string;
    channel: string;
    at: string;
    reason: string;
    code: string;
  },
): Promise<void> {
  const { delta, version, at, reason } = facts;
  state.bad_deltas = [
    ...(state.bad_deltas ?? []).filter((b) =>
      !(b.version === version && b.from === delta.from && b.sha256 === delta.sha256)
    ),
    { version, from: delta.from, sha256: delta.sha256, at, reason },
  ].slice(-MAX_BAD_DELTAS);
  await writeState(layout, state);
  await appendAudit(layout, deltaFailedAudit(delta, facts));
}

/**
 * How a build was (or would be) obtained: by `delta`, else by the full download (plus the
 * `wasted` bytes of a delta that failed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { downloadRecord } from "./_delta_step.ts";
 * const record = downloadRecord({ from: "1.0.0", size: 100 }, {
 *   version: "1.1.0", at: "2026-12-01T00:00:00Z", full: 1000, failed: null,
 * });
 * assert.deepEqual([record.method, record.bytes, record.saved_bytes], ["delta", 100, 900]);
 * ```
 */
export function downloadRecord(
  delta: { from: string; size: number } | null,
  facts: { version: string; at: string; full: number; failed: string | null; wasted?: number },
): DownloadRecord {
  const bytes = delta === null ? facts.full + (facts.wasted ?? 0) : delta.size;
  return {
    version: facts.version,
    at: facts.at,
    method: delta === null ? "full" : "delta",
    from: delta?.from ?? null,
    bytes,
    full_bytes: facts.full,
    saved_bytes: facts.full - bytes,
    delta_failed: facts.failed,
  };
}
