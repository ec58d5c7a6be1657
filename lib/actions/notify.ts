/**
 * Notifications: the events people are told about, which of them the configuration announces,
 * and the optional hook command that receives each announced event as JSON on stdin (how a
 * launcher shows a toast). A failing hook is reported to the caller, never thrown.
 *
 * @module
 */
import type { NotificationsConfig } from "../core/config_schema.ts";
import { killGroup, spawnGroup } from "../core/process.ts";
import { jsonText } from "../core/text.ts";

/** The kinds of event that can be announced. */
export type EventType =
  | "update_available"
  | "downloaded"
  | "ready_to_apply"
  | "failure"
  | "channel_changed";

/** One announced event (also the JSON the hook receives). */
export interface UpdateEvent {
  /** What happened. */
  type: EventType;
  /** When (ISO 8601). */
  at: string;
  /** The channel concerned. */
  channel: string;
  /** The version concerned, when there is one. */
  version: string | null;
  /** The installed version, when known. */
  current: string | null;
  /** One sentence for people. */
  message: string;
}

const SWITCH: Record<EventType, keyof NotificationsConfig> = {
  update_available: "notify_on_available",
  downloaded: "notify_on_download",
  ready_to_apply: "notify_on_ready",
  failure: "notify_on_failure",
  channel_changed: "notify_on_channel_change",
};

/**
 * Whether the configuration announces events of this type.
 *
 * @example
 * ```ts
 * import { defaultConfig } from "../core/config.ts";
 * import { isAnnounced } from "./notify.ts";
 * console.assert(isAnnounced("failure", defaultConfig().notifications));
 * ```
 */
export function isAnnounced(type: EventType, notifications: NotificationsConfig): boolean {
  return notifications[SWITCH[type]] === true;
}

/** Options of {@linkcode runHook}. */
export interface RunHookOptions {
  /** Kill the hook after this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/**
 * Run the hook `command` with `event` as JSON on stdin. Resolves to null on success, or to a
 * one-line description of the failure (never rejects): a hook must not break an update.
 *
 * @example
 * ```ts
 * import { runHook } from "./notify.ts";
 * const event = { type: "failure" as const, at: "2026-11-27T00:00:00Z", channel: "stable",
 *   version: null, current: "1.0.0", message: "Download failed" };
 * console.assert((await runHook(["false"], event))?.includes("exited with code 1"));
 * ```
 */
export async function runHook(
  command: readonly string[],
  event: UpdateEvent,
  options: RunHookOptions = {},
): Promise<string | null> {
  const name = command[0];
  try {
    const child = spawnGroup(name, {
      args: command.slice(1),
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    });
    // On timeout the hook goes with everything it started (its process group).
    const timer = setTimeout(() => killGroup(child), options.timeoutMs ?? 10_000);
    try {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(jsonText(event) + "\n")).catch(() => {});
      await writer.close().catch(() => {});
      const status = await child.status;
      if (status.signal) return `Notification hook ${name} was killed by ${status.signal}`;
      if (!status.success) return `Notification hook ${name} exited with code ${status.code}`;
      return null;
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    return `Notification hook ${name} could not run: ${(error as Error).message}`;
  }
}
