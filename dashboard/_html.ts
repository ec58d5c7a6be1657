// Private to dashboard/: the HTML pieces every part of the page is made of — escaping (the only
// way a value reaches the page), times, and the one-button forms that post an action. Pure.
import { escapeLines } from "../lib/core/text.ts";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escape text for HTML content and attribute values: `&<>"'` as entities, and control, C1 and
 * bidi characters as visible escapes (lib/core/text.ts's `escapeLines`: line feeds and tabs
 * stay), since a right-to-left override from a manifest would reorder what people read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./_html.ts";
 * assert.equal(escapeHtml("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
 * assert.equal(escapeHtml("1.0\u202e\x1b[2J"), "1.0\\u202e\\x1b[2J");
 * ```
 */
export function escapeHtml(value: unknown): string {
  return escapeLines(String(value)).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const e = escapeHtml;

/**
 * A time as people read it (`2026-11-27 09:12:01 UTC`) in a `<time>` element, or `unknown`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { timeHtml } from "./_html.ts";
 * assert.equal(timeHtml("2026-11-27T09:12:01.000Z"),
 *   '<time datetime="2026-11-27T09:12:01.000Z">2026-11-27 09:12:01 UTC</time>');
 * assert.equal(timeHtml(null), "unknown");
 * ```
 */
export function timeHtml(iso: string | null | undefined): string {
  if (!iso) return "unknown";
  const shown = iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  return `<time datetime="${e(iso)}">${e(shown)}</time>`;
}

/**
 * A value usable in an `id` (and so in a CSS selector): anything but letters, digits, `_` and
 * `-` becomes `_`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slug } from "./_html.ts";
 * assert.equal(slug("1.2.0-beta.1"), "1_2_0-beta_1");
 * ```
 */
export function slug(value: string): string {
  return value.replace(/[^a-zA-Z0-9_-]/g, "_");
}

/**
 * What a form needs of the page: the token every action carries, and whether an action runs
 * (then every button is disabled).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FormContext } from "./_html.ts";
 * const ctx: FormContext = { token: "t", busy: false };
 * assert.equal(ctx.busy, false);
 * ```
 */
export interface FormContext {
  /** The access token. */
  token: string;
  /** An action is running. */
  busy: boolean;
}

/**
 * A form of one button posting to an action route.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FormSpec } from "./_html.ts";
 * const spec: FormSpec = { route: "/api/rollback", fields: { to: "1.0.0" }, label: "Roll back to 1.0.0",
 *   id: "rollback-1_0_0" };
 * assert.equal(spec.fields?.to, "1.0.0");
 * ```
 */
export interface FormSpec {
  /** The route, e.g. `/api/check`. */
  route: string;
  /** Hidden fields. */
  fields?: Record<string, string>;
  /** The button's label: what it does. */
  label: string;
  /** The button's id. */
  id: string;
  /** `primary` for the one action the page suggests. */
  kind?: "primary" | "secondary";
}

/**
 * The token as a query string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenQuery } from "./_html.ts";
 * assert.equal(tokenQuery("a&b"), "token=a%26b");
 * ```
 */
export function tokenQuery(token: string): string {
  return `token=${encodeURIComponent(token)}`;
}

/**
 * The HTML of a one-button form (a plain POST: it works without JavaScript).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formHtml } from "./_html.ts";
 * assert.equal(
 *   formHtml({ token: "t", busy: true }, { route: "/api/check", label: "Check now", id: "check-now" }),
 *   '<form method="post" action="/api/check?token=t"><button type="submit" id="check-now" class="secondary" disabled>Check now</button></form>',
 * );
 * ```
 */
export function formHtml(ctx: FormContext, spec: FormSpec): string {
  const hidden = Object.entries(spec.fields ?? {})
    .map(([name, value]) => `<input type="hidden" name="${e(name)}" value="${e(value)}">`)
    .join("");
  const disabled = ctx.busy ? " disabled" : "";
  return `<form method="post" action="${e(spec.route)}?${e(tokenQuery(ctx.token))}">${hidden}` +
    `<button type="submit" id="${e(spec.id)}" class="${spec.kind ?? "secondary"}"${disabled}>${
      e(spec.label)
    }</button></form>`;
}

/**
 * How a state looks: `good` (green, a check mark), `info` (blue, an arrow down to a line: ready
 * to apply), `warn` (amber, a triangle), `bad` (red, a cross), `neutral` (grey, a circle). The
 * icon's shape and the words say it without colour.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Tone } from "./_html.ts";
 * const tone: Tone = "warn";
 * assert.equal(tone, "warn");
 * ```
 */
export type Tone = "good" | "info" | "warn" | "bad" | "neutral";

const ICONS: Record<Tone, string> = {
  good: '<path d="M6 12.5l4 4 8-9"/>',
  info: '<path d="M12 5v10m-4.5-4.5L12 15l4.5-4.5M6 19h12"/>',
  warn: '<path d="M12 3.5l9.5 17h-19z"/><path d="M12 10v4.5m0 2.6v.4"/>',
  bad: '<path d="M6.5 6.5l11 11m0-11l-11 11"/>',
  neutral: '<circle cx="12" cy="12" r="7"/>',
};

/**
 * A tone's icon, `size` pixels square, hidden from screen readers (the words next to it say it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toneIcon } from "./_html.ts";
 * assert.match(toneIcon("bad", 16), /^<svg class="icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"/);
 * ```
 */
export function toneIcon(tone: Tone, size: number): string {
  return `<svg class="icon" viewBox="0 0 24 24" width="${size}" height="${size}" aria-hidden="true" focusable="false">${
    ICONS[tone]
  }</svg>`;
}
