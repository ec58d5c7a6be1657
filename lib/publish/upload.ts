/**
 * Publishing a release tree (made by `ms11-update release`) to an S3-compatible bucket behind a
 * CDN, so that no client, fetching at any moment, sees a torn publication (docs/DEPLOYMENT.md):
 *
 * 1. every immutable file (artifacts, anything under `<channel>/<version>/`) that the store
 *    lacks, each checked after upload; an existing one with other bytes is refused, never
 *    overwritten, before anything is written;
 * 2. each channel's signature file under a name derived from its manifest,
 *    `<channel>/signatures/<sha256 of manifest.json>.sig` (immutable: for clients that fetch
 *    the signature of the manifest they hold);
 * 3. each channel's `manifest.json.sig`, carrying the signatures of the new manifest and of the
 *    manifests it replaces (so that it verifies whichever of them a client or a cache holds);
 * 4. once caches can no longer hold a `manifest.json.sig` without the new signatures (its
 *    previous max-age has passed since step 3), each channel's `manifest.json`.
 *
 * A manifest or signature file is never rewritten within the second of its previous version's
 * Last-Modified, which caches revalidating with If-Modified-Since could not tell apart.
 *
 * Every PUT signs the SHA-256 of its body and sends its Content-MD5, so the store refuses bytes
 * that are not the tree's; a HEAD then checks size, ETag (the MD5) and the `sha256` metadata.
 * Re-running uploads only what is missing or differs (bytes or Cache-Control), so a publish
 * that crashed or was interrupted is completed by running it again; `dryRun` lists the changes
 * without writing. Nothing is ever deleted.
 *
 * @module
 */
import type { ObjectStore } from "./object_store.ts";
import { scanTree } from "./_tree.ts";
import { sleep } from "./_s3_http.ts";
import {
  DEFAULT_METADATA_MAX_AGE,
  planChannel,
  planFiles,
  type Planned,
  type Settle,
  type UploadAction,
} from "./_upload_plan.ts";

export {
  DEFAULT_METADATA_MAX_AGE,
  IMMUTABLE_CACHE_CONTROL,
  metadataCacheControl,
  type UploadAction,
  type UploadChange,
  type UploadKind,
} from "./_upload_plan.ts";

/**
 * Reported while publishing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UploadEvent } from "./upload.ts";
 * function describe(event: UploadEvent): string {
 *   return event.type === "uploaded"
 *     ? `uploaded ${event.action.key}`
 *     : `waiting ${event.ms / 1000} s for caches (max-age ${event.maxAgeSeconds})`;
 * }
 * assert.equal(describe({ type: "waiting", ms: 61_000, maxAgeSeconds: 60 }), "waiting 61 s for caches (max-age 60)");
 * ```
 */
export type UploadEvent =
  | { type: "uploaded"; action: UploadAction }
  | { type: "waiting"; ms: number; maxAgeSeconds: number };

/**
 * Options of {@linkcode uploadRelease}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ObjectStore } from "./object_store.ts";
 * import { uploadRelease, type UploadEvent, type UploadOptions } from "./upload.ts";
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: "http://127.0.0.1:9", // never reached: the options are refused first
 * });
 * const events: UploadEvent[] = [];
 * const options: UploadOptions = { store, prefix: "ms11/", metadataMaxAge: -1, onEvent: (e) => events.push(e) };
 * await assert.rejects(uploadRelease("./releases", options), {
 *   name: "RangeError",
 *   message: "Metadata max-age must be an integer >= 0 seconds, got -1",
 * });
 * assert.deepEqual(events, []);
 * ```
 */
export interface UploadOptions {
  /** The bucket. */
  store: ObjectStore;
  /** The key prefix: `""` or ending with `/` (see parseS3Url). */
  prefix?: string;
  /** List what would change; write nothing. */
  dryRun?: boolean;
  /** Seconds caches may keep a manifest and its signature file (default 60). */
  metadataMaxAge?: number;
  /** Aborts between and during requests. */
  signal?: AbortSignal;
  /** Receives each upload as it is checked, and the wait before the manifests. */
  onEvent?: (event: UploadEvent) => void;
}

/**
 * What {@linkcode uploadRelease} did (or would do, with `dryRun`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho 1.0.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: `${work}/ms11`,
 * });
 * import { ObjectStore } from "./object_store.ts";
 * import { uploadRelease, type UploadResult } from "./upload.ts";
 * // A stand-in store with an empty bucket; a dry run only lists it.
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"));
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: `http://127.0.0.1:${server.addr.port}`,
 * });
 * const result: UploadResult = await uploadRelease(`${work}/tree`, { store, prefix: "ms11/", dryRun: true });
 * assert.deepEqual(result.actions.map((a) => [a.key, a.kind, a.change]), [
 *   ["ms11/stable/1.0.0/ms11", "file", "create"],
 *   ["ms11/stable/manifest.json", "manifest", "create"],
 * ]);
 * assert.equal(result.changed, 2);
 * assert.equal(result.requests, 1);
 * assert.equal(result.waitMs, 0); // no manifest replaced: no cache to wait for
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export interface UploadResult {
  /** `s3://bucket/prefix`. */
  target: string;
  /** Every object of the tree's publication, in upload order, unchanged ones included. */
  actions: UploadAction[];
  /** Objects written (or to write). */
  changed: number;
  /** Bytes written (or to write). */
  bytes: number;
  /** Requests sent to the store. */
  requests: number;
  /** Time waited for caches before writing the manifests, in ms (dry run: the most it would). */
  waitMs: number;
  dryRun: boolean;
}

/**
 * Publish `tree` to `options.store` under `options.prefix`, in the order that keeps every
 * client's view whole (see the module documentation). Throws before writing anything when an
 * immutable file in the store has other bytes than the tree's, or when a manifest would go
 * back (a lower serial, or the same serial with other content, than the store's).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { publishRelease } from "./release.ts";
 * const work = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${work}/ms11`, "#!/bin/sh\necho 1.0.0\n");
 * await publishRelease(`${work}/tree`, {
 *   channel: "stable", version: "1.0.0", platform: "linux-x64", artifact: `${work}/ms11`,
 * });
 * import { createHash } from "node:crypto";
 * import { ObjectStore } from "./object_store.ts";
 * import { uploadRelease } from "./upload.ts";
 * // A stand-in store in memory: an empty listing, PUT keeps the object, GET and HEAD serve it.
 * const objects = new Map<string, { body: Uint8Array<ArrayBuffer>; headers: Record<string, string> }>();
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
 *   const key = decodeURIComponent(new URL(request.url).pathname.slice("/releases/".length));
 *   if (request.method === "PUT") {
 *     const body = new Uint8Array(await request.arrayBuffer());
 *     objects.set(key, { body, headers: {
 *       "content-length": String(body.length),
 *       etag: `"${createHash("md5").update(body).digest("hex")}"`,
 *       "cache-control": request.headers.get("cache-control") ?? "",
 *       "x-amz-meta-sha256": request.headers.get("x-amz-meta-sha256") ?? "",
 *     } });
 *     return new Response(null);
 *   }
 *   if (key === "") return new Response("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
 *   const object = objects.get(key);
 *   if (object === undefined) return new Response("<Error><Code>NoSuchKey</Code></Error>", { status: 404 });
 *   return new Response(request.method === "HEAD" ? null : object.body, { headers: object.headers });
 * });
 * const store = new ObjectStore("releases", {
 *   credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: null },
 *   region: "us-east-1",
 *   endpoint: `http://127.0.0.1:${server.addr.port}`,
 * });
 * const result = await uploadRelease(`${work}/tree`, { store, prefix: "ms11/" });
 * assert.equal(result.target, "s3://releases/ms11/");
 * assert.deepEqual([...objects.keys()], ["ms11/stable/1.0.0/ms11", "ms11/stable/manifest.json"]); // the manifest last
 * assert.equal(objects.get("ms11/stable/1.0.0/ms11")?.headers["cache-control"], "public, max-age=31536000, immutable");
 * assert.deepEqual([result.changed, result.requests], [2, 5]); // a listing, then a PUT and a checking HEAD each
 * assert.equal(new TextDecoder().decode(objects.get("ms11/stable/manifest.json")?.body), await Deno.readTextFile(`${work}/tree/stable/manifest.json`));
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function uploadRelease(tree: string, options: UploadOptions): Promise<UploadResult> {
  const { store, signal } = options;
  const prefix = options.prefix ?? "";
  const maxAge = options.metadataMaxAge ?? DEFAULT_METADATA_MAX_AGE;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
    throw new RangeError(`Metadata max-age must be an integer >= 0 seconds, got ${maxAge}`);
  }
  const startRequests = store.requests;
  const scanned = await scanTree(tree, signal);
  const listed = new Map((await store.list(prefix)).map((o) => [o.key, o]));

  // 1. Immutable files: missing ones are uploaded; one with other bytes stops everything.
  const files = await planFiles(scanned.files, { store, prefix, listed });

  // 2-4. Each channel's signed metadata.
  const signatures: Planned[] = [];
  const channelSignatures: Planned[] = [];
  const manifests: Planned[] = [];
  const settles: Settle[] = [];
  for (const channel of scanned.channels) {
    const plan = await planChannel(channel, {
      store,
      base: prefix + channel.channel,
      listed,
      maxAge,
    });
    if (plan.signature !== null) signatures.push(plan.signature);
    if (plan.channelSignature !== null) channelSignatures.push(plan.channelSignature);
    manifests.push(plan.manifest);
    if (plan.settle !== null) settles.push(plan.settle);
  }

  const ordered = [...files, ...signatures, ...channelSignatures, ...manifests];
  const changes = ordered.filter((p) => p.action.change !== "unchanged");
  const result: UploadResult = {
    target: store.describe(prefix),
    actions: ordered.map((p) => p.action),
    changed: changes.length,
    bytes: changes.reduce((sum, p) => sum + p.action.size, 0),
    requests: 0,
    waitMs: options.dryRun ? Math.max(0, ...settles.map((s) => s.maxAgeSeconds * 1000)) : 0,
    dryRun: options.dryRun ?? false,
  };
  if (options.dryRun) {
    result.requests = store.requests - startRequests;
    return result;
  }
  for (const p of [...files, ...signatures, ...channelSignatures]) {
    await upload(p, options);
  }
  // Caches may still hold a manifest.json.sig without the new signatures for its max-age.
  let waitMs = 0;
  for (const settle of settles) {
    const info = await store.head(settle.key);
    const age = info?.ageSeconds ?? 0;
    waitMs = Math.max(waitMs, Math.ceil((settle.maxAgeSeconds - age + 1) * 1000));
  }
  if (settles.length > 0 && waitMs > 0) {
    const maxAgeSeconds = Math.max(...settles.map((s) => s.maxAgeSeconds));
    options.onEvent?.({ type: "waiting", ms: waitMs, maxAgeSeconds });
    await sleep(waitMs, signal);
  }
  for (const p of manifests) await upload(p, options);
  result.waitMs = waitMs;
  result.requests = store.requests - startRequests;
  return result;
}

/** PUT one object and check what the store then holds. */
async function upload(p: Planned, options: UploadOptions): Promise<void> {
  const { store } = options;
  if (p.action.change === "unchanged") return;
  options.signal?.throwIfAborted();
  if (p.notBefore > Date.now()) await sleep(p.notBefore - Date.now(), options.signal);
  const { key, sha256, size } = p.action;
  await store.put(key, p.body, {
    sha256,
    md5: p.md5,
    cacheControl: p.cacheControl,
    contentType: p.contentType,
    metadata: { sha256 },
  });
  const info = await store.head(key);
  if (
    info === null || info.size !== size || info.etag !== p.md5Hex ||
    info.metadata.sha256 !== sha256 || info.cacheControl !== p.cacheControl
  ) {
    throw new Error(
      `Upload of ${store.describe(key)} did not verify: the store has ${
        info === null
          ? "no such object"
          : `${info.size} bytes, ETag ${info.etag}, sha256 ${
            info.metadata.sha256 ?? "none"
          }, Cache-Control ${info.cacheControl ?? "none"}`
      }; expected ${size} bytes, ETag ${p.md5Hex}, sha256 ${sha256}, Cache-Control ${p.cacheControl}`,
    );
  }
  options.onEvent?.({ type: "uploaded", action: p.action });
}
