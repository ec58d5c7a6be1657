import assert from "node:assert/strict";
import { type RequestInfo, type ServeOptions, serveReleases } from "../lib/publish/serve.ts";
import { makeTestCertificates } from "./_nginx.ts";
import { pseudoRandom } from "./_helpers.ts";

const MIB = 1024 * 1024;
const SMALL_MTIME = new Date("2026-01-02T03:04:05.678Z");

const BLOB = pseudoRandom(3 * MIB + 123);

/** A release tree (`<dir>/root`) with a secret file next to it, served for the test's duration. */
interface Fixture {
  dir: string;
  root: string;
  url: string;
  port: number;
  infos: RequestInfo[];
  server: ReturnType<typeof serveReleases>;
}

async function withServer(
  fn: (f: Fixture) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "serve_test_" });
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/stable`, { recursive: true });
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeFile(`${root}/blob.bin`, BLOB);
  await Deno.writeTextFile(`${root}/small.bin`, "0123456789");
  await Deno.utime(`${root}/small.bin`, SMALL_MTIME, SMALL_MTIME);
  await Deno.writeTextFile(`${root}/empty.bin`, "");
  await Deno.writeTextFile(`${root}/stable/manifest.json`, '{"version":"1.0.0"}');
  await Deno.writeTextFile(`${root}/.hidden`, "hidden");
  await Deno.writeTextFile(`${dir}/secret.txt`, "secret");
  await Deno.symlink("../secret.txt", `${root}/escape`);
  await Deno.symlink(dir, `${root}/sub/outside`);
  await Deno.symlink("small.bin", `${root}/link.bin`);
  await Deno.symlink("loop-b", `${root}/loop-a`);
  await Deno.symlink("loop-a", `${root}/loop-b`);
  const infos: RequestInfo[] = [];
  const server = serveReleases(root, {
    ...options,
    onRequest: (info) => {
      infos.push(info);
      options.onRequest?.(info);
    },
  });
  try {
    await fn({
      dir,
      root: await Deno.realPath(root),
      url: server.url,
      port: server.port,
      infos,
      server,
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Files of this process open under `dir` (from /proc/self/fd). */
async function openFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${entry.name}`).catch(() => "");
    if (target.startsWith(`${dir}/`)) found.push(target);
  }
  return found;
}

/** A file of `size` zero bytes that takes no disk space. */
async function sparseFile(path: string, size: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  try {
    await file.truncate(size);
  } finally {
    file.close();
  }
}

/** Send one raw HTTP/1.1 request line (so no client normalises the path); the status code. */
async function rawStatus(port: number, target: string, method = "GET"): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  assert.ok(match, `no status line in ${JSON.stringify(text.slice(0, 80))}`);
  return Number(match[1]);
}

async function get(url: string, headers: Record<string, string> = {}, method = "GET") {
  const response = await fetch(url, { method, headers });
  const body = await response.bytes();
  return { status: response.status, headers: response.headers, body };
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

Deno.test("GET serves a file's bytes with validators and caching headers", async () => {
  await withServer(async ({ url, root, infos, server }) => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await get(`${url}/blob.bin`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, BLOB);
    assert.equal(r.headers.get("content-length"), String(BLOB.length));
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.equal(r.headers.get("accept-ranges"), "bytes");
    assert.match(r.headers.get("cache-control")!, /^public, max-age=\d+$/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    const info = await Deno.stat(`${root}/blob.bin`);
    const mtime = info.mtime!.getTime();
    assert.equal(
      r.headers.get("etag"),
      `"${BLOB.length.toString(16)}-${mtime.toString(16)}-${info.ino!.toString(16)}"`,
    );
    assert.equal(
      r.headers.get("last-modified"),
      new Date(Math.floor(mtime / 1000) * 1000).toUTCString(),
    );
    assert.deepEqual(infos, [{
      method: "GET",
      path: "/blob.bin",
      status: 200,
      range: undefined,
      bytes: BLOB.length,
    }]);
    assert.equal(server.requests, 1);
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("Last-Modified is the mtime to the second and the ETag changes with the file", async () => {
  await withServer(async ({ url, root }) => {
    const first = await get(`${url}/small.bin`);
    assert.equal(text(first.body), "0123456789");
    assert.equal(first.headers.get("last-modified"), "Fri, 02 Jan 2026 03:04:05 GMT");
    const etag = first.headers.get("etag")!;
    assert.match(etag, new RegExp(`^"a-${SMALL_MTIME.getTime().toString(16)}-[0-9a-f]+"$`));
    const later = new Date(SMALL_MTIME.getTime() + 1);
    await Deno.utime(`${root}/small.bin`, later, later);
    const touched = await get(`${url}/small.bin`);
    assert.notEqual(touched.headers.get("etag"), etag);
    await Deno.writeTextFile(`${root}/small.bin`, "01234567890");
    await Deno.utime(`${root}/small.bin`, SMALL_MTIME, SMALL_MTIME);
    const grown = await get(`${url}/small.bin`);
    assert.notEqual(grown.headers.get("etag"), etag);
    assert.equal(text(grown.body), "01234567890");
  });
});

Deno.test("JSON files are application/json with Cache-Control no-cache", async () => {
  await withServer(async ({ url, root }) => {
    const r = await get(`${url}/stable/manifest.json`);
    assert.equal(r.status, 200);
    assert.equal(text(r.body), '{"version":"1.0.0"}');
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-cache");
    // The requested name decides, not a symlink's target.
    await Deno.symlink("../small.bin", `${root}/stable/LATEST.JSON`);
    const linked = await get(`${url}/stable/LATEST.JSON`);
    assert.equal(text(linked.body), "0123456789");
    assert.equal(linked.headers.get("content-type"), "application/json");
    assert.equal(linked.headers.get("cache-control"), "no-cache");
  });
});

Deno.test("HEAD answers GET's headers without a body and ignores Range", async () => {
  await withServer(async ({ url, root, infos }) => {
    const full = await get(`${url}/blob.bin`);
    const head = await get(`${url}/blob.bin`, {}, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    for (const name of ["content-length", "content-type", "etag", "last-modified"]) {
      assert.equal(head.headers.get(name), full.headers.get(name), name);
    }
    const ranged = await get(`${url}/blob.bin`, { range: "bytes=0-9" }, "HEAD");
    assert.equal(ranged.status, 200);
    assert.equal(ranged.headers.get("content-length"), String(BLOB.length));
    assert.equal(ranged.headers.get("content-range"), null);
    assert.equal(infos[1].bytes, 0);
    assert.equal(infos[2].range, "bytes=0-9");
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("an empty file is served as an empty 200", async () => {
  await withServer(async ({ url }) => {
    const r = await get(`${url}/empty.bin`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), "0");
    assert.equal(r.body.length, 0);
  });
});

Deno.test("single byte ranges answer 206 with Content-Range and Content-Length", async () => {
  await withServer(async ({ url, infos, root }) => {
    const size = BLOB.length;
    const cases: [string, number, number][] = [
      ["bytes=0-0", 0, 0],
      ["bytes=10-19", 10, 19],
      ["bytes=1048570-1048580", 1048570, 1048580], // across a 1 MiB read
      ["bytes=1000-", 1000, size - 1],
      [`bytes=${size - 1}-`, size - 1, size - 1],
      ["bytes=5-999999999", 5, size - 1], // last-pos past the end is clamped
      ["bytes=-100", size - 100, size - 1],
      [`bytes=-${size + 10}`, 0, size - 1], // suffix longer than the file
      ["BYTES = 2-3", 2, 3], // unit is case-insensitive
    ];
    for (const [range, first, last] of cases) {
      const r = await get(`${url}/blob.bin`, { range });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get("content-range"), `bytes ${first}-${last}/${size}`, range);
      assert.equal(r.headers.get("content-length"), String(last - first + 1), range);
      assert.deepEqual(r.body, BLOB.subarray(first, last + 1), range);
      assert.equal(r.headers.get("etag") !== null, true);
      assert.equal(infos.at(-1)!.status, 206);
      assert.equal(infos.at(-1)!.range, range);
      assert.equal(infos.at(-1)!.bytes, last - first + 1);
    }
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("unsatisfiable ranges answer 416 with Content-Range bytes */size", async () => {
  await withServer(async ({ url, root }) => {
    const size = BLOB.length;
    for (
      const [path, range, total] of [
        ["/blob.bin", `bytes=${size}-`, size],
        ["/blob.bin", `bytes=${size}-${size + 5}`, size],
        ["/blob.bin", "bytes=99999999999999999999999-", size],
        ["/blob.bin", "bytes=-0", size],
        ["/empty.bin", "bytes=0-", 0],
        ["/empty.bin", "bytes=-5", 0],
      ] as const
    ) {
      const r = await get(`${url}${path}`, { range });
      assert.equal(r.status, 416, `${path} ${range}`);
      assert.equal(r.headers.get("content-range"), `bytes */${total}`, range);
    }
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("several ranges, other units and malformed Range headers get the full 200", async () => {
  await withServer(async ({ url }) => {
    for (
      const range of [
        "bytes=0-1,5-6",
        "bytes=0-1, -3",
        "items=0-1",
        "bytes=5-2",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=",
        "0-1",
      ]
    ) {
      const r = await get(`${url}/small.bin`, { range });
      assert.equal(r.status, 200, range);
      assert.equal(r.headers.get("content-range"), null, range);
      assert.equal(text(r.body), "0123456789", range);
    }
  });
});

Deno.test("If-Range with the current strong ETag or Last-Modified honours Range", async () => {
  await withServer(async ({ url }) => {
    const etag = (await get(`${url}/small.bin`)).headers.get("etag")!;
    const matching = [etag, "Fri, 02 Jan 2026 03:04:05 GMT"];
    for (const ifRange of matching) {
      const r = await get(`${url}/small.bin`, { range: "bytes=2-4", "if-range": ifRange });
      assert.equal(r.status, 206, ifRange);
      assert.equal(text(r.body), "234");
    }
    const stale = [
      '"a-0-0"',
      `W/${etag}`, // weak tags never match If-Range
      "Fri, 02 Jan 2026 03:04:04 GMT",
      "Fri, 02 Jan 2026 03:04:06 GMT",
      "not a date",
    ];
    for (const ifRange of stale) {
      const r = await get(`${url}/small.bin`, { range: "bytes=2-4", "if-range": ifRange });
      assert.equal(r.status, 200, ifRange);
      assert.equal(text(r.body), "0123456789", ifRange);
    }
    // If-Range without Range changes nothing.
    const plain = await get(`${url}/small.bin`, { "if-range": etag });
    assert.equal(plain.status, 200);
  });
});

Deno.test("If-None-Match and If-Modified-Since answer 304 without a body", async () => {
  await withServer(async ({ url, root, infos }) => {
    const etag = (await get(`${url}/small.bin`)).headers.get("etag")!;
    const notModified: Record<string, string>[] = [
      { "if-none-match": etag },
      { "if-none-match": `"other", ${etag}` },
      { "if-none-match": `W/${etag}` }, // weak comparison
      { "if-none-match": "*" },
      { "if-none-match": etag, range: "bytes=0-1" }, // conditionals before Range
      { "if-modified-since": "Fri, 02 Jan 2026 03:04:05 GMT" },
      { "if-modified-since": "Sat, 03 Jan 2026 00:00:00 GMT" },
    ];
    for (const headers of notModified) {
      for (const method of ["GET", "HEAD"]) {
        const r = await get(`${url}/small.bin`, headers, method);
        assert.equal(r.status, 304, JSON.stringify(headers));
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.get("etag"), etag);
        assert.equal(r.headers.get("last-modified"), "Fri, 02 Jan 2026 03:04:05 GMT");
        assert.equal(infos.at(-1)!.status, 304);
        assert.equal(infos.at(-1)!.bytes, 0);
      }
    }
    const modified: Record<string, string>[] = [
      { "if-none-match": '"a-0-0"' },
      { "if-none-match": etag.slice(0, -2) + '"' },
      { "if-modified-since": "Fri, 02 Jan 2026 03:04:04 GMT" },
      { "if-modified-since": "yesterday" },
      // If-None-Match takes precedence over If-Modified-Since.
      { "if-none-match": '"a-0-0"', "if-modified-since": "Sat, 03 Jan 2026 00:00:00 GMT" },
    ];
    for (const headers of modified) {
      const r = await get(`${url}/small.bin`, headers);
      assert.equal(r.status, 200, JSON.stringify(headers));
      assert.equal(text(r.body), "0123456789");
    }
    assert.deepEqual(await openFilesUnder(root), []);
  });
});

Deno.test("methods other than GET and HEAD answer 405 with Allow", async () => {
  await withServer(async ({ url, port, infos }) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await fetch(`${url}/small.bin`, {
        method,
        body: method === "POST" || method === "PUT" ? "x" : undefined,
      });
      await r.body?.cancel();
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get("allow"), "GET, HEAD");
      assert.equal(infos.at(-1)!.method, method);
      assert.equal(infos.at(-1)!.status, 405);
    }
    assert.equal(await rawStatus(port, "/small.bin", "TRACE"), 405);
  });
});

Deno.test("missing files, directories and dot files answer 404", async () => {
  await withServer(async ({ url, port }) => {
    for (
      const path of [
        "/",
        "/nope.bin",
        "/stable",
        "/stable/",
        "/sub/",
        "/.hidden",
        "/%2ehidden",
        "/small.bin/x",
        "/stable/manifest.json/",
        "/sm%zzall.bin",
        "/small.bin%00",
        "/small.bin%5c",
        "/loop-a", // a symlink loop
        `/${"a".repeat(300)}`, // a name too long for the file system
      ]
    ) {
      const r = await get(`${url}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(r.headers.get("etag"), null);
    }
    assert.equal(await rawStatus(port, "/stable/manifest.json"), 200);
    assert.equal(await rawStatus(port, "/stable//manifest.json"), 200);
  });
});

Deno.test("path traversal cannot reach files outside the root", async () => {
  await withServer(async ({ url, port, root }) => {
    assert.equal(await Deno.readTextFile(`${root}/escape`), "secret"); // the symlink does work
    const attempts = [
      "/../secret.txt",
      "/sub/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/..%2fsecret.txt",
      "/sub/..%2f..%2fsecret.txt",
      "/%2e%2e%2fsecret.txt",
      "/sub%2f%2e%2e%2f%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      "/escape", // symlink to a file outside
      "/sub/outside/secret.txt", // symlinked directory outside
      "/sub/outside/root/small.bin", // out and back in: resolves inside, so served
    ];
    for (const target of attempts.slice(0, -1)) {
      assert.equal(await rawStatus(port, target), 404, target);
      assert.equal((await get(`${url}${target}`)).status, 404, target);
    }
    // A symlink that resolves inside the root is fine, even via a detour outside.
    assert.equal(await rawStatus(port, attempts.at(-1)!), 200);
    const link = await get(`${url}/link.bin`);
    assert.equal(link.status, 200);
    assert.equal(text(link.body), "0123456789");
    // An absolute-form request target is reduced to its path.
    assert.equal(await rawStatus(port, "http://127.0.0.1/../secret.txt"), 404);
  });
});

Deno.test("a client that abandons a body gets its file handle closed", async () => {
  const size = 64 * MIB;
  const seen = Promise.withResolvers<RequestInfo>();
  await withServer(async ({ url, root }) => {
    await sparseFile(`${root}/big.bin`, size);
    const response = await fetch(`${url}/big.bin`);
    assert.equal(response.headers.get("content-length"), String(size));
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value!.length > 0);
    await reader.cancel();
    const info = await seen.promise;
    assert.equal(info.status, 200);
    assert.ok(info.bytes < size, `${info.bytes} bytes read of ${size}`);
    assert.deepEqual(await openFilesUnder(root), []);
  }, {
    onRequest: (info) => {
      if (info.path === "/big.bin") seen.resolve(info);
    },
  });
});

Deno.test("a file that shrinks while served cuts the connection instead of a short body", async () => {
  const size = 64 * MIB;
  const errors: unknown[] = [];
  await withServer(async ({ url, root, infos }) => {
    await sparseFile(`${root}/big.bin`, size);
    const response = await fetch(`${url}/big.bin`);
    assert.equal(response.status, 200);
    await Deno.truncate(`${root}/big.bin`, 0);
    await assert.rejects(response.bytes());
    assert.equal(infos.at(-1)!.path, "/big.bin");
    const sent = infos.at(-1)!.bytes;
    assert.ok(sent < size);
    assert.deepEqual(await openFilesUnder(root), []);
    assert.equal(errors.length, 1);
    assert.equal(
      (errors[0] as Error).message,
      `File ${root}/big.bin ended at byte ${sent}, expected ${size} bytes to serve`,
    );
  }, { onError: (error) => errors.push(error) });
});

Deno.test("HTTPS with a certificate from a test CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_test_tls_" });
  const otherDir = await Deno.makeTempDir({ prefix: "serve_test_tls_other_" });
  try {
    const certs = await makeTestCertificates(dir);
    const other = await makeTestCertificates(otherDir, { caName: "some other CA" });
    await withServer(async ({ url, infos }) => {
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const client = Deno.createHttpClient({ caCerts: [certs.caPem] });
      try {
        const r = await fetch(`${url}/small.bin`, { client, headers: { range: "bytes=1-3" } });
        assert.equal(r.status, 206);
        assert.equal(await r.text(), "123");
      } finally {
        client.close();
      }
      // Fails closed: neither the system roots nor another CA trust this server.
      await assert.rejects(fetch(`${url}/small.bin`), TypeError);
      const wrong = Deno.createHttpClient({ caCerts: [other.caPem] });
      try {
        await assert.rejects(fetch(`${url}/small.bin`, { client: wrong }), TypeError);
      } finally {
        wrong.close();
      }
      // Plain HTTP to the TLS port gets no file.
      await assert.rejects(async () => {
        const r = await fetch(url.replace("https:", "http:") + "/small.bin");
        await r.body?.cancel();
        assert.notEqual(r.status, 200);
        throw new TypeError(`HTTP ${r.status}`);
      }, TypeError);
      assert.equal(infos.length, 1);
    }, { cert: certs.cert, key: certs.key });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(otherDir, { recursive: true });
  }
});

Deno.test("the abort signal stops the server and shutdown can be called again", async () => {
  const controller = new AbortController();
  await withServer(async ({ url, server }) => {
    assert.equal((await get(`${url}/small.bin`)).status, 200);
    controller.abort();
    await server.finished;
    await assert.rejects(fetch(`${url}/small.bin`), TypeError);
    await server.shutdown();
  }, { signal: controller.signal });
});

Deno.test("shutdown resolves finished and is idempotent", async () => {
  await withServer(async ({ server }) => {
    await Promise.all([server.shutdown(), server.shutdown()]);
    await server.finished;
  });
});

Deno.test("throwing onRequest and onError observers do not break serving", async () => {
  await withServer(async ({ url, root }) => {
    const r = await get(`${url}/small.bin`);
    assert.equal(r.status, 200);
    assert.equal(text(r.body), "0123456789");
    assert.equal((await get(`${url}/nope`)).status, 404);
    await sparseFile(`${root}/big.bin`, 64 * MIB);
    const response = await fetch(`${url}/big.bin`);
    await Deno.truncate(`${root}/big.bin`, 0);
    await assert.rejects(response.bytes());
    assert.equal(text((await get(`${url}/small.bin`)).body), "0123456789");
  }, {
    onRequest: () => {
      throw new Error("observer failed");
    },
    onError: () => {
      throw new Error("observer failed");
    },
  });
});

Deno.test("requests counts every request, answered or refused", async () => {
  await withServer(async ({ url, server }) => {
    assert.equal(server.requests, 0);
    await get(`${url}/small.bin`);
    await get(`${url}/nope`);
    await get(`${url}/small.bin`, {}, "DELETE");
    await get(`${url}/small.bin`, {}, "HEAD");
    assert.equal(server.requests, 4);
  });
});

Deno.test("invalid options and roots are refused with messages naming them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_test_bad_" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    assert.throws(() => serveReleases(`${dir}/missing`), Deno.errors.NotFound);
    assert.throws(
      () => serveReleases(`${dir}/file`),
      { name: "TypeError", message: `Release root ${dir}/file is not a directory` },
    );
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(
        () => serveReleases(dir, { port }),
        {
          name: "TypeError",
          message: `Invalid serve port ${JSON.stringify(port)}: expected 0-65535`,
        },
      );
    }
    assert.throws(
      () => serveReleases(dir, { hostname: "" }),
      { name: "TypeError", message: 'Invalid serve hostname ""' },
    );
    assert.throws(
      () => serveReleases(dir, { cert: "PEM" }),
      {
        name: "TypeError",
        message: "Serve options cert and key must be given together, got only cert",
      },
    );
    assert.throws(
      () => serveReleases(dir, { key: "PEM" }),
      {
        name: "TypeError",
        message: "Serve options cert and key must be given together, got only key",
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port in use is reported by Deno.serve", async () => {
  const dir = await Deno.makeTempDir({ prefix: "serve_test_port_" });
  const first = serveReleases(dir);
  try {
    assert.throws(() => serveReleases(dir, { port: first.port }), Deno.errors.AddrInUse);
  } finally {
    await first.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
