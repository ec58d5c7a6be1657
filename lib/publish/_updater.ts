// Private to lib/publish/release.ts: the manifest's `updater` field on the publisher's side. A
// new ms11-update rides along a publication (docs/MANIFEST.md, "The updater"): its file is hashed
// and copied to <tree>/<channel>/updater/<version>/, and the field names it per form (a compiled
// executable per platform, the code-split bundle's archive as `bundle`). A publication without a
// new updater carries the channel's current `updater` field over unchanged, so that publishing a
// build never withdraws the updater on offer.
import { baseOf, renameDurable, tempSibling } from "../core/fs.ts";
import { ConfigError } from "../core/errors.ts";
import { hashFile } from "../core/hash.ts";
import { isObject, isPlatformKey } from "../core/validate.ts";
import { compareVersions, isVersion, parseVersion } from "../core/version.ts";

/**
 * A new ms11-update to publish with a release.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { UpdaterFile } from "./_updater.ts";
 * const updater: UpdaterFile = { version: "0.2.0", file: "dist/ms11-update-0.2.0.tar.gz" };
 * assert.equal(updater.key, undefined); // an archive: the bundle
 * ```
 */
export interface UpdaterFile {
  /** Its version. */
  version: string;
  /** The file: a compiled executable, or a `.tar.gz`/`.zip` of the code-split bundle. */
  file: string;
  /** `bundle`, or the platform of a compiled executable (default: `bundle` for an archive, else
   * the release's platform). */
  key?: string;
}

/**
 * The `updater` field of the next manifest: `updater` added to the channel's current field
 * `options.current` (the same version: another form; a higher one: a new field; a lower one: refused),
 * or the current field unchanged when there is no new updater.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashFile } from "../core/hash.ts";
 * import { updaterField } from "./_updater.ts";
 * const channelDir = await Deno.makeTempDir();
 * const file = `${channelDir}/../ms11-update-linux`;
 * await Deno.writeTextFile(file, "#!/bin/sh\necho 0.2.0\n");
 * const { sha256 } = await hashFile(file);
 * const field = await updaterField(channelDir, {
 *   current: undefined, updater: { version: "0.2.0", file }, platform: "linux-x64" });
 * assert.deepEqual(field, { version: "0.2.0", artifacts: {
 *   "linux-x64": { url: "updater/0.2.0/ms11-update-linux", size: 21, sha256, kind: "executable" },
 * } });
 * assert.equal(await Deno.readTextFile(`${channelDir}/updater/0.2.0/ms11-update-linux`), "#!/bin/sh\necho 0.2.0\n");
 * assert.equal(await updaterField(channelDir, { current: field, updater: undefined,
 *   platform: "linux-x64" }), field); // carried over
 * await assert.rejects(updaterField(channelDir, { current: field,
 *   updater: { version: "0.1.0", file }, platform: "linux-x64" }), {
 *   name: "ConfigError",
 *   message: "Cannot publish ms11-update 0.1.0: the channel already offers 0.2.0",
 * });
 * ```
 */
export async function updaterField(
  channelDir: string,
  options: { current: unknown; updater: UpdaterFile | undefined; platform: string },
): Promise<unknown> {
  const { current, updater, platform } = options;
  if (updater === undefined) return current;
  if (!isVersion(updater.version)) {
    throw new ConfigError(
      `Invalid updater version ${JSON.stringify(updater.version)}: expected a semver version`,
    );
  }
  const version = parseVersion(updater.version);
  const name = baseOf(updater.file);
  const archive = /\.(tar\.gz|tgz|zip)$/i.test(name);
  const key = updater.key ?? (archive ? "bundle" : platform);
  if (key === "bundle" ? !archive : !isPlatformKey(key) || archive) {
    throw new ConfigError(
      key === "bundle" || archive
        ? `Updater ${name} for ${key}: the bundle is published as a .tar.gz or .zip of the code-split bundle, and a platform's updater as its compiled executable`
        : `Invalid updater platform ${
          JSON.stringify(key)
        }: expected a key like linux-x64, or bundle`,
    );
  }
  const old = isObject(current) && typeof current.version === "string" ? current : null;
  if (old !== null && isVersion(old.version) && compareVersions(version, old.version) < 0) {
    throw new ConfigError(
      `Cannot publish ms11-update ${version}: the channel already offers ${old.version}`,
    );
  }
  const { sha256, size } = await hashFile(updater.file);
  const dir = `${channelDir}/updater/${version}`;
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempSibling(`${dir}/${name}`);
  await Deno.copyFile(updater.file, tmp);
  await renameDurable(tmp, `${dir}/${name}`);
  const same = old !== null && old.version === version && isObject(old.artifacts);
  return {
    version,
    artifacts: {
      ...(same ? old.artifacts as Record<string, unknown> : {}),
      [key]: {
        url: `updater/${encodeURIComponent(version)}/${encodeURIComponent(name)}`,
        size,
        sha256,
        kind: key === "bundle" ? (/\.zip$/i.test(name) ? "zip" : "tar.gz") : "executable",
      },
    },
  };
}
