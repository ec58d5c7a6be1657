// Untrusted text never reaches a terminal raw (docs/SECURITY.md, "Terminal escapes"): escape
// sequences in every unsigned field that can reach a message — a manifest's hash algorithm
// names, a signature file's key ids, an HTTP reason phrase, a header value, an archive entry
// name, a planted state file and audit log — go through the real CLI (its stderr, `status` and
// `status --json`) and the dashboard (page and API), and come out escaped: no raw control, C1 or
// bidi character, and the JSON still the same data.
import assert from "node:assert/strict";
import { errorLine, Ui } from "../cli/_ui.ts";
import { serveDashboard } from "../dashboard/server.ts";
import { escapeLines, escapeText, hasUnsafeText, jsonText, quoteText } from "../lib/core/text.ts";
import { showValue } from "../lib/core/validate.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { readState } from "../lib/root/state.ts";
import type { SigningKey } from "../lib/publish/signing.ts";
import { makeTarGz } from "./_archives.ts";
import { type CliRun, linuxPlatform, runCli } from "./_e2e.ts";
import { makeKey, MaliciousRepo, type PublishOptions } from "./_malicious_repo.ts";

const PLATFORM = linuxPlatform();

/** What an attacker would like a terminal to do: clear it, retitle it, fake a green line. */
const EVIL =
  "\x1b[2J\x1b]0;pwned\x07\x1b[32mInstalled 9.9.9 (verified)\x1b[0m\u009b31m\u202eexe.sh";

/** Every character of `text` that a terminal would act on (line feeds between lines allowed). */
function rawControls(text: string): string[] {
  return [...text].filter((c) => c !== "\n" && hasUnsafeText(c));
}

function assertSafe(text: string, what: string): void {
  assert.deepEqual(
    rawControls(text),
    [],
    `${what} carries raw control characters: ${jsonText(text)}`,
  );
}

Deno.test("escapeText escapes every C0, DEL, C1, bidi and separator character, idempotently", () => {
  const unsafe: number[] = [];
  for (let c = 0; c <= 0x10ffff; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const ch = String.fromCodePoint(c);
    if (escapeText(ch) !== ch) unsafe.push(c);
  }
  const expected = [
    ...Array.from({ length: 0x20 }, (_, i) => i),
    ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i),
    0x061c,
    0x200e,
    0x200f,
    0x2028,
    0x2029,
    ...Array.from({ length: 5 }, (_, i) => 0x202a + i),
    ...Array.from({ length: 4 }, (_, i) => 0x2066 + i),
  ];
  assert.deepEqual(unsafe, expected);
  for (const c of expected) {
    const once = escapeText(String.fromCodePoint(c));
    assert.match(once, /^\\(x[0-9a-f]{2}|u[0-9a-f]{4})$/);
    assert.equal(escapeText(once), once, "escaping twice changes nothing");
    assert.ok(!hasUnsafeText(once));
  }
  assert.equal(escapeText(EVIL), escapeText(escapeText(EVIL)));
  assert.ok(!hasUnsafeText(escapeText(EVIL)));
  assert.equal(escapeLines("a\n\tb\r\x1b"), "a\n\tb\\x0d\\x1b");
  assert.equal(quoteText("\u202e"), '"\\u202e"');
  assert.equal(showValue("\u009b"), '"\\x9b"');
});

Deno.test("jsonText is the same data as JSON.stringify, with no raw control character", () => {
  const value = { a: EVIL, b: ["\u2028\u2029\u061c\u007f", 1, null], [EVIL]: true };
  for (const space of [undefined, 2]) {
    const text = jsonText(value, space);
    assertSafe(text, "jsonText");
    assert.deepEqual(JSON.parse(text), value);
  }
  assert.equal(jsonText(undefined), "null");
});

/** A repository, a pinned key, a configuration and an install of 1.0.0 made by the CLI. */
interface Scene extends AsyncDisposable {
  dir: string;
  root: string;
  repo: MaliciousRepo;
  key: SigningKey;
  attacker: SigningKey;
  manifestUrl: string;
  publish(options: Partial<PublishOptions> & { version: string; serial: number }): ReturnType<
    MaliciousRepo["publish"]
  >;
  cli(args: string[]): Promise<CliRun>;
}

async function scene(): Promise<Scene> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-escape-" });
  const repo = new MaliciousRepo();
  const key = await makeKey(dir, "publisher");
  const attacker = await makeKey(dir, "attacker");
  const configPath = `${dir}/update_channel.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      update_servers: { stable: { base_url: `${repo.url}/stable` } },
      max_retry_attempts: 1,
      security: {
        require_https: false,
        allowed_domains: ["127.0.0.1"],
        signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
      },
    }),
  );
  const root = `${dir}/root`;
  const s: Scene = {
    dir,
    root,
    repo,
    key,
    attacker,
    manifestUrl: `${repo.url}/stable/manifest.json`,
    publish: (o) => repo.publish({ platform: PLATFORM, now: new Date(), signers: [key], ...o }),
    cli: (args) => runCli([...args, "--config", configPath, "--root", root]),
    async [Symbol.asyncDispose]() {
      await repo.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await s.publish({ version: "1.0.0", serial: 5 });
  const installed = await s.cli(["install"]);
  assert.equal(installed.code, 0, installed.stderr);
  return s;
}

/**
 * Run `args` against the attack: exit 1 with exactly `error: <message>` on stderr, escaped;
 * then `status` shows the same escaped message as the last error, and `status --json` is valid
 * JSON holding it.
 */
async function refusedSafely(s: Scene, args: string[], message: string | RegExp): Promise<string> {
  const run = await s.cli(args);
  assertSafe(run.stderr, `${args.join(" ")} stderr`);
  assertSafe(run.stdout, `${args.join(" ")} stdout`);
  assert.equal(run.code, 1, run.stderr);
  const line = run.stderr.trimEnd().split("\n").at(-1)!;
  assert.ok(line.startsWith("error: "), run.stderr);
  const shown = line.slice("error: ".length);
  if (typeof message === "string") assert.equal(shown, message);
  else assert.match(shown, message);
  const status = await s.cli(["status"]);
  assert.equal(status.code, 0, status.stderr);
  assertSafe(status.stdout, "status");
  assertSafe(status.stderr, "status stderr");
  assert.match(status.stdout, /^last error: \S+ (check|update): (.*)$/m);
  assert.equal(/^last error: \S+ \S+: (.*)$/m.exec(status.stdout)?.[1], shown);
  const json = await s.cli(["status", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assertSafe(json.stdout, "status --json");
  assert.equal(JSON.parse(json.stdout).last_error.message, shown);
  return shown;
}

Deno.test("an unknown hash algorithm name in a manifest reaches stderr and status escaped", async () => {
  await using s = await scene();
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (doc) => {
      const a = (doc.artifacts as Record<string, Record<string, unknown>>)[PLATFORM];
      a.hashes = { [EVIL]: "ab" };
      delete a.sha256;
    },
  });
  await refusedSafely(
    s,
    ["check"],
    `Manifest ${s.manifestUrl}: artifacts.${PLATFORM} has no hash this client can verify (it has ${
      escapeText(EVIL)
    }; this client verifies sha256)`,
  );
  // The same name as the field of a digest that is not hex.
  await s.publish({
    version: "1.1.0",
    serial: 6,
    edit: (doc) => {
      const a = (doc.artifacts as Record<string, Record<string, unknown>>)[PLATFORM];
      a.hashes = { [EVIL]: "XYZ" };
    },
  });
  await refusedSafely(
    s,
    ["check"],
    `Manifest ${s.manifestUrl}: artifacts.${PLATFORM}.hashes.${
      escapeText(EVIL)
    } must be lowercase hex digits, got "XYZ"`,
  );
});

Deno.test("an unknown keyid in a signature file reaches stderr and status escaped", async () => {
  await using s = await scene();
  const p = await s.publish({ version: "1.1.0", serial: 6, signers: [s.attacker] });
  const entries = JSON.parse(new TextDecoder().decode(p.signature));
  entries[0].keyid = EVIL;
  s.repo.set("/stable/manifest.json.sig", new TextEncoder().encode(JSON.stringify(entries)));
  await refusedSafely(
    s,
    ["check"],
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${
      escapeText(EVIL)
    })`,
  );
});

Deno.test("an HTTP reason phrase with control bytes never reaches stderr raw", async () => {
  await using s = await scene();
  // Bytes a reason phrase may carry (obs-text: C1 and bidi in UTF-8): the client shows its own
  // reason phrase for the code, never the server's.
  s.repo.set("/stable/manifest.json", { status: 500, statusText: "Oops\u009b2J\u202e" });
  await refusedSafely(
    s,
    ["check"],
    `Fetch of ${s.manifestUrl} failed: HTTP 500 Internal Server Error; gave up after 1 attempt`,
  );
  // An ESC in the status line makes the response unreadable; that is said without the bytes.
  s.repo.set("/stable/manifest.json", { status: 500, statusText: EVIL });
  await refusedSafely(s, ["check"], /^Fetch of .* failed: .*invalid HTTP status.*gave up after/);
});

Deno.test("a header value with C1 and bidi bytes reaches stderr and status escaped", async () => {
  await using s = await scene();
  // A Location header that is not a URL is quoted in the message. Header bytes 0x80-0xff reach
  // the client as the characters U+0080-U+00FF: here U+009B, an 8-bit CSI.
  s.repo.set("/stable/manifest.json", {
    status: 302,
    headers: { location: "http://[\u009b\u202e]/" },
  });
  const latin1 = String.fromCharCode(...new TextEncoder().encode("http://[\u009b\u202e]/"));
  const shown = await refusedSafely(
    s,
    ["check"],
    `Fetch of ${s.manifestUrl} failed: ${s.manifestUrl} redirects to an invalid URL ${
      showValue(latin1)
    }`,
  );
  assert.ok(shown.includes("\\x9b"), shown);
});

Deno.test("an archive entry name with escape sequences reaches stderr and status escaped", async () => {
  await using s = await scene();
  const file = `${s.dir}/evil.tar.gz`;
  const name = "../\x1b]0;pwned\x07\x1b[2J\u009b31m\u202egpj.sh";
  await makeTarGz(file, [
    { type: "file", name: "ms11", data: "#!/bin/sh\n" },
    { type: "file", name, data: "x" },
  ]);
  await s.publish({
    version: "1.1.0",
    serial: 6,
    kind: "tar.gz",
    artifact: await Deno.readFile(file),
  });
  await refusedSafely(
    s,
    [], // the plain update: check, download, stage
    new RegExp(`^Unsafe archive .*: entry ${escapeRegExp(quoteText(name))} refused: `),
  );
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("a planted state file and audit log are shown escaped by status; --json keeps the data", async () => {
  await using s = await scene();
  const statePath = `${s.root}/state.json`;
  const state = JSON.parse(await Deno.readTextFile(statePath));
  state.last_error = {
    at: "2026-11-27T00:00:00.000Z",
    command: "check",
    message: `${EVIL}\nforged`,
  };
  state.lifecycle = [{
    version: "0.9.0",
    channel: "stable",
    state: "rejected",
    reason: EVIL,
    at: state.last_error.at,
    held: null,
  }];
  await Deno.writeTextFile(statePath, JSON.stringify(state));
  await Deno.writeTextFile(
    `${s.root}/logs/audit.jsonl`,
    JSON.stringify({ at: state.last_error.at, event: "failed", reason: EVIL, [EVIL]: EVIL }) + "\n",
    { append: true },
  );
  const status = await s.cli(["status"]);
  assert.equal(status.code, 0, status.stderr);
  assertSafe(status.stdout, "status");
  const lines = status.stdout.split("\n");
  assert.ok(
    lines.includes(`last error: 2026-11-27T00:00:00.000Z check: ${escapeText(`${EVIL}\nforged`)}`),
    status.stdout,
  );
  assert.ok(!lines.includes("forged"), "a planted newline made a line of its own");
  assert.ok(lines.includes(`rejected:   0.9.0 on stable (${escapeText(EVIL)})`), status.stdout);
  assert.ok(
    lines.includes(
      `  2026-11-27T00:00:00.000Z failed: ${escapeText(EVIL)} (${escapeText(EVIL)}: ${
        escapeText(EVIL)
      })`,
    ),
    status.stdout,
  );
  const json = await s.cli(["status", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assertSafe(json.stdout, "status --json");
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.last_error.message, `${EVIL}\nforged`, "--json is the same data");
  assert.equal(doc.rejected[0].reason, EVIL);
  assert.equal(doc.recent_events.at(-1).reason, EVIL);
});

Deno.test("the dashboard page and API show untrusted text escaped; its JSON stays the same data", async () => {
  await using s = await scene();
  const p = await s.publish({ version: "1.1.0", serial: 6, signers: [s.attacker] });
  const entries = JSON.parse(new TextDecoder().decode(p.signature));
  entries[0].keyid = EVIL;
  s.repo.set("/stable/manifest.json.sig", new TextEncoder().encode(JSON.stringify(entries)));
  const expected =
    `Manifest ${s.manifestUrl} has 0 valid signatures from the keys trusted for stable, 1 required (signed by unknown keys ${
      escapeText(EVIL)
    })`;
  const dashboard = serveDashboard(layoutOf(s.root), {
    configPath: `${s.dir}/update_channel.json`,
    configExplicit: true,
    platform: PLATFORM,
    manifestTimeoutMs: 5000,
  });
  try {
    const call = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${dashboard.origin}${path}?token=${dashboard.token}`, init);
      return { status: response.status, text: await response.text() };
    };
    const checked = await call("/api/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assertSafe(checked.text, "POST /api/check");
    assert.equal(checked.status, 500);
    assert.equal(JSON.parse(checked.text).error, expected);
    const api = await call("/api/status");
    assertSafe(api.text, "GET /api/status");
    assert.equal(JSON.parse(api.text).last_error.message, expected);
    const channels = await call("/api/channels");
    assertSafe(channels.text, "GET /api/channels");
    assert.equal(JSON.parse(channels.text).channels[0].error, expected);
    const page = await call("/");
    assert.equal(page.status, 200);
    assertSafe(page.text, "the page");
    assert.ok(!page.text.includes(EVIL));
    // The escaped form is what people read (HTML-escaped once more).
    assert.ok(page.text.includes(escapeText(EVIL)), "the page shows the escaped key id");
    // A planted audit entry, too.
    await Deno.writeTextFile(
      `${s.root}/logs/audit.jsonl`,
      JSON.stringify({ at: new Date().toISOString(), event: "failed", reason: `<b>${EVIL}` }) +
        "\n",
      { append: true },
    );
    const again = await call("/");
    assertSafe(again.text, "the page with a planted audit entry");
    assert.ok(again.text.includes(`&lt;b&gt;${escapeText(EVIL)}`));
  } finally {
    await dashboard.shutdown();
  }
  assert.equal((await readState(layoutOf(s.root))).state.last_error?.message, expected);
});

Deno.test("commander's own error lines are escaped too", async () => {
  const run = await runCli([`bogus${EVIL}`]);
  assert.equal(run.code, 2);
  assertSafe(run.stderr, "usage error");
  assert.ok(run.stderr.includes(escapeText(`bogus${EVIL}`)), run.stderr);
});

Deno.test("cli/_ui.ts escapes every kind of line it writes", () => {
  const err: string[] = [];
  const out: string[] = [];
  const sink = (to: string[]) => ({
    writeSync: (p: Uint8Array) => (to.push(new TextDecoder().decode(p)), p.length),
    isTerminal: () => false,
  });
  const ui = new Ui({ stderr: sink(err), stdout: sink(out) });
  ui.notice(`a${EVIL}\nb`);
  ui.warn(EVIL);
  ui.error(EVIL);
  ui.data({ x: EVIL }, `line one ${EVIL}\nline two`);
  assert.deepEqual(err, [
    `a${escapeText(EVIL)}\\x0ab\n`,
    `warning: ${escapeText(EVIL)}\n`,
    `error: ${escapeText(EVIL)}\n`,
  ]);
  assert.deepEqual(out, [`line one ${escapeText(EVIL)}\nline two\n`]);
  const json: string[] = [];
  new Ui({ json: true, stdout: sink(json), stderr: sink(err) }).data({ x: EVIL }, "");
  assertSafe(json.join(""), "--json data");
  assert.deepEqual(JSON.parse(json.join("")), { x: EVIL });
  assert.equal(errorLine(EVIL, true), `\x1b[31merror\x1b[0m: ${escapeText(EVIL)}\n`);
});
