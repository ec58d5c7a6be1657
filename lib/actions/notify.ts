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

/**
 * The kinds of event that can be announced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { type EventType, isAnnounced } from "./notify.ts";
 * const types: EventType[] = ["update_available", "downloaded", "ready_to_apply", "failure", "channel_changed"];
 * const notifications = { ...defaultConfig().notifications, notify_on_download: false };
 * assert.deepEqual(types.filter((t) => !isAnnounced(t, notifications)), ["downloaded"]);
 * ```
 */
export type EventType =
  | "update_available"
  | "downloaded"
  | "ready_to_apply"
  | "failure"
  | "channel_changed";

/**
 * One announced event (also the JSON the hook receives).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runHook, type UpdateEvent } from "./notify.ts";
 * const event: UpdateEvent = {
 *   type: "failure", at: "2026-11-27T00:00:00Z", channel: "stable", version: null, current: "1.0.0",
 *   message: "Download failed",
 * };
 * const file = `${await Deno.makeTempDir()}/event.json`;
 * assert.equal(await runHook(["sh", "-c", `cat > ${file}`], event), null);
 * assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), event); // the JSON the hook receives
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { isAnnounced } from "./notify.ts";
 * const notifications = defaultConfig().notifications;
 * assert.equal(isAnnounced("failure", notifications), true);
 * assert.equal(isAnnounced("failure", { ...notifications, notify_on_failure: false }), false);
 * ```
 */
export function isAnnounced(type: EventType, notifications: NotificationsConfig): boolean {
  return notifications[SWITCH[type]] === true;
}

/**
 * Options of {@linkcode runHook}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runHook, type RunHookOptions, type UpdateEvent } from "./notify.ts";
 * const event: UpdateEvent = {
 *   type: "failure", at: "2026-11-27T00:00:00Z", channel: "stable", version: null, current: "1.0.0",
 *   message: "Download failed",
 * };
 * const options: RunHookOptions = { timeoutMs: 100 };
 * assert.equal(await runHook(["sleep", "30"], event, options), "Notification hook sleep was killed by SIGKILL");
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { runHook, type UpdateEvent } from "./notify.ts";
 * const event: UpdateEvent = {
 *   type: "failure", at: "2026-11-27T00:00:00Z", channel: "stable", version: null, current: "1.0.0",
 *   message: "Download failed",
 * };
 * assert.equal(await runHook(["true"], event), null);
 * assert.equal(await runHook(["false"], event), "Notification hook false exited with code 1");
 * assert.match((await runHook(["/nonexistent/notify-send"], event))!, /^Notification hook \/nonexistent\/notify-send could not run: /);
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
