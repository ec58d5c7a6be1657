// The CLI's voice: stdout carries data (JSON with --json), stderr carries messages for people.
// A progress bar (bytes, rate, ETA) is drawn only when stderr is a terminal; NO_COLOR is respected.
//
// Every line people see passes through here and is escaped on the way (lib/core/text.ts): a
// message is one line with control, C1 and bidi characters written as `\x1b`, `\u202e`; a
// data text keeps its line feeds; JSON keeps its meaning (`\uHHHH` escapes). The only colour
// codes on a terminal are the ones this file adds after escaping.
import type { Progress, ProgressSink } from "../lib/core/env.ts";
import { countsBytes, formatBytes, PHASE_LABEL } from "../lib/core/format.ts";
import { escapeLines, escapeText, jsonText } from "../lib/core/text.ts";

export { formatBytes };

/**
 * Seconds in a short human form: `42s`, `3m05s`, `1h02m`; `--` when not a duration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./_ui.ts";
 * assert.deepEqual([42, 185, 3720, -1].map(formatDuration), ["42s", "3m05s", "1h02m", "--"]);
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One line of the progress bar for `p`, `elapsedMs` after its phase began, `width` columns:
 * the phase, a bar when the total is known, the amount, the rate and the time left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./_ui.ts";
 * assert.equal(
 *   progressLine({ phase: "download", done: 512 * 1024, total: 1024 * 1024 }, 1000, 80),
 *   "Downloading [##############-------------]  512 KiB / 1.0 MiB  512 KiB/s  ETA 1s",
 * );
 * assert.equal(progressLine({ phase: "extract", done: 3, total: null }, 1000, 80), "Extracting    3");
 * ```
 */
export function progressLine(p: Progress, elapsedMs: number, width: number): string {
  const label = PHASE_LABEL[p.phase].padEnd(12);
  const rate = elapsedMs > 0 ? p.done / (elapsedMs / 1000) : 0;
  const units = countsBytes(p.phase);
  const amount = units
    ? `${formatBytes(p.done)}${p.total === null ? "" : ` / ${formatBytes(p.total)}`}`
    : `${p.done}${p.total === null ? "" : ` / ${p.total}`}`;
  const speed = units && rate > 0 ? `  ${formatBytes(rate)}/s` : "";
  const eta = p.total !== null && rate > 0 && p.done < p.total
    ? `  ETA ${formatDuration((p.total - p.done) / rate)}`
    : "";
  const tail = `  ${amount}${speed}${eta}`;
  const barWidth = Math.max(0, Math.min(30, width - label.length - tail.length - 3));
  if (p.total === null || p.total === 0 || barWidth < 5) return `${label}${tail}`.slice(0, width);
  const filled = Math.round(barWidth * Math.min(1, p.done / p.total));
  return `${label}[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${tail}`.slice(0, width);
}

/**
 * The error line of a failed command: `error: <message>` (the word red on a colour terminal),
 * the message escaped to one line. main.ts prints it for errors that end a command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorLine } from "./_ui.ts";
 * assert.equal(errorLine("Bad \x1b[2J\nline", false), "error: Bad \\x1b[2J\\x0aline\n");
 * ```
 */
export function errorLine(message: string, color: boolean): string {
  return `${color ? "\x1b[31merror\x1b[0m" : "error"}: ${escapeText(message)}\n`;
}

/**
 * Options of {@linkcode Ui}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Ui, type UiOptions } from "./_ui.ts";
 * const options: UiOptions = { json: true, clock: () => 0 };
 * assert.equal(new Ui(options).json, true);
 * ```
 */
export interface UiOptions {
  /** Print data as JSON. */
  json?: boolean;
  /** Where messages go (default stderr); tests give their own. */
  stderr?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  /** Where data goes (default stdout); tests give their own. */
  stdout?: { writeSync(p: Uint8Array): number };
  /** Where answers to questions come from (default stdin); tests give their own. */
  stdin?: { readable: ReadableStream<Uint8Array>; isTerminal(): boolean };
  /** The clock of progress events (default `performance.now()`, in ms); tests give their own. */
  clock?: () => number;
}

/** Minimum time between two JSON progress events of one phase, in ms. */
const JSON_PROGRESS_INTERVAL_MS = 250;

/**
 * One `{"type":"progress",…}` event of the JSON-lines stream: the phase, bytes (or units) done
 * and in all, the rate since the phase began and the estimated seconds left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressEvent } from "./_ui.ts";
 * assert.deepEqual(progressEvent({ phase: "download", done: 512, total: 1024 }, 1000), {
 *   type: "progress", phase: "download", done: 512, total: 1024, rate: 512, eta_seconds: 1,
 *   elapsed_ms: 1000,
 * });
 * ```
 */
export function progressEvent(
  p: Progress,
  elapsedMs: number,
): Record<string, string | number | null> {
  const rate = elapsedMs > 0 ? Math.round(p.done / (elapsedMs / 1000)) : null;
  const eta = p.total !== null && rate !== null && rate > 0
    ? Math.max(0, Math.round((p.total - p.done) / rate))
    : null;
  return {
    type: "progress",
    phase: p.phase,
    done: p.done,
    total: p.total,
    rate,
    eta_seconds: eta,
    elapsed_ms: Math.round(elapsedMs),
  };
}

/**
 * Messages, data and progress for one command run: messages for people on stderr, data on
 * stdout (JSON with `json`; JSON lines once progress is reported).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Ui } from "./_ui.ts";
 * let out = "";
 * let err = "";
 * const text = (p: Uint8Array) => new TextDecoder().decode(p);
 * const ui = new Ui({
 *   json: true,
 *   stdout: { writeSync: (p) => (out += text(p), p.length) },
 *   stderr: { writeSync: (p) => (err += text(p), p.length), isTerminal: () => false },
 *   clock: () => 0,
 * });
 * ui.warn("Disk almost full");
 * ui.data({ staged: "1.1.0" }, "staged 1.1.0");
 * assert.equal(err, "warning: Disk almost full\n");
 * assert.equal(out, '{\n  "staged": "1.1.0"\n}\n');
 * out = "";
 * ui.progress()({ phase: "download", done: 0, total: 10 });
 * ui.data({ staged: "1.1.0" }, "staged 1.1.0");
 * assert.deepEqual(out.trimEnd().split("\n").map((line) => JSON.parse(line).type), ["progress", undefined]);
 * ```
 */
export class Ui {
  readonly json: boolean;
  #stderr: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  #stdout: { writeSync(p: Uint8Array): number };
  #stdin: { readable: ReadableStream<Uint8Array>; isTerminal(): boolean };
  #clock: () => number;
  #jsonLines = false;
  #tty: boolean;
  #color: boolean;
  #barShown = false;
  #phase: Progress["phase"] | null = null;
  #phaseStart = 0;
  #lastDraw = -Infinity;
  #encoder = new TextEncoder();

  constructor(options: UiOptions = {}) {
    this.json = options.json ?? false;
    this.#stderr = options.stderr ?? Deno.stderr;
    this.#stdout = options.stdout ?? Deno.stdout;
    this.#stdin = options.stdin ?? Deno.stdin;
    this.#clock = options.clock ?? (() => performance.now());
    this.#tty = this.#stderr.isTerminal();
    this.#color = this.#tty && !Deno.noColor;
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let off = 0;
    while (off < bytes.length) off += this.#stderr.writeSync(bytes.subarray(off));
  }

  #clearBar(): void {
    if (this.#barShown) {
      this.#write("\r\x1b[2K");
      this.#barShown = false;
    }
  }

  /** A line for people on stderr (escaped: one line, no control characters). */
  notice(message: string): void {
    this.#clearBar();
    this.#write(`${escapeText(message)}\n`);
  }

  /** A warning on stderr (escaped like {@linkcode Ui.notice}). */
  warn(message: string): void {
    this.#clearBar();
    this.#write(`${this.#color ? "\x1b[33mwarning\x1b[0m" : "warning"}: ${escapeText(message)}\n`);
  }

  /** Whether a person can be asked: stdin and stderr are terminals and the output is not JSON. */
  get interactive(): boolean {
    return !this.json && this.#tty && this.#stdin.isTerminal();
  }

  /**
   * Ask a person `question` on stderr (escaped) and read one line of answer from stdin, trimmed and lower
   * case; null when no person can be asked ({@linkcode Ui.interactive}) or stdin ends first.
   */
  async ask(question: string): Promise<string | null> {
    if (!this.interactive) return null;
    this.#clearBar();
    this.#write(`${escapeText(question)} `);
    const reader = this.#stdin.readable.getReader();
    const decoder = new TextDecoder();
    let line = "";
    try {
      while (!line.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) return line === "" ? null : line.trim().toLowerCase();
        line += decoder.decode(value, { stream: true });
      }
    } finally {
      reader.releaseLock();
    }
    return line.slice(0, line.indexOf("\n")).trim().toLowerCase();
  }

  /** An error on stderr (escaped like {@linkcode Ui.notice}). */
  error(message: string): void {
    this.#clearBar();
    this.#write(errorLine(message, this.#color));
  }

  /**
   * Data on stdout: JSON with --json, else the given text (nothing when it is empty: an action
   * whose one line on stderr says everything prints no data for people). After
   * {@linkcode Ui.progress} in JSON mode the document is one line, the last of the JSON-lines
   * stream (see docs/EVENTS.md). The text keeps its line feeds, other control characters are
   * escaped; the JSON is the same data with DEL, C1 and bidi characters as `\uHHHH`
   * ({@linkcode jsonText}).
   */
  data(value: unknown, text: string): void {
    if (!this.json && text === "") return; // the command's line for people says it all
    const out = this.json
      ? (this.#jsonLines ? jsonText(value) : jsonText(value, 2)) + "\n"
      : escapeLines(text.endsWith("\n") ? text : `${text}\n`);
    this.#writeOut(out);
  }

  #writeOut(text: string): void {
    const bytes = this.#encoder.encode(text);
    let off = 0;
    while (off < bytes.length) off += this.#stdout.writeSync(bytes.subarray(off));
  }

  /**
   * A progress sink. With --json: progress events as JSON lines on stdout (at most four a second
   * per phase, plus each phase's first and last report), and the result that follows is one
   * line too. Otherwise a bar on stderr when it is a terminal, and nothing when it is not.
   */
  progress(): ProgressSink {
    if (this.json) return this.#jsonProgress();
    return (p) => {
      if (!this.#tty) return;
      const now = this.#clock();
      if (p.phase !== this.#phase) {
        this.#phase = p.phase;
        this.#phaseStart = now;
      }
      const finished = p.total !== null && p.done >= p.total;
      if (!finished && now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      let width = 80;
      try {
        width = Deno.consoleSize().columns || 80;
      } catch { /* not a console */ }
      this.#write(`\r\x1b[2K${progressLine(p, now - this.#phaseStart, width - 1)}`);
      this.#barShown = true;
      if (finished) {
        this.#write("\n");
        this.#barShown = false;
      }
    };
  }

  #jsonProgress(): ProgressSink {
    this.#jsonLines = true;
    let phase: Progress["phase"] | null = null;
    let start = 0;
    let last = -Infinity;
    let lastDone = -1;
    return (p) => {
      const now = this.#clock();
      const first = p.phase !== phase;
      if (first) {
        phase = p.phase;
        start = now;
        lastDone = -1;
      }
      const finished = p.total !== null && p.done >= p.total;
      if (!first && !finished && now - last < JSON_PROGRESS_INTERVAL_MS) return;
      if (!first && p.done === lastDone) return;
      last = now;
      lastDone = p.done;
      this.#writeOut(jsonText(progressEvent(p, now - start)) + "\n");
    };
  }
}
