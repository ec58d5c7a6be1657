/**
 * The publisher's half of the Ed25519 keys (Web Crypto): generating a key pair, the private key
 * file (mode 0600), loading it, and signing the exact bytes of a document into the detached
 * signature file (`manifest.json.sig`, see docs/MANIFEST.md). Clients never load this module:
 * verifying is lib/trust/keys.ts.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { removeIfExists, writeFileAtomic } from "../core/fs.ts";
import { decodeBase64, isPublicKey, PUBLIC_KEY_PREFIX } from "../core/keyset.ts";
import { keyId, type SignatureEntry, verifyBytes } from "../trust/keys.ts";
import { SIGNATURES_DIR } from "./_tree.ts";

/** What a private key file says it is. */
const PRIVATE_KIND = "ms11-update-signing-key";

/**
 * A loaded private key, ready to sign.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, type SigningKey, writeKeyPair } from "./signing.ts";
 * const written = await writeKeyPair(await Deno.makeTempDir());
 * const key: SigningKey = await readSigningKey(written.privatePath);
 * assert.deepEqual([key.keyid, key.publicKey], [written.keyid, written.publicKey]);
 * assert.equal(key.privateKey.extractable, false);
 * ```
 */
export interface SigningKey {
  /** Its key id. */
  keyid: string;
  /** Its public key in configuration form (`ed25519:…`). */
  publicKey: string;
  /** The Web Crypto private key. */
  privateKey: CryptoKey;
}

/**
 * A new key pair, as files hold it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyId } from "../trust/keys.ts";
 * import { generateKeyPair, type KeyPair } from "./signing.ts";
 * const pair: KeyPair = await generateKeyPair();
 * assert.equal(pair.keyid, keyId(pair.publicKey));
 * assert.equal(JSON.parse(pair.privateKeyFile).public_key, pair.publicKey);
 * ```
 */
export interface KeyPair {
  /** The public key in configuration form. */
  publicKey: string;
  /** Its key id. */
  keyid: string;
  /** The private key file's content (JSON; keep it secret). */
  privateKeyFile: string;
}

/**
 * Generate an Ed25519 key pair.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPublicKey } from "../trust/keys.ts";
 * import { generateKeyPair } from "./signing.ts";
 * const pair = await generateKeyPair();
 * assert.ok(isPublicKey(pair.publicKey));
 * assert.notEqual((await generateKeyPair()).publicKey, pair.publicKey);
 * ```
 */
export async function generateKeyPair(): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = PUBLIC_KEY_PREFIX + raw.toBase64();
  const keyid = keyId(publicKey);
  const privateKeyFile = JSON.stringify(
    { kind: PRIVATE_KIND, keyid, public_key: publicKey, pkcs8: pkcs8.toBase64() },
    null,
    2,
  ) + "\n";
  return { publicKey, keyid, privateKeyFile };
}

/**
 * Where {@linkcode writeKeyPair} wrote.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type WrittenKeyPair, writeKeyPair } from "./signing.ts";
 * const dir = await Deno.makeTempDir();
 * const written: WrittenKeyPair = await writeKeyPair(dir);
 * assert.equal(written.publicPath, `${dir}/ms11-update.pub`);
 * assert.equal(await Deno.readTextFile(written.publicPath), `${written.publicKey}\n`);
 * ```
 */
export interface WrittenKeyPair {
  /** The private key file (mode 0600). */
  privatePath: string;
  /** The public key file (one line: the key in configuration form). */
  publicPath: string;
  /** The public key. */
  publicKey: string;
  /** Its key id. */
  keyid: string;
}

/**
 * Options of {@linkcode writeKeyPair}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeKeyPair, type WriteKeyPairOptions } from "./signing.ts";
 * const dir = await Deno.makeTempDir();
 * const options: WriteKeyPairOptions = { name: "canary-2026" };
 * const written = await writeKeyPair(dir, options);
 * assert.deepEqual([written.privatePath, written.publicPath], [`${dir}/canary-2026.key`, `${dir}/canary-2026.pub`]);
 * ```
 */
export interface WriteKeyPairOptions {
  /** File name stem (default `ms11-update`): `<stem>.key` and `<stem>.pub`. */
  name?: string;
}

/**
 * Generate a key pair into `dir`: `<name>.key` (private, mode 0600) and `<name>.pub`. Existing
 * files are never overwritten (`Deno.errors.AlreadyExists`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeKeyPair } from "./signing.ts";
 * const dir = await Deno.makeTempDir();
 * const written = await writeKeyPair(dir);
 * assert.equal((await Deno.stat(written.privatePath)).mode! & 0o777, 0o600);
 * await assert.rejects(writeKeyPair(dir), {
 *   name: "AlreadyExists",
 *   message: `Key file ${dir}/ms11-update.key already exists; not overwriting it`,
 * });
 * ```
 */
export async function writeKeyPair(
  dir: string,
  options: WriteKeyPairOptions = {},
): Promise<WrittenKeyPair> {
  const name = options.name ?? "ms11-update";
  const privatePath = `${dir}/${name}.key`;
  const publicPath = `${dir}/${name}.pub`;
  await Deno.mkdir(dir, { recursive: true });
  for (const path of [privatePath, publicPath]) {
    if (await Deno.lstat(path).then(() => true, () => false)) {
      throw new Deno.errors.AlreadyExists(`Key file ${path} already exists; not overwriting it`);
    }
  }
  const pair = await generateKeyPair();
  await writeFileAtomic(privatePath, pair.privateKeyFile, { mode: 0o600 });
  await Deno.chmod(privatePath, 0o600);
  await writeFileAtomic(publicPath, pair.publicKey + "\n");
  return { privatePath, publicPath, publicKey: pair.publicKey, keyid: pair.keyid };
}

/**
 * Load a private key file written by {@linkcode writeKeyPair}. A key file that other users may
 * read or write is refused (`TypeError`), as ssh refuses one; so is the public key file, saying
 * that it is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSigningKey, writeKeyPair } from "./signing.ts";
 * const written = await writeKeyPair(await Deno.makeTempDir());
 * assert.equal((await readSigningKey(written.privatePath)).keyid, written.keyid);
 * await Deno.chmod(written.privatePath, 0o644);
 * await assert.rejects(readSigningKey(written.privatePath), {
 *   name: "TypeError",
 *   message: `Key file ${written.privatePath} is accessible by other users (mode 0644); chmod 600 it`,
 * });
 * await assert.rejects(readSigningKey(written.publicPath), {
 *   name: "TypeError",
 *   message: `Key file ${written.publicPath} holds a public key (${written.keyid}), not a private one: sign with the private key file keygen wrote beside it (.key, mode 0600)`,
 * });
 * ```
 */
export async function readSigningKey(path: string): Promise<SigningKey> {
  const info = await Deno.stat(path);
  if (info.isFile && info.size <= 1024) {
    // The public half, passed by mistake: say so, before anything about its mode.
    const text = (await Deno.readTextFile(path)).trim();
    if (isPublicKey(text)) {
      throw new TypeError(
        `Key file ${path} holds a public key (${
          keyId(text)
        }), not a private one: sign with the private key file keygen wrote beside it (.key, mode 0600)`,
      );
    }
  }
  const mode = info.mode;
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new TypeError(
      `Key file ${path} is accessible by other users (mode ${
        (mode & 0o777).toString(8).padStart(4, "0")
      }); chmod 600 it`,
    );
  }
  const text = await Deno.readTextFile(path);
  let doc: Record<string, unknown> | null = null;
  try {
    doc = JSON.parse(text);
  } catch {
    // reported below
  }
  const pkcs8 = typeof doc?.pkcs8 === "string" ? decodeBase64(doc.pkcs8) : null;
  if (doc?.kind !== PRIVATE_KIND || pkcs8 === null || !isPublicKey(doc.public_key)) {
    throw new TypeError(`Key file ${path} is not an ms11-update private key`);
  }
  const publicKey = doc.public_key as string;
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as BufferSource,
      { name: "Ed25519" },
      false,
      [
        "sign",
      ],
    );
  } catch {
    throw new TypeError(`Key file ${path} is not an ms11-update private key`);
  }
  // The public key written beside the private one must be its own.
  const probe = new TextEncoder().encode("ms11-update key check");
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, probe));
  if (!(await verifyBytes(publicKey, probe, sig))) {
    throw new TypeError(`Key file ${path}: its public_key does not match its private key`);
  }
  return { keyid: keyId(publicKey), publicKey, privateKey };
}

/**
 * Sign the exact bytes of a document with each key; the result is the signature file's content
 * (a JSON list of `{keyid, sig}`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSignatures, verifyBytes } from "../trust/keys.ts";
 * import { readSigningKey, signDocument, writeKeyPair } from "./signing.ts";
 * const key = await readSigningKey((await writeKeyPair(await Deno.makeTempDir())).privatePath);
 * const bytes = new TextEncoder().encode("{}");
 * const file = await signDocument(bytes, [key]);
 * const [entry] = parseSignatures(file, "manifest.json.sig");
 * assert.equal(entry.keyid, key.keyid);
 * assert.equal(await verifyBytes(key.publicKey, bytes, entry.sig), true);
 * ```
 */
export async function signDocument(
  bytes: Uint8Array,
  keys: readonly SigningKey[],
): Promise<string> {
  const entries: SignatureEntry[] = [];
  for (const key of keys) {
    const sig = new Uint8Array(
      await crypto.subtle.sign("Ed25519", key.privateKey, bytes as BufferSource),
    );
    entries.push({ keyid: key.keyid, sig: sig.toBase64() });
  }
  return JSON.stringify(entries, null, 2) + "\n";
}

/**
 * Write a release tree's manifest and its signatures, so that a client reading it never pairs
 * the manifest with signatures of another (docs/MANIFEST.md, "The release tree"): first
 * `signatures/<sha256 of the bytes>.sig` beside the manifest (the manifest-addressed file a
 * client reads for a manifest it has just fetched, and the one it needs to go on with an accepted
 * manifest when a mirror is behind; it never changes, older ones stay), then `<manifest>.sig`,
 * and only then the manifest itself, each written atomically. `<manifest>.sig` carries the new
 * signatures only: a body kept after a `304` that is no longer the tree's manifest must fail
 * against it (two manifests can share nginx's ETag). With no key the manifest is written
 * unsigned: any old `<manifest>.sig` is removed first, so that it cannot pair with the new bytes.
 * Resolves to the signature file's path, or null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { parseSignatures } from "../trust/keys.ts";
 * import { readSigningKey, writeKeyPair, writeSignedManifest } from "./signing.ts";
 * const dir = await Deno.makeTempDir();
 * const key = await readSigningKey((await writeKeyPair(dir)).privatePath);
 * const bytes = new TextEncoder().encode("{}\n");
 * const sig = await writeSignedManifest(`${dir}/manifest.json`, bytes, [key]);
 * assert.equal(sig, `${dir}/manifest.json.sig`);
 * assert.equal(parseSignatures(await Deno.readTextFile(sig), "sig")[0].keyid, key.keyid);
 * const sha = createHash("sha256").update(bytes).digest("hex");
 * assert.equal(await Deno.readTextFile(`${dir}/signatures/${sha}.sig`), await Deno.readTextFile(sig));
 * assert.equal(await writeSignedManifest(`${dir}/manifest.json`, bytes, []), null);
 * await assert.rejects(Deno.stat(`${dir}/manifest.json.sig`), Deno.errors.NotFound);
 * ```
 */
export async function writeSignedManifest(
  manifestPath: string,
  bytes: Uint8Array,
  keys: readonly SigningKey[],
): Promise<string | null> {
  const signaturePath = `${manifestPath}.sig`;
  if (keys.length === 0) {
    await removeIfExists(signaturePath);
    await writeFileAtomic(manifestPath, bytes);
    return null;
  }
  const signature = await signDocument(bytes, keys);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const folder = manifestPath.replace(/[^/]*$/, "") || "./";
  await Deno.mkdir(`${folder}${SIGNATURES_DIR}`, { recursive: true });
  await writeFileAtomic(`${folder}${SIGNATURES_DIR}/${sha256}.sig`, signature);
  await writeFileAtomic(signaturePath, signature);
  await writeFileAtomic(manifestPath, bytes);
  return signaturePath;
}
