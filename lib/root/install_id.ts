/**
 * The install root's random id (`<root>/install_id`): 16 random bytes as 32 lowercase hex digits,
 * made once, written atomically, and never sent anywhere. A staged rollout's cohort is computed
 * from it and the release's salt (lib/core/rollout.ts), on this machine only.
 *
 * @module
 */
import { removeIfExists, syncDir, tempSibling, writeFileAtomic } from "../core/fs.ts";
import type { Layout } from "./layout.ts";
import { refuseLinks } from "./safe.ts";

const ID = /^[0-9a-f]{32}$/;

/**
 * The path of the install id in a root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { installIdPath } from "./install_id.ts";
 * assert.equal(installIdPath(layoutOf("/opt/ms11")), "/opt/ms11/install_id");
 * ```
 */
export function installIdPath(layout: Layout): string {
  return `${layout.root}/install_id`;
}

/**
 * Read the install id, making it first when the root has none. A file that holds anything but
 * one id is an error naming it, never replaced silently (the cohort would change under the
 * install): remove it to make a new one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { installIdPath, readInstallId } from "./install_id.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * const id = await readInstallId(layout);
 * assert.match(id, /^[0-9a-f]{32}$/);
 * assert.equal(await readInstallId(layout), id); // made once
 * // Commands that make it at the same time agree on one.
 * const fresh = layoutOf(await Deno.makeTempDir());
 * const ids = await Promise.all(Array.from({ length: 8 }, () => readInstallId(fresh)));
 * assert.equal(new Set(ids).size, 1);
 * await Deno.writeTextFile(installIdPath(layout), "garbage");
 * await assert.rejects(readInstallId(layout), {
 *   message: `Install id ${installIdPath(layout)} is not 32 lowercase hex digits; remove it to make a new one`,
 * });
 * ```
 */
export async function readInstallId(layout: Layout): Promise<string> {
  const path = installIdPath(layout);
  await refuseLinks(layout, path);
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (!ID.test(text)) {
      throw new TypeError(
        `Install id ${path} is not 32 lowercase hex digits; remove it to make a new one`,
      );
    }
    return text;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // Written whole to a temp file, fsynced, then linked into place: a link never replaces a file,
  // so when two commands make an id at once, one wins and both use it.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const tmp = tempSibling(path);
  await writeFileAtomic(tmp, `${id}\n`);
  try {
    await Deno.link(tmp, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    return await readInstallId(layout); // the other command's
  } finally {
    await removeIfExists(tmp);
  }
  await syncDir(layout.root);
  return id;
}

/**
 * The install id when the root has a good one, else null: for looks that write nothing (the
 * dashboard's channel cards, a switch's question).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layoutOf } from "./layout.ts";
 * import { peekInstallId, readInstallId } from "./install_id.ts";
 * const layout = layoutOf(await Deno.makeTempDir());
 * assert.equal(await peekInstallId(layout), null);
 * assert.equal(await peekInstallId(layout), null); // nothing made
 * const id = await readInstallId(layout);
 * assert.equal(await peekInstallId(layout), id);
 * ```
 */
export async function peekInstallId(layout: Layout): Promise<string | null> {
  try {
    const path = installIdPath(layout);
    await refuseLinks(layout, path);
    const text = (await Deno.readTextFile(path)).trim();
    return ID.test(text) ? text : null;
  } catch {
    return null;
  }
}
