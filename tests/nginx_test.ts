import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { appScript, launch, linuxPlatform, runCli, snapshot } from "./_e2e.ts";
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

// ---------------------------------------------------------------------------------------------
// End to end: the CLI against nginx over HTTPS, trusting the test CA through security.ca_file
// while require_https stays true.

/** The access log lines for `path` as [status, body bytes]. */
async function logged(nginx: NginxServer, path: string): Promise<[number, number][]> {
  const log = await Deno.readTextFile(nginx.accessLogPath);
  const lines = log.split("\n").filter((l) => l.includes(`"GET ${path} HTTP/1.1"`));
  return lines.map((l) => {
    const m = /" (\d{3}) (\d+) /.exec(l.slice(l.indexOf(`"GET ${path}`)));
    assert.ok(m, l);
    return [Number(m[1]), Number(m[2])];
  });
}

Deno.test({
  name:
    `CLI over nginx HTTPS with security.ca_file: install, 304 check, JSON progress, resume${NEEDS_NGINX}`,
  ignore: !NGINX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ms11-nginx-e2e-" });
    const tree = `${dir}/releases`;
    const root = `${dir}/root`;
    const platform = linuxPlatform();
    const publish = async (version: string, padding = 0) => {
      const file = `${dir}/ms11`;
      await Deno.writeTextFile(file, appScript(version, `# ${"x".repeat(padding)}\n`));
      const { manifestPath } = await publishRelease(tree, {
        channel: "stable",
        version,
        platform,
        artifact: file,
      });
      // nginx's ETag is mtime (seconds) and size: two same-length manifests published within one
      // second would share it, so each gets its own modification time here.
      const mtime = new Date(Date.UTC(2026, 0, 1, ++published));
      await Deno.utime(manifestPath, mtime, mtime);
    };
    let published = 0;
    try {
      await publish("1.0.0");
      const nginx = await startNginx(tree, {
        http: false,
        extraServerConfig: `
        location = /moved/stable/manifest.json { return 302 /stable/manifest.json; }
        location = /insecure/stable/manifest.json { return 302 http://127.0.0.1:9/stable/manifest.json; }`,
      });
      assert.ok(nginx);
      await using _nginx = nginx;
      const caFile = `${dir}/ca.pem`;
      await Deno.writeTextFile(caFile, nginx.caPem);
      const config = (base: string, security: Record<string, unknown> = { ca_file: caFile }) => {
        const path = `${dir}/config.json`;
        Deno.writeTextFileSync(
          path,
          JSON.stringify({
            update_servers: { stable: { base_url: `${nginx.httpsUrl}${base}`, description: "S" } },
            max_retry_attempts: 1,
            security: {
              require_https: true,
              allowed_domains: ["127.0.0.1"],
              verify_signatures: false, // signatures are tested elsewhere; this is about transport
              ...security,
            },
          }),
        );
        return path;
      };
      const cli = (args: string[], base = "/stable", security?: Record<string, unknown>) =>
        runCli([...args, "--config", config(base, security), "--root", root]);

      const install = await cli(["install"]);
      assert.equal(install.code, 0, install.stderr);
      assert.equal(await launch(root), "MS11 1.0.0");
      assert.deepEqual(await logged(nginx, "/stable/manifest.json"), [[
        200,
        (await Deno.stat(`${tree}/stable/manifest.json`)).size,
      ]]);

      // The second check sends If-None-Match and nginx answers 304 with no body.
      const check = await cli(["check", "--json"]);
      assert.equal(check.code, 0, check.stderr);
      const checked = JSON.parse(check.stdout);
      assert.equal(checked.manifest_not_modified, true);
      assert.equal(checked.decision.reason, "up-to-date");
      assert.deepEqual((await logged(nginx, "/stable/manifest.json")).at(-1), [304, 0]);

      // A new release: progress events as JSON lines, then the result as the last line.
      await publish("1.1.0", 3_000_000);
      const update = await cli(["--json"]);
      assert.equal(update.code, 0, update.stderr);
      const lines = update.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      const result = lines.at(-1);
      assert.equal(result.staged, "1.1.0");
      assert.equal(result.manifest_not_modified, false);
      const progress = lines.slice(0, -1);
      assert.ok(progress.length >= 2, update.stdout);
      assert.ok(progress.every((e) => e.type === "progress"), update.stdout);
      const downloads = progress.filter((e) => e.phase === "download");
      const size = (await Deno.stat(`${tree}/stable/1.1.0/ms11`)).size;
      assert.deepEqual([downloads[0].done, downloads[0].total], [0, size]);
      assert.deepEqual([downloads.at(-1).done, downloads.at(-1).total], [size, size]);
      assert.deepEqual(await logged(nginx, "/stable/1.1.0/ms11"), [[200, size]]);

      // Resume across runs against nginx: a half-downloaded 1.2.0 left by a killed run.
      await publish("1.2.0", 3_000_000);
      const bytes = await Deno.readFile(`${tree}/stable/1.2.0/ms11`);
      const client = Deno.createHttpClient({ caCerts: [nginx.caPem] });
      const head = await fetch(`${nginx.httpsUrl}/stable/1.2.0/ms11`, { method: "HEAD", client });
      client.close();
      const half = Math.floor(bytes.length / 2);
      const partial = `${root}/downloads/1.2.0-${platform}.bin.partial`;
      await Deno.writeFile(partial, bytes.subarray(0, half));
      await Deno.writeTextFile(
        `${partial}.json`,
        JSON.stringify({
          url: `${nginx.httpsUrl}/stable/1.2.0/ms11`,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          size: bytes.length,
          etag: head.headers.get("etag"),
          last_modified: head.headers.get("last-modified"),
        }),
      );
      const resumed = await cli([]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.stdout, "");
      assert.match(resumed.stderr, /\nStaged 1\.2\.0 from stable \(1\.0\.0 -> 1\.2\.0; downloaded/);
      assert.deepEqual(await logged(nginx, "/stable/1.2.0/ms11"), [[206, bytes.length - half]]);

      // Redirects: followed over https, refused to http.
      const moved = await cli(["check", "--json"], "/moved/stable");
      assert.equal(moved.code, 0, moved.stderr);
      assert.equal(JSON.parse(moved.stdout).available, "1.2.0");
      const before = await snapshot(root);
      const insecure = await cli(["check"], "/insecure/stable");
      assert.equal(insecure.code, 1);
      assert.equal(
        insecure.stderr.trim().split("\n").at(-1),
        `error: Refusing redirect from ${nginx.httpsUrl}/insecure/stable/manifest.json to http://127.0.0.1:9/stable/manifest.json: only https: URLs are allowed (requireHttps)`,
      );

      // Without the CA the certificate is not trusted: fails closed, nothing changes.
      const untrusted = await cli(["--json"], "/stable", { ca_file: null });
      assert.equal(untrusted.code, 1);
      assert.equal(untrusted.stdout, "");
      assert.match(
        untrusted.stderr,
        new RegExp(
          `error: Fetch of ${nginx.httpsUrl}/stable/manifest\\.json failed: fetch failed: error sending request for url \\(${nginx.httpsUrl}/stable/manifest\\.json\\): client error \\(Connect\\): invalid peer certificate: UnknownIssuer\\n$`,
        ),
      );
      assert.equal(await snapshot(root), before);

      // A CA file that does not exist is a configuration error (exit 2).
      const missing = await cli(["check"], "/stable", { ca_file: `${dir}/nope.pem` });
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        new RegExp(`^error: Cannot read security\\.ca_file ${dir}/nope\\.pem: `, "m"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    `two same-length manifests published within one second share nginx's ETag; the client reads the new pair${NEEDS_NGINX}`,
  ignore: !NGINX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ms11-nginx-etag-" });
    const tree = `${dir}/releases`;
    const root = `${dir}/root`;
    const platform = linuxPlatform();
    const written = await writeKeyPair(`${dir}/keys`);
    const key = await readSigningKey(written.privatePath);
    // One second for both publications, as a publisher releasing twice in a row gets.
    const second = new Date(Date.UTC(2026, 0, 1, 12, 0, 0));
    const publish = async (version: string) => {
      const file = `${dir}/ms11`;
      await Deno.writeTextFile(file, appScript(version));
      const { manifestPath } = await publishRelease(tree, {
        channel: "stable",
        version,
        platform,
        artifact: file,
        keys: [key],
      });
      await Deno.utime(manifestPath, second, second);
      return manifestPath;
    };
    try {
      const manifestPath = await publish("1.0.1");
      const nginx = await startNginx(tree, { http: false });
      assert.ok(nginx);
      await using _nginx = nginx;
      await Deno.writeTextFile(`${dir}/ca.pem`, nginx.caPem);
      const configPath = `${dir}/config.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({
          update_servers: { stable: { base_url: `${nginx.httpsUrl}/stable` } },
          max_retry_attempts: 1,
          security: {
            ca_file: `${dir}/ca.pem`,
            allowed_domains: ["127.0.0.1"],
            signing_keys: { stable: { threshold: 1, keys: [written.publicKey] } },
          },
        }),
      );
      const cli = (args: string[]) => runCli([...args, "--config", configPath, "--root", root]);
      const etagOf = async () => {
        const client = Deno.createHttpClient({ caCerts: [nginx.caPem] });
        try {
          const r = await fetch(`${nginx.httpsUrl}/stable/manifest.json`, { client });
          await r.body?.cancel();
          return r.headers.get("etag");
        } finally {
          client.close();
        }
      };
      const install = await cli(["install"]);
      assert.equal(install.code, 0, install.stderr);
      const before = { etag: await etagOf(), size: (await Deno.stat(manifestPath)).size };

      await publish("1.0.2");
      // The case itself: another manifest, the same length, the same second, the same ETag.
      assert.notEqual(await Deno.readTextFile(manifestPath), "");
      assert.deepEqual(
        { etag: await etagOf(), size: (await Deno.stat(manifestPath)).size },
        before,
      );

      const check = await cli(["check", "--json"]);
      assert.equal(check.code, 0, check.stderr);
      const checked = JSON.parse(check.stdout);
      assert.deepEqual([checked.available, checked.update_available], ["1.0.2", true]);
      assert.equal(checked.manifest_not_modified, false);
      // nginx said 304 to the conditional request; the kept 1.0.1 did not verify with the new
      // signature file, so the manifest was fetched again without the condition.
      const manifestRequests = (await logged(nginx, "/stable/manifest.json")).slice(-2);
      assert.deepEqual(manifestRequests.map(([status]) => status), [304, 200]);

      const update = await cli([]);
      assert.equal(update.code, 0, update.stderr);
      assert.equal(update.stdout, "");
      assert.match(update.stderr, /^Staged 1\.0\.2 from stable \(1\.0\.1 -> 1\.0\.2; downloaded/m);
      // With the right body kept, the next 304 is used as it is: one manifest request.
      const count = (await logged(nginx, "/stable/manifest.json")).length;
      const again = await cli(["check", "--json"]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).manifest_not_modified, true);
      assert.deepEqual((await logged(nginx, "/stable/manifest.json")).slice(count), [[304, 0]]);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
