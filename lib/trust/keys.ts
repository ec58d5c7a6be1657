/**
 * The verifying half of the Ed25519 keys (Web Crypto): the public key form the configuration
 * pins (`ed25519:<base64 of the 32 raw bytes>`), key ids, signature files and checking a
 * signature. Signing is the publisher's (lib/publish/signing.ts).
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  decodeBase64,
  isPublicKey,
  type KeySet,
  parseKeySet,
  parsePublicKey,
  PUBLIC_KEY_PREFIX,
} from "../core/keyset.ts";

export { isPublicKey, type KeySet, parseKeySet, parsePublicKey, PUBLIC_KEY_PREFIX };

/**
 * One signature of a document: which key, and the signature in base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import type { SignatureEntry } from "./keys.ts";
 * const file = await signDocument(new TextEncoder().encode("{}"), [signer]);
 * const [entry]: SignatureEntry[] = JSON.parse(file);
 * assert.equal(entry.keyid, signer.keyid);
 * assert.equal(Uint8Array.fromBase64(entry.sig).length, 64);
 * ```
 */
export interface SignatureEntry {
  /** The signing key's id ({@linkcode keyId}). */
  keyid: string;
  /** The Ed25519 signature over the exact document bytes, base64 (64 bytes). */
  sig: string;
}

/**
 * A key's id: the first 16 hex digits of the SHA-256 of its 32 raw bytes. It only names the key
 * in signature files and messages; verification always uses the pinned key itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { keyId } from "./keys.ts";
 * const key = "ed25519:" + btoa("k".repeat(32));
 * const digest = createHash("sha256").update("k".repeat(32)).digest("hex");
 * assert.equal(keyId(key), digest.slice(0, 16));
 * assert.throws(() => keyId("ed25519:short"), TypeError);
 * ```
 */
export function keyId(publicKey: string): string {
  return createHash("sha256").update(parsePublicKey(publicKey)).digest("hex").slice(0, 16);
}

/**
 * Whether `sig` is a valid Ed25519 signature of `bytes` by `publicKey` (configuration form).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseSignatures, verifyBytes } from "./keys.ts";
 * const bytes = new TextEncoder().encode('{"version":"1.1.0"}');
 * const [{ sig }] = parseSignatures(await signDocument(bytes, [signer]), "manifest.json.sig");
 * assert.equal(await verifyBytes(signer.publicKey, bytes, sig), true);
 * assert.equal(await verifyBytes(signer.publicKey, new TextEncoder().encode("{}"), sig), false);
 * assert.equal(await verifyBytes(signer.publicKey, bytes, sig.subarray(1)), false); // not 64 bytes
 * ```
 */
export async function verifyBytes(
  publicKey: string,
  bytes: Uint8Array,
  sig: Uint8Array,
): Promise<boolean> {
  if (sig.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      parsePublicKey(publicKey) as BufferSource,
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    return await crypto.subtle.verify("Ed25519", key, sig as BufferSource, bytes as BufferSource);
  } catch {
    return false;
  }
}

/**
 * Parse a signature file strictly: a JSON list of `{keyid, sig}` with base64 signatures of 64
 * bytes. Throws `SyntaxError` or `TypeError` naming `source`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSignatures } from "./keys.ts";
 * const sig = new Uint8Array(64).toBase64();
 * assert.deepEqual(parseSignatures(`[{"keyid":"0123456789abcdef","sig":"${sig}"}]`, "m.sig"), [
 *   { keyid: "0123456789abcdef", sig: new Uint8Array(64) },
 * ]);
 * assert.throws(() => parseSignatures("{", "m.sig"), { name: "SyntaxError", message: "Signature file m.sig is not valid JSON" });
 * assert.throws(() => parseSignatures('[{"keyid":"a","sig":"AAAA"}]', "m.sig"), TypeError); // 3 bytes
 * ```
 */
export function parseSignatures(
  document: string | Uint8Array,
  source: string,
): { keyid: string; sig: Uint8Array }[] {
  let raw: unknown;
  try {
    const text = typeof document === "string"
      ? document
      : new TextDecoder("utf-8", { fatal: true }).decode(document);
    raw = JSON.parse(text);
  } catch {
    throw new SyntaxError(`Signature file ${source} is not valid JSON`);
  }
  if (!Array.isArray(raw)) {
    throw new TypeError(`Signature file ${source} must be a JSON list of {keyid, sig}`);
  }
  return raw.map((entry, i) => {
    const sig = typeof entry?.sig === "string" ? decodeBase64(entry.sig) : null;
    if (typeof entry?.keyid !== "string" || sig === null || sig.length !== 64) {
      throw new TypeError(
        `Signature file ${source}: entry ${i} must be {keyid, sig} with a base64 signature of 64 bytes`,
      );
    }
    return { keyid: entry.keyid, sig };
  });
}
