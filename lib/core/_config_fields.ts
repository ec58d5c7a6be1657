/**
 * The field checks of `validateConfig` (lib/core/config_schema.ts): each one returns the
 * value when it fits and throws a {@linkcode ConfigError} naming the source, the field, what was
 * expected and the value otherwise; an unknown field is named with the nearest known one ("did
 * you mean"). Private to lib/core.
 *
 * @module
 */
import { ConfigError } from "./errors.ts";
import { isObject, showValue } from "./validate.ts";

/** Edit distance between two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j] + 1,
        row[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The known key nearest to a misspelt one, if it is near enough: a few edits away, or the key
 * cut short or run long (`check_interval` for `check_interval_hours`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closestKey } from "./_config_fields.ts";
 * assert.equal(closestKey("chanel", ["channel", "platform"]), "channel");
 * assert.equal(closestKey("check_interval", ["check_interval_hours"]), "check_interval_hours");
 * assert.equal(closestKey("colour", ["channel", "platform"]), undefined);
 * ```
 */
export function closestKey(key: string, keys: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of keys) {
    const d = distance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3))) return best;
  return key.length >= 4 ? keys.find((k) => k.startsWith(key) || key.startsWith(k)) : undefined;
}

/**
 * Field checks that throw {@linkcode ConfigError}s naming `source` (a file path, or "config").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Checker } from "./_config_fields.ts";
 * const c = new Checker("/etc/ms11.json");
 * assert.equal(c.int(3, "max_retry_attempts", 1, 100), 3);
 * assert.throws(() => c.int(0, "max_retry_attempts", 1, 100), {
 *   name: "ConfigError",
 *   message: "Invalid config /etc/ms11.json: max_retry_attempts must be an integer from 1 to 100, got 0",
 * });
 * assert.throws(() => c.known({ chanel: "x" }, "", ["channel"]), /unknown field chanel \(did you mean channel\?\)/);
 * ```
 */
export class Checker {
  #source: string;

  /** @param source named in every message: the file path, or "config" */
  constructor(source: string) {
    this.#source = source;
  }

  /** Throw: `field` must be `expected`, got `value`. */
  fail(field: string, expected: string, value: unknown): never {
    throw new ConfigError(
      `Invalid config ${this.#source}: ${field} must be ${expected}, got ${showValue(value)}`,
    );
  }

  /** A JSON object. */
  object(value: unknown, field: string): Record<string, unknown> {
    if (!isObject(value)) this.fail(field, "an object", value);
    return value;
  }

  /** Throw for the first key of `obj` that is not one of `keys`, naming the nearest known one. */
  known(obj: Record<string, unknown>, field: string, keys: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!keys.includes(key)) {
        const where = field ? `${field}.${key}` : key;
        const near = closestKey(key, keys);
        throw new ConfigError(
          `Invalid config ${this.#source}: unknown field ${where}${
            near ? ` (did you mean ${near}?)` : ""
          }`,
        );
      }
    }
  }

  /** true or false. */
  bool(value: unknown, field: string): boolean {
    if (typeof value !== "boolean") this.fail(field, "true or false", value);
    return value;
  }

  /** An integer from `min` to `max`. */
  int(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `an integer from ${min} to ${max}`, value);
    }
    return value;
  }

  /** A finite number from `min` to `max`. */
  number(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      this.fail(field, `a number from ${min} to ${max}`, value);
    }
    return value;
  }

  /** A non-empty string that passes `test` (when given), described as `expected`. */
  string(
    value: unknown,
    field: string,
    test?: (text: string) => boolean,
    expected?: string,
  ): string {
    if (typeof value !== "string" || value.length === 0 || (test && !test(value))) {
      this.fail(field, expected ?? "a non-empty string", value);
    }
    return value;
  }

  /** null (every non-zero exit), or a non-empty list of distinct exit codes from 1 to 255. */
  exitCodes(value: unknown, field: string): number[] | null {
    if (value === null) return null;
    if (
      !Array.isArray(value) || value.length === 0 ||
      value.some((v) => !Number.isInteger(v) || v < 1 || v > 255) ||
      new Set(value).size !== value.length
    ) {
      this.fail(
        field,
        "null (every non-zero exit) or a non-empty list of exit codes from 1 to 255",
        value,
      );
    }
    return [...value as number[]];
  }

  /** null, or what {@linkcode Checker.string} accepts. */
  nullableString(
    value: unknown,
    field: string,
    test?: (text: string) => boolean,
    expected?: string,
  ): string | null {
    return value === null ? null : this.string(value, field, test, expected);
  }
}
