// Access-controlled channels, the unit half: where credentials come from (an owner-only file or an
// environment variable, checked, never shown), where requests carry them (the channel's origin
// and auth.send_to, never after a redirect leaves the first origin), and the one-line 401/403
// errors. The nginx half (auth_basic, a bearer check, through the CLI) is tests/access_test.ts.
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { AccessDeniedError } from "../lib/core/errors.ts";
import { ChannelCredentials, loadCredentials } from "../lib/net/credentials.ts";
import { fetchLimited } from "../lib/net/fetch.ts";
import { downloadArtifact } from "../lib/net/download.ts";
import { rejectsWith, sha256, tempDir } from "./_helpers.ts";

const TOKEN = "canary-T0ken_value.with~chars+/=";
const PASSWORD = "correct horse battery staple";

function configWith(auth: Record<string, unknown>, base = "https://updates.ms11.com/canary") {
  return validateConfig({
    channel: "canary",
    update_servers: { canary: { base_url: base, description: "Canary", risk: "high", auth } },
    security: { require_https: false, allowed_domains: [] },
  });
}

/** `loadCredentials` must reject with exactly `message`, which must not hold `secret`. */
async function refuses(
  config: ReturnType<typeof configWith>,
  message: string | RegExp,
  options: { secret?: string; env?: Record<string, string> } = {},
): Promise<void> {
  const error = await loadCredentials(config, "canary", {
    getEnv: (name) => options.env?.[name],
  }).then(() => null, (e: Error) => e);
  assert.ok(error instanceof Error, "loadCredentials should have failed");
  if (typeof message === "string") assert.equal(error.message, message);
  else assert.match(error.message, message);
  if (options.secret) assert.ok(!error.message.includes(options.secret), "the secret is shown");
}

Deno.test("loadCredentials: a bearer token from an environment variable, a password from a file", async () => {
  await using tmp = await tempDir();
  const bearer = await loadCredentials(
    configWith({ scheme: "bearer", secret_env: "CANARY_TOKEN" }),
    "canary",
    { getEnv: (name) => (name === "CANARY_TOKEN" ? `${TOKEN}\n` : undefined) },
  );
  assert.equal(bearer?.authorization(), `Bearer ${TOKEN}`);
  assert.deepEqual(bearer?.origins, ["https://updates.ms11.com"]);
  assert.equal(bearer?.source, "environment variable CANARY_TOKEN");
  const file = `${tmp.path}/password`;
  await Deno.writeTextFile(file, `${PASSWORD}\r\n`, { mode: 0o600 });
  const basic = await loadCredentials(
    configWith({ scheme: "basic", username: "tëster", secret_file: file }),
    "canary",
  );
  // UTF-8 bytes of user:password, base64: what nginx and every server expect.
  const expected = btoa(
    String.fromCharCode(...new TextEncoder().encode(`tëster:${PASSWORD}`)),
  );
  assert.equal(basic?.authorization(), `Basic ${expected}`);
  assert.equal(basic?.describe(), `a password from file ${file}`);
  // A channel without auth has none.
  assert.equal(await loadCredentials(validateConfig({}), "stable"), null);
});

Deno.test("loadCredentials: the file must be the owner's only, a plain file, one line", async () => {
  await using tmp = await tempDir();
  const file = `${tmp.path}/token`;
  const config = configWith({ scheme: "bearer", secret_file: file });
  const what = `Credentials file ${file} of channel canary`;
  await refuses(config, `${what} does not exist`);
  await Deno.writeTextFile(file, TOKEN, { mode: 0o600 });
  for (const mode of [0o640, 0o604, 0o660, 0o666]) {
    await Deno.chmod(file, mode);
    await refuses(
      config,
      `${what} can be read or changed by other users (mode 0${
        mode.toString(8)
      }): make it its owner's only (chmod 600 ${file})`,
      { secret: TOKEN },
    );
  }
  await Deno.chmod(file, 0o400);
  assert.equal((await loadCredentials(config, "canary"))?.authorization(), `Bearer ${TOKEN}`);
  await Deno.chmod(file, 0o600);
  const link = `${tmp.path}/link`;
  await Deno.symlink(file, link);
  await refuses(
    configWith({ scheme: "bearer", secret_file: link }),
    `Credentials file ${link} of channel canary is a symbolic link; name the file itself (a link can be re-pointed)`,
  );
  await refuses(
    configWith({ scheme: "bearer", secret_file: tmp.path }),
    `Credentials file ${tmp.path} of channel canary is not a file`,
  );
  if (Deno.uid() === 0) {
    await Deno.chown(file, 65534, 65534);
    await refuses(
      config,
      `${what} belongs to another user (uid 65534, not 0); it must be the own file of the user running ms11-update`,
      { secret: TOKEN },
    );
    await Deno.chown(file, 0, 0);
  }
  await Deno.writeFile(file, new Uint8Array(20_000).fill(65));
  await refuses(config, `${what} is larger than 16384 bytes: not a credentials file`);
  await Deno.writeFile(file, new Uint8Array([0xff, 0xfe, 0x41]));
  await refuses(config, `${what} is not UTF-8 text`);
  await Deno.writeTextFile(file, "");
  await refuses(config, `The credentials in file ${file} are empty`);
  await Deno.writeTextFile(file, `${TOKEN}\nsecond line\n`);
  await refuses(
    config,
    `The credentials in file ${file} hold a control character or more than one line; the secret goes on one line`,
    { secret: TOKEN },
  );
  await Deno.writeTextFile(file, "not a token!");
  await refuses(
    config,
    `The credentials in file ${file} are not a bearer token (letters, digits and - . _ ~ + / only, = at the end)`,
    { secret: "not a token!" },
  );
});

Deno.test("loadCredentials: an environment variable that is unset, empty or not one line", async () => {
  const config = configWith({ scheme: "basic", username: "tester", secret_env: "CANARY_PASSWORD" });
  await refuses(
    config,
    "Channel canary needs credentials from the environment variable CANARY_PASSWORD, which is not set",
  );
  await refuses(config, "The credentials in environment variable CANARY_PASSWORD are empty", {
    env: { CANARY_PASSWORD: "" },
  });
  await refuses(
    config,
    "The credentials in environment variable CANARY_PASSWORD hold a control character or more than one line; the secret goes on one line",
    { env: { CANARY_PASSWORD: "pass\x1b[2Jword" }, secret: "pass" },
  );
  // The real environment is the default.
  Deno.env.set("MS11_TEST_CANARY_TOKEN", TOKEN);
  try {
    const real = await loadCredentials(
      configWith({ scheme: "bearer", secret_env: "MS11_TEST_CANARY_TOKEN" }),
      "canary",
    );
    assert.equal(real?.authorization(), `Bearer ${TOKEN}`);
  } finally {
    Deno.env.delete("MS11_TEST_CANARY_TOKEN");
  }
});

Deno.test("ChannelCredentials never shows its secret", () => {
  const credentials = new ChannelCredentials({
    channel: "canary",
    scheme: "bearer",
    source: "environment variable T",
    authorization: `Bearer ${TOKEN}`,
    origins: ["https://updates.ms11.com"],
  });
  const shown = [
    JSON.stringify(credentials),
    JSON.stringify({ nested: [credentials] }),
    String(credentials),
    `${credentials}`,
    Deno.inspect(credentials),
    Deno.inspect({ credentials }, { depth: 10, showHidden: true }),
    Object.keys(credentials).join(","),
    JSON.stringify(Object.entries(credentials)),
  ];
  for (const text of shown) assert.ok(!text.includes(TOKEN), text);
  assert.equal(
    String(credentials),
    "credentials of channel canary (a bearer token from environment variable T)",
  );
});

// --- where requests carry them ---------------------------------------------------------------

/** A loopback server that records each request's path and Authorization header. */
function recorder(
  handler: (request: Request, url: URL) => Response = () => new Response("ok"),
) {
  const seen: { path: string; authorization: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    seen.push({ path: url.pathname, authorization: request.headers.get("authorization") });
    return handler(request, url);
  });
  return { seen, server, origin: `http://127.0.0.1:${server.addr.port}` };
}

function credentialsFor(...origins: string[]): ChannelCredentials {
  return new ChannelCredentials({
    channel: "canary",
    scheme: "bearer",
    source: "environment variable T",
    authorization: `Bearer ${TOKEN}`,
    origins,
  });
}

Deno.test("requests carry the credentials to the channel's origin and send_to, nowhere else", async () => {
  const own = recorder();
  const other = recorder();
  const listed = recorder();
  try {
    const auth = { channel: "canary", credentials: credentialsFor(own.origin, listed.origin) };
    const options = { requireHttps: false, auth };
    await fetchLimited(`${own.origin}/canary/manifest.json`, options);
    await fetchLimited(`${other.origin}/canary/1.1.0/ms11`, options);
    await fetchLimited(`${listed.origin}/canary/1.1.0/ms11`, options);
    // Another port of the same host is another origin.
    assert.deepEqual(own.seen, [{
      path: "/canary/manifest.json",
      authorization: `Bearer ${TOKEN}`,
    }]);
    assert.deepEqual(other.seen, [{ path: "/canary/1.1.0/ms11", authorization: null }]);
    assert.deepEqual(listed.seen, [{
      path: "/canary/1.1.0/ms11",
      authorization: `Bearer ${TOKEN}`,
    }]);
    // Without auth nothing is sent.
    await fetchLimited(`${own.origin}/plain`, { requireHttps: false });
    assert.equal(own.seen.at(-1)?.authorization, null);
  } finally {
    await Promise.all([own.server.shutdown(), other.server.shutdown(), listed.server.shutdown()]);
  }
});

Deno.test("a redirect within the origin keeps the credentials; one that leaves it drops them for good", async () => {
  const target = recorder();
  const listed = recorder();
  const own = recorder((_request, url) => {
    const to: Record<string, string> = {
      "/same": "/canary/manifest.json",
      "/away": `${target.origin}/canary/manifest.json`,
      "/listed": `${listed.origin}/canary/manifest.json`,
      "/away-and-back": `${target.origin}/back`,
    };
    return url.pathname in to
      ? new Response(null, { status: 302, headers: { location: to[url.pathname] } })
      : new Response("manifest");
  });
  // The target sends one request back to the channel's origin.
  const bounce = recorder(() =>
    new Response(null, { status: 302, headers: { location: `${own.origin}/canary/manifest.json` } })
  );
  try {
    const auth = { channel: "canary", credentials: credentialsFor(own.origin, listed.origin) };
    const options = { requireHttps: false, auth };
    await fetchLimited(`${own.origin}/same`, options);
    assert.deepEqual(own.seen.map((s) => s.authorization), [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    await fetchLimited(`${own.origin}/away`, options);
    assert.deepEqual(target.seen, [{ path: "/canary/manifest.json", authorization: null }]);
    // Even an origin listed in send_to gets nothing by way of a redirect.
    await fetchLimited(`${own.origin}/listed`, options);
    assert.deepEqual(listed.seen, [{ path: "/canary/manifest.json", authorization: null }]);
    // Away and back again: once dropped, they stay dropped.
    own.seen.length = 0;
    await fetchLimited(`${bounce.origin}/start`, {
      ...options,
      auth: { channel: "canary", credentials: credentialsFor(bounce.origin, own.origin) },
    });
    assert.deepEqual(bounce.seen, [{ path: "/start", authorization: `Bearer ${TOKEN}` }]);
    assert.deepEqual(own.seen, [{ path: "/canary/manifest.json", authorization: null }]);
  } finally {
    await Promise.all(
      [target, listed, own, bounce].map((r) => r.server.shutdown()),
    );
  }
});

Deno.test("a 401 or 403 is one line naming the channel and what to configure", async () => {
  const server = recorder((request, url) => {
    if (url.pathname === "/moved") {
      return new Response(null, {
        status: 302,
        headers: { location: `http://localhost:${new URL(request.url).port}/canary/manifest.json` },
      });
    }
    return url.pathname.startsWith("/forbidden")
      ? new Response("no", { status: 403 })
      : new Response("no", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="canary", error="invalid_token"' },
      });
  });
  const base = server.origin;
  const port = new URL(base).port;
  const attempt = (path: string, credentials: ChannelCredentials | null) =>
    fetchLimited(`${base}${path}`, {
      requireHttps: false,
      maxAttempts: 3,
      auth: { channel: "canary", credentials },
    });
  try {
    const creds = credentialsFor(base);
    await rejectsWith(
      () => attempt("/canary/manifest.json", null),
      AccessDeniedError,
      `Channel canary needs credentials: ${base}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Bearer); set update_servers.canary.auth`,
    );
    assert.equal(server.seen.length, 1, "a 401 is not retried");
    await rejectsWith(
      () => attempt("/canary/manifest.json", creds),
      AccessDeniedError,
      `Channel canary refused its credentials (a bearer token from environment variable T): ${base}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Bearer)`,
    );
    await rejectsWith(
      () => attempt("/forbidden/x", creds),
      AccessDeniedError,
      `Channel canary denied access with its credentials (a bearer token from environment variable T): ${base}/forbidden/x answered HTTP 403 Forbidden`,
    );
    await rejectsWith(
      () => attempt("/forbidden/x", null),
      AccessDeniedError,
      `Channel canary denied access: ${base}/forbidden/x answered HTTP 403 Forbidden; if its server needs credentials, set update_servers.canary.auth`,
    );
    await rejectsWith(
      () => attempt("/x", credentialsFor("https://updates.ms11.com")),
      AccessDeniedError,
      `Channel canary's credentials were not sent to ${base}: ${base}/x answered HTTP 401 Unauthorized (the server asks for Bearer); they go only to https://updates.ms11.com (list the origin in update_servers.canary.auth.send_to to send them there too)`,
    );
    await rejectsWith(
      () => attempt("/moved", creds),
      AccessDeniedError,
      `Channel canary's credentials were not sent to http://localhost:${port}, where ${base}/moved redirected: http://localhost:${port}/canary/manifest.json answered HTTP 401 Unauthorized (the server asks for Bearer); credentials never follow a redirect to another origin`,
    );
    // A download says the same.
    await using tmp = await tempDir();
    await rejectsWith(
      () =>
        downloadArtifact(`${base}/canary/1.1.0/ms11`, `${tmp.path}/ms11`, {
          size: 2,
          sha256: sha256("no"),
          requireHttps: false,
          auth: { channel: "canary", credentials: null },
        }),
      AccessDeniedError,
      `Channel canary needs credentials: ${base}/canary/1.1.0/ms11 answered HTTP 401 Unauthorized (the server asks for Bearer); set update_servers.canary.auth`,
    );
    // Without a channel to name, a 401 stays a plain HTTP failure.
    await rejectsWith(
      () => fetchLimited(`${base}/x`, { requireHttps: false }),
      Error,
      `Fetch of ${base}/x failed: HTTP 401 Unauthorized`,
    );
  } finally {
    await server.server.shutdown();
  }
});

Deno.test("a channel's mirrors get its credentials only when auth.send_to lists their origin", async () => {
  const { fetchFromMirrors } = await import("../lib/trust/mirrors.ts");
  const manifest = JSON.stringify({
    schema: 1,
    channel: "canary",
    version: "1.1.0",
    released_at: "2026-11-20T10:00:00Z",
    artifacts: {
      "linux-x64": { url: "1.1.0/ms11", size: 3, sha256: "a".repeat(64), kind: "executable" },
    },
  });
  const down = recorder(() => new Response("busy", { status: 503 }));
  const mirror = recorder(() => new Response(manifest));
  try {
    const config = (sendTo: string[]) =>
      validateConfig({
        channel: "canary",
        max_retry_attempts: 1,
        update_servers: {
          canary: {
            base_url: `${down.origin}/canary`,
            mirrors: [`${mirror.origin}/canary`],
            auth: { scheme: "bearer", secret_env: "CANARY_TOKEN", send_to: sendTo },
          },
        },
        security: { require_https: false, allowed_domains: [], verify_signatures: false },
      });
    Deno.env.set("CANARY_TOKEN", TOKEN);
    const unlisted = await fetchFromMirrors(config([]), "canary");
    assert.equal(unlisted.baseUrl, `${mirror.origin}/canary`);
    assert.deepEqual(down.seen, [
      { path: "/canary/manifest.json", authorization: `Bearer ${TOKEN}` },
    ]);
    assert.deepEqual(mirror.seen, [{ path: "/canary/manifest.json", authorization: null }]);
    await fetchFromMirrors(config([mirror.origin]), "canary", { remembered: null });
    assert.deepEqual(mirror.seen.at(-1), {
      path: "/canary/manifest.json",
      authorization: `Bearer ${TOKEN}`,
    });
  } finally {
    Deno.env.delete("CANARY_TOKEN");
    await Promise.all([down.server.shutdown(), mirror.server.shutdown()]);
  }
});
