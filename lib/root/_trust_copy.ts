/**
 * The trust files' document and one copy of it as found on disk: parsed defensively and checked
 * against the SHA-256 it stores over its content (`trust_state.ts` reads both copies, settles and
 * writes them).
 *
 * Light: no crypto import (Web Crypto's digest), no network code.
 *
 * @module
 */
import { type KeySet, parseKeySet } from "../core/keyset.ts";
import { isNonEmptyString as str, isObject, isSha256Hex } from "../core/validate.ts";
import type { TrustedRecord } from "../trust/verify.ts";

/**
 * The trust file schema this client reads and writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTrust, TRUST_SCHEMA } from "./_trust_copy.ts";
 * assert.equal(emptyTrust().schema, TRUST_SCHEMA);
 * ```
 */
export const TRUST_SCHEMA = 1;

/**
 * The channel name that stands for every channel in {@linkcode TrustDocument.blocked}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EVERY_CHANNEL } from "./_trust_copy.ts";
 * assert.equal(EVERY_CHANNEL, "*"); // no channel can be named so
 * ```
 */
export const EVERY_CHANNEL = "*";

/**
 * The trust document, as both copies hold it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTrust, type TrustDocument } from "./_trust_copy.ts";
 * const doc: TrustDocument = emptyTrust();
 * assert.deepEqual(doc, { schema: 1, generation: 0, channels: {}, blocked: {} });
 * ```
 */
export interface TrustDocument {
  /** {@linkcode TRUST_SCHEMA}. */
  schema: number;
  /** Rises at every write; the higher of two good copies wins. */
  generation: number;
  /** Per channel, the last manifest accepted. */
  channels: Record<string, TrustedRecord>;
  /**
   * Channels refused until `trust reset` (`*`: every channel), and why: their records were lost
   * while moving them from an old state file.
   */
  blocked: Record<string, string>;
}

/**
 * A trust document with nothing accepted yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyTrust } from "./_trust_copy.ts";
 * assert.equal(emptyTrust().generation, 0);
 * assert.notEqual(emptyTrust().channels, emptyTrust().channels);
 * ```
 */
export function emptyTrust(): TrustDocument {
  return { schema: TRUST_SCHEMA, generation: 0, channels: {}, blocked: {} };
}

/**
 * One copy as found on disk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Copy, readCopy } from "./_trust_copy.ts";
 * const copy: Copy = await readCopy(`${await Deno.makeTempDir()}/trust.json`);
 * assert.deepEqual(copy, { kind: "missing" });
 * ```
 */
export type Copy =
  | { kind: "missing" }
  | { kind: "bad"; why: string }
  | { kind: "good"; document: TrustDocument };

/**
 * The SHA-256 (hex) that a copy stores over its content.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { digestOf, emptyTrust } from "./_trust_copy.ts";
 * assert.match(await digestOf(emptyTrust()), /^[0-9a-f]{64}$/);
 * assert.notEqual(await digestOf({ ...emptyTrust(), generation: 1 }), await digestOf(emptyTrust()));
 * ```
 */
export async function digestOf(document: TrustDocument): Promise<string> {
  const text = JSON.stringify({
    schema: document.schema,
    generation: document.generation,
    channels: document.channels,
    blocked: document.blocked,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A trusted record's rotated key set: null for none, undefined when it is not a valid one. */
function keySetOf(value: unknown): KeySet | null | undefined {
  if (value === null) return null;
  try {
    return parseKeySet(value, "keys", () => {
      throw new TypeError("Invalid key set");
    });
  } catch {
    return undefined;
  }
}

/**
 * A trusted record checked field by field, or null when it does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTrustedRecord } from "./_trust_copy.ts";
 * const record = { serial: 3, sha256: "a".repeat(64), version: "1.1.0",
 *   expires: "2026-12-27T00:00:00Z", accepted_at: "2026-11-27T00:00:00Z", keys: null, pinned: null };
 * assert.deepEqual(parseTrustedRecord(record), record);
 * assert.equal(parseTrustedRecord({ ...record, serial: 0 }), null);
 * ```
 */
export function parseTrustedRecord(t: unknown): TrustedRecord | null {
  if (
    !isObject(t) || !Number.isSafeInteger(t.serial) || (t.serial as number) < 1 ||
    !isSha256Hex(t.sha256) || !str(t.version) ||
    !str(t.expires) || !str(t.accepted_at)
  ) return null;
  const keys = keySetOf(t.keys ?? null);
  const pinned = t.pinned ?? null;
  if (keys === undefined || (pinned !== null && !(Array.isArray(pinned) && pinned.every(str)))) {
    return null;
  }
  return {
    serial: t.serial as number,
    sha256: t.sha256,
    version: t.version,
    expires: t.expires,
    accepted_at: t.accepted_at,
    keys,
    pinned: pinned === null ? null : [...pinned] as string[],
  };
}

/**
 * Read one copy: missing, bad (and why), or good when it parses and its digest matches. A record
 * that cannot be read blocks its channel. A copy of a newer schema is a `RangeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCopy } from "./_trust_copy.ts";
 * const path = `${await Deno.makeTempDir()}/trust.json`;
 * await Deno.writeTextFile(path, "{ garbage");
 * assert.deepEqual(await readCopy(path), { kind: "bad", why: "not valid JSON" });
 * ```
 */
export async function readCopy(path: string): Promise<Copy> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
    return { kind: "bad", why: `cannot be read: ${(error as Error).message}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { kind: "bad", why: bytes.length === 0 ? "empty" : "not valid JSON" };
  }
  if (!isObject(raw)) return { kind: "bad", why: "not a JSON object" };
  if (!Number.isSafeInteger(raw.schema) || (raw.schema as number) < 1) {
    return { kind: "bad", why: "no valid schema" };
  }
  if ((raw.schema as number) > TRUST_SCHEMA) {
    throw new RangeError(
      `Trust file ${path} has schema ${raw.schema}, newer than this ms11-update understands (${TRUST_SCHEMA}); update ms11-update`,
    );
  }
  if (
    !Number.isSafeInteger(raw.generation) || (raw.generation as number) < 1 ||
    !isObject(raw.channels) || !isObject(raw.blocked) || !isSha256Hex(raw.sha256)
  ) {
    return { kind: "bad", why: "fields missing or malformed" };
  }
  const stored: TrustDocument = {
    schema: raw.schema as number,
    generation: raw.generation as number,
    channels: raw.channels as Record<string, TrustedRecord>,
    blocked: raw.blocked as Record<string, string>,
  };
  if (await digestOf(stored) !== raw.sha256) {
    return { kind: "bad", why: "its SHA-256 does not match its content" };
  }
  // The digest matched: this is what a client wrote. A record it cannot read blocks its channel.
  const document: TrustDocument = { ...emptyTrust(), generation: stored.generation };
  for (const [channel, why] of Object.entries(stored.blocked)) {
    document.blocked[channel] = typeof why === "string" ? why : "blocked";
  }
  for (const [channel, t] of Object.entries(stored.channels)) {
    const record = parseTrustedRecord(t);
    if (record !== null) document.channels[channel] = record;
    else document.blocked[channel] = `its record in ${path} cannot be read`;
  }
  return { kind: "good", document };
}

/**
 * One copy as said to people.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describe } from "./_trust_copy.ts";
 * assert.equal(describe("t.json", { kind: "bad", why: "empty" }), "t.json is damaged (empty)");
 * ```
 */
export function describe(path: string, copy: Copy): string {
  return copy.kind === "missing"
    ? `${path} is missing`
    : copy.kind === "bad"
    ? `${path} is damaged (${copy.why})`
    : `${path} is good`;
}
