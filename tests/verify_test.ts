import assert from "node:assert/strict";
import { hashFile, isSha256Hex } from "../lib/core/hash.ts";
import { ChecksumMismatchError } from "../lib/core/errors.ts";
import { exists } from "../lib/core/fs.ts";
import { buildDir, layoutOf } from "../lib/root/layout.ts";
import { stageBuild } from "../lib/root/stage.ts";
import { emptyState } from "../lib/root/state.ts";
import type { Progress } from "../lib/core/env.ts";
import { pseudoRandom, sha256, tempDir } from "./_helpers.ts";

const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const STAGE = {
  version: "1.1.0",
  channel: "stable",
  kind: "executable",
  sha256: ABC_SHA256,
  executable: "ms11",
} as const;

/** A downloaded artifact in `root`/downloads holding `text`. */
async function download(root: string, text: string): Promise<string> {
  await Deno.mkdir(`${root}/downloads`);
  const path = `${root}/downloads/ms11-1.1.0`;
  await Deno.writeTextFile(path, text);
  return path;
}

async function withFile(data: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "verify_test_" });
  try {
    const path = `${dir}/file.bin`;
    await Deno.writeFile(path, data);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("isSha256Hex accepts exactly 64 lowercase hex digits", () => {
  assert.equal(isSha256Hex(ABC_SHA256), true);
  assert.equal(isSha256Hex("0".repeat(64)), true);
  assert.equal(isSha256Hex(ABC_SHA256.toUpperCase()), false);
  assert.equal(isSha256Hex(ABC_SHA256.slice(1)), false);
  assert.equal(isSha256Hex(ABC_SHA256 + "0"), false);
  assert.equal(isSha256Hex("g".repeat(64)), false);
  assert.equal(isSha256Hex(` ${ABC_SHA256.slice(1)}`), false);
  assert.equal(isSha256Hex(`${ABC_SHA256}\n`), false);
  assert.equal(isSha256Hex(""), false);
});

Deno.test("hashFile gives the SHA-256 and size of known contents", async () => {
  await withFile(new TextEncoder().encode("abc"), async (path) => {
    assert.deepEqual(await hashFile(path), { sha256: ABC_SHA256, size: 3 });
  });
  await withFile(new Uint8Array(0), async (path) => {
    assert.deepEqual(await hashFile(path), { sha256: EMPTY_SHA256, size: 0 });
  });
});

Deno.test("hashFile reads through a small reused buffer and reports progress", async () => {
  const data = pseudoRandom(100_003);
  await withFile(data, async (path) => {
    const reports: Progress[] = [];
    const result = await hashFile(path, {
      bufferSize: 4096,
      onProgress: (p) => reports.push(p),
    });
    assert.deepEqual(result, { sha256: sha256(data), size: data.length });
    assert.deepEqual(reports[0], { phase: "verify", done: 0, total: data.length });
    assert.deepEqual(reports.at(-1), { phase: "verify", done: data.length, total: data.length });
    for (let i = 1; i < reports.length; i++) assert.ok(reports[i].done >= reports[i - 1].done);
  });
});

Deno.test("hashFile refuses a bad buffer size, a missing file and an aborted signal", async () => {
  await withFile(new Uint8Array(10), async (path) => {
    await assert.rejects(hashFile(path, { bufferSize: 0 }), {
      name: "RangeError",
      message: "Hash buffer size must be a positive integer, got 0",
    });
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(hashFile(path, { signal: controller.signal }), { message: "stop" });
    await assert.rejects(hashFile(`${path}.missing`), Deno.errors.NotFound);
  });
});

Deno.test("hashFile stops on abort after a read has started and leaves nothing open", async () => {
  const data = pseudoRandom(64 * 1024);
  await withFile(data, async (path) => {
    const controller = new AbortController();
    const seen: number[] = [];
    // The first report comes just before the first read: abort then, with that read in flight.
    await assert.rejects(
      hashFile(path, {
        bufferSize: 1024,
        signal: controller.signal,
        onProgress: (p) => {
          seen.push(p.done);
          controller.abort(new Error(`stopped at ${p.done}`));
        },
      }),
      { message: "stopped at 0" },
    );
    assert.deepEqual(seen, [0]);
    // The test's resource and op sanitizers fail this test if the file or a read was left behind.
  });
});

// What the product checks a file with: the download hashes bytes as they arrive
// (download_test.ts), verify-release compares a tree with its manifest (release_test.ts), and
// staging re-hashes the artifact where it lies before it becomes a build:
Deno.test("stageBuild re-hashes the artifact: the verified bytes are staged and recorded", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const artifact = await download(dir.path, "abc");
  const state = emptyState();
  const final = await stageBuild(layout, artifact, { ...STAGE, state });
  assert.equal(final, buildDir(layout, "1.1.0"));
  assert.equal(await Deno.readTextFile(`${final}/ms11`), "abc");
  assert.equal(state.builds["1.1.0"].sha256, ABC_SHA256);
  assert.equal(state.staged?.version, "1.1.0");
});

Deno.test("stageBuild refuses other bytes than verified, naming both digests; nothing is staged", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const artifact = await download(dir.path, "abd");
  const state = emptyState();
  const error = await stageBuild(layout, artifact, { ...STAGE, state }).catch((e) => e);
  assert.ok(error instanceof ChecksumMismatchError, String(error));
  const actual = sha256("abd");
  assert.match(
    error.message,
    new RegExp(
      `^Checksum mismatch for ${layout.builds}/\\.staging-1\\.1\\.0-[0-9a-z]+/ms11: expected sha256 ${ABC_SHA256}, got ${actual}$`,
    ),
  );
  assert.equal(error.actual, actual);
  assert.deepEqual(state, emptyState());
  assert.deepEqual([...Deno.readDirSync(layout.builds)], [], "no build, no staging leftovers");
  assert.equal(await exists(artifact), false, "the refused artifact is removed");
});
