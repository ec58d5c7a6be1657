import assert from "node:assert/strict";
import {
  detectPlatform,
  loadConfig,
  resolveConfigPath,
  updateConfigFile,
} from "../lib/core/config.ts";
import { baseUrls, type Config, defaultConfig, validateConfig } from "../lib/core/config_schema.ts";
import { ConfigError } from "../lib/core/errors.ts";
import {
  bytesOf,
  denoEval,
  libUrl,
  namesIn,
  rejectsWith,
  tempDir,
  throwsWith,
} from "./_helpers.ts";

const SHIPPED_PATH = new URL("../config/update_channel.json", import.meta.url);
const shipped = JSON.parse(await Deno.readTextFile(SHIPPED_PATH));

/** validateConfig(raw) must throw ConfigError `Invalid config config: <message>`. */
function bad(raw: unknown, message: string): void {
  throwsWith(() => validateConfig(raw), ConfigError, `Invalid config config: ${message}`);
}

const STABLE = { base_url: "https://updates.ms11.com/stable", description: "Stable" };

// --- defaults ------------------------------------------------------------------------------

Deno.test("validateConfig of {} gives exactly the shipped config", () => {
  const config = validateConfig({});
  assert.deepEqual(config, shipped as Config);
  assert.deepEqual(defaultConfig(), config);
});

Deno.test("defaultConfig returns a fresh deep copy each time", () => {
  const a = defaultConfig();
  a.security.allowed_domains.push("evil.example");
  a.update_servers.stable.base_url = "https://evil.example";
  a.notifications.notify_on_failure = false;
  const b = defaultConfig();
  assert.deepEqual(b, shipped as Config);
});

Deno.test("validateConfig fills left-out fields from the shipped defaults", () => {
  const config = validateConfig({
    channel: "canary",
    keep_backups_count: 5,
    security: { allowed_domains: ["ms11.com"] },
    notifications: { notify_on_download: false },
  });
  assert.equal(config.channel, "canary");
  assert.equal(config.keep_backups_count, 5);
  assert.equal(config.check_interval_hours, shipped.check_interval_hours);
  assert.equal(config.max_retry_attempts, shipped.max_retry_attempts);
  assert.equal(config.executable, shipped.executable);
  assert.deepEqual(config.update_servers, shipped.update_servers);
  // Nested objects merge field by field with the defaults.
  assert.deepEqual(config.security, { ...shipped.security, allowed_domains: ["ms11.com"] });
  assert.deepEqual(config.notifications, { ...shipped.notifications, notify_on_download: false });
});

Deno.test("validateConfig does not modify its input", () => {
  const raw = { channel: "canary", security: { allowed_domains: ["MS11.com"] } };
  const before = structuredClone(raw);
  validateConfig(raw);
  assert.deepEqual(raw, before);
});

Deno.test("validateConfig accepts every valid value at the edges of the ranges", () => {
  const config = validateConfig({
    auto_check_enabled: false,
    check_interval_hours: 0,
    download_timeout_seconds: 86400,
    max_retry_attempts: 1,
    keep_backups_count: 0,
    install_root: "/opt/ms11",
    platform: "darwin-arm64",
    executable: "ms11.exe",
  });
  assert.equal(config.auto_check_enabled, false);
  assert.equal(config.check_interval_hours, 0);
  assert.equal(config.download_timeout_seconds, 86400);
  assert.equal(config.max_retry_attempts, 1);
  assert.equal(config.keep_backups_count, 0);
  assert.equal(config.install_root, "/opt/ms11");
  assert.equal(config.platform, "darwin-arm64");
  assert.equal(config.executable, "ms11.exe");
  const other = validateConfig({
    check_interval_hours: 8760,
    download_timeout_seconds: 1,
    max_retry_attempts: 100,
    keep_backups_count: 100,
  });
  assert.equal(other.check_interval_hours, 8760);
  assert.equal(other.keep_backups_count, 100);
  // Hours and seconds are numbers, not only integers.
  assert.equal(validateConfig({ check_interval_hours: 0.5 }).check_interval_hours, 0.5);
  assert.equal(validateConfig({ download_timeout_seconds: 2.5 }).download_timeout_seconds, 2.5);
});

// --- the document and unknown fields -------------------------------------------------------

Deno.test("validateConfig refuses a document that is not an object", () => {
  bad(null, "the document must be an object, got null");
  bad([], "the document must be an object, got []");
  bad("stable", 'the document must be an object, got "stable"');
  bad(42, "the document must be an object, got 42");
  bad(undefined, "the document must be an object, got undefined");
});

Deno.test("validateConfig names the source in its messages", () => {
  throwsWith(
    () => validateConfig({ keep_backups_count: -1 }, { source: "/etc/ms11/update_channel.json" }),
    ConfigError,
    "Invalid config /etc/ms11/update_channel.json: keep_backups_count must be an integer from 0 to 100, got -1",
  );
});

Deno.test("validateConfig refuses unknown fields, suggesting a near one", () => {
  bad(
    { keep_backup_count: 3 },
    "unknown field keep_backup_count (did you mean keep_backups_count?)",
  );
  bad(
    { check_interval: 3 },
    "unknown field check_interval (did you mean check_interval_hours?)",
  );
  bad({ colour: "blue" }, "unknown field colour");
  bad(
    { security: { verify_checksum: true } },
    "unknown field security.verify_checksum (did you mean verify_checksums?)",
  );
  bad(
    { notifications: { commands: ["x"] } },
    "unknown field notifications.commands (did you mean command?)",
  );
  bad(
    { update_servers: { stable: { ...STABLE, url: "https://updates.ms11.com/x" } } },
    "unknown field update_servers.stable.url",
  );
  bad({ __proto__x: 1 }, "unknown field __proto__x");
  // JSON's own "__proto__" key is a field like any other, not a prototype.
  bad(JSON.parse('{"__proto__": {"channel": "canary"}}'), "unknown field __proto__");
});

Deno.test({
  name: "validateConfig suggests the closest known field for a typo",
  fn() {
    throwsWith(
      () => validateConfig({ chanel: "canary" }),
      ConfigError,
      /unknown field chanel \(did you mean channel\?\)/,
    );
    throwsWith(
      () => validateConfig({ security: { verify_signature: false } }),
      ConfigError,
      /unknown field security\.verify_signature \(did you mean (security\.)?verify_signatures\?\)/,
    );
    throwsWith(
      () => validateConfig({ notifications: { notify_on_redy: true } }),
      ConfigError,
      /\(did you mean (notifications\.)?notify_on_ready\?\)/,
    );
  },
});

// --- channel -------------------------------------------------------------------------------

Deno.test("validateConfig checks channel", () => {
  bad({ channel: 5 }, "channel must be a non-empty string, got 5");
  bad({ channel: "" }, 'channel must be a non-empty string, got ""');
  bad({ channel: null }, "channel must be a non-empty string, got null");
  bad(
    { channel: "beta" },
    'channel must be one of the channels in update_servers (stable, canary), got "beta"',
  );
  // The default channel must exist among the user's own servers too.
  bad(
    { update_servers: { beta: { base_url: "https://updates.ms11.com/beta" } } },
    'channel must be one of the channels in update_servers (beta), got "stable"',
  );
  const config = validateConfig({
    channel: "beta",
    update_servers: { beta: { base_url: "https://updates.ms11.com/beta" } },
  });
  assert.equal(config.channel, "beta");
  assert.deepEqual(Object.keys(config.update_servers), ["beta"]);
});

Deno.test({
  name: "validateConfig refuses a channel name that is only an Object.prototype member",
  fn() {
    bad(
      { channel: "constructor" },
      'channel must be one of the channels in update_servers (stable, canary), got "constructor"',
    );
    bad(
      { channel: "toString" },
      'channel must be one of the channels in update_servers (stable, canary), got "toString"',
    );
  },
});

// --- simple fields -------------------------------------------------------------------------

Deno.test("validateConfig checks auto_check_enabled", () => {
  bad({ auto_check_enabled: "yes" }, 'auto_check_enabled must be true or false, got "yes"');
  bad({ auto_check_enabled: 1 }, "auto_check_enabled must be true or false, got 1");
  bad({ auto_check_enabled: null }, "auto_check_enabled must be true or false, got null");
});

Deno.test("validateConfig checks check_interval_hours", () => {
  const m = "check_interval_hours must be a number from 0 to 8760, got";
  bad({ check_interval_hours: -1 }, `${m} -1`);
  bad({ check_interval_hours: 8761 }, `${m} 8761`);
  bad({ check_interval_hours: "24" }, `${m} "24"`);
  bad({ check_interval_hours: null }, `${m} null`);
  bad({ check_interval_hours: Infinity }, `${m} null`); // JSON.stringify(Infinity) is "null"
  bad({ check_interval_hours: NaN }, `${m} null`);
});

Deno.test("validateConfig checks download_timeout_seconds", () => {
  const m = "download_timeout_seconds must be a number from 1 to 86400, got";
  bad({ download_timeout_seconds: 0 }, `${m} 0`);
  bad({ download_timeout_seconds: 86401 }, `${m} 86401`);
  bad({ download_timeout_seconds: "300" }, `${m} "300"`);
  bad({ download_timeout_seconds: false }, `${m} false`);
});

Deno.test("validateConfig checks max_retry_attempts", () => {
  const m = "max_retry_attempts must be an integer from 1 to 100, got";
  bad({ max_retry_attempts: 0 }, `${m} 0`);
  bad({ max_retry_attempts: 101 }, `${m} 101`);
  bad({ max_retry_attempts: 1.5 }, `${m} 1.5`);
  bad({ max_retry_attempts: "3" }, `${m} "3"`);
});

Deno.test("validateConfig checks keep_backups_count", () => {
  const m = "keep_backups_count must be an integer from 0 to 100, got";
  bad({ keep_backups_count: -1 }, `${m} -1`);
  bad({ keep_backups_count: 101 }, `${m} 101`);
  bad({ keep_backups_count: 2.5 }, `${m} 2.5`);
  bad({ keep_backups_count: "2" }, `${m} "2"`);
  bad({ keep_backups_count: null }, `${m} null`);
  bad({ keep_backups_count: [2] }, `${m} [2]`);
});

Deno.test("validateConfig checks install_root", () => {
  const m = "install_root must be an absolute path, got";
  bad({ install_root: "relative/root" }, `${m} "relative/root"`);
  bad({ install_root: "~/ms11" }, `${m} "~/ms11"`);
  bad({ install_root: "" }, `${m} ""`);
  bad({ install_root: 5 }, `${m} 5`);
  bad({ install_root: false }, `${m} false`);
  assert.equal(validateConfig({ install_root: null }).install_root, null);
});

Deno.test("validateConfig checks platform", () => {
  const m = "platform must be a platform like linux-x64, got";
  bad({ platform: "linux" }, `${m} "linux"`);
  bad({ platform: "Linux-x64" }, `${m} "Linux-x64"`);
  bad({ platform: "linux-x64-musl" }, `${m} "linux-x64-musl"`);
  bad({ platform: "" }, `${m} ""`);
  bad({ platform: 64 }, `${m} 64`);
  assert.equal(validateConfig({ platform: null }).platform, null);
  assert.equal(validateConfig({ platform: "windows-x64" }).platform, "windows-x64");
});

Deno.test("validateConfig checks executable", () => {
  const m = "executable must be a file name without slashes, got";
  bad({ executable: "bin/ms11" }, `${m} "bin/ms11"`);
  bad({ executable: "bin\\ms11.exe" }, `${m} "bin\\\\ms11.exe"`);
  bad({ executable: "/usr/bin/ms11" }, `${m} "/usr/bin/ms11"`);
  bad({ executable: "." }, `${m} "."`);
  bad({ executable: ".." }, `${m} ".."`);
  bad({ executable: "ms\u000011" }, `${m} "ms\\u000011"`);
  bad({ executable: "" }, `${m} ""`);
  bad({ executable: null }, `${m} null`);
  assert.equal(validateConfig({ executable: ".ms11" }).executable, ".ms11");
});

// --- update_servers ------------------------------------------------------------------------

Deno.test("validateConfig checks the shape of update_servers", () => {
  bad({ update_servers: [] }, "update_servers must be an object, got []");
  bad({ update_servers: null }, "update_servers must be an object, got null");
  bad({ update_servers: {} }, "update_servers must be an object with at least one channel, got {}");
  bad(
    { update_servers: { Stable: STABLE } },
    'update_servers key must be a channel name like stable or canary (a-z, 0-9, -, _), got "Stable"',
  );
  bad(
    { update_servers: { "1st": STABLE } },
    'update_servers key must be a channel name like stable or canary (a-z, 0-9, -, _), got "1st"',
  );
  bad(
    { update_servers: { stable: "https://updates.ms11.com/stable" } },
    'update_servers.stable must be an object, got "https://updates.ms11.com/stable"',
  );
  bad(
    { update_servers: { stable: { description: "x" } } },
    "update_servers.stable.base_url must be a non-empty string, got undefined",
  );
  bad(
    { update_servers: { stable: { base_url: 5 } } },
    "update_servers.stable.base_url must be a non-empty string, got 5",
  );
  bad(
    { update_servers: { stable: { ...STABLE, description: 5 } } },
    "update_servers.stable.description must be a non-empty string, got 5",
  );
});

Deno.test("validateConfig checks each base_url", () => {
  const server = (base_url: string) => ({ update_servers: { stable: { base_url } } });
  bad(
    server("updates.ms11.com/stable"),
    'update_servers.stable.base_url must be an absolute URL, got "updates.ms11.com/stable"',
  );
  bad(
    server("ftp://updates.ms11.com/stable"),
    'update_servers.stable.base_url must be an http(s) URL, got "ftp://updates.ms11.com/stable"',
  );
  bad(
    server("file:///srv/releases/stable"),
    'update_servers.stable.base_url must be an http(s) URL, got "file:///srv/releases/stable"',
  );
  bad(
    server("http://updates.ms11.com/stable"),
    'update_servers.stable.base_url must be an https URL while security.require_https is true, got "http://updates.ms11.com/stable"',
  );
  bad(
    server("https://evil.example/stable"),
    'update_servers.stable.base_url must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got "https://evil.example/stable"',
  );
  // A look-alike host is not a subdomain.
  bad(
    server("https://evilupdates.ms11.com/stable"),
    'update_servers.stable.base_url must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got "https://evilupdates.ms11.com/stable"',
  );
  bad(
    server("https://updates.ms11.com.evil.example/stable"),
    'update_servers.stable.base_url must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got "https://updates.ms11.com.evil.example/stable"',
  );
  // Long values are shortened in messages.
  const long = `https://evil.example/${"x".repeat(100)}`;
  bad(
    server(long),
    `update_servers.stable.base_url must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got ${
      JSON.stringify(long).slice(0, 77)
    }...`,
  );
});

Deno.test("validateConfig accepts subdomains of allowed hosts, http when allowed, and trims slashes", () => {
  const config = validateConfig({
    update_servers: {
      stable: { base_url: "https://eu.updates.ms11.com/stable///", description: "EU" },
      canary: { base_url: "https://CDN.ms11.com/canary" },
    },
  });
  const plain = { risk: "medium", check_interval_hours: null, auth: null };
  assert.deepEqual(config.update_servers, {
    stable: {
      base_url: "https://eu.updates.ms11.com/stable",
      mirrors: [],
      description: "EU",
      ...plain,
    },
    canary: { base_url: "https://CDN.ms11.com/canary", mirrors: [], description: "", ...plain },
  });
  const http = validateConfig({
    update_servers: { stable: { base_url: "http://127.0.0.1:8080/stable" } },
    security: { require_https: false, allowed_domains: [] },
  });
  assert.equal(http.update_servers.stable.base_url, "http://127.0.0.1:8080/stable");
  // An empty allowed_domains list allows any host.
  const any = validateConfig({
    update_servers: { stable: { base_url: "https://mirror.example.org/ms11/stable" } },
    security: { allowed_domains: [] },
  });
  assert.equal(any.update_servers.stable.base_url, "https://mirror.example.org/ms11/stable");
});

Deno.test("validateConfig checks each channel's risk and check interval", () => {
  const one = (entry: Record<string, unknown>) => ({
    update_servers: { stable: { ...STABLE, ...entry } },
  });
  assert.equal(validateConfig(one({ risk: "high" })).update_servers.stable.risk, "high");
  assert.equal(validateConfig(one({})).update_servers.stable.risk, "medium"); // unrated
  assert.equal(
    validateConfig(one({ check_interval_hours: 0.5 })).update_servers.stable.check_interval_hours,
    0.5,
  );
  assert.equal(
    validateConfig(one({ check_interval_hours: null })).update_servers.stable
      .check_interval_hours,
    null,
  );
  bad(
    one({ risk: "extreme" }),
    'update_servers.stable.risk must be "low", "medium" or "high", got "extreme"',
  );
  bad(one({ risk: 2 }), 'update_servers.stable.risk must be "low", "medium" or "high", got 2');
  bad(
    one({ check_interval_hours: -1 }),
    "update_servers.stable.check_interval_hours must be a number from 0 to 8760, got -1",
  );
  bad(
    one({ check_interval_hours: "6" }),
    'update_servers.stable.check_interval_hours must be a number from 0 to 8760, got "6"',
  );
  bad(one({ risky: "low" }), "unknown field update_servers.stable.risky (did you mean risk?)");
  // The shipped channels: stable low risk on the top-level interval, canary high risk every 6 h.
  const shippedServers = defaultConfig().update_servers;
  assert.deepEqual(
    [shippedServers.stable.risk, shippedServers.stable.check_interval_hours],
    ["low", null],
  );
  assert.deepEqual(
    [shippedServers.canary.risk, shippedServers.canary.check_interval_hours],
    ["high", 6],
  );
});

Deno.test("validateConfig checks a channel's auth: where credentials come from, never themselves", () => {
  const auth = (value: unknown) => ({ update_servers: { stable: { ...STABLE, auth: value } } });
  const ok = (value: unknown) => validateConfig(auth(value)).update_servers.stable.auth;
  assert.deepEqual(ok({ scheme: "bearer", secret_env: "MS11_TOKEN" }), {
    scheme: "bearer",
    username: null,
    secret_file: null,
    secret_env: "MS11_TOKEN",
    send_to: [],
  });
  assert.deepEqual(
    ok({
      scheme: "basic",
      username: "tester",
      secret_file: "/etc/ms11/password",
      send_to: ["https://cdn.ms11.com", "https://cdn.ms11.com/", "https://eu.cdn.ms11.com:8443"],
    }),
    {
      scheme: "basic",
      username: "tester",
      secret_file: "/etc/ms11/password",
      secret_env: null,
      send_to: ["https://cdn.ms11.com", "https://eu.cdn.ms11.com:8443"],
    },
  );
  assert.equal(ok(null), null);
  const field = "update_servers.stable.auth";
  bad(auth("Bearer abc"), `${field} must be an object, got "Bearer abc"`);
  bad(
    auth({ scheme: "digest", secret_env: "X" }),
    `${field}.scheme must be "bearer" or "basic", got "digest"`,
  );
  bad(
    auth({ scheme: "basic", secret_env: "X" }),
    `${field}.username must be a user name without a colon or control characters (basic needs one), got undefined`,
  );
  bad(
    auth({ scheme: "basic", username: "a:b", secret_env: "X" }),
    `${field}.username must be a user name without a colon or control characters (basic needs one), got "a:b"`,
  );
  bad(
    auth({ scheme: "bearer", username: "ana", secret_env: "X" }),
    `${field}.username must be absent for the bearer scheme, got "ana"`,
  );
  const oneOf =
    "an object with exactly one of secret_file (a file only its owner can read) or secret_env (an environment variable's name)";
  bad(auth({ scheme: "bearer" }), `${field} must be ${oneOf}, got {"scheme":"bearer"}`);
  bad(
    auth({ scheme: "bearer", secret_env: "X", secret_file: "/x" }),
    `${field} must be ${oneOf}, got {"scheme":"bearer","secret_env":"X","secret_file":"/x"}`,
  );
  bad(
    auth({ scheme: "bearer", secret_file: "token.txt" }),
    `${field}.secret_file must be an absolute path, got "token.txt"`,
  );
  bad(
    auth({ scheme: "bearer", secret_env: "MS11 TOKEN" }),
    `${field}.secret_env must be an environment variable's name (letters, digits, _), got "MS11 TOKEN"`,
  );
  // A secret written in the configuration is refused without showing it.
  for (const key of ["token", "password", "Secret"]) {
    throwsWith(
      () => validateConfig(auth({ scheme: "bearer", [key]: "hunter2" })),
      ConfigError,
      `Invalid config config: ${field}.${key} must be absent: credentials are never stored in the configuration; put the secret in a file only its owner can read (secret_file) or in an environment variable (secret_env), got "a secret"`,
    );
  }
  bad(
    auth({ scheme: "bearer", secret_env: "X", send_to: "https://cdn.ms11.com" }),
    `${field}.send_to must be a list of origins, got "https://cdn.ms11.com"`,
  );
  bad(
    auth({ scheme: "bearer", secret_env: "X", send_to: ["https://cdn.ms11.com/files"] }),
    `${field}.send_to[0] must be an origin such as https://cdn.example.com, got "https://cdn.ms11.com/files"`,
  );
  bad(
    auth({ scheme: "bearer", secret_env: "X", send_to: ["http://cdn.ms11.com"] }),
    `${field}.send_to[0] must be an https URL while security.require_https is true, got "http://cdn.ms11.com"`,
  );
  bad(
    auth({ scheme: "bearer", secret_env: "X", send_to: ["https://evil.example"] }),
    `${field}.send_to[0] must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got "https://evil.example"`,
  );
  bad(
    auth({ scheme: "bearer", secret_env: "X", extra: 1 }),
    `unknown field ${field}.extra`,
  );
});

Deno.test("update_servers.<channel>.mirrors: more base URLs, each checked like base_url", () => {
  const config = validateConfig({
    update_servers: {
      stable: {
        base_url: "https://updates.ms11.com/stable",
        mirrors: ["https://cdn.ms11.com/stable/", "https://eu.cdn.ms11.com/ms11/stable"],
      },
    },
  });
  assert.deepEqual(config.update_servers.stable.mirrors, [
    "https://cdn.ms11.com/stable",
    "https://eu.cdn.ms11.com/ms11/stable",
  ]);
  assert.deepEqual(baseUrls(config.update_servers.stable), [
    "https://updates.ms11.com/stable",
    "https://cdn.ms11.com/stable",
    "https://eu.cdn.ms11.com/ms11/stable",
  ]);
  // The single base_url form is unchanged: no mirrors.
  assert.deepEqual(validateConfig({ update_servers: { stable: STABLE } }).update_servers.stable, {
    ...STABLE,
    mirrors: [],
    risk: "medium",
    check_interval_hours: null,
    auth: null,
  });
  const mirrors = (list: unknown) => ({
    update_servers: { stable: { base_url: "https://updates.ms11.com/stable", mirrors: list } },
  });
  bad(
    mirrors("https://cdn.ms11.com/stable"),
    'update_servers.stable.mirrors must be a list of at most 16 base URLs, got "https://cdn.ms11.com/stable"',
  );
  assert.throws(
    () =>
      validateConfig(mirrors(Array.from({ length: 17 }, (_, i) => `https://cdn.ms11.com/${i}`))),
    /^ConfigError: Invalid config config: update_servers\.stable\.mirrors must be a list of at most 16 base URLs, got \["https:\/\/cdn\.ms11\.com\/0",.*\.\.\.$/,
  );
  bad(mirrors([5]), "update_servers.stable.mirrors[0] must be a non-empty string, got 5");
  bad(
    mirrors(["https://cdn.ms11.com/stable", "ftp://cdn.ms11.com/stable"]),
    'update_servers.stable.mirrors[1] must be an http(s) URL, got "ftp://cdn.ms11.com/stable"',
  );
  bad(
    mirrors(["http://cdn.ms11.com/stable"]),
    'update_servers.stable.mirrors[0] must be an https URL while security.require_https is true, got "http://cdn.ms11.com/stable"',
  );
  bad(
    mirrors(["https://mirror.example.org/stable"]),
    'update_servers.stable.mirrors[0] must be on a host in security.allowed_domains (updates.ms11.com, cdn.ms11.com), got "https://mirror.example.org/stable"',
  );
  bad(
    mirrors(["https://cdn.ms11.com/stable?token=1"]),
    'update_servers.stable.mirrors[0] must be a URL without query, fragment or credentials, got "https://cdn.ms11.com/stable?token=1"',
  );
  bad(
    mirrors(["https://updates.ms11.com/stable/"]),
    'update_servers.stable.mirrors[0] must be a URL not listed before (base_url or a mirror), got "https://updates.ms11.com/stable/"',
  );
  bad(
    mirrors(["https://cdn.ms11.com/stable", "https://cdn.ms11.com/stable"]),
    'update_servers.stable.mirrors[1] must be a URL not listed before (base_url or a mirror), got "https://cdn.ms11.com/stable"',
  );
  bad(
    { update_servers: { stable: { ...STABLE, mirror: [] } } },
    "unknown field update_servers.stable.mirror (did you mean mirrors?)",
  );
});

// --- security ------------------------------------------------------------------------------

Deno.test("validateConfig checks security", () => {
  bad({ security: [] }, "security must be an object, got []");
  bad({ security: true }, "security must be an object, got true");
  bad(
    { security: { verify_checksums: "yes" } },
    'security.verify_checksums must be true or false, got "yes"',
  );
  bad({ security: { require_https: 0 } }, "security.require_https must be true or false, got 0");
  bad(
    { security: { verify_signatures: "false" } },
    'security.verify_signatures must be true or false, got "false"',
  );
  const key = "ed25519:" + btoa("k".repeat(32));
  bad(
    { security: { signing_keys: [] } },
    "security.signing_keys must be an object, got []",
  );
  bad(
    { security: { signing_keys: { Stable: { threshold: 1, keys: [key] } } } },
    'security.signing_keys key must be a channel name, got "Stable"',
  );
  bad(
    { security: { signing_keys: { stable: { threshold: 1, keys: ["ed25519:abc"] } } } },
    'security.signing_keys.stable.keys[0] must be an ed25519: public key, got "ed25519:abc"',
  );
  bad(
    { security: { signing_keys: { stable: { threshold: 2, keys: [key, key] } } } },
    `security.signing_keys.stable.keys[1] must be a key not listed before, got "${key}"`,
  );
  bad(
    { security: { signing_keys: { stable: { threshold: 2, keys: [key] } } } },
    "security.signing_keys.stable.threshold must be an integer from 1 to 1, got 2",
  );
  bad(
    { security: { signing_keys: { stable: { threshold: 1, keys: [] } } } },
    "security.signing_keys.stable.keys must be a non-empty list of ed25519: public keys, got []",
  );
  bad(
    { security: { signing_keys: { stable: { threshold: 1, key: [key] } } } },
    "unknown field security.signing_keys.stable.key (did you mean keys?)",
  );
  bad(
    { security: { allowed_domains: "ms11.com" } },
    'security.allowed_domains must be a list of host names, got "ms11.com"',
  );
  bad(
    { security: { allowed_domains: ["ms11.com", "*.ms11.com"] } },
    'security.allowed_domains[1] must be a host name, got "*.ms11.com"',
  );
  bad(
    { security: { allowed_domains: ["https://ms11.com"] } },
    'security.allowed_domains[0] must be a host name, got "https://ms11.com"',
  );
  bad(
    { security: { allowed_domains: [""] } },
    'security.allowed_domains[0] must be a host name, got ""',
  );
  bad(
    { security: { allowed_domains: [5] } },
    "security.allowed_domains[0] must be a host name, got 5",
  );
  const config = validateConfig({ security: { allowed_domains: ["Updates.MS11.com"] } });
  assert.deepEqual(config.security.allowed_domains, ["updates.ms11.com"]);
  assert.equal(
    validateConfig({ security: { verify_checksums: false } }).security.verify_checksums,
    false,
  );
});

// --- notifications -------------------------------------------------------------------------

Deno.test("validateConfig checks notifications", () => {
  bad({ notifications: "all" }, 'notifications must be an object, got "all"');
  for (
    const key of [
      "notify_on_available",
      "notify_on_download",
      "notify_on_ready",
      "notify_on_failure",
      "notify_on_channel_change",
    ]
  ) {
    bad({ notifications: { [key]: "on" } }, `notifications.${key} must be true or false, got "on"`);
    assert.equal(
      (validateConfig({ notifications: { [key]: false } }).notifications as unknown as Record<
        string,
        unknown
      >)[key],
      false,
    );
  }
});

Deno.test("validateConfig checks notifications.command shapes", () => {
  const m = "notifications.command must be null or a non-empty list of strings (argv), got";
  bad({ notifications: { command: "notify-send ms11" } }, `${m} "notify-send ms11"`);
  bad({ notifications: { command: [] } }, `${m} []`);
  bad({ notifications: { command: [""] } }, `${m} [""]`);
  bad({ notifications: { command: ["notify-send", 3] } }, `${m} ["notify-send",3]`);
  bad({ notifications: { command: ["notify-send", null] } }, `${m} ["notify-send",null]`);
  bad({ notifications: { command: { argv: ["x"] } } }, `${m} {"argv":["x"]}`);
  bad({ notifications: { command: false } }, `${m} false`);
  assert.equal(validateConfig({ notifications: { command: null } }).notifications.command, null);
  assert.deepEqual(
    validateConfig({ notifications: { command: ["notify-send", "--app-name=ms11"] } })
      .notifications.command,
    ["notify-send", "--app-name=ms11"],
  );
});

// --- detectPlatform (hostAllowed is tested with the other rules in validate_test.ts) -------

Deno.test("detectPlatform names this machine as manifests do", () => {
  const platform = detectPlatform();
  assert.match(platform, /^[a-z0-9]+-[a-z0-9_]+$/);
  assert.ok(platform.startsWith(`${Deno.build.os}-`));
  const arch = platform.slice(platform.indexOf("-") + 1);
  if (Deno.build.arch === "x86_64") assert.equal(arch, "x64");
  if (Deno.build.arch === "aarch64") assert.equal(arch, "arm64");
  // It is a valid configured platform.
  assert.equal(validateConfig({ platform }).platform, platform);
});

// --- resolveConfigPath ----------------------------------------------------------------

Deno.test("resolveConfigPath: flag, then $MS11_UPDATE_CONFIG, then the default location", () => {
  const env = {
    MS11_UPDATE_CONFIG: "/env/cfg.json",
    XDG_CONFIG_HOME: "/xdg",
    APPDATA: "/appdata",
    HOME: "/home/u",
  };
  assert.deepEqual(resolveConfigPath("/flag/cfg.json", env), {
    configPath: "/flag/cfg.json",
    configExplicit: true,
  });
  assert.deepEqual(resolveConfigPath(undefined, env), {
    configPath: "/env/cfg.json",
    configExplicit: true,
  });
  assert.deepEqual(resolveConfigPath("", env), {
    configPath: "/env/cfg.json",
    configExplicit: true,
  });
  assert.deepEqual(resolveConfigPath(undefined, { ...env, MS11_UPDATE_CONFIG: undefined }), {
    configPath: "/xdg/ms11/update_channel.json",
    configExplicit: false,
  });
  assert.deepEqual(resolveConfigPath(undefined, { APPDATA: "/appdata", HOME: "/home/u" }), {
    configPath: "/appdata/ms11/update_channel.json",
    configExplicit: false,
  });
  assert.deepEqual(resolveConfigPath(undefined, { HOME: "/home/u" }), {
    configPath: "/home/u/.config/ms11/update_channel.json",
    configExplicit: false,
  });
  assert.deepEqual(resolveConfigPath(undefined, {}), {
    configPath: "./ms11/update_channel.json",
    configExplicit: false,
  });
});

Deno.test({
  name: "resolveConfigPath treats an empty $XDG_CONFIG_HOME as unset",
  fn() {
    assert.deepEqual(resolveConfigPath(undefined, { XDG_CONFIG_HOME: "", HOME: "/home/u" }), {
      configPath: "/home/u/.config/ms11/update_channel.json",
      configExplicit: false,
    });
  },
});

// --- loadConfig ----------------------------------------------------------------------------

Deno.test("loadConfig: a missing file at the default location gives the shipped defaults", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/ms11/update_channel.json`;
  const loaded = await loadConfig(path);
  assert.deepEqual(loaded, { config: shipped as Config, path, exists: false });
  // Loading does not create anything.
  assert.deepEqual(await namesIn(dir.path), []);
});

Deno.test("loadConfig: a missing explicit file is an error", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/nope.json`;
  await rejectsWith(
    loadConfig(path, { explicit: true }),
    ConfigError,
    `Config file ${path} does not exist`,
  );
});

Deno.test("loadConfig reads and validates a file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  await Deno.writeTextFile(path, JSON.stringify({ channel: "canary", keep_backups_count: 4 }));
  for (const explicit of [false, true]) {
    const loaded = await loadConfig(path, { explicit });
    assert.equal(loaded.exists, true);
    assert.equal(loaded.path, path);
    assert.equal(loaded.config.channel, "canary");
    assert.equal(loaded.config.keep_backups_count, 4);
    assert.equal(loaded.config.max_retry_attempts, shipped.max_retry_attempts);
  }
});

Deno.test("loadConfig names the file in validation errors", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  await Deno.writeTextFile(path, '{ "keep_backups_count": -1 }\n');
  await rejectsWith(
    loadConfig(path),
    ConfigError,
    `Invalid config ${path}: keep_backups_count must be an integer from 0 to 100, got -1`,
  );
});

Deno.test("loadConfig refuses invalid JSON", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  for (const text of ['{ "channel": "stable", }', "", '{"channel":"stable"} x', "{'a':1}"]) {
    await Deno.writeTextFile(path, text);
    const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await rejectsWith(
      loadConfig(path),
      ConfigError,
      new RegExp(`^Invalid config ${escaped}: not valid JSON \\(.+\\)$`),
    );
  }
});

Deno.test("loadConfig refuses a document that is not an object", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  for (
    const [text, shown] of [["[]", "[]"], ['"stable"', '"stable"'], ["null", "null"], ["7", "7"]]
  ) {
    await Deno.writeTextFile(path, text);
    await rejectsWith(
      loadConfig(path),
      ConfigError,
      `Invalid config ${path}: the document must be a JSON object, got ${shown}`,
    );
  }
});

Deno.test("loadConfig refuses a directory and an oversize file", async () => {
  await using dir = await tempDir();
  await rejectsWith(
    loadConfig(dir.path),
    ConfigError,
    `Invalid config ${dir.path}: not a regular file`,
  );
  const path = `${dir.path}/big.json`;
  await Deno.writeTextFile(path, "{}" + " ".repeat(1024 * 1024 - 1));
  await rejectsWith(
    loadConfig(path),
    ConfigError,
    `Invalid config ${path}: 1048577 bytes is larger than 1 MiB`,
  );
  // Exactly 1 MiB is fine.
  await Deno.writeTextFile(path, "{}" + " ".repeat(1024 * 1024 - 2));
  assert.equal((await loadConfig(path)).exists, true);
});

// --- updateConfigFile ----------------------------------------------------------------------

Deno.test("updateConfigFile keeps the user's other settings and adds no defaults", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  // Hand-written, oddly formatted file.
  await Deno.writeTextFile(
    path,
    '{"keep_backups_count":5,\n\t"notifications" : {"command":["notify-send","ms11"],' +
      '"notify_on_ready":false},   "security":{"allowed_domains":["updates.ms11.com"]}}',
  );
  let seen: Record<string, unknown> | null = null;
  const config = await updateConfigFile(path, (raw) => {
    seen = structuredClone(raw);
    return { ...raw, channel: "canary" };
  });
  // The change saw the raw file, not the defaults.
  assert.deepEqual(seen, {
    keep_backups_count: 5,
    notifications: { command: ["notify-send", "ms11"], notify_on_ready: false },
    security: { allowed_domains: ["updates.ms11.com"] },
  });
  assert.equal(config.channel, "canary");
  assert.equal(config.keep_backups_count, 5);
  assert.equal(config.notifications.notify_on_ready, false);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
    keep_backups_count: 5,
    notifications: { command: ["notify-send", "ms11"], notify_on_ready: false },
    security: { allowed_domains: ["updates.ms11.com"] },
    channel: "canary",
  });
  assert.deepEqual((await loadConfig(path)).config, config);
  // No temporary files left behind.
  assert.deepEqual(await namesIn(dir.path), ["update_channel.json"]);
});

Deno.test("updateConfigFile creates a missing file and its directories", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/a/b/update_channel.json`;
  let seen: Record<string, unknown> | null = null;
  const config = await updateConfigFile(path, (raw) => {
    seen = raw;
    return { ...raw, channel: "canary" };
  });
  assert.deepEqual(seen, {});
  assert.equal(config.channel, "canary");
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { channel: "canary" });
  assert.ok((await Deno.readTextFile(path)).endsWith("}\n"));
});

Deno.test("updateConfigFile replaces the file by rename (atomic), not in place", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  const original = '{ "channel": "stable" }\n';
  await Deno.writeTextFile(path, original);
  // A hard link to the old file keeps the old content if and only if the file was replaced.
  await Deno.link(path, `${dir.path}/old.json`);
  await updateConfigFile(path, (raw) => ({ ...raw, channel: "canary" }));
  assert.equal(await Deno.readTextFile(`${dir.path}/old.json`), original);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), { channel: "canary" });
  assert.deepEqual(await namesIn(dir.path), ["old.json", "update_channel.json"]);
});

Deno.test("updateConfigFile writes nothing when the change makes the config invalid", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  await Deno.writeTextFile(path, '{\n  "channel": "canary",\n  "keep_backups_count": 3\n}\n');
  const before = await bytesOf(path);
  await rejectsWith(
    updateConfigFile(path, (raw) => ({ ...raw, channel: "beta" })),
    ConfigError,
    `Invalid config ${path}: channel must be one of the channels in update_servers (stable, canary), got "beta"`,
  );
  await rejectsWith(
    updateConfigFile(path, (raw) => ({ ...raw, keep_backups_count: -1 })),
    ConfigError,
    `Invalid config ${path}: keep_backups_count must be an integer from 0 to 100, got -1`,
  );
  await rejectsWith(
    updateConfigFile(path, (raw) => ({ ...raw, security: { signing_keys: { stable: {} } } })),
    ConfigError,
    `Invalid config ${path}: security.signing_keys.stable.keys must be a non-empty list of ed25519: public keys, got undefined`,
  );
  assert.deepEqual(await bytesOf(path), before);
  assert.deepEqual(await namesIn(dir.path), ["update_channel.json"]);
});

Deno.test("updateConfigFile writes nothing when the file is not valid JSON or the change throws", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  await Deno.writeTextFile(path, '{ "channel": "canary", ');
  const before = await bytesOf(path);
  let called = false;
  await rejectsWith(
    updateConfigFile(path, (raw) => {
      called = true;
      return raw;
    }),
    ConfigError,
    /^Invalid config .*: not valid JSON/,
  );
  assert.equal(called, false);
  assert.deepEqual(await bytesOf(path), before);

  await Deno.writeTextFile(path, '{ "channel": "canary" }');
  const valid = await bytesOf(path);
  await rejectsWith(
    updateConfigFile(path, () => {
      throw new RangeError("no");
    }),
    RangeError,
    "no",
  );
  assert.deepEqual(await bytesOf(path), valid);
  assert.deepEqual(await namesIn(dir.path), ["update_channel.json"]);
});

Deno.test("updateConfigFile does not create a missing file when the change is invalid", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/update_channel.json`;
  await rejectsWith(
    updateConfigFile(path, (raw) => ({ ...raw, colour: "blue" })),
    ConfigError,
    `Invalid config ${path}: unknown field colour`,
  );
  assert.deepEqual(await namesIn(dir.path), []);
});

Deno.test({
  name: "updateConfigFile with a bare file name creates no stray directory",
  async fn() {
    await using dir = await tempDir();
    const run = await denoEval(
      `import { updateConfigFile } from ${JSON.stringify(libUrl("core/config.ts"))};
       await updateConfigFile("cfg.json", (raw) => ({ ...raw, channel: "canary" }));`,
      dir.path,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await namesIn(dir.path), ["cfg.json"]);
  },
});

Deno.test({
  name: "updateConfigFile through a symlink updates the target and keeps the link",
  async fn() {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/dotfiles`);
    const target = `${dir.path}/dotfiles/update_channel.json`;
    const link = `${dir.path}/update_channel.json`;
    await Deno.writeTextFile(target, "{}\n");
    await Deno.symlink(target, link);
    await updateConfigFile(link, (raw) => ({ ...raw, channel: "canary" }));
    assert.equal((await Deno.lstat(link)).isSymlink, true);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(target)), { channel: "canary" });
  },
});

Deno.test({
  name: "updateConfigFile keeps the file's permissions",
  async fn() {
    await using dir = await tempDir();
    const path = `${dir.path}/update_channel.json`;
    await Deno.writeTextFile(path, "{}\n");
    await Deno.chmod(path, 0o600);
    await updateConfigFile(path, (raw) => ({ ...raw, channel: "canary" }));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  },
});

Deno.test({
  name: "validateConfig refuses a base_url with a query or a fragment",
  fn() {
    for (
      const base_url of ["https://updates.ms11.com/stable?x=1", "https://updates.ms11.com/s#f"]
    ) {
      throwsWith(
        () => validateConfig({ update_servers: { stable: { base_url } } }),
        ConfigError,
        new RegExp(
          `^Invalid config config: update_servers\\.stable\\.base_url must be .+, got ${
            JSON.stringify(base_url).replace(/[.?#\/]/g, "\\$&")
          }$`,
        ),
      );
    }
  },
});

Deno.test("validateConfig: security.ca_file is null or an absolute path", () => {
  assert.equal(validateConfig({}).security.ca_file, null);
  assert.equal(
    validateConfig({ security: { ca_file: "/etc/ms11/ca.pem" } }).security.ca_file,
    "/etc/ms11/ca.pem",
  );
  bad(
    { security: { ca_file: "ca.pem" } },
    'security.ca_file must be null or an absolute path to a PEM file, got "ca.pem"',
  );
  bad(
    { security: { ca_file: 5 } },
    "security.ca_file must be null or an absolute path to a PEM file, got 5",
  );
});

Deno.test("validateConfig checks the scan gate's settings", () => {
  const scan = (fields: Record<string, unknown>) => validateConfig({ security: fields }).security;
  const shippedSecurity = defaultConfig().security;
  assert.deepEqual(
    [
      shippedSecurity.scan_command,
      shippedSecurity.scan_timeout_seconds,
      shippedSecurity.scan_infected_exit_codes,
      shippedSecurity.scan_on_error,
    ],
    [null, 300, null, "refuse"],
  );
  const clam = scan({
    scan_command: ["clamscan", "--no-summary", "-r"],
    scan_infected_exit_codes: [1],
    scan_on_error: "allow",
    scan_timeout_seconds: 1,
  });
  assert.deepEqual(clam.scan_command, ["clamscan", "--no-summary", "-r"]);
  assert.deepEqual(clam.scan_infected_exit_codes, [1]);
  assert.equal(clam.scan_on_error, "allow");
  assert.deepEqual(scan({ scan_command: ["/usr/bin/clamscan"] }).scan_command, [
    "/usr/bin/clamscan",
  ]);
  const argv = "null or a non-empty list of strings (argv, no shell)";
  bad(
    { security: { scan_command: "clamscan -r" } },
    `security.scan_command must be ${argv}, got "clamscan -r"`,
  );
  bad({ security: { scan_command: [] } }, `security.scan_command must be ${argv}, got []`);
  bad(
    { security: { scan_command: ["clamscan", ""] } },
    `security.scan_command must be ${argv}, got ["clamscan",""]`,
  );
  bad(
    { security: { scan_command: ["bin/scan"] } },
    'security.scan_command[0] must be a program name found on PATH or an absolute path, got "bin/scan"',
  );
  bad(
    { security: { scan_timeout_seconds: 0 } },
    "security.scan_timeout_seconds must be a number from 1 to 86400, got 0",
  );
  bad(
    { security: { scan_infected_exit_codes: [0] } },
    "security.scan_infected_exit_codes must be null (every non-zero exit) or a non-empty list of exit codes from 1 to 255, got [0]",
  );
  bad(
    { security: { scan_on_error: "ignore" } },
    'security.scan_on_error must be "refuse" or "allow", got "ignore"',
  );
});

Deno.test("validateConfig: plain http only to a loopback host, even without require_https", () => {
  const http = (base_url: string) => ({
    update_servers: { stable: { base_url } },
    security: { require_https: false, allowed_domains: [] },
  });
  for (const ok of ["http://127.0.0.1:8011/stable", "http://localhost/s", "http://[::1]:80/s"]) {
    assert.equal(validateConfig(http(ok)).update_servers.stable.base_url, ok);
  }
  for (const url of ["http://updates.ms11.com/stable", "http://192.168.1.5/s"]) {
    bad(
      http(url),
      `update_servers.stable.base_url must be an https URL (plain http is only allowed to a loopback host such as 127.0.0.1), got ${
        JSON.stringify(url)
      }`,
    );
  }
});

// --- health ----------------------------------------------------------------------------------

Deno.test("validateConfig checks health, filling left-out fields from the defaults", () => {
  assert.deepEqual(validateConfig({}).health, {
    max_attempts: 3,
    smoke_command: ["--version"],
    smoke_timeout_seconds: 10,
    health_timeout_seconds: 30,
    require_confirm: false,
    failure_exit_codes: null,
  });
  assert.deepEqual(
    validateConfig({ health: { failure_exit_codes: [70, 134] } }).health.failure_exit_codes,
    [70, 134],
  );
  for (const codes of [[], [0], [256], [1, 1], [1.5], "1", {}]) {
    bad(
      { health: { failure_exit_codes: codes } },
      `health.failure_exit_codes must be null (every non-zero exit) or a non-empty list of exit codes from 1 to 255, got ${
        JSON.stringify(codes)
      }`,
    );
  }
  const health = validateConfig({ health: { max_attempts: 1, smoke_command: null } }).health;
  assert.deepEqual([health.max_attempts, health.smoke_command, health.require_confirm], [
    1,
    null,
    false,
  ]);
  assert.deepEqual(validateConfig({ health: { smoke_command: [] } }).health.smoke_command, []);
  bad({ health: [] }, "health must be an object, got []");
  bad(
    { health: { max_attempts: 0 } },
    "health.max_attempts must be an integer from 1 to 100, got 0",
  );
  bad(
    { health: { smoke_command: "--version" } },
    'health.smoke_command must be null or a list of strings (arguments), got "--version"',
  );
  bad(
    { health: { smoke_command: ["--check", 1] } },
    'health.smoke_command must be null or a list of strings (arguments), got ["--check",1]',
  );
  bad(
    { health: { smoke_timeout_seconds: 0 } },
    "health.smoke_timeout_seconds must be a number from 0.1 to 3600, got 0",
  );
  bad(
    { health: { health_timeout_seconds: -1 } },
    "health.health_timeout_seconds must be a number from 0 to 86400, got -1",
  );
  bad(
    { health: { require_confirm: "yes" } },
    'health.require_confirm must be true or false, got "yes"',
  );
  bad(
    { health: { max_attempt: 2 } },
    "unknown field health.max_attempt (did you mean max_attempts?)",
  );
});
