// Private helpers of extract.ts: entry-name and link-target checks, and the record of what an
// extraction has created so far (to refuse duplicates, writes through symlinks and links that
// resolve outside the destination).
import { UnsafeArchiveError } from "../core/errors.ts";

/**
 * What an extraction created at a path relative to the destination.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claim, newTree, type NodeKind } from "./_paths.ts";
 * const tree = newTree();
 * claim(tree, "app.tar.gz", "lib/libms11.so", ["lib", "libms11.so"], "symlink");
 * const kinds: NodeKind[] = [...tree.nodes.values()];
 * assert.deepEqual(kinds, ["dir", "symlink"]);
 * ```
 */
export type NodeKind = "dir" | "file" | "symlink";

/**
 * The entries an extraction has created so far, keyed by their normalised relative path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claim, newTree, type Tree } from "./_paths.ts";
 * const tree: Tree = newTree();
 * claim(tree, "app.tar.gz", "bin/ms11", ["bin", "ms11"], "file");
 * assert.deepEqual([...tree.nodes], [["bin", "dir"], ["bin/ms11", "file"]]);
 * ```
 */
export interface Tree {
  /** Every created path (implicit parent directories included) and its kind. */
  nodes: Map<string, NodeKind>;
  /** Symlink path → target as stored in the archive. */
  links: Map<string, { entry: string; target: string }>;
  /** Directory path → mode to apply once everything is written. */
  dirModes: Map<string, number>;
}

/** Symlinks followed while resolving one target before giving up (Linux uses 40). */
const MAX_LINK_DEPTH = 40;

/**
 * A fresh, empty {@linkcode Tree}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newTree } from "./_paths.ts";
 * const tree = newTree();
 * assert.deepEqual([tree.nodes.size, tree.links.size, tree.dirModes.size], [0, 0, 0]);
 * assert.notEqual(newTree().nodes, tree.nodes);
 * ```
 */
export function newTree(): Tree {
  return { nodes: new Map(), links: new Map(), dirModes: new Map() };
}

/** C0 controls, DEL and C1 controls: never part of a name this client installs. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why a name has a control character in it (NUL, another C0 control, DEL or a C1 control), or
 * null when it has none. A NUL would cut the name short where the system reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { controlProblem } from "./_paths.ts";
 * assert.equal(controlProblem("lib/libms11.so.1"), null);
 * assert.equal(controlProblem("evil\0/../../x"), "path contains a NUL character");
 * assert.equal(controlProblem("ms11\x1b[2J"), "path contains the control character U+001B");
 * assert.equal(controlProblem("ms11\u009b"), "path contains the control character U+009B");
 * ```
 */
export function controlProblem(name: string): string | null {
  if (name.includes("\0")) return "path contains a NUL character";
  const found = CONTROL.exec(name);
  if (found === null) return null;
  const code = found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return `path contains the control character U+${code}`;
}

/** Why a path string (entry name or link target) is refused, or null when its syntax is fine. */
function syntaxProblem(path: string): string | null {
  if (path === "") return "empty path";
  const control = controlProblem(path);
  if (control !== null) return control;
  if (path.startsWith("/")) return "absolute path";
  if (path.includes("\\")) return "path contains a backslash";
  if (/^[A-Za-z]:/.test(path)) return "path starts with a Windows drive letter";
  return null;
}

/**
 * The components of an entry name relative to the destination ("." and empty components
 * dropped). Refuses absolute names, drive letters, backslashes, NUL and other control characters,
 * and any ".." component.
 * An empty result means the destination itself (e.g. "./").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnsafeArchiveError } from "../core/errors.ts";
 * import { entryParts } from "./_paths.ts";
 * assert.deepEqual(entryParts("app.tar.gz", "./lib//libms11.so"), ["lib", "libms11.so"]);
 * assert.deepEqual(entryParts("app.tar.gz", "./"), []); // the destination itself
 * assert.throws(() => entryParts("app.tar.gz", "lib/../../etc/passwd"), UnsafeArchiveError);
 * assert.throws(() => entryParts("app.tar.gz", "C:/Windows"), {
 *   message: 'Unsafe archive app.tar.gz: entry "C:/Windows" refused: path starts with a Windows drive letter',
 * });
 * ```
 */
export function entryParts(archive: string, name: string): string[] {
  const problem = syntaxProblem(name);
  if (problem) throw new UnsafeArchiveError(archive, name, problem);
  const parts = name.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.includes("..")) {
    throw new UnsafeArchiveError(archive, name, 'path has a ".." component');
  }
  return parts;
}

/**
 * Resolve `target` from the directory `from` the way the kernel would, following the symlinks
 * recorded in `tree`. Returns the resolved components, "outside" when a step leaves the
 * destination, or "loop" when more than 40 symlinks are followed.
 */
function resolve(
  tree: Tree,
  from: string[],
  target: string,
  depth: number,
): string[] | "outside" | "loop" {
  if (target.startsWith("/")) return "outside";
  let stack = [...from];
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return "outside";
      stack.pop();
      continue;
    }
    stack.push(part);
    const link = tree.links.get(stack.join("/"));
    if (link === undefined) continue;
    if (depth >= MAX_LINK_DEPTH) return "loop";
    stack.pop();
    const resolved = resolve(tree, stack, link.target, depth + 1);
    if (typeof resolved === "string") return resolved;
    stack = resolved;
  }
  return stack;
}

/**
 * Refuse a symlink target that is absolute, has a drive letter or backslash, or resolves
 * (through the symlinks recorded so far) outside the destination.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLinkTarget, claim, newTree } from "./_paths.ts";
 * const tree = newTree();
 * checkLinkTarget(tree, "app.tar.gz", "lib/libms11.so", ["lib", "libms11.so"], "libms11.so.1"); // inside: fine
 * assert.throws(() => checkLinkTarget(tree, "app.tar.gz", "lib/up", ["lib", "up"], "../../etc"), {
 *   message: 'Unsafe archive app.tar.gz: entry "lib/up" refused: symlink target "../../etc" resolves outside the build directory',
 * });
 * // Through a recorded link: share -> .. is inside, but share/../.. is not.
 * claim(tree, "app.tar.gz", "lib/share", ["lib", "share"], "symlink");
 * tree.links.set("lib/share", { entry: "lib/share", target: ".." });
 * assert.throws(() => checkLinkTarget(tree, "app.tar.gz", "x", ["x"], "lib/share/.."));
 * ```
 */
export function checkLinkTarget(
  tree: Tree,
  archive: string,
  name: string,
  parts: string[],
  target: string,
): void {
  const problem = syntaxProblem(target);
  if (problem) {
    throw new UnsafeArchiveError(
      archive,
      name,
      `symlink target ${JSON.stringify(target)}: ${problem}`,
    );
  }
  const resolved = resolve(tree, parts.slice(0, -1), target, 0);
  if (resolved === "outside") {
    throw new UnsafeArchiveError(
      archive,
      name,
      `symlink target ${JSON.stringify(target)} resolves outside the build directory`,
    );
  }
  if (resolved === "loop") {
    throw new UnsafeArchiveError(
      archive,
      name,
      `symlink target ${JSON.stringify(target)} is a symlink loop`,
    );
  }
}

/**
 * Check again, once every entry is known, that each symlink resolves inside the destination
 * (a later symlink can change where an earlier target leads).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAllLinks, newTree } from "./_paths.ts";
 * const tree = newTree();
 * // Each fine when written; together "a" leads outside once "b" points up.
 * tree.links.set("a", { entry: "a", target: "b/x" });
 * tree.links.set("b", { entry: "b", target: ".." });
 * assert.throws(() => checkAllLinks(tree, "app.tar.gz"), { name: "UnsafeArchiveError" });
 * checkAllLinks(newTree(), "app.tar.gz"); // no links: nothing to refuse
 * ```
 */
export function checkAllLinks(tree: Tree, archive: string): void {
  for (const [path, link] of tree.links) {
    checkLinkTarget(tree, archive, link.entry, path.split("/"), link.target);
  }
}

/**
 * Record that an entry of `kind` is about to be created at `parts`, and return the parent
 * directories that do not exist yet (outermost first). Refuses an entry whose parent is a
 * symlink or a file (a write through a symlink, CVE-2025-29787) and an entry whose path was
 * already created (except a directory repeated as a directory).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claim, newTree } from "./_paths.ts";
 * const tree = newTree();
 * assert.deepEqual(claim(tree, "a.tgz", "lib/x/y", ["lib", "x", "y"], "file"), ["lib", "lib/x"]);
 * assert.deepEqual(claim(tree, "a.tgz", "lib/z", ["lib", "z"], "symlink"), []); // lib exists now
 * assert.throws(() => claim(tree, "a.tgz", "lib/z/evil", ["lib", "z", "evil"], "file"), {
 *   message: 'Unsafe archive a.tgz: entry "lib/z/evil" refused: path goes through the symlink lib/z',
 * });
 * assert.throws(() => claim(tree, "a.tgz", "lib/x/y", ["lib", "x", "y"], "file"), {
 *   message: 'Unsafe archive a.tgz: entry "lib/x/y" refused: duplicate entry for lib/x/y',
 * });
 * ```
 */
export function claim(
  tree: Tree,
  archive: string,
  name: string,
  parts: string[],
  kind: NodeKind,
): string[] {
  const missing: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const key = parts.slice(0, i).join("/");
    const existing = tree.nodes.get(key);
    if (existing === "symlink") {
      throw new UnsafeArchiveError(archive, name, `path goes through the symlink ${key}`);
    }
    if (existing === "file") {
      throw new UnsafeArchiveError(archive, name, `path goes through the file ${key}`);
    }
    if (existing === undefined) missing.push(key);
  }
  const key = parts.join("/");
  const existing = tree.nodes.get(key);
  if (existing !== undefined && !(existing === "dir" && kind === "dir")) {
    throw new UnsafeArchiveError(archive, name, `duplicate entry for ${key}`);
  }
  for (const dir of missing) tree.nodes.set(dir, "dir");
  tree.nodes.set(key, kind);
  return missing;
}

/**
 * File mode to give an extracted file: no setuid/setgid/sticky, no group or other write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileMode } from "./_paths.ts";
 * assert.equal(fileMode(0o4777), 0o755); // no setuid, no group or other write
 * assert.equal(fileMode(0o640), 0o640);
 * ```
 */
export function fileMode(mode: number): number {
  return mode & 0o755;
}

/**
 * Directory mode: like {@linkcode fileMode}, and the owner can always list, enter and write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dirMode } from "./_paths.ts";
 * assert.equal(dirMode(0o555), 0o755); // the owner can always write
 * assert.equal(dirMode(0o1777), 0o755);
 * ```
 */
export function dirMode(mode: number): number {
  return (mode & 0o755) | 0o700;
}
