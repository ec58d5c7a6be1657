// Private: how progress is put into words, shared by the CLI's progress bar and the dashboard.
import type { Progress } from "./env.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * Bytes in a short human form: `12.3 MiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./format.ts";
 * assert.equal(formatBytes(512), "512 B");
 * assert.equal(formatBytes(1536), "1.5 KiB");
 * assert.equal(formatBytes(150 * 1024 * 1024), "150 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/**
 * The word for each pipeline step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PHASE_LABEL } from "./format.ts";
 * assert.equal(PHASE_LABEL.download, "Downloading");
 * assert.equal(PHASE_LABEL.rollback, "Rolling back");
 * ```
 */
export const PHASE_LABEL: Record<Progress["phase"], string> = {
  check: "Checking",
  download: "Downloading",
  delta: "Delta",
  rebuild: "Rebuilding",
  verify: "Verifying",
  extract: "Extracting",
  stage: "Staging",
  apply: "Applying",
  rollback: "Rolling back",
};

/**
 * Whether a step counts bytes (its amounts are shown with units).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countsBytes } from "./format.ts";
 * assert.equal(countsBytes("download"), true);
 * assert.equal(countsBytes("extract"), false);
 * ```
 */
export function countsBytes(phase: Progress["phase"]): boolean {
  return phase === "download" || phase === "delta" || phase === "rebuild" || phase === "verify";
}
