// Private to lib/publish/upload.ts: what a release tree holds, hashed, and checked as a client
// would check it before any byte leaves the machine.
import { createHash } from "node:crypto";
import { parseSignatures } from "../trust/keys.ts";
import { type Manifest, MAX_MANIFEST_BYTES, parseManifest } from "../trust/manifest.ts";
import { MAX_SIGNATURE_BYTES } from "../trust/verify.ts";

const CHANNEL = /^[a-z][a-z0-9_-]{0,31}$/;
/**
 * The folder of each channel that holds the manifest-addressed signature files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SIGNATURES_DIR } from "./_tree.ts";
 * assert.equal(`stable/${SIGNATURES_DIR}/${"0".repeat(64)}.sig`, `stable/signatures/${"0".repeat(64)}.sig`);
 * ```
 */
export const SIGNATURES_DIR = "signatures";

/**
 * One immutable file of the tree (an artifact, or anything else under a version folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { md5Of, sha256Hex, type TreeFile } from "./_tree.ts";
 * const bytes = new TextEncoder().encode("#!/bin/sh\necho 1.0.0\n");
 * const file: TreeFile = {
 *   path: "/srv/releases/stable/1.0.0/ms11",
 *   key: "stable/1.0.0/ms11",
 *   size: bytes.length,
 *   sha256: sha256Hex(bytes),
 *   ...md5Of(bytes),
 * };
 * assert.equal(file.md5, btoa(String.fromCharCode(...file.md5Hex.match(/../g)!.map((h) => parseInt(h, 16)))));
 * ```
 */
export interface TreeFile {
  /** Its path on disk. */
  path: string;
  /** Its key below the prefix: `<channel>/<version>/<name>`. */
  key: string;
  size: number;
  /** Lowercase hex. */
  sha256: string;
  /** Base64 (Content-MD5). */
  md5: string;
  /** Lowercase hex (a plain PUT's ETag). */
  md5Hex: string;
}

/**
 * One channel's signed metadata.
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
 * import { scanTree, sha256Hex, type TreeChannel } from "./_tree.ts";
 * const [stable]: TreeChannel[] = (await scanTree(`${work}/tree`)).channels;
 * assert.equal(stable.parsed.version, "1.0.0");
 * assert.equal(stable.sha256, sha256Hex(stable.manifest));
 * assert.equal(stable.signature, null); // published without keys
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export interface TreeChannel {
  channel: string;
  /** The exact bytes of `manifest.json`. */
  manifest: Uint8Array;
  parsed: Manifest;
  /** SHA-256 of `manifest`, lowercase hex. */
  sha256: string;
  /** The bytes of `manifest.json.sig`, or null for an unsigned channel. */
  signature: Uint8Array | null;
}

/**
 * A scanned tree.
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
 * import { scanTree, type Tree } from "./_tree.ts";
 * const tree: Tree = await scanTree(`${work}/tree`);
 * assert.deepEqual(tree.channels.map((c) => c.channel), ["stable"]);
 * assert.deepEqual(tree.files.map((f) => f.key), ["stable/1.0.0/ms11"]);
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export interface Tree {
  channels: TreeChannel[];
  files: TreeFile[];
}

/**
 * Scan `tree`: every `<channel>/manifest.json` (parsed strictly, with its signature file checked
 * for form) and every other regular file of the channel folder, hashed. Dot files (temporary
 * files of an interrupted `release`) are skipped; symbolic links are refused. Every artifact a
 * manifest names inside its channel must be in the tree with the declared size and SHA-256.
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
 * import { scanTree } from "./_tree.ts";
 * const { files } = await scanTree(`${work}/tree`);
 * assert.deepEqual(files.map((f) => [f.key, f.size]), [["stable/1.0.0/ms11", 21]]);
 * // An artifact changed after `release` is refused before anything is uploaded.
 * await Deno.writeTextFile(`${work}/tree/stable/1.0.0/ms11`, "#!/bin/sh\necho 6.6.6\n");
 * await assert.rejects(scanTree(`${work}/tree`), /^Error: Artifact .*ms11 \(linux-x64\) has 21 bytes and sha256 [0-9a-f]{64}; the manifest says 21 bytes and [0-9a-f]{64}$/);
 * await Deno.remove(work, { recursive: true });
 * ```
 */
export async function scanTree(tree: string, signal?: AbortSignal): Promise<Tree> {
  const channels: TreeChannel[] = [];
  const files: TreeFile[] = [];
  const names = (await Array.fromAsync(Deno.readDir(tree)))
    .filter((e) => e.isDirectory && CHANNEL.test(e.name)).map((e) => e.name).sort();
  for (const channel of names) {
    const dir = `${tree}/${channel}`;
    const manifestPath = `${dir}/manifest.json`;
    const manifest = await Deno.readFile(manifestPath).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    });
    if (manifest === null) continue;
    if (manifest.length > MAX_MANIFEST_BYTES) {
      throw new RangeError(
        `Manifest ${manifestPath} is ${manifest.length} bytes, more than the ${MAX_MANIFEST_BYTES} clients accept`,
      );
    }
    const parsed = parseManifest(manifest, { url: placeholder(channel), channel });
    const signature = await Deno.readFile(`${manifestPath}.sig`).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    });
    if (signature !== null) {
      if (signature.length > MAX_SIGNATURE_BYTES) {
        throw new RangeError(
          `Signature file ${manifestPath}.sig is ${signature.length} bytes, more than the ${MAX_SIGNATURE_BYTES} clients accept`,
        );
      }
      parseSignatures(signature, `${manifestPath}.sig`);
    }
    channels.push({ channel, manifest, parsed, sha256: sha256Hex(manifest), signature });
    for (const rel of await walk(dir, "")) {
      if (rel === "manifest.json" || rel === "manifest.json.sig") continue;
      // `release` writes them for static hosts (the manifest.json.sig of each manifest it wrote,
      // byte for byte); publish writes the store's own from manifest.json.sig.
      if (rel.startsWith(`${SIGNATURES_DIR}/`)) continue;
      signal?.throwIfAborted();
      files.push({
        path: `${dir}/${rel}`,
        key: `${channel}/${rel}`,
        ...await hashBoth(`${dir}/${rel}`),
      });
    }
  }
  const byKey = new Map(files.map((f) => [f.key, f]));
  for (const c of channels) {
    const base = placeholder(c.channel).replace(/manifest\.json$/, "");
    for (const [platform, artifact] of Object.entries(c.parsed.artifacts)) {
      if (!artifact.url.startsWith(base)) continue; // hosted elsewhere
      const key = `${c.channel}/${decodeURIComponent(artifact.url.slice(base.length))}`;
      const file = byKey.get(key);
      if (file === undefined) {
        throw new Error(
          `Manifest ${tree}/${c.channel}/manifest.json names ${key} (${platform}), which is not in the tree`,
        );
      }
      if (file.size !== artifact.size || file.sha256 !== artifact.sha256) {
        throw new Error(
          `Artifact ${file.path} (${platform}) has ${file.size} bytes and sha256 ${file.sha256}; the manifest says ${artifact.size} bytes and ${artifact.sha256}`,
        );
      }
      for (const delta of artifact.deltas ?? []) {
        if (!delta.url.startsWith(base)) continue; // hosted elsewhere
        const key = `${c.channel}/${decodeURIComponent(delta.url.slice(base.length))}`;
        const found = byKey.get(key);
        const what = `the delta ${key} (${platform}, from ${delta.from})`;
        if (found === undefined) {
          throw new Error(
            `Manifest ${tree}/${c.channel}/manifest.json names ${what}, which is not in the tree`,
          );
        }
        if (found.size !== delta.size || found.sha256 !== delta.sha256) {
          throw new Error(
            `Delta ${found.path} (${platform}, from ${delta.from}) has ${found.size} bytes and sha256 ${found.sha256}; the manifest says ${delta.size} bytes and ${delta.sha256}`,
          );
        }
      }
    }
  }
  return { channels, files };
}

/** The stand-in URL relative artifact URLs are resolved against. */
function placeholder(channel: string): string {
  return `https://release.invalid/${channel}/manifest.json`;
}

/** Regular files under `dir`/`rel`, as `/`-separated paths, sorted; dot files skipped. */
async function walk(dir: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  const here = rel === "" ? dir : `${dir}/${rel}`;
  const entries = (await Array.fromAsync(Deno.readDir(here))).sort((a, b) =>
    a.name < b.name ? -1 : 1
  );
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.isSymlink) {
      throw new TypeError(
        `Release tree file ${dir}/${path} is a symbolic link; publish copies only regular files`,
      );
    }
    if (entry.isDirectory) out.push(...await walk(dir, path));
    else if (entry.isFile) out.push(path);
  }
  return out;
}

/** SHA-256 and MD5 of a file in one streamed pass. */
async function hashBoth(
  path: string,
): Promise<{ size: number; sha256: string; md5: string; md5Hex: string }> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(1 << 20);
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      sha.update(buffer.subarray(0, n));
      md5.update(buffer.subarray(0, n));
      size += n;
    }
  } finally {
    file.close();
  }
  const digest = md5.digest();
  return {
    size,
    sha256: sha.digest("hex"),
    md5: digest.toString("base64"),
    md5Hex: digest.toString("hex"),
  };
}

/**
 * SHA-256 of bytes, lowercase hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha256Hex } from "./_tree.ts";
 * assert.equal(sha256Hex(new TextEncoder().encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * MD5 of bytes: base64 and hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { md5Of } from "./_tree.ts";
 * assert.deepEqual(md5Of(new TextEncoder().encode("abc")), {
 *   md5: "kAFQmDzST7DWlj99KOF/cg==",
 *   md5Hex: "900150983cd24fb0d6963f7d28e17f72",
 * });
 * ```
 */
export function md5Of(bytes: Uint8Array): { md5: string; md5Hex: string } {
  const digest = createHash("md5").update(bytes).digest();
  return { md5: digest.toString("base64"), md5Hex: digest.toString("hex") };
}
