// What every command needs first: the configuration, the install root and the platform,
// resolved from flags, environment and defaults (see docs/CONFIGURATION.md).
//
// lib/core/config.ts and the output code (./_ui.ts) are imported when a context is loaded, not
// with this module: the launcher's idle `apply` (cli/apply.ts) uses rootOf and waitMs below
// without reading the configuration or, most often, printing anything.
import type { ActionContext } from "../lib/actions/context.ts";
import type { Config } from "../lib/core/config.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { type Layout, layoutOf, resolveRoot } from "../lib/root/layout.ts";
import type { Ui } from "./_ui.ts";

/**
 * Options every command takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GlobalOptions } from "./_context.ts";
 * const options: GlobalOptions = { root: "/opt/ms11", json: true, wait: "5" };
 * assert.equal(options.config, undefined);
 * ```
 */
export interface GlobalOptions {
  config?: string;
  root?: string;
  json?: boolean;
  wait?: string;
}

/**
 * The resolved context of one command run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * import type { Context } from "./_context.ts";
 * import { Ui } from "./_ui.ts";
 * const ctx: Context = { config: defaultConfig(), configPath: "/etc/ms11.json", configExists: false,
 *   layout: layoutOf("/opt/ms11"), platform: "linux-x64", lockWaitMs: 5000, ui: new Ui() };
 * assert.equal(ctx.layout.current, "/opt/ms11/current");
 * ```
 */
export interface Context {
  config: Config;
  configPath: string;
  configExists: boolean;
  layout: Layout;
  platform: string;
  lockWaitMs: number;
  ui: Ui;
}

/**
 * Parse `--wait SECONDS` (default `fallback`) into milliseconds; a `ConfigError` (a usage
 * error) for anything but seconds >= 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitMs } from "./_context.ts";
 * assert.equal(waitMs("2.5", 0), 2500);
 * assert.equal(waitMs(undefined, 5), 5000);
 * assert.throws(() => waitMs("soon", 0), {
 *   name: "ConfigError",
 *   message: 'Invalid --wait "soon": expected seconds >= 0',
 * });
 * ```
 */
export function waitMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0 || value.trim() === "") {
    throw new ConfigError(`Invalid --wait ${JSON.stringify(value)}: expected seconds >= 0`);
  }
  return seconds * 1000;
}

/**
 * The install root as an absolute path: `--root`, else `$MS11_UPDATE_ROOT`, else `configured`
 * (the configuration's `install_root`), else the platform default. A relative path is taken
 * from the working directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rootOf } from "./_context.ts";
 * const env = { MS11_UPDATE_ROOT: "/srv/ms11" };
 * assert.equal(rootOf("/opt/ms11", env, null), "/opt/ms11");
 * assert.equal(rootOf(undefined, env, "/from-config"), "/srv/ms11");
 * assert.equal(rootOf(undefined, {}, "ms11"), `${Deno.cwd()}/ms11`);
 * ```
 */
export function rootOf(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  configured: string | null,
): string {
  const given = resolveRoot(flag, env, configured);
  return /^(\/|[A-Za-z]:[\\/])/.test(given) ? given : `${Deno.cwd()}/${given.replace(/^\.\//, "")}`;
}

/**
 * Load configuration and locations for a command: the configuration file of `--config` (a
 * `ConfigError` when it is given and missing or invalid), the install root of {@linkcode rootOf}
 * and the lock wait of `--wait` (default `defaultWait` seconds).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadContext } from "./_context.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ channel: "canary" }));
 * const ctx = await loadContext({ config: `${dir}/config.json`, root: `${dir}/root` }, 5);
 * assert.deepEqual([ctx.config.channel, ctx.layout.root, ctx.lockWaitMs], ["canary", `${dir}/root`, 5000]);
 * await assert.rejects(loadContext({ config: `${dir}/missing.json` }), { name: "ConfigError" });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadContext(options: GlobalOptions, defaultWait = 0): Promise<Context> {
  const [{ detectPlatform, loadConfig, resolveConfigPath }, { Ui }] = await Promise.all([
    import("../lib/core/config.ts"),
    import("./_ui.ts"),
  ]);
  const env = Deno.env.toObject();
  const { configPath, configExplicit } = resolveConfigPath(options.config, env);
  const { config, exists } = await loadConfig(configPath, { explicit: configExplicit });
  const root = rootOf(options.root, env, config.install_root);
  const ui = new Ui({ json: options.json });
  if (!config.security.verify_signatures) {
    ui.warn(
      `security.verify_signatures is false in ${configPath}: manifests are not checked for signatures, rollback or expiry`,
    );
  }
  return {
    config,
    configPath,
    configExists: exists,
    layout: layoutOf(root),
    platform: config.platform ?? detectPlatform(),
    lockWaitMs: waitMs(options.wait, defaultWait),
    ui,
  };
}

/**
 * Options of {@linkcode actionContext}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ActionContextOptions } from "./_context.ts";
 * const options: ActionContextOptions = { progress: true };
 * assert.ok(options.progress);
 * ```
 */
export interface ActionContextOptions {
  /** Show progress of long steps (a bar on a terminal, JSON lines with --json). */
  progress?: boolean;
}

/**
 * The actions' context for this run. Announced events go to the notification hook only: each
 * command says one line for people about what the action did (a failure's line is main's error
 * message); a failing hook is a warning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * import { actionContext, type Context } from "./_context.ts";
 * import { Ui } from "./_ui.ts";
 * const lines: string[] = [];
 * const stderr = {
 *   writeSync(p: Uint8Array) {
 *     lines.push(new TextDecoder().decode(p));
 *     return p.length;
 *   },
 *   isTerminal: () => false,
 * };
 * const ctx: Context = { config: defaultConfig(), configPath: "/etc/ms11.json", configExists: true,
 *   layout: layoutOf("/opt/ms11"), platform: "linux-x64", lockWaitMs: 0, ui: new Ui({ stderr }) };
 * const actions = actionContext(ctx);
 * assert.equal(actions.onEvent, undefined); // events reach the hook; the command says one line
 * actions.onWarning?.("Hook failed");
 * assert.deepEqual(lines, ["warning: Hook failed\n"]);
 * assert.equal(actions.onProgress, undefined);
 * assert.equal(typeof actionContext(ctx, { progress: true }).onProgress, "function");
 * ```
 */
export function actionContext(ctx: Context, options: ActionContextOptions = {}): ActionContext {
  return {
    layout: ctx.layout,
    config: ctx.config,
    configPath: ctx.configPath,
    platform: ctx.platform,
    lockWaitMs: ctx.lockWaitMs,
    onProgress: options.progress ? ctx.ui.progress() : undefined,
    onWarning: (message) => ctx.ui.warn(message),
  };
}
