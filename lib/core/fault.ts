// Test-only fault injection: `MS11_UPDATE_FAULT=<point>` makes the process kill itself with
// SIGKILL when it reaches that named point, to prove that every interrupted step is finished or
// undone by the next start. This is the only place that reads the variable; unset, it is inert
// (one environment read per process, then a string comparison per point).

/**
 * The named points where a fault can be injected (see docs/RELIABILITY.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FAULT_POINTS } from "./fault.ts";
 * assert.ok(FAULT_POINTS.includes("before-rename"));
 * assert.equal(new Set(FAULT_POINTS).size, FAULT_POINTS.length);
 * ```
 */
export const FAULT_POINTS = [
  "after-download",
  "after-verify",
  "after-stage",
  "after-journal",
  "before-rename",
  "after-rename",
  "during-rollback",
  "during-prune",
  "during-write",
  "during-link",
] as const;

/**
 * One named fault point.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FAULT_POINTS, type FaultPoint } from "./fault.ts";
 * const point: FaultPoint = "after-journal";
 * assert.ok(FAULT_POINTS.includes(point));
 * ```
 */
export type FaultPoint = typeof FAULT_POINTS[number];

let armed: string | null | undefined;

/**
 * Kill this process with SIGKILL if `MS11_UPDATE_FAULT` names `point`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPoint } from "./fault.ts";
 * faultPoint("after-download"); // MS11_UPDATE_FAULT is not set here: nothing happens
 * const child = await new Deno.Command(Deno.execPath(), {
 *   args: [
 *     "eval",
 *     `import { faultPoint } from "${import.meta.resolve("./fault.ts")}";
 *      faultPoint("after-verify");
 *      console.log("not reached");`,
 *   ],
 *   env: { MS11_UPDATE_FAULT: "after-verify" },
 *   stdout: "piped",
 * }).output();
 * assert.equal(child.signal, "SIGKILL");
 * assert.equal(new TextDecoder().decode(child.stdout), "");
 * ```
 */
export function faultPoint(point: FaultPoint): void {
  if (armed === undefined) {
    try {
      armed = Deno.env.get("MS11_UPDATE_FAULT") || null;
    } catch {
      armed = null; // no --allow-env: never armed
    }
  }
  if (armed === point) Deno.kill(Deno.pid, "SIGKILL");
}
