// The manifest and its signatures are read as one consistent pair (lib/trust/fetch_manifest.ts):
// a body fetched now is verified with the signature file named by its SHA-256 when the server has
// one (object-storage publishing writes it, docs/DEPLOYMENT.md), else with manifest.json.sig; a
// body kept from an earlier check (a 304) only with the manifest.json.sig fetched now, and when
// that refuses it the manifest is fetched again without the condition.
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { testEnv } from "../lib/core/env.ts";
import { UntrustedManifestError } from "../lib/core/errors.ts";
import { signDocument } from "../lib/publish/signing.ts";
import { fetchManifestCached, signaturesUrl } from "../lib/trust/check.ts";
import { rejectsWith } from "./_helpers.ts";
import { makeKey } from "./_malicious_repo.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");

function manifest(version: string, serial: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      schema: 1,
      channel: "stable",
      version,
      serial,
      released_at: "2026-11-20T10:00:00Z",
      expires: "2026-12-20T10:00:00Z",
      artifacts: {
        "linux-x64": {
          url: `${version}/ms11`,
          size: 3,
          sha256: "a".repeat(64),
          kind: "executable",
        },
      },
    }) + "\n",
  );
}

/**
 * A static server of `files` (path → bytes) that, like nginx with two same-second, same-length
 * manifests, answers every conditional request for the manifest with 304.
 */
function server(files: Map<string, Uint8Array>) {
  const requests: string[] = [];
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    const conditional = request.headers.has("if-none-match");
    requests.push(`${conditional ? "if-none-match " : ""}${path}`);
    const body = files.get(path);
    if (body === undefined) return new Response("no", { status: 404 });
    if (conditional && path.endsWith("manifest.json")) {
      return new Response(null, { status: 304, headers: { etag: '"same"' } });
    }
    return new Response(body as BodyInit, { headers: { etag: '"same"' } });
  });
  return { http, requests, base: `http://127.0.0.1:${http.addr.port}/stable` };
}

async function scene() {
  const dir = await Deno.makeTempDir({ prefix: "ms11-pair-" });
  const key = await makeKey(dir, "publisher");
  const files = new Map<string, Uint8Array>();
  const s = server(files);
  const config = validateConfig({
    update_servers: { stable: { base_url: s.base, description: "S" } },
    max_retry_attempts: 1,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
    },
  });
  const sign = async (bytes: Uint8Array) =>
    new TextEncoder().encode(await signDocument(bytes, [key]));
  const url = `${s.base}/manifest.json`;
  const addressed = (bytes: Uint8Array) => new URL(signaturesUrl(url, bytes)).pathname;
  return {
    files,
    requests: s.requests,
    config,
    sign,
    url,
    addressed,
    env: testEnv(NOW),
    async [Symbol.asyncDispose]() {
      await s.http.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("signaturesUrl names the signature file by the manifest's SHA-256, beside it", () => {
  const bytes = new TextEncoder().encode("abc");
  assert.equal(
    signaturesUrl("https://cdn.example.com/ms11/stable/manifest.json", bytes),
    "https://cdn.example.com/ms11/stable/signatures/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.sig",
  );
});

Deno.test("a fresh manifest is verified with its manifest-addressed signatures: a torn pair is no refusal", async () => {
  await using s = await scene();
  const old = manifest("1.0.0", 1);
  const fresh = manifest("1.1.0", 2);
  // Mid-publication: the new manifest is there, manifest.json.sig is still the old one.
  s.files.set("/stable/manifest.json", fresh);
  s.files.set("/stable/manifest.json.sig", await s.sign(old));
  await rejectsWith(
    fetchManifestCached(s.config, "stable", { env: s.env }),
    UntrustedManifestError,
    `Manifest ${s.url} has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
  assert.deepEqual(s.requests.splice(0), [
    "/stable/manifest.json",
    s.addressed(fresh), // 404: a static host
    "/stable/manifest.json.sig",
  ]);
  // With the signature file named by the manifest (object-storage publishing), the pair holds.
  s.files.set(s.addressed(fresh), await s.sign(fresh));
  const got = await fetchManifestCached(s.config, "stable", { env: s.env });
  assert.deepEqual([got.manifest.version, got.trust?.serial], ["1.1.0", 2]);
  assert.deepEqual(s.requests.splice(0), ["/stable/manifest.json", s.addressed(fresh)]);
  // An addressed file that does not verify is a refusal naming it, not a fallback.
  s.files.set(s.addressed(fresh), await s.sign(old));
  await rejectsWith(
    fetchManifestCached(s.config, "stable", { env: s.env }),
    UntrustedManifestError,
    `Manifest ${s.url} has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
});

Deno.test("a kept body (304) is verified with manifest.json.sig only; refused, it is fetched again", async () => {
  await using s = await scene();
  const old = manifest("1.0.0", 1);
  const fresh = manifest("1.1.0", 2);
  s.files.set("/stable/manifest.json", old);
  s.files.set("/stable/manifest.json.sig", await s.sign(old));
  const first = await fetchManifestCached(s.config, "stable", { env: s.env });
  assert.equal(first.trust?.serial, 1);
  s.requests.splice(0);
  // A new manifest under the same validator; the old one's addressed signatures still exist.
  s.files.set(s.addressed(old), await s.sign(old));
  s.files.set("/stable/manifest.json", fresh);
  s.files.set("/stable/manifest.json.sig", await s.sign(fresh));
  const got = await fetchManifestCached(s.config, "stable", {
    env: s.env,
    cached: first.record,
    trusted: first.trust,
  });
  assert.deepEqual([got.manifest.version, got.notModified, got.trust?.serial], ["1.1.0", false, 2]);
  assert.equal(got.record.body, new TextDecoder().decode(fresh));
  assert.deepEqual(s.requests.splice(0), [
    "if-none-match /stable/manifest.json", // 304: the kept 1.0.0
    "/stable/manifest.json.sig", // signs 1.1.0 only: the kept body is stale
    "/stable/manifest.json", // again, unconditionally
    s.addressed(fresh),
    "/stable/manifest.json.sig",
  ]);
  assert.ok(!s.requests.includes(s.addressed(old)), "the kept body's own signatures are not asked");
  // When the kept body is the channel's manifest, the 304 is used as it is.
  const again = await fetchManifestCached(s.config, "stable", {
    env: s.env,
    cached: got.record,
    trusted: got.trust,
  });
  assert.deepEqual([again.notModified, again.manifest.version], [true, "1.1.0"]);
  assert.deepEqual(s.requests.splice(0), [
    "if-none-match /stable/manifest.json",
    "/stable/manifest.json.sig",
  ]);
});
