// The seal of a build directory: one SHA-256 over every entry's type, mode, relative path and
// content (a file's SHA-256, a link's target), in sorted order. Staging makes it from what was
// verified and written (`sealOf`: an executable's verified digest, name and mode; an archive's
// per-file digests taken while each file was written), never by reading the build back;
// `treeDigest` computes the same from the files on disk (for builds staged by older versions,
// checked before they are swapped in, and for tests).
import { createHash } from "node:crypto";

/**
 * SHA-256 (hex) of the tree under `dir`; changes when any file, mode, link or name changes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { treeDigest } from "./seal.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\n");
 * const sealed = await treeDigest(dir);
 * assert.match(sealed, /^[0-9a-f]{64}$/);
 * assert.equal(await treeDigest(dir), sealed);
 * await Deno.chmod(`${dir}/ms11`, 0o755);
 * assert.notEqual(await treeDigest(dir), sealed); // a mode is part of the seal
 * ```
 */
export async function treeDigest(dir: string): Promise<string> {
  // One read buffer for every file: hashFile allocates two fresh 1 MiB buffers per file, and a
  // folder delta seals two builds; for lodash's 1,054 files those buffers (freed only at V8's
  // next full collection) took the rebuild's peak RSS 40 MiB above staging's.
  const buffer = new Uint8Array(1024 * 1024);
  const lines: string[] = [];
  async function fileSha256(path: string): Promise<string> {
    using file = await Deno.open(path, { read: true });
    const hash = createHash("sha256");
    for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
      hash.update(buffer.subarray(0, n));
    }
    return hash.digest("hex");
  }
  async function walk(path: string, rel: string): Promise<void> {
    const entries = await Array.fromAsync(Deno.readDir(path));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = `${path}/${entry.name}`;
      const name = `${rel}${entry.name}`;
      const info = await Deno.lstat(full);
      const mode = ((info.mode ?? 0) & 0o777).toString(8);
      if (info.isSymlink) {
        lines.push(`l ${mode} ${JSON.stringify(name)} ${await Deno.readLink(full)}`);
      } else if (info.isDirectory) {
        lines.push(`d ${mode} ${JSON.stringify(name)}`);
        await walk(full, `${name}/`);
      } else if (info.isFile) {
        lines.push(`f ${mode} ${JSON.stringify(name)} ${await fileSha256(full)}`);
      } else lines.push(`o ${mode} ${JSON.stringify(name)}`);
    }
  }
  await walk(dir, "");
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

/**
 * One entry of a build as it was written: what {@linkcode sealOf} seals. (The shape of
 * lib/archive's `ArchiveEntry`.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SealEntry } from "./seal.ts";
 * const main: SealEntry = { path: "ms11", kind: "file", mode: 0o755, sha256: "ab".repeat(32) };
 * assert.equal(main.kind, "file");
 * ```
 */
export interface SealEntry {
  /** The path relative to the build folder (no "./", no trailing "/"). */
  path: string;
  /** What it is. */
  kind: "dir" | "file" | "symlink";
  /** Its mode as installed. */
  mode: number;
  /** A file's SHA-256 (lowercase hex), taken from the bytes as they were written. */
  sha256?: string;
  /** A link's target. */
  target?: string;
}

/**
 * The seal of a build made from what was written, without reading anything back: the same
 * digest {@linkcode treeDigest} computes from the files on disk (every entry's type, mode, path
 * and content digest, in the same order), made from the entries as extraction wrote them (each
 * file's SHA-256 taken from its bytes while they were written), or for an executable build from
 * its verified SHA-256, its name and its mode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHash } from "node:crypto";
 * import { sealOf, treeDigest } from "./seal.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\n");
 * await Deno.chmod(`${dir}/ms11`, 0o755);
 * const sha256 = createHash("sha256").update("#!/bin/sh\n").digest("hex");
 * assert.equal(sealOf([{ path: "ms11", kind: "file", mode: 0o755, sha256 }]), await treeDigest(dir));
 * ```
 */
export function sealOf(entries: readonly SealEntry[]): string {
  const children = new Map<string, SealEntry[]>();
  for (const entry of entries) {
    const slash = entry.path.lastIndexOf("/");
    const parent = slash < 0 ? "" : entry.path.slice(0, slash);
    children.set(parent, [...children.get(parent) ?? [], entry]);
  }
  const base = (e: SealEntry) => e.path.slice(e.path.lastIndexOf("/") + 1);
  const lines: string[] = [];
  const walk = (dir: string) => {
    const list = [...children.get(dir) ?? []].sort((a, b) =>
      base(a) < base(b) ? -1 : base(a) > base(b) ? 1 : 0
    );
    for (const entry of list) {
      const mode = (entry.mode & 0o777).toString(8);
      const name = JSON.stringify(entry.path);
      if (entry.kind === "symlink") lines.push(`l ${mode} ${name} ${entry.target}`);
      else if (entry.kind === "dir") {
        lines.push(`d ${mode} ${name}`);
        walk(entry.path);
      } else lines.push(`f ${mode} ${name} ${entry.sha256}`);
    }
  };
  walk("");
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}
