/**
 * Keep an updater in `<root>/updater/<version>/`: the running one (the known-good copy a rollback
 * returns to), or a verified artifact (the candidate). Each is assembled in a fresh
 * `updater/.staging-*` folder, every file fsynced and hashed, then renamed into place; its record
 * (the SHA-256 of each file) is written to the updater's state by the caller. Archives are
 * extracted through lib/archive, imported only then.
 *
 * @module
 */
import { removeIfExists, renameDurable, syncDir } from "../core/fs.ts";
import { hashFile } from "../core/hash.ts";
import type { Layout } from "../root/layout.ts";
import { bundleChunks, copyOver, hashFiles } from "./files.ts";
import { BUNDLE_ENTRY, EXECUTABLE_NAME, type UpdaterForm } from "./form.ts";
import { MODES, refuseLinks } from "../root/safe.ts";
import { ensureSelfDir, keptDir, type KeptUpdater, selfPaths } from "./state.ts";

async function freshStaging(layout: Layout): Promise<string> {
  await ensureSelfDir(layout);
  const staging = await Deno.makeTempDir({ dir: selfPaths(layout).dir, prefix: ".staging-" });
  await Deno.chmod(staging, MODES.builds); // run like a build (lib/root/safe.ts)
  return staging;
}

/** Move an assembled folder to `<root>/updater/<version>/`, replacing a stale one. */
async function settle(layout: Layout, staging: string, version: string): Promise<void> {
  const target = keptDir(layout, version);
  await refuseLinks(layout, target);
  await removeIfExists(target, true); // not recorded (the caller checked), so not needed
  await renameDurable(staging, target);
}

/**
 * Keep a copy of the running updater (`form`, at the launcher's path) as `version`, unless one
 * is kept already (`existing`). Returns its record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "../root/layout.ts";
 * import { keepRunning } from "./stage.ts";
 * import { keptDir } from "./state.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/ms11-update`, "#!/bin/sh\necho 0.1.0\n", { mode: 0o755 });
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * const form = { kind: "executable" as const, path: `${dir}/ms11-update`, key: "linux-x64" };
 * const kept = await keepRunning(layout, form, { version: "0.1.0", now: new Date("2026-11-27T00:00:00Z") });
 * assert.deepEqual(Object.keys(kept.files), ["ms11-update"]);
 * assert.equal(await Deno.readTextFile(`${keptDir(layout, "0.1.0")}/ms11-update`), "#!/bin/sh\necho 0.1.0\n");
 * ```
 */
export async function keepRunning(
  layout: Layout,
  form: UpdaterForm,
  options: { version: string; now: Date; existing?: KeptUpdater },
): Promise<KeptUpdater> {
  if (form.kind === "source") {
    throw new Error(`ms11-update runs from source (${form.path}); it is updated with its checkout`);
  }
  if (options.existing !== undefined) return options.existing;
  const staging = await freshStaging(layout);
  try {
    const beside = form.path.slice(0, form.path.lastIndexOf("/"));
    const entry = form.kind === "executable" ? EXECUTABLE_NAME : BUNDLE_ENTRY;
    const sources: [string, string][] = [[form.path, entry]];
    if (form.kind === "bundle") {
      for (const chunk of await bundleChunks(form.path)) {
        sources.push([`${beside}/${chunk}`, chunk]);
      }
    }
    const files: Record<string, string> = {};
    for (const [from, name] of sources) {
      const { sha256 } = await hashFile(from);
      await copyOver(from, `${staging}/${name}`, {
        sha256,
        mode: name === EXECUTABLE_NAME ? 0o755 : 0o644,
      });
      files[name] = sha256;
    }
    await syncDir(staging);
    await settle(layout, staging, options.version);
    return {
      version: options.version,
      kind: form.kind,
      entry,
      files,
      sha256: null,
      channel: null,
      kept_at: options.now.toISOString(),
    };
  } catch (error) {
    await removeIfExists(staging, true);
    throw error;
  }
}

/**
 * Options of {@linkcode keepArtifact}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KeepArtifactOptions } from "./stage.ts";
 * const options: KeepArtifactOptions = { version: "0.2.0", kind: "executable", sha256: "a".repeat(64),
 *   channel: "stable", now: new Date() };
 * assert.equal(options.kind, "executable");
 * ```
 */
export interface KeepArtifactOptions {
  /** The updater's version. */
  version: string;
  /** The artifact's kind: `executable` (a compiled updater) or an archive of a bundle. */
  kind: "executable" | "tar.gz" | "zip";
  /** The artifact's SHA-256, verified by the download. */
  sha256: string;
  /** The channel it came from. */
  channel: string;
  /** The time to record. */
  now: Date;
}

/**
 * Keep a verified updater artifact (`file`) as a candidate: an executable is copied as
 * `ms11-update` (mode 0755); an archive is extracted safely and must hold the bundle's
 * `main.js` and every chunk it loads at its top level. Returns its record.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "../core/hash.ts";
 * import { layoutOf } from "../root/layout.ts";
 * import { keepArtifact } from "./stage.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/download`, "#!/bin/sh\necho 0.2.0\n");
 * const { sha256 } = await hashFile(`${dir}/download`);
 * const layout = layoutOf(`${dir}/root`);
 * await Deno.mkdir(layout.builds, { recursive: true }); // an install
 * const kept = await keepArtifact(layout, `${dir}/download`, {
 *   version: "0.2.0", kind: "executable", sha256, channel: "stable", now: new Date() });
 * assert.deepEqual([kept.entry, kept.files["ms11-update"], kept.sha256], ["ms11-update", sha256, sha256]);
 * await Deno.writeTextFile(`${dir}/empty.tar.gz`, "");
 * await assert.rejects(keepArtifact(layout, `${dir}/empty.tar.gz`, {
 *   version: "0.3.0", kind: "tar.gz", sha256, channel: "stable", now: new Date() }));
 * ```
 */
export async function keepArtifact(
  layout: Layout,
  file: string,
  options: KeepArtifactOptions,
): Promise<KeptUpdater> {
  const staging = await freshStaging(layout);
  try {
    let files: Record<string, string>;
    let entry: string;
    if (options.kind === "executable") {
      entry = EXECUTABLE_NAME;
      await copyOver(file, `${staging}/${entry}`, { sha256: options.sha256, mode: 0o755 });
      files = { [entry]: options.sha256 };
    } else {
      entry = BUNDLE_ENTRY;
      const tree = `${staging}/tree`;
      const { extractArchive } = await import("../archive/extract.ts");
      await extractArchive(file, tree, { kind: options.kind });
      const info = await Deno.lstat(`${tree}/${entry}`).catch(() => null);
      if (info === null || !info.isFile) {
        throw new Error(
          `Updater ${options.version}'s archive has no ${entry} at its top level (a code-split bundle)`,
        );
      }
      const names = [entry, ...await bundleChunks(`${tree}/${entry}`)];
      files = await hashFiles(tree, names);
      for (const name of names) await Deno.rename(`${tree}/${name}`, `${staging}/${name}`);
      await removeIfExists(tree, true);
      await syncDir(staging);
    }
    await settle(layout, staging, options.version);
    return {
      version: options.version,
      kind: options.kind === "executable" ? "executable" : "bundle",
      entry,
      files,
      sha256: options.sha256,
      channel: options.channel,
      kept_at: options.now.toISOString(),
    };
  } catch (error) {
    await removeIfExists(staging, true);
    throw error;
  }
}
