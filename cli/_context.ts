// What every command needs first: the configuration, the install root and the platform,
// resolved from flags, environment and defaults (see docs/CONFIGURATION.md).
//
// lib/core/config.ts is imported when a context is loaded, not with this module: the launcher's idle
// `apply` (cli/apply.ts) uses rootOf and waitMs below without reading the configuration.
import type { ActionContext } from "../lib/actions/context.ts";
import type { Config } from "../lib/core/config.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { type Layout, layoutOf, resolveRoot } from "../lib/root/layout.ts";
import { Ui } from "./_ui.ts";

/** Options every command takes. */
export interface GlobalOptions {
  config?: string;
  root?: string;
  json?: boolean;
  wait?: string;
}

/** The resolved context of one command run. */
export interface Context {
  config: Config;
  configPath: string;
  configExists: boolean;
  layout: Layout;
  platform: string;
  lockWaitMs: number;
  ui: Ui;
}

/** Parse `--wait SECONDS` (default `fallback`) into milliseconds. */
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
 * (the configuration's `install_root`), else the platform default.
 */
export function rootOf(
  flag: string | undefined,
  env: Record<string, string | undefined>,
  configured: string | null,
): string {
  const given = resolveRoot(flag, env, configured);
  return /^(\/|[A-Za-z]:[\\/])/.test(given) ? given : `${Deno.cwd()}/${given.replace(/^\.\//, "")}`;
}

/** Load configuration and locations for a command. */
export async function loadContext(options: GlobalOptions, defaultWait = 0): Promise<Context> {
  const { detectPlatform, loadConfig, resolveConfigPath } = await import("../lib/core/config.ts");
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

/** Options of {@linkcode actionContext}. */
export interface ActionContextOptions {
  /** Show progress of long steps (a bar on a terminal, JSON lines with --json). */
  progress?: boolean;
}

/**
 * The actions' context for this run: announced events are a line on stderr (a failure's
 * line is main's error message, so it reaches only the hook), hook failures a warning.
 */
export function actionContext(ctx: Context, options: ActionContextOptions = {}): ActionContext {
  return {
    layout: ctx.layout,
    config: ctx.config,
    configPath: ctx.configPath,
    platform: ctx.platform,
    lockWaitMs: ctx.lockWaitMs,
    onEvent: (event) => {
      // A failure's line is main's error; a switch says so in its own line (cli/builds.ts).
      if (event.type !== "failure" && event.type !== "channel_changed") {
        ctx.ui.notice(event.message);
      }
    },
    onProgress: options.progress ? ctx.ui.progress() : undefined,
    onWarning: (message) => ctx.ui.warn(message),
  };
}
