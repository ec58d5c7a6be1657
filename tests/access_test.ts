// Access-controlled channels against Debian's real nginx over HTTPS, through the CLI: a channel
// behind auth_basic (its password file made with `openssl passwd -apr1`), one behind a bearer
// check, a redirect to another origin, and an artifact on another host. nginx logs whether each
// request carried an Authorization header; the secrets never appear in what the CLI prints or
// leaves in the install root.
import assert from "node:assert/strict";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { appScript, launch, linuxPlatform, runCli } from "./_e2e.ts";
import { haveNginx, NGINX_PATH, startNginx } from "./_nginx.ts";

const NGINX = await haveNginx();
const HAVE_OPENSSL = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
  .output().then((o) => o.success, () => false);
const READY = NGINX && HAVE_OPENSSL;
const SKIPPED = READY
  ? ""
  : ` (skipped: ${NGINX ? "" : `${NGINX_PATH} `}${
    HAVE_OPENSSL ? "" : "openssl "
  }not installed; apt-get install nginx openssl, as .ci/run does)`;

const PASSWORD = "canary-Passw0rd with spaces";
const TOKEN = "beta-Token.123~abc";

Deno.test({
  name:
    `access-controlled channels against nginx: auth_basic, a bearer check, redirects, other hosts${SKIPPED}`,
  ignore: !READY,
  timeout: 300_000,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ms11-access-" });
    try {
      const tree = `${dir}/releases`;
      const root = `${dir}/root`;
      const keys = await writeKeyPair(`${dir}/keys`);
      const key = await readSigningKey(keys.privatePath);
      const publish = async (channel: string, version: string) => {
        const file = `${dir}/ms11-${channel}-${version}`;
        await Deno.writeTextFile(file, appScript(version));
        await publishRelease(tree, {
          channel,
          version,
          platform: linuxPlatform(),
          artifact: file,
          keys: [key],
        });
      };
      await publish("canary", "1.0.0");
      await publish("beta", "1.0.0");
      await publish("split", "1.1.0");

      // nginx's password file: the APR1 hash openssl makes, as htpasswd would.
      const hash = await new Deno.Command("openssl", {
        args: ["passwd", "-apr1", "-stdin"],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = hash.stdin.getWriter();
      await writer.write(new TextEncoder().encode(`${PASSWORD}\n`));
      await writer.close();
      const apr1 = new TextDecoder().decode((await hash.output()).stdout).trim();
      assert.match(apr1, /^\$apr1\$/);
      await Deno.writeTextFile(`${dir}/htpasswd`, `tester:${apr1}\n`);

      const authLog = `${dir}/auth.log`;
      const q = JSON.stringify;
      const nginx = await startNginx(tree, {
        http: false,
        extraHttpConfig: `
    map $http_authorization $has_auth { "" no; default yes; }
    log_format has_auth '$host $request_uri $status auth=$has_auth';`,
        extraServerConfig: `
        access_log ${q(authLog)} has_auth;
        location /canary/ {
            auth_basic "canary";
            auth_basic_user_file ${q(`${dir}/htpasswd`)};
            try_files $uri =404;
        }
        location /beta/ {
            add_header WWW-Authenticate 'Bearer realm="beta"' always;
            if ($http_authorization != "Bearer ${TOKEN}") { return 401; }
            try_files $uri =404;
        }
        location = /moved/manifest.json {
            return 302 https://localhost:$server_port/canary/manifest.json;
        }`,
      });
      assert.ok(nginx, `${NGINX_PATH} is installed but startNginx returned null`);
      await using _nginx = nginx;
      const base = nginx.httpsUrl;
      const port = new URL(base).port;
      const caFile = `${dir}/ca.pem`;
      await Deno.writeTextFile(caFile, nginx.caPem);
      const passwordFile = `${dir}/canary.password`;
      await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const pinned = { threshold: 1, keys: [keys.publicKey] };

      const outputs: string[] = [];
      const cli = async (
        args: string[],
        servers: Record<string, unknown>,
        options: { env?: Record<string, string>; security?: Record<string, unknown> } = {},
      ) => {
        const path = `${dir}/config.json`;
        await Deno.writeTextFile(
          path,
          JSON.stringify({
            channel: Object.keys(servers)[0],
            update_servers: servers,
            max_retry_attempts: 1,
            notifications: { command: ["sh", "-c", `cat >> ${dir}/events.jsonl`] },
            security: {
              require_https: true,
              ca_file: caFile,
              allowed_domains: ["127.0.0.1", "localhost"],
              signing_keys: { canary: pinned, beta: pinned, split: pinned, moved: pinned },
              ...options.security,
            },
          }),
        );
        const run = await runCli([...args, "--config", path, "--root", root], {
          env: options.env,
        });
        outputs.push(run.stdout, run.stderr);
        return run;
      };
      const logLines = async () =>
        (await Deno.readTextFile(authLog).catch(() => "")).split("\n").filter((l) => l !== "");
      const basic = (extra: Record<string, unknown> = {}) => ({
        canary: {
          base_url: `${base}/canary`,
          description: "Canary",
          auth: { scheme: "basic", username: "tester", secret_file: passwordFile, ...extra },
        },
      });

      // 1. No credentials configured: one line naming the channel; nothing installed.
      const none = await cli(["install"], { canary: { base_url: `${base}/canary` } });
      assert.equal(none.code, 1);
      assert.equal(
        none.stderr,
        `error: Channel canary needs credentials: ${base}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Basic); set update_servers.canary.auth\n`,
      );
      await assert.rejects(Deno.stat(`${root}/current`), Deno.errors.NotFound);

      // 2. HTTP basic from an owner-only file: manifest, signatures and artifact all carry it.
      const install = await cli(["install"], basic());
      assert.equal(install.code, 0, install.stderr);
      assert.equal(await launch(root), "MS11 1.0.0");
      const canaryLines = (await logLines()).filter((l) => l.includes(" /canary/"));
      // The signatures: the manifest's addressed file, which `release` writes beside it.
      assert.ok(
        canaryLines.some((l) => / \/canary\/signatures\/[0-9a-f]{64}\.sig 200 auth=yes$/.test(l)),
        canaryLines.join("\n"),
      );
      assert.ok(
        canaryLines.some((l) => / \/canary\/1\.0\.0\/\S+ 200 auth=yes$/.test(l)),
        canaryLines.join("\n"),
      );

      // 3. A wrong password: refused, said so, naming where it came from (not what it is).
      await Deno.writeTextFile(passwordFile, "wrong password\n");
      const wrong = await cli(["check"], basic());
      assert.equal(wrong.code, 1);
      assert.equal(
        wrong.stderr,
        `error: Channel canary refused its credentials (a password from file ${passwordFile}): ${base}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Basic)\n`,
      );
      await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`);

      // 4. A password file others can read is refused before any request is made.
      await Deno.chmod(passwordFile, 0o644);
      const before = (await logLines()).length;
      const open = await cli(["check"], basic());
      assert.equal(open.code, 1);
      assert.equal(
        open.stderr,
        `error: Credentials file ${passwordFile} of channel canary can be read or changed by other users (mode 0644): make it its owner's only (chmod 600 ${passwordFile})\n`,
      );
      assert.equal((await logLines()).length, before, "nothing was requested");
      await Deno.chmod(passwordFile, 0o600);

      // 5. A bearer token from an environment variable, checked by nginx.
      const beta = {
        beta: {
          base_url: `${base}/beta`,
          auth: { scheme: "bearer", secret_env: "MS11_BETA_TOKEN" },
        },
      };
      const unset = await cli(["check"], beta);
      assert.equal(unset.code, 1);
      assert.equal(
        unset.stderr,
        "error: Channel beta needs credentials from the environment variable MS11_BETA_TOKEN, which is not set\n",
      );
      const badToken = await cli(["check"], beta, { env: { MS11_BETA_TOKEN: "not-the-token" } });
      assert.equal(badToken.code, 1);
      assert.equal(
        badToken.stderr,
        `error: Channel beta refused its credentials (a bearer token from environment variable MS11_BETA_TOKEN): ${base}/beta/manifest.json answered HTTP 401 Unauthorized (the server asks for Bearer)\n`,
      );
      const check = await cli(["check", "--channel", "beta"], beta, {
        env: { MS11_BETA_TOKEN: TOKEN },
      });
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /^channel: {3}beta\n/);

      // 6. A redirect to another origin (localhost, the same nginx): the credentials stay behind.
      const moved = await cli(["check"], {
        moved: {
          base_url: `${base}/moved`,
          auth: { scheme: "basic", username: "tester", secret_file: passwordFile },
        },
      });
      assert.equal(moved.code, 1);
      assert.equal(
        moved.stderr,
        `error: Channel moved's credentials were not sent to https://localhost:${port}, where ${base}/moved/manifest.json redirected: https://localhost:${port}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Basic); credentials never follow a redirect to another origin\n`,
      );
      const hops = (await logLines()).slice(-2);
      assert.deepEqual(hops, [
        "127.0.0.1 /moved/manifest.json 302 auth=yes",
        "localhost /canary/manifest.json 401 auth=no",
      ]);

      // 7. An artifact on another host: not sent there unless auth.send_to lists it.
      const splitManifest = `${tree}/split/manifest.json`;
      const manifest = JSON.parse(await Deno.readTextFile(splitManifest));
      const platform = linuxPlatform();
      const relative = manifest.artifacts[platform].url;
      await Deno.mkdir(`${tree}/canary/split`, { recursive: true });
      await Deno.copyFile(`${tree}/split/${relative}`, `${tree}/canary/split/ms11`);
      manifest.artifacts[platform].url = `https://localhost:${port}/canary/split/ms11`;
      await Deno.writeTextFile(splitManifest, JSON.stringify(manifest));
      const split = (sendTo: string[]) => ({
        split: {
          base_url: `${base}/split`,
          auth: { scheme: "basic", username: "tester", secret_file: passwordFile, send_to: sendTo },
        },
      });
      const unsigned = { verify_signatures: false }; // the manifest was rewritten by hand
      const away = await cli(["--channel", "split"], split([]), {
        security: unsigned,
      });
      assert.equal(away.code, 1);
      assert.match(
        away.stderr,
        new RegExp(
          `error: Channel split's credentials were not sent to https://localhost:${port}: https://localhost:${port}/canary/split/ms11 answered HTTP 401 Unauthorized \\(the server asks for Basic\\); they go only to ${
            base.replaceAll(".", "\\.")
          } \\(list the origin in update_servers\\.split\\.auth\\.send_to to send them there too\\)\\n`,
        ),
      );
      assert.equal((await logLines()).at(-1), "localhost /canary/split/ms11 401 auth=no");
      const listed = await cli(
        ["--channel", "split"],
        split([`https://localhost:${port}`]),
        { security: unsigned },
      );
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stderr, /\nStaged 1\.1\.0 from split \(1\.0\.0 -> 1\.1\.0;/);
      assert.equal((await logLines()).at(-1), "localhost /canary/split/ms11 200 auth=yes");

      // 8. The secrets never reach the terminal, the state, the audit log or the events.
      const b64 = btoa(`tester:${PASSWORD}`);
      const files: string[] = [];
      for await (const path of walk(root)) {
        files.push(await Deno.readTextFile(path).catch(() => ""));
      }
      files.push(await Deno.readTextFile(`${dir}/events.jsonl`).catch(() => ""));
      for (const text of [...outputs, ...files]) {
        for (const secret of [PASSWORD, TOKEN, b64]) {
          assert.ok(!text.includes(secret), `a secret leaked: ${text.slice(0, 200)}`);
        }
      }
      assert.ok(files.some((t) => t.includes("Channel canary refused its credentials")));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Every file under `dir`. */
async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}
