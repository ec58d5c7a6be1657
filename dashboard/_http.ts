// Private to dashboard/: the request and response forms of the dashboard's API — bodies read
// with a size cap into flat fields (JSON object or HTML form), JSON answers and SSE frames.
import { jsonText } from "../lib/core/text.ts";
import { SECURITY_HEADERS } from "./security.ts";

const MAX_BODY_BYTES = 16 * 1024;

/**
 * An error that is the caller's (bad input): answered 400, not recorded as a failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InputError } from "./_http.ts";
 * assert.equal(new InputError("Field to must be a version").name, "InputError");
 * ```
 */
export class InputError extends Error {
  override name = "InputError";
}

/**
 * A request's fields: strings (forms, JSON) and booleans (JSON).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Fields } from "./_http.ts";
 * const fields: Fields = { channel: "canary", allow_downgrade: true };
 * assert.equal(fields.channel, "canary");
 * ```
 */
export type Fields = Record<string, string | boolean | undefined>;

/**
 * Whether a form or JSON field is set: `true`, `"true"`, `"on"` or `"1"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flag } from "./_http.ts";
 * assert.deepEqual([true, "on", "1", "false", undefined].map(flag), [true, true, true, false, false]);
 * ```
 */
export function flag(value: string | boolean | undefined): boolean {
  return value === true || value === "true" || value === "on" || value === "1";
}

async function readBody(request: Request): Promise<string> {
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new InputError(`Request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/**
 * The fields of a request body: an HTML form, or a JSON object of strings and booleans (16 KiB
 * at most). Anything else is an {@linkcode InputError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFields } from "./_http.ts";
 * const form = new Request("http://x/", { method: "POST", body: "to=1.0.0",
 *   headers: { "content-type": "application/x-www-form-urlencoded" } });
 * assert.deepEqual(await readFields(form), { to: "1.0.0" });
 * await assert.rejects(readFields(new Request("http://x/", { method: "POST", body: "[1]" })),
 *   /must be a JSON object/);
 * ```
 */
export async function readFields(request: Request): Promise<Fields> {
  const text = await readBody(request);
  if (text.trim() === "") return {};
  const type = request.headers.get("content-type") ?? "";
  if (type.startsWith("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(
      `Request body must be JSON or a form, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InputError("Request body must be a JSON object");
  }
  const fields: Fields = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "string" || typeof v === "boolean") fields[k] = v;
    else if (v !== null) {
      throw new InputError(`Field ${k} must be a string, got ${JSON.stringify(v)}`);
    }
  }
  return fields;
}

/**
 * A JSON response with the security headers. DEL, C1 and bidi characters are `\uHHHH` escapes
 * (lib/core/text.ts's `jsonText`): the same data, safe in a terminal running `curl`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { json } from "./_http.ts";
 * const response = json({ ok: true }, { status: 201 });
 * assert.equal(response.status, 201);
 * assert.deepEqual(await response.json(), { ok: true });
 * ```
 */
export function json(
  data: unknown,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  return new Response(jsonText(data, 2) + "\n", {
    status: init.status ?? 200,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "application/json; charset=utf-8",
      ...init.headers,
    },
  });
}

/**
 * One Server-Sent Events frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sse } from "./_http.ts";
 * assert.equal(new TextDecoder().decode(sse("done", { ok: 1 })), 'event: done\ndata: {"ok":1}\n\n');
 * ```
 */
export function sse(event: string, data: unknown): Uint8Array {
  return new TextEncoder().encode(`event: ${event}\ndata: ${jsonText(data)}\n\n`);
}
