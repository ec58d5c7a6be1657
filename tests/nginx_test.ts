import assert from "node:assert/strict";
import { haveNginx, NGINX_PATH, type NginxServer, startNginx } from "./_nginx.ts";

const NGINX = await haveNginx();
const NEEDS_NGINX = NGINX ? "" : ` (skipped: ${NGINX_PATH} not installed; apt-get install nginx)`;

/** A release tree with a secret file next to it. */
async function withTree(fn: (root: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nginx_test_" });
  const root = `${dir}/root`;
  try {
    await Deno.mkdir(`${root}/stable`, { recursive: true });
    await Deno.writeTextFile(`${root}/stable/manifest.json`, '{"version":"1.0.0"}');
    await Deno.writeTextFile(`${root}/app.bin`, "0123456789abcdef");
    await Deno.writeTextFile(`${dir}/secret.txt`, "secret");
    await fn(root, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withNginx(fn: (nginx: NginxServer, client: Deno.HttpClient) => Promise<void>) {
  await withTree(async (root) => {
    const nginx = await startNginx(root);
    assert.ok(nginx, `${NGINX_PATH} is installed but startNginx returned null`);
    const client = Deno.createHttpClient({ caCerts: [nginx.caPem] });
    try {
      await fn(nginx, client);
    } finally {
      client.close();
      await nginx.stop();
    }
  });
}

/** An executable shell script standing in for nginx. */
async function fakeNginx(dir: string, script: string): Promise<string> {
  const path = `${dir}/fake-nginx`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${script}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("startNginx returns null when nginx is not installed", async () => {
  await withTree(async (root, dir) => {
    assert.equal(await startNginx(root, { nginxPath: `${dir}/no-such-nginx` }), null);
    assert.equal(await haveNginx(`${dir}/no-such-nginx`), false);
    assert.equal(await haveNginx(dir), false); // a directory is not a binary
  });
});

Deno.test({
  name: `nginx serves GET over HTTPS trusted through the test CA${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withNginx(async (nginx, client) => {
      assert.match(nginx.httpsUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(nginx.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await fetch(`${nginx.httpsUrl}/app.bin`, { client });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "0123456789abcdef");
      assert.equal(r.headers.get("content-type"), "application/octet-stream");
      assert.equal(r.headers.get("accept-ranges"), "bytes");
      assert.match(r.headers.get("etag")!, /^"[0-9a-f]+-10"$/);
      const manifest = await fetch(`${nginx.httpsUrl}/stable/manifest.json`, { client });
      assert.equal(manifest.headers.get("content-type"), "application/json");
      assert.deepEqual(await manifest.json(), { version: "1.0.0" });
      const plain = await fetch(`${nginx.url}/app.bin`);
      assert.equal(await plain.text(), "0123456789abcdef");
      const log = await Deno.readTextFile(nginx.accessLogPath);
      assert.equal(log.match(/"GET \/app\.bin HTTP\/1\.1" 200 16 /g)?.length, 2);
    }),
});

Deno.test({
  name: `nginx answers 404 for missing files and traversal attempts${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withNginx(async (nginx, client) => {
      for (const path of ["/missing.bin", "/stable/", "/..%2fsecret.txt", "/%2e%2e/secret.txt"]) {
        const r = await fetch(`${nginx.httpsUrl}${path}`, { client });
        await r.body?.cancel();
        assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
      }
    }),
});

Deno.test({
  name: `nginx serves byte ranges: 206, If-Range and 416${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withNginx(async (nginx, client) => {
      const url = `${nginx.httpsUrl}/app.bin`;
      let r = await fetch(url, { client, headers: { range: "bytes=10-" } });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get("content-range"), "bytes 10-15/16");
      assert.equal(r.headers.get("content-length"), "6");
      assert.equal(await r.text(), "abcdef");
      r = await fetch(url, { client, headers: { range: "bytes=-3" } });
      assert.equal(r.status, 206);
      assert.equal(await r.text(), "def");
      const etag = r.headers.get("etag")!;
      r = await fetch(url, { client, headers: { range: "bytes=2-4", "if-range": etag } });
      assert.equal(r.status, 206);
      assert.equal(await r.text(), "234");
      r = await fetch(url, { client, headers: { range: "bytes=2-4", "if-range": '"0-0"' } });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "0123456789abcdef");
      r = await fetch(url, { client, headers: { range: "bytes=16-" } });
      assert.equal(r.status, 416);
      assert.equal(r.headers.get("content-range"), "bytes */16");
      await r.body?.cancel();
    }),
});

Deno.test({
  name: `nginx answers If-None-Match with the current ETag with 304${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withNginx(async (nginx, client) => {
      const url = `${nginx.httpsUrl}/app.bin`;
      const first = await fetch(url, { client });
      await first.body?.cancel();
      const etag = first.headers.get("etag")!;
      const cached = await fetch(url, { client, headers: { "if-none-match": etag } });
      assert.equal(cached.status, 304);
      assert.equal((await cached.bytes()).length, 0);
      assert.equal(cached.headers.get("etag"), etag);
      const stale = await fetch(url, { client, headers: { "if-none-match": '"0-0"' } });
      assert.equal(stale.status, 200);
      assert.equal(await stale.text(), "0123456789abcdef");
    }),
});

Deno.test({
  name: `nginx's certificate is refused without the test CA${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withNginx(async (nginx) => {
      await assert.rejects(fetch(`${nginx.httpsUrl}/app.bin`), TypeError);
    }),
});

Deno.test({
  name: `nginx without plain HTTP, and stop() ends it and removes its files${NEEDS_NGINX}`,
  ignore: !NGINX,
  fn: () =>
    withTree(async (root) => {
      const nginx = await startNginx(root, { http: false });
      assert.ok(nginx);
      assert.equal(nginx.url, nginx.httpsUrl);
      const client = Deno.createHttpClient({ caCerts: [nginx.caPem] });
      try {
        const r = await fetch(`${nginx.url}/app.bin`, { client });
        assert.equal(await r.text(), "0123456789abcdef");
      } finally {
        client.close();
      }
      const port = Number(new URL(nginx.httpsUrl).port);
      const tempDir = nginx.accessLogPath.replace(/\/logs\/access\.log$/, "");
      await Promise.all([nginx.stop(), nginx.stop()]);
      await assert.rejects(Deno.stat(tempDir), Deno.errors.NotFound);
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port }),
        Deno.errors.ConnectionRefused,
      );
    }),
});

Deno.test("startNginx refuses a missing root", async () => {
  await withTree(async (_root, dir) => {
    const nginxPath = await fakeNginx(dir, "exit 0");
    await assert.rejects(startNginx(`${dir}/missing`, { nginxPath }), Deno.errors.NotFound);
  });
});

Deno.test("startNginx reports an nginx that exits instead of serving", async () => {
  await withTree(async (root, dir) => {
    const nginxPath = await fakeNginx(dir, 'echo "nginx: [emerg] bad config" >&2; exit 1');
    await assert.rejects(startNginx(root, { nginxPath }), {
      message: `Command ${nginxPath} exited with code 1 before serving: nginx: [emerg] bad config`,
    });
  });
});

Deno.test("startNginx retries when its ports were taken, then gives up", async () => {
  await withTree(async (root, dir) => {
    const nginxPath = await fakeNginx(
      dir,
      `echo run >> ${dir}/runs; echo "bind() failed (98: Address already in use)" >&2; exit 1`,
    );
    await assert.rejects(startNginx(root, { nginxPath }), {
      message: `Command ${nginxPath} exited with code 1 before serving: ` +
        "bind() failed (98: Address already in use)",
    });
    assert.equal(await Deno.readTextFile(`${dir}/runs`), "run\n".repeat(5));
  });
});

Deno.test("startNginx kills an nginx that does not come up in time", async () => {
  await withTree(async (root, dir) => {
    const nginxPath = await fakeNginx(dir, "exec sleep 600");
    await assert.rejects(startNginx(root, { nginxPath, http: false, startTimeoutMs: 100 }), {
      message: new RegExp(`^Command ${nginxPath} did not serve on ports \\d+ within 100 ms$`),
    });
  });
});
