// The hostile-repository suite: a malicious release repository attacks an installed client.
// Every case asserts the refusal (error class and exact message), that the install, the staged
// area and the trusted state are unchanged, and that the refusal is in the audit log with its
// reason. The cases are counted in docs/SECURITY.md.
import assert from "node:assert/strict";
import { readAudit } from "../lib/root/audit.ts";
import {
  ChecksumMismatchError,
  ConfigError,
  ManifestBehindError,
  SizeMismatchError,
  UnsafeArchiveError,
  UntrustedManifestError,
} from "../lib/core/errors.ts";
import { keyId } from "../lib/trust/keys.ts";
import { readTrust } from "../lib/root/trust_state.ts";
import { makeTarGz, makeZip, type TarEntry, type ZipEntry } from "./_archives.ts";
import { snapshot } from "./_e2e.ts";
import type { PublishOptions } from "./_malicious_repo.ts";
import { NOW, PLATFORM, refused, type Scene, scene } from "./_hostile_scene.ts";

/** The signature file's URL, for messages. */
const sigUrl = (s: Scene) => `${s.manifestUrl}.sig`;

/** Publish 1.1.0 (serial 6) whose artifact is attacked, and let the client accept the manifest. */
async function acceptedRelease(
  s: Scene,
  options: Partial<PublishOptions> = {},
): Promise<string> {
  await s.publish({ version: "1.1.0", serial: 6, ...options });
  const check = await s.update({ checkOnly: true });
  assert.equal(check.check.manifest.serial, 6);
  return `${s.repo.url}/stable/1.1.0/${options.kind ? `ms11.${options.kind}` : "ms11"}`;
}

async function tarGz(s: Scene, entries: TarEntry[]): Promise<Uint8Array> {
  const file = `${s.dir}/evil-${crypto.randomUUID()}.tar.gz`;
  await makeTarGz(file, [{ type: "file", name: "ms11", data: "#!/bin/sh\n" }, ...entries]);
  return await Deno.readFile(file);
}

function archivePath(s: Scene): string {
  return `${s.layout.root}/downloads/1.1.0-${PLATFORM}.tar.gz`;
}

// --- signatures ------------------------------------------------------------------------------

Deno.test("hostile: a manifest without a signature file is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.remove("/stable/manifest.json.sig");
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} is refused: its signature ${
      sigUrl(s)
    } could not be fetched (Fetch of ${sigUrl(s)} failed: HTTP 404 Not Found)`,
  );
});

Deno.test("hostile: an empty signature file is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.set("/stable/manifest.json.sig", new Uint8Array(0));
  await refused(s, UntrustedManifestError, `Signature file ${sigUrl(s)} is not valid JSON`);
});

Deno.test("hostile: a truncated signature file is refused", async () => {
  await using s = await scene();
  const p = await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.set("/stable/manifest.json.sig", p.signature.subarray(0, p.signature.length >> 1));
  await refused(s, UntrustedManifestError, `Signature file ${sigUrl(s)} is not valid JSON`);
});

Deno.test("hostile: a signature cut to 63 bytes is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  const sig = btoa(String.fromCharCode(...new Uint8Array(63)));
  s.repo.set(
    "/stable/manifest.json.sig",
    new TextEncoder().encode(JSON.stringify([{ keyid: s.keys[0].keyid, sig }])),
  );
  await refused(
    s,
    UntrustedManifestError,
    `Signature file ${sigUrl(s)}: entry 0 must be {keyid, sig} with a base64 signature of 64 bytes`,
  );
});

Deno.test("hostile: an empty signature list is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, signers: [] });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
});

Deno.test("hostile: a manifest changed after signing (wrong signature) is refused", async () => {
  await using s = await scene();
  const p = await s.publish({ version: "1.1.0", serial: 6 });
  const edited = new TextDecoder().decode(p.bytes).replace('"1.1.0"', '"1.1.1"');
  s.repo.set("/stable/manifest.json", new TextEncoder().encode(edited));
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
});

Deno.test("hostile: a manifest re-signed with an attacker's key is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "6.6.6", serial: 99, signers: [s.attacker] });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${s.attacker.keyid})`,
  );
});

Deno.test("hostile: an attacker's signature labelled with a trusted key id is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "6.6.6",
    serial: 99,
    signers: [{ ...s.attacker, keyid: s.keys[0].keyid }],
  });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required`,
  );
});

Deno.test("hostile: one key's signature repeated does not reach a threshold of 2", async () => {
  await using s = await scene({ threshold: 2 });
  await s.publish({ version: "1.1.0", serial: 6, signers: [s.keys[0], s.keys[0], s.keys[0]] });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 1 valid signature from the keys trusted for stable, 2 required`,
  );
});

Deno.test("hostile: one trusted key plus an attacker's key do not reach a threshold of 2", async () => {
  await using s = await scene({ threshold: 2 });
  await s.publish({ version: "1.1.0", serial: 6, signers: [s.keys[0], s.attacker] });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 1 valid signature from the keys trusted for stable, 2 required (signed by unknown keys ${s.attacker.keyid})`,
  );
});

Deno.test("hostile: an oversize signature file is refused after 16 KiB", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.set("/stable/manifest.json.sig", new Uint8Array(16385).fill(0x20));
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} is refused: its signature ${
      sigUrl(s)
    } could not be fetched (Response from ${sigUrl(s)} exceeds 16384 bytes)`,
  );
});

Deno.test("hostile: an endless signature file is cut off at its cap", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.set("/stable/manifest.json.sig", { contentLength: null, endless: true });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} is refused: its signature ${
      sigUrl(s)
    } could not be fetched (Response from ${sigUrl(s)} exceeds 16384 bytes)`,
  );
  assert.ok(s.repo.bytesSentFor("/stable/manifest.json.sig") < 16 * 1024 * 1024);
});

// --- rollback and freeze -------------------------------------------------------------------------

Deno.test("hostile: a replayed older manifest, validly signed, is refused", async () => {
  await using s = await scene();
  const old = await s.publish({ version: "0.9.0", serial: 4 });
  await s.publish({ version: "1.0.0", serial: 5 });
  s.repo.replay(old);
  // Told apart from a cache that is behind it cannot be: not accepted, and no refusal either.
  await refused(
    s,
    ManifestBehindError,
    `Manifest ${s.manifestUrl} has serial 4 (0.9.0), older than serial 5 (1.0.0) already accepted on stable: the server or a cache in front of it is behind, or replays an old release; nothing was accepted, try again later`,
    "manifest_behind",
  );
});

Deno.test("hostile: a replay of the previous release after an update is refused", async () => {
  await using s = await scene();
  const previous = await s.publish({ version: "1.0.0", serial: 5 });
  await s.publish({ version: "1.1.0", serial: 6 });
  assert.equal((await s.update()).staged, "1.1.0");
  s.repo.replay(previous);
  await refused(
    s,
    ManifestBehindError,
    `Manifest ${s.manifestUrl} has serial 5 (1.0.0), older than serial 6 (1.1.0) already accepted on stable: the server or a cache in front of it is behind, or replays an old release; nothing was accepted, try again later`,
    "manifest_behind",
  );
});

Deno.test("hostile: the same serial with different content is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.0.0", serial: 5, edit: (d) => (d.notes = "other content") });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has serial 5, already accepted on stable with other content; refusing it`,
  );
});

Deno.test("hostile: an expired manifest is refused, saying how stale it is", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, expires: "2026-11-24T08:00:00Z" });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} expired at 2026-11-24T08:00:00Z, 3d 4h before this run started (2026-11-27T12:00:00.000Z)`,
  );
});

Deno.test("hostile: a manifest expiring the very moment the run starts is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, expires: NOW.toISOString() });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} expired at ${NOW.toISOString()}, 0s before this run started (${NOW.toISOString()})`,
  );
});

Deno.test("hostile: a signed manifest without a serial is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, edit: (d) => delete d.serial });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} is signed but has no serial (rollback protection)`,
  );
});

Deno.test("hostile: a signed manifest without an expiry is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, edit: (d) => delete d.expires });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} is signed but has no expires (freeze protection)`,
  );
});

Deno.test("hostile: a validly signed lower version is not installed without consent", async () => {
  await using s = await scene();
  await s.publish({ version: "0.9.0", serial: 6 });
  const before = await snapshot(s.layout.root);
  const result = await s.update();
  assert.equal(result.staged, null);
  assert.equal(
    result.check.decision.message,
    "stable's newest release 0.9.0 is lower than the installed 1.0.0; not downgrading (pass --allow-downgrade to install 0.9.0)",
  );
  assert.equal(await snapshot(s.layout.root), before);
  // The manifest itself is genuine: its serial is remembered, so older ones stay refused.
  assert.equal((await readTrust(s.layout)).document.channels.stable.serial, 6);
});

// --- mix and match ---------------------------------------------------------------------------------

Deno.test("hostile: another channel's signed manifest served as stable is refused", async () => {
  await using s = await scene();
  const canary = await s.publish({ channel: "canary", version: "2.0.0-canary.1", serial: 40 });
  s.repo.replay(canary, "stable");
  await refused(
    s,
    TypeError,
    `Manifest ${s.manifestUrl} is for channel "canary", not the requested "stable"`,
  );
});

Deno.test("hostile: a signed manifest for another platform only is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, platform: "plan9-mips" });
  await refused(
    s,
    RangeError,
    `Release 1.1.0 on stable has no build for platform ${PLATFORM} (it has plan9-mips)`,
  );
});

// --- manifest format -------------------------------------------------------------------------------

Deno.test("hostile: an oversize manifest is refused after 64 KiB", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, edit: (d) => (d.notes = "x".repeat(70000)) });
  await refused(s, RangeError, `Response from ${s.manifestUrl} exceeds 65536 bytes`);
});

Deno.test("hostile: an endless manifest is cut off at 64 KiB", async () => {
  await using s = await scene();
  s.repo.set("/stable/manifest.json", { contentLength: null, endless: true });
  await refused(s, RangeError, `Response from ${s.manifestUrl} exceeds 65536 bytes`);
});

Deno.test("hostile: trailing garbage after a signed manifest is refused", async () => {
  await using s = await scene();
  const p = await s.publish({ version: "1.1.0", serial: 6 });
  s.repo.set(
    "/stable/manifest.json",
    new Uint8Array([...p.bytes, ...new TextEncoder().encode("{}")]),
  );
  await refused(
    s,
    SyntaxError,
    /^Manifest http:\/\/127\.0\.0\.1:\d+\/stable\/manifest\.json is not valid JSON: /,
  );
});

Deno.test("hostile: an artifact without a hash is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => delete (d.artifacts as Record<string, Record<string, unknown>>)[PLATFORM].sha256,
  });
  await refused(
    s,
    TypeError,
    `Manifest ${s.manifestUrl}: artifacts.${PLATFORM}.sha256 must be 64 lowercase hex digits, got undefined`,
  );
});

Deno.test("hostile: a malformed hash is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => ((d.artifacts as Record<string, Record<string, unknown>>)[PLATFORM].sha256 = "AB"),
  });
  await refused(
    s,
    TypeError,
    `Manifest ${s.manifestUrl}: artifacts.${PLATFORM}.sha256 must be 64 lowercase hex digits, got "AB"`,
  );
});

Deno.test("hostile: an artifact hashed only with an unknown algorithm is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => {
      const a = (d.artifacts as Record<string, Record<string, unknown>>)[PLATFORM];
      a.hashes = { "md5": "0".repeat(32) };
      delete a.sha256;
    },
  });
  await refused(
    s,
    TypeError,
    `Manifest ${s.manifestUrl}: artifacts.${PLATFORM} has no hash this client can verify (it has md5; this client verifies sha256)`,
  );
});

Deno.test("hostile: two disagreeing sha256 values are refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => {
      (d.artifacts as Record<string, Record<string, unknown>>)[PLATFORM].hashes = {
        sha256: "0".repeat(64),
      };
    },
  });
  await refused(
    s,
    TypeError,
    new RegExp(
      `^Manifest ${
        s.manifestUrl.replaceAll(".", "\\.")
      }: artifacts\\.${PLATFORM}\\.sha256 and artifacts\\.${PLATFORM}\\.hashes\\.sha256 differ \\("[0-9a-f]{64}", "0{64}"\\)$`,
    ),
  );
});

Deno.test("hostile: a manifest of a newer schema is refused", async () => {
  await using s = await scene();
  await s.publish({ version: "1.1.0", serial: 6, edit: (d) => (d.schema = 2) });
  await refused(
    s,
    TypeError,
    `Manifest ${s.manifestUrl}: schema 2 is newer than this client understands (1); update ms11-update`,
  );
});

// --- artifacts -------------------------------------------------------------------------------------

Deno.test("hostile: an artifact with substituted bytes of the same size is refused", async () => {
  await using s = await scene();
  const url = await acceptedRelease(s);
  const genuine = new TextEncoder().encode(`#!/bin/sh\necho "MS11 1.1.0"\n`);
  const evil = new TextEncoder().encode(`#!/bin/sh\necho "EVIL 1.1.0"\n`);
  s.repo.set(new URL(url).pathname, evil);
  assert.equal(genuine.length, evil.length);
  await refused(
    s,
    ChecksumMismatchError,
    /^Checksum mismatch for .*: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}$/,
    "artifact_refused",
  );
});

Deno.test("hostile: an artifact one byte short is refused", async () => {
  await using s = await scene();
  const url = await acceptedRelease(s);
  s.repo.set(new URL(url).pathname, new TextEncoder().encode(`#!/bin/sh\necho "MS11 1.1.0"`));
  await refused(s, SizeMismatchError, /expected 28 bytes, got only 27$/, "artifact_refused");
});

Deno.test("hostile: an endless artifact is cut off after size + 1 bytes", async () => {
  await using s = await scene();
  const url = await acceptedRelease(s);
  s.repo.set(new URL(url).pathname, { contentLength: null, endless: true });
  await refused(s, SizeMismatchError, /expected 28 bytes, got more than 28$/, "artifact_refused");
});

// --- archives --------------------------------------------------------------------------------------

async function archiveCase(
  entries: TarEntry[] | ((s: Scene) => TarEntry[]),
  entry: string | ((s: Scene) => string),
  reason: string | ((s: Scene) => string),
): Promise<void> {
  await using s = await scene();
  const artifact = await tarGz(s, typeof entries === "function" ? entries(s) : entries);
  await acceptedRelease(s, { artifact, kind: "tar.gz" });
  const name = typeof entry === "function" ? entry(s) : entry;
  await refused(
    s,
    UnsafeArchiveError,
    `Unsafe archive ${archivePath(s)}: entry ${JSON.stringify(name)} refused: ${
      typeof reason === "function" ? reason(s) : reason
    }`,
    "artifact_refused",
  );
  assert.equal(await Deno.lstat(`${s.dir}/evil`).catch(() => null), null);
}

Deno.test("hostile: an archive entry with .. is refused", async () => {
  await archiveCase(
    [{ type: "file", name: "../../../evil", data: "x" }],
    "../../../evil",
    'path has a ".." component',
  );
});

Deno.test("hostile: an archive entry with an absolute path is refused", async () => {
  await archiveCase(
    (s) => [{ type: "file", name: `${s.dir}/evil`, data: "x" }],
    (s) => `${s.dir}/evil`,
    "absolute path",
  );
});

Deno.test("hostile: an archive symlink leaving the build is refused", async () => {
  await archiveCase(
    (s) => [{ type: "symlink", name: "lib", target: `${s.dir}` }],
    "lib",
    (s) => `symlink target ${JSON.stringify(s.dir)}: absolute path`,
  );
});

Deno.test("hostile: an archive symlink followed by a write through it is refused", async () => {
  await archiveCase(
    [
      { type: "symlink", name: "up", target: "../../.." },
      { type: "file", name: "up/evil", data: "x" },
    ],
    "up",
    'symlink target "../../.." resolves outside the build directory',
  );
});

Deno.test("hostile: an archive hard link to a file outside is refused", async () => {
  await archiveCase(
    (s) => [{ type: "hardlink", name: "passwd", target: `${s.dir}/publisher1.key` }],
    "passwd",
    "hard links are not allowed",
  );
});

Deno.test("hostile: an archive device file is refused", async () => {
  await archiveCase(
    [{ type: "chr", name: "tty" }],
    "tty",
    "entry type CharacterDevice is not allowed",
  );
});

// --- key rotation ----------------------------------------------------------------------------------

Deno.test("hostile: a rotation to the attacker's key, not signed by the old keys, is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "6.6.6",
    serial: 6,
    signers: [s.attacker],
    edit: (d) => (d.next_keys = { threshold: 1, keys: [s.attacker.publicKey] }),
  });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${s.attacker.keyid})`,
  );
});

Deno.test("hostile: a rotation signed by the old keys but not by the new ones is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => (d.next_keys = { threshold: 1, keys: [s.attacker.publicKey] }),
  });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} announces new keys for stable but has 0 valid signatures from them, 1 required`,
  );
});

Deno.test("hostile: after a genuine rotation, the retired key alone is refused", async () => {
  await using s = await scene();
  const fresh = await s.publish({
    version: "1.1.0",
    serial: 6,
    signers: [s.keys[0], s.keys[1]],
    edit: (d) => (d.next_keys = { threshold: 1, keys: [s.keys[1].publicKey] }),
  });
  assert.equal((await s.update()).staged, "1.1.0");
  const trusted = (await readTrust(s.layout)).document.channels.stable;
  assert.deepEqual(trusted.keys, { threshold: 1, keys: [s.keys[1].publicKey] });
  assert.deepEqual(trusted.pinned, s.keys.map((k) => keyId(k.publicKey)));
  // The new key alone now suffices...
  await s.publish({ version: "1.2.0", serial: 7, signers: [s.keys[1]] });
  assert.equal((await s.update({ checkOnly: true })).check.manifest.version, "1.2.0");
  // ...and the retired key (perhaps stolen) no longer does.
  await s.publish({ version: "1.3.0", serial: 8, signers: [s.keys[0]] });
  await refused(
    s,
    UntrustedManifestError,
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${
      s.keys[0].keyid
    })`,
  );
  assert.ok(fresh.doc.next_keys);
});

// --- the genuine path still works ------------------------------------------------------------------

Deno.test("hostile suite control: a genuine signed release is accepted and audited", async () => {
  await using s = await scene({ threshold: 2 });
  await s.publish({ version: "1.1.0", serial: 6, signers: [s.keys[1], s.keys[0]] });
  const result = await s.update();
  assert.equal(result.staged, "1.1.0");
  const trusted = (await readTrust(s.layout)).document.channels.stable;
  assert.equal(trusted.serial, 6);
  assert.equal(trusted.version, "1.1.0");
  const events = (await readAudit(s.layout)).map((e) => e.event);
  assert.deepEqual(events.slice(-3), ["manifest_accepted", "checked", "staged"]);
});

// --- more: zip archives, artifact hosts, unpinned channels ----------------------------------------

async function zipCase(entries: ZipEntry[], entry: string, reason: string): Promise<void> {
  await using s = await scene();
  const file = `${s.dir}/evil.zip`;
  await makeZip(file, [{ name: "ms11", data: "#!/bin/sh\n", mode: 0o100755 }, ...entries]);
  await acceptedRelease(s, { artifact: await Deno.readFile(file), kind: "zip" });
  await refused(
    s,
    UnsafeArchiveError,
    `Unsafe archive ${s.layout.root}/downloads/1.1.0-${PLATFORM}.zip: entry ${
      JSON.stringify(entry)
    } refused: ${reason}`,
    "artifact_refused",
  );
}

Deno.test("hostile: a zip entry with .. (zip-slip) is refused", async () => {
  await zipCase(
    [{ name: "../evil", data: "x" }],
    "../evil",
    'zip.js reports an unsafe file name (absolute, drive letter or ".." component)',
  );
});

Deno.test("hostile: a zip symlink followed by a write through it is refused", async () => {
  await zipCase(
    [{ name: "link", data: "../../..", mode: 0o120777 }, { name: "link/evil", data: "x" }],
    "link",
    "symlink entries are not allowed in zip archives",
  );
});

Deno.test("hostile: a signed artifact URL on a host outside allowed_domains is refused", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (d) => {
      (d.artifacts as Record<string, Record<string, unknown>>)[PLATFORM].url =
        "https://evil.example/ms11";
    },
  });
  await s.update({ checkOnly: true });
  await refused(
    s,
    Error,
    "Refusing https://evil.example/ms11: host evil.example is not in allowedDomains [127.0.0.1]",
    "artifact_refused",
  );
});

Deno.test("hostile: a channel without pinned keys is a configuration error, not a free pass", async () => {
  await using s = await scene();
  s.config.security.signing_keys = { canary: s.config.security.signing_keys.canary };
  await s.publish({ version: "1.1.0", serial: 6, signers: [s.attacker] });
  await refused(
    s,
    ConfigError,
    "No signing keys are pinned for channel stable: set security.signing_keys.stable in the configuration, or set security.verify_signatures to false",
  );
});
