/**
 * Private to lib/publish/verify_release.ts: a channel's deltas checked before the tree is
 * published. Each listed delta in the tree must have its declared size and SHA-256; when the
 * build it is made from is in the tree too, it is applied to it as a client would
 * (lib/delta/apply.ts, folder.ts) and must rebuild exactly the artifact (its SHA-256, or the
 * seal of the archive's build as extraction makes it).
 *
 * @module
 */
import { extractArchive } from "../archive/extract.ts";
import { removeIfExists } from "../core/fs.ts";
import { hashFile } from "../core/hash.ts";
import { applyPatch } from "../delta/apply.ts";
import { applyFolderDelta } from "../delta/folder.ts";
import { treeDigest } from "../root/seal.ts";
import type { Manifest } from "../trust/manifest.ts";
import { type ReleaseSource, releaseSource } from "./_release_sources.ts";

/**
 * One delta as verify-release found it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { VerifiedDelta } from "./_verify_deltas.ts";
 * const delta: VerifiedDelta = {
 *   platform: "linux-x64", from: "1.0.0", kind: "bsdiff", size: 900,
 *   file: "/srv/releases/stable/1.1.0/ms11.from-1.0.0.delta", rebuilt: true, ok: true,
 * };
 * assert.ok(delta.ok && delta.rebuilt);
 * ```
 */
export interface VerifiedDelta {
  platform: string;
  /** The version it is made from. */
  from: string;
  kind: string;
  size: number;
  /** Its file in the tree (null: hosted elsewhere, not checked). */
  file: string | null;
  /** Whether it was applied and rebuilt the artifact (null: its `from` build is not in the tree). */
  rebuilt: boolean | null;
  /** Whether it passed every check made. */
  ok: boolean;
}

/**
 * Check the deltas of `manifest`'s artifacts (those in the channel folder `channelDir`, whose
 * URLs start with `base`); problems are one line each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseManifest } from "../trust/manifest.ts";
 * import { publishRelease } from "./release.ts";
 * import { verifyDeltas } from "./_verify_deltas.ts";
 * const work = await Deno.makeTempDir();
 * const text = "a line of a build, much like the strings of a binary\n".repeat(2000);
 * for (const version of ["1.0.0", "1.1.0"]) {
 *   await Deno.writeTextFile(`${work}/ms11`, `#!/bin/sh\necho ${version}\n${text}`);
 *   await publishRelease(`${work}/tree`, { channel: "stable", version, platform: "linux-x64", artifact: `${work}/ms11`, deltas: {} });
 * }
 * const base = "https://release.invalid/stable/";
 * const bytes = await Deno.readFile(`${work}/tree/stable/manifest.json`);
 * const manifest = parseManifest(bytes, { url: `${base}manifest.json`, channel: "stable" });
 * const raw = JSON.parse(new TextDecoder().decode(bytes));
 * const { deltas, problems } = await verifyDeltas(`${work}/tree/stable`, { manifest, raw, base });
 * assert.deepEqual(problems, []);
 * assert.deepEqual(deltas.map((d) => [d.from, d.rebuilt]), [["1.0.0", true]]);
 * await Deno.writeFile(deltas[0].file!, new Uint8Array(deltas[0].size)); // same size, other bytes
 * const tampered = await verifyDeltas(`${work}/tree/stable`, { manifest, raw, base });
 * assert.match(tampered.problems[0], /^Delta .*ms11\.from-1\.0\.0\.delta \(linux-x64, from 1\.0\.0\) has sha256 /);
 * ```
 */
export async function verifyDeltas(
  channelDir: string,
  options: { manifest: Manifest; raw: Record<string, unknown>; base: string },
): Promise<{ deltas: VerifiedDelta[]; problems: string[] }> {
  const { manifest, raw, base } = options;
  const deltas: VerifiedDelta[] = [];
  const problems: string[] = [];
  const inTree = (url: string) =>
    url.startsWith(base) ? `${channelDir}/${decodeURIComponent(url.slice(base.length))}` : null;
  for (const [platform, artifact] of Object.entries(manifest.artifacts)) {
    if (!artifact.deltas?.length) continue;
    const target = inTree(artifact.url);
    const work = await Deno.makeTempDir({ prefix: "ms11-verify-deltas-" });
    let newSeal: Promise<string> | null = null;
    try {
      for (const [i, delta] of artifact.deltas.entries()) {
        const file = inTree(delta.url);
        const found: VerifiedDelta = {
          platform,
          from: delta.from,
          kind: delta.kind,
          size: delta.size,
          file,
          rebuilt: null,
          ok: true,
        };
        deltas.push(found);
        if (file === null) continue; // hosted elsewhere: not in this tree
        const name = `Delta ${file} (${platform}, from ${delta.from})`;
        const fail = (problem: string) => {
          found.ok = false;
          problems.push(`${name} ${problem}`);
        };
        const digest = await hashFile(file).catch(() => null);
        if (digest === null) {
          fail("is missing");
          continue;
        }
        if (digest.size !== delta.size || digest.sha256 !== delta.sha256) {
          fail(
            `has sha256 ${digest.sha256} and ${digest.size} bytes; the manifest says ${delta.sha256} and ${delta.size} bytes`,
          );
          continue;
        }
        if (target === null) continue;
        const source = await releaseSource(channelDir, { version: delta.from, platform, raw });
        if (source === null) continue;
        const out = `${work}/${i}`;
        try {
          if (delta.kind === "bsdiff") {
            if (source.sha256 !== delta.from_sha256) {
              fail(
                `is made from sha256 ${delta.from_sha256}, but ${delta.from}'s artifact ${source.path} has ${source.sha256}`,
              );
              continue;
            }
            await applyPatch(source.path, file, {
              out,
              size: artifact.size,
              sha256: artifact.sha256,
            });
          } else {
            newSeal ??= sealOf(target, `${work}/new`, artifact);
            const seal = await newSeal;
            if (seal !== delta.seal) {
              fail(`declares the seal ${delta.seal}, but the artifact's build has ${seal}`);
              continue;
            }
            const old = await extracted(source, `${out}.old`);
            const oldSeal = await treeDigest(old);
            if (oldSeal !== delta.from_seal) {
              fail(
                `is made from the seal ${delta.from_seal}, but ${delta.from}'s build ${source.path} has ${oldSeal}`,
              );
              continue;
            }
            await applyFolderDelta(old, file, { out, seal, sync: false });
          }
          found.rebuilt = true;
        } catch (error) {
          found.rebuilt = false;
          fail(`does not rebuild the artifact from ${source.path}: ${(error as Error).message}`);
        } finally {
          await removeIfExists(out, true);
          await removeIfExists(`${out}.old`, true);
        }
      }
    } finally {
      await removeIfExists(work, true);
    }
  }
  return { deltas, problems };
}

/** The seal of `archive`'s build, extracted into `dir` as a client extracts it. */
async function sealOf(
  archive: string,
  dir: string,
  artifact: Manifest["artifacts"][string],
): Promise<string> {
  await extractArchive(archive, dir, {
    kind: artifact.kind as "tar.gz" | "zip",
    expandedSize: artifact.expanded_size,
    sync: false,
  });
  return await treeDigest(dir);
}

/** `source` extracted into `dir`. */
async function extracted(source: ReleaseSource, dir: string): Promise<string> {
  await extractArchive(source.path, dir, {
    kind: source.kind as "tar.gz" | "zip",
    expandedSize: source.expanded_size,
    sync: false,
  });
  return dir;
}
