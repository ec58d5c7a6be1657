/**
 * Signals passed on to a child process: what `run` does for the application
 * (lib/root/launch.ts) and what the updater at the launcher's path does for a candidate on trial
 * (lib/self/trial.ts). Listening starts before the child is spawned, so that a signal arriving
 * while it starts is passed on as soon as it exists, instead of ending this process and
 * orphaning the child. No `node:` built-in (the launcher's path loads it).
 *
 * @module
 */

/**
 * The signals passed on: interrupt, terminate, hang-up, quit and the two user signals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARDED_SIGNALS } from "./signals.ts";
 * assert.deepEqual(FORWARDED_SIGNALS, ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]);
 * ```
 */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = Object.freeze([
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
]);

/**
 * Passes the signals this process receives on to one child. Made by
 * {@linkcode forwardSignals} before the child is spawned; {@linkcode SignalForwarder.attach}
 * names the child (the signals that arrived meanwhile are passed on then), and
 * {@linkcode SignalForwarder.close} (or `using`) stops listening.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardSignals } from "./signals.ts";
 * using forwarder = forwardSignals();
 * assert.equal(forwarder.signalled, false);
 * const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
 * forwarder.attach(child);
 * Deno.kill(Deno.pid, "SIGTERM"); // to this process: passed on, and this process goes on
 * const status = await child.status;
 * assert.deepEqual([status.signal, forwarder.signalled], ["SIGTERM", true]);
 * ```
 */
export class SignalForwarder implements Disposable {
  #child: Deno.ChildProcess | null = null;
  #pending: Deno.Signal[] = [];
  #signalled = false;
  #handlers: [Deno.Signal, () => void][] = [];

  /** Start listening to `signals` (default {@linkcode FORWARDED_SIGNALS}). */
  constructor(signals: readonly Deno.Signal[] = FORWARDED_SIGNALS) {
    for (const signal of signals) {
      const handler = () => {
        this.#signalled = true;
        if (this.#child === null) this.#pending.push(signal);
        else this.#pass(signal);
      };
      Deno.addSignalListener(signal, handler);
      this.#handlers.push([signal, handler]);
    }
  }

  /** Whether a forwarded signal has arrived since listening began. */
  get signalled(): boolean {
    return this.#signalled;
  }

  /** Pass signals on to `child` from now on, and those that arrived before it existed. */
  attach(child: Deno.ChildProcess): void {
    this.#child = child;
    for (const signal of this.#pending.splice(0)) this.#pass(signal);
  }

  /** Stop listening (safe twice). */
  close(): void {
    for (const [signal, handler] of this.#handlers.splice(0)) {
      Deno.removeSignalListener(signal, handler);
    }
  }

  /** {@linkcode SignalForwarder.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #pass(signal: Deno.Signal): void {
    try {
      this.#child?.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Listen to the forwarded signals before a child is spawned (see {@linkcode SignalForwarder}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardSignals } from "./signals.ts";
 * const forwarder = forwardSignals(["SIGUSR2"]);
 * forwarder.close();
 * forwarder.close(); // safe twice
 * assert.equal(forwarder.signalled, false);
 * ```
 */
export function forwardSignals(
  signals: readonly Deno.Signal[] = FORWARDED_SIGNALS,
): SignalForwarder {
  return new SignalForwarder(signals);
}
