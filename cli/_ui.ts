// The CLI's voice: stdout carries data (JSON with --json), stderr carries messages for people.
// A progress bar (bytes, rate, ETA) is drawn only when stderr is a terminal; NO_COLOR is respected.
import type { Progress, ProgressSink } from "../lib/env.ts";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Bytes in a short human form: `12.3 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** Seconds in a short human form: `42s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const LABEL: Record<Progress["phase"], string> = {
  check: "Checking",
  download: "Downloading",
  verify: "Verifying",
  extract: "Extracting",
  stage: "Staging",
  apply: "Applying",
  rollback: "Rolling back",
};

/** One line of the progress bar for `p`, `elapsedMs` after its phase began, `width` columns. */
export function progressLine(p: Progress, elapsedMs: number, width: number): string {
  const label = LABEL[p.phase].padEnd(12);
  const rate = elapsedMs > 0 ? p.done / (elapsedMs / 1000) : 0;
  const units = p.phase === "download" || p.phase === "verify";
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

/** Options of {@linkcode Ui}. */
export interface UiOptions {
  /** Print data as JSON. */
  json?: boolean;
  /** Where messages go (default stderr); tests give their own. */
  stderr?: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
}

/** Messages, data and progress for one command run. */
export class Ui {
  readonly json: boolean;
  #stderr: { writeSync(p: Uint8Array): number; isTerminal(): boolean };
  #tty: boolean;
  #color: boolean;
  #barShown = false;
  #phase: Progress["phase"] | null = null;
  #phaseStart = 0;
  #lastDraw = 0;
  #encoder = new TextEncoder();

  constructor(options: UiOptions = {}) {
    this.json = options.json ?? false;
    this.#stderr = options.stderr ?? Deno.stderr;
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

  /** A line for people on stderr. */
  notice(message: string): void {
    this.#clearBar();
    this.#write(`${message}\n`);
  }

  /** A warning on stderr. */
  warn(message: string): void {
    this.#clearBar();
    this.#write(`${this.#color ? "\x1b[33mwarning\x1b[0m" : "warning"}: ${message}\n`);
  }

  /** An error on stderr. */
  error(message: string): void {
    this.#clearBar();
    this.#write(`${this.#color ? "\x1b[31merror\x1b[0m" : "error"}: ${message}\n`);
  }

  /** Data on stdout: JSON with --json, else the given text. */
  data(value: unknown, text: string): void {
    const out = this.json
      ? JSON.stringify(value, null, 2) + "\n"
      : text.endsWith("\n")
      ? text
      : `${text}\n`;
    const bytes = this.#encoder.encode(out);
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  }

  /** A progress sink drawing a bar on a terminal (nothing otherwise). */
  progress(): ProgressSink {
    return (p) => {
      if (!this.#tty) return;
      const now = performance.now();
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
}
