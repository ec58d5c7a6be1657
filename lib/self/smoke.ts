/**
 * The smoke test of a kept updater, before it is staged (and before a rollback puts it back): it
 * must print its version for `--version`, and read this install's state (`status --json`: the
 * state file, the trust file, the `current` link) and say so in a status document for this root.
 * Each run has a time limit and ends with its process group.
 *
 * @module
 */
import { killGroup, spawnGroup } from "../core/process.ts";
import { escapeText } from "../core/text.ts";
import type { Layout } from "../root/layout.ts";
import { commandOf } from "./form.ts";
import { keptDir, type KeptUpdater } from "./state.ts";

/**
 * Options of {@linkcode smokeUpdater}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SmokeUpdaterOptions } from "./smoke.ts";
 * const options: SmokeUpdaterOptions = { configPath: "/etc/ms11/update_channel.json", timeoutMs: 30_000 };
 * assert.equal(options.timeoutMs, 30_000);
 * ```
 */
export interface SmokeUpdaterOptions {
  /** The configuration file the install uses (passed as `--config`). */
  configPath?: string;
  /** Time allowed for each run, in milliseconds (default 60 000). */
  timeoutMs?: number;
}

interface Ran {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

async function run(command: string[], timeoutMs: number): Promise<Ran> {
  const child = spawnGroup(command[0], {
    args: command.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  const [status, stdout, stderr] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  clearTimeout(timer);
  return { code: status.code, signal: status.signal, stdout, stderr, timedOut };
}

function failure(what: string, ran: Ran, timeoutMs: number): string {
  if (ran.timedOut) return `${what} did not finish within ${timeoutMs / 1000} s`;
  const how = ran.signal !== null ? `was killed by ${ran.signal}` : `exited with code ${ran.code}`;
  // Its last line, without the "error: " its front end puts before a failure.
  const said = ran.stderr.trim().split("\n").at(-1)?.trim().replace(/^error:\s*/, "");
  return `${what} ${how}${said ? `: ${escapeText(said.slice(0, 300))}` : ""}`;
}

/**
 * Smoke-test the kept updater `kept` against the install root `layout`; resolves to null when
 * it passes, else to why it failed (its last line of stderr included, escaped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { smokeUpdater } from "./smoke.ts";
 * import { keptDir } from "./state.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const kept = { version: "0.2.0", kind: "executable" as const, entry: "ms11-update",
 *   files: { "ms11-update": "a".repeat(64) }, sha256: null, channel: null, kept_at: "2026-11-27T00:00:00Z" };
 * await Deno.mkdir(keptDir(layout, "0.2.0"), { recursive: true });
 * const script = (body: string) =>
 *   Deno.writeTextFile(`${keptDir(layout, "0.2.0")}/ms11-update`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
 * await script('echo 0.1.9');
 * assert.equal(await smokeUpdater(layout, kept), "ms11-update 0.2.0 --version printed \"0.1.9\", not 0.2.0");
 * await script('[ "$1" = --version ] && echo 0.2.0 && exit 0; echo "no state" >&2; exit 1');
 * assert.equal(await smokeUpdater(layout, kept), "ms11-update 0.2.0 status --json exited with code 1: no state");
 * await script(`[ "$1" = --version ] && echo 0.2.0 && exit 0; echo '{"schema":1,"root":"${layout.root}"}'`);
 * assert.equal(await smokeUpdater(layout, kept), null);
 * ```
 */
export async function smokeUpdater(
  layout: Layout,
  kept: KeptUpdater,
  options: SmokeUpdaterOptions = {},
): Promise<string | null> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const entry = `${keptDir(layout, kept.version)}/${kept.entry}`;
  const name = `ms11-update ${kept.version}`;
  let ran: Ran;
  try {
    ran = await run(commandOf(kept.kind, entry, ["--version"]), timeoutMs);
  } catch (error) {
    return `${name} could not start: ${(error as Error).message}`;
  }
  if (ran.code !== 0 || ran.timedOut) return failure(`${name} --version`, ran, timeoutMs);
  const said = ran.stdout.trim();
  if (said !== kept.version) {
    return `${name} --version printed ${
      JSON.stringify(escapeText(said.slice(0, 100)))
    }, not ${kept.version}`;
  }
  const config = options.configPath === undefined ? [] : ["--config", options.configPath];
  ran = await run(
    commandOf(kept.kind, entry, ["status", "--json", "--root", layout.root, ...config]),
    timeoutMs,
  );
  if (ran.code !== 0 || ran.timedOut) return failure(`${name} status --json`, ran, timeoutMs);
  let document: unknown;
  try {
    document = JSON.parse(ran.stdout);
  } catch {
    return `${name} status --json printed no JSON document`;
  }
  const root = (document as { root?: unknown } | null)?.root;
  if (root !== layout.root) {
    return `${name} status --json reported root ${
      JSON.stringify(escapeText(String(root)))
    }, not ${layout.root}`;
  }
  return null;
}
