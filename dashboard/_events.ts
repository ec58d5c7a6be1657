// Private to dashboard/: the live part of the dashboard — the open Server-Sent Events streams,
// what is broadcast to them (state, progress, done), and progress reports throttled per phase.
import type { Progress } from "../lib/core/env.ts";
import { SECURITY_HEADERS } from "./security.ts";
import { sse } from "./_http.ts";
import type { Busy, Outcome } from "./page.ts";
import { formatBytes, type ProgressReport, progressReport } from "./progress.ts";

const PROGRESS_MIN_INTERVAL_MS = 100;

/**
 * The event streams of one dashboard and what they are told: the running action (`busy`), the
 * last outcome, and progress — at most ten reports a second per phase, but always the first
 * and the last of a phase.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventHub } from "./_events.ts";
 * const hub = new EventHub();
 * const response = hub.stream();
 * const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
 * assert.match((await reader.read()).value!, /^event: state\n/);
 * hub.close();
 * await reader.cancel();
 * ```
 */
export class EventHub {
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #phase: { phase: Progress["phase"]; start: number; last: number } | null = null;
  /** The running action's last download report: the outcome says what was transferred. */
  #download: ProgressReport | null = null;
  /** The action running now, or null. */
  busy: Busy | null = null;
  /** What the last action did, or null. */
  outcome: Outcome | null = null;
  /** The last progress report, or null. */
  progress: ProgressReport | null = null;

  /** A new event stream: it starts with the state (and the last progress, if any). */
  stream(): Response {
    let mine: ReadableStreamDefaultController<Uint8Array> | null = null;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        mine = controller;
        this.#streams.add(controller);
        controller.enqueue(sse("state", { busy: this.busy, outcome: this.outcome }));
        if (this.progress) controller.enqueue(sse("progress", this.progress));
      },
      cancel: () => {
        if (mine) this.#streams.delete(mine);
      },
    });
    return new Response(body, {
      headers: { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8" },
    });
  }

  /** An action starts: tell the streams, and start counting phases (and progress) afresh. */
  start(busy: Busy): void {
    this.busy = busy;
    this.#phase = null;
    this.#download = null;
    this.progress = null;
    this.#broadcast("state", { busy: this.busy, outcome: this.outcome });
  }

  /**
   * The action ended with `outcome`; the hub adds the phase it was in when it ended and what it
   * downloaded (`phase`, `transfer`).
   */
  finish(outcome: Omit<Outcome, "phase" | "transfer">): void {
    const d = this.#download;
    this.busy = null;
    this.outcome = {
      ...outcome,
      phase: this.#phase?.phase ?? null,
      transfer: d === null || d.done === 0
        ? null
        : `${formatBytes(d.done)}${
          d.rate === null ? "" : ` at ${formatBytes(Math.round(d.rate))}/s`
        }`,
    };
    this.#broadcast("done", { outcome: this.outcome });
  }

  /** The phase now being reported, or null. */
  get phase(): Progress["phase"] | null {
    return this.#phase?.phase ?? null;
  }

  /** Report progress of the running `action`. */
  report(action: string, progress: Progress): void {
    const now = performance.now();
    if (this.#phase?.phase !== progress.phase) {
      this.#phase = { phase: progress.phase, start: now, last: -Infinity };
    }
    const phase = this.#phase;
    const last = progress.total !== null && progress.done >= progress.total;
    if (!last && progress.done > 0 && now - phase.last < PROGRESS_MIN_INTERVAL_MS) return;
    phase.last = now;
    this.progress = progressReport(progress, { action, elapsedMs: now - phase.start });
    if (progress.phase === "download") this.#download = this.progress;
    this.#broadcast("progress", this.progress);
  }

  /** Close every stream. */
  close(): void {
    for (const controller of this.#streams) {
      try {
        controller.close();
      } catch { /* already closed */ }
    }
    this.#streams.clear();
  }

  #broadcast(event: string, data: unknown): void {
    const chunk = sse(event, data);
    for (const controller of this.#streams) {
      try {
        controller.enqueue(chunk);
      } catch {
        this.#streams.delete(controller);
      }
    }
  }
}
