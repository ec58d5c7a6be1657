import { fileIdentity } from "../lib/core/fs.ts";
import assert from "node:assert/strict";
import { downloadArtifact, type DownloadOptions } from "../lib/net/download.ts";
import { fetchLimited } from "../lib/net/fetch.ts";
import { ChecksumMismatchError, SizeMismatchError } from "../lib/core/errors.ts";
import { type Progress, testEnv } from "../lib/core/env.ts";
import { type HostileReply, HostileServer, serveBytes } from "./_hostile_server.ts";
import { makeTestCertificates } from "./_nginx.ts";
import { pseudoRandom, sha256 } from "./_helpers.ts";
import { exists } from "../lib/core/fs.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const DATA = pseudoRandom(300_000);
const DATA_SHA = sha256(DATA);
const ETAG = '"v1-strong"';

/** A temporary directory with `dest` inside, removed afterwards. */
async function withDest(fn: (dest: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "download_test_" });
  try {
    await fn(`${dir}/artifact.bin`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Files left in a directory, sorted. */
async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Records the waits between attempts instead of sleeping. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

/** Options for a plain-http loopback download of DATA, with no real sleeping. */
function options(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    size: DATA.length,
    sha256: DATA_SHA,
    requireHttps: false,
    sleep: () => Promise.resolve(),
    random: () => 0.5,
    ...extra,
  };
}

/**
 * A fetch that watches the size of `partial` each time the downloader asks for the next body
 * chunk and when it gives up on the body, keeping the largest size seen.
 */
function watchingFetch(partial: string): { fetch: typeof fetch; maxPartialSize: () => number } {
  let max = 0;
  const look = () => {
    try {
      max = Math.max(max, Deno.statSync(partial).size);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  const wrapped: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.body === null) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        look();
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        look();
        await reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  return { fetch: wrapped, maxPartialSize: () => max };
}

/** A fake fetch answering from a table of URL → reply, recording each request. */
function fakeFetch(
  routes: Record<string, () => Response>,
): { fetch: typeof fetch; calls: { url: string; headers: Headers }[] } {
  const calls: { url: string; headers: Headers }[] = [];
  const fake: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    calls.push({ url, headers: new Headers(init?.headers) });
    assert.equal(init?.redirect, "manual");
    const route = routes[url];
    if (route === undefined) return Promise.reject(new TypeError(`no route for ${url}`));
    return Promise.resolve(route());
  };
  return { fetch: fake, calls };
}

function redirect(location: string, status = 302): () => Response {
  return () => new Response(null, { status, headers: { location } });
}

// ---------------------------------------------------------------------------------------------
// Happy path and the size / checksum rules

Deno.test("download streams to .partial, verifies, renames and reports progress", async () => {
  await using server = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  await withDest(async (dest, dir) => {
    const reports: Progress[] = [];
    const env = testEnv(new Date("2026-11-27T00:00:00Z"));
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env,
      onProgress: (p) => reports.push(p),
    });
    assert.deepEqual(result, {
      path: dest,
      sha256: DATA_SHA,
      size: DATA.length,
      identity: fileIdentity(await Deno.lstat(dest)), // the file verified is the one in place
    });
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
    assert.equal(server.requests.length, 1);
    assert.equal(server.requests[0].headers.get("range"), null);
    assert.equal(server.requests[0].headers.get("accept-encoding"), "identity");
    // The clock stands still, so the throttle lets through only the first, the first chunk's
    // and the final reports.
    assert.ok(reports.length <= 4, `${reports.length} reports`);
    assert.deepEqual(reports[0], { phase: "download", done: 0, total: DATA.length });
    assert.deepEqual(reports.at(-1), {
      phase: "download",
      done: DATA.length,
      total: DATA.length,
    });
  });
});

Deno.test("sync false (staging fsyncs instead) gives the same verified file", async () => {
  await using server = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  await withDest(async (dest, dir) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      sync: false,
    });
    assert.deepEqual(result, {
      path: dest,
      sha256: DATA_SHA,
      size: DATA.length,
      identity: fileIdentity(await Deno.lstat(dest)), // the file verified is the one in place
    });
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
  });
});

Deno.test("download of a zero-byte artifact", async () => {
  const empty = new Uint8Array(0);
  await using server = new HostileServer((r) => serveBytes(r, empty));
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/empty`, dest, {
      ...options(),
      size: 0,
      sha256: sha256(empty),
    });
    assert.equal(result.size, 0);
    assert.equal((await Deno.stat(dest)).size, 0);
  });
});

Deno.test("hash mismatch: ChecksumMismatchError, partial deleted, not retried", async () => {
  const evil = DATA.slice();
  evil[12345] ^= 1;
  await using server = new HostileServer((r) => serveBytes(r, evil));
  await withDest(async (dest, dir) => {
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, options()).catch((
      e,
    ) => e);
    assert.ok(error instanceof ChecksumMismatchError);
    assert.equal(
      error.message,
      `Checksum mismatch for ${dest}.partial: expected sha256 ${DATA_SHA}, got ${sha256(evil)}`,
    );
    assert.deepEqual(await listDir(dir), []);
    assert.equal(await exists(`${dest}.partial`), false);
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("verifyChecksum false accepts other bytes of the right size", async () => {
  const other = pseudoRandom(DATA.length, 99);
  await using server = new HostileServer((r) => serveBytes(r, other));
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      verifyChecksum: false,
    });
    assert.equal(result.sha256, sha256(other));
    assert.deepEqual(await Deno.readFile(dest), other);
  });
});

Deno.test("endless body: stops at the declared size, partial never exceeds size + 1", async () => {
  await using server = new HostileServer(() => ({
    body: DATA,
    contentLength: null,
    endless: true,
  }));
  await withDest(async (dest, dir) => {
    const watch = watchingFetch(`${dest}.partial`);
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env: testEnv(new Date(), watch.fetch),
    }).catch((e) => e);
    assert.ok(error instanceof SizeMismatchError);
    assert.equal(
      error.message,
      `Size mismatch for ${dest}.partial: expected ${DATA.length} bytes, got more than ${DATA.length}`,
    );
    assert.ok(error.actual > DATA.length);
    assert.ok(watch.maxPartialSize() <= DATA.length + 1, `${watch.maxPartialSize()}`);
    assert.ok(watch.maxPartialSize() >= DATA.length - 16384, `${watch.maxPartialSize()}`);
    assert.deepEqual(await listDir(dir), []);
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("verifyChecksum false still enforces the size of an endless body", async () => {
  await using server = new HostileServer(() => ({
    body: DATA,
    contentLength: null,
    endless: true,
  }));
  await withDest(async (dest, dir) => {
    await assert.rejects(
      downloadArtifact(`${server.url}/app.bin`, dest, { ...options(), verifyChecksum: false }),
      SizeMismatchError,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("body one byte short (clean close): SizeMismatchError, not retried", async () => {
  await using server = new HostileServer(() => ({
    body: DATA.subarray(0, DATA.length - 1),
    contentLength: null,
  }));
  await withDest(async (dest, dir) => {
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, options()).catch((
      e,
    ) => e);
    assert.ok(error instanceof SizeMismatchError);
    assert.equal(
      error.message,
      `Size mismatch for ${dest}.partial: expected ${DATA.length} bytes, got only ${
        DATA.length - 1
      }`,
    );
    assert.deepEqual(await listDir(dir), []);
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("a Content-Length above the declared size fails before any byte is written", async () => {
  await using server = new HostileServer(() => ({ body: DATA, contentLength: DATA.length * 2 }));
  await withDest(async (dest, dir) => {
    const watch = watchingFetch(`${dest}.partial`);
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env: testEnv(new Date(), watch.fetch),
    }).catch((e) => e);
    assert.ok(error instanceof SizeMismatchError);
    assert.equal(error.actual, DATA.length * 2);
    assert.match(error.message, /got more than 300000$/);
    assert.equal(watch.maxPartialSize(), 0);
    assert.deepEqual(await listDir(dir), []);
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("a Content-Length below the declared size is a SizeMismatchError", async () => {
  // The header lies low while the whole body follows: the client trusts the framing and the
  // length check refuses it.
  await using server = new HostileServer(() => ({ body: DATA, contentLength: DATA.length - 10 }));
  await withDest(async (dest, dir) => {
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, options()).catch((
      e,
    ) => e);
    assert.ok(error instanceof SizeMismatchError);
    assert.equal(
      error.message,
      `Size mismatch for ${dest}.partial: expected ${DATA.length} bytes, got only ${
        DATA.length - 10
      }`,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("a Content-Length that promises the size but the body stops short is retried", async () => {
  // The connection closes before the announced length: a network failure, so retried (and,
  // with a validator, resumed).
  await using server = new HostileServer((r, i) =>
    i === 0
      ? { ...serveBytes(r, DATA, { etag: ETAG }), cutAfter: 1000 }
      : serveBytes(r, DATA, { etag: ETAG })
  );
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers.get("range"), "bytes=1000-");
  });
});

// ---------------------------------------------------------------------------------------------
// Status codes and retries

Deno.test("404 is not retried and names the URL and status", async () => {
  await using server = new HostileServer(() => ({
    status: 404,
    body: new TextEncoder().encode("no"),
  }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/missing.bin`;
    await assert.rejects(downloadArtifact(url, dest, options({ maxAttempts: 5 })), {
      name: "Error",
      message: `Download of ${url} failed: HTTP 404 Not Found`,
    });
    assert.equal(server.requests.length, 1);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("503 and 429 are retried with full-jitter backoff, then succeed", async () => {
  await using server = new HostileServer((r, i) =>
    i === 0 ? { status: 503 } : i === 1 ? { status: 429 } : serveBytes(r, DATA)
  );
  await withDest(async (dest) => {
    const { sleep, waits } = recordingSleep();
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      sleep,
      random: () => 0.5,
      backoffBaseMs: 1000,
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 3);
    // random 0.5 × min(cap, 1000 · 2^(n-1))
    assert.deepEqual(waits, [500, 1000]);
  });
});

Deno.test("backoff is capped by backoffCapMs", async () => {
  await using server = new HostileServer(() => ({ status: 500 }));
  await withDest(async (dest) => {
    const { sleep, waits } = recordingSleep();
    const url = `${server.url}/app.bin`;
    await assert.rejects(
      downloadArtifact(url, dest, {
        ...options(),
        sleep,
        random: () => 0.999,
        backoffBaseMs: 1000,
        backoffCapMs: 3000,
        maxAttempts: 5,
      }),
      {
        message:
          `Download of ${url} failed: HTTP 500 Internal Server Error; gave up after 5 attempts`,
      },
    );
    assert.deepEqual(waits, [999, 1998, 2997, 2997]);
    assert.equal(server.requests.length, 5);
  });
});

Deno.test("a refused connection is retried up to maxAttempts", async () => {
  // Find a free port, then close it so that connecting is refused.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await withDest(async (dest, dir) => {
    const url = `http://127.0.0.1:${port}/app.bin`;
    const { sleep, waits } = recordingSleep();
    const error = await downloadArtifact(url, dest, options({ sleep, maxAttempts: 2 })).catch((
      e,
    ) => e);
    assert.ok(error instanceof Error);
    assert.match(
      error.message,
      new RegExp(`^Download of ${url} failed: .+; gave up after 2 attempts$`),
    );
    assert.equal(waits.length, 1);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("options are validated", async () => {
  await withDest(async (dest) => {
    await assert.rejects(downloadArtifact("https://ms11.com/a", dest, options({ size: -1 })), {
      name: "RangeError",
      message: "Declared size of https://ms11.com/a must be an integer >= 0, got -1",
    });
    await assert.rejects(
      downloadArtifact("https://ms11.com/a", dest, options({ sha256: "abc" })),
      {
        name: "TypeError",
        message: 'Expected sha256 of https://ms11.com/a must be 64 lowercase hex digits, got "abc"',
      },
    );
    await assert.rejects(
      downloadArtifact("https://ms11.com/a", dest, options({ maxAttempts: 0 })),
      { name: "RangeError", message: "Option maxAttempts must be an integer >= 1, got 0" },
    );
    await assert.rejects(
      downloadArtifact("https://ms11.com/a", dest, options({ idleTimeoutMs: -5 })),
      { name: "RangeError", message: "Option idleTimeoutMs must be a positive number, got -5" },
    );
    await assert.rejects(downloadArtifact("not a url", dest, options()), {
      name: "TypeError",
      message: 'Invalid URL "not a url"',
    });
  });
});

// ---------------------------------------------------------------------------------------------
// URL policy and redirects

Deno.test("requireHttps (the default) refuses plain http, loopback included", async () => {
  await withDest(async (dest, dir) => {
    const { fetch, calls } = fakeFetch({});
    for (
      const url of [
        "http://127.0.0.1:8080/a",
        "http://localhost/a",
        "http://[::1]/a",
        "http://ms11.com/a",
      ]
    ) {
      await assert.rejects(
        downloadArtifact(url, dest, {
          size: 1,
          sha256: DATA_SHA,
          env: testEnv(new Date(), fetch),
        }),
        { message: `Refusing ${url}: only https: URLs are allowed (requireHttps)` },
      );
    }
    await assert.rejects(
      downloadArtifact("ftp://ms11.com/a", dest, { ...options(), env: testEnv(new Date(), fetch) }),
      { message: "Refusing ftp://ms11.com/a: only http: and https: URLs are supported" },
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("https is followed through redirects; a hop to http is refused", async () => {
  await withDest(async (dest, dir) => {
    const { fetch, calls } = fakeFetch({
      "https://ms11.com/a": redirect("/b", 301),
      "https://ms11.com/b": redirect("https://cdn.ms11.com/c", 307),
      "https://cdn.ms11.com/c": () => new Response(DATA),
      "https://ms11.com/bad": redirect("http://cdn.ms11.com/c"),
    });
    const env = testEnv(new Date(), fetch);
    const result = await downloadArtifact("https://ms11.com/a", dest, {
      size: DATA.length,
      sha256: DATA_SHA,
      env,
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(calls.map((c) => c.url), [
      "https://ms11.com/a",
      "https://ms11.com/b",
      "https://cdn.ms11.com/c",
    ]);
    await Deno.remove(dest);
    await assert.rejects(
      downloadArtifact("https://ms11.com/bad", dest, { size: DATA.length, sha256: DATA_SHA, env }),
      {
        message:
          "Refusing redirect from https://ms11.com/bad to http://cdn.ms11.com/c: only https: URLs are allowed (requireHttps)",
      },
    );
    assert.equal(calls.length, 4);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("allowedDomains: exact host or subdomain, at every hop", async () => {
  await withDest(async (dest, dir) => {
    const { fetch, calls } = fakeFetch({
      "https://cdn.ms11.com/a": () => new Response(DATA),
      "https://ms11.com/a": redirect("https://evil.example/a"),
      "https://ms11.com/b": redirect("https://cdn.ms11.com/a"),
    });
    const base = {
      size: DATA.length,
      sha256: DATA_SHA,
      env: testEnv(new Date(), fetch),
      allowedDomains: ["ms11.com", "ms11.org"],
    };
    await downloadArtifact("https://cdn.ms11.com/a", dest, base);
    await Deno.remove(dest);
    await downloadArtifact("https://ms11.com/b", dest, base);
    await Deno.remove(dest);
    await assert.rejects(downloadArtifact("https://evilms11.com/a", dest, base), {
      message:
        "Refusing https://evilms11.com/a: host evilms11.com is not in allowedDomains [ms11.com, ms11.org]",
    });
    await assert.rejects(downloadArtifact("https://ms11.com/a", dest, base), {
      message:
        "Refusing redirect from https://ms11.com/a to https://evil.example/a: host evil.example is not in allowedDomains [ms11.com, ms11.org]",
    });
    assert.deepEqual(calls.map((c) => c.url), [
      "https://cdn.ms11.com/a",
      "https://ms11.com/b",
      "https://cdn.ms11.com/a",
      "https://ms11.com/a",
    ]);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("credentials are dropped once a redirect leaves the origin", async () => {
  await withDest(async (dest) => {
    const { fetch, calls } = fakeFetch({
      "https://ms11.com/a": redirect("/b"),
      "https://ms11.com/b": redirect("https://cdn.example/c"),
      "https://cdn.example/c": redirect("https://ms11.com/d"),
      "https://ms11.com/d": () => new Response(DATA),
    });
    await downloadArtifact("https://ms11.com/a", dest, {
      size: DATA.length,
      sha256: DATA_SHA,
      env: testEnv(new Date(), fetch),
      headers: { authorization: "Bearer secret", cookie: "s=1", "x-client": "ms11-update" },
    });
    const seen = calls.map((c) => [c.url, c.headers.get("authorization"), c.headers.get("cookie")]);
    assert.deepEqual(seen, [
      ["https://ms11.com/a", "Bearer secret", "s=1"],
      ["https://ms11.com/b", "Bearer secret", "s=1"],
      ["https://cdn.example/c", null, null],
      ["https://ms11.com/d", null, null],
    ]);
    assert.ok(calls.every((c) => c.headers.get("x-client") === "ms11-update"));
  });
});

Deno.test("redirects: a foreign host, more than 5 hops, a loop, no Location", async () => {
  let foreign = "";
  await using server = new HostileServer((r): HostileReply => {
    const hop = /^\/hop(\d+)$/.exec(r.path);
    if (hop !== null) {
      const n = Number(hop[1]);
      return n === 0 ? serveBytes(r, DATA) : { status: 302, headers: { location: `/hop${n - 1}` } };
    }
    if (r.path === "/loop-a") return { status: 307, headers: { location: "/loop-b" } };
    if (r.path === "/loop-b") return { status: 308, headers: { location: "/loop-a" } };
    if (r.path === "/foreign") return { status: 302, headers: { location: foreign } };
    if (r.path === "/nowhere") return { status: 302 };
    return { status: 404 };
  });
  foreign = `http://localhost:${new URL(server.url).port}/hop0`;
  await withDest(async (dest, dir) => {
    const base = options({ allowedDomains: ["127.0.0.1"] });
    // Five hops are allowed.
    await downloadArtifact(`${server.url}/hop5`, dest, base);
    await Deno.remove(dest);
    await assert.rejects(downloadArtifact(`${server.url}/hop6`, dest, base), {
      message:
        `Refusing redirect from ${server.url}/hop1 to ${server.url}/hop0: more than 5 redirects`,
    });
    await assert.rejects(downloadArtifact(`${server.url}/loop-a`, dest, base), {
      message: `Refusing redirect from ${server.url}/loop-b to ${server.url}/loop-a: redirect loop`,
    });
    await assert.rejects(downloadArtifact(`${server.url}/foreign`, dest, base), {
      message:
        `Refusing redirect from ${server.url}/foreign to ${foreign}: host localhost is not in allowedDomains [127.0.0.1]`,
    });
    await assert.rejects(downloadArtifact(`${server.url}/nowhere`, dest, base), {
      message:
        `Download of ${server.url}/nowhere failed: HTTP 302 Found from ${server.url}/nowhere without a Location header`,
    });
    assert.deepEqual(server.requests.map((r) => r.path), [
      ...["/hop5", "/hop4", "/hop3", "/hop2", "/hop1", "/hop0"],
      ...["/hop6", "/hop5", "/hop4", "/hop3", "/hop2", "/hop1"],
      ...["/loop-a", "/loop-b", "/foreign", "/nowhere"],
    ]);
    assert.deepEqual(await listDir(dir), []);
  });
});

// ---------------------------------------------------------------------------------------------
// fetchLimited

Deno.test("fetchLimited returns body and validators, sends conditions, 304 gives null", async () => {
  const manifest = new TextEncoder().encode('{"version":"1.2.3"}');
  const lastModified = "Thu, 26 Nov 2026 10:00:00 GMT";
  await using server = new HostileServer((r): HostileReply => {
    if (r.headers.get("if-none-match") === ETAG) return { status: 304, headers: { etag: ETAG } };
    if (r.path === "/moved") return { status: 301, headers: { location: "/manifest.json" } };
    return { body: manifest, headers: { etag: ETAG, "last-modified": lastModified } };
  });
  const first = await fetchLimited(`${server.url}/moved`, { requireHttps: false });
  assert.deepEqual(first, {
    status: 200,
    body: manifest,
    etag: ETAG,
    lastModified,
    url: `${server.url}/manifest.json`,
  });
  const second = await fetchLimited(`${server.url}/manifest.json`, {
    requireHttps: false,
    ifNoneMatch: ETAG,
    ifModifiedSince: lastModified,
  });
  assert.deepEqual(second, {
    status: 304,
    body: null,
    etag: ETAG,
    lastModified: null,
    url: `${server.url}/manifest.json`,
  });
  assert.equal(server.requests[2].headers.get("if-none-match"), ETAG);
  assert.equal(server.requests[2].headers.get("if-modified-since"), lastModified);
  assert.equal(server.requests[0].headers.get("if-none-match"), null);
});

Deno.test("fetchLimited refuses a body over maxBytes, announced or not", async () => {
  const big = new Uint8Array(65_537);
  await using server = new HostileServer((r): HostileReply =>
    r.path === "/announced"
      ? { body: big }
      : r.path === "/endless"
      ? { body: big, contentLength: null, endless: true }
      : { body: big.subarray(0, 65_536), contentLength: null }
  );
  for (const path of ["/announced", "/endless"]) {
    await assert.rejects(fetchLimited(`${server.url}${path}`, { requireHttps: false }), {
      name: "RangeError",
      message: `Response from ${server.url}${path} exceeds 65536 bytes`,
    });
  }
  const exact = await fetchLimited(`${server.url}/exact`, { requireHttps: false });
  assert.equal(exact.body?.length, 65_536);
  await assert.rejects(
    fetchLimited(`${server.url}/exact`, { requireHttps: false, maxBytes: 1000 }),
    { name: "RangeError", message: `Response from ${server.url}/exact exceeds 1000 bytes` },
  );
  // Not retried.
  assert.equal(server.requests.length, 4);
});

Deno.test("fetchLimited: 404 not retried, 503 retried, policy enforced", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    r.path === "/missing"
      ? { status: 404 }
      : i === 1
      ? { status: 503 }
      : { body: new TextEncoder().encode("ok") }
  );
  await assert.rejects(
    fetchLimited(`${server.url}/missing`, { requireHttps: false, maxAttempts: 3 }),
    { message: `Fetch of ${server.url}/missing failed: HTTP 404 Not Found` },
  );
  assert.equal(server.requests.length, 1);
  const { sleep, waits } = recordingSleep();
  const ok = await fetchLimited(`${server.url}/m`, { requireHttps: false, sleep });
  assert.equal(new TextDecoder().decode(ok.body!), "ok");
  assert.equal(waits.length, 1);
  assert.equal(server.requests.length, 3);
  await assert.rejects(fetchLimited(`${server.url}/m`), {
    message: `Refusing ${server.url}/m: only https: URLs are allowed (requireHttps)`,
  });
  assert.equal(server.requests.length, 3);
});

// ---------------------------------------------------------------------------------------------
// Resume within a run

const HALF = DATA.length / 2;
const LAST_MODIFIED = "Thu, 26 Nov 2026 10:00:00 GMT";

Deno.test("connection cut at 50%: resumes with Range and If-Range (ETag), verifies", async () => {
  await using server = new HostileServer((r, i) =>
    serveBytes(r, DATA, { etag: ETAG, cutAfter: i === 0 ? HALF : undefined })
  );
  await withDest(async (dest, dir) => {
    const watch = watchingFetch(`${dest}.partial`);
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env: testEnv(new Date(), watch.fetch),
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
    assert.equal(server.requests[1].bytesSent, DATA.length - HALF);
    assert.ok(server.bytesSent <= 1.1 * DATA.length, `${server.bytesSent} bytes served`);
    assert.ok(watch.maxPartialSize() <= DATA.length);
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
  });
});

Deno.test("repeated cuts: each retry resumes; bytes served stay at the artifact size", async () => {
  const step = DATA.length / 6;
  await using server = new HostileServer((r) =>
    serveBytes(r, DATA, { lastModified: LAST_MODIFIED, cutAfter: step })
  );
  await withDest(async (dest) => {
    const { sleep, waits } = recordingSleep();
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      sleep,
      maxAttempts: 6,
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 6);
    assert.deepEqual(
      server.requests.map((r) => [r.headers.get("range"), r.headers.get("if-range")]),
      [[null, null], ...[1, 2, 3, 4, 5].map((k) => [`bytes=${k * step}-`, LAST_MODIFIED])],
    );
    assert.equal(server.bytesSent, DATA.length);
    assert.equal(waits.length, 5);
  });
});

Deno.test("repeated cuts with too few attempts: fails, keeps the partial for later", async () => {
  const step = DATA.length / 6;
  await using server = new HostileServer((r) =>
    serveBytes(r, DATA, { etag: ETAG, cutAfter: step })
  );
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    const error = await downloadArtifact(url, dest, options({ maxAttempts: 3 })).catch((e) => e);
    assert.ok(error instanceof Error);
    assert.match(
      error.message,
      new RegExp(`^Download of ${url} failed: .+; gave up after 3 attempts$`),
    );
    assert.equal(server.requests.length, 3);
    assert.deepEqual(await listDir(dir), ["artifact.bin.partial", "artifact.bin.partial.json"]);
    assert.equal((await Deno.stat(`${dest}.partial`)).size, 3 * step);
  });
});

Deno.test("no validator: resumes only because the checksum is verified", async () => {
  await using server = new HostileServer((r, i) =>
    serveBytes(r, DATA, { cutAfter: i === 0 || i === 2 ? HALF : undefined })
  );
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(server.requests[1].headers.get("if-range"), null);
    await Deno.remove(dest);
    // Without the checksum nothing would catch a splice: start over instead.
    await downloadArtifact(`${server.url}/app.bin`, dest, options({ verifyChecksum: false }));
    assert.equal(server.requests.length, 4);
    assert.equal(server.requests[3].headers.get("range"), null);
    assert.equal(server.requests[3].bytesSent, DATA.length);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

Deno.test("server ignores Range: starts over with the 200, never appends", async () => {
  await using server = new HostileServer((r, i) =>
    serveBytes(r, DATA, { etag: ETAG, ignoreRange: true, cutAfter: i === 0 ? HALF : undefined })
  );
  await withDest(async (dest) => {
    const watch = watchingFetch(`${dest}.partial`);
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env: testEnv(new Date(), watch.fetch),
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(server.requests[1].bytesSent, DATA.length);
    assert.ok(watch.maxPartialSize() <= DATA.length, `${watch.maxPartialSize()}`);
  });
});

Deno.test("a 206 with the wrong Content-Range discards the partial and starts over", async () => {
  const cases: [string, string][] = [
    ["starts elsewhere", `bytes 0-${DATA.length - 1}/${DATA.length}`],
    ["other total", `bytes ${HALF}-${DATA.length}/${DATA.length + 1}`],
    ["unknown total", `bytes ${HALF}-${DATA.length - 1}/*`],
  ];
  for (const [what, contentRange] of cases) {
    await using server = new HostileServer((r, i): HostileReply => {
      if (i === 0) return serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF });
      if (i === 1) {
        return {
          status: 206,
          headers: { etag: ETAG, "content-range": contentRange },
          body: DATA.subarray(HALF),
        };
      }
      return serveBytes(r, DATA, { etag: ETAG });
    });
    await withDest(async (dest) => {
      const result = await downloadArtifact(
        `${server.url}/app.bin`,
        dest,
        options({ maxAttempts: 2 }),
      );
      assert.equal(result.sha256, DATA_SHA, what);
      assert.equal(server.requests.length, 3, what);
      assert.equal(server.requests[2].headers.get("range"), null, what);
      assert.deepEqual(await Deno.readFile(dest), DATA, what);
    });
  }
});

Deno.test("a 206 with a changed ETag discards the partial and starts over", async () => {
  const v2 = pseudoRandom(DATA.length, 3);
  await using server = new HostileServer((r, i): HostileReply => {
    if (i === 0) return serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF });
    if (i === 1) {
      // A broken cache: ignores If-Range and serves a range of another version.
      return {
        status: 206,
        headers: {
          etag: '"v2"',
          "content-range": `bytes ${HALF}-${DATA.length - 1}/${DATA.length}`,
        },
        body: v2.subarray(HALF),
      };
    }
    return serveBytes(r, DATA, { etag: ETAG });
  });
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(server.requests.length, 3);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
    assert.equal(server.requests[2].headers.get("range"), null);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

Deno.test("If-Range no longer matching (a new version): the 200 replaces the partial", async () => {
  let etag = ETAG;
  await using server = new HostileServer((r, i) => {
    const reply = serveBytes(r, DATA, { etag, cutAfter: i === 0 ? HALF : undefined });
    etag = '"v2"';
    return reply;
  });
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
    assert.equal(server.requests[1].bytesSent, DATA.length);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

Deno.test("a 416 to the Range request discards the partial and starts over", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 0
      ? serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF })
      : i === 1
      ? { status: 416, headers: { "content-range": `bytes */${DATA.length}` } }
      : serveBytes(r, DATA, { etag: ETAG })
  );
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options({ maxAttempts: 2 }));
    assert.equal(server.requests.length, 3);
    assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(server.requests[2].headers.get("range"), null);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

Deno.test("a 206 of part of the file to a request without Range is refused", async () => {
  await using server = new HostileServer((): HostileReply => ({
    status: 206,
    headers: { "content-range": `bytes 0-${HALF - 1}/${DATA.length}` },
    body: DATA.subarray(0, HALF),
  }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    await assert.rejects(downloadArtifact(url, dest, options()), {
      message:
        `Download of ${url} failed: unexpected HTTP 206 Partial Content to a request without Range (Content-Range "bytes 0-${
          HALF - 1
        }/${DATA.length}" does not continue at byte 0 of ${DATA.length})`,
    });
    assert.equal(server.requests.length, 1);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("a 206 of the whole file to a request without Range is the whole file", async () => {
  await using server = new HostileServer((): HostileReply => ({
    status: 206,
    headers: { "content-range": `bytes 0-${DATA.length - 1}/${DATA.length}` },
    body: DATA,
  }));
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Resume across runs

/** An env whose clock jumps a second at each reading, so that every chunk is reported. */
function tickingEnv(fetchImpl: typeof fetch = fetch) {
  let t = Date.parse("2026-11-27T00:00:00Z");
  return { now: () => new Date(t += 1000), fetch: fetchImpl };
}

Deno.test("resume after an aborted run: only the rest is fetched", async () => {
  await using server = new HostileServer((r, i) =>
    i === 0
      ? { ...serveBytes(r, DATA, { etag: ETAG }), stallAfter: HALF }
      : serveBytes(r, DATA, { etag: ETAG })
  );
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    const controller = new AbortController();
    const error = await downloadArtifact(url, dest, {
      ...options(),
      env: tickingEnv(),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done >= HALF) controller.abort();
      },
    }).catch((e) => e);
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "AbortError");
    assert.deepEqual(await listDir(dir), ["artifact.bin.partial", "artifact.bin.partial.json"]);
    assert.equal((await Deno.stat(`${dest}.partial`)).size, HALF);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dest}.partial.json`)), {
      url,
      sha256: DATA_SHA,
      size: DATA.length,
      etag: ETAG,
      last_modified: null,
    });

    const reports: Progress[] = [];
    const result = await downloadArtifact(url, dest, {
      ...options(),
      onProgress: (p) => reports.push(p),
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
    assert.equal(server.requests[1].bytesSent, DATA.length - HALF);
    assert.deepEqual(reports[0], { phase: "download", done: HALF, total: DATA.length });
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
  });
});

Deno.test("resume after the process was killed (kill -9) mid-download", async () => {
  const server = new HostileServer((r, i) =>
    i === 0
      ? { ...serveBytes(r, DATA, { etag: ETAG }), stallAfter: HALF }
      : serveBytes(r, DATA, { etag: ETAG })
  );
  try {
    await withDest(async (dest, dir) => {
      const url = `${server.url}/app.bin`;
      const script = `${dir}/child.ts`;
      const lib = new URL("../lib/net/download.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { downloadArtifact } from ${JSON.stringify(lib)};
let t = 0;
await downloadArtifact(${JSON.stringify(url)}, ${JSON.stringify(dest)}, {
  size: ${DATA.length}, sha256: ${JSON.stringify(DATA_SHA)}, requireHttps: false,
  env: { now: () => new Date(t += 1000), fetch },
  onProgress: (p) => { if (p.done >= ${HALF}) console.log("half"); },
});
`,
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", script],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("half")) {
        const { done, value } = await reader.read();
        if (done) break;
        out += value;
      }
      child.kill("SIGKILL");
      await reader.cancel();
      const status = await child.status;
      assert.equal(out.trim().split("\n")[0], "half");
      assert.equal(status.signal, "SIGKILL");
      await Deno.remove(script);
      assert.deepEqual(await listDir(dir), ["artifact.bin.partial", "artifact.bin.partial.json"]);

      const result = await downloadArtifact(url, dest, options());
      assert.equal(result.sha256, DATA_SHA);
      assert.equal(server.requests.length, 2);
      assert.equal(server.requests[1].headers.get("range"), `bytes=${HALF}-`);
      assert.equal(server.requests[1].bytesSent, DATA.length - HALF);
      assert.deepEqual(await listDir(dir), ["artifact.bin"]);
    });
  } finally {
    await server.close();
  }
});

Deno.test("a partial from another artifact, or without a sidecar, is discarded", async () => {
  await using server = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    // Sidecar for another digest.
    await Deno.writeFile(`${dest}.partial`, DATA.subarray(0, 1000));
    await Deno.writeTextFile(
      `${dest}.partial.json`,
      JSON.stringify({
        url,
        sha256: "0".repeat(64),
        size: DATA.length,
        etag: ETAG,
        last_modified: null,
      }),
    );
    await downloadArtifact(url, dest, options());
    assert.equal(server.requests[0].headers.get("range"), null);
    await Deno.remove(dest);
    // No sidecar at all.
    await Deno.writeFile(`${dest}.partial`, DATA.subarray(0, 1000));
    await downloadArtifact(url, dest, options());
    assert.equal(server.requests[1].headers.get("range"), null);
    await Deno.remove(dest);
    // A torn sidecar.
    await Deno.writeFile(`${dest}.partial`, DATA.subarray(0, 1000));
    await Deno.writeTextFile(`${dest}.partial.json`, '{"url": "');
    await downloadArtifact(url, dest, options());
    assert.equal(server.requests[2].headers.get("range"), null);
    // A partial longer than the artifact.
    await Deno.remove(dest);
    await Deno.writeFile(`${dest}.partial`, new Uint8Array(DATA.length + 1));
    await Deno.writeTextFile(
      `${dest}.partial.json`,
      JSON.stringify({
        url,
        sha256: DATA_SHA,
        size: DATA.length,
        etag: ETAG,
        last_modified: null,
      }),
    );
    await downloadArtifact(url, dest, options());
    assert.equal(server.requests[3].headers.get("range"), null);
    assert.equal(server.requests.length, 4);
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

Deno.test("a complete, matching partial from an earlier run needs no request", async () => {
  await using server = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    await Deno.writeFile(`${dest}.partial`, DATA);
    await Deno.writeTextFile(
      `${dest}.partial.json`,
      JSON.stringify({
        url,
        sha256: DATA_SHA,
        size: DATA.length,
        etag: ETAG,
        last_modified: null,
      }),
    );
    const result = await downloadArtifact(url, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 0);
    assert.deepEqual(await listDir(dir), ["artifact.bin"]);
  });
});

Deno.test("a complete partial with wrong bytes is refetched from the start", async () => {
  await using server = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  await withDest(async (dest) => {
    const url = `${server.url}/app.bin`;
    await Deno.writeFile(`${dest}.partial`, pseudoRandom(DATA.length, 5));
    await Deno.writeTextFile(
      `${dest}.partial.json`,
      JSON.stringify({
        url,
        sha256: DATA_SHA,
        size: DATA.length,
        etag: ETAG,
        last_modified: null,
      }),
    );
    const result = await downloadArtifact(url, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    // bytes=size- is unsatisfiable: 416, then a fresh download.
    assert.deepEqual(server.requests.map((r) => r.headers.get("range")), [
      `bytes=${DATA.length}-`,
      null,
    ]);
    assert.deepEqual(await Deno.readFile(dest), DATA);
  });
});

// ---------------------------------------------------------------------------------------------
// Timeouts and Retry-After

Deno.test("slow body: the idle timeout aborts each attempt, retries are bounded", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 0
      ? { ...serveBytes(r, DATA, { etag: ETAG }), stallAfter: 1000 }
      : { ...serveBytes(r, DATA, { etag: ETAG }), stallAfter: 0 }
  );
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    const error = await downloadArtifact(
      url,
      dest,
      options({ idleTimeoutMs: 500, maxAttempts: 2 }),
    )
      .catch((e) => e);
    assert.ok(error instanceof Deno.errors.TimedOut);
    assert.equal(
      error.message,
      `Download of ${url} failed: no data received for 500 ms (idleTimeoutMs); gave up after 2 attempts`,
    );
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1].headers.get("range"), "bytes=1000-");
    // What arrived is kept for a later run.
    assert.deepEqual(await listDir(dir), ["artifact.bin.partial", "artifact.bin.partial.json"]);
    assert.equal((await Deno.stat(`${dest}.partial`)).size, 1000);
  });
});

Deno.test("a server that never answers: idle timeout before the headers", async () => {
  await using server = new HostileServer((): HostileReply => ({ silent: true }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    await assert.rejects(
      downloadArtifact(url, dest, options({ idleTimeoutMs: 50, maxAttempts: 1 })),
      {
        name: "TimedOut",
        message:
          `Download of ${url} failed: no data received for 50 ms (idleTimeoutMs); gave up after 1 attempt`,
      },
    );
    assert.equal(server.requests.length, 1);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("the total timeout ends the download and names its value", async () => {
  await using server = new HostileServer((r): HostileReply => ({
    ...serveBytes(r, DATA),
    stallAfter: 1000,
  }));
  await withDest(async (dest) => {
    const url = `${server.url}/app.bin`;
    await assert.rejects(downloadArtifact(url, dest, options({ timeoutMs: 150 })), {
      name: "TimedOut",
      message: `Download of ${url} timed out: total timeout of 150 ms (timeoutMs) exceeded`,
    });
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("the total timeout counts the waits between attempts (by env.now)", async () => {
  await using server = new HostileServer((): HostileReply => ({ status: 503 }));
  await withDest(async (dest) => {
    const env = testEnv(new Date("2026-11-27T00:00:00Z"));
    const url = `${server.url}/app.bin`;
    await assert.rejects(
      downloadArtifact(url, dest, {
        ...options(),
        env,
        timeoutMs: 60_000,
        maxAttempts: 10,
        random: () => 0.999,
        backoffBaseMs: 20_000,
        sleep: (ms) => {
          env.advance(ms);
          return Promise.resolve();
        },
      }),
      {
        name: "TimedOut",
        message: `Download of ${url} timed out: total timeout of 60000 ms (timeoutMs) exceeded`,
      },
    );
    // Waits of 19 980 and 39 960 ms; the third is cut to the 20 060 ms left.
    assert.equal(server.requests.length, 3);
  });
});

Deno.test("503 with Retry-After (seconds or date) within the budget is honoured", async () => {
  const start = new Date("2026-11-27T00:00:00Z");
  await using server = new HostileServer((r, i): HostileReply =>
    i === 0
      ? { status: 503, headers: { "retry-after": "2" } }
      : i === 1
      ? { status: 429, headers: { "retry-after": new Date(start.getTime() + 7000).toUTCString() } }
      : i === 2
      ? { status: 503, headers: { "retry-after": "3600" } }
      : serveBytes(r, DATA)
  );
  await withDest(async (dest) => {
    const env = testEnv(start);
    const waits: number[] = [];
    await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options(),
      env,
      maxAttempts: 4,
      sleep: (ms) => {
        waits.push(ms);
        env.advance(ms);
        return Promise.resolve();
      },
    });
    // 2 s; the date 7 s after start, 2 s of it gone; 3600 s capped at maxRetryAfterMs.
    assert.deepEqual(waits, [2000, 5000, 60_000]);
    assert.equal(server.requests.length, 4);
  });
});

Deno.test("503 with a Retry-After beyond the remaining budget fails at once", async () => {
  await using server = new HostileServer((): HostileReply => ({
    status: 503,
    headers: { "retry-after": "30" },
  }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    const { sleep, waits } = recordingSleep();
    await assert.rejects(
      downloadArtifact(url, dest, {
        ...options(),
        env: testEnv(new Date("2026-11-27T00:00:00Z")),
        sleep,
        timeoutMs: 10_000,
      }),
      {
        message:
          `Download of ${url} failed: HTTP 503 Service Unavailable; Retry-After asks to wait 30000 ms, more than the 10000 ms left of timeoutMs 10000`,
      },
    );
    assert.equal(server.requests.length, 1);
    assert.deepEqual(waits, []);
    assert.deepEqual(await listDir(dir), []);
    // A lower cap brings the same answer within the budget.
    await assert.rejects(
      downloadArtifact(url, dest, {
        ...options(),
        sleep,
        timeoutMs: 10_000,
        maxRetryAfterMs: 5000,
        maxAttempts: 2,
      }),
      {
        message:
          `Download of ${url} failed: HTTP 503 Service Unavailable; gave up after 2 attempts`,
      },
    );
    assert.deepEqual(waits, [5000]);
  });
});

Deno.test("aborting during the wait between attempts rejects with the signal's reason", async () => {
  await using server = new HostileServer((): HostileReply => ({ status: 503 }));
  await withDest(async (dest, dir) => {
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    await assert.rejects(
      downloadArtifact(`${server.url}/app.bin`, dest, {
        ...options(),
        sleep: (_ms, signal) => {
          controller.abort(reason);
          return Promise.reject(signal.reason);
        },
        signal: controller.signal,
      }),
      (e) => e === reason,
    );
    assert.equal(server.requests.length, 1);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("fetchLimited: idle timeout and retry", async () => {
  await using server = new HostileServer((_r, i): HostileReply =>
    i === 0 ? { silent: true } : { body: new TextEncoder().encode("{}") }
  );
  const result = await fetchLimited(`${server.url}/manifest.json`, {
    requireHttps: false,
    idleTimeoutMs: 2000,
    sleep: () => Promise.resolve(),
  });
  assert.equal(new TextDecoder().decode(result.body!), "{}");
  assert.equal(server.requests.length, 2);
});

Deno.test("user names and passwords in URLs never reach messages", async () => {
  const { fetch } = fakeFetch({
    "https://user:secret@ms11.com/a": () => new Response(null, { status: 404 }),
    "https://user:secret@ms11.com/b": redirect("http://ms11.com/c"),
  });
  const env = testEnv(new Date(), fetch);
  await withDest(async (dest) => {
    await assert.rejects(
      downloadArtifact("https://user:secret@ms11.com/a", dest, { size: 1, sha256: DATA_SHA, env }),
      { message: "Download of https://ms11.com/a failed: HTTP 404 Not Found" },
    );
    await assert.rejects(
      downloadArtifact("https://user:secret@ms11.com/b", dest, { size: 1, sha256: DATA_SHA, env }),
      {
        message:
          "Refusing redirect from https://ms11.com/b to http://ms11.com/c: only https: URLs are allowed (requireHttps)",
      },
    );
    await assert.rejects(
      fetchLimited("http://user:secret@ms11.com/m", { env }),
      { message: "Refusing http://ms11.com/m: only https: URLs are allowed (requireHttps)" },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Real TLS on loopback

const HAS_OPENSSL = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "https on loopback passes the default requireHttps; its redirect to http does not",
  ignore: !HAS_OPENSSL,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "download_tls_" });
    try {
      const { caPem, cert, key } = await makeTestCertificates(dir);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
        (request): Response => {
          const path = new URL(request.url).pathname;
          if (path === "/downgrade") {
            return new Response(null, {
              status: 302,
              headers: { location: `http://127.0.0.1:${server.addr.port}/app.bin` },
            });
          }
          return new Response(DATA, { headers: { etag: ETAG } });
        },
      );
      const client = Deno.createHttpClient({ caCerts: [caPem] });
      try {
        const tlsFetch: typeof fetch = (input, init) => fetch(input, { ...init, client });
        const env = testEnv(new Date(), tlsFetch);
        const base = `https://127.0.0.1:${server.addr.port}`;
        const dest = `${dir}/artifact.bin`;
        const result = await downloadArtifact(`${base}/app.bin`, dest, {
          size: DATA.length,
          sha256: DATA_SHA,
          env,
          allowedDomains: ["127.0.0.1"],
        });
        assert.equal(result.sha256, DATA_SHA);
        await assert.rejects(
          downloadArtifact(`${base}/downgrade`, `${dir}/other.bin`, {
            size: DATA.length,
            sha256: DATA_SHA,
            env,
          }),
          {
            message:
              `Refusing redirect from ${base}/downgrade to http://127.0.0.1:${server.addr.port}/app.bin: only https: URLs are allowed (requireHttps)`,
          },
        );
        assert.equal(await exists(`${dir}/other.bin.partial`), false);
      } finally {
        client.close();
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "TLS with an untrusted certificate fails closed at once: no retry, nothing kept",
  ignore: !HAS_OPENSSL,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "download_tls_" });
    try {
      // A CA nobody trusts here.
      await Deno.mkdir(`${dir}/certs`);
      const { cert, key } = await makeTestCertificates(`${dir}/certs`);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, cert, key, onListen() {} },
        () => new Response(DATA),
      );
      try {
        let calls = 0;
        const counting: typeof fetch = (input, init) => {
          calls++;
          return fetch(input, init);
        };
        const url = `https://127.0.0.1:${server.addr.port}/app.bin`;
        const dest = `${dir}/artifact.bin`;
        await assert.rejects(
          downloadArtifact(url, dest, {
            size: DATA.length,
            sha256: DATA_SHA,
            env: testEnv(new Date(), counting),
            maxAttempts: 3,
            sleep: () => Promise.resolve(),
          }),
          {
            name: "Error",
            message:
              `Download of ${url} failed: fetch failed: error sending request for url (${url}): client error (Connect): invalid peer certificate: UnknownIssuer`,
          },
        );
        assert.equal(calls, 1);
        assert.deepEqual(await listDir(dir), ["certs"]);
      } finally {
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("requireHttps false allows plain http to loopback hosts only, at every hop", async () => {
  await withDest(async (dest, dir) => {
    const { fetch, calls } = fakeFetch({
      "http://localhost/a": redirect("http://127.0.0.2/b"),
      "http://127.0.0.2/b": redirect("http://updates.ms11.com/c"),
    });
    const env = testEnv(new Date(), fetch);
    for (const url of ["http://ms11.com/a", "http://10.0.0.1/a", "http://127.0.0.1.nip.io/a"]) {
      await assert.rejects(downloadArtifact(url, dest, { ...options(), env }), {
        message: `Refusing ${url}: plain http: is only allowed to a loopback host`,
      });
    }
    assert.equal(calls.length, 0);
    await assert.rejects(downloadArtifact("http://localhost/a", dest, { ...options(), env }), {
      message:
        "Refusing redirect from http://127.0.0.2/b to http://updates.ms11.com/c: plain http: is only allowed to a loopback host",
    });
    assert.deepEqual(calls.map((c) => c.url), ["http://localhost/a", "http://127.0.0.2/b"]);
    assert.deepEqual(await listDir(dir), []);
  });
});
