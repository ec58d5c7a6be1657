// lib/root/history.ts: the install's history from the audit log — the timeline's entries, which
// build was current when, failing checks — from hand-written logs, and from the log real swaps,
// rollbacks and confirmations write.
import assert from "node:assert/strict";
import type { AuditEntry } from "../lib/root/audit.ts";
import { historyOf, readHistory } from "../lib/root/history.ts";
import { dashboardWorld } from "./_dashboard.ts";
import { rollback } from "../lib/root/rollback.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { confirmBuild } from "../lib/root/health.ts";

const t = (day: number, hour = 0) =>
  `2026-11-${String(day).padStart(2, "0")}T${String(hour).padStart(2, "0")}:00:00.000Z`;

const swap = (at: string, event: string, from: string | null, to: string, more = {}) => ({
  at,
  event,
  reason: `${event} ${to}`,
  from,
  to,
  ...more,
});

Deno.test("historyOf: every kind of entry, from the events that make them", () => {
  const log: AuditEntry[] = [
    { at: t(1), event: "adopted", reason: "existing build adopted", version: "0.9.0" },
    swap(t(2), "applied", "0.9.0", "1.0.0"),
    { at: t(2, 1), event: "trial_launch", reason: "launch 1", version: "1.0.0" },
    { at: t(2, 2), event: "confirmed", reason: "confirmed healthy", version: "1.0.0" },
    swap(t(3), "applied", "1.0.0", "1.1.0"),
    swap(t(3, 1), "rolled_back", "1.1.0", "1.0.0", { bad: true, automatic: true }),
    swap(t(4), "rolled_back", "1.0.0", "0.9.0", { bad: true, automatic: false }),
    {
      at: t(5),
      event: "recovered",
      reason: "finished",
      from: "0.9.0",
      to: "1.0.0",
      outcome: "finished",
    },
    {
      at: t(6),
      event: "recovered",
      reason: "undone",
      from: "1.0.0",
      to: "1.1.0",
      outcome: "undone",
    },
    { at: t(7), event: "refused", reason: "smoke test failed", version: "1.2.0", bad: true },
    { at: t(7, 1), event: "refused", reason: "seal broken", version: "1.2.1", bad: false },
    { at: t(8), event: "artifact_refused", reason: "not launchable", version: "1.3.0", bad: true },
    { at: t(8, 1), event: "artifact_refused", reason: "checksum", version: "1.3.1" },
    { at: t(9), event: "checked", reason: "up to date" },
    { at: t(9, 1), event: "staged", reason: "staged", version: "1.4.0" },
  ];
  const h = historyOf(log);
  assert.deepEqual(
    h.entries.map((e) => [e.kind, e.version, e.from, e.automatic, e.changes_current]),
    [
      ["adopted", "0.9.0", null, false, true],
      ["updated", "1.0.0", "0.9.0", false, true],
      ["confirmed", "1.0.0", null, false, false],
      ["updated", "1.1.0", "1.0.0", false, true],
      ["rolled_back", "1.0.0", "1.1.0", true, true],
      ["rolled_back", "0.9.0", "1.0.0", false, true], // rejected by hand: bad, not automatic
      ["recovered", "1.0.0", "0.9.0", true, true],
      ["recovered", "1.0.0", "1.1.0", true, true], // undone: the build before stays current
      ["rejected", "1.2.0", null, true, false],
      ["rejected", "1.3.0", null, true, false], // a checksum failure or a broken seal is no verdict
    ],
  );
  assert.deepEqual(h.entries[4].reason, "rolled_back 1.0.0");
  assert.equal(h.earlier, 0);
  assert.equal(h.first_at, t(1));
  assert.equal(h.failing, null);
  assert.deepEqual(h.spans.map((s) => [s.version, s.since, s.until, s.trial, s.confirmed_at]), [
    ["0.9.0", t(1), t(2), false, null],
    ["1.0.0", t(2), t(3), true, t(2, 2)],
    ["1.1.0", t(3), t(3, 1), true, null],
    ["1.0.0", t(3, 1), t(4), false, null],
    ["0.9.0", t(4), t(5), false, null],
    ["1.0.0", t(5), t(6), false, null],
    ["1.0.0", t(6), null, false, null],
  ]);
});

Deno.test("historyOf: a rollback without `automatic` (older logs) is automatic when it was bad", () => {
  const h = historyOf([
    swap(t(1), "applied", null, "1.0.0"),
    swap(t(2), "applied", "1.0.0", "1.1.0"),
    swap(t(3), "rolled_back", "1.1.0", "1.0.0", { bad: true }),
    swap(t(4), "rolled_back", "1.0.0", "0.9.0"),
  ]);
  assert.deepEqual(h.entries.map((e) => [e.kind, e.automatic]), [
    ["installed", false],
    ["updated", false],
    ["rolled_back", true],
    ["rolled_back", false],
  ]);
});

Deno.test("historyOf: entries missing their facts are left out, never guessed", () => {
  const h = historyOf([
    { at: t(1), event: "applied", reason: "no to" },
    { at: t(2), event: "applied", reason: "empty to", to: "" },
    { at: t(3), event: "adopted", reason: "no version" },
    { at: t(4), event: "rolled_back", reason: "no to", from: "1.0.0", to: 7 },
    { at: t(5), event: "recovered", reason: "undone, no from", to: "1.1.0", outcome: "undone" },
    { at: t(6), event: "confirmed", reason: "no version" },
    { at: t(7), event: "refused", reason: "no version", bad: true },
    { at: t(8), event: "something_new", reason: "unknown events are not the timeline's" },
  ]);
  assert.deepEqual(h.entries, []);
  assert.deepEqual(h.spans, []);
  assert.equal(h.first_at, t(1));
});

Deno.test("historyOf: the last `limit` entries, the count of earlier ones, spans over them", () => {
  const log: AuditEntry[] = [swap(t(1), "applied", null, "1.0.0")];
  for (let i = 1; i <= 5; i++) log.push(swap(t(1 + i), "applied", `1.${i - 1}.0`, `1.${i}.0`));
  const h = historyOf(log, { limit: 2 });
  assert.deepEqual(h.entries.map((e) => e.version), ["1.4.0", "1.5.0"]);
  assert.equal(h.earlier, 4);
  // 1.3.0's span ends at the first entry shown: it is drawn up to there.
  assert.deepEqual(h.spans.map((s) => s.version), ["1.3.0", "1.4.0", "1.5.0"]);
  assert.equal(historyOf(log).entries.length, 6);
  for (const limit of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => historyOf(log, { limit }), {
      name: "RangeError",
      message: `History limit must be a positive integer, got ${limit}`,
    });
  }
});

Deno.test("historyOf: checks failing since the first failure after the last success", () => {
  const failed = (at: string, command: string, reason: string) => ({
    at,
    event: "failed",
    reason,
    command,
  });
  const base: AuditEntry[] = [
    failed(t(1), "check", "old failure"),
    { at: t(2), event: "checked", reason: "up to date" },
    failed(t(3), "update", "Fetch failed: HTTP 503"),
    failed(t(3, 1), "rollback", "no backup"), // not a check
    failed(t(4), "check", "Fetch failed: HTTP 404"),
  ];
  assert.deepEqual(historyOf(base).failing, {
    since: t(3),
    last_at: t(4),
    count: 2,
    command: "check",
    message: "Fetch failed: HTTP 404",
  });
  const fixed = [...base, { at: t(5), event: "checked", reason: "up to date" }];
  assert.equal(historyOf(fixed).failing, null);
  assert.equal(historyOf([failed(t(1), "rollback", "no backup")]).failing, null);
});

Deno.test("readHistory: the log real launches, confirmations and rollbacks write", async () => {
  // 1.0.0 installed, 1.1.0 swapped in over it (on trial).
  await using d = await dashboardWorld();
  await confirmBuild(d.layout, { lockWaitMs: 5000 });
  await rollback(d.layout, { to: "1.0.0", lockWaitMs: 5000 });
  const h = await readHistory(d.layout);
  assert.deepEqual(h.entries.map((e) => [e.kind, e.version, e.from, e.automatic]), [
    ["installed", "1.0.0", null, false],
    ["updated", "1.1.0", "1.0.0", false],
    ["confirmed", "1.1.0", null, false],
    ["rolled_back", "1.0.0", "1.1.0", false],
  ]);
  assert.equal(h.entries[3].reason, "rolled back to 1.0.0 by hand");
  assert.deepEqual(
    h.spans.map((s) => [s.version, s.trial, s.confirmed_at !== null, s.until === null]),
    [
      ["1.0.0", false, false, false],
      ["1.1.0", true, true, false],
      ["1.0.0", false, false, true],
    ],
  );
  // A rejection by hand is bad but not automatic.
  await rollback(d.layout, { to: "1.1.0", reject: true, lockWaitMs: 5000 });
  await applyStaged(d.layout, { lockWaitMs: 5000 }); // nothing staged, no trial: no entry
  const after = await readHistory(d.layout);
  assert.deepEqual(after.entries.slice(4).map((e) => [e.kind, e.version, e.from, e.automatic]), [
    ["rolled_back", "1.1.0", "1.0.0", false],
  ]);
  assert.equal(after.entries.length, 5);
});
