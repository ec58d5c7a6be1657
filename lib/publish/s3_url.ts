/**
 * Where a release tree goes in an object store: `s3://bucket[/prefix]`, parsed strictly.
 *
 * @module
 */
import { ConfigError } from "../core/errors.ts";

/**
 * A bucket and a key prefix (`""`, or ending with `/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseS3Url, type S3Location } from "./s3_url.ts";
 * const where: S3Location = parseS3Url("s3://releases/ms11/", "--to");
 * assert.deepEqual(where, { bucket: "releases", prefix: "ms11/" });
 * ```
 */
export interface S3Location {
  /** The bucket. */
  bucket: string;
  /** The prefix under which the release tree goes: `""` or `releases/`. */
  prefix: string;
}

/**
 * Parse `s3://bucket[/prefix]`; throws {@linkcode ConfigError} naming `source` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseS3Url } from "./s3_url.ts";
 * assert.deepEqual(parseS3Url("s3://releases/ms11", "--to"), { bucket: "releases", prefix: "ms11/" });
 * assert.deepEqual(parseS3Url("s3://releases", "--to"), { bucket: "releases", prefix: "" });
 * ```
 */
export function parseS3Url(text: string, source: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  const bucket = match?.[1] ?? "";
  const prefix = (match?.[2] ?? "").replace(/\/+$/, "");
  const segments = prefix === "" ? [] : prefix.split("/");
  if (
    !/^[a-z0-9][a-z0-9._-]{1,62}$/.test(bucket) ||
    segments.some((s) => s === "" || s === "." || s === ".." || hasControlOrBackslash(s))
  ) {
    throw new ConfigError(
      `Invalid ${source} ${JSON.stringify(text)}: expected s3://bucket or s3://bucket/prefix`,
    );
  }
  return { bucket, prefix: prefix === "" ? "" : `${prefix}/` };
}

function hasControlOrBackslash(s: string): boolean {
  return [...s].some((c) => c.charCodeAt(0) < 0x20 || c === "\\");
}
