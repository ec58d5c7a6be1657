import assert from "node:assert/strict";
import { hashFile, isSha256Hex, verifyFile } from "../lib/core/hash.ts";
import { ChecksumMismatchError, SizeMismatchError } from "../lib/core/errors.ts";
import type { Progress } from "../lib/core/env.ts";
import { pseudoRandom, sha256 } from "./_helpers.ts";

const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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

Deno.test("verifyFile accepts the right size and digest", async () => {
  await withFile(new TextEncoder().encode("abc"), async (path) => {
    await verifyFile(path, { sha256: ABC_SHA256, size: 3 });
  });
});

Deno.test("verifyFile throws SizeMismatchError for a longer or shorter file", async () => {
  await withFile(new TextEncoder().encode("abcd"), async (path) => {
    const longer = await verifyFile(path, { sha256: ABC_SHA256, size: 3 }).catch((e) => e);
    assert.ok(longer instanceof SizeMismatchError);
    assert.equal(longer.message, `Size mismatch for ${path}: expected 3 bytes, got more than 3`);
    assert.equal(longer.actual, 4);
    const shorter = await verifyFile(path, { sha256: ABC_SHA256, size: 5 }).catch((e) => e);
    assert.ok(shorter instanceof SizeMismatchError);
    assert.equal(shorter.message, `Size mismatch for ${path}: expected 5 bytes, got only 4`);
  });
});

Deno.test("verifyFile throws ChecksumMismatchError naming both digests", async () => {
  await withFile(new TextEncoder().encode("abd"), async (path) => {
    const error = await verifyFile(path, { sha256: ABC_SHA256, size: 3 }).catch((e) => e);
    assert.ok(error instanceof ChecksumMismatchError);
    const actual = sha256(new TextEncoder().encode("abd"));
    assert.equal(
      error.message,
      `Checksum mismatch for ${path}: expected sha256 ${ABC_SHA256}, got ${actual}`,
    );
    assert.equal(error.actual, actual);
  });
});

Deno.test("verifyFile refuses an expected digest that is not lowercase hex", async () => {
  await withFile(new TextEncoder().encode("abc"), async (path) => {
    await assert.rejects(verifyFile(path, { sha256: ABC_SHA256.toUpperCase(), size: 3 }), {
      name: "TypeError",
      message: `Expected sha256 must be 64 lowercase hex digits, got "${ABC_SHA256.toUpperCase()}"`,
    });
  });
});
