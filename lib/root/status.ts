/**
 * The one status document (`status --json`, and the dashboard's API). Schema documented in
 * docs/STATUS.md; `schema` rises when a field changes meaning or goes away (adding is not a
 * change).
 *
 * @module
 */
import type { DownloadRecord } from "./state.ts";
import { type AuditEntry, readAudit } from "./audit.ts";
import { type Backup, listBackups } from "./backups.ts";
import type { Config, RiskLevel } from "../core/config_schema.ts";
import { currentVersion, type Layout } from "./layout.ts";
import {
  findLifecycle,
  type LifecycleRecord,
  rejectedBuilds,
  type RejectedRecord,
} from "./lifecycle.ts";
import {
  type CheckRecord,
  type ControlsRecord,
  type ErrorRecord,
  readState,
  type StagedRecord,
  type State,
  type YankedBuild,
  yankOf,
} from "./state.ts";
import { readTrust } from "./trust_state.ts";
import type { CohortNow } from "../core/rollout.ts";
import { summarizeTrust, type TrustSummary } from "./trust_report.ts";
import type { UpdaterStatus } from "../self/status.ts";

/**
 * The status schema version. 2: `rejected` lists only rejected builds (builds rolled back from
 * by hand are in `held`), and builds carry their `lifecycle`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "./layout.ts";
 * import { readStatus, STATUS_SCHEMA } from "./status.ts";
 * const status = await readStatus(layoutOf(await Deno.makeTempDir()), defaultConfig(), { platform: "linux-x64" });
 * assert.equal(status.schema, STATUS_SCHEMA);
 * assert.equal(STATUS_SCHEMA, 2);
 * ```
 */
export const STATUS_SCHEMA = 2;

/**
 * A build's lifecycle as the status document shows it (lib/root/lifecycle.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BuildLifecycle } from "./status.ts";
 * const shown: BuildLifecycle = { state: "rejected", at: "2026-11-27T12:00:00.000Z",
 *   reason: "1.1.0 exited with code 3 before its health check passed", held: null };
 * assert.equal(shown.state, "rejected");
 * ```
 */
export type BuildLifecycle = Pick<LifecycleRecord, "state" | "at" | "reason" | "held">;

function lifecycleOf(
  records: readonly LifecycleRecord[],
  version: string,
  channel: string | null,
): BuildLifecycle | null {
  const r = channel === null ? undefined : findLifecycle(records, { version, channel });
  return r === undefined ? null : { state: r.state, at: r.at, reason: r.reason, held: r.held };
}

/**
 * What the configuration says of a channel, as the status document shows it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelInfo } from "./status.ts";
 * const info: ChannelInfo = { description: "Production-ready releases", risk: "low",
 *   check_interval_hours: 24 };
 * assert.equal(info.risk, "low");
 * ```
 */
export interface ChannelInfo {
  /** Its description. */
  description: string;
  /** Its risk level. */
  risk: RiskLevel;
  /** Hours between its automatic checks: its own `check_interval_hours`, else the top level's. */
  check_interval_hours: number;
}

/** The channel's {@linkcode ChannelInfo} (as lib/core/channel.ts `checkInterval` reads it). */
function channelInfo(config: Config, channel: string): ChannelInfo {
  const server = config.update_servers[channel];
  return {
    description: server.description,
    risk: server.risk,
    check_interval_hours: server.check_interval_hours ?? config.check_interval_hours,
  };
}

/**
 * The status document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "./layout.ts";
 * import { readStatus, type StatusDocument } from "./status.ts";
 * const root = await Deno.makeTempDir();
 * const config = defaultConfig();
 * const status: StatusDocument = await readStatus(layoutOf(root), config, { platform: "linux-x64" });
 * assert.deepEqual(status, {
 *   schema: 2,
 *   root,
 *   channel: config.channel,
 *   channel_info: { description: config.update_servers.stable.description, risk: "low",
 *     check_interval_hours: 24 },
 *   platform: "linux-x64",
 *   current: null,
 *   staged: null,
 *   backups: [],
 *   keep_backups: config.keep_backups_count,
 *   last_check: null,
 *   last_error: null,
 *   state_problem: null,
 *   recent_events: [],
 *   controls: null,
 *   current_yanked: null,
 *   trial: null,
 *   rejected: [],
 *   held: [],
 *   trust: { file: `${root}/trust.json`, problem: null, channels: {} },
 *   mirror: null,
 * });
 * ```
 */
export interface StatusDocument {
  /** {@linkcode STATUS_SCHEMA}. */
  schema: number;
  /** The install root. */
  root: string;
  /** The channel followed (configured, or given for this run). */
  channel: string;
  /** What the configuration says of that channel: description, risk, check interval. */
  channel_info: ChannelInfo;
  /** The platform key. */
  platform: string;
  /** The current build, or null when nothing is installed. */
  current: {
    version: string;
    channel: string | null;
    installed_at: string | null;
    lifecycle: BuildLifecycle | null;
  } | null;
  /** The build applied at the next launch, or null. */
  staged: StagedRecord | null;
  /** Backups, newest first, each with its lifecycle (null when unknown). */
  backups: (Backup & { lifecycle: BuildLifecycle | null })[];
  /** Backups kept after each apply. */
  keep_backups: number;
  /** The last check, or null. */
  last_check: CheckRecord | null;
  /** The last failure, or null. */
  last_error: ErrorRecord | null;
  /** How the last staged build was downloaded (a delta or the full build, bytes saved); absent
   * until this version of ms11-update downloaded one. */
  last_download?: DownloadRecord;
  /** A problem with the state file, or null. */
  state_problem: string | null;
  /** The last entries of the audit log, oldest first. */
  recent_events: AuditEntry[];
  /**
   * The channel's yanked versions and minimum version, from its last accepted manifest (null
   * before a check that recorded them).
   */
  controls: ControlsRecord | null;
  /** The current build, when its channel yanked it (the next launch leaves it), else null. */
  current_yanked: YankedBuild | null;
  /** The current build while it is on trial (not yet confirmed healthy), else null. */
  trial:
    | {
      version: string;
      from: string | null;
      started_at: string;
      attempts: number;
      max_attempts: number;
    }
    | null;
  /** Rejected builds: updates skip their version on their channel until a newer release. */
  rejected: RejectedRecord[];
  /** Builds held back (rolled back from by hand, or cancelled): updates skip them too. */
  held: RejectedRecord[];
  /** The trust state: the last manifest accepted per channel, and what is wrong with it. */
  trust: TrustSummary;
  /**
   * The base URL (`base_url` or a mirror) that served the channel's manifest at its last check,
   * and when; null before the first check. The next check starts there.
   */
  mirror: { base_url: string; checked_at: string } | null;
  /**
   * The channel's staged rollout as it stands for this install now, from the manifest accepted at
   * the last check: the share now, whether this install is in the cohort, and when the ramp admits
   * it (`admits_at`, null when it is in, the share is fixed or paused, or no step reaches it).
   * Null when that manifest has no staged rollout, or before the first check. Added by the status
   * action (lib/actions/status.ts `installStatus`): the launcher path does not load the rollout
   * code.
   */
  cohort?: CohortNow | null;
  /**
   * The updater itself: its version and form, a pending updater update, the previous one kept
   * (lib/self/status.ts; added by the status action, `installStatus`).
   */
  updater?: UpdaterStatus;
}

/**
 * Options of {@linkcode readStatus}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { appendAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * import { readStatus, type StatusOptions } from "./status.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const event of ["staged", "applied", "confirmed"]) {
 *   await appendAudit(layout, { at: "2026-11-27T00:00:00Z", event, reason: "example" });
 * }
 * const options: StatusOptions = { channel: "canary", platform: "linux-arm64", recentEvents: 1 };
 * const status = await readStatus(layout, defaultConfig(), options);
 * assert.equal(status.channel, "canary");
 * assert.deepEqual(status.recent_events.map((e) => e.event), ["confirmed"]);
 * ```
 */
export interface StatusOptions {
  /** The channel to report (default: the configured one). */
  channel?: string;
  /** The platform key. */
  platform: string;
  /** How many audit entries to include (default 10). */
  recentEvents?: number;
}

/**
 * Build the status document of an install root from its files and state. Reads only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "./layout.ts";
 * import { emptyState, writeState } from "./state.ts";
 * import { readStatus } from "./status.ts";
 * import { switchCurrent } from "./swap.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
 * await Deno.mkdir(`${layout.builds}/0.9.0`, { recursive: true });
 * await switchCurrent(layout, "1.0.0");
 * const state = emptyState();
 * state.builds["1.0.0"] = {
 *   version: "1.0.0", channel: "stable", sha256: null, kind: "executable", installed_at: "2026-11-01T00:00:00Z", retired_at: null,
 * };
 * await writeState(layout, state);
 * const status = await readStatus(layout, defaultConfig(), { platform: "linux-x64" });
 * assert.deepEqual(status.current, { version: "1.0.0", channel: "stable", installed_at: "2026-11-01T00:00:00Z", lifecycle: null });
 * assert.deepEqual(status.backups.map((b) => b.version), ["0.9.0"]);
 * ```
 */
export async function readStatus(
  layout: Layout,
  config: Config,
  options: StatusOptions,
): Promise<StatusDocument> {
  const { state, problem } = await readState(layout);
  const version = await currentVersion(layout);
  const record = version === null ? undefined : state.builds[version];
  return {
    schema: STATUS_SCHEMA,
    root: layout.root,
    channel: options.channel ?? config.channel,
    channel_info: channelInfo(config, options.channel ?? config.channel),
    platform: options.platform,
    current: version === null ? null : {
      version,
      channel: record?.channel ?? null,
      installed_at: record?.installed_at ?? null,
      lifecycle: lifecycleOf(state.lifecycle, version, record?.channel ?? null),
    },
    staged: state.staged,
    backups: (await listBackups(layout, state)).map((b) => ({
      ...b,
      lifecycle: lifecycleOf(state.lifecycle, b.version, b.channel),
    })),
    keep_backups: config.keep_backups_count,
    last_check: state.last_check,
    last_error: state.last_error,
    ...(state.last_download === undefined ? {} : { last_download: state.last_download }),
    state_problem: problem,
    recent_events: await readAudit(layout, { tail: options.recentEvents ?? 10 }),
    controls: Object.hasOwn(state.controls ?? {}, options.channel ?? config.channel)
      ? state.controls![options.channel ?? config.channel]
      : null,
    current_yanked: yankOf(state, version),
    trial: state.trial === undefined || state.trial.version !== version ? null : {
      version: state.trial.version,
      from: state.trial.from,
      started_at: state.trial.started_at,
      attempts: state.trial.attempts,
      max_attempts: config.health.max_attempts,
    },
    rejected: rejectedBuilds(state.lifecycle),
    held: state.lifecycle.filter((r) => r.held !== null && r.state !== "rejected").map((r) => ({
      version: r.version,
      channel: r.channel,
      reason: r.held!.reason,
      at: r.held!.at,
    })),
    trust: summarizeTrust(layout, await readTrust(layout)),
    mirror: servedBy(state, options.channel ?? config.channel),
  };
}

/** The mirror of the channel's manifest record: its URL without `/manifest.json`. */
function servedBy(state: State, channel: string): StatusDocument["mirror"] {
  if (!Object.hasOwn(state.manifests, channel)) return null;
  const record = state.manifests[channel];
  return { base_url: record.url.replace(/\/manifest\.json$/, ""), checked_at: record.checked_at };
}
