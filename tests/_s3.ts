// Helpers of the tests that publish to the real store (tests/_swift.ts): a client of its bucket,
// what a prefix holds, and what a client fetching a channel from a base URL sees, checked with
// the client's own verification (lib/trust/).
import { ObjectStore, type ObjectStoreOptions } from "../lib/publish/object_store.ts";
import { type KeySet, parseManifest } from "../lib/trust/manifest.ts";
import { verifyManifest } from "../lib/trust/verify.ts";
import type { SwiftStore } from "./_swift.ts";

/** A client of `bucket` on `swift`, as the owner. */
export function storeOf(
  swift: SwiftStore,
  bucket: string,
  options: Partial<ObjectStoreOptions> = {},
): ObjectStore {
  return new ObjectStore(bucket, {
    credentials: {
      accessKeyId: swift.accessKeyId,
      secretAccessKey: swift.secretAccessKey,
      sessionToken: null,
    },
    region: swift.region,
    endpoint: swift.endpoint,
    ...options,
  });
}

/** Every object under `prefix` as `key -> "size etag"`, to compare before and after. */
export async function listing(store: ObjectStore, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of await store.list(prefix)) out[o.key] = `${o.size} ${o.etag}`;
  return out;
}

/** What a client sees of a channel at one moment. */
export interface ClientView {
  version: string;
  serial: number | null;
  /** Cache-Control of the manifest. */
  cacheControl: string | null;
}

/** Options of {@linkcode clientView}. */
export interface ClientViewOptions {
  /** The keys the client pins. */
  pinned: KeySet;
  /** Its platform. */
  platform: string;
  /** Where the signature file is fetched (default: the manifest's base): another cache node. */
  signatureBase?: string;
}

/**
 * Fetch `<base>/manifest.json`, then `<base>/manifest.json.sig`, as today's clients do, verify
 * the pair with lib/trust/verify.ts against the pinned keys, then check that the platform's artifact is
 * served with its declared size. Throws saying what is torn.
 */
export async function clientView(
  base: string,
  options: ClientViewOptions,
): Promise<ClientView> {
  const { pinned, platform } = options;
  const url = `${base}/manifest.json`;
  const sigUrl = `${options.signatureBase ?? base}/manifest.json.sig`;
  const got = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (got.status !== 200) throw new Error(`${url} answered ${got.status}`);
  const bytes = new Uint8Array(await got.arrayBuffer());
  const sig = await fetch(sigUrl, { signal: AbortSignal.timeout(10_000) });
  if (sig.status !== 200) throw new Error(`${sigUrl} answered ${sig.status}`);
  const signature = new Uint8Array(await sig.arrayBuffer());
  const manifest = parseManifest(bytes, { url, channel: "stable" });
  await verifyManifest(bytes, signature, {
    url,
    signatureUrl: sigUrl,
    channel: "stable",
    manifest,
    pinned,
    trusted: null,
    startedAt: new Date(),
  });
  const artifact = manifest.artifacts[platform];
  const head = await fetch(artifact.url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
  await head.body?.cancel();
  if (head.status !== 200 || Number(head.headers.get("content-length")) !== artifact.size) {
    throw new Error(
      `Artifact ${artifact.url} of ${manifest.version} answered ${head.status} with ${
        head.headers.get("content-length")
      } bytes, ${artifact.size} declared`,
    );
  }
  return {
    version: manifest.version,
    serial: manifest.serial,
    cacheControl: got.headers.get("cache-control"),
  };
}
