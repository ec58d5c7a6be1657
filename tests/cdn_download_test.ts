// Downloads through hostile CDNs and mirrors (lib/net/_partial.ts, lib/net/mirrors.ts): a 200
// for a range, a wrong Content-Range, multi-range answers, 501, an encoded range, a server that
// ignores If-Range and serves another file under the same name mid-resume (by ETag, by
// Last-Modified, across runs), and mirrors that are down, fail or serve wrong bytes. Every
// request the client sends asks for one range at most.
import assert from "node:assert/strict";
import { downloadArtifact, type DownloadOptions } from "../lib/net/download.ts";
import { downloadFromMirrors } from "../lib/net/mirrors.ts";
import { ChecksumMismatchError } from "../lib/core/errors.ts";
import {
  type HostileReply,
  type HostileRequest,
  HostileServer,
  serveBytes,
} from "./_hostile_server.ts";
import { pseudoRandom, sha256 } from "./_helpers.ts";

const DATA = pseudoRandom(300_000, 11);
const DATA_SHA = sha256(DATA);
const OTHER = pseudoRandom(DATA.length, 12); // another file of the same size
const OTHER_SHA = sha256(OTHER);
const HALF = DATA.length / 2;
const THIRD = DATA.length / 3;
const ETAG = '"v1"';
const LAST_MODIFIED = "Thu, 26 Nov 2026 10:00:00 GMT";

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

async function withDest(fn: (dest: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cdn_download_test_" });
  try {
    await fn(`${dir}/artifact.bin`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** The Range header of each request (null for none). */
function ranges(requests: readonly HostileRequest[]): (string | null)[] {
  return requests.map((r) => r.headers.get("range"));
}

/** Every Range the client sent is one `bytes=N-` range. */
function assertSingleRanges(requests: readonly HostileRequest[]): void {
  for (const range of ranges(requests)) {
    if (range !== null) assert.match(range, /^bytes=\d+-$/);
  }
}

// ---------------------------------------------------------------------------------------------
// Ranges a CDN gets wrong

Deno.test("a multipart/byteranges answer to one range: starts over, asks no range again", async () => {
  await using server = new HostileServer((r, i): HostileReply => {
    if (r.headers.has("range")) {
      const boundary = "ms11boundary";
      const part = new TextEncoder().encode(
        `--${boundary}\r\nContent-Range: bytes ${HALF}-${DATA.length - 1}/${DATA.length}\r\n\r\n`,
      );
      return {
        status: 206,
        headers: { etag: ETAG, "content-type": `multipart/byteranges; boundary=${boundary}` },
        body: new Uint8Array([...part, ...DATA.subarray(HALF)]),
      };
    }
    // Every full answer is cut at a third once, so that a resume would be tried again.
    return serveBytes(r, DATA, { etag: ETAG, cutAfter: i <= 2 ? THIRD : undefined });
  });
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    // Cut, the multipart answer (discarded), then from the start without Range: cut again,
    // and from the start again, never asking this server for a range a second time.
    assert.deepEqual(ranges(server.requests), [null, `bytes=${THIRD}-`, null, null]);
    assertSingleRanges(server.requests);
  });
});

Deno.test("a 501 to the Range request starts over without Range (not retried as a 5xx)", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    r.headers.has("range")
      ? { status: 501, body: new TextEncoder().encode("Range not implemented") }
      : serveBytes(r, DATA, { lastModified: LAST_MODIFIED, cutAfter: i === 0 ? HALF : undefined })
  );
  await withDest(async (dest) => {
    const waits: number[] = [];
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, {
      ...options({ maxAttempts: 2 }),
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
    assert.equal(server.requests[1].headers.get("if-range"), LAST_MODIFIED);
    assert.equal(waits.length, 1); // the cut waited; the 501 restarted at once
  });
});

Deno.test("a 501 to a request without Range is an ordinary 5xx (retried, then fails)", async () => {
  await using server = new HostileServer((): HostileReply => ({ status: 501 }));
  await withDest(async (dest, dir) => {
    const url = `${server.url}/app.bin`;
    await assert.rejects(downloadArtifact(url, dest, options({ maxAttempts: 2 })), {
      message: `Download of ${url} failed: HTTP 501 Not Implemented; gave up after 2 attempts`,
    });
    assert.deepEqual(ranges(server.requests), [null, null]);
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("a 206 of the whole file to a Range request is taken as the full body", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 0 ? serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF }) : {
      status: 206,
      headers: { etag: ETAG, "content-range": `bytes 0-${DATA.length - 1}/${DATA.length}` },
      body: DATA,
    }
  );
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.equal(server.requests.length, 2); // no third request
    assert.equal(server.requests[1].bytesSent, DATA.length);
  });
});

Deno.test("a 206 claiming the whole file with a short body is refused, then restarted", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 0 ? serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF }) : i === 1
      ? {
        status: 206,
        headers: { etag: ETAG, "content-range": `bytes 0-${DATA.length - 1}/${DATA.length}` },
        body: DATA.subarray(HALF), // Content-Length says half
      }
      : serveBytes(r, DATA, { etag: ETAG })
  );
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
  });
});

Deno.test("a wrong Content-Range turns ranges off for the rest of the download", async () => {
  await using server = new HostileServer((r, i): HostileReply => {
    if (r.headers.has("range")) {
      return {
        status: 206,
        headers: {
          etag: ETAG,
          "content-range": `bytes ${HALF + 1}-${DATA.length - 1}/${DATA.length}`,
        },
        body: DATA.subarray(HALF + 1),
      };
    }
    return serveBytes(r, DATA, { etag: ETAG, cutAfter: i <= 2 ? HALF : undefined });
  });
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null, null]);
  });
});

Deno.test("a gzip-encoded range is not appended: starts over", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 1
      ? {
        status: 206,
        headers: {
          etag: ETAG,
          "content-encoding": "gzip",
          "content-range": `bytes ${HALF}-${DATA.length - 1}/${DATA.length}`,
        },
        body: DATA.subarray(HALF),
      }
      : serveBytes(r, DATA, { etag: ETAG, cutAfter: i === 0 ? HALF : undefined })
  );
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
  });
});

Deno.test("200 instead of 206: the partial is replaced cleanly, never appended to", async () => {
  await using server = new HostileServer((r, i) =>
    serveBytes(r, DATA, { etag: ETAG, ignoreRange: true, cutAfter: i < 2 ? HALF : undefined })
  );
  await withDest(async (dest) => {
    const result = await downloadArtifact(`${server.url}/app.bin`, dest, options());
    assert.equal(result.sha256, DATA_SHA);
    assert.equal((await Deno.stat(dest)).size, DATA.length);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, `bytes=${HALF}-`]);
  });
});

// ---------------------------------------------------------------------------------------------
// A server that ignores If-Range (Swift does) and serves another file under the same name

/** Serves DATA (cut at half) first, then OTHER under the same name, ignoring If-Range. */
function swappingServer(validators: { etag?: [string, string]; lastModified?: [string, string] }) {
  return new HostileServer((r, i) =>
    serveBytes(r, i === 0 ? DATA : OTHER, {
      etag: validators.etag?.[i === 0 ? 0 : 1],
      lastModified: validators.lastModified?.[i === 0 ? 0 : 1],
      ignoreIfRange: true,
      cutAfter: i === 0 ? HALF : undefined,
    })
  );
}

Deno.test("another file mid-resume, told by its ETag: never spliced, the new file whole", async () => {
  await using server = swappingServer({ etag: [ETAG, '"v2"'] });
  await withDest(async (dest) => {
    // The publisher replaced the file; the manifest now names the new bytes.
    const result = await downloadArtifact(
      `${server.url}/app.bin`,
      dest,
      options({ sha256: OTHER_SHA }),
    );
    assert.equal(result.sha256, OTHER_SHA);
    assert.deepEqual(await Deno.readFile(dest), OTHER);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
  });
});

Deno.test("another file mid-resume, told by Last-Modified (no ETag)", async () => {
  const later = "Fri, 27 Nov 2026 10:00:00 GMT";
  await using server = swappingServer({ lastModified: [LAST_MODIFIED, later] });
  await withDest(async (dest) => {
    const result = await downloadArtifact(
      `${server.url}/app.bin`,
      dest,
      options({ sha256: OTHER_SHA }),
    );
    assert.deepEqual(await Deno.readFile(dest), OTHER);
    assert.equal(result.sha256, OTHER_SHA);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
    assert.equal(server.requests[1].headers.get("if-range"), LAST_MODIFIED);
  });
});

Deno.test("without checksum verification, a changed file is never spliced either", async () => {
  await using server = swappingServer({ etag: [ETAG, '"v2"'] });
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options({ verifyChecksum: false }));
    // Whole of the new file: not the first half of one and the second half of the other.
    assert.deepEqual(await Deno.readFile(dest), OTHER);
  });
});

Deno.test("without verification, a 206 with no validator to compare starts over", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 1
      ? {
        status: 206,
        headers: { "content-range": `bytes ${HALF}-${DATA.length - 1}/${DATA.length}` },
        body: OTHER.subarray(HALF),
      }
      : serveBytes(r, i === 0 ? DATA : OTHER, {
        etag: i === 0 ? ETAG : undefined,
        cutAfter: i === 0 ? HALF : undefined,
      })
  );
  await withDest(async (dest) => {
    await downloadArtifact(`${server.url}/app.bin`, dest, options({ verifyChecksum: false }));
    assert.deepEqual(await Deno.readFile(dest), OTHER);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
  });
});

Deno.test("with verification, the same unvalidated splice is caught by the checksum", async () => {
  await using server = new HostileServer((r, i): HostileReply =>
    i === 1
      ? {
        status: 206,
        headers: { "content-range": `bytes ${HALF}-${DATA.length - 1}/${DATA.length}` },
        body: OTHER.subarray(HALF),
      }
      : serveBytes(r, DATA, { cutAfter: i === 0 ? HALF : undefined })
  );
  await withDest(async (dest, dir) => {
    const error = await downloadArtifact(`${server.url}/app.bin`, dest, options()).catch((e) => e);
    assert.ok(error instanceof ChecksumMismatchError, String(error));
    assert.deepEqual(await listDir(dir), []); // nothing kept, nothing installed
  });
});

Deno.test("across runs: the recorded ETag catches another file behind an ignored If-Range", async () => {
  let stage = 0;
  await using server = new HostileServer((r) =>
    stage === 0
      ? { ...serveBytes(r, DATA, { etag: ETAG }), stallAfter: HALF }
      : serveBytes(r, OTHER, { etag: '"v2"', ignoreIfRange: true })
  );
  await withDest(async (dest) => {
    const url = `${server.url}/app.bin`;
    const controller = new AbortController();
    let t = 0;
    await downloadArtifact(url, dest, {
      ...options({ verifyChecksum: false }),
      env: { now: () => new Date(t += 1000), fetch },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done >= HALF) controller.abort();
      },
    }).catch(() => {});
    assert.equal(JSON.parse(await Deno.readTextFile(`${dest}.partial.json`)).etag, ETAG);
    stage = 1;
    await downloadArtifact(url, dest, options({ verifyChecksum: false }));
    assert.deepEqual(await Deno.readFile(dest), OTHER);
    assert.equal(server.requests[1].headers.get("if-range"), ETAG);
    assert.deepEqual(ranges(server.requests), [null, `bytes=${HALF}-`, null]);
  });
});

// ---------------------------------------------------------------------------------------------
// Mirrors

/** A URL on 127.0.0.1 where nothing listens. */
function deadUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `http://127.0.0.1:${port}/app.bin`;
}

Deno.test("mirrors: one down, one answering 503, the third serves", async () => {
  await using busy = new HostileServer((): HostileReply => ({ status: 503 }));
  await using good = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG }));
  const dead = deadUrl();
  await withDest(async (dest) => {
    const result = await downloadFromMirrors(
      [dead, `${busy.url}/app.bin`, `${good.url}/app.bin`],
      dest,
      options({ maxAttempts: 2 }),
    );
    assert.equal(result.url, `${good.url}/app.bin`);
    assert.equal(result.sha256, DATA_SHA);
    assert.deepEqual(result.failures.map((f) => f.url), [dead, `${busy.url}/app.bin`]);
    assert.match(
      result.failures[0].message,
      /^Download of .+ failed: .+; gave up after 2 attempts$/,
    );
    assert.equal(
      result.failures[1].message,
      `Download of ${busy.url}/app.bin failed: HTTP 503 Service Unavailable; gave up after 2 attempts`,
    );
    assert.equal(busy.requests.length, 2);
    assert.equal(good.requests.length, 1);
  });
});

Deno.test("mirrors: a 404 and wrong bytes move on; the partial is continued elsewhere", async () => {
  await using missing = new HostileServer((): HostileReply => ({ status: 404 }));
  await using cut = new HostileServer((r) => serveBytes(r, DATA, { etag: ETAG, cutAfter: HALF }));
  await using good = new HostileServer((r) => serveBytes(r, DATA, { etag: '"other-server"' }));
  await withDest(async (dest) => {
    const result = await downloadFromMirrors(
      [`${missing.url}/app.bin`, `${cut.url}/app.bin`, `${good.url}/app.bin`],
      dest,
      options({ maxAttempts: 1 }),
    );
    assert.equal(result.url, `${good.url}/app.bin`);
    assert.deepEqual(await Deno.readFile(dest), DATA);
    // The third mirror continued the half the second one sent, without the second's ETag.
    assert.equal(good.requests[0].headers.get("range"), `bytes=${HALF}-`);
    assert.equal(good.requests[0].headers.get("if-range"), null);
    assert.equal(good.requests[0].bytesSent, DATA.length - HALF);
    assert.equal(missing.requests.length, 1);
  });
});

Deno.test("mirrors: one serving other bytes is skipped, the next serves the right ones", async () => {
  await using wrong = new HostileServer((r) => serveBytes(r, OTHER));
  await using good = new HostileServer((r) => serveBytes(r, DATA));
  await withDest(async (dest) => {
    const result = await downloadFromMirrors(
      [`${wrong.url}/app.bin`, `${good.url}/app.bin`],
      dest,
      options(),
    );
    assert.equal(result.sha256, DATA_SHA);
    assert.match(result.failures[0].message, /SHA-256|sha256|checksum/i);
    assert.equal(good.requests[0].headers.get("range"), null); // the wrong bytes were dropped
  });
});

Deno.test("mirrors: all failing is one line naming each; with one URL its own error", async () => {
  await using a = new HostileServer((): HostileReply => ({ status: 404 }));
  await using b = new HostileServer((): HostileReply => ({ status: 403 }));
  await withDest(async (dest, dir) => {
    const urls = [`${a.url}/app.bin`, `${b.url}/app.bin`];
    await assert.rejects(downloadFromMirrors(urls, dest, options()), {
      name: "Error",
      message: `No mirror could serve ${urls[0]} (2 tried): Download of ${
        urls[0]
      } failed: HTTP 404 Not Found; Download of ${urls[1]} failed: HTTP 403 Forbidden`,
    });
    await assert.rejects(downloadFromMirrors([urls[0], urls[0]], dest, options()), {
      message: `Download of ${urls[0]} failed: HTTP 404 Not Found`,
    });
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("mirrors: an abort is not tried elsewhere", async () => {
  await using stalls = new HostileServer((r) => ({
    ...serveBytes(r, DATA),
    stallAfter: 1000,
  }));
  await using good = new HostileServer((r) => serveBytes(r, DATA));
  await withDest(async (dest) => {
    const controller = new AbortController();
    let t = 0;
    const error = await downloadFromMirrors(
      [`${stalls.url}/app.bin`, `${good.url}/app.bin`],
      dest,
      {
        ...options(),
        env: { now: () => new Date(t += 1000), fetch },
        signal: controller.signal,
        onProgress: (p) => {
          if (p.done >= 1000) controller.abort();
        },
      },
    ).catch((e) => e);
    assert.equal((error as Error).name, "AbortError");
    assert.equal(good.requests.length, 0);
  });
});
