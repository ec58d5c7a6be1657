// Private to lib/publish/upload.ts: the channel's signature file `manifest.json.sig` as an
// object store holds it during and between publications (docs/DEPLOYMENT.md, "Consistency of
// manifest and signature").
//
// Today's clients fetch `manifest.json` and then `manifest.json.sig` in two requests, each of which
// a CDN may answer from its cache. So the stored signature file carries the signatures of the
// new manifest first, then those of the manifests it replaces: the one in the store when the
// publication began and the one before it. A client's verification (lib/trust/verify.ts) tries
// every entry with a pinned key's id and ignores fields it does not know, so whichever of these
// manifests it read, the file verifies it. Each entry is tagged `manifest_sha256` (the SHA-256 of
// the exact manifest bytes it signs) so that the next publication knows what to keep.
import { MAX_SIGNATURE_BYTES } from "../trust/verify.ts";

/**
 * Manifests besides the new one whose signatures the stored file keeps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KEPT_GENERATIONS } from "./_signatures.ts";
 * assert.equal(KEPT_GENERATIONS, 2); // the manifest being replaced, and the one before it
 * ```
 */
export const KEPT_GENERATIONS = 2;

/** One entry as stored. */
interface Entry {
  keyid: string;
  sig: string;
  manifest_sha256: string;
}

/**
 * What the store holds now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StoredSignatures } from "./_signatures.ts";
 * const empty: StoredSignatures = { bytes: null, manifestSha256: null }; // a first publication
 * assert.equal(empty.bytes, null);
 * ```
 */
export interface StoredSignatures {
  /** The stored `manifest.json.sig`, or null. */
  bytes: Uint8Array | null;
  /** SHA-256 of the stored `manifest.json`, or null when there is none. */
  manifestSha256: string | null;
}

/**
 * The signature file to store beside the manifest whose SHA-256 is `manifestSha256`, signed by
 * `local` (the release tree's `manifest.json.sig`, already checked by parseSignatures). Returns
 * the stored bytes themselves when they already carry every local signature of this manifest
 * (nothing to upload).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { channelSignatureFile } from "./_signatures.ts";
 * const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
 * const [oldSha, newSha] = ["a".repeat(64), "b".repeat(64)];
 * const local = encode([{ keyid: "k1", sig: "new" }]);
 * const stored = { bytes: encode([{ keyid: "k1", sig: "old" }]), manifestSha256: oldSha };
 * const file = channelSignatureFile(local, newSha, stored);
 * assert.deepEqual(JSON.parse(new TextDecoder().decode(file)), [
 *   { keyid: "k1", sig: "new", manifest_sha256: newSha },
 *   { keyid: "k1", sig: "old", manifest_sha256: oldSha },
 * ]);
 * // Once stored, it already carries the new signature: the same bytes, nothing to upload.
 * assert.equal(channelSignatureFile(local, newSha, { bytes: file, manifestSha256: newSha }), file);
 * ```
 */
export function channelSignatureFile(
  local: Uint8Array,
  manifestSha256: string,
  stored: StoredSignatures,
): Uint8Array {
  const fresh: Entry[] = (JSON.parse(new TextDecoder().decode(local)) as Entry[]).map((e) => ({
    keyid: e.keyid,
    sig: e.sig,
    manifest_sha256: manifestSha256,
  }));
  const old = storedEntries(stored);
  const has = (e: Entry) =>
    old.some((o) =>
      o.keyid === e.keyid && o.sig === e.sig && o.manifest_sha256 === e.manifest_sha256
    );
  if (stored.bytes !== null && fresh.every(has) && old[0]?.manifest_sha256 === manifestSha256) {
    return stored.bytes;
  }
  // Generations by first appearance, the manifest in the store first.
  const order: string[] = [];
  if (stored.manifestSha256 !== null && stored.manifestSha256 !== manifestSha256) {
    order.push(stored.manifestSha256);
  }
  for (const e of old) {
    if (e.manifest_sha256 !== manifestSha256 && !order.includes(e.manifest_sha256)) {
      order.push(e.manifest_sha256);
    }
  }
  let kept = order.slice(0, KEPT_GENERATIONS);
  while (true) {
    const entries = [...fresh, ...old.filter((e) => kept.includes(e.manifest_sha256))];
    const bytes = new TextEncoder().encode(JSON.stringify(entries, null, 2) + "\n");
    if (bytes.length <= MAX_SIGNATURE_BYTES || kept.length === 0) return bytes;
    kept = kept.slice(0, -1);
  }
}

/** The stored entries, each tagged; untagged ones sign the stored manifest. Lenient: a damaged
 * file counts as empty. */
function storedEntries(stored: StoredSignatures): Entry[] {
  if (stored.bytes === null) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(stored.bytes));
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const entries: Entry[] = [];
  for (const e of raw) {
    if (typeof e?.keyid !== "string" || typeof e?.sig !== "string") continue;
    const tag = typeof e.manifest_sha256 === "string" && /^[0-9a-f]{64}$/.test(e.manifest_sha256)
      ? e.manifest_sha256
      : stored.manifestSha256;
    if (tag !== null) entries.push({ keyid: e.keyid, sig: e.sig, manifest_sha256: tag });
  }
  return entries;
}
