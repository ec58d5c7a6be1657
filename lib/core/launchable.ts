/**
 * Whether a build directory can be launched: it holds the configured executable at its top
 * level, as a regular file with an execute bit. One check for both sides: a client staging a
 * build (lib/root/stage.ts) and a publisher about to publish one (lib/publish/artifact_check.ts).
 *
 * @module
 */

/**
 * Why the build in `dir` cannot be launched as `executable`, as a phrase (`has no file ms11 at
 * the top level`), or null when it can. Does not follow a symlink named `executable`: a client
 * refuses one. On a system without permission bits (Windows) the execute bit is not checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { launchProblem } from "./launchable.ts";
 * const dir = await Deno.makeTempDir();
 * assert.equal(await launchProblem(dir, "ms11"), "has no file ms11 at the top level");
 * await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\n");
 * await Deno.chmod(`${dir}/ms11`, 0o644);
 * assert.equal(await launchProblem(dir, "ms11"), "has ms11 without an execute bit (mode 0644)");
 * await Deno.chmod(`${dir}/ms11`, 0o755);
 * assert.equal(await launchProblem(dir, "ms11"), null);
 * ```
 */
export async function launchProblem(dir: string, executable: string): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(`${dir}/${executable}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return `has no file ${executable} at the top level`;
    }
    throw error;
  }
  if (info.isSymlink) return `has ${executable} at the top level as a symlink, not a file`;
  if (!info.isFile) return `has ${executable} at the top level as a directory, not a file`;
  const mode = info.mode;
  if (mode !== null && (mode & 0o111) === 0) {
    return `has ${executable} without an execute bit (mode ${
      (mode & 0o7777).toString(8).padStart(4, "0")
    })`;
  }
  return null;
}
