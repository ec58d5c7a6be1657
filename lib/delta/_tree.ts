// Private: a build folder as a map of relative paths to what is there (never following a
// symlink), shared by the client (the old build) and the publisher (both builds).
import { entryParts } from "../archive/_paths.ts";

/**
 * One entry of a build folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TreeNode } from "./_tree.ts";
 * const node: TreeNode = { kind: "symlink", mode: 0o777, size: 0, target: "libfoo.so.1" };
 * assert.equal(node.kind, "symlink");
 * ```
 */
export interface TreeNode {
  /** What it is. */
  kind: "dir" | "file" | "symlink";
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  /** Bytes of a file (0 for the others). */
  size: number;
  /** A symlink's target ("" for the others). */
  target: string;
}

/**
 * Every entry under `dir` by relative path ("a/b"), parents before children, names sorted.
 * Throws `TypeError` for an entry that is neither a directory, a regular file nor a symlink,
 * and `UnsafeArchiveError` for a name a build may not have (a backslash, a drive letter).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { walkTree } from "./_tree.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/lib`);
 * await Deno.writeTextFile(`${dir}/lib/a.txt`, "abc");
 * await Deno.symlink("lib/a.txt", `${dir}/link`);
 * const tree = await walkTree(dir);
 * assert.deepEqual([...tree.keys()], ["lib", "lib/a.txt", "link"]);
 * assert.equal(tree.get("lib/a.txt")?.size, 3);
 * assert.equal(tree.get("link")?.target, "lib/a.txt");
 * ```
 */
export async function walkTree(dir: string): Promise<Map<string, TreeNode>> {
  const tree = new Map<string, TreeNode>();
  async function walk(rel: string): Promise<void> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(rel === "" ? dir : `${dir}/${rel}`)) {
      names.push(entry.name);
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const path = rel === "" ? name : `${rel}/${name}`;
      entryParts(dir, path);
      const info = await Deno.lstat(`${dir}/${path}`);
      const mode = (info.mode ?? 0) & 0o7777;
      if (info.isSymlink) {
        tree.set(path, {
          kind: "symlink",
          mode,
          size: 0,
          target: await Deno.readLink(`${dir}/${path}`),
        });
      } else if (info.isDirectory) {
        tree.set(path, { kind: "dir", mode, size: 0, target: "" });
        await walk(path);
      } else if (info.isFile) {
        tree.set(path, { kind: "file", mode, size: info.size, target: "" });
      } else {
        throw new TypeError(
          `Build folder ${dir} has ${path}, which is neither a file, a directory nor a symlink`,
        );
      }
    }
  }
  await walk("");
  return tree;
}

/**
 * Paths sorted so that every directory comes before what is in it: by depth, then by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { byDepth } from "./_tree.ts";
 * assert.deepEqual(byDepth(["a/b/c", "b", "a/b", "a"]), ["a", "b", "a/b", "a/b/c"]);
 * ```
 */
export function byDepth(paths: Iterable<string>): string[] {
  const depth = (path: string) => path.split("/").length;
  return [...paths].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
}
