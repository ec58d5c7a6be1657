/**
 * Loading and saving `update_channel.json`: where the file is (flag, environment, XDG default),
 * reading it (a missing file at the default location gives the shipped defaults), and changing it
 * in place. Its shape and pure validation are lib/core/config_schema.ts, re-exported here so that
 * this module stays the one import for the configuration.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import { dirOf, writeFileAtomic } from "./fs.ts";
import { setTopLevelField } from "./_json_edit.ts";
import { isObject, showValue } from "./validate.ts";
import { type Config, defaultConfig, validateConfig } from "./config_schema.ts";

export { defaultConfig, validateConfig } from "./config_schema.ts";
export type {
  Config,
  HealthConfig,
  NotificationsConfig,
  SecurityConfig,
  UpdateServer,
  ValidateConfigOptions,
} from "./config_schema.ts";

type Raw = Record<string, unknown>;

/**
 * The platform key of this machine, as manifests name it: `<os>-<arch>` with os one of
 * `linux`, `darwin`, `windows`, … and arch `x64` or `arm64`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectPlatform } from "./config.ts";
 * import { isPlatformKey } from "./validate.ts";
 * assert.ok(isPlatformKey(detectPlatform()));
 * ```
 */
export function detectPlatform(): string {
  const arch = Deno.build.arch === "x86_64"
    ? "x64"
    : Deno.build.arch === "aarch64"
    ? "arm64"
    : Deno.build.arch;
  return `${Deno.build.os}-${arch}`;
}

/**
 * Where things are, as resolved from flags, environment and defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Locations } from "./config.ts";
 * const where: Locations = { configPath: "/etc/ms11/update_channel.json", configExplicit: true };
 * assert.ok(where.configExplicit);
 * ```
 */
export interface Locations {
  /** The configuration file (it may not exist). */
  configPath: string;
  /** Whether the path was given explicitly (flag or environment): then it must exist. */
  configExplicit: boolean;
}

/**
 * The configuration file path: the flag, else `$MS11_UPDATE_CONFIG`, else
 * `$XDG_CONFIG_HOME/ms11/update_channel.json` (`~/.config/…`; `%APPDATA%\ms11\…` on Windows).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfigPath } from "./config.ts";
 * assert.deepEqual(resolveConfigPath("/etc/x.json", {}), {
 *   configPath: "/etc/x.json",
 *   configExplicit: true,
 * });
 * assert.deepEqual(resolveConfigPath(undefined, { HOME: "/home/ana", XDG_CONFIG_HOME: "" }), {
 *   configPath: "/home/ana/.config/ms11/update_channel.json",
 *   configExplicit: false,
 * });
 * ```
 */
export function resolveConfigPath(
  flag: string | undefined,
  env: Record<string, string | undefined>,
): Locations {
  if (flag) return { configPath: flag, configExplicit: true };
  if (env.MS11_UPDATE_CONFIG) return { configPath: env.MS11_UPDATE_CONFIG, configExplicit: true };
  // An empty variable counts as unset (XDG Base Directory specification).
  const base = env.XDG_CONFIG_HOME || env.APPDATA || (env.HOME ? `${env.HOME}/.config` : ".");
  return { configPath: `${base}/ms11/update_channel.json`, configExplicit: false };
}

/**
 * A loaded configuration and where it came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, type LoadedConfig } from "./config.ts";
 * const loaded: LoadedConfig = { config: defaultConfig(), path: "/etc/ms11.json", exists: false };
 * assert.equal(loaded.config.channel, "stable");
 * ```
 */
export interface LoadedConfig {
  /** The validated configuration. */
  config: Config;
  /** The file it was read from (or would be saved to). */
  path: string;
  /** Whether the file exists (false: shipped defaults). */
  exists: boolean;
}

/**
 * Options of {@linkcode loadConfig}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "./config.ts";
 * await assert.rejects(loadConfig("/nonexistent/ms11.json", { explicit: true }), {
 *   name: "ConfigError",
 *   message: "Config file /nonexistent/ms11.json does not exist",
 * });
 * ```
 */
export interface LoadConfigOptions {
  /** The path was given explicitly: a missing file is an error, not the defaults. */
  explicit?: boolean;
}

const MAX_CONFIG_BYTES = 1 << 20;

async function readRaw(path: string, explicit: boolean): Promise<Raw | null> {
  return (await readDocument(path, explicit))?.raw ?? null;
}

/** The configuration file's text and parsed object, or null when it does not exist. */
async function readDocument(
  path: string,
  explicit: boolean,
): Promise<{ text: string; raw: Raw } | null> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new ConfigError(`Invalid config ${path}: not a regular file`);
    if (info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(`Invalid config ${path}: ${info.size} bytes is larger than 1 MiB`);
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (explicit) throw new ConfigError(`Config file ${path} does not exist`);
      return null;
    }
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`Cannot read config ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) {
    throw new ConfigError(
      `Invalid config ${path}: the document must be a JSON object, got ${showValue(raw)}`,
    );
  }
  return { text, raw };
}

/**
 * Read and validate the configuration file; a missing file at a default location gives the
 * shipped defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "./config.ts";
 * const { config, exists } = await loadConfig("/nonexistent/update_channel.json");
 * assert.equal(exists, false);
 * assert.equal(config.channel, "stable");
 * ```
 */
export async function loadConfig(
  path: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const raw = await readRaw(path, options.explicit ?? false);
  if (raw === null) return { config: defaultConfig(), path, exists: false };
  return { config: validateConfig(raw, { source: path }), path, exists: true };
}

/**
 * Persist a change to the configuration file, keeping every other setting the user wrote:
 * the file is re-read, `change` is applied to its raw JSON, the result is validated, and it is
 * written atomically (temp file, fsync, rename). Nothing is written when validation fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { updateConfigFile } from "./config.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '{"keep_backups_count": 3}');
 * const config = await updateConfigFile(path, (raw) => ({ ...raw, channel: "canary" }));
 * assert.equal(config.channel, "canary");
 * assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
 *   keep_backups_count: 3,
 *   channel: "canary",
 * });
 * ```
 */
export async function updateConfigFile(
  path: string,
  change: (raw: Record<string, unknown>) => Record<string, unknown>,
): Promise<Config> {
  const raw = (await readRaw(path, false)) ?? {};
  const next = change(structuredClone(raw));
  const config = validateConfig(next, { source: path });
  // A config that is a symlink (dotfiles) is updated where it points, with its mode kept.
  const target = await Deno.realPath(path).catch(() => path);
  const mode = (await Deno.stat(target).catch(() => null))?.mode;
  await Deno.mkdir(dirOf(target), { recursive: true });
  await writeFileAtomic(target, JSON.stringify(next, null, 2) + "\n", {
    mode: mode ? mode & 0o777 : 0o644,
  });
  return config;
}

/**
 * Set one top-level field of the configuration file and change nothing else in it: the other
 * fields, their order, the file's formatting and spacing stay as the user wrote them (only the
 * value's text is replaced, or, for a field not in the file yet, one member is added). The result
 * is validated first and written atomically (temp file, fsync, rename), keeping the file's mode;
 * a symlinked file is updated where it points. A missing file is created. Nothing is written when
 * validation fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setConfigField } from "./config.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * const text = '{\n    "keep_backups_count": 3,\n    "channel":"stable"\n}\n';
 * await Deno.writeTextFile(path, text);
 * const config = await setConfigField(path, "channel", "canary");
 * assert.equal(config.channel, "canary");
 * assert.equal(await Deno.readTextFile(path), '{\n    "keep_backups_count": 3,\n    "channel":"canary"\n}\n');
 * await assert.rejects(setConfigField(path, "channel", "Nope"), { name: "ConfigError" });
 * ```
 */
export async function setConfigField(path: string, key: string, value: unknown): Promise<Config> {
  const doc = await readDocument(path, false);
  const text = doc === null
    ? JSON.stringify({ [key]: value }, null, 2) + "\n"
    : setTopLevelField(doc.text, key, value);
  const config = validateConfig(JSON.parse(text), { source: path });
  const target = await Deno.realPath(path).catch(() => path);
  const mode = (await Deno.stat(target).catch(() => null))?.mode;
  await Deno.mkdir(dirOf(target), { recursive: true });
  await writeFileAtomic(target, text, { mode: mode ? mode & 0o777 : 0o644 });
  return config;
}
