// The publisher's signing flags, shared by `release` and the rollout commands: `--key FILE`
// (repeatable) or `--unsigned`, and `--expires LIFETIME`.
import { ConfigError } from "../lib/core/errors.ts";
import { readSigningKey, type SigningKey } from "../lib/publish/signing.ts";

/**
 * Parse a lifetime such as `30d`, `12h` or `90m` into milliseconds; a usage error otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseLifetime } from "./_signing_flags.ts";
 * assert.equal(parseLifetime("12h"), 12 * 3600_000);
 * assert.throws(() => parseLifetime("soon"), {
 *   name: "ConfigError",
 *   message: 'Invalid --expires "soon": expected a lifetime such as 30d, 12h or 90m',
 * });
 * ```
 */
export function parseLifetime(text: string): number {
  const m = /^(\d+)([dhm])$/.exec(text);
  const ms = m === null ? 0 : Number(m[1]) * { d: 86400_000, h: 3600_000, m: 60_000 }[m[2]]!;
  if (ms <= 0 || ms > 3660 * 86400_000) {
    throw new ConfigError(
      `Invalid --expires ${JSON.stringify(text)}: expected a lifetime such as 30d, 12h or 90m`,
    );
  }
  return ms;
}

/**
 * The keys `--key` names, read; exactly one of `--key` and `--unsigned` is required (a
 * `ConfigError` naming `command` otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signingKeys } from "./_signing_flags.ts";
 * assert.deepEqual(await signingKeys("rollout", { unsigned: true }), []);
 * await assert.rejects(signingKeys("rollout", {}), {
 *   name: "ConfigError",
 *   message: "rollout needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)",
 * });
 * ```
 */
export async function signingKeys(
  command: string,
  options: { key?: string[]; unsigned?: boolean },
): Promise<SigningKey[]> {
  const keyFiles = options.key ?? [];
  if (keyFiles.length === 0 && !options.unsigned) {
    throw new ConfigError(
      `${command} needs --key KEY_FILE to sign the manifest (or --unsigned to publish it unsigned)`,
    );
  }
  if (keyFiles.length > 0 && options.unsigned) {
    throw new ConfigError(`${command} takes --key or --unsigned, not both`);
  }
  const keys: SigningKey[] = [];
  for (const file of keyFiles) {
    try {
      keys.push(await readSigningKey(file));
    } catch (error) {
      throw new ConfigError(`Invalid --key ${file}: ${(error as Error).message}`);
    }
  }
  return keys;
}
