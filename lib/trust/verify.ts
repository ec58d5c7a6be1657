/**
 * Trust in a channel's manifest: Ed25519 signatures over its exact bytes from a threshold of
 * pinned keys (each key counted once), key rotation announced under the current keys, rollback
 * protection (serial never lower, same serial never different content) and freeze protection
 * (expiry judged against the time the run started). Pure apart from Web Crypto; the caller
 * fetches the bytes and stores the {@linkcode TrustedRecord} it returns only once the manifest is
 * accepted. See docs/SECURITY.md.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { UntrustedManifestError } from "../core/errors.ts";
import { escapeText } from "../core/text.ts";
import { keyId, parseSignatures, verifyBytes } from "./keys.ts";
import type { KeySet, Manifest } from "./manifest.ts";

/**
 * The largest signature file accepted, in bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseManifest } from "./manifest.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", serial: 7,
 *   released_at: "2026-11-20T10:00:00Z", expires: "2026-12-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * }));
 * const signature = new TextEncoder().encode(await signDocument(bytes, [signer]));
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const options = {
 *   url,
 *   signatureUrl: `${url}.sig`,
 *   channel: "stable",
 *   manifest: parseManifest(bytes, { url }),
 *   pinned: { threshold: 1, keys: [signer.publicKey] },
 *   trusted: null,
 *   startedAt: new Date("2026-11-27T00:00:00Z"),
 * };
 * import { UntrustedManifestError } from "../core/errors.ts";
 * import { MAX_SIGNATURE_BYTES, verifyManifest } from "./verify.ts";
 * const huge = new Uint8Array(MAX_SIGNATURE_BYTES + 1);
 * await assert.rejects(verifyManifest(bytes, huge, options), (error) => {
 *   assert.ok(error instanceof UntrustedManifestError);
 *   assert.equal(error.reason, "signature-oversize");
 *   return true;
 * });
 * ```
 */
export const MAX_SIGNATURE_BYTES = 16384;

/**
 * What the client remembers about the last manifest it accepted on a channel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseManifest } from "./manifest.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", serial: 7,
 *   released_at: "2026-11-20T10:00:00Z", expires: "2026-12-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * }));
 * const signature = new TextEncoder().encode(await signDocument(bytes, [signer]));
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const options = {
 *   url,
 *   signatureUrl: `${url}.sig`,
 *   channel: "stable",
 *   manifest: parseManifest(bytes, { url }),
 *   pinned: { threshold: 1, keys: [signer.publicKey] },
 *   trusted: null,
 *   startedAt: new Date("2026-11-27T00:00:00Z"),
 * };
 * import { type TrustedRecord, verifyManifest } from "./verify.ts";
 * const record: TrustedRecord = await verifyManifest(bytes, signature, options);
 * assert.equal(record.serial, 7);
 * // The same manifest again (a 304, a retry): accepted, nothing new to remember.
 * assert.deepEqual(await verifyManifest(bytes, signature, { ...options, trusted: record }), record);
 * ```
 */
export interface TrustedRecord {
  /** The highest serial accepted. */
  serial: number;
  /** SHA-256 of the exact bytes of the manifest accepted with that serial. */
  sha256: string;
  /** Its version. */
  version: string;
  /** Its expiry. */
  expires: string;
  /** When it was accepted. */
  accepted_at: string;
  /** The key set after a rotation (null: the pinned keys of the configuration). */
  keys: KeySet | null;
  /** Key ids of the pinned set the rotation started from (a new pinned set resets `keys`). */
  pinned: string[] | null;
}

/**
 * Options of {@linkcode verifyManifest}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseManifest } from "./manifest.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", serial: 7,
 *   released_at: "2026-11-20T10:00:00Z", expires: "2026-12-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * }));
 * const signature = new TextEncoder().encode(await signDocument(bytes, [signer]));
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const options = {
 *   url,
 *   signatureUrl: `${url}.sig`,
 *   channel: "stable",
 *   manifest: parseManifest(bytes, { url }),
 *   pinned: { threshold: 1, keys: [signer.publicKey] },
 *   trusted: null,
 *   startedAt: new Date("2026-11-27T00:00:00Z"),
 * };
 * import { UntrustedManifestError } from "../core/errors.ts";
 * import { verifyManifest, type VerifyManifestOptions } from "./verify.ts";
 * const other = { threshold: 1, keys: ["ed25519:" + btoa("k".repeat(32))] };
 * const strict: VerifyManifestOptions = { ...options, pinned: other }; // signed, but not by a pinned key
 * await assert.rejects(verifyManifest(bytes, signature, strict), {
 *   name: "UntrustedManifestError",
 *   message: `Manifest ${url} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${signer.keyid})`,
 * });
 * await assert.rejects(verifyManifest(bytes, signature, strict), UntrustedManifestError);
 * ```
 */
export interface VerifyManifestOptions {
  /** The manifest's URL (for messages). */
  url: string;
  /** The signature file's URL (for messages). */
  signatureUrl: string;
  /** The channel. */
  channel: string;
  /** The parsed manifest (from the same bytes). */
  manifest: Manifest;
  /** The keys the configuration pins for the channel. */
  pinned: KeySet;
  /** What was accepted before on this channel (null: nothing yet). */
  trusted: TrustedRecord | null;
  /** When the run started: expiry is judged against it. */
  startedAt: Date;
}

/** The SHA-256 of some bytes, lowercase hex. */
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * How long ago `then` was before `now`, as `3d 4h`, `2h 5m` or `40s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { staleness } from "./verify.ts";
 * assert.equal(staleness(new Date(0), new Date(90_061_000)), "1d 1h 1m");
 * assert.equal(staleness(new Date(0), new Date(40_000)), "40s");
 * assert.equal(staleness(new Date(40_000), new Date(0)), "0s"); // never negative
 * ```
 */
export function staleness(then: Date, now: Date): string {
  let s = Math.max(0, Math.floor((now.getTime() - then.getTime()) / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [[d, "d"], [h, "h"], [m, "m"]].filter(([n]) => (n as number) > 0)
    .map(([n, u]) => `${n}${u}`);
  return parts.length === 0 ? `${s}s` : parts.join(" ");
}

/**
 * The key set in force: the rotated one, unless the pinned set changed since the rotation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyId } from "./keys.ts";
 * import { currentKeys, type TrustedRecord } from "./verify.ts";
 * const pinned = { threshold: 1, keys: ["ed25519:" + btoa("k".repeat(32))] };
 * const rotated = { threshold: 1, keys: ["ed25519:" + btoa("r".repeat(32))] };
 * assert.equal(currentKeys(pinned, null), pinned);
 * const trusted: TrustedRecord = {
 *   serial: 3, sha256: "a".repeat(64), version: "1.1.0", expires: "2026-12-20T10:00:00Z",
 *   accepted_at: "2026-11-27T00:00:00Z", keys: rotated, pinned: pinned.keys.map(keyId),
 * };
 * assert.equal(currentKeys(pinned, trusted), rotated); // rotated under the pinned keys
 * const repinned = { threshold: 1, keys: ["ed25519:" + btoa("p".repeat(32))] };
 * assert.equal(currentKeys(repinned, trusted), repinned); // a new pinned set resets the rotation
 * ```
 */
export function currentKeys(pinned: KeySet, trusted: TrustedRecord | null): KeySet {
  if (trusted?.keys == null || trusted.pinned === null) return pinned;
  const ids = pinned.keys.map(keyId).sort();
  const same = ids.length === trusted.pinned.length &&
    ids.every((id, i) => id === [...trusted.pinned!].sort()[i]);
  return same ? trusted.keys : pinned;
}

/**
 * The distinct keys of `keySet` with a valid signature of `bytes` in `signatures`. A key counts
 * once however often its signature appears; signatures by keys outside the set count for nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseSignatures } from "./keys.ts";
 * import { validSigners } from "./verify.ts";
 * const bytes = new TextEncoder().encode("{}");
 * const signatures = parseSignatures(await signDocument(bytes, [signer, signer]), "m.sig");
 * const keySet = { threshold: 1, keys: [signer.publicKey, "ed25519:" + btoa("k".repeat(32))] };
 * assert.deepEqual(await validSigners(bytes, signatures, keySet), [signer.keyid]); // counted once
 * assert.deepEqual(await validSigners(new TextEncoder().encode("[]"), signatures, keySet), []);
 * ```
 */
export async function validSigners(
  bytes: Uint8Array,
  signatures: readonly { keyid: string; sig: Uint8Array }[],
  keySet: KeySet,
): Promise<string[]> {
  const signers = new Set<string>();
  for (const key of keySet.keys) {
    const id = keyId(key);
    if (signers.has(id)) continue;
    for (const s of signatures) {
      if (s.keyid === id && await verifyBytes(key, bytes, s.sig)) {
        signers.add(id);
        break;
      }
    }
  }
  return [...signers];
}

/**
 * Verify a signed manifest and decide whether to accept it. Throws
 * {@linkcode UntrustedManifestError} (with a `reason` code) when the signatures do not reach the
 * threshold, a rotation is not signed by both key sets, the serial is lower than (or equal to,
 * with other content) the one accepted before, or the manifest has expired. Returns the record to
 * store once the caller accepts it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, signDocument, writeKeyPair } from "../publish/signing.ts";
 * const signer = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * import { parseManifest } from "./manifest.ts";
 * const bytes = new TextEncoder().encode(JSON.stringify({
 *   schema: 1, channel: "stable", version: "1.1.0", serial: 7,
 *   released_at: "2026-11-20T10:00:00Z", expires: "2026-12-20T10:00:00Z",
 *   artifacts: { "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" } },
 * }));
 * const signature = new TextEncoder().encode(await signDocument(bytes, [signer]));
 * const url = "https://updates.ms11.com/stable/manifest.json";
 * const options = {
 *   url,
 *   signatureUrl: `${url}.sig`,
 *   channel: "stable",
 *   manifest: parseManifest(bytes, { url }),
 *   pinned: { threshold: 1, keys: [signer.publicKey] },
 *   trusted: null,
 *   startedAt: new Date("2026-11-27T00:00:00Z"),
 * };
 * import { verifyManifest } from "./verify.ts";
 * const record = await verifyManifest(bytes, signature, options);
 * assert.deepEqual(record, {
 *   serial: 7,
 *   sha256: record.sha256,
 *   version: "1.1.0",
 *   expires: "2026-12-20T10:00:00Z",
 *   accepted_at: "2026-11-27T00:00:00.000Z",
 *   keys: null,
 *   pinned: null,
 * });
 * const later = { ...record, serial: 8 }; // a newer manifest was accepted before: this is a rollback
 * await assert.rejects(verifyManifest(bytes, signature, { ...options, trusted: later }), { reason: "rollback" });
 * const frozen = { ...options, startedAt: new Date("2027-01-01T00:00:00Z") };
 * await assert.rejects(verifyManifest(bytes, signature, frozen), { reason: "expired" });
 * ```
 */
export async function verifyManifest(
  bytes: Uint8Array,
  signatureFile: Uint8Array,
  options: VerifyManifestOptions,
): Promise<TrustedRecord> {
  const { url, manifest, channel, trusted } = options;
  const served = { serial: manifest.serial, version: manifest.version };
  const refuse = (reason: string, message: string): never => {
    throw new UntrustedManifestError(url, reason, message, served);
  };
  if (signatureFile.length > MAX_SIGNATURE_BYTES) {
    refuse(
      "signature-oversize",
      `Signature file ${options.signatureUrl} is ${signatureFile.length} bytes, more than the ${MAX_SIGNATURE_BYTES} allowed`,
    );
  }
  let signatures: { keyid: string; sig: Uint8Array }[] = [];
  try {
    signatures = parseSignatures(signatureFile, options.signatureUrl);
  } catch (error) {
    refuse("signature-malformed", (error as Error).message);
  }
  const keys = currentKeys(options.pinned, trusted);
  const signers = await validSigners(bytes, signatures, keys);
  if (signers.length < keys.threshold) {
    const known = new Set(keys.keys.map(keyId));
    // Key ids come from the unsigned signature file: escaped, and cut short when absurdly long.
    const unknown = [...new Set(signatures.map((s) => s.keyid).filter((id) => !known.has(id)))]
      .map((id) => escapeText(id.length > 64 ? `${id.slice(0, 61)}...` : id));
    refuse(
      "signature-threshold",
      `Manifest ${url} has ${signers.length} valid signature${
        signers.length === 1 ? "" : "s"
      } from the keys trusted for ${channel}, ${keys.threshold} required${
        unknown.length > 0 ? ` (signed by unknown keys ${unknown.join(", ")})` : ""
      }`,
    );
  }
  if (manifest.serial === null) {
    refuse("no-serial", `Manifest ${url} is signed but has no serial (rollback protection)`);
  }
  if (manifest.expires === null) {
    refuse("no-expiry", `Manifest ${url} is signed but has no expires (freeze protection)`);
  }
  const serial = manifest.serial as number;
  const sha256 = sha256Hex(bytes);
  if (trusted !== null) {
    if (serial < trusted.serial) {
      refuse(
        "rollback",
        `Manifest ${url} has serial ${serial}, lower than serial ${trusted.serial} (${trusted.version}) already accepted on ${channel}; refusing a rollback`,
      );
    }
    if (serial === trusted.serial && sha256 !== trusted.sha256) {
      refuse(
        "serial-reused",
        `Manifest ${url} has serial ${serial}, already accepted on ${channel} with other content; refusing it`,
      );
    }
  }
  const expires = new Date(manifest.expires as string);
  if (expires.getTime() <= options.startedAt.getTime()) {
    refuse(
      "expired",
      `Manifest ${url} expired at ${manifest.expires}, ${
        staleness(expires, options.startedAt)
      } before this run started (${options.startedAt.toISOString()})`,
    );
  }
  // The same manifest again: nothing new to remember.
  if (trusted !== null && serial === trusted.serial) return { ...trusted };
  let rotated = trusted?.keys != null && keys !== options.pinned ? keys : null;
  const next = manifest.next_keys;
  if (next !== null && !sameKeys(next, keys)) {
    const newSigners = await validSigners(bytes, signatures, next);
    if (newSigners.length < next.threshold) {
      refuse(
        "rotation-unsigned",
        `Manifest ${url} announces new keys for ${channel} but has ${newSigners.length} valid signature${
          newSigners.length === 1 ? "" : "s"
        } from them, ${next.threshold} required`,
      );
    }
    rotated = next;
  }
  return {
    serial,
    sha256,
    version: manifest.version,
    expires: manifest.expires as string,
    accepted_at: options.startedAt.toISOString(),
    keys: rotated,
    pinned: rotated === null ? null : options.pinned.keys.map(keyId),
  };
}

function sameKeys(a: KeySet, b: KeySet): boolean {
  const ids = (s: KeySet) => [...new Set(s.keys.map(keyId))].sort().join(",");
  return a.threshold === b.threshold && ids(a) === ids(b);
}
