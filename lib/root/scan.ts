/**
 * The scan gate's scanner run: `security.scan_command` with a staged build's folder appended, in
 * a process group of its own (a timeout kills it with whatever it started), never through a
 * shell, with its output kept short and made safe to show. What the outcome does to the build
 * (refused, rejected, staged) is lib/actions/_scan_gate.ts.
 *
 * @module
 */
import { killGroup, spawnGroup } from "../core/process.ts";
import { escapeText } from "../core/text.ts";

/** Bytes kept of each of the scanner's stdout and stderr (the rest is read and dropped). */
const KEEP_BYTES = 16_384;
/** Characters of the one-line summary of the scanner's output. */
const SUMMARY_CHARS = 300;
/** How long the pipes may stay open after the scanner ended (a child it left behind). */
const DRAIN_GRACE_MS = 2_000;

/**
 * How to scan a build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanBuild, type ScanOptions } from "./scan.ts";
 * const dir = await Deno.makeTempDir();
 * const options: ScanOptions = { command: ["sh", "-c", "sleep 30", "scan"], timeoutMs: 100,
 *   infectedCodes: null };
 * const result = await scanBuild(dir, options);
 * assert.deepEqual([result.outcome, result.detail], ["failed", "did not finish within 0.1 s"]);
 * ```
 */
export interface ScanOptions {
  /** The scanner's argv; the build's folder is appended as its last argument. */
  command: readonly string[];
  /** Time allowed, in milliseconds. */
  timeoutMs: number;
  /** Exit codes that mean a threat was found; null: every non-zero exit. */
  infectedCodes: readonly number[] | null;
  /** How the folder is named in the summary (default: its path), e.g. `builds/1.1.0`. */
  shownAs?: string;
}

/**
 * What a scan found.
 *
 * - `clean`: the scanner exited 0;
 * - `infected`: it exited with a code that means a threat was found;
 * - `failed`: it could not start, did not finish in time, was killed by a signal, or exited with
 *   a code that means it failed (with `infectedCodes` given, any other non-zero code).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScanResult } from "./scan.ts";
 * const result: ScanResult = { outcome: "infected", detail: "exited with code 1",
 *   summary: "builds/1.1.0/ms11: Eicar-Signature FOUND" };
 * assert.match(result.summary, /FOUND/);
 * ```
 */
export interface ScanResult {
  /** `clean`, `infected` or `failed`. */
  outcome: "clean" | "infected" | "failed";
  /** How the scanner ended, e.g. `exited with code 1`, `did not finish within 300 s`. */
  detail: string;
  /**
   * Its output in one escaped line: the non-empty lines but those ending in `: OK` (a clean
   * file), joined with `; ` and cut short; empty when it said nothing else.
   */
  summary: string;
}

/**
 * The scanner's output as one line people can read safely: non-empty lines except the ones that
 * report a clean file (`…: OK`), the scanned folder's path shown as `shownAs`, every control and
 * bidi character escaped, joined with `; ` and cut to 300 characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeScan } from "./scan.ts";
 * const output = "/r/builds/.x/a: OK\n/r/builds/.x/b: Evil FOUND\x1b[2J\n\n";
 * assert.equal(summarizeScan(output, { dir: "/r/builds/.x", shownAs: "builds/1.1.0" }),
 *   "builds/1.1.0/b: Evil FOUND\\x1b[2J");
 * ```
 */
export function summarizeScan(output: string, options: { dir: string; shownAs: string }): string {
  const lines = output.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/: OK$/.test(line))
    .map((line) => escapeText(line.replaceAll(options.dir, options.shownAs)));
  const text = lines.join("; ");
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS - 3)}...` : text;
}

/** Read a stream to its end, keeping its first {@linkcode KEEP_BYTES} bytes. */
async function collect(stream: ReadableStream<Uint8Array>, stop: AbortSignal): Promise<string> {
  const reader = stream.getReader();
  const onStop = () => reader.cancel().catch(() => {});
  stop.addEventListener("abort", onStop, { once: true });
  const kept: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size < KEEP_BYTES) {
        const part = value.subarray(0, KEEP_BYTES - size);
        kept.push(part);
        size += part.length;
      }
    }
  } catch {
    // cancelled: a process the scanner left behind holds the pipe
  } finally {
    stop.removeEventListener("abort", onStop);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of kept) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Run the scanner on the folder `dir` (a staged build) and judge how it ended. Never throws for
 * the scanner's sake: a scanner that cannot start or hangs is a `failed` result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scanBuild } from "./scan.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "X5O!P%@AP");
 * // A stand-in scanner: `grep -rl` finds the marker; exit 0 would mean clean here.
 * const scanner = ["sh", "-c", 'if grep -rq X5O "$1"; then echo "$1/ms11: Marker FOUND"; exit 1; fi', "scan"];
 * const result = await scanBuild(dir, { command: scanner, timeoutMs: 10_000, infectedCodes: [1],
 *   shownAs: "builds/1.1.0" });
 * assert.deepEqual(result, { outcome: "infected", detail: "exited with code 1",
 *   summary: "builds/1.1.0/ms11: Marker FOUND" });
 * const missing = await scanBuild(dir, { command: ["/nonexistent/scanner"], timeoutMs: 1000,
 *   infectedCodes: null });
 * assert.equal(missing.outcome, "failed");
 * assert.match(missing.detail, /^could not start: /);
 * ```
 */
export async function scanBuild(dir: string, options: ScanOptions): Promise<ScanResult> {
  const [program, ...args] = options.command;
  const shownAs = options.shownAs ?? dir;
  let child: Deno.ChildProcess;
  try {
    // The updater's own working directory, not the build's: a scanner that writes beside itself
    // must not change the build it vouches for.
    child = spawnGroup(program, {
      args: [...args, dir],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  } catch (error) {
    return {
      outcome: "failed",
      detail: `could not start: ${escapeText((error as Error).message)}`,
      summary: "",
    };
  }
  const stop = new AbortController();
  const outputs = Promise.all([
    collect(child.stdout, stop.signal),
    collect(child.stderr, stop.signal),
  ]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child); // with whatever the scanner started
  }, options.timeoutMs);
  const status = await child.status;
  clearTimeout(timer);
  const grace = setTimeout(() => stop.abort(), DRAIN_GRACE_MS);
  const [stdout, stderr] = await outputs;
  clearTimeout(grace);
  const summary = summarizeScan(`${stdout}\n${stderr}`, { dir, shownAs });
  if (timedOut) {
    return {
      outcome: "failed",
      detail: `did not finish within ${options.timeoutMs / 1000} s`,
      summary,
    };
  }
  if (status.success) return { outcome: "clean", detail: "exited with code 0", summary };
  if (status.signal) {
    return { outcome: "failed", detail: `was killed by ${status.signal}`, summary };
  }
  const detail = `exited with code ${status.code}`;
  const infected = options.infectedCodes === null || options.infectedCodes.includes(status.code);
  return { outcome: infected ? "infected" : "failed", detail, summary };
}
