import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  isPublicKey,
  keyId,
  parseKeySet,
  parsePublicKey,
  parseSignatures,
  verifyBytes,
} from "../lib/trust/keys.ts";
import {
  generateKeyPair,
  readSigningKey,
  signDocument,
  writeKeyPair,
} from "../lib/publish/signing.ts";
import { rejectsWith, tempDir, throwsWith } from "./_helpers.ts";

const KEY = "ed25519:" + btoa("k".repeat(32));

Deno.test("parsePublicKey takes ed25519: and 32 base64 bytes, nothing else", () => {
  assert.deepEqual(parsePublicKey(KEY), new TextEncoder().encode("k".repeat(32)));
  for (const bad of ["k", "ed25519:", "ed25519:" + btoa("k".repeat(31)), "rsa:" + btoa("k"), 5]) {
    throwsWith(
      () => parsePublicKey(bad),
      TypeError,
      `Invalid public key ${
        JSON.stringify(bad)
      }: expected ed25519: followed by the base64 of 32 bytes`,
    );
    assert.equal(isPublicKey(bad), false);
  }
  assert.equal(isPublicKey(KEY), true);
});

Deno.test("a public key or signature has one base64 form: padded, no whitespace, stray bits or base64url", () => {
  const ones = "ed25519:" + new Uint8Array(32).fill(255).toBase64();
  assert.equal(ones, `ed25519:${"/".repeat(42)}8=`);
  assert.deepEqual(parsePublicKey(ones), new Uint8Array(32).fill(255));
  const text = KEY.slice("ed25519:".length);
  const refused = [
    `ed25519:${text.slice(0, -1)}`, // unpadded
    `ed25519: ${text}`,
    `ed25519:${text.slice(0, 20)}\n${text.slice(20)}`,
    `ed25519:${text}\n`,
    `ed25519:${"_".repeat(42)}8=`, // base64url
    // "…8=" with the two unused low bits of its last digit set: the same 32 bytes to a lax decoder.
    `ed25519:${"/".repeat(42)}9=`,
  ];
  for (const bad of refused) assert.equal(isPublicKey(bad), false, JSON.stringify(bad));
  const sig = (text: string) => JSON.stringify([{ keyid: "a", sig: text }]);
  const zeros = new Uint8Array(64).toBase64();
  assert.deepEqual(parseSignatures(sig(zeros), "s")[0].sig, new Uint8Array(64));
  for (const bad of [`${zeros.slice(0, -3)}B==`, zeros.slice(0, -2), ` ${zeros}`]) {
    throwsWith(
      () => parseSignatures(sig(bad), "s"),
      TypeError,
      "Signature file s: entry 0 must be {keyid, sig} with a base64 signature of 64 bytes",
    );
  }
});

Deno.test("keyId is the first 16 hex digits of the key's SHA-256", () => {
  const expected = createHash("sha256").update("k".repeat(32)).digest("hex").slice(0, 16);
  assert.equal(keyId(KEY), expected);
  assert.notEqual(keyId(KEY), keyId("ed25519:" + btoa("j".repeat(32))));
});

Deno.test("writeKeyPair writes a 0600 private key and the public key, never overwriting", async () => {
  await using dir = await tempDir();
  const written = await writeKeyPair(`${dir.path}/keys`);
  assert.equal(written.privatePath, `${dir.path}/keys/ms11-update.key`);
  assert.equal(written.publicPath, `${dir.path}/keys/ms11-update.pub`);
  assert.equal((await Deno.stat(written.privatePath)).mode! & 0o777, 0o600);
  assert.equal(await Deno.readTextFile(written.publicPath), `${written.publicKey}\n`);
  assert.equal(written.keyid, keyId(written.publicKey));
  const key = await readSigningKey(written.privatePath);
  assert.equal(key.publicKey, written.publicKey);
  const before = await Deno.readTextFile(written.privatePath);
  await rejectsWith(
    writeKeyPair(`${dir.path}/keys`),
    Deno.errors.AlreadyExists,
    `Key file ${dir.path}/keys/ms11-update.key already exists; not overwriting it`,
  );
  assert.equal(await Deno.readTextFile(written.privatePath), before);
});

Deno.test("readSigningKey refuses garbage and a key file whose public key is not its own", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/x.key`;
  await Deno.writeTextFile(path, "not json", { mode: 0o600 });
  await rejectsWith(
    readSigningKey(path),
    TypeError,
    `Key file ${path} is not an ms11-update private key`,
  );
  const a = JSON.parse((await generateKeyPair()).privateKeyFile);
  const b = await generateKeyPair();
  await Deno.writeTextFile(path, JSON.stringify({ ...a, public_key: b.publicKey }));
  await Deno.chmod(path, 0o600);
  await rejectsWith(
    readSigningKey(path),
    TypeError,
    `Key file ${path}: its public_key does not match its private key`,
  );
});

Deno.test("signDocument signs the exact bytes; one changed byte fails verification", async () => {
  await using dir = await tempDir();
  const key = await readSigningKey((await writeKeyPair(dir.path)).privatePath);
  const bytes = new TextEncoder().encode('{"version":"1.1.0"}\n');
  const [entry] = parseSignatures(await signDocument(bytes, [key]), "sig");
  assert.equal(entry.keyid, key.keyid);
  assert.equal(await verifyBytes(key.publicKey, bytes, entry.sig), true);
  const changed = bytes.slice();
  changed[2] ^= 1;
  assert.equal(await verifyBytes(key.publicKey, changed, entry.sig), false);
  // Whitespace is not normalised away: the signature covers bytes, not JSON meaning.
  const reformatted = new TextEncoder().encode('{ "version": "1.1.0" }\n');
  assert.equal(await verifyBytes(key.publicKey, reformatted, entry.sig), false);
  assert.equal(await verifyBytes(KEY, bytes, entry.sig), false);
});

Deno.test("parseSignatures is strict", () => {
  throwsWith(() => parseSignatures("{", "s"), SyntaxError, "Signature file s is not valid JSON");
  throwsWith(
    () => parseSignatures("{}", "s"),
    TypeError,
    "Signature file s must be a JSON list of {keyid, sig}",
  );
  throwsWith(
    () => parseSignatures('[{"keyid":"a","sig":"AAAA"}]', "s"),
    TypeError,
    "Signature file s: entry 0 must be {keyid, sig} with a base64 signature of 64 bytes",
  );
  throwsWith(
    () => parseSignatures(new Uint8Array([0xff]), "s"),
    SyntaxError,
    "Signature file s is not valid JSON",
  );
});

Deno.test("parseKeySet checks keys, duplicates and the threshold", () => {
  const fail = (f: string, e: string, v: unknown): never => {
    throw new TypeError(`${f} must be ${e}, got ${JSON.stringify(v)}`);
  };
  assert.deepEqual(parseKeySet({ threshold: 1, keys: [KEY] }, "k", fail), {
    threshold: 1,
    keys: [KEY],
  });
  throwsWith(
    () => parseKeySet(null, "k", fail),
    TypeError,
    "k must be an object {threshold, keys}, got null",
  );
  throwsWith(
    () => parseKeySet({ threshold: 0, keys: [KEY] }, "k", fail),
    TypeError,
    "k.threshold must be an integer from 1 to 1, got 0",
  );
  throwsWith(
    () => parseKeySet({ threshold: 1, keys: [KEY, KEY] }, "k", fail),
    TypeError,
    `k.keys[1] must be a key not listed before, got "${KEY}"`,
  );
});

Deno.test("readSigningKey refuses a key file other users can read", async () => {
  await using dir = await tempDir();
  const { privatePath } = await writeKeyPair(dir.path);
  await Deno.chmod(privatePath, 0o644);
  await rejectsWith(
    readSigningKey(privatePath),
    TypeError,
    `Key file ${privatePath} is accessible by other users (mode 0644); chmod 600 it`,
  );
});
