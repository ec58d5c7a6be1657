/**
 * What a client would refuse in a build, checked before it is published: the archive's entries
 * go through the very checks a client's extraction runs (lib/archive/extract.ts: names, links,
 * entry types, entry count and size), into a private temporary folder that is removed after,
 * and the build must then be launchable as the configured executable (lib/core/launchable.ts,
 * as a client's staging checks it). A single executable is launchable when it is a non-empty
 * regular file (a client installs it with mode 0755).
 *
 * @module
 */
import { NotLaunchableError } from "../core/errors.ts";
import { removeIfExists } from "../core/fs.ts";
import { launchProblem } from "../core/launchable.ts";
import type { ArtifactKind } from "../trust/manifest.ts";

/**
 * The executable a build must hold when nothing else is said: the shipped configuration's
 * `executable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_EXECUTABLE } from "./artifact_check.ts";
 * assert.equal(DEFAULT_EXECUTABLE, "ms11");
 * ```
 */
export const DEFAULT_EXECUTABLE = "ms11";

/**
 * Options of {@linkcode checkArtifact}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkArtifact, type CheckArtifactOptions } from "./artifact_check.ts";
 * const file = await Deno.makeTempFile();
 * await Deno.writeTextFile(file, "#!/bin/sh\necho MS11\n");
 * const options: CheckArtifactOptions = { kind: "executable", executable: "ms11" };
 * await assert.doesNotReject(checkArtifact(file, options)); // a non-empty file: launchable
 * await Deno.writeTextFile(file, "");
 * await assert.rejects(checkArtifact(file, options), /is not launchable: it is an empty file/);
 * ```
 */
export interface CheckArtifactOptions {
  /** The artifact's kind. */
  kind: ArtifactKind;
  /** The file a client starts (the distribution's `executable`). */
  executable: string;
  /** Where the temporary extraction goes (default: the system's temporary folder). */
  workDir?: string;
  /** The expanded size the signed manifest declares: an archive that holds more or less is refused. */
  expandedSize?: number;
}

/**
 * Refuse an artifact a client would refuse: an `UnsafeArchiveError` naming the entry for an
 * archive a client's extraction refuses, a `NotLaunchableError` for a build without the
 * executable (or with it as a link, a folder, or without an execute bit), or the extraction's
 * own error for an archive that does not read. Changes nothing outside its temporary folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkArtifact } from "./artifact_check.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/src/bin`, { recursive: true });
 * await Deno.writeTextFile(`${dir}/src/bin/ms11`, "#!/bin/sh\n");
 * const tar = await new Deno.Command("tar", { args: ["-czf", `${dir}/app.tar.gz`, "-C", `${dir}/src`, "."] }).output();
 * assert.ok(tar.success);
 * await assert.rejects(checkArtifact(`${dir}/app.tar.gz`, { kind: "tar.gz", executable: "ms11" }), {
 *   name: "NotLaunchableError",
 *   message: `${dir}/app.tar.gz is not launchable: its tar.gz archive has no file ms11 at the top level`,
 * });
 * ```
 */
export async function checkArtifact(path: string, options: CheckArtifactOptions): Promise<void> {
  if (options.kind === "executable") {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size === 0) {
      throw new NotLaunchableError(
        `${path} is not launchable: it is ${info.isFile ? "an empty file" : "not a file"}`,
      );
    }
    return;
  }
  const { extractArchive } = await import("../archive/extract.ts");
  const work = await Deno.makeTempDir({ dir: options.workDir, prefix: ".ms11-check-" });
  try {
    const build = `${work}/build`;
    await extractArchive(path, build, { kind: options.kind, expandedSize: options.expandedSize });
    const problem = await launchProblem(build, options.executable);
    if (problem !== null) {
      throw new NotLaunchableError(
        `${path} is not launchable: its ${options.kind} archive ${problem}`,
      );
    }
  } finally {
    await removeIfExists(work, true);
  }
}
