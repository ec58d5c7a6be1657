/**
 * The validation rules every wing shares: what a channel name, a platform key, a SHA-256 digest,
 * a host name and a port look like, which hosts are this machine, which hosts an allow-list
 * admits, and the small helpers of the field-by-field checks (configuration, manifest, state, key
 * sets). Each caller keeps its own error class and message; the rules are only here.
 *
 * Pure and dependency-free (no network code, no npm package, no `node:` built-in): the launcher's
 * start-up path loads it.
 *
 * @module
 */
import { escapeText } from "./text.ts";

/**
 * How a field check reports a bad value: `field` must be `expected`, got `value`. It throws the
 * caller's error (a `ConfigError` for the configuration, a `TypeError` for a manifest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FieldFail } from "./validate.ts";
 * const fail: FieldFail = (field, expected, value) => {
 *   throw new TypeError(`${field} must be ${expected}, got ${JSON.stringify(value)}`);
 * };
 * assert.throws(() => fail("size", "an integer", "3"), /size must be an integer, got "3"/);
 * ```
 */
export type FieldFail = (field: string, expected: string, value: unknown) => never;

const CHANNEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const PLATFORM_KEY = /^[a-z0-9]+-[a-z0-9_]+$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * Whether `value` is a channel name: a lowercase letter, then up to 31 of `a-z`, `0-9`, `-`, `_`
 * (`stable`, `canary`, `beta-2`). Channel names become directory names of a release tree, so
 * nothing else (no dot, no slash, no upper case) is accepted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isChannelName } from "./validate.ts";
 * assert.ok(isChannelName("stable") && isChannelName("beta_2"));
 * assert.ok(!isChannelName("Stable") && !isChannelName("../x") && !isChannelName("a".repeat(33)));
 * ```
 */
export function isChannelName(value: unknown): value is string {
  return typeof value === "string" && CHANNEL_NAME.test(value);
}

/**
 * Whether `value` is a platform key as manifests name builds: `<os>-<arch>` in lowercase
 * (`linux-x64`, `darwin-arm64`, `windows-x86_64`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPlatformKey } from "./validate.ts";
 * assert.ok(isPlatformKey("linux-x64"));
 * assert.ok(!isPlatformKey("Linux-x64") && !isPlatformKey("linux") && !isPlatformKey("linux-x64/"));
 * ```
 */
export function isPlatformKey(value: unknown): value is string {
  return typeof value === "string" && PLATFORM_KEY.test(value);
}

/**
 * Whether `value` is a SHA-256 digest written as exactly 64 lowercase hex digits, the only form
 * this program compares (upper-case digits are refused, not folded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSha256Hex } from "./validate.ts";
 * assert.ok(isSha256Hex("ab".repeat(32)));
 * assert.ok(!isSha256Hex("AB".repeat(32)) && !isSha256Hex("ab".repeat(31)) && !isSha256Hex(5));
 * ```
 */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === "string" && SHA256_HEX.test(value);
}

/**
 * Whether `value` is a DNS host name or an IPv4 address in lowercase: dot-separated labels of
 * `a-z`, `0-9` and inner `-`, at most 63 characters each and 253 in all (no wildcard, no scheme,
 * no port, no trailing dot).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isHostName } from "./validate.ts";
 * assert.ok(isHostName("updates.ms11.com") && isHostName("127.0.0.1"));
 * assert.ok(!isHostName("*.ms11.com") && !isHostName("https://ms11.com") && !isHostName("MS11.com"));
 * ```
 */
export function isHostName(value: unknown): value is string {
  return typeof value === "string" && HOST_NAME.test(value);
}

/** A host as compared: lower case, without a final dot or the brackets of an IPv6 address. */
function bareHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, "").replace(/^\[(.*)\]$/, "$1");
}

function isIpAddress(bare: string): boolean {
  return bare.includes(":") || IPV4.test(bare);
}

/**
 * Whether `host` names this machine: an address in `127.0.0.0/8`, `::1` (as a URL writes it,
 * `[::1]`, or bare, as `Deno.serve` takes it), `localhost`, or a name under `.localhost` (RFC
 * 6761 reserves them for loopback). Case and a final dot do not matter. Plain `http:` is allowed
 * to these hosts only, and the dashboard listens on them only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackHost } from "./validate.ts";
 * assert.ok(["127.0.0.1", "127.8.9.10", "[::1]", "::1", "localhost", "app.localhost"]
 *   .every(isLoopbackHost));
 * assert.ok(!["0.0.0.0", "::", "10.0.0.1", "127.0.0.1.example.com", "localhost.example"]
 *   .some(isLoopbackHost));
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = bareHost(host);
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Whether an allow-list admits `host` (a URL's `hostname`): it equals an entry, or it is a DNS
 * name under one (`cdn.ms11.com` is within `ms11.com`; `evilms11.com` is not). An IP address,
 * as the host or as the entry, matches exactly, never as a suffix. Case, a final dot, a leading dot of an entry and the brackets
 * of an IPv6 address do not matter; an empty entry admits nothing. An empty list admits every
 * host. The configuration's `security.allowed_domains` and the network's URL policy (at every
 * redirect hop) both decide with this.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostAllowed } from "./validate.ts";
 * assert.ok(hostAllowed("cdn.ms11.com", ["ms11.com"]) && hostAllowed("MS11.com.", ["ms11.com"]));
 * assert.ok(!hostAllowed("evilms11.com", ["ms11.com"]) && !hostAllowed("ms11.com.evil", ["ms11.com"]));
 * assert.ok(hostAllowed("[::1]", ["::1"]) && !hostAllowed("127.0.0.2", ["127.0.0.1"]));
 * assert.ok(hostAllowed("anything.example", []));
 * ```
 */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  const h = bareHost(host);
  const ip = isIpAddress(h);
  return patterns.some((pattern) => {
    const p = bareHost(pattern.replace(/^\./, ""));
    return p !== "" && (h === p || (!ip && !isIpAddress(p) && h.endsWith(`.${p}`)));
  });
}

/**
 * Whether `value` is a TCP port number: an integer from 0 to 65535 (0 asks for a free port).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPort } from "./validate.ts";
 * assert.ok(isPort(0) && isPort(8011) && isPort(65535));
 * assert.ok(!isPort(-1) && !isPort(65536) && !isPort(1.5) && !isPort(Number.NaN) && !isPort("80"));
 * ```
 */
export function isPort(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 65535;
}

/**
 * A port given as text (a `--port` flag), or null when it is not one: 1 to 5 decimal digits
 * with a value from 0 to 65535, nothing else. Empty or blank text, signs, spaces, fractions,
 * exponents and hex are refused (`Number()` would read `""` as 0 and `"0x50"` as 80).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePort } from "./validate.ts";
 * assert.equal(parsePort("8011"), 8011);
 * assert.equal(parsePort("0"), 0);
 * for (const bad of ["", " ", " 80", "+80", "80.0", "1e3", "0x50", "65536", "http"]) {
 *   assert.equal(parsePort(bad), null);
 * }
 * ```
 */
export function parsePort(text: string): number | null {
  if (typeof text !== "string" || !/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/**
 * Whether `value` is a plain object (a JSON object): not null, not an array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isObject } from "./validate.ts";
 * assert.ok(isObject({ a: 1 }) && isObject({}));
 * assert.ok(!isObject(null) && !isObject([]) && !isObject("{}"));
 * ```
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether `value` is a string with at least one character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNonEmptyString } from "./validate.ts";
 * assert.ok(isNonEmptyString("stable"));
 * assert.ok(!isNonEmptyString("") && !isNonEmptyString(null) && !isNonEmptyString(1));
 * ```
 */
export function isNonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * A value as an error message shows it: its JSON (so strings are quoted), cut to 80 characters,
 * with control, C1 and bidi characters escaped ({@linkcode escapeText}: the value may come from
 * the network or a file); `undefined` and functions as `String()` gives them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showValue } from "./validate.ts";
 * assert.equal(showValue("Stable"), '"Stable"');
 * assert.equal(showValue(undefined), "undefined");
 * assert.equal(showValue("x".repeat(100)).length, 80);
 * assert.equal(showValue("a\x1b[2J\u202e"), '"a\\u001b[2J\\u202e"');
 * ```
 */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value);
  return escapeText(
    text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text,
  );
}

/**
 * A file name that is not `.` or `..` and holds no slash, backslash or NUL (the configuration's
 * `executable`, the publisher's `--executable`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFileName } from "./validate.ts";
 * assert.ok(isFileName("ms11"));
 * assert.ok(isFileName("MS11.exe"));
 * assert.ok(!isFileName("bin/ms11"));
 * assert.ok(!isFileName(".."));
 * ```
 */
export function isFileName(name: string): boolean {
  return /^(?!\.{1,2}$)[^/\\\0]+$/.test(name);
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether `text` is an ISO 8601 time with a zone whose date and time exist (a manifest's
 * `released_at` and `expires`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIsoTime } from "./validate.ts";
 * assert.ok(isIsoTime("2026-11-20T10:00:00Z"));
 * assert.ok(isIsoTime("2026-11-20T10:00:00.5+01:00"));
 * assert.ok(!isIsoTime("2026-02-30T10:00:00Z")); // no such day
 * assert.ok(!isIsoTime("2026-11-20 10:00:00")); // no zone
 * ```
 */
export function isIsoTime(text: string): boolean {
  const m = ISO_TIME.exec(text);
  if (m === null || Number.isNaN(Date.parse(text))) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 &&
    minute <= 59 && second <= 60;
}
