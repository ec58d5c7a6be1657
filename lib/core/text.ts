/**
 * Untrusted text made safe to show: the one place where characters that a terminal (or a
 * browser's bidi algorithm) would act on are written as visible escapes. Strings from the
 * network, archives and state files reach people only through these functions (see
 * docs/SECURITY.md, "Terminal escapes").
 *
 * What is escaped: the C0 controls U+0000–U+001F (ESC, CR, LF, BS, TAB…), DEL U+007F, the C1
 * controls U+0080–U+009F (an 8-bit CSI is U+009B), the bidirectional controls (U+061C,
 * U+200E–U+200F, U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators
 * U+2028–U+2029. Each becomes `\xHH` (up to U+00FF) or `\uHHHH`.
 *
 * The escaping is idempotent on purpose: its output holds none of those characters, so text
 * escaped where it is made (an error message) and again where it is shown (the CLI's stderr,
 * the dashboard) is escaped once. The price is that a literal `\x1b` typed by a publisher reads
 * the same as an escaped ESC: these functions are for display, not for round trips.
 *
 * @module
 */

/** The characters {@linkcode escapeText} escapes. */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The same, to test (not global: no state between calls). */
const UNSAFE_ONE = new RegExp(UNSAFE.source);

/** The same, but line feeds and tabs are kept (multi-line human text). */
const UNSAFE_BUT_LF =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What JSON.stringify leaves raw that a terminal or bidi display would act on. */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control, C1 and bidi character written as a visible escape (`\x1b`,
 * `\x9b`, `\u202e`); line feeds too, so the result is one line. Idempotent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeText } from "./text.ts";
 * assert.equal(escapeText("sha\x1b[32m1"), "sha\\x1b[32m1");
 * assert.equal(escapeText("a\nb\u202ec\x9b"), "a\\x0ab\\u202ec\\x9b");
 * assert.equal(escapeText(escapeText("\x1b]0;title\x07")), "\\x1b]0;title\\x07");
 * assert.equal(escapeText("Grüße, 版本 1.2"), "Grüße, 版本 1.2");
 * ```
 */
export function escapeText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * Like {@linkcode escapeText}, but line feeds and tabs are kept: for multi-line text whose lines
 * were put together by the program (a status report, release notes shown as they were written).
 * A carriage return is escaped (it would let a line overwrite itself).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLines } from "./text.ts";
 * assert.equal(escapeLines("root: /opt\r\ncurrent: \x1b[2J1.0"), "root: /opt\\x0d\ncurrent: \\x1b[2J1.0");
 * ```
 */
export function escapeLines(text: string): string {
  return text.replace(UNSAFE_BUT_LF, escapeChar);
}

/**
 * `text` quoted as a JSON string and escaped, for a message that names an untrusted value:
 * `entry "a\u001b[2Jb" refused`. Not cut short (see lib/core/validate.ts's `showValue` for that).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quoteText } from "./text.ts";
 * assert.equal(quoteText("evil\u202etxt.exe"), '"evil\\u202etxt.exe"');
 * assert.equal(quoteText('say "hi"'), '"say \\"hi\\""');
 * ```
 */
export function quoteText(text: string): string {
  return escapeText(JSON.stringify(text));
}

/**
 * Whether `text` holds a character {@linkcode escapeText} would escape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasUnsafeText } from "./text.ts";
 * assert.ok(hasUnsafeText("\u202eexe.txt"));
 * assert.ok(!hasUnsafeText("plain, ünïcödé"));
 * ```
 */
export function hasUnsafeText(text: string): boolean {
  return UNSAFE_ONE.test(text);
}

/**
 * `value` as JSON, safe to print on a terminal and still the same data: what `JSON.stringify`
 * leaves raw (DEL, C1, bidi controls, U+2028/U+2029) is written as a JSON `\uHHHH` escape, so
 * any JSON parser reads back exactly `value`. `space` as for `JSON.stringify`; `undefined` is
 * `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonText } from "./text.ts";
 * const value = { reason: "x\x1b[2J\x9b\u202e" };
 * const text = jsonText(value);
 * assert.equal(text, '{"reason":"x\\u001b[2J\\u009b\\u202e"}');
 * assert.deepEqual(JSON.parse(text), value);
 * ```
 */
export function jsonText(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space) ?? "null";
  return text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
