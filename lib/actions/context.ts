/**
 * What every action needs: the install, its configuration, and the front end's ears. Both front
 * ends (cli/ and dashboard/) build one {@linkcode ActionContext} and call the actions of this
 * folder; the actions do the failure recording, the audit and the announcing, once.
 *
 * @module
 */
import type { Config } from "../core/config.ts";
import type { Env, ProgressSink } from "../core/env.ts";
import type { Layout } from "../root/layout.ts";
import type { UpdateEvent } from "./notify.ts";

/**
 * The context of one action.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../core/config.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import type { ActionContext } from "./context.ts";
 * const heard: string[] = [];
 * const ctx: ActionContext = {
 *   layout: layoutOf("/tmp/ms11-example"),
 *   config: defaultConfig(),
 *   configPath: "/tmp/ms11-example/update_channel.json",
 *   platform: "linux-x64",
 *   onEvent: (event) => heard.push(event.message),
 * };
 * assert.equal(ctx.lockWaitMs, undefined);
 * ```
 */
export interface ActionContext {
  /** The install root. */
  layout: Layout;
  /** The configuration in force for this action. */
  config: Config;
  /** Where the configuration lives (a channel switch writes it). */
  configPath: string;
  /** The platform key to install. */
  platform: string;
  /** How long to wait for the install lock, in milliseconds (default 0). */
  lockWaitMs?: number;
  /** Clock and network (default: the system clock, and `fetch` trusting `security.ca_file`). */
  env?: Env;
  /**
   * An event the configuration announces (also sent to the notification hook): the front end
   * shows it to people. A `failure` event accompanies an error the action throws. Must not throw.
   */
  onEvent?: (event: UpdateEvent) => void;
  /** Progress of long steps. Must not throw. */
  onProgress?: ProgressSink;
  /** A problem that does not stop the action (a failing hook, a reset state file). */
  onWarning?: (message: string) => void;
}
