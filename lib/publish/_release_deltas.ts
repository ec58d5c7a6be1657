/**
 * Private to lib/publish/release.ts: the deltas of a new release (docs/DELTA.md, "Publishing
 * deltas"), from the channel's last releases in the tree to the new artifact. An executable's
 * delta is a binary patch (lib/delta/make.ts); a tar.gz or zip build's a folder delta between the
 * two builds as clients extract them (lib/archive/extract.ts, lib/delta/make_folder.ts). Each is
 * written beside the artifact as `<artifact>.from-<version>.delta` and listed in the manifest
 * with the fields lib/trust/_manifest_deltas.ts requires.
 *
 * @module
 */
import { extractArchive } from "../archive/extract.ts";
import { removeIfExists } from "../core/fs.ts";
import { hashFile } from "../core/hash.ts";
import { makeDelta } from "../delta/make.ts";
import { makeFolderDelta } from "../delta/make_folder.ts";
import { MAX_DELTAS } from "../trust/_manifest_deltas.ts";
import type { ArtifactKind } from "../trust/manifest.ts";
import type { ReleaseSource } from "./_release_sources.ts";

/**
 * How many of the channel's last releases get a delta to a new one when the settings do not
 * say (`release`'s default; `publishRelease` without `deltas` makes none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_DELTA_COUNT } from "./_release_deltas.ts";
 * assert.equal(DEFAULT_DELTA_COUNT, 3);
 * ```
 */
export const DEFAULT_DELTA_COUNT = 3;

/**
 * The deltas a release makes (`PublishOptions.deltas`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaSettings } from "./_release_deltas.ts";
 * const settings: DeltaSettings = { count: 2, maxRatio: 0.4, required: true };
 * assert.equal(settings.count, 2);
 * ```
 */
export interface DeltaSettings {
  /** From how many of the channel's last releases, 0-32 (default 3; 0: none). */
  count?: number;
  /** Keep a delta only when it is smaller than this share of the full artifact, (0, 1] (default 0.5). */
  maxRatio?: number;
  /**
   * Fail when a delta cannot be made because bsdiff is missing (default false: publish without
   * deltas and say so in `warnings`).
   */
  required?: boolean;
  /** Blocks compressed at once (default: the CPUs, at most 4). */
  concurrency?: number;
}

/**
 * Check delta settings: a count of 0-32 and a ratio in (0, 1]; the defaults filled in. No
 * settings at all is no deltas.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkDeltaSettings } from "./_release_deltas.ts";
 * assert.deepEqual(checkDeltaSettings({}), { count: 3, maxRatio: 0.5, required: false });
 * assert.equal(checkDeltaSettings(undefined).count, 0);
 * assert.throws(() => checkDeltaSettings({ count: -1 }), {
 *   name: "RangeError", message: "Delta count must be a whole number from 0 to 32, got -1",
 * });
 * assert.throws(() => checkDeltaSettings({ maxRatio: 2 }), {
 *   name: "RangeError", message: "Delta max ratio must be above 0 and at most 1, got 2",
 * });
 * ```
 */
export function checkDeltaSettings(
  settings: DeltaSettings | undefined,
): Required<Omit<DeltaSettings, "concurrency">> & Pick<DeltaSettings, "concurrency"> {
  const count = settings === undefined ? 0 : settings.count ?? DEFAULT_DELTA_COUNT;
  if (!Number.isInteger(count) || count < 0 || count > MAX_DELTAS) {
    throw new RangeError(
      `Delta count must be a whole number from 0 to ${MAX_DELTAS}, got ${count}`,
    );
  }
  const maxRatio = settings?.maxRatio ?? 0.5;
  if (!(typeof maxRatio === "number" && maxRatio > 0 && maxRatio <= 1)) {
    throw new RangeError(`Delta max ratio must be above 0 and at most 1, got ${maxRatio}`);
  }
  return {
    count,
    maxRatio,
    required: settings?.required ?? false,
    ...(settings?.concurrency === undefined ? {} : { concurrency: settings.concurrency }),
  };
}

/**
 * The programs delta generation runs that are not installed, as one line, or null when both are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { missingDeltaTools } from "./_release_deltas.ts";
 * const missing = await missingDeltaTools({ PATH: "/nonexistent" });
 * assert.equal(missing, "the bsdiff and bzip2 programs are not installed (Debian and Ubuntu: apt-get install bsdiff bzip2)");
 * ```
 */
export async function missingDeltaTools(
  env: { PATH?: string } = { PATH: Deno.env.get("PATH") },
): Promise<string | null> {
  const missing: string[] = [];
  for (const program of ["bsdiff", "bzip2"]) {
    const found = await Promise.any(
      (env.PATH ?? "").split(":").filter((d) => d !== "").map(async (dir) => {
        const info = await Deno.stat(`${dir}/${program}`);
        if (!info.isFile || ((info.mode ?? 0) & 0o111) === 0) throw new Error("not executable");
        return true;
      }),
    ).catch(() => false);
    if (!found) missing.push(program);
  }
  if (missing.length === 0) return null;
  const programs = `program${missing.length === 1 ? " is" : "s are"}`;
  return `the ${
    missing.join(" and ")
  } ${programs} not installed (Debian and Ubuntu: apt-get install ${missing.join(" ")})`;
}

/**
 * A delta as the manifest lists it (`artifacts.<p>.deltas[i]`, URL relative to the manifest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DeltaEntry } from "./_release_deltas.ts";
 * const entry: DeltaEntry = {
 *   from: "1.0.0", url: "1.1.0/ms11.from-1.0.0.delta", size: 900, sha256: "a".repeat(64),
 *   kind: "bsdiff", from_sha256: "b".repeat(64),
 * };
 * assert.equal(entry.kind, "bsdiff");
 * ```
 */
export interface DeltaEntry {
  from: string;
  url: string;
  size: number;
  sha256: string;
  kind: "bsdiff" | "folder";
  from_sha256?: string;
  from_seal?: string;
  seal?: string;
}

/**
 * A delta not published: not worth it (`ratio`), or one that could not be made (`error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SkippedDelta } from "./_release_deltas.ts";
 * const skipped: SkippedDelta = { from: "1.0.0", size: 900, fullSize: 1000, ratio: 0.9, error: null };
 * assert.ok(skipped.ratio! > 0.5);
 * ```
 */
export interface SkippedDelta {
  from: string;
  /** The bytes it would have had (null when it could not be made). */
  size: number | null;
  /** The full artifact's bytes. */
  fullSize: number;
  /** `size / fullSize` (null when it could not be made). */
  ratio: number | null;
  /** Why it could not be made, or null when it was only not worth it. */
  error: string | null;
}

/**
 * What {@linkcode makeReleaseDeltas} needs to know of the new release.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NewArtifact } from "./_release_deltas.ts";
 * const target: NewArtifact = {
 *   path: "/srv/releases/stable/1.1.0/ms11", version: "1.1.0", name: "ms11", size: 21, kind: "executable",
 * };
 * assert.equal(target.name, "ms11");
 * ```
 */
export interface NewArtifact {
  /** The artifact as copied into its version folder. */
  path: string;
  version: string;
  /** Its file name. */
  name: string;
  size: number;
  kind: ArtifactKind;
  expanded_size?: number;
}

/**
 * The file name of the delta from `from` to the artifact `name`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deltaFileName } from "./_release_deltas.ts";
 * assert.equal(deltaFileName("ms11.tar.gz", "1.0.0"), "ms11.tar.gz.from-1.0.0.delta");
 * ```
 */
export function deltaFileName(name: string, from: string): string {
  return `${name}.from-${from}.delta`;
}

/**
 * Make the deltas from each of `sources` to `target`, in its version folder; the ones written
 * as manifest entries, the others as skipped. A source of another kind family (an executable
 * for an archive build, or the reverse) is skipped. A missing bsdiff stops it
 * (`Deno.errors.NotFound`); any other failure of one delta skips that delta.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "../core/hash.ts";
 * import { makeReleaseDeltas } from "./_release_deltas.ts";
 * const dir = await Deno.makeTempDir();
 * const text = "a line of a build, much like the strings of a binary\n".repeat(2000);
 * await Deno.writeTextFile(`${dir}/old`, text);
 * await Deno.mkdir(`${dir}/1.1.0`);
 * await Deno.writeTextFile(`${dir}/1.1.0/ms11`, text.replace("line", "LINE"));
 * const old = await hashFile(`${dir}/old`);
 * const { size } = await Deno.stat(`${dir}/1.1.0/ms11`);
 * const { deltas, skipped } = await makeReleaseDeltas(
 *   { path: `${dir}/1.1.0/ms11`, version: "1.1.0", name: "ms11", size, kind: "executable" },
 *   [{ version: "1.0.0", path: `${dir}/old`, ...old, kind: "executable" }],
 *   { maxRatio: 0.5 },
 * );
 * assert.deepEqual(skipped, []);
 * assert.equal(deltas[0].url, "1.1.0/ms11.from-1.0.0.delta");
 * assert.equal(deltas[0].from_sha256, old.sha256);
 * ```
 */
export async function makeReleaseDeltas(
  target: NewArtifact,
  sources: readonly ReleaseSource[],
  options: { maxRatio: number; concurrency?: number; reuse?: readonly unknown[] },
): Promise<{ deltas: DeltaEntry[]; skipped: SkippedDelta[] }> {
  const { reuse, ...encode } = options;
  const deltas: DeltaEntry[] = [];
  const skipped: SkippedDelta[] = [];
  const versionDir = target.path.slice(0, target.path.lastIndexOf("/"));
  const folder = target.kind !== "executable";
  const usable = sources.filter((s) => (s.kind !== "executable") === folder);
  if (usable.length === 0) return { deltas, skipped };
  // Beside the output, not in the system's temporary folder (often in memory); a dot folder is
  // never uploaded or served.
  const work = await Deno.makeTempDir({ dir: versionDir, prefix: ".ms11-deltas-" });
  try {
    const newDir = `${work}/new`;
    let extractedNew = false;
    for (const [i, source] of usable.entries()) {
      const name = deltaFileName(target.name, source.version);
      const out = `${versionDir}/${name}`;
      const url = `${encodeURIComponent(target.version)}/${encodeURIComponent(name)}`;
      const common = { out, fullSize: target.size, ...encode };
      // What every listed delta says: from which version, where, its size and SHA-256.
      const listed = (made: { size: number; sha256?: string | null }) => ({
        from: source.version,
        url,
        size: made.size,
        sha256: made.sha256!,
      });
      const kept = await reusable(reuse, { source, out, url, target, maxRatio: encode.maxRatio });
      if (kept !== null) {
        deltas.push(kept);
        continue;
      }
      try {
        if (!folder) {
          const made = await makeDelta(source.path, target.path, common);
          if (!made.written) {
            skipped.push(notWorth(source.version, made));
            continue;
          }
          deltas.push({ ...listed(made), kind: "bsdiff", from_sha256: source.sha256 });
          continue;
        }
        if (!extractedNew) {
          await extractArchive(target.path, newDir, {
            kind: target.kind as "tar.gz" | "zip",
            expandedSize: target.expanded_size,
            sync: false,
          });
          extractedNew = true;
        }
        const oldDir = `${work}/old-${i}`;
        try {
          await extractArchive(source.path, oldDir, {
            kind: source.kind as "tar.gz" | "zip",
            expandedSize: source.expanded_size,
            sync: false,
          });
          const made = await makeFolderDelta(oldDir, newDir, common);
          if (!made.written) {
            skipped.push(notWorth(source.version, made));
            continue;
          }
          deltas.push({
            ...listed(made),
            kind: "folder",
            from_seal: made.from.seal,
            seal: made.to.seal,
          });
        } finally {
          await removeIfExists(oldDir, true);
        }
      } catch (error) {
        if (
          error instanceof Deno.errors.NotFound && /program is not installed/.test(error.message)
        ) {
          throw error;
        }
        if (!(error instanceof Error)) throw error;
        skipped.push({
          from: source.version,
          size: null,
          fullSize: target.size,
          ratio: null,
          error: error.message,
        });
      }
    }
  } finally {
    await removeIfExists(work, true);
  }
  return { deltas, skipped };
}

/**
 * The delta from `source` of a republished build, kept from its earlier publication: listed
 * then for the same artifact, made from the same `from` artifact, its file unchanged.
 */
async function reusable(
  reuse: readonly unknown[] | undefined,
  job: { source: ReleaseSource; out: string; url: string; target: NewArtifact; maxRatio: number },
): Promise<DeltaEntry | null> {
  const { source, target } = job;
  const entry = (reuse ?? []).find((d) =>
    typeof d === "object" && d !== null && (d as DeltaEntry).from === source.version
  ) as DeltaEntry | undefined;
  if (entry === undefined || entry.url !== job.url) return null;
  const folder = target.kind !== "executable";
  if (entry.kind !== (folder ? "folder" : "bsdiff")) return null;
  if (!folder && entry.from_sha256 !== source.sha256) return null;
  if (!(entry.size < job.maxRatio * target.size)) return null;
  const digest = await hashFile(job.out).catch(() => null);
  return digest?.size === entry.size && digest.sha256 === entry.sha256 ? entry : null;
}

function notWorth(from: string, made: { size: number; fullSize: number; ratio: number }) {
  return { from, size: made.size, fullSize: made.fullSize, ratio: made.ratio, error: null };
}
