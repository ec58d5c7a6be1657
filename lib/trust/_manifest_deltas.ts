/**
 * An artifact's `deltas` (docs/MANIFEST.md, docs/DELTA.md): the signed list of deltas from
 * earlier versions to this build. Parsed strictly, like the rest of the manifest; called by
 * lib/trust/manifest.ts only.
 *
 * @module
 */
import { isVersion, parseVersion } from "../core/version.ts";
import { type FieldFail, isObject, isSha256Hex } from "../core/validate.ts";

/**
 * The most deltas one artifact may list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_DELTAS } from "./_manifest_deltas.ts";
 * assert.equal(MAX_DELTAS, 32);
 * ```
 */
export const MAX_DELTAS = 32;

/**
 * The delta kinds this client applies: `bsdiff` (a binary patch of an executable, made by
 * lib/delta's makeDelta) and `folder` (a folder delta of an archive's build, makeFolderDelta).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DELTA_KINDS } from "./_manifest_deltas.ts";
 * assert.deepEqual(DELTA_KINDS, ["bsdiff", "folder"]);
 * ```
 */
export const DELTA_KINDS: readonly DeltaKind[] = ["bsdiff", "folder"];

/**
 * A kind of delta.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaKind } from "./_manifest_deltas.ts";
 * const kind: DeltaKind = "folder";
 * assert.equal(kind, "folder");
 * ```
 */
export type DeltaKind = "bsdiff" | "folder";

/**
 * One delta from the build of version `from` to the artifact's build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Delta } from "./_manifest_deltas.ts";
 * const delta: Delta = {
 *   from: "1.0.0", url: "https://u.ms11.com/stable/1.1.0/ms11.from-1.0.0.delta", size: 900,
 *   sha256: "a".repeat(64), kind: "bsdiff", from_sha256: "b".repeat(64),
 * };
 * assert.equal(delta.kind, "bsdiff");
 * ```
 */
export interface Delta {
  /** The version the delta is made from (semver, canonical form). */
  from: string;
  /** Absolute URL of the delta file (relative URLs resolve against the manifest's URL). */
  url: string;
  /** Exact size of the delta file in bytes. */
  size: number;
  /** SHA-256 of the delta file. */
  sha256: string;
  /** `bsdiff` (executables) or `folder` (tar.gz and zip builds). */
  kind: DeltaKind;
  /** For `bsdiff`: the SHA-256 of the `from` executable (its artifact's SHA-256). */
  from_sha256?: string;
  /** For `folder`: the seal of the `from` build (as staging records it). */
  from_seal?: string;
  /** For `folder`: the seal of the new build, which the rebuilt folder must have. */
  seal?: string;
}

/**
 * What {@linkcode parseDeltas} needs: where the manifest is, and how to fail.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaContext } from "./_manifest_deltas.ts";
 * const context: DeltaContext = {
 *   url: "https://u.ms11.com/stable/manifest.json",
 *   fail: (field, expected, value) => {
 *     throw new TypeError(`${field} must be ${expected}, got ${value}`);
 *   },
 * };
 * assert.throws(() => context.fail("deltas", "a list", 1), { message: "deltas must be a list, got 1" });
 * ```
 */
export interface DeltaContext {
  /** The manifest's URL: relative delta URLs resolve against it. */
  url: string;
  /** Throws the `TypeError` naming the field, what was expected and the value. */
  fail: FieldFail;
}

const COMMON = ["from", "url", "size", "sha256", "kind"];
const FIELDS: Record<DeltaKind, string[]> = {
  bsdiff: [...COMMON, "from_sha256"],
  folder: [...COMMON, "from_seal", "seal"],
};

/**
 * Parse `artifacts.<p>.deltas` (`field` names it) of an artifact of kind `artifactKind`: a list
 * of at most {@linkcode MAX_DELTAS} entries with distinct `from` versions. A `bsdiff` delta
 * needs an executable artifact and `from_sha256`; a `folder` delta a tar.gz or zip artifact,
 * `from_seal` and `seal`. An entry whose kind this client does not know is skipped (a later
 * kind must not break old clients, which then download the full build); its other fields are
 * still checked. Unknown fields in a known kind are refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDeltas } from "./_manifest_deltas.ts";
 * const fail = (field: string, expected: string, value: unknown): never => {
 *   throw new TypeError(`${field} must be ${expected}, got ${JSON.stringify(value)}`);
 * };
 * const context = { url: "https://u.ms11.com/stable/manifest.json", fail };
 * const entry = {
 *   from: "1.0.0", url: "1.1.0/ms11.from-1.0.0.delta", size: 900, sha256: "a".repeat(64),
 *   kind: "bsdiff", from_sha256: "b".repeat(64),
 * };
 * const [delta] = parseDeltas("d", [entry, { ...entry, from: "0.9.0", kind: "courgette" }], {
 *   artifactKind: "executable", ...context,
 * });
 * assert.equal(delta.url, "https://u.ms11.com/stable/1.1.0/ms11.from-1.0.0.delta");
 * assert.throws(() => parseDeltas("d", [entry, entry], { artifactKind: "executable", ...context }), {
 *   message: 'd[1].from must be a version not listed before, got "1.0.0"',
 * });
 * assert.throws(() => parseDeltas("d", [entry], { artifactKind: "zip", ...context }), {
 *   message: 'd[0].kind must be folder (the artifact is a zip build), got "bsdiff"',
 * });
 * ```
 */
export function parseDeltas(
  field: string,
  value: unknown,
  options: DeltaContext & { artifactKind: string },
): Delta[] {
  const { fail } = options;
  if (!Array.isArray(value)) return fail(field, "a list", value);
  if (value.length > MAX_DELTAS) {
    fail(field, `a list of at most ${MAX_DELTAS} entries`, `${value.length} entries`);
  }
  const deltas: Delta[] = [];
  const seen = new Set<string>();
  value.forEach((entry, i) => {
    const at = `${field}[${i}]`;
    if (!isObject(entry)) fail(at, "an object", entry);
    const d = entry as Record<string, unknown>;
    if (!isVersion(d.from)) fail(`${at}.from`, "a semver version", d.from);
    const from = parseVersion(d.from as string);
    if (seen.has(from)) fail(`${at}.from`, "a version not listed before", d.from);
    seen.add(from);
    if (typeof d.url !== "string" || d.url.length === 0) fail(`${at}.url`, "a URL", d.url);
    let url: URL;
    try {
      url = new URL(d.url as string, options.url);
    } catch {
      return fail(`${at}.url`, "a valid URL", d.url);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      fail(`${at}.url`, "an http(s) URL", d.url);
    }
    if (!Number.isSafeInteger(d.size) || (d.size as number) < 1) {
      fail(`${at}.size`, "a positive integer", d.size);
    }
    if (!isSha256Hex(d.sha256)) fail(`${at}.sha256`, "64 lowercase hex digits", d.sha256);
    if (typeof d.kind !== "string") fail(`${at}.kind`, "a string", d.kind);
    const kind = d.kind as DeltaKind;
    if (!DELTA_KINDS.includes(kind)) return; // a later kind: this client downloads the full build
    const wanted: DeltaKind = options.artifactKind === "executable" ? "bsdiff" : "folder";
    if (kind !== wanted) {
      fail(`${at}.kind`, `${wanted} (the artifact is a ${options.artifactKind} build)`, d.kind);
    }
    for (const key of Object.keys(d)) {
      if (!FIELDS[kind].includes(key)) {
        fail(`${at}.${key}`, `absent (a ${kind} delta has ${FIELDS[kind].join(", ")})`, d[key]);
      }
    }
    const delta: Delta = {
      from,
      url: url.href,
      size: d.size as number,
      sha256: d.sha256 as string,
      kind,
    };
    const hashes = kind === "bsdiff" ? ["from_sha256"] : ["from_seal", "seal"];
    for (const key of hashes) {
      if (!isSha256Hex(d[key])) fail(`${at}.${key}`, "64 lowercase hex digits", d[key]);
      (delta as unknown as Record<string, string>)[key] = d[key] as string;
    }
    deltas.push(delta);
  });
  return deltas;
}
