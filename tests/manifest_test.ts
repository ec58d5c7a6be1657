import assert from "node:assert/strict";
import {
  artifactFor,
  type Manifest,
  MANIFEST_SCHEMA,
  manifestUrl,
  MAX_MANIFEST_BYTES,
  parseManifest,
} from "../lib/trust/manifest.ts";
import { throwsWith } from "./_helpers.ts";

const URL_ = "https://updates.ms11.com/stable/manifest.json";
const SHA = "0123456789abcdef".repeat(4);

function doc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1,
    channel: "stable",
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    notes: "Faster start-up",
    artifacts: {
      "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: SHA, kind: "executable" },
      "darwin-arm64": {
        url: "https://cdn.ms11.com/stable/1.1.0/ms11-darwin.tar.gz",
        size: 1234,
        sha256: "f".repeat(64),
        kind: "tar.gz",
      },
    },
    ...extra,
  };
}

function withArtifact(fields: Record<string, unknown>): Record<string, unknown> {
  return doc({
    artifacts: {
      "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: SHA, kind: "executable", ...fields },
    },
  });
}

/** parseManifest(raw) must throw `cls` with `Manifest <url>: <message>`. */
function bad(raw: unknown, message: string, cls: ErrorConstructor = TypeError): void {
  throwsWith(
    () => parseManifest(typeof raw === "string" ? raw : JSON.stringify(raw), { url: URL_ }),
    cls,
    `Manifest ${URL_}: ${message}`,
  );
}

Deno.test("parseManifest parses a valid document and resolves relative artifact URLs", () => {
  const manifest = parseManifest(JSON.stringify(doc()), { url: URL_ });
  const expected: Manifest = {
    schema: 1,
    channel: "stable",
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    notes: "Faster start-up",
    artifacts: {
      "linux-x64": {
        url: "https://updates.ms11.com/stable/1.1.0/ms11",
        size: 3,
        sha256: SHA,
        kind: "executable",
      },
      "darwin-arm64": {
        url: "https://cdn.ms11.com/stable/1.1.0/ms11-darwin.tar.gz",
        size: 1234,
        sha256: "f".repeat(64),
        kind: "tar.gz",
      },
    },
    serial: null,
    expires: null,
    next_keys: null,
    updater: null, // a manifest without the field: no updater on offer
    rollout: null, // without the rollout fields: every install, nothing yanked, no minimum
    previous: null,
    yanked: [],
    minimum_version: null,
  };
  assert.deepEqual(manifest, expected);
  assert.equal(MANIFEST_SCHEMA, 1);
});

Deno.test("parseManifest accepts bytes as well as text", () => {
  const text = JSON.stringify(doc());
  assert.deepEqual(
    parseManifest(new TextEncoder().encode(text), { url: URL_ }),
    parseManifest(text, { url: URL_ }),
  );
  // A leading byte order mark is skipped either way; only one, and only at the start.
  const parsed = parseManifest(text, { url: URL_ });
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)]);
  assert.deepEqual(parseManifest(bom, { url: URL_ }), parsed);
  assert.deepEqual(parseManifest(`\uFEFF${text}`, { url: URL_ }), parsed);
  assert.throws(() => parseManifest(`\uFEFF\uFEFF${text}`, { url: URL_ }), SyntaxError);
});

Deno.test("parseManifest resolves other URL forms against the manifest URL", () => {
  const url = (u: string) =>
    parseManifest(JSON.stringify(withArtifact({ url: u })), { url: URL_ }).artifacts["linux-x64"]
      .url;
  assert.equal(url("../canary/1.2.0/ms11"), "https://updates.ms11.com/canary/1.2.0/ms11");
  assert.equal(url("/abs/ms11"), "https://updates.ms11.com/abs/ms11");
  assert.equal(url("//cdn.ms11.com/x/ms11"), "https://cdn.ms11.com/x/ms11");
  assert.equal(url("http://mirror.example/ms11"), "http://mirror.example/ms11");
  assert.equal(url("1.1.0/ms11 app"), "https://updates.ms11.com/stable/1.1.0/ms11%20app");
});

Deno.test("parseManifest: notes are optional, versions canonical, zip and empty files allowed", () => {
  const noNotes = doc({ version: "v1.2.0-canary.20261126.3+build.7" });
  delete noNotes.notes;
  const manifest = parseManifest(JSON.stringify(noNotes), { url: URL_ });
  assert.equal(manifest.notes, null);
  assert.equal(manifest.version, "1.2.0-canary.20261126.3");
  assert.equal(parseManifest(JSON.stringify(doc({ notes: null })), { url: URL_ }).notes, null);
  assert.equal(parseManifest(JSON.stringify(doc({ notes: "" })), { url: URL_ }).notes, "");
  const zip = parseManifest(JSON.stringify(withArtifact({ kind: "zip", size: 0 })), { url: URL_ });
  assert.deepEqual(zip.artifacts["linux-x64"], {
    url: "https://updates.ms11.com/stable/1.1.0/ms11",
    size: 0,
    sha256: SHA,
    kind: "zip",
  });
});

Deno.test("parseManifest ignores fields it does not know", () => {
  const raw = doc({ signature: "abc", serial: 7, expires_at: "2027-01-01T00:00:00Z" });
  (raw.artifacts as Record<string, Record<string, unknown>>)["linux-x64"].delta = { from: "1.0.0" };
  const manifest = parseManifest(JSON.stringify(raw), { url: URL_ });
  assert.deepEqual(Object.keys(manifest).sort(), [
    "artifacts",
    "channel",
    "expires",
    "minimum_version",
    "next_keys",
    "notes",
    "previous",
    "released_at",
    "rollout",
    "schema",
    "serial",
    "updater",
    "version",
    "yanked",
  ]);
  assert.equal(manifest.serial, 7);
  assert.deepEqual(Object.keys(manifest.artifacts["linux-x64"]).sort(), [
    "kind",
    "sha256",
    "size",
    "url",
  ]);
});

Deno.test("parseManifest checks the channel when one is requested", () => {
  assert.equal(
    parseManifest(JSON.stringify(doc()), { url: URL_, channel: "stable" }).channel,
    "stable",
  );
  throwsWith(
    () =>
      parseManifest(JSON.stringify(doc({ channel: "canary" })), { url: URL_, channel: "stable" }),
    TypeError,
    `Manifest ${URL_} is for channel "canary", not the requested "stable"`,
  );
});

Deno.test("parseManifest refuses a document that is not an object", () => {
  bad([], "the document must be a JSON object, got []");
  bad("null", "the document must be a JSON object, got null");
  bad('"manifest"', 'the document must be a JSON object, got "manifest"');
  bad("42", "the document must be a JSON object, got 42");
});

Deno.test("parseManifest checks schema", () => {
  const noSchema = doc();
  delete noSchema.schema;
  bad(noSchema, "schema must be a positive integer, got undefined");
  bad(doc({ schema: 0 }), "schema must be a positive integer, got 0");
  bad(doc({ schema: "1" }), 'schema must be a positive integer, got "1"');
  bad(doc({ schema: 1.5 }), "schema must be a positive integer, got 1.5");
  bad(doc({ schema: -1 }), "schema must be a positive integer, got -1");
  bad(
    doc({ schema: 2 }),
    "schema 2 is newer than this client understands (1); update ms11-update",
  );
});

Deno.test("parseManifest checks channel", () => {
  bad(doc({ channel: 5 }), "channel must be a channel name, got 5");
  bad(doc({ channel: "Stable" }), 'channel must be a channel name, got "Stable"');
  bad(doc({ channel: "" }), 'channel must be a channel name, got ""');
  bad(doc({ channel: "a".repeat(33) }), `channel must be a channel name, got "${"a".repeat(33)}"`);
});

Deno.test("parseManifest checks version", () => {
  bad(doc({ version: "1.5" }), 'version must be a semver version, got "1.5"');
  bad(doc({ version: "latest" }), 'version must be a semver version, got "latest"');
  bad(doc({ version: 1 }), "version must be a semver version, got 1");
  bad(doc({ version: null }), "version must be a semver version, got null");
});

Deno.test("parseManifest checks released_at", () => {
  const m = "released_at must be an ISO 8601 time such as 2026-11-20T10:00:00Z, got";
  bad(doc({ released_at: "2026-11-20" }), `${m} "2026-11-20"`);
  bad(doc({ released_at: "yesterday" }), `${m} "yesterday"`);
  bad(doc({ released_at: "2026-11-20 10:00:00Z" }), `${m} "2026-11-20 10:00:00Z"`);
  bad(doc({ released_at: "2026-11-20T10:00:00" }), `${m} "2026-11-20T10:00:00"`);
  bad(doc({ released_at: "2026-13-01T00:00:00Z" }), `${m} "2026-13-01T00:00:00Z"`);
  bad(doc({ released_at: 1764000000 }), `${m} 1764000000`);
  for (const ok of ["2026-11-20T10:00:00.123Z", "2026-11-20T10:00:00+01:00"]) {
    assert.equal(
      parseManifest(JSON.stringify(doc({ released_at: ok })), { url: URL_ }).released_at,
      ok,
    );
  }
});

Deno.test({
  name: "parseManifest refuses an impossible calendar date in released_at",
  fn() {
    bad(
      doc({ released_at: "2026-02-30T10:00:00Z" }),
      'released_at must be an ISO 8601 time such as 2026-11-20T10:00:00Z, got "2026-02-30T10:00:00Z"',
    );
  },
});

Deno.test("parseManifest checks notes", () => {
  bad(doc({ notes: 5 }), "notes must be a string, got 5");
  bad(doc({ notes: ["a"] }), 'notes must be a string, got ["a"]');
});

Deno.test("parseManifest checks artifacts", () => {
  const none = doc();
  delete none.artifacts;
  bad(none, "artifacts must be an object keyed by platform, got undefined");
  bad(doc({ artifacts: [] }), "artifacts must be an object keyed by platform, got []");
  bad(doc({ artifacts: {} }), "artifacts must be an object with at least one platform, got {}");
  bad(
    doc({ artifacts: { "Linux-x64": {} } }),
    'artifacts key must be a platform such as linux-x64, got "Linux-x64"',
  );
  bad(
    doc({ artifacts: { linux: {} } }),
    'artifacts key must be a platform such as linux-x64, got "linux"',
  );
  bad(
    doc({ artifacts: { "linux-x64": "1.1.0/ms11" } }),
    'artifacts.linux-x64 must be an object, got "1.1.0/ms11"',
  );
});

Deno.test("parseManifest checks each artifact's url", () => {
  const noUrl = withArtifact({});
  delete (noUrl.artifacts as Record<string, Record<string, unknown>>)["linux-x64"].url;
  bad(noUrl, "artifacts.linux-x64.url must be a URL, got undefined");
  bad(withArtifact({ url: "" }), 'artifacts.linux-x64.url must be a URL, got ""');
  bad(withArtifact({ url: 5 }), "artifacts.linux-x64.url must be a URL, got 5");
  bad(
    withArtifact({ url: "http://[bad" }),
    'artifacts.linux-x64.url must be a valid URL, got "http://[bad"',
  );
  bad(
    withArtifact({ url: "ftp://x.example/ms11" }),
    'artifacts.linux-x64.url must be an http(s) URL, got "ftp://x.example/ms11"',
  );
  bad(
    withArtifact({ url: "file:///etc/passwd" }),
    'artifacts.linux-x64.url must be an http(s) URL, got "file:///etc/passwd"',
  );
  bad(
    withArtifact({ url: "javascript:alert(1)" }),
    'artifacts.linux-x64.url must be an http(s) URL, got "javascript:alert(1)"',
  );
  bad(
    withArtifact({ url: "data:,hello" }),
    'artifacts.linux-x64.url must be an http(s) URL, got "data:,hello"',
  );
});

Deno.test("parseManifest checks each artifact's size, sha256 and kind", () => {
  const size = "artifacts.linux-x64.size must be a non-negative integer, got";
  bad(withArtifact({ size: -1 }), `${size} -1`);
  bad(withArtifact({ size: 1.5 }), `${size} 1.5`);
  bad(withArtifact({ size: "3" }), `${size} "3"`);
  bad(withArtifact({ size: null }), `${size} null`);
  bad(withArtifact({ size: 2 ** 53 }), `${size} 9007199254740992`);
  const sha = "artifacts.linux-x64.sha256 must be 64 lowercase hex digits, got";
  bad(withArtifact({ sha256: SHA.toUpperCase() }), `${sha} "${SHA.toUpperCase()}"`);
  bad(withArtifact({ sha256: SHA.slice(1) }), `${sha} "${SHA.slice(1)}"`);
  bad(
    withArtifact({ sha256: `sha256:${SHA.slice(0, 20)}` }),
    `${sha} "sha256:${SHA.slice(0, 20)}"`,
  );
  bad(withArtifact({ sha256: undefined }), `${sha} undefined`);
  const kind = "artifacts.linux-x64.kind must be one of executable, tar.gz, zip, got";
  bad(withArtifact({ kind: "rpm" }), `${kind} "rpm"`);
  bad(withArtifact({ kind: "directory" }), `${kind} "directory"`);
  bad(withArtifact({ kind: undefined }), `${kind} undefined`);
});

Deno.test("parseManifest refuses a document over 64 KiB, counting bytes not characters", () => {
  const base = JSON.stringify(doc({ notes: "" }));
  const pad = MAX_MANIFEST_BYTES - new TextEncoder().encode(base).length;
  // Exactly the limit is fine (trailing whitespace is valid JSON).
  const exact = base + " ".repeat(pad);
  assert.equal(parseManifest(exact, { url: URL_ }).version, "1.1.0");
  throwsWith(
    () => parseManifest(exact + " ", { url: URL_ }),
    RangeError,
    `Manifest ${URL_} is 65537 bytes, more than the 65536 allowed`,
  );
  throwsWith(
    () => parseManifest(new TextEncoder().encode(exact + "\n"), { url: URL_ }),
    RangeError,
    `Manifest ${URL_} is 65537 bytes, more than the 65536 allowed`,
  );
  // Multi-byte characters count as their UTF-8 bytes: fewer than 65536 characters, too many bytes.
  const notes = "é".repeat(33000);
  const wide = JSON.stringify(doc({ notes }));
  assert.ok(wide.length < MAX_MANIFEST_BYTES);
  throwsWith(
    () => parseManifest(wide, { url: URL_ }),
    RangeError,
    `Manifest ${URL_} is ${
      new TextEncoder().encode(wide).length
    } bytes, more than the 65536 allowed`,
  );
});

Deno.test("parseManifest refuses invalid JSON and trailing garbage", () => {
  const text = JSON.stringify(doc());
  const syntax = (t: string) =>
    throwsWith(
      () => parseManifest(t, { url: URL_ }),
      SyntaxError,
      new RegExp(`^Manifest ${URL_.replace(/[.\/]/g, "\\$&")} is not valid JSON: .+`),
    );
  syntax(text + "x");
  syntax(text + text);
  syntax(text + "\0");
  syntax(text.slice(0, -1));
  syntax("");
  syntax("<html>502 Bad Gateway</html>");
});

Deno.test("parseManifest refuses invalid UTF-8", () => {
  const bytes = new TextEncoder().encode(JSON.stringify(doc({ notes: "XX" })));
  const at = new TextDecoder().decode(bytes).indexOf("XX");
  bytes[at] = 0xff;
  bytes[at + 1] = 0xfe;
  throwsWith(
    () => parseManifest(bytes, { url: URL_ }),
    SyntaxError,
    `Manifest ${URL_} is not valid UTF-8`,
  );
  // A truncated multi-byte sequence too.
  const truncated = new Uint8Array([...new TextEncoder().encode('{"a":"'), 0xc3, 0x22, 0x7d]);
  throwsWith(
    () => parseManifest(truncated, { url: URL_ }),
    SyntaxError,
    `Manifest ${URL_} is not valid UTF-8`,
  );
});

Deno.test("artifactFor returns the platform's build or lists the platforms there are", () => {
  const manifest = parseManifest(JSON.stringify(doc()), { url: URL_ });
  assert.equal(artifactFor(manifest, "linux-x64"), manifest.artifacts["linux-x64"]);
  throwsWith(
    () => artifactFor(manifest, "windows-x64"),
    RangeError,
    "Release 1.1.0 on stable has no build for platform windows-x64 (it has linux-x64, darwin-arm64)",
  );
  const empty = { ...manifest, artifacts: {} };
  throwsWith(
    () => artifactFor(empty, "linux-x64"),
    RangeError,
    "Release 1.1.0 on stable has no build for platform linux-x64 (it has none)",
  );
});

Deno.test("manifestUrl appends manifest.json to the base URL", () => {
  assert.equal(
    manifestUrl("https://updates.ms11.com/stable"),
    "https://updates.ms11.com/stable/manifest.json",
  );
  assert.equal(
    manifestUrl("https://updates.ms11.com/stable///"),
    "https://updates.ms11.com/stable/manifest.json",
  );
  assert.equal(manifestUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080/manifest.json");
});

Deno.test("parseManifest reads serial, expires, next_keys and hashes, strictly", () => {
  const key = "ed25519:" + btoa("k".repeat(32));
  const manifest = parseManifest(
    JSON.stringify(doc({
      serial: 12,
      expires: "2026-12-20T10:00:00Z",
      next_keys: { threshold: 1, keys: [key] },
    })),
    { url: URL_ },
  );
  assert.equal(manifest.serial, 12);
  assert.equal(manifest.expires, "2026-12-20T10:00:00Z");
  assert.deepEqual(manifest.next_keys, { threshold: 1, keys: [key] });
  bad(doc({ serial: 0 }), "serial must be a positive integer, got 0");
  bad(doc({ serial: "7" }), 'serial must be a positive integer, got "7"');
  bad(
    doc({ expires: "2026-02-30T00:00:00Z" }),
    'expires must be an ISO 8601 time such as 2026-12-20T10:00:00Z, got "2026-02-30T00:00:00Z"',
  );
  bad(
    doc({ next_keys: { threshold: 1, keys: [] } }),
    "next_keys.keys must be a non-empty list of ed25519: public keys, got []",
  );
  bad(
    doc({ next_keys: { threshold: 2, keys: [key] } }),
    "next_keys.threshold must be an integer from 1 to 1, got 2",
  );
  // hashes: sha256 may come from hashes alone; unknown algorithms beside it are ignored.
  const viaHashes = parseManifest(
    JSON.stringify(withArtifact({ sha256: undefined, hashes: { sha256: SHA, blake3: "ab" } })),
    { url: URL_ },
  );
  assert.equal(viaHashes.artifacts["linux-x64"].sha256, SHA);
  bad(
    withArtifact({ sha256: undefined, hashes: { blake3: "ab" } }),
    "artifacts.linux-x64 has no hash this client can verify (it has blake3; this client verifies sha256)",
  );
  bad(
    withArtifact({ sha256: undefined, hashes: {} }),
    "artifacts.linux-x64 has no hash this client can verify (it has none; this client verifies sha256)",
  );
  bad(
    withArtifact({ hashes: [] }),
    "artifacts.linux-x64.hashes must be an object keyed by algorithm, got []",
  );
  bad(
    withArtifact({ hashes: { sha256: "XY" } }),
    'artifacts.linux-x64.hashes.sha256 must be lowercase hex digits, got "XY"',
  );
  bad(
    withArtifact({ hashes: { sha256: "f".repeat(64) } }),
    `artifacts.linux-x64.sha256 and artifacts.linux-x64.hashes.sha256 differ ("${SHA}", "${
      "f".repeat(64)
    }")`,
  );
});

Deno.test("parseManifest reads the optional updater field, checked like the artifacts", () => {
  const updater = {
    version: "v0.2.0",
    artifacts: {
      "linux-x64": { url: "updater/0.2.0/ms11-update", size: 9, sha256: SHA, kind: "executable" },
      bundle: {
        url: "https://cdn.ms11.com/u/ms11-update-0.2.0.zip",
        size: 7,
        hashes: { sha256: "f".repeat(64) },
        kind: "zip",
      },
    },
  };
  const manifest = parseManifest(JSON.stringify(doc({ updater })), { url: URL_ });
  assert.deepEqual(manifest.updater, {
    version: "0.2.0", // canonical
    artifacts: {
      "linux-x64": {
        url: "https://updates.ms11.com/stable/updater/0.2.0/ms11-update",
        size: 9,
        sha256: SHA,
        kind: "executable",
      },
      bundle: {
        url: "https://cdn.ms11.com/u/ms11-update-0.2.0.zip",
        size: 7,
        sha256: "f".repeat(64),
        kind: "zip",
      },
    },
  });
  // Absent or null: no updater on offer (old manifests, old publishers).
  assert.equal(parseManifest(JSON.stringify(doc()), { url: URL_ }).updater, null);
  assert.equal(parseManifest(JSON.stringify(doc({ updater: null })), { url: URL_ }).updater, null);
  const exe = updater.artifacts["linux-x64"];
  bad(
    doc({ updater: "0.2.0" }),
    `updater must be an object with version and artifacts, got "0.2.0"`,
  );
  bad(
    doc({ updater: { ...updater, version: "2" } }),
    `updater.version must be a semver version, got "2"`,
  );
  bad(
    doc({ updater: { version: "0.2.0", artifacts: {} } }),
    "updater.artifacts must be an object with at least one entry, got {}",
  );
  bad(
    doc({ updater: { version: "0.2.0", artifacts: { Linux: exe } } }),
    `updater.artifacts key must be a platform such as linux-x64, or bundle, got "Linux"`,
  );
  bad(
    doc({ updater: { version: "0.2.0", artifacts: { "linux-x64": { ...exe, kind: "tar.gz" } } } }),
    `updater.artifacts.linux-x64.kind must be executable (a compiled ms11-update), got "tar.gz"`,
  );
  bad(
    doc({ updater: { version: "0.2.0", artifacts: { "linux-x64": { ...exe, size: -1 } } } }),
    "updater.artifacts.linux-x64.size must be a non-negative integer, got -1",
  );
  bad(
    doc({ updater: { version: "0.2.0", artifacts: { bundle: { ...exe, url: "ftp://x/y" } } } }),
    `updater.artifacts.bundle.url must be an http(s) URL, got "ftp://x/y"`,
  );
});
