// Public keys and key sets in configuration form, without any crypto: the configuration (loaded
// on the launcher's fast path) validates them without loading Web Crypto or node:crypto.
import { type FieldFail, isObject, showValue } from "./validate.ts";

/**
 * The prefix of a public key as the configuration pins it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPublicKey, PUBLIC_KEY_PREFIX } from "./keyset.ts";
 * assert.equal(PUBLIC_KEY_PREFIX, "ed25519:");
 * assert.ok(isPublicKey(PUBLIC_KEY_PREFIX + new Uint8Array(32).toBase64()));
 * ```
 */
export const PUBLIC_KEY_PREFIX = "ed25519:";

/**
 * A set of public keys and how many of them must sign (k of n).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type KeySet, parseKeySet } from "./keyset.ts";
 * const key = "ed25519:" + btoa("k".repeat(32));
 * const fail = (field: string): never => {
 *   throw new TypeError(field);
 * };
 * const set: KeySet = parseKeySet({ threshold: 1, keys: [key] }, "keys", fail);
 * assert.deepEqual(set, { threshold: 1, keys: [key] });
 * ```
 */
export interface KeySet {
  /** How many distinct keys of `keys` must sign. */
  threshold: number;
  /** Public keys in configuration form (`ed25519:…`). */
  keys: string[];
}

/**
 * Decode strict base64, or null: the standard alphabet, padded to whole 4-character groups, no
 * whitespace, and no stray bits in the last group (so each byte string has one encoding).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64 } from "./keyset.ts";
 * assert.deepEqual(decodeBase64("AQL/"), new Uint8Array([1, 2, 255]));
 * assert.equal(decodeBase64("QQ"), null); // unpadded
 * assert.equal(decodeBase64("QR=="), null); // stray bits: "QQ==" is the encoding of "A"
 * assert.equal(decodeBase64(" QQ=="), null);
 * assert.equal(decodeBase64("-_8="), null); // base64url
 * ```
 */
export function decodeBase64(text: string): Uint8Array | null {
  // Uint8Array.fromBase64 skips ASCII whitespace; strict base64 has none.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch {
    return null;
  }
}

/**
 * The 32 raw bytes of a public key in configuration form, or a `TypeError` naming the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePublicKey } from "./keyset.ts";
 * assert.deepEqual(parsePublicKey("ed25519:" + btoa("k".repeat(32))), new TextEncoder().encode("k".repeat(32)));
 * assert.throws(() => parsePublicKey("ed25519:" + btoa("k".repeat(31))), {
 *   name: "TypeError",
 *   message: `Invalid public key "ed25519:${btoa("k".repeat(31))}": expected ed25519: followed by the base64 of 32 bytes`,
 * });
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
 * import assert from "node:assert/strict";
 * import { isPublicKey } from "./keyset.ts";
 * assert.equal(isPublicKey("ed25519:" + btoa("k".repeat(32))), true);
 * assert.equal(isPublicKey("ed25519:short"), false);
 * assert.equal(isPublicKey(42), false);
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
 * import assert from "node:assert/strict";
 * import { parseKeySet } from "./keyset.ts";
 * const key = "ed25519:" + btoa("k".repeat(32));
 * const fail = (field: string, expected: string): never => {
 *   throw new TypeError(`${field} must be ${expected}`);
 * };
 * assert.equal(parseKeySet({ threshold: 1, keys: [key] }, "keys", fail).threshold, 1);
 * assert.throws(() => parseKeySet({ threshold: 2, keys: [key] }, "keys", fail), {
 *   message: "keys.threshold must be an integer from 1 to 1",
 * });
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
