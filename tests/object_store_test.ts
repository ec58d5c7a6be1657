// The S3 client's error handling and retries against a scripted server on 127.0.0.1 (what a
// real store cannot be made to do on demand: 503 SlowDown, 500s, cut connections), its
// addressing and signing, s3:// URLs, and the stored signature file's generations. The real
// store (Swift) is exercised in s3_publish_test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ConfigError } from "../lib/core/errors.ts";
import { ObjectStore, ObjectStoreError } from "../lib/publish/object_store.ts";
import { parseS3Url } from "../lib/publish/s3_url.ts";
import { channelSignatureFile, KEPT_GENERATIONS } from "../lib/publish/_signatures.ts";
import { MAX_SIGNATURE_BYTES } from "../lib/trust/verify.ts";
import { rejectsWith, throwsWith } from "./_helpers.ts";
import { timeBound } from "./_swift.ts";

const CREDENTIALS = { accessKeyId: "AKIDTEST", secretAccessKey: "secret", sessionToken: null };

/** One request the server saw. */
interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** A server answering each request with `answer(request, n)` (n counts from 1). */
function scripted(
  answer: (seen: Seen, n: number) => Response | Promise<Response>,
): { url: string; seen: Seen[] } & AsyncDisposable {
  const seen: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const entry = {
      method: request.method,
      path: url.pathname + url.search,
      headers: request.headers,
      body: new Uint8Array(await request.arrayBuffer()),
    };
    seen.push(entry);
    return await answer(entry, seen.length);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function xmlError(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>tx1</RequestId></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

function storeAt(
  endpoint: string,
  extra: Partial<ConstructorParameters<typeof ObjectStore>[1]> = {},
) {
  return new ObjectStore("releases", {
    credentials: CREDENTIALS,
    region: "us-east-1",
    endpoint,
    backoffBaseMs: 1,
    ...extra,
  });
}

const BODY = new TextEncoder().encode("0123456789");
const PUT = {
  sha256: createHash("sha256").update(BODY).digest("hex"),
  md5: createHash("md5").update(BODY).digest("base64"),
  cacheControl: "public, max-age=60",
  contentType: "application/json",
  metadata: { sha256: "x" },
};

Deno.test("a PUT is signed with the payload's SHA-256, Content-MD5 and an exact Content-Length", () =>
  timeBound(10_000, async () => {
    await using server = scripted(() => new Response(null, { status: 200 }));
    const store = storeAt(server.url);
    await store.put("ms11/stable/1.0.0+build/a b.json", BODY, PUT);
    const [put] = server.seen;
    assert.equal(put.method, "PUT");
    // Path-style, each segment percent-encoded ("+" too: the path sent is the one signed).
    assert.equal(put.path, "/releases/ms11/stable/1.0.0%2Bbuild/a%20b.json");
    assert.equal(put.headers.get("x-amz-content-sha256"), PUT.sha256);
    assert.equal(put.headers.get("content-md5"), PUT.md5);
    assert.equal(put.headers.get("content-length"), "10");
    assert.equal(put.headers.get("transfer-encoding"), null);
    assert.equal(put.headers.get("cache-control"), "public, max-age=60");
    assert.equal(put.headers.get("x-amz-meta-sha256"), "x");
    assert.match(
      put.headers.get("authorization")!,
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]*cache-control;content-md5;host;x-amz-content-sha256;x-amz-date;x-amz-meta-sha256, Signature=[0-9a-f]{64}$/,
    );
    assert.deepEqual(put.body, BODY);
    assert.equal(store.requests, 1);
  }));

Deno.test("a file is streamed with its Content-Length; a missing file is not retried", () =>
  timeBound(10_000, async () => {
    await using server = scripted(() => new Response(null, { status: 200 }));
    const path = await Deno.makeTempFile();
    try {
      const data = new Uint8Array(300_000).map((_, i) => i % 251);
      await Deno.writeFile(path, data);
      const store = storeAt(server.url);
      await store.put("big", { path, size: data.length }, PUT);
      assert.equal(server.seen[0].headers.get("content-length"), "300000");
      assert.deepEqual(server.seen[0].body, data);
      await Deno.remove(path);
      await assert.rejects(store.put("big", { path, size: 1 }, PUT), /ENOENT|No such file/);
      assert.equal(store.requests, 2);
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  }));

Deno.test("503 SlowDown is retried with backoff until it succeeds", () =>
  timeBound(10_000, async () => {
    await using server = scripted((_, n) =>
      n <= 3 ? xmlError(503, "SlowDown", "Please reduce your request rate.") : new Response("<x/>")
    );
    const store = storeAt(server.url);
    const got = await store.get("k", { maxBytes: 100 });
    assert.equal(new TextDecoder().decode(got!.bytes), "<x/>");
    assert.equal(server.seen.length, 4);
    assert.equal(store.requests, 4);
  }));

Deno.test("a store that keeps answering SlowDown fails in one line with its code and the attempts", () =>
  timeBound(10_000, async () => {
    await using server = scripted(() =>
      xmlError(503, "SlowDown", "Please reduce your request rate.")
    );
    const store = storeAt(server.url, { maxAttempts: 3 });
    const error = await rejectsWith(
      store.put("ms11/stable/manifest.json", BODY, PUT),
      ObjectStoreError,
      "Store request PUT s3://releases/ms11/stable/manifest.json failed: HTTP 503 SlowDown: Please reduce your request rate (after 3 attempts)",
    ) as ObjectStoreError;
    assert.equal(error.code, "SlowDown");
    assert.equal(error.status, 503);
    assert.equal(server.seen.length, 3);
  }));

Deno.test("500 InternalError and 429 are retried; 403 and 400 are not", () =>
  timeBound(10_000, async () => {
    await using flaky = scripted((_, n) =>
      n === 1
        ? xmlError(500, "InternalError", "We encountered an internal error.")
        : n === 2
        ? new Response("", { status: 429 })
        : new Response("ok")
    );
    await storeAt(flaky.url).get("k", { maxBytes: 100 });
    assert.equal(flaky.seen.length, 3);

    await using denied = scripted(() => xmlError(403, "AccessDenied", "Access Denied."));
    const error = await rejectsWith(
      storeAt(denied.url).put("k", BODY, PUT),
      ObjectStoreError,
      "Store request PUT s3://releases/k failed: HTTP 403 AccessDenied: Access Denied",
    ) as ObjectStoreError;
    assert.equal(error.code, "AccessDenied");
    assert.equal(denied.seen.length, 1);

    await using bad = scripted(() =>
      xmlError(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
    );
    await rejectsWith(
      storeAt(bad.url).put("k", BODY, PUT),
      ObjectStoreError,
      "Store request PUT s3://releases/k failed: HTTP 400 BadDigest: The Content-MD5 you specified did not match what we received",
    );
    assert.equal(bad.seen.length, 1);
  }));

Deno.test("404: a missing object is null, a missing bucket is an error", () =>
  timeBound(10_000, async () => {
    await using server = scripted((seen) =>
      seen.path.startsWith("/releases/gone")
        ? xmlError(404, "NoSuchKey", "The specified key does not exist.")
        : seen.method === "HEAD"
        ? new Response(null, { status: 404 })
        : xmlError(404, "NoSuchBucket", "The specified bucket does not exist.")
    );
    const store = storeAt(server.url);
    assert.equal(await store.get("gone", { maxBytes: 10 }), null);
    assert.equal(await store.head("other"), null);
    assert.equal(await store.hash("gone"), null);
    await rejectsWith(
      store.list("ms11/"),
      ObjectStoreError,
      "Store request list s3://releases/ms11/ failed: HTTP 404 NoSuchBucket: The specified bucket does not exist",
    );
  }));

Deno.test("a HEAD error has no code to report: the status says what it can", () =>
  timeBound(10_000, async () => {
    await using server = scripted(() => new Response(null, { status: 403 }));
    await rejectsWith(
      storeAt(server.url).head("k"),
      ObjectStoreError,
      "Store request HEAD s3://releases/k failed: HTTP 403 (the answer names no error code)",
    );
  }));

Deno.test("a refused connection is retried, then reported in one line", () =>
  timeBound(10_000, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const store = storeAt(`http://127.0.0.1:${port}`, { maxAttempts: 2 });
    const error = await rejectsWith(
      store.list(""),
      ObjectStoreError,
      /^Store request list s3:\/\/releases\/ failed: .*ECONNREFUSED.* \(after 2 attempts\)$/,
    ) as ObjectStoreError;
    assert.equal(error.status, null);
    assert.equal(store.requests, 2);
  }));

Deno.test("a store that stops answering hits the idle timeout", () =>
  timeBound(10_000, async () => {
    // A listener that accepts and never answers.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of listener) accepted.push(conn);
    })().catch(() => {});
    try {
      const port = (listener.addr as Deno.NetAddr).port;
      const store = storeAt(`http://127.0.0.1:${port}`, { maxAttempts: 2, idleTimeoutMs: 200 });
      const started = performance.now();
      await rejectsWith(
        store.head("k"),
        ObjectStoreError,
        "Store request HEAD s3://releases/k failed: no answer within 200 ms (after 2 attempts)",
      );
      assert.ok(performance.now() - started < 3000);
      assert.equal(store.requests, 2);
    } finally {
      listener.close();
      await accepting;
      for (const conn of accepted) conn.close();
    }
  }));

Deno.test("a listing follows continuation tokens and decodes XML entities", () =>
  timeBound(10_000, async () => {
    await using server = scripted((seen) => {
      const page = new URL(seen.path, "http://x").searchParams.get("continuation-token");
      const entry = (key: string, size: number) =>
        `<Contents><Key>${key}</Key><Size>${size}</Size><ETag>&quot;abc${size}&quot;</ETag></Contents>`;
      return new Response(
        page === null
          ? `<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;2</NextContinuationToken>${
            entry("a&amp;b", 1)
          }</ListBucketResult>`
          : `<ListBucketResult><IsTruncated>false</IsTruncated>${entry("c", 2)}</ListBucketResult>`,
      );
    });
    const listed = await storeAt(server.url).list("p/");
    assert.deepEqual(listed, [
      { key: "a&b", size: 1, etag: "abc1" },
      { key: "c", size: 2, etag: "abc2" },
    ]);
    assert.equal(
      new URL(server.seen[1].path, "http://x").searchParams.get("continuation-token"),
      "t&2",
    );
    assert.equal(new URL(server.seen[0].path, "http://x").searchParams.get("prefix"), "p/");
  }));

Deno.test("an answer longer than allowed is refused at once, not retried", () =>
  timeBound(10_000, async () => {
    await using server = scripted(() => new Response("x".repeat(1000)));
    const store = storeAt(server.url);
    await rejectsWith(
      store.get("ms11/stable/manifest.json", { maxBytes: 100 }),
      ObjectStoreError,
      "Store request GET s3://releases/ms11/stable/manifest.json failed: the answer is longer than 100 bytes",
    );
    assert.equal(server.seen.length, 1);
  }));

Deno.test("without an endpoint the bucket is virtual-hosted at AWS; dots force path-style", () => {
  const at = (bucket: string, endpoint: string | null, pathStyle?: boolean) =>
    new ObjectStore(bucket, { credentials: CREDENTIALS, region: "eu-west-1", endpoint, pathStyle })
      .urlOf("ms11/stable/manifest.json").href;
  assert.equal(
    at("releases", null),
    "https://releases.s3.eu-west-1.amazonaws.com/ms11/stable/manifest.json",
  );
  assert.equal(
    at("rel.example", null),
    "https://s3.eu-west-1.amazonaws.com/rel.example/ms11/stable/manifest.json",
  );
  assert.equal(
    at("releases", "http://127.0.0.1:9000"),
    "http://127.0.0.1:9000/releases/ms11/stable/manifest.json",
  );
  assert.equal(
    at("releases", "https://store.example/base", false),
    "https://releases.store.example/base/ms11/stable/manifest.json",
  );
});

Deno.test("parseS3Url takes s3://bucket[/prefix] and refuses anything else", () => {
  assert.deepEqual(parseS3Url("s3://releases", "--to"), { bucket: "releases", prefix: "" });
  assert.deepEqual(parseS3Url("s3://releases/", "--to"), { bucket: "releases", prefix: "" });
  assert.deepEqual(parseS3Url("s3://rel-1/a/b/", "--to"), { bucket: "rel-1", prefix: "a/b/" });
  for (
    const bad of [
      "releases",
      "https://releases/x",
      "s3://",
      "s3://UPPER",
      "s3://a",
      "s3://b/a//c",
      "s3://b/../x",
      "s3://b/a\\c",
    ]
  ) {
    throwsWith(
      () => parseS3Url(bad, "--to"),
      ConfigError,
      `Invalid --to ${JSON.stringify(bad)}: expected s3://bucket or s3://bucket/prefix`,
    );
  }
});

// The stored manifest.json.sig: the new manifest's signatures first, then those of the manifests
// it replaces, at most KEPT_GENERATIONS of them.
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
const H = (c: string) => c.repeat(64);
const sig = (c: string) => btoa(c.repeat(64));

Deno.test("the stored signature file keeps the replaced manifests' signatures, newest first", () => {
  const local = enc([{ keyid: "k1", sig: sig("a") }]);
  // First publication: only the new signatures, tagged.
  const first = channelSignatureFile(local, H("a"), { bytes: null, manifestSha256: null });
  assert.deepEqual(dec(first), [{ keyid: "k1", sig: sig("a"), manifest_sha256: H("a") }]);
  // The same again: the stored bytes themselves (nothing to upload).
  assert.equal(
    channelSignatureFile(local, H("a"), { bytes: first, manifestSha256: H("a") }),
    first,
  );
  // Generations pile up to KEPT_GENERATIONS behind the new one.
  let stored = first;
  let current = H("a");
  for (const c of ["b", "c", "d"]) {
    stored = channelSignatureFile(enc([{ keyid: "k1", sig: sig(c) }]), H(c), {
      bytes: stored,
      manifestSha256: current,
    });
    current = H(c);
  }
  assert.equal(KEPT_GENERATIONS, 2);
  assert.deepEqual(dec(stored).map((e: { manifest_sha256: string }) => e.manifest_sha256), [
    H("d"),
    H("c"),
    H("b"),
  ]);
  // A run that crashed after writing it: the same file again, not another generation.
  assert.equal(
    channelSignatureFile(enc([{ keyid: "k1", sig: sig("d") }]), H("d"), {
      bytes: stored,
      manifestSha256: H("c"),
    }),
    stored,
  );
});

Deno.test("untagged stored signatures sign the stored manifest; damaged files count as empty", () => {
  const local = enc([{ keyid: "k1", sig: sig("n") }]);
  const plain = enc([{ keyid: "k1", sig: sig("o") }, { keyid: "k2", sig: sig("p") }, { nope: 1 }]);
  const out = dec(channelSignatureFile(local, H("n"), { bytes: plain, manifestSha256: H("o") }));
  assert.deepEqual(out, [
    { keyid: "k1", sig: sig("n"), manifest_sha256: H("n") },
    { keyid: "k1", sig: sig("o"), manifest_sha256: H("o") },
    { keyid: "k2", sig: sig("p"), manifest_sha256: H("o") },
  ]);
  for (const damaged of ["{", '{"a":1}', "null"]) {
    const fresh = dec(channelSignatureFile(local, H("n"), {
      bytes: new TextEncoder().encode(damaged),
      manifestSha256: H("o"),
    }));
    assert.deepEqual(fresh, [{ keyid: "k1", sig: sig("n"), manifest_sha256: H("n") }]);
  }
});

Deno.test("older generations are dropped to keep the file under the clients' size cap", () => {
  const many = (c: string) =>
    enc(Array.from({ length: 25 }, (_, i) => ({ keyid: `key${i}`, sig: sig(c) })));
  let stored = channelSignatureFile(many("a"), H("a"), { bytes: null, manifestSha256: null });
  stored = channelSignatureFile(many("b"), H("b"), { bytes: stored, manifestSha256: H("a") });
  const out = channelSignatureFile(many("c"), H("c"), { bytes: stored, manifestSha256: H("b") });
  assert.ok(out.length <= MAX_SIGNATURE_BYTES, `${out.length} bytes`);
  const tags = new Set(dec(out).map((e: { manifest_sha256: string }) => e.manifest_sha256));
  assert.deepEqual([...tags], [H("c"), H("b")]); // the oldest went first
});
