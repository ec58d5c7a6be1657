// The injected environment: httpEnv's CA file handling, and proxies (HTTPS_PROXY / NO_PROXY)
// still honoured when a CA file makes a custom HTTP client. The proxy case runs the real CLI in
// a subprocess, so that the variables never leak into other tests.
import assert from "node:assert/strict";
import { realEnv, testEnv } from "../lib/core/env.ts";
import { httpEnv } from "../lib/net/http_env.ts";
import { ConfigError } from "../lib/core/errors.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { serveReleases } from "../lib/publish/serve.ts";
import { appScript, linuxPlatform, runCli } from "./_e2e.ts";
import { rejectsWith, tempDir } from "./_helpers.ts";
import { makeTestCertificates } from "./_nginx.ts";

const HAS_OPENSSL = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test("testEnv's clock moves only when told; realEnv's is the system's", () => {
  const env = testEnv(new Date("2026-11-27T00:00:00Z"));
  env.advance(1500);
  assert.equal(env.now().toISOString(), "2026-11-27T00:00:01.500Z");
  assert.ok(Math.abs(realEnv().now().getTime() - Date.now()) < 60_000);
});

Deno.test("httpEnv without a CA file is the real fetch; closing it twice is harmless", async () => {
  const env = await httpEnv({ caFile: null });
  assert.equal(typeof env.fetch, "function");
  env.close();
  env.close();
});

Deno.test("httpEnv refuses a missing CA file and one without a certificate", async () => {
  await using dir = await tempDir();
  await rejectsWith(
    httpEnv({ caFile: `${dir.path}/none.pem` }),
    ConfigError,
    new RegExp(`^Cannot read security\\.ca_file ${dir.path}/none\\.pem: No such file`),
  );
  await Deno.writeTextFile(`${dir.path}/junk.pem`, "not a certificate\n");
  await rejectsWith(
    httpEnv({ caFile: `${dir.path}/junk.pem` }),
    ConfigError,
    `security.ca_file ${dir.path}/junk.pem holds no PEM certificate`,
  );
  await Deno.writeTextFile(
    `${dir.path}/broken.pem`,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  await rejectsWith(
    httpEnv({ caFile: `${dir.path}/broken.pem` }),
    ConfigError,
    new RegExp(`^security\\.ca_file ${dir.path}/broken\\.pem cannot be used: `),
  );
});

Deno.test({
  name: "httpEnv trusts the CA file's certificates (and only then)",
  ignore: !HAS_OPENSSL,
  async fn() {
    await using dir = await tempDir();
    const certs = await makeTestCertificates(dir.path);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: certs.cert, key: certs.key, onListen() {} },
      () => new Response("trusted"),
    );
    try {
      const url = `https://127.0.0.1:${server.addr.port}/`;
      using env = await httpEnv({ caFile: certs.caPath });
      assert.equal(await (await env.fetch(url)).text(), "trusted");
      await assert.rejects(realEnv().fetch(url), TypeError);
    } finally {
      await server.shutdown();
    }
  },
});

/** A minimal HTTP CONNECT proxy on loopback that records the targets it tunnels to. */
function connectProxy(): { url: string; targets: string[]; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const targets: string[] = [];
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(16_384);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buffer).catch(() => null);
          if (n === null) return conn.close();
          head += new TextDecoder().decode(buffer.subarray(0, n));
        }
        const match = /^CONNECT (\S+):(\d+) HTTP\/1\.1\r\n/.exec(head);
        if (match === null) {
          await conn.write(new TextEncoder().encode("HTTP/1.1 405 Method Not Allowed\r\n\r\n"));
          return conn.close();
        }
        targets.push(`${match[1]}:${match[2]}`);
        const upstream = await Deno.connect({ hostname: match[1], port: Number(match[2]) });
        conns.add(upstream);
        await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection established\r\n\r\n"));
        await Promise.allSettled([
          conn.readable.pipeTo(upstream.writable),
          upstream.readable.pipeTo(conn.writable),
        ]);
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    targets,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
    },
  };
}

Deno.test({
  name: "CLI with security.ca_file goes through HTTPS_PROXY, and around it for NO_PROXY",
  ignore: !HAS_OPENSSL,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using dir = await tempDir();
    const certs = await makeTestCertificates(dir.path);
    const tree = `${dir.path}/releases`;
    await Deno.writeTextFile(`${dir.path}/ms11`, appScript("1.0.0"));
    await publishRelease(tree, {
      channel: "stable",
      version: "1.0.0",
      platform: linuxPlatform(),
      artifact: `${dir.path}/ms11`,
    });
    const server = serveReleases(tree, {
      hostname: "127.0.0.1",
      port: 0,
      cert: certs.cert,
      key: certs.key,
    });
    const proxy = connectProxy();
    try {
      const port = new URL(server.url).port;
      // "localhost" is used so that no default proxy bypass for IP literals can hide the proxy.
      const config = `${dir.path}/config.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({
          update_servers: {
            stable: { base_url: `https://localhost:${port}/stable`, description: "S" },
          },
          max_retry_attempts: 1,
          security: {
            allowed_domains: ["localhost"],
            ca_file: certs.caPath,
            verify_signatures: false,
          },
        }),
      );
      await Deno.mkdir(`${dir.path}/root/builds`, { recursive: true }); // an install to check
      const args = ["check", "--json", "--config", config, "--root", `${dir.path}/root`];
      // DENO_NO_UPDATE_CHECK: the deno running the CLI must not ask dl.deno.land through the proxy.
      const base = { HTTPS_PROXY: proxy.url, DENO_NO_UPDATE_CHECK: "1" };
      const ours = () => proxy.targets.filter((t) => t !== "dl.deno.land:443");
      const proxied = await runCli(args, { env: { ...base, NO_PROXY: "" } });
      assert.equal(proxied.code, 0, proxied.stderr);
      assert.equal(JSON.parse(proxied.stdout).available, "1.0.0");
      assert.deepEqual(ours(), [`localhost:${port}`]);

      const bypassed = await runCli(args, { env: { ...base, NO_PROXY: "localhost" } });
      assert.equal(bypassed.code, 0, bypassed.stderr);
      assert.deepEqual(ours(), [`localhost:${port}`], "NO_PROXY bypasses the proxy");
    } finally {
      proxy.close();
      await server.shutdown();
    }
  },
});
