// Private helpers of extract.ts: entry-name and link-target checks, and the record of what an
// extraction has created so far (to refuse duplicates, writes through symlinks and links that
// resolve outside the destination).
import { UnsafeArchiveError } from "../core/errors.ts";

/** What an extraction created at a path relative to the destination. */
export type NodeKind = "dir" | "file" | "symlink";

/** The entries an extraction has created so far, keyed by their normalised relative path. */
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

/** A fresh, empty {@linkcode Tree}. */
export function newTree(): Tree {
  return { nodes: new Map(), links: new Map(), dirModes: new Map() };
}

/** Why a path string (entry name or link target) is refused, or null when its syntax is fine. */
function syntaxProblem(path: string): string | null {
  if (path === "") return "empty path";
  if (path.includes("\0")) return "path contains a NUL character";
  if (path.startsWith("/")) return "absolute path";
  if (path.includes("\\")) return "path contains a backslash";
  if (/^[A-Za-z]:/.test(path)) return "path starts with a Windows drive letter";
  return null;
}

/**
 * The components of an entry name relative to the destination ("." and empty components
 * dropped). Refuses absolute names, drive letters, backslashes, NUL and any ".." component.
 * An empty result means the destination itself (e.g. "./").
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

/** File mode to give an extracted file: no setuid/setgid/sticky, no group or other write. */
export function fileMode(mode: number): number {
  return mode & 0o755;
}

/** Directory mode: like {@linkcode fileMode}, and the owner can always list, enter and write. */
export function dirMode(mode: number): number {
  return (mode & 0o755) | 0o700;
}
