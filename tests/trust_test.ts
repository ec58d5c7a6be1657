import assert from "node:assert/strict";
import { UntrustedManifestError } from "../lib/core/errors.ts";
import {
  readSigningKey,
  signDocument,
  type SigningKey,
  writeKeyPair,
} from "../lib/publish/signing.ts";
import { parseManifest } from "../lib/trust/manifest.ts";
import {
  currentKeys,
  MAX_SIGNATURE_BYTES,
  staleness,
  type TrustedRecord,
  validSigners,
  verifyManifest,
} from "../lib/trust/verify.ts";
import { rejectsWith, tempDir } from "./_helpers.ts";

const URL_ = "https://updates.ms11.com/stable/manifest.json";
const START = new Date("2026-11-27T12:00:00.000Z");

async function keys(n: number): Promise<SigningKey[]> {
  await using dir = await tempDir();
  const out: SigningKey[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await readSigningKey((await writeKeyPair(dir.path, { name: `k${i}` })).privatePath));
  }
  return out;
}

function manifestBytes(extra: Record<string, unknown> = {}): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    schema: 1,
    channel: "stable",
    version: "1.1.0",
    serial: 6,
    released_at: "2026-11-20T10:00:00Z",
    expires: "2026-12-20T10:00:00Z",
    artifacts: {
      "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" },
    },
    ...extra,
  }));
}

async function verify(
  bytes: Uint8Array,
  signers: SigningKey[],
  options: { pinned: SigningKey[]; threshold?: number; trusted?: TrustedRecord | null },
) {
  return verifyManifest(bytes, new TextEncoder().encode(await signDocument(bytes, signers)), {
    url: URL_,
    signatureUrl: `${URL_}.sig`,
    channel: "stable",
    manifest: parseManifest(bytes, { url: URL_ }),
    pinned: { threshold: options.threshold ?? 1, keys: options.pinned.map((k) => k.publicKey) },
    trusted: options.trusted ?? null,
    startedAt: START,
  });
}

Deno.test("staleness reads as days, hours and minutes, or seconds", () => {
  assert.equal(staleness(new Date(0), new Date(0)), "0s");
  assert.equal(staleness(new Date(0), new Date(59_000)), "59s");
  assert.equal(staleness(new Date(0), new Date(3 * 86400_000 + 4 * 3600_000)), "3d 4h");
  assert.equal(staleness(new Date(0), new Date(2 * 3600_000 + 5 * 60_000 + 7000)), "2h 5m");
});

Deno.test("verifyManifest accepts a threshold of distinct keys and returns the record to keep", async () => {
  const [a, b, c] = await keys(3);
  const bytes = manifestBytes();
  const record = await verify(bytes, [c, a], { pinned: [a, b, c], threshold: 2 });
  assert.deepEqual(record, {
    serial: 6,
    sha256: record.sha256,
    version: "1.1.0",
    expires: "2026-12-20T10:00:00Z",
    accepted_at: START.toISOString(),
    keys: null,
    pinned: null,
  });
  assert.match(record.sha256, /^[0-9a-f]{64}$/);
  // The same manifest again keeps the first record as it was.
  const again = await verify(bytes, [a, b], {
    pinned: [a, b, c],
    threshold: 2,
    trusted: { ...record, accepted_at: "2026-11-01T00:00:00.000Z" },
  });
  assert.equal(again.accepted_at, "2026-11-01T00:00:00.000Z");
});

Deno.test("validSigners counts each key once and ignores keys outside the set", async () => {
  const [a, b] = await keys(2);
  const bytes = manifestBytes();
  const sig = (await import("../lib/trust/keys.ts")).parseSignatures(
    await signDocument(bytes, [a, a, a, b]),
    "s",
  );
  assert.deepEqual(await validSigners(bytes, sig, { threshold: 1, keys: [a.publicKey] }), [
    a.keyid,
  ]);
  assert.deepEqual(
    (await validSigners(bytes, sig, { threshold: 2, keys: [a.publicKey, b.publicKey] })).sort(),
    [a.keyid, b.keyid].sort(),
  );
});

Deno.test("verifyManifest refuses an oversize signature file", async () => {
  const [a] = await keys(1);
  const bytes = manifestBytes();
  await rejectsWith(
    verifyManifest(bytes, new Uint8Array(MAX_SIGNATURE_BYTES + 1), {
      url: URL_,
      signatureUrl: `${URL_}.sig`,
      channel: "stable",
      manifest: parseManifest(bytes, { url: URL_ }),
      pinned: { threshold: 1, keys: [a.publicKey] },
      trusted: null,
      startedAt: START,
    }),
    UntrustedManifestError,
    `Signature file ${URL_}.sig is 16385 bytes, more than the 16384 allowed`,
  );
});

Deno.test("verifyManifest: rotation needs the old and the new threshold, then the new keys rule", async () => {
  const [a, b] = await keys(2);
  const next = { threshold: 1, keys: [b.publicKey] };
  const rotating = manifestBytes({ next_keys: next });
  const error = await rejectsWith(
    verify(rotating, [a], { pinned: [a] }),
    UntrustedManifestError,
    `Manifest ${URL_} announces new keys for stable but has 0 valid signatures from them, 1 required`,
  );
  assert.equal((error as UntrustedManifestError).reason, "rotation-unsigned");
  const record = await verify(rotating, [a, b], { pinned: [a] });
  assert.deepEqual(record.keys, next);
  assert.equal(record.pinned?.length, 1);
  assert.deepEqual(currentKeys({ threshold: 1, keys: [a.publicKey] }, record), next);
  // A new pinned set in the configuration overrides a rotation made from the old one.
  assert.deepEqual(currentKeys({ threshold: 1, keys: [b.publicKey] }, record), {
    threshold: 1,
    keys: [b.publicKey],
  });
  const later = manifestBytes({ serial: 7 });
  const kept = await verify(later, [b], { pinned: [a], trusted: record });
  assert.deepEqual(kept.keys, next);
  await rejectsWith(
    verify(later, [a], { pinned: [a], trusted: record }),
    UntrustedManifestError,
    `Manifest ${URL_} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${a.keyid})`,
  );
});

Deno.test("verifyManifest gives each refusal a reason code", async () => {
  const [a] = await keys(1);
  const trusted = await verify(manifestBytes({ serial: 8 }), [a], { pinned: [a] });
  const cases: [Uint8Array, string][] = [
    [manifestBytes({ serial: 7 }), "rollback"],
    [manifestBytes({ serial: 8, notes: "x" }), "serial-reused"],
    [manifestBytes({ serial: 9, expires: "2026-11-27T11:59:59Z" }), "expired"],
  ];
  for (const [bytes, reason] of cases) {
    const error = await verify(bytes, [a], { pinned: [a], trusted }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof UntrustedManifestError, reason);
    assert.equal(error.reason, reason);
  }
});
