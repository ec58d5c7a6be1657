/**
 * The resume record kept next to a partial download, `<dest>.partial.json` (private to lib/net):
 * which URL, digest and size the partial bytes belong to, and the validators (`ETag`,
 * `Last-Modified`) a resumed request sends. A later download with the same digest and size
 * continues the partial; anything else discards it.
 *
 * @module
 */
import { writeFileAtomic } from "../core/fs.ts";
import { isObject } from "../core/validate.ts";

/**
 * The resume record of a partial download.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Sidecar } from "./_sidecar.ts";
 * const sidecar: Sidecar = {
 *   url: "https://updates.ms11.com/stable/1.1.0/ms11",
 *   sha256: "ab".repeat(32),
 *   size: 3,
 *   etag: '"v1"',
 *   last_modified: null,
 * };
 * assert.equal(sidecar.size, 3);
 * ```
 */
export interface Sidecar {
  /** The URL the partial bytes came from. */
  url: string;
  /** The expected SHA-256 of the whole file. */
  sha256: string;
  /** The declared size of the whole file. */
  size: number;
  /** The strong ETag of the response the bytes came from, if any. */
  etag: string | null;
  /** Its Last-Modified, if any. */
  last_modified: string | null;
}

/**
 * Read a sidecar; null when it is missing, torn or not one (the partial is then discarded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSidecar } from "./_sidecar.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "{torn");
 * assert.equal(await readSidecar(path), null);
 * assert.equal(await readSidecar(`${path}.missing`), null);
 * ```
 */
export async function readSidecar(path: string): Promise<Sidecar | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    const data: unknown = JSON.parse(text);
    const optionalString = (v: unknown) => v === null || typeof v === "string";
    if (
      isObject(data) && typeof data.url === "string" && typeof data.sha256 === "string" &&
      typeof data.size === "number" && optionalString(data.etag) &&
      optionalString(data.last_modified)
    ) {
      return data as unknown as Sidecar;
    }
  } catch {
    // A torn or foreign sidecar: treated as absent, the partial is discarded.
  }
  return null;
}

/**
 * Write a sidecar atomically.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSidecar, writeSidecar } from "./_sidecar.ts";
 * const path = `${await Deno.makeTempDir()}/app.bin.partial.json`;
 * const sidecar = { url: "https://x/a", sha256: "ab".repeat(32), size: 3, etag: null, last_modified: null };
 * await writeSidecar(path, sidecar);
 * assert.deepEqual(await readSidecar(path), sidecar);
 * ```
 */
export async function writeSidecar(path: string, sidecar: Sidecar): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(sidecar) + "\n", {
    mode: 0o600,
    what: `the resume record ${path}`,
  });
}
