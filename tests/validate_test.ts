// The validation core (lib/core/validate.ts): each rule on its own, then the callers that must
// agree because they share it (the configuration and the network's URL policy on hosts, the
// dashboard on loopback, the CLI's serve and dashboard commands on ports).
import assert from "node:assert/strict";
import {
  hostAllowed,
  isChannelName,
  isHostName,
  isLoopbackHost,
  isNonEmptyString,
  isObject,
  isPlatformKey,
  isPort,
  isSha256Hex,
  parsePort,
  showValue,
} from "../lib/core/validate.ts";
import { validateConfig } from "../lib/core/config_schema.ts";
import { policyViolation } from "../lib/net/url_policy.ts";
import { isLoopback } from "../dashboard/security.ts";
import { runCli } from "./_e2e.ts";
import { tempDir } from "./_helpers.ts";

function table<T>(rule: (value: T) => boolean, yes: T[], no: T[]): void {
  for (const value of yes) assert.equal(rule(value), true, `${rule.name}(${showValue(value)})`);
  for (const value of no) assert.equal(rule(value), false, `${rule.name}(${showValue(value)})`);
}

Deno.test("isChannelName: a lowercase letter, then up to 31 of a-z 0-9 - _", () => {
  table(
    isChannelName,
    ["stable", "canary", "a", "beta-2", "my_channel", "a".repeat(32)],
    ["", "Stable", "1st", "-x", "_x", "a".repeat(33), "../x", "a.b", "a b", "stable\n", 5, null],
  );
});

Deno.test("isPlatformKey: <os>-<arch> in lowercase", () => {
  table(
    isPlatformKey,
    ["linux-x64", "darwin-arm64", "windows-x86_64", "freebsd-riscv64"],
    ["", "linux", "Linux-x64", "linux-", "-x64", "linux-x64-musl", "linux_x64", "linux-x64/", 7],
  );
});

Deno.test("isSha256Hex: exactly 64 lowercase hex digits", () => {
  const digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  table(
    isSha256Hex,
    [digest, "0".repeat(64)],
    [digest.toUpperCase(), digest.slice(1), `${digest}0`, "g".repeat(64), ` ${digest}`, "", null],
  );
});

Deno.test("isHostName: lowercase DNS names and IPv4 addresses, nothing else", () => {
  table(
    isHostName,
    ["ms11.com", "updates.ms11.com", "localhost", "127.0.0.1", "a-b.example", "x".repeat(63)],
    [
      "",
      "MS11.com",
      "*.ms11.com",
      "https://ms11.com",
      "ms11.com:443",
      "ms11.com.",
      "-a.example",
      "a-.example",
      "x".repeat(64),
      "::1",
      `${"a.".repeat(127)}ab`,
    ],
  );
});

Deno.test("isLoopbackHost: 127.0.0.0/8, ::1 with or without brackets, localhost and *.localhost", () => {
  table(
    isLoopbackHost,
    [
      "127.0.0.1",
      "127.8.9.10",
      "[::1]",
      "::1",
      "localhost",
      "LOCALHOST",
      "localhost.",
      "app.localhost",
    ],
    ["0.0.0.0", "::", "[::]", "10.0.0.1", "127.0.0.1.example.com", "localhost.example", ""],
  );
});

Deno.test("isLoopbackHost is the dashboard's loopback test too", () => {
  for (const host of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "0.0.0.0", "::"]) {
    assert.equal(isLoopback(host), isLoopbackHost(host), host);
  }
});

Deno.test("hostAllowed matches hosts and their subdomains; IP addresses exactly", () => {
  const ms11 = ["ms11.com"];
  assert.equal(hostAllowed("ms11.com", ms11), true);
  assert.equal(hostAllowed("cdn.ms11.com", ms11), true);
  assert.equal(hostAllowed("a.b.ms11.com", ms11), true);
  assert.equal(hostAllowed("CDN.MS11.com", ms11), true);
  assert.equal(hostAllowed("ms11.com.", ms11), true, "a final dot names the same host");
  assert.equal(hostAllowed("cdn.ms11.com", [".ms11.com"]), true, "a leading dot of an entry");
  assert.equal(hostAllowed("cdn.ms11.com", ["MS11.COM."]), true);
  assert.equal(hostAllowed("evilms11.com", ms11), false);
  assert.equal(hostAllowed("ms11.com.evil.net", ms11), false);
  assert.equal(hostAllowed("com", ms11), false);
  assert.equal(hostAllowed("other.example", ["ms11.com", "other.example"]), true);
  assert.equal(hostAllowed("anything.example", []), true, "an empty list allows any host");
  assert.equal(hostAllowed("anything.example", [""]), false, "an empty entry allows nothing");
  assert.equal(hostAllowed("[::1]", ["::1"]), true);
  assert.equal(hostAllowed("[::1]", ["[::1]"]), true);
  assert.equal(hostAllowed("127.0.0.1", ["127.0.0.1"]), true);
  assert.equal(hostAllowed("127.0.0.2", ["127.0.0.1"]), false);
  assert.equal(hostAllowed("1.127.0.0.1", ["127.0.0.1"]), false, "no suffix match for addresses");
  assert.equal(hostAllowed("[::1]", ["1"]), false);
});

Deno.test("the configuration and the URL policy admit the same hosts", () => {
  const cases: [string, string[]][] = [
    ["updates.ms11.com", ["ms11.com"]],
    ["ms11.com", ["ms11.com"]],
    ["evilms11.com", ["ms11.com"]],
    ["ms11.com.evil.example", ["ms11.com"]],
    ["cdn.other.example", ["ms11.com", "other.example"]],
    ["updates.ms11.com.", ["ms11.com"]],
    ["127.0.0.1", ["127.0.0.1"]],
    ["127.0.0.2", ["127.0.0.1"]],
    ["anything.example", []],
  ];
  for (const [host, allowed] of cases) {
    const base = `https://${host}/stable`;
    let config = true;
    try {
      validateConfig({
        update_servers: { stable: { base_url: base } },
        security: { allowed_domains: allowed },
      });
    } catch {
      config = false;
    }
    const url = policyViolation(new URL(base), { requireHttps: true, allowedDomains: allowed });
    assert.equal(config, url === null, `${host} in [${allowed}]: config ${config}, policy ${url}`);
  }
});

Deno.test("the configuration and the URL policy allow plain http to the same hosts", () => {
  for (
    const host of ["127.0.0.1", "127.1.2.3", "localhost", "app.localhost", "[::1]", "10.0.0.1"]
  ) {
    const base = `http://${host}:8011/stable`;
    let config = true;
    try {
      validateConfig({
        update_servers: { stable: { base_url: base } },
        security: { require_https: false, allowed_domains: [] },
      });
    } catch {
      config = false;
    }
    const url = policyViolation(new URL(base), { requireHttps: false, allowedDomains: [] });
    assert.equal(config, url === null, `${host}: config ${config}, policy ${url}`);
    assert.equal(config, isLoopbackHost(new URL(base).hostname), host);
  }
});

Deno.test("isPort: an integer from 0 to 65535", () => {
  table(isPort, [0, 1, 80, 8011, 65535], [-1, 65536, 1.5, Number.NaN, Infinity, "80", null]);
});

Deno.test("parsePort: decimal digits with a value from 0 to 65535, nothing else", () => {
  for (const [text, port] of [["0", 0], ["80", 80], ["8011", 8011], ["65535", 65535]] as const) {
    assert.equal(parsePort(text), port, text);
  }
  assert.equal(parsePort("08011"), 8011, "leading zeros are still digits");
  for (
    const bad of [
      "",
      " ",
      "\t",
      " 80",
      "80 ",
      "+80",
      "-1",
      "80.0",
      "1e3",
      "0x50",
      "0b1",
      "65536",
      "99999",
      "123456",
      "http",
      "80a",
      "Infinity",
    ]
  ) {
    assert.equal(parsePort(bad), null, JSON.stringify(bad));
  }
});

Deno.test("isObject, isNonEmptyString and showValue", () => {
  table(isObject, [{}, { a: 1 }, Object.create(null)], [null, [], "{}", 1, undefined]);
  table(isNonEmptyString, ["a", " "], ["", null, undefined, 1, ["a"]]);
  assert.equal(showValue("Stable"), '"Stable"');
  assert.equal(showValue(5), "5");
  assert.equal(showValue(undefined), "undefined");
  assert.equal(showValue({ a: [1] }), '{"a":[1]}');
  const long = showValue("x".repeat(200));
  assert.equal(long.length, 80);
  assert.ok(long.endsWith("..."));
});

Deno.test("serve and dashboard refuse an empty or non-decimal --port alike (exit 2)", async () => {
  await using dir = await tempDir();
  const config = `${dir.path}/update_channel.json`;
  await Deno.writeTextFile(config, "{}\n");
  const root = `${dir.path}/root`;
  for (const port of ["", " ", "0x50", "65536"]) {
    const expected = `error: Invalid --port ${JSON.stringify(port)}: expected 0-65535`;
    const serve = await runCli(["serve", dir.path, "--port", port]);
    assert.equal(serve.code, 2, `serve --port ${JSON.stringify(port)}: ${serve.stderr}`);
    assert.equal(serve.stderr.trim(), expected);
    const dashboard = await runCli([
      "dashboard",
      "--port",
      port,
      "--config",
      config,
      "--root",
      root,
    ]);
    assert.equal(
      dashboard.code,
      2,
      `dashboard --port ${JSON.stringify(port)}: ${dashboard.stderr}`,
    );
    assert.equal(dashboard.stderr.trim(), expected);
  }
});
