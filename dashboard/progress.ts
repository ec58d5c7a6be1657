// Private to dashboard/server.ts: a progress report as the dashboard shows it (percent, rate, ETA
// and one line of text), computed from the pipeline's `Progress` and the time the phase has run.
// Pure: the caller measures the time.
import type { Progress } from "../lib/core/env.ts";
import { countsBytes, formatBytes, PHASE_LABEL } from "../lib/core/format.ts";

/**
 * One progress report pushed to the page (`progress` Server-Sent Event).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProgressReport } from "./progress.ts";
 * const report: ProgressReport = { action: "update", phase: "verify", done: 10, total: 20,
 *   percent: 50, rate: null, eta_seconds: null, text: "Verifying 10 B / 20 B (50%)",
 *   label: "Verifying", amount: "10 B of 20 B (50%)", speed: null };
 * assert.equal(report.percent, 50);
 * ```
 */
export interface ProgressReport {
  /** The dashboard action running (`check`, `update`, `rollback`, `channel`, `confirm`). */
  action: string;
  /** The pipeline step. */
  phase: Progress["phase"];
  /** Units done (bytes for download and verify). */
  done: number;
  /** Units in all, when known. */
  total: number | null;
  /** 0-100, when the total is known. */
  percent: number | null;
  /** Units per second so far in this phase, when measurable. */
  rate: number | null;
  /** Seconds left at that rate, when measurable. */
  eta_seconds: number | null;
  /** One line for people, e.g. `Downloading 1.0 MiB / 2.0 MiB (50%), 4.0 MiB/s, ETA 1s`. */
  text: string;
  /** The phase in a word: `Downloading`. */
  label: string;
  /** How far, for people: `1.0 MiB of 2.0 MiB (50%)`, `1 of 1 step (100%)`. */
  amount: string;
  /** How fast, for people, when measurable: `4.0 MiB/s, about 1 s left`; else null. */
  speed: string | null;
}

export { formatBytes };

/**
 * Options of {@linkcode progressReport}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressReport, type ProgressReportOptions } from "./progress.ts";
 * const options: ProgressReportOptions = { action: "rollback", elapsedMs: 0 };
 * assert.equal(progressReport({ phase: "rollback", done: 0, total: 1 }, options).action, "rollback");
 * ```
 */
export interface ProgressReportOptions {
  /** The dashboard action running. */
  action: string;
  /** How long the phase has run, in milliseconds. */
  elapsedMs: number;
}

/**
 * The report of `progress`, `options.elapsedMs` after its phase began.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressReport } from "./progress.ts";
 * const r = progressReport({ phase: "download", done: 512, total: 1024 }, {
 *   action: "update",
 *   elapsedMs: 1000,
 * });
 * assert.deepEqual([r.percent, r.rate, r.eta_seconds], [50, 512, 1]);
 * assert.equal(r.text, "Downloading 512 B / 1.0 KiB (50%), 512 B/s, ETA 1s");
 * assert.deepEqual([r.label, r.amount, r.speed], ["Downloading", "512 B of 1.0 KiB (50%)", "512 B/s, about 1 s left"]);
 * const step = progressReport({ phase: "rollback", done: 0, total: 1 }, { action: "rollback", elapsedMs: 5 });
 * assert.deepEqual([step.amount, step.speed], ["0 of 1 step (0%)", null]);
 * ```
 */
export function progressReport(progress: Progress, options: ProgressReportOptions): ProgressReport {
  const { action, elapsedMs } = options;
  const { phase, done, total } = progress;
  const percent = total === null
    ? null
    : total === 0
    ? 100
    : Math.min(100, Math.floor((done / total) * 100));
  const rate = elapsedMs > 0 && done > 0 ? done / (elapsedMs / 1000) : null;
  const eta = total !== null && rate !== null ? Math.max(0, (total - done) / rate) : null;
  const bytes = countsBytes(phase);
  const amount = bytes
    ? `${formatBytes(done)}${total === null ? "" : ` / ${formatBytes(total)}`}`
    : `${done}${total === null ? "" : ` / ${total}`}`;
  const parts = [`${PHASE_LABEL[phase]} ${amount}${percent === null ? "" : ` (${percent}%)`}`];
  if (bytes && rate !== null) parts.push(`${formatBytes(Math.round(rate))}/s`);
  if (eta !== null && percent !== 100) parts.push(`ETA ${Math.ceil(eta)}s`);
  const pct = percent === null ? "" : ` (${percent}%)`;
  const amountText = bytes
    ? `${formatBytes(done)}${total === null ? "" : ` of ${formatBytes(total)}`}${pct}`
    : `${done}${total === null ? "" : ` of ${total}`} ${
      (total ?? done) === 1 ? "step" : "steps"
    }${pct}`;
  const left = eta !== null && percent !== 100 ? `, about ${Math.ceil(eta)} s left` : "";
  return {
    action,
    phase,
    done,
    total,
    percent,
    rate,
    eta_seconds: eta,
    text: parts.join(", "),
    label: PHASE_LABEL[phase],
    amount: amountText,
    speed: bytes && rate !== null ? `${formatBytes(Math.round(rate))}/s${left}` : null,
  };
}
