/**
 * The stat stamp of a staged build: one SHA-256 over every entry's type, name, mode, size,
 * modification and change times, inode and link count (and a link's target), the build folder's
 * own included, taken with `lstat` when the build is staged and again before it is swapped in.
 * An unchanged stamp proves the build is as staged without reading any file: the launcher's
 * `apply` then costs one `lstat` per entry whatever the build's size in bytes. Any write (even
 * one that puts the old mtime back: the ctime still moves), truncation, replacement, addition,
 * removal, `chmod` or `touch`, or a copy of the root elsewhere, moves it; `apply` then checks the
 * seal by reading the build once (docs/RELIABILITY.md, "Between staging and launch"). Hashed with
 * Web Crypto, so that the launcher's path loads no `node:` module.
 *
 * @module
 */

/** One line of the stamp for `info`. */
function describe(info: Deno.FileInfo): string {
  return [
    ((info.mode ?? 0) & 0o7777).toString(8),
    info.size,
    info.mtime?.getTime() ?? "-",
    info.ctime?.getTime() ?? "-",
    info.ino ?? "-",
    info.nlink ?? "-",
  ].join(" ");
}

/**
 * The stat stamp of the build folder `dir` (lowercase hex SHA-256); it follows no link.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statStamp } from "./stamp.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\n");
 * const stamp = await statStamp(dir);
 * assert.equal(await statStamp(dir), stamp); // nothing changed
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho changed\n");
 * assert.notEqual(await statStamp(dir), stamp);
 * ```
 */
export async function statStamp(dir: string): Promise<string> {
  const lines = [`. ${describe(await Deno.lstat(dir))}`];
  async function walk(path: string, rel: string): Promise<void> {
    const entries = await Array.fromAsync(Deno.readDir(path));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = `${path}/${entry.name}`;
      const name = JSON.stringify(`${rel}${entry.name}`);
      const info = await Deno.lstat(full);
      if (info.isSymlink) {
        lines.push(`l ${name} ${describe(info)} ${JSON.stringify(await Deno.readLink(full))}`);
      } else if (info.isDirectory) {
        lines.push(`d ${name} ${describe(info)}`);
        await walk(full, `${rel}${entry.name}/`);
      } else lines.push(`${info.isFile ? "f" : "o"} ${name} ${describe(info)}`);
    }
  }
  await walk(dir, "");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
