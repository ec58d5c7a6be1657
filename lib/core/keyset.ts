// Public keys and key sets in configuration form, without any crypto: the configuration (loaded
// on the launcher's fast path) validates them without loading Web Crypto or node:crypto.
import { type FieldFail, isObject, showValue } from "./validate.ts";

/** The prefix of a public key as the configuration pins it. */
export const PUBLIC_KEY_PREFIX = "ed25519:";

/** A set of public keys and how many of them must sign (k of n). */
export interface KeySet {
  /** How many distinct keys of `keys` must sign. */
  threshold: number;
  /** Public keys in configuration form (`ed25519:…`). */
  keys: string[];
}

/** Decode strict base64, or null. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * The 32 raw bytes of a public key in configuration form, or a `TypeError` naming the value.
 *
 * @example
 * ```ts
 * import { parsePublicKey } from "./keyset.ts";
 * console.assert(parsePublicKey("ed25519:" + btoa("k".repeat(32))).length === 32);
 * ```
 */
export function parsePublicKey(text: unknown): Uint8Array {
  const bytes = typeof text === "string" && text.startsWith(PUBLIC_KEY_PREFIX)
    ? decodeBase64(text.slice(PUBLIC_KEY_PREFIX.length))
    : null;
  if (bytes === null || bytes.length !== 32) {
    throw new TypeError(
      `Invalid public key ${showValue(text)}: expected ed25519: followed by the base64 of 32 bytes`,
    );
  }
  return bytes;
}

/**
 * Whether `text` is a public key in configuration form.
 *
 * @example
 * ```ts
 * import { isPublicKey } from "./keyset.ts";
 * console.assert(!isPublicKey("ed25519:short"));
 * ```
 */
export function isPublicKey(text: unknown): boolean {
  try {
    parsePublicKey(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Validate a key set (`{threshold, keys}`): distinct `ed25519:` keys, a threshold from 1 to their
 * number. `fail(field, expected, value)` throws the caller's error.
 *
 * @example
 * ```ts
 * import { parseKeySet } from "./keyset.ts";
 * const key = "ed25519:" + btoa("k".repeat(32));
 * const set = parseKeySet({ threshold: 1, keys: [key] }, "keys", (f) => { throw new Error(f); });
 * console.assert(set.threshold === 1);
 * ```
 */
export function parseKeySet(
  raw: unknown,
  field: string,
  fail: FieldFail,
): KeySet {
  if (!isObject(raw)) return fail(field, "an object {threshold, keys}", raw);
  const keys = raw.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    return fail(`${field}.keys`, "a non-empty list of ed25519: public keys", keys);
  }
  keys.forEach((key, i) => {
    if (!isPublicKey(key)) fail(`${field}.keys[${i}]`, "an ed25519: public key", key);
    if (keys.indexOf(key) !== i) fail(`${field}.keys[${i}]`, "a key not listed before", key);
  });
  if (
    !Number.isInteger(raw.threshold) || (raw.threshold as number) < 1 ||
    (raw.threshold as number) > keys.length
  ) {
    fail(`${field}.threshold`, `an integer from 1 to ${keys.length}`, raw.threshold);
  }
  return { threshold: raw.threshold as number, keys: [...keys] as string[] };
}
