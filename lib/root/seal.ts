// The seal of a build directory: one SHA-256 over every entry's type, mode, relative path and
// content (a file's SHA-256, a link's target), in sorted order. Computed when a build is staged
// and again just before it is swapped in, so the bytes installed are the bytes verified.
import { createHash } from "node:crypto";
import { hashFile } from "../core/hash.ts";

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
  const lines: string[] = [];
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
        lines.push(`f ${mode} ${JSON.stringify(name)} ${(await hashFile(full)).sha256}`);
      } else lines.push(`o ${mode} ${JSON.stringify(name)}`);
    }
  }
  await walk(dir, "");
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}
