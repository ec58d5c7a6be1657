/**
 * What a publication to an object store must write, decided before anything is written (the
 * planning half of `upload.ts`): which immutable files the store lacks (and refusing one it
 * holds with other bytes), each channel's signature files and manifest, the wait a replaced
 * manifest's signature file needs, and the refusal of a manifest that would go back.
 *
 * @module
 */
import { parseManifest } from "../trust/manifest.ts";
import type { ListedObject, ObjectInfo, ObjectStore } from "./object_store.ts";
import { channelSignatureFile } from "./_signatures.ts";
import { md5Of, sha256Hex, SIGNATURES_DIR, type TreeChannel, type TreeFile } from "./_tree.ts";
import type { Body } from "./_s3_http.ts";

/**
 * `Cache-Control` of immutable files: a year, never revalidated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IMMUTABLE_CACHE_CONTROL } from "./upload.ts";
 * assert.equal(IMMUTABLE_CACHE_CONTROL, "public, max-age=31536000, immutable");
 * ```
 */
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

/** Most bytes read of a stored manifest or signature file (clients take far less). */
const MAX_STORED_METADATA_BYTES = 1 << 20;

/**
 * Default lifetime of the manifest and its signature file in caches, in seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_METADATA_MAX_AGE, metadataCacheControl } from "./upload.ts";
 * assert.equal(metadataCacheControl(DEFAULT_METADATA_MAX_AGE), "public, max-age=60");
 * ```
 */
export const DEFAULT_METADATA_MAX_AGE = 60;

/**
 * `Cache-Control` of a channel's manifest and signature file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metadataCacheControl } from "./upload.ts";
 * assert.equal(metadataCacheControl(60), "public, max-age=60");
 * ```
 */
export function metadataCacheControl(maxAgeSeconds: number): string {
  return `public, max-age=${maxAgeSeconds}`;
}

/**
 * What an object is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UploadKind } from "./upload.ts";
 * // In upload order: artifacts, addressed signatures, the channel's signature file, the manifest.
 * const order: UploadKind[] = ["file", "signature", "channel-signature", "manifest"];
 * assert.equal(order.at(-1), "manifest");
 * ```
 */
export type UploadKind = "file" | "signature" | "channel-signature" | "manifest";

/**
 * What publishing does to it: `create` (missing), `update` (other bytes), `metadata` (same bytes,
 * other Cache-Control) or `unchanged`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UploadChange } from "./upload.ts";
 * const changes: UploadChange[] = ["create", "update", "metadata", "unchanged"];
 * assert.deepEqual(changes.filter((c) => c !== "unchanged"), ["create", "update", "metadata"]); // written
 * ```
 */
export type UploadChange = "create" | "update" | "metadata" | "unchanged";

/**
 * One object of the publication.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UploadAction } from "./upload.ts";
 * const action: UploadAction = {
 *   key: "ms11/stable/1.0.0/ms11",
 *   kind: "file",
 *   change: "create",
 *   size: 21,
 *   sha256: "0".repeat(64),
 * };
 * assert.equal(action.change, "create");
 * ```
 */
export interface UploadAction {
  /** Its key in the bucket. */
  key: string;
  kind: UploadKind;
  change: UploadChange;
  /** Its size in bytes. */
  size: number;
  /** Its SHA-256, lowercase hex. */
  sha256: string;
}

/**
 * A planned object with its body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Planned } from "./_upload_plan.ts";
 * const bytes = new TextEncoder().encode("{}");
 * const planned: Planned = {
 *   action: { key: "stable/manifest.json", kind: "manifest", change: "create", size: 2, sha256: "0".repeat(64) },
 *   notBefore: 0, body: bytes, md5: "mZFLkyvTelC5g8XnyQrpOw==", md5Hex: "99914b932bd37a50b983c5e7c90ae93b",
 *   cacheControl: "public, max-age=60", contentType: "application/json",
 * };
 * assert.equal(planned.action.change, "create");
 * ```
 */
export interface Planned {
  action: UploadAction;
  /**
   * Not before this time (local clock, ms): an object rewritten within the second of its previous
   * version would keep its `Last-Modified`, and caches revalidating with If-Modified-Since would
   * keep the old bytes (Swift answers 304 then even when If-None-Match differs).
   */
  notBefore: number;
  body: Body;
  md5: string;
  md5Hex: string;
  cacheControl: string;
  contentType: string;
}

/**
 * One channel whose manifest replaces another: the wait its signature file needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Settle } from "./_upload_plan.ts";
 * const settle: Settle = { key: "stable/manifest.json.sig", maxAgeSeconds: 60 };
 * assert.equal(settle.maxAgeSeconds * 1000, 60_000); // the longest a cache may hold the old one
 * ```
 */
export interface Settle {
  key: string;
  maxAgeSeconds: number;
}

/**
 * What one channel needs: its manifest, and where it is signed, its two signature files and the
 * wait before the manifest may replace the store's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ChannelPlan } from "./_upload_plan.ts";
 * const unsigned = (plan: ChannelPlan) => plan.signature === null && plan.channelSignature === null;
 * assert.equal(typeof unsigned, "function");
 * ```
 */
export interface ChannelPlan {
  signature: Planned | null;
  channelSignature: Planned | null;
  manifest: Planned;
  settle: Settle | null;
}

/**
 * Plan one channel of a tree: its manifest (refused when it would take the store's back), its
 * signature file addressed by the manifest's hash, its `manifest.json.sig` carrying the old
 * manifest's signatures too, and the wait that needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * import { scanTree } from "./_tree.ts";
 * import { planChannel } from "./_upload_plan.ts";
 * import { ObjectStore } from "./object_store.ts";
 * // Nothing is listed, so nothing is asked of the store (no server behind this endpoint).
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: "http://127.0.0.1:9",
 * });
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho 1.0.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: `${work}/ms11`,
 * });
 * const [channel] = (await scanTree(`${work}/tree`)).channels;
 * const plan = await planChannel(channel, { store, base: "ms11/stable", listed: new Map(), maxAge: 60 });
 * assert.deepEqual(plan.manifest.action.key, "ms11/stable/manifest.json");
 * assert.equal(plan.manifest.action.change, "create");
 * assert.equal(plan.manifest.cacheControl, "public, max-age=60");
 * assert.equal(plan.signature, null); // published unsigned
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function planChannel(
  local: TreeChannel,
  options: { store: ObjectStore; base: string; listed: Map<string, ListedObject>; maxAge: number },
): Promise<ChannelPlan> {
  const { store, base } = options;
  const cacheControl = metadataCacheControl(options.maxAge);
  const manifestKey = `${base}/manifest.json`;
  const sigKey = `${manifestKey}.sig`;
  const stored = options.listed.has(manifestKey)
    ? await store.get(manifestKey, { maxBytes: MAX_STORED_METADATA_BYTES })
    : null;
  const storedSha = stored === null ? null : sha256Hex(stored.bytes);
  if (stored !== null && storedSha !== local.sha256) {
    refuseGoingBack(local, { store, key: manifestKey, stored: stored.bytes });
  }
  const manifest = planBytes(manifestKey, {
    kind: "manifest",
    bytes: local.manifest,
    stored,
    cacheControl,
  });
  if (local.signature === null) {
    return { signature: null, channelSignature: null, manifest, settle: null };
  }
  // Immutable and named by the manifest's hash: the listing's size and MD5 tell if it is there.
  const addressedKey = `${base}/${SIGNATURES_DIR}/${local.sha256}.sig`;
  const signature = planBytes(addressedKey, {
    kind: "signature",
    bytes: local.signature,
    stored: null,
    cacheControl: IMMUTABLE_CACHE_CONTROL,
  });
  const there = options.listed.get(addressedKey);
  if (there !== undefined) {
    signature.action.change =
      there.size === local.signature.length && there.etag === signature.md5Hex
        ? "unchanged"
        : "update";
  }
  const storedSig = options.listed.has(sigKey)
    ? await store.get(sigKey, { maxBytes: MAX_STORED_METADATA_BYTES })
    : null;
  const wanted = channelSignatureFile(local.signature, local.sha256, {
    bytes: storedSig?.bytes ?? null,
    manifestSha256: storedSha,
  });
  const channelSignature = planBytes(sigKey, {
    kind: "channel-signature",
    bytes: wanted,
    stored: storedSig,
    cacheControl,
  });
  // A manifest replaces another: caches must first drop signature files that lack its own.
  const settle = stored !== null && storedSha !== local.sha256 && storedSig !== null
    ? {
      key: sigKey,
      maxAgeSeconds: Math.max(options.maxAge, maxAgeOf(storedSig.info.cacheControl) ?? 0),
    }
    : null;
  return { signature, channelSignature, manifest, settle };
}

/** An object given whole as bytes, compared with what the store holds (null: nothing). */
function planBytes(
  key: string,
  options: {
    kind: UploadKind;
    bytes: Uint8Array;
    stored: { bytes: Uint8Array; info: ObjectInfo } | null;
    cacheControl: string;
  },
): Planned {
  const { kind, bytes, stored, cacheControl } = options;
  const sha256 = sha256Hex(bytes);
  const change: UploadChange = stored === null
    ? "create"
    : sha256Hex(stored.bytes) !== sha256
    ? "update"
    : stored.info.cacheControl !== cacheControl
    ? "metadata"
    : "unchanged";
  // The store's clock must pass the previous version's Last-Modified second (see Planned).
  const age = stored?.info.ageSeconds ?? 1;
  return {
    action: { key, kind, change, size: bytes.length, sha256 },
    notBefore: age >= 1 ? 0 : Date.now() + (1 - age) * 1000,
    body: bytes,
    ...md5Of(bytes),
    cacheControl,
    contentType: "application/json",
  };
}

/** Throw when the tree's manifest would take the channel back (clients would refuse it). */
function refuseGoingBack(
  local: TreeChannel,
  options: { store: ObjectStore; key: string; stored: Uint8Array },
): void {
  const { store, key, stored } = options;
  let storedSerial: number | null = null;
  let storedVersion = "?";
  try {
    const parsed = parseManifest(stored, {
      url: `https://release.invalid/${local.channel}/manifest.json`,
      channel: local.channel,
    });
    storedSerial = parsed.serial;
    storedVersion = parsed.version;
  } catch {
    return; // a damaged manifest in the store: replacing it can only help
  }
  const serial = local.parsed.serial;
  if (serial === null || storedSerial === null || serial > storedSerial) return;
  throw new Error(
    `Refusing to publish ${
      store.describe(key)
    } with serial ${serial} (${local.parsed.version}): the store has serial ${storedSerial} (${storedVersion})${
      serial === storedSerial ? " with other content" : ""
    }, and clients refuse a manifest that goes back`,
  );
}

/** The SHA-256 and size of a stored object: its `sha256` metadata, else its bytes hashed. */
async function remoteDigest(
  store: ObjectStore,
  key: string,
): Promise<{ sha256: string; size: number } | null> {
  const info = await store.head(key);
  if (info === null) return null;
  const claimed = info.metadata.sha256;
  if (claimed !== undefined && /^[0-9a-f]{64}$/.test(claimed)) {
    return { sha256: claimed, size: info.size };
  }
  return await store.hash(key);
}

/** The larger of `max-age` and `s-maxage` in a Cache-Control value, or null. */
function maxAgeOf(cacheControl: string | null): number | null {
  const ages = [...(cacheControl ?? "").matchAll(/(?:^|,)\s*(?:max-age|s-maxage)\s*=\s*"?(\d+)/gi)]
    .map((m) => Number(m[1]));
  return ages.length === 0 ? null : Math.max(...ages);
}

/**
 * Plan the immutable files of a tree: each one the store lacks is created, one it holds with the
 * same bytes is left; one it holds with other bytes stops everything before anything is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planFiles } from "./_upload_plan.ts";
 * import { ObjectStore } from "./object_store.ts";
 * // Nothing is listed, so nothing is asked of the store (no server behind this endpoint).
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: "http://127.0.0.1:9",
 * });
 * import { md5Of } from "./_tree.ts";
 * const bytes = new TextEncoder().encode("MS11");
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, bytes);
 * const file = { key: "stable/1.0.0/ms11", path, size: 4, sha256: "a".repeat(64), ...md5Of(bytes) };
 * const [planned] = await planFiles([file], { store, prefix: "ms11/", listed: new Map() });
 * assert.deepEqual(planned.action, {
 *   key: "ms11/stable/1.0.0/ms11", kind: "file", change: "create", size: 4, sha256: "a".repeat(64),
 * });
 * assert.equal(planned.cacheControl, "public, max-age=31536000, immutable");
 * ```
 */
export async function planFiles(
  scanned: TreeFile[],
  options: { store: ObjectStore; prefix: string; listed: Map<string, ListedObject> },
): Promise<Planned[]> {
  const { store, prefix, listed } = options;
  const files: Planned[] = [];
  const conflicts: string[] = [];
  for (const file of scanned) {
    const key = prefix + file.key;
    const there = listed.get(key);
    let change: UploadChange = "create";
    if (there !== undefined) {
      const same = there.size === file.size && there.etag === file.md5Hex;
      const remote = same ? null : await remoteDigest(store, key);
      if (same || (remote !== null && remote.sha256 === file.sha256 && remote.size === file.size)) {
        change = "unchanged";
      } else if (remote === null) {
        change = "create"; // deleted since the listing
      } else {
        conflicts.push(
          `Refusing to overwrite ${
            store.describe(key)
          }: the store has sha256 ${remote.sha256} (${remote.size} bytes), the tree has sha256 ${file.sha256} (${file.size} bytes); a published file never changes, publish the new build under a new version`,
        );
      }
    }
    files.push({
      action: { key, kind: "file", change, size: file.size, sha256: file.sha256 },
      notBefore: 0,
      body: { path: file.path, size: file.size },
      md5: file.md5,
      md5Hex: file.md5Hex,
      cacheControl: IMMUTABLE_CACHE_CONTROL,
      contentType: "application/octet-stream",
    });
  }
  if (conflicts.length > 0) {
    throw new Error(
      conflicts[0] + (conflicts.length > 1 ? ` (and ${conflicts.length - 1} more)` : ""),
    );
  }
  return files;
}
