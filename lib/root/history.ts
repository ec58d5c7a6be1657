/**
 * The install's history as a person reads it, from the audit log: which build was current when,
 * the swaps that changed it (installs, updates, rollbacks — automatic ones with their reason —,
 * recoveries), rejected builds, and whether checks are failing and since when. Pure but for
 * {@linkcode readHistory}, which reads the log; nothing here writes.
 *
 * @module
 */
import { type AuditEntry, readAudit } from "./audit.ts";
import type { Layout } from "./layout.ts";

/**
 * What a timeline entry is:
 *
 * - `installed`: the install's first build became current;
 * - `adopted`: an existing build was adopted (`install --adopt`);
 * - `updated`: a staged build was swapped in at launch;
 * - `rolled_back`: an older build was restored (`automatic` when the launcher or the health check
 *   did it);
 * - `recovered`: an interrupted swap was finished or undone at the next start;
 * - `confirmed`: the current build was confirmed healthy (its trial ended);
 * - `rejected`: a build was found broken and not applied (a failed smoke test at launch, or a
 *   verified download that makes no launchable build).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TIMELINE_KINDS } from "./history.ts";
 * assert.deepEqual(TIMELINE_KINDS, ["installed", "adopted", "updated", "rolled_back", "recovered",
 *   "confirmed", "rejected"]);
 * ```
 */
export type TimelineKind =
  | "installed"
  | "adopted"
  | "updated"
  | "rolled_back"
  | "recovered"
  | "confirmed"
  | "rejected";

/**
 * Every {@linkcode TimelineKind}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TIMELINE_KINDS } from "./history.ts";
 * assert.ok(TIMELINE_KINDS.includes("rolled_back"));
 * ```
 */
export const TIMELINE_KINDS: readonly TimelineKind[] = [
  "installed",
  "adopted",
  "updated",
  "rolled_back",
  "recovered",
  "confirmed",
  "rejected",
];

/**
 * One entry of the timeline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TimelineEntry } from "./history.ts";
 * const entry: TimelineEntry = { at: "2026-11-27T09:00:00.000Z", kind: "rolled_back",
 *   version: "1.0.0", from: "1.1.0", automatic: true, changes_current: true,
 *   reason: "1.1.0 was not confirmed healthy after 3 launches", event: "rolled_back" };
 * assert.equal(entry.automatic, true);
 * ```
 */
export interface TimelineEntry {
  /** When (ISO 8601), as the audit log has it. */
  at: string;
  /** What happened. */
  kind: TimelineKind;
  /** The build it is about: current after a swap, confirmed, or rejected. */
  version: string;
  /** The build current before a swap, or null (first install, or not a swap). */
  from: string | null;
  /** Done by the launcher or the health check, not by a person. */
  automatic: boolean;
  /** Whether `version` is current after this entry. */
  changes_current: boolean;
  /** Why, as recorded. */
  reason: string;
  /** The audit log's event name (`applied`, `rolled_back`, `refused`, …). */
  event: string;
}

/**
 * A stretch of time during which one build was current.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CurrentSpan } from "./history.ts";
 * const span: CurrentSpan = { version: "1.1.0", since: "2026-11-27T09:00:00.000Z", until: null,
 *   trial: true, confirmed_at: null };
 * assert.equal(span.until, null); // still current
 * ```
 */
export interface CurrentSpan {
  /** The build. */
  version: string;
  /** When it became current. */
  since: string;
  /** When it stopped being current, or null while it still is. */
  until: string | null;
  /** It ran on trial (it came by an update, or a trial launch or confirmation was recorded). */
  trial: boolean;
  /** When its trial ended by a confirmation, or null. */
  confirmed_at: string | null;
}

/**
 * Checks (or updates) that have failed since the last successful one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FailingChecks } from "./history.ts";
 * const failing: FailingChecks = { since: "2026-11-27T09:00:00.000Z", last_at: "2026-11-27T10:00:00.000Z",
 *   count: 2, command: "check", message: "Fetch failed" };
 * assert.equal(failing.count, 2);
 * ```
 */
export interface FailingChecks {
  /** The first failure after the last success. */
  since: string;
  /** The latest failure. */
  last_at: string;
  /** How many failures since the last success. */
  count: number;
  /** The latest failure's command (`check` or `update`). */
  command: string;
  /** The latest failure's message. */
  message: string;
}

/**
 * The history of an install (the `GET /api/history` document of the dashboard).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyOf, type InstallHistory } from "./history.ts";
 * const history: InstallHistory = historyOf([]);
 * assert.deepEqual(history, { entries: [], earlier: 0, spans: [], failing: null, first_at: null });
 * ```
 */
export interface InstallHistory {
  /** The timeline, oldest first: the last `limit` entries. */
  entries: TimelineEntry[];
  /** Timeline entries older than those, left out. */
  earlier: number;
  /** Which build was current when, oldest first, over the same stretch as `entries`. */
  spans: CurrentSpan[];
  /** Failing checks, or null when the last check (or none) failed. */
  failing: FailingChecks | null;
  /** The audit log's first entry's time, or null for an empty log. */
  first_at: string | null;
}

/**
 * Options of {@linkcode historyOf} and {@linkcode readHistory}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyOf, type HistoryOptions } from "./history.ts";
 * const options: HistoryOptions = { limit: 1 };
 * const log = ["1.0.0", "1.1.0"].map((to, i) => ({ at: `2026-11-2${i}T00:00:00Z`, event: "applied",
 *   reason: "staged build swapped in at launch", from: i === 0 ? null : "1.0.0", to }));
 * const history = historyOf(log, options);
 * assert.deepEqual([history.entries.length, history.earlier], [1, 1]);
 * ```
 */
export interface HistoryOptions {
  /** Most timeline entries returned, the newest (default 100). */
  limit?: number;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/**
 * Whether a rollback was automatic: entries say so (`automatic`); older entries, written before
 * that field, by `bad`, which only the launcher and the health check set then.
 */
function automaticRollback(entry: AuditEntry): boolean {
  return typeof entry.automatic === "boolean" ? entry.automatic : entry.bad === true;
}

/** The timeline entry of one audit entry, or null when it is not one. */
function timelineEntry(entry: AuditEntry): TimelineEntry | null {
  const base = { at: entry.at, reason: String(entry.reason ?? ""), event: entry.event };
  const from = text(entry.from);
  const to = text(entry.to);
  switch (entry.event) {
    case "applied":
      return to === null ? null : {
        ...base,
        kind: from === null ? "installed" : "updated",
        version: to,
        from,
        automatic: false,
        changes_current: true,
      };
    case "adopted": {
      const version = text(entry.version);
      return version === null ? null : {
        ...base,
        kind: "adopted",
        version,
        from: null,
        automatic: false,
        changes_current: true,
      };
    }
    case "rolled_back":
      return to === null ? null : {
        ...base,
        kind: "rolled_back",
        version: to,
        from,
        automatic: automaticRollback(entry),
        changes_current: true,
      };
    case "recovered": {
      const undone = entry.outcome === "undone";
      const version = undone ? from : to;
      return version === null ? null : {
        ...base,
        kind: "recovered",
        version,
        from: undone ? to : from,
        automatic: true,
        changes_current: true,
      };
    }
    case "confirmed": {
      const version = text(entry.version);
      return version === null ? null : {
        ...base,
        kind: "confirmed",
        version,
        from: null,
        automatic: false,
        changes_current: false,
      };
    }
    case "refused":
    case "artifact_refused": {
      // Only a build found broken: a download that failed its checksum is no rejected build.
      const version = text(entry.version);
      return version === null || entry.bad !== true ? null : {
        ...base,
        kind: "rejected",
        version,
        from: null,
        automatic: true,
        changes_current: false,
      };
    }
  }
  return null;
}

const CHECK_COMMANDS = new Set(["check", "update"]);

function failingOf(entries: readonly AuditEntry[]): FailingChecks | null {
  // The failures after the last successful check.
  const success = entries.findLastIndex((e) => e.event === "checked");
  const failures = entries.slice(success + 1).filter((e) =>
    e.event === "failed" && CHECK_COMMANDS.has(String(e.command))
  );
  const last = failures.at(-1);
  return last === undefined ? null : {
    since: failures[0].at,
    last_at: last.at,
    count: failures.length,
    command: String(last.command),
    message: String(last.reason ?? ""),
  };
}

function spansOf(entries: readonly TimelineEntry[], log: readonly AuditEntry[]): CurrentSpan[] {
  const spans: CurrentSpan[] = [];
  for (const entry of entries) {
    if (!entry.changes_current) continue;
    const last = spans.at(-1);
    if (last !== undefined && last.until === null) last.until = entry.at;
    spans.push({
      version: entry.version,
      since: entry.at,
      until: null,
      trial: entry.kind === "updated",
      confirmed_at: null,
    });
  }
  // Trial launches and confirmations inside a span say it ran on trial, and when that ended.
  for (const e of log) {
    if (e.event !== "trial_launch" && e.event !== "confirmed") continue;
    const span = spans.find((s) =>
      s.version === e.version && s.since <= e.at && (s.until === null || e.at <= s.until)
    );
    if (span === undefined) continue;
    span.trial = true;
    if (e.event === "confirmed" && span.confirmed_at === null) span.confirmed_at = e.at;
  }
  return spans;
}

/**
 * The history of the audit log `log` (oldest first, as {@linkcode readAudit} reads it): the
 * timeline's last `limit` entries, the spans of the builds current over that stretch, and the
 * failing checks. Entries whose facts are missing are left out, never guessed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyOf } from "./history.ts";
 * const history = historyOf([
 *   { at: "2026-11-01T00:00:00Z", event: "applied", reason: "staged build swapped in at launch", from: null, to: "1.0.0" },
 *   { at: "2026-11-02T00:00:00Z", event: "applied", reason: "staged build swapped in at launch", from: "1.0.0", to: "1.1.0" },
 *   { at: "2026-11-02T00:01:00Z", event: "rolled_back", reason: "1.1.0 crashed", from: "1.1.0", to: "1.0.0", bad: true },
 *   { at: "2026-11-03T00:00:00Z", event: "checked", reason: "up to date" },
 *   { at: "2026-11-04T00:00:00Z", event: "failed", reason: "Fetch failed", command: "check" },
 * ]);
 * assert.deepEqual(history.entries.map((e) => [e.kind, e.version, e.automatic]), [
 *   ["installed", "1.0.0", false], ["updated", "1.1.0", false], ["rolled_back", "1.0.0", true],
 * ]);
 * assert.deepEqual(history.spans.map((s) => [s.version, s.until]), [
 *   ["1.0.0", "2026-11-02T00:00:00Z"], ["1.1.0", "2026-11-02T00:01:00Z"], ["1.0.0", null],
 * ]);
 * assert.equal(history.failing?.since, "2026-11-04T00:00:00Z");
 * ```
 */
export function historyOf(
  log: readonly AuditEntry[],
  options: HistoryOptions = {},
): InstallHistory {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`History limit must be a positive integer, got ${limit}`);
  }
  const all = log.map(timelineEntry).filter((e): e is TimelineEntry => e !== null);
  const entries = all.slice(-limit);
  const spans = spansOf(all, log);
  // Spans over the entries' stretch: those that end after the first entry shown, or are open.
  const start = entries[0]?.at;
  return {
    entries,
    earlier: all.length - entries.length,
    spans: start === undefined ? [] : spans.filter((s) => s.until === null || s.until >= start),
    failing: failingOf(log),
    first_at: log[0]?.at ?? null,
  };
}

/**
 * The history of the install at `layout`, from its audit log. Reads only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * import { readHistory } from "./history.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.deepEqual((await readHistory(layout)).entries, []); // no log yet
 * await appendAudit(layout, { at: "2026-11-01T00:00:00Z", event: "adopted", reason: "existing build adopted", version: "0.9.0" });
 * const history = await readHistory(layout, { limit: 10 });
 * assert.deepEqual(history.spans, [{ version: "0.9.0", since: "2026-11-01T00:00:00Z", until: null,
 *   trial: false, confirmed_at: null }]);
 * ```
 */
export async function readHistory(
  layout: Layout,
  options: HistoryOptions = {},
): Promise<InstallHistory> {
  return historyOf(await readAudit(layout), options);
}
