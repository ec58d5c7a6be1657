// Private to lib/core/config.ts: change one top-level field of a JSON document in its text, so
// that the rest of the file stays byte for byte as its author wrote it (formatting, key order,
// spacing). A small scanner finds where each top-level member's value lies.

/** Where a top-level member of a JSON object lies in the text. */
interface Member {
  /** Its key, unescaped. */
  key: string;
  /** Offset of the key's opening quote. */
  keyStart: number;
  /** Offsets of its value: [start, end). */
  value: [number, number];
}

const WS = new Set([" ", "\t", "\n", "\r"]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text[i])) i++;
  return i;
}

/** The end (exclusive) of the string literal starting at `i`. */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
  if (j >= text.length) throw new SyntaxError("Unterminated string in JSON");
  return j + 1;
}

/** The end (exclusive) of the JSON value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return stringEnd(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text[j];
      if (d === '"') {
        j = stringEnd(text, j);
        continue;
      }
      if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new SyntaxError("Unterminated object or array in JSON");
  }
  let j = i;
  while (j < text.length && !WS.has(text[j]) && text[j] !== "," && text[j] !== "}") j++;
  return j;
}

/** The top-level object's members and where its braces are; the text must be valid JSON. */
function members(text: string): { open: number; close: number; list: Member[] } {
  const open = skipWs(text, 0);
  if (text[open] !== "{") throw new SyntaxError("The JSON document is not an object");
  const list: Member[] = [];
  let i = skipWs(text, open + 1);
  while (text[i] !== "}") {
    const keyStart = i;
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(keyStart, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // the colon
    const end = valueEnd(text, i);
    list.push({ key, keyStart, value: [i, end] });
    i = skipWs(text, end);
    if (text[i] === ",") i = skipWs(text, i + 1);
  }
  return { open, close: i, list };
}

/**
 * `text` (a JSON object) with its top-level field `key` set to `value`, everything else as it
 * was: an existing value is replaced where it stands (every occurrence, should the key repeat);
 * a missing key is added first, indented like the other members. Throws a `SyntaxError` when
 * `text` is not a JSON object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setTopLevelField } from "./_json_edit.ts";
 * const text = '{\n    "keep_backups_count": 5,\n    "channel": "stable",  "health": {"channel": 1}\n}\n';
 * assert.equal(
 *   setTopLevelField(text, "channel", "canary"),
 *   '{\n    "keep_backups_count": 5,\n    "channel": "canary",  "health": {"channel": 1}\n}\n',
 * );
 * assert.equal(setTopLevelField('{"a": 1}', "channel", "canary"), '{"channel": "canary", "a": 1}');
 * assert.equal(setTopLevelField("{}", "channel", "canary"), '{\n  "channel": "canary"\n}');
 * ```
 */
export function setTopLevelField(text: string, key: string, value: unknown): string {
  JSON.parse(text); // only valid JSON is edited
  const { open, close, list } = members(text);
  const literal = JSON.stringify(value);
  const found = list.filter((m) => m.key === key);
  if (found.length > 0) {
    let out = text;
    for (const m of found.reverse()) {
      out = out.slice(0, m.value[0]) + literal + out.slice(m.value[1]);
    }
    return out;
  }
  const entry = `${JSON.stringify(key)}: ${literal}`;
  if (list.length === 0) {
    return `${text.slice(0, open + 1)}\n  ${entry}\n${text.slice(close)}`;
  }
  const first = list[0].keyStart;
  const lead = text.slice(open + 1, first); // the whitespace before the first member
  return `${text.slice(0, first)}${entry},${lead === "" ? " " : lead}${text.slice(first)}`;
}
