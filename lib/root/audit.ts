/**
 * The audit log: one JSON line per decision (`<root>/logs/audit.jsonl`), appended and fsynced.
 * Readers skip lines they cannot parse (a line cut by a crash), so the log never breaks a command.
 * Lines are written with lib/core/text.ts's `jsonText`: no raw control, C1 or bidi character,
 * so `cat` or `tail -f` of the log on a terminal is safe, and the data is unchanged.
 *
 * @module
 */
import { dirOf, noSpaceError } from "../core/fs.ts";
import { jsonText } from "../core/text.ts";
import type { Layout } from "./layout.ts";
import { ensureDir, MODES, openInRoot } from "./safe.ts";

/**
 * One audit record. `event` names what happened; other fields depend on it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendAudit, type AuditEntry, readAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const entry: AuditEntry = { at: "2026-11-27T00:00:00Z", event: "refused", reason: "expired", url: "https://u/m.json" };
 * await appendAudit(layout, entry);
 * assert.deepEqual(await readAudit(layout), [entry]);
 * ```
 */
export interface AuditEntry {
  /** When (ISO 8601). */
  at: string;
  /** What happened, e.g. `staged`, `applied`, `rolled_back`, `refused`, `failed`. */
  event: string;
  /** Why, in one sentence. */
  reason: string;
  /** Versions and other facts. */
  [key: string]: unknown;
}

/**
 * Append an entry to the audit log, creating it when needed (owner-only), and fsync it. A
 * symbolic link at `logs/` or at the log is refused, never appended through.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * await appendAudit(layout, { at: "2026-11-27T00:00:00Z", event: "applied", reason: "staged build", to: "1.1.0" });
 * await appendAudit(layout, { at: "2026-11-27T00:01:00Z", event: "confirmed", reason: "healthy" });
 * const lines = (await Deno.readTextFile(layout.audit)).trimEnd().split("\n");
 * assert.equal(lines.length, 2);
 * assert.equal(JSON.parse(lines[0]).to, "1.1.0");
 * ```
 */
export async function appendAudit(layout: Layout, entry: AuditEntry): Promise<void> {
  await ensureDir(layout, dirOf(layout.audit), MODES.privateDir);
  const file = await openInRoot(layout, layout.audit, {
    append: true,
    create: true,
    mode: MODES.privateFile,
  });
  try {
    const bytes = new TextEncoder().encode(jsonText(entry) + "\n");
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    throw noSpaceError(error, `the audit log ${layout.audit}`);
  } finally {
    file.close();
  }
}

/**
 * Options of {@linkcode readAudit}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendAudit, readAudit, type ReadAuditOptions } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * for (const event of ["staged", "applied", "confirmed"]) {
 *   await appendAudit(layout, { at: "2026-11-27T00:00:00Z", event, reason: "example" });
 * }
 * const options: ReadAuditOptions = { tail: 2 };
 * assert.deepEqual((await readAudit(layout, options)).map((e) => e.event), ["applied", "confirmed"]);
 * ```
 */
export interface ReadAuditOptions {
  /** Only the last `tail` entries (default: all). */
  tail?: number;
}

/**
 * Read the audit log, oldest first; unparseable lines are skipped, a missing log is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAudit } from "./audit.ts";
 * import { layoutOf } from "./layout.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.deepEqual(await readAudit(layout), []); // no log yet
 * await Deno.mkdir(`${layout.root}/logs`);
 * await Deno.writeTextFile(
 *   layout.audit,
 *   '{"at":"2026-11-27T00:00:00Z","event":"staged","reason":"new"}\n{"at":"2026-11-2', // cut by a crash
 * );
 * assert.deepEqual((await readAudit(layout)).map((e) => e.event), ["staged"]);
 * ```
 */
export async function readAudit(
  layout: Layout,
  options: ReadAuditOptions = {},
): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(layout.audit);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const entries: AuditEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line);
      if (typeof entry?.event === "string" && typeof entry?.at === "string") entries.push(entry);
    } catch {
      // A line cut short by a crash: skip it.
    }
  }
  return options.tail === undefined ? entries : entries.slice(-options.tail);
}
