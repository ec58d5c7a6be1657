// The update pipeline against a loopback server that misbehaves on purpose: each hostile case
// runs runUpdate (and a few the real CLI) on an install root with 1.0.0 current, and asserts the
// outcome, the message, and that nothing was staged (builds/, current and the state's staged
// build are unchanged).
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { ChecksumMismatchError, SizeMismatchError } from "../lib/core/errors.ts";
import { adoptBuild } from "../lib/actions/install.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readState } from "../lib/root/state.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { appScript, launch, linuxPlatform, runCli, snapshot } from "./_e2e.ts";
import { rejectsWith, sha256 } from "./_helpers.ts";
import {
  type HostileReply,
  type HostileRequest,
  HostileServer,
  serveBytes,
} from "./_hostile_server.ts";

const ETAG = '"v110-strong"';

/** A world: 1.0.0 current, 1.1.0 published (a script padded to ~400 KB), a hostile server. */
interface HostileWorld extends AsyncDisposable {
  dir: string;
  layout: Layout;
  server: HostileServer;
  artifact: Uint8Array;
  artifactUrl: string;
  /** Requests for the artifact only. */
  artifactRequests(): HostileRequest[];
  /** Body bytes the server sent for the artifact. */
  artifactBytesSent(): number;
  config(extra?: Record<string, unknown>): ReturnType<typeof validateConfig>;
  /** Write a config file for the CLI. */
  configFile(extra?: Record<string, unknown>): Promise<string>;
  /** The snapshot of builds/, current and staged (downloads/ left out: partials may stay). */
  installed(): Promise<string>;
}

/** Serve the published tree; the artifact's replies come from `artifactReply`. */
async function hostileWorld(
  artifactReply: (r: HostileRequest, i: number, data: Uint8Array) => HostileReply,
): Promise<HostileWorld> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-hostile-" });
  const tree = `${dir}/releases`;
  const file = `${dir}/ms11`;
  const padding = `# ${"0123456789abcdef".repeat(25_000)}\n`;
  await Deno.writeTextFile(file, appScript("1.1.0", padding));
  const { manifestPath } = await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: linuxPlatform(),
    artifact: file,
  });
  const manifestBytes = await Deno.readFile(manifestPath);
  const artifact = await Deno.readFile(file);
  const relative =
    JSON.parse(new TextDecoder().decode(manifestBytes)).artifacts[linuxPlatform()].url;
  const artifactPath = `/stable/${relative}`;
  let artifactIndex = 0;
  const server = new HostileServer((r) => {
    if (r.path === "/stable/manifest.json") {
      return { headers: { "content-type": "application/json" }, body: manifestBytes };
    }
    if (r.path.split("?")[0] === artifactPath) return artifactReply(r, artifactIndex++, artifact);
    return { status: 404 };
  });
  const layout = layoutOf(`${dir}/root`);
  const old = `${dir}/ms11-1.0.0`;
  await Deno.writeTextFile(old, appScript("1.0.0"));
  await Deno.chmod(old, 0o755);
  await adoptBuild(layout, old, { version: "1.0.0", executable: "ms11" });
  const raw = (extra: Record<string, unknown> = {}) => ({
    update_servers: { stable: { base_url: `${server.url}/stable`, description: "Stable" } },
    max_retry_attempts: 2,
    download_timeout_seconds: 60,
    security: { require_https: false, allowed_domains: ["127.0.0.1"], verify_signatures: false },
    ...extra,
  });
  const isArtifact = (r: HostileRequest) => r.path.split("?")[0] === artifactPath;
  return {
    dir,
    layout,
    server,
    artifact,
    artifactUrl: `${server.url}${artifactPath}`,
    artifactRequests: () => server.requests.filter(isArtifact),
    artifactBytesSent: () =>
      server.requests.filter(isArtifact).reduce((sum, r) => sum + r.bytesSent, 0),
    config: (extra) => validateConfig(raw(extra)),
    async configFile(extra) {
      const path = `${dir}/config.json`;
      await Deno.writeTextFile(path, JSON.stringify(raw(extra)));
      return path;
    },
    async installed() {
      return (await snapshot(layout.root)).replace(/\ndownloads\/[\s\S]*?(?=\nstaged: )/, "");
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// A long idle timeout for every case but the stall, so a loaded machine cannot fail them.
function update(world: HostileWorld, extra: Record<string, unknown> = {}, idleTimeoutMs = 10_000) {
  return runUpdate(world.layout, world.config(extra), {
    channel: "stable",
    platform: linuxPlatform(),
    idleTimeoutMs,
  });
}

async function downloadsLeft(world: HostileWorld): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(world.layout.downloads))).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("update: connection reset at 50% resumes, verifies and stages; ≤ 1.1× the bytes", async () => {
  await using world = await hostileWorld((r, i, data) =>
    serveBytes(r, data, { etag: ETAG, cutAfter: i === 0 ? Math.floor(data.length / 2) : undefined })
  );
  const result = await update(world);
  assert.equal(result.staged, "1.1.0");
  const requests = world.artifactRequests();
  assert.equal(requests.length, 2);
  assert.equal(requests[1].headers.get("range"), `bytes=${Math.floor(world.artifact.length / 2)}-`);
  assert.equal(requests[1].headers.get("if-range"), ETAG);
  const ratio = world.artifactBytesSent() / world.artifact.length;
  assert.ok(ratio <= 1.1, `fetched ${ratio.toFixed(3)}× the artifact`);
  assert.equal((await readState(world.layout)).state.staged?.version, "1.1.0");
  assert.deepEqual(await downloadsLeft(world), []);
  assert.equal(await launch(world.layout.root), "MS11 1.0.0", "staged, not applied");
});

Deno.test("update: a server that ignores Range starts over and never appends", async () => {
  await using world = await hostileWorld((r, i, data) =>
    serveBytes(r, data, {
      etag: ETAG,
      ignoreRange: true,
      cutAfter: i === 0 ? Math.floor(data.length / 2) : undefined,
    })
  );
  const result = await update(world);
  assert.equal(result.staged, "1.1.0");
  const requests = world.artifactRequests();
  assert.equal(requests.length, 2);
  assert.equal(requests[1].headers.get("range"), `bytes=${Math.floor(world.artifact.length / 2)}-`);
  const staged = await Deno.readFile(`${world.layout.root}/builds/1.1.0/ms11`);
  assert.equal(sha256(staged), sha256(world.artifact));
});

Deno.test("update: a wrong Content-Range or a changed ETag discards the partial", async () => {
  for (
    const lie of [
      { "content-range": "bytes 0-10/99" },
      { etag: '"another-build"' },
    ] as Record<string, string>[]
  ) {
    await using world = await hostileWorld((r, i, data) => {
      const reply = serveBytes(r, data, {
        etag: ETAG,
        cutAfter: i === 0 ? Math.floor(data.length / 2) : undefined,
      });
      return i === 1 ? { ...reply, headers: { ...reply.headers, ...lie } } : reply;
    });
    const result = await update(world);
    assert.equal(result.staged, "1.1.0", JSON.stringify(lie));
    const requests = world.artifactRequests();
    assert.deepEqual(
      requests.map((r) => r.headers.get("range")),
      [null, `bytes=${Math.floor(world.artifact.length / 2)}-`, null],
      JSON.stringify(lie),
    );
  }
});

Deno.test("update: a stalled body hits the idle timeout, retries are bounded, nothing staged", async () => {
  await using world = await hostileWorld((r, _i, data) => ({
    ...serveBytes(r, data, { etag: ETAG }),
    stallAfter: 1000,
  }));
  const before = await world.installed();
  const error = await rejectsWith(
    update(world, {}, 300),
    Deno.errors.TimedOut,
    new RegExp(
      `^Download of ${
        world.artifactUrl.replace(/[.]/g, "\\.")
      } failed: .*idle.*; gave up after 2 attempts$`,
    ),
  );
  assert.ok(error);
  assert.equal(world.artifactRequests().length, 2);
  assert.equal(await world.installed(), before);
});

Deno.test("update: 503 with Retry-After within the budget is honoured, beyond it fails", async () => {
  {
    await using world = await hostileWorld((r, i, data) =>
      i === 0 ? { status: 503, headers: { "retry-after": "1" } } : serveBytes(r, data)
    );
    const result = await update(world);
    assert.equal(result.staged, "1.1.0");
    assert.equal(world.artifactRequests().length, 2);
  }
  {
    await using world = await hostileWorld(() => ({
      status: 503,
      headers: { "retry-after": "120" },
    }));
    const before = await world.installed();
    await rejectsWith(
      update(world, { download_timeout_seconds: 30 }),
      Error,
      new RegExp(
        `^Download of ${
          world.artifactUrl.replace(/[.]/g, "\\.")
        } failed: HTTP 503 Service Unavailable; Retry-After asks to wait 60000 ms, more than the \\d+ ms left of timeoutMs 30000$`,
      ),
    );
    assert.equal(world.artifactRequests().length, 1);
    assert.equal(await world.installed(), before);
    assert.deepEqual(await downloadsLeft(world), []);
  }
});

Deno.test("update: endless body, one byte short, lying Content-Length, wrong bytes: nothing staged", async () => {
  const cases: {
    name: string;
    reply: (r: HostileRequest, data: Uint8Array) => HostileReply;
    error: typeof SizeMismatchError | typeof ChecksumMismatchError;
    message: (partial: string, size: number) => string;
  }[] = [
    {
      name: "endless",
      reply: (_r, data) => ({ body: data, contentLength: null, endless: true }),
      error: SizeMismatchError,
      message: (p, n) => `Size mismatch for ${p}: expected ${n} bytes, got more than ${n}`,
    },
    {
      name: "one byte short",
      reply: (_r, data) => ({ body: data.subarray(1), contentLength: null }),
      error: SizeMismatchError,
      message: (p, n) => `Size mismatch for ${p}: expected ${n} bytes, got only ${n - 1}`,
    },
    {
      name: "Content-Length lies high",
      reply: (_r, data) => ({ body: data, contentLength: data.length + 5 }),
      error: SizeMismatchError,
      message: (p, n) => `Size mismatch for ${p}: expected ${n} bytes, got more than ${n}`,
    },
    {
      name: "one bit flipped",
      reply: (_r, data) => {
        const evil = data.slice();
        evil[data.length - 100] ^= 1;
        return { body: evil };
      },
      error: ChecksumMismatchError,
      message: (p) => `Checksum mismatch for ${p}: expected sha256 `,
    },
  ];
  for (const c of cases) {
    await using world = await hostileWorld((r, _i, data) => c.reply(r, data));
    const before = await world.installed();
    const partial = `${world.layout.downloads}/1.1.0-${linuxPlatform()}.bin.partial`;
    const error = await update(world).catch((e) => e);
    assert.ok(error instanceof c.error, `${c.name}: ${error}`);
    assert.ok(
      error.message.startsWith(c.message(partial, world.artifact.length)),
      `${c.name}: ${error.message}`,
    );
    assert.equal(world.artifactRequests().length, 1, `${c.name}: never retried`);
    assert.equal(await world.installed(), before, c.name);
    assert.deepEqual(await downloadsLeft(world), [], `${c.name}: partial removed`);
  }
});

Deno.test("update: redirects to http elsewhere, to a foreign host, past 5 hops, in a loop", async () => {
  const cases: [string, (base: string) => HostileReply, (base: string, url: string) => string][] = [
    [
      "to a foreign host",
      () => ({ status: 302, headers: { location: "https://evil.example/ms11" } }),
      (_b, url) =>
        `Refusing redirect from ${url} to https://evil.example/ms11: host evil.example is not in allowedDomains [127.0.0.1]`,
    ],
    [
      "to plain http off loopback",
      () => ({ status: 302, headers: { location: "http://192.0.2.1/ms11" } }),
      (_b, url) =>
        `Refusing redirect from ${url} to http://192.0.2.1/ms11: plain http: is only allowed to a loopback host`,
    ],
  ];
  for (const [name, reply, message] of cases) {
    await using world = await hostileWorld(() => reply(""));
    const before = await world.installed();
    await rejectsWith(update(world), Error, message("", world.artifactUrl));
    assert.equal(await world.installed(), before, name);
  }
  // More than 5 hops, and a loop.
  {
    await using world = await hostileWorld((r) => {
      const hop = Number(/hop=(\d+)/.exec(r.path)?.[1] ?? 0);
      return { status: 302, headers: { location: `${r.path.split("?")[0]}?hop=${hop + 1}` } };
    });
    const before = await world.installed();
    const url = world.artifactUrl;
    await rejectsWith(
      update(world),
      Error,
      `Refusing redirect from ${url}?hop=5 to ${url}?hop=6: more than 5 redirects`,
    );
    assert.equal(world.artifactRequests().length, 6);
    assert.equal(await world.installed(), before);
  }
  {
    await using world = await hostileWorld((r) => ({
      status: 307,
      headers: { location: r.path.includes("?") ? r.path.split("?")[0] : `${r.path}?again` },
    }));
    const url = world.artifactUrl;
    await rejectsWith(
      update(world),
      Error,
      `Refusing redirect from ${url}?again to ${url}: redirect loop`,
    );
  }
});

Deno.test("CLI: hostile downloads exit 1 with one error line and leave the install unchanged", async () => {
  {
    await using world = await hostileWorld((_r, _i, data) => ({
      body: data,
      contentLength: null,
      endless: true,
    }));
    const before = await world.installed();
    const config = await world.configFile();
    const run = await runCli(["--config", config, "--root", world.layout.root]);
    assert.equal(run.code, 1, run.stderr);
    const n = world.artifact.length;
    assert.ok(
      run.stderr.endsWith(
        `error: Size mismatch for ${world.layout.downloads}/1.1.0-${linuxPlatform()}.bin.partial: expected ${n} bytes, got more than ${n}\n`,
      ),
      run.stderr,
    );
    assert.equal(run.stdout, "");
    assert.equal(await world.installed(), before);
    const status = JSON.parse(
      (await runCli(["status", "--json", "--config", config, "--root", world.layout.root])).stdout,
    );
    assert.equal(status.last_error.command, "update");
  }
  {
    await using world = await hostileWorld(() => ({
      status: 301,
      headers: { location: "https://evil.example/ms11" },
    }));
    const before = await world.installed();
    const config = await world.configFile();
    const run = await runCli(["--config", config, "--root", world.layout.root, "--json"]);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(
      run.stderr.endsWith(
        `error: Refusing redirect from ${world.artifactUrl} to https://evil.example/ms11: host evil.example is not in allowedDomains [127.0.0.1]\n`,
      ),
      run.stderr,
    );
    assert.equal(await world.installed(), before);
  }
});
