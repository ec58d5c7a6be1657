// Binary patches (lib/delta/make.ts, apply.ts): round trips over generated and real pairs, the
// blocks and the adder, and hostile patches, each refused with its message and no output.
import assert from "node:assert/strict";
import { applyPatch } from "../lib/delta/apply.ts";
import { makeDelta } from "../lib/delta/make.ts";
import { kernel } from "../lib/delta/_kernel.ts";
import { encodePatch } from "../lib/delta/_make_patch.ts";
import { MAX_BLOCK_BYTES } from "../lib/delta/_wire.ts";
import { bytesOf, libUrl, pseudoRandom, runDeno, sha256, tempDir } from "./_helpers.ts";
import { concat, craftPatch, DELTA_TIMEOUT_MS, HAVE_BSDIFF, rejectsDelta, zstd } from "./_delta.ts";

/** `name`, marked and skipped where bsdiff is not installed. */
function needsBsdiff(name: string): { name: string; ignore: boolean; timeout: number } {
  return {
    name: HAVE_BSDIFF ? name : `${name} (skipped: bsdiff or bzip2 not installed)`,
    ignore: !HAVE_BSDIFF,
    timeout: DELTA_TIMEOUT_MS,
  };
}

/** Make a delta from `old` to `next` (bytes) and apply it; return both results. */
async function roundTrip(dir: string, old: Uint8Array, next: Uint8Array, maxRatio = 0.5) {
  await Deno.writeFile(`${dir}/old`, old);
  await Deno.writeFile(`${dir}/new`, next);
  const made = await makeDelta(`${dir}/old`, `${dir}/new`, {
    out: `${dir}/delta`,
    maxRatio,
    fullSize: 1e9,
  });
  assert.ok(made.written, `delta not written: ratio ${made.ratio}`);
  assert.equal(made.size, (await Deno.stat(`${dir}/delta`)).size);
  assert.equal(made.sha256, sha256(await Deno.readFile(`${dir}/delta`)));
  assert.deepEqual(made.to, { size: next.length, sha256: sha256(next) });
  const applied = await applyPatch(`${dir}/old`, `${dir}/delta`, {
    out: `${dir}/rebuilt`,
    ...made.to,
  });
  assert.deepEqual(await Deno.readFile(`${dir}/rebuilt`), next);
  assert.equal(applied.copied + applied.extra, next.length);
  assert.equal((await Deno.stat(`${dir}/rebuilt`)).mode! & 0o777, 0o644);
  return { made, applied };
}

/** `data` with `count` bytes changed at pseudo-random places and `insert` bytes put in. */
function scatteredEdits(data: Uint8Array, count: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(data);
  let x = 7;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[x % out.length] ^= 0x5a;
  }
  const at = Math.floor(out.length / 3);
  return concat([out.subarray(0, at), insert, out.subarray(at)]);
}

Deno.test(needsBsdiff("round trips: empty, identical, tiny and edited files"), async () => {
  await using dir = await tempDir("ms11-delta-");
  const text = new TextEncoder().encode("MS11 build 1.0.0\n".repeat(3000));
  const cases: [string, Uint8Array, Uint8Array][] = [
    ["empty to empty", new Uint8Array(0), new Uint8Array(0)],
    ["empty to text", new Uint8Array(0), text],
    ["text to empty", text, new Uint8Array(0)],
    ["identical", text, text],
    ["one byte", new Uint8Array([1]), new Uint8Array([2])],
    ["tiny", new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3, 4])],
    ["edited", text, scatteredEdits(text, 20, new TextEncoder().encode("inserted"))],
  ];
  for (const [name, old, next] of cases) {
    const sub = `${dir.path}/${name.replaceAll(" ", "-")}`;
    await Deno.mkdir(sub);
    const { made } = await roundTrip(sub, old, next);
    const whole = old.length === 0 || next.length === 0;
    assert.equal(made.method, whole ? "whole" : "bsdiff", name);
  }
  // Identical files: one control entry, almost nothing but the header.
  await Deno.mkdir(`${dir.path}/same`);
  const { made } = await roundTrip(`${dir.path}/same`, text, text);
  assert.ok(made.size < 200, `identical files gave a delta of ${made.size} bytes`);
});

Deno.test(needsBsdiff("random data: a delta that does not pay is not written"), async () => {
  await using dir = await tempDir("ms11-delta-");
  await Deno.writeFile(`${dir.path}/old`, crypto.getRandomValues(new Uint8Array(65536)));
  await Deno.writeFile(`${dir.path}/new`, crypto.getRandomValues(new Uint8Array(65536)));
  const made = await makeDelta(`${dir.path}/old`, `${dir.path}/new`, { out: `${dir.path}/delta` });
  assert.equal(made.written, false);
  assert.equal(made.sha256, null);
  assert.ok(made.ratio > 0.9, `ratio ${made.ratio}`);
  assert.equal(await bytesOf(`${dir.path}/delta`), null);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["new", "old"]);
  // The same data, with maxRatio above what it costs, is written and applies.
  const old = pseudoRandom(64 * 1024, 3);
  const next = scatteredEdits(old, 50, pseudoRandom(1000, 4));
  const { made: small } = await roundTrip(dir.path, old, next);
  assert.ok(small.size < next.length / 10, `edited random data: ${small.size} bytes`);
});

Deno.test(
  needsBsdiff("real binaries: bsdiff to bspatch, and an executable with scattered edits"),
  async () => {
    await using dir = await tempDir("ms11-delta-");
    const bsdiff = await Deno.readFile("/usr/bin/bsdiff");
    const bspatch = await Deno.readFile("/usr/bin/bspatch");
    const { made } = await roundTrip(dir.path, bsdiff, bspatch);
    assert.ok(made.size < bspatch.length, `${made.size} bytes for ${bspatch.length}`);
    await Deno.remove(`${dir.path}/rebuilt`);
    // 2 MiB of the Deno executable running this test, edited as a rebuild would edit it.
    using deno = await Deno.open(Deno.execPath());
    const head = new Uint8Array(2 * 1024 * 1024);
    let filled = 0;
    while (filled < head.length) filled += (await deno.read(head.subarray(filled))) ?? head.length;
    const edited = scatteredEdits(head, 500, new TextEncoder().encode("ms11 1.0.1 build id"));
    const { made: exe, applied } = await roundTrip(dir.path, head, edited);
    assert.ok(exe.size < edited.length / 50, `${exe.size} bytes for ${edited.length}`);
    assert.ok(applied.copied > edited.length * 0.9, `copied only ${applied.copied}`);
  },
);

Deno.test({
  name: "without bsdiff installed, makeDelta says which program is missing and writes nothing",
  timeout: DELTA_TIMEOUT_MS,
  fn: async () => {
    await using dir = await tempDir("ms11-delta-");
    await Deno.writeTextFile(`${dir.path}/old`, "old build\n".repeat(100));
    await Deno.writeTextFile(`${dir.path}/new`, "new build\n".repeat(100));
    const code = `import { makeDelta } from ${JSON.stringify(libUrl("delta/make.ts"))};
      try {
        await makeDelta("${dir.path}/old", "${dir.path}/new", { out: "${dir.path}/delta" });
      } catch (error) {
        console.log(error.name + ": " + error.message);
      }`;
    const run = await runDeno(["eval", "--quiet", code], { env: { PATH: `${dir.path}/no-bin` } });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout.trim(),
      "NotFound: Cannot make a binary delta: the bsdiff program is not installed (Debian and Ubuntu: apt-get install bsdiff)",
    );
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["new", "old"]);
  },
});

Deno.test({
  name: "many blocks: entries split across 4 KiB blocks rebuild the file",
  timeout: DELTA_TIMEOUT_MS,
  fn: async () => {
    await using dir = await tempDir("ms11-delta-");
    const next = pseudoRandom(300_000, 9);
    await Deno.writeFile(`${dir.path}/new`, next);
    const digest = { size: next.length, sha256: sha256(next) };
    const encoded = await encodePatch(null, { path: `${dir.path}/new`, digest }, `${dir.path}/p`, {
      level: 1,
      concurrency: 3,
      maxMemory: 1e9,
      blockBytes: 4096,
    });
    assert.equal(encoded.method, "whole");
    const progress: number[] = [];
    await applyPatch(null, `${dir.path}/p`, {
      out: `${dir.path}/rebuilt`,
      ...digest,
      mode: 0o755,
      sync: true,
      onProgress: (p) => progress.push(p.done),
    });
    assert.deepEqual(await Deno.readFile(`${dir.path}/rebuilt`), next);
    assert.equal((await Deno.stat(`${dir.path}/rebuilt`)).mode! & 0o777, 0o755);
    assert.equal(progress.at(-1), next.length);
  },
});

Deno.test({
  name: "the WebAssembly adder and the TypeScript one agree, at every offset and length",
  timeout: DELTA_TIMEOUT_MS,
  fn: () => {
    const wasm = kernel(1 << 20);
    const ts = kernel(1 << 20, "typescript");
    assert.equal(wasm.engine, "wasm");
    assert.equal(ts.engine, "typescript");
    const data = pseudoRandom(1 << 20, 5);
    // Disjoint ranges, as the rebuild uses them (output buffer, old bytes, diff bytes).
    const cases = [[0, 300_000, 600_000, 70_000], [3, 400_001, 700_002, 17], [8, 512, 4096, 0], [
      17,
      5000,
      9000,
      1,
    ]];
    for (const [dst, a, b, n] of cases) {
      for (let len = n; len <= n + 33; len += n === 0 ? 1 : 11) {
        wasm.bytes.set(data);
        ts.bytes.set(data);
        wasm.add(dst, a, b, len);
        ts.add(dst, a, b, len);
        assert.deepEqual(wasm.bytes.subarray(0, 800_000), ts.bytes.subarray(0, 800_000));
        if (len > 0) {
          assert.equal(wasm.bytes[dst + len - 1], (data[a + len - 1] + data[b + len - 1]) & 255);
        }
        assert.equal(wasm.bytes[dst + len], data[dst + len], "nothing past n is touched");
      }
    }
    // The expanders: every bitmap byte value, over 64 chunks.
    for (let bits = 0; bits < 256; bits += 15) {
      for (const k of [wasm, ts]) {
        k.bytes.set(data);
        k.bytes.fill(bits, 100, 108);
        k.expand(4096, 100, 20_000, 64);
      }
      assert.deepEqual(
        wasm.bytes.subarray(4096, 4096 + 1024),
        ts.bytes.subarray(4096, 4096 + 1024),
      );
      const first = wasm.bytes.subarray(4096, 4112);
      assert.deepEqual(first, bits & 1 ? data.subarray(20_000, 20_016) : new Uint8Array(16));
    }
  },
});

// ---- hostile patches: each refused with its reason and message, and no output left behind ----

const OLD = new TextEncoder().encode("0123456789");

/** One control entry's 24 bytes. */
function entry(copy: number, extra: number, seek: number): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  [copy, extra, seek].forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

interface Hostile {
  name: string;
  patch: Uint8Array;
  reason: "format" | "corrupt" | "unsafe" | "source" | "mismatch";
  message: string | RegExp;
  /** The size and hash the caller expects (default: those the patch's header claims). */
  expected?: { size: number; sha256: string };
}

/** The new file most cases claim to make: 10 bytes of "x". */
const X10 = sha256("x".repeat(10));

function hostileCases(): Hostile[] {
  const oldSha256 = sha256(OLD);
  const base = { oldSize: 10, oldSha256, newSize: 10, newSha256: X10 };
  const bomb = zstd(new Uint8Array(64 * 1024 * 1024), 1);
  const good = craftPatch({ ...base, blocks: [{ entries: [[0, 10, 0]] }] });
  return [
    {
      name: "not a patch",
      patch: new TextEncoder().encode(
        "#!/bin/sh\necho not a patch at all, just a script\n".repeat(3),
      ),
      reason: "format",
      message: /: not a binary patch \(no MS11BSZ1 magic\)$/,
      expected: { size: 10, sha256: X10 },
    },
    {
      name: "a header cut short",
      patch: good.subarray(0, 50),
      reason: "corrupt",
      message: /: patch has 50 bytes, less than its 96-byte header$/,
      expected: { size: 10, sha256: X10 },
    },
    {
      name: "a patch for another file (substituted)",
      patch: good,
      reason: "mismatch",
      message: new RegExp(
        `: patch makes 10 bytes with sha256 ${X10}, expected 10 bytes with sha256 ${
          "0".repeat(64)
        }$`,
      ),
      expected: { size: 10, sha256: "0".repeat(64) },
    },
    {
      name: "a patch made from another old file",
      patch: craftPatch({ ...base, oldSize: 11, blocks: [{ entries: [[0, 10, 0]] }] }),
      reason: "source",
      message: /: patch was made from a file of 11 bytes, the old file .*\/old has 10$/,
    },
    {
      name: "an entry that reads past the old file",
      patch: craftPatch({ ...base, blocks: [{ entries: [[5, 0, 2], [5, 0, 0]] }] }),
      reason: "unsafe",
      message: /: block 1 entry 2 reads old bytes 7\.\.12, outside the old file's 10 bytes$/,
    },
    {
      name: "a seek before the start of the old file, then a read",
      patch: craftPatch({ ...base, blocks: [{ entries: [[0, 2, -5], [8, 0, 0]] }] }),
      reason: "unsafe",
      message: /: block 1 entry 2 reads old bytes -5\.\.3, outside the old file's 10 bytes$/,
    },
    {
      name: "an entry that writes past the declared new size",
      patch: craftPatch({ ...base, blocks: [{ entries: [[0, 11, 0]] }] }),
      reason: "unsafe",
      message: /: block 1 entry 1 writes past the new size of 10 bytes \(to byte 11\)$/,
    },
    {
      name: "a negative length",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[-1, 11, 0]], diff: new Uint8Array(0), header: { diff: 0 } }],
      }),
      reason: "corrupt",
      message: /: block 1 entry 1 has a negative length \(copy -1, extra 11\)$/,
    },
    {
      name: "an overflowing length",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], rawControl: [0n, 1n << 60n, 0n] }],
      }),
      reason: "corrupt",
      message: /: block 1 entry 1 has a value outside ±\(2\^53 - 1\)$/,
    },
    {
      name: "a block that declares more than 8 MiB",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], header: { extra: MAX_BLOCK_BYTES } }],
      }),
      reason: "unsafe",
      message: new RegExp(`: block 1 declares ${MAX_BLOCK_BYTES + 24} bytes, more than the limit`),
    },
    {
      name: "a frame that expands without bound (64 MiB of zeros for 4034 declared bytes)",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], frame: bomb, header: { extra: 4010 } }],
      }),
      reason: "unsafe",
      message: /: block 1 decompresses to more than its declared 4034 bytes$/,
    },
    {
      name: "a frame far larger than its content could need",
      patch: craftPatch({ ...base, blocks: [{ entries: [[0, 10, 0]], frame: bomb }] }),
      reason: "corrupt",
      message: /: block 1 has a frame of \d+ bytes for 34 bytes of content$/,
    },
    {
      name: "a frame that decompresses to less than declared",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], frame: zstd(new Uint8Array(20)) }],
      }),
      reason: "corrupt",
      message: /: block 1 decompresses to 20 bytes, its header says 34$/,
    },
    {
      name: "a corrupt frame (one byte flipped)",
      patch: (() => {
        const p = new Uint8Array(good);
        p[p.length - 6] ^= 0xff;
        return p;
      })(),
      reason: "corrupt",
      message:
        /: block 1 (is not valid zstd data \(.*\)|decompresses to \d+ bytes, its header says 34)$/,
    },
    {
      name: "a truncated stream",
      patch: good.subarray(0, good.length - 5),
      reason: "corrupt",
      message: /: patch is truncated in block 1 \(frame of \d+ bytes, \d+ left\)$/,
    },
    {
      name: "a missing block",
      patch: craftPatch({ ...base, blockCount: 2, blocks: [{ entries: [[0, 5, 0]] }] }),
      reason: "corrupt",
      message: /: patch is truncated: block 2 of 2 is missing$/,
    },
    {
      name: "bytes after the last block",
      patch: concat([good, new Uint8Array([1, 2, 3])]),
      reason: "corrupt",
      message: /: patch has 3 bytes after its last block$/,
    },
    {
      name: "fewer bytes than the header says",
      patch: craftPatch({ ...base, blocks: [{ entries: [[0, 9, 0]] }] }),
      reason: "corrupt",
      message: /: patch makes 9 bytes, its header says 10$/,
    },
    {
      name: "the wrong final hash (the header claims the expected file)",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], extra: new TextEncoder().encode("y".repeat(10)) }],
      }),
      reason: "mismatch",
      message: new RegExp(
        `: rebuilt file .*/rebuilt has sha256 ${sha256("y".repeat(10))}, expected ${X10}$`,
      ),
    },
    {
      name: "a diff bitmap that does not match the chunks stored",
      patch: craftPatch({
        ...base,
        blocks: [{
          entries: [[2, 8, 0]],
          diff: new Uint8Array([1, 0]),
          header: { chunks: 0 },
          frame: zstd(concat([entry(2, 8, 0), new Uint8Array([1]), new Uint8Array(8).fill(0x78)])),
        }],
      }),
      reason: "corrupt",
      message: /: block 1 has a diff bitmap of 1 chunks, its header says 0$/,
    },
    {
      name: "more diff chunks than the diff bytes have",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[2, 8, 0]], header: { chunks: 2 } }],
      }),
      reason: "corrupt",
      message: /: block 1 stores 2 diff chunks, more than its 1$/,
    },
    {
      name: "diff bytes that no entry uses",
      patch: craftPatch({
        ...base,
        blocks: [{ entries: [[0, 10, 0]], diff: new Uint8Array(4), header: { diff: 4 } }],
      }),
      reason: "corrupt",
      message: /: block 1 leaves 4 diff and 0 extra bytes unused$/,
    },
  ];
}

Deno.test({
  name: "hostile patches are refused with their reason and leave no output",
  timeout: DELTA_TIMEOUT_MS,
  fn: async (t) => {
    for (const hostile of hostileCases()) {
      await t.step(hostile.name, async () => {
        await using dir = await tempDir("ms11-delta-hostile-");
        await Deno.writeFile(`${dir.path}/old`, OLD);
        await Deno.writeFile(`${dir.path}/patch`, hostile.patch);
        const expected = hostile.expected ?? { size: 10, sha256: X10 };
        const error = await rejectsDelta(
          applyPatch(`${dir.path}/old`, `${dir.path}/patch`, {
            out: `${dir.path}/rebuilt`,
            ...expected,
          }),
          hostile.reason,
          hostile.message,
        );
        assert.ok(error.message.startsWith(`Delta ${dir.path}/patch: `), error.message);
        assert.equal(await bytesOf(`${dir.path}/rebuilt`), null, "no output left behind");
        assert.deepEqual(await Deno.readFile(`${dir.path}/old`), OLD, "old file untouched");
      });
    }
  },
});

Deno.test({
  name: "an existing output is never overwritten, and a missing old file is the OS error",
  timeout: DELTA_TIMEOUT_MS,
  fn: async () => {
    await using dir = await tempDir("ms11-delta-");
    await Deno.writeFile(`${dir.path}/old`, OLD);
    const patch = craftPatch({
      oldSize: 10,
      newSize: 10,
      newSha256: X10,
      blocks: [{ entries: [[0, 10, 0]] }],
    });
    await Deno.writeFile(`${dir.path}/patch`, patch);
    await Deno.writeTextFile(`${dir.path}/rebuilt`, "precious");
    const expected = { size: 10, sha256: X10 };
    await assert.rejects(
      applyPatch(`${dir.path}/old`, `${dir.path}/patch`, {
        out: `${dir.path}/rebuilt`,
        ...expected,
      }),
      Deno.errors.AlreadyExists,
    );
    assert.equal(await Deno.readTextFile(`${dir.path}/rebuilt`), "precious");
    await assert.rejects(
      applyPatch(`${dir.path}/missing`, `${dir.path}/patch`, { out: `${dir.path}/x`, ...expected }),
      Deno.errors.NotFound,
    );
    assert.equal(await bytesOf(`${dir.path}/x`), null);
    // A patch made from nothing works with no old file.
    await applyPatch(null, `${dir.path}/patch`, { out: `${dir.path}/x`, ...expected }).then(
      () => assert.fail("a patch made from 10 bytes needs them"),
      (error) =>
        assert.match(String(error), /made from a file of 10 bytes, and no old file was given$/),
    );
    await assert.rejects(
      applyPatch(null, `${dir.path}/patch`, { out: `${dir.path}/y`, size: -1, sha256: X10 }),
      RangeError,
    );
    await assert.rejects(
      applyPatch(null, `${dir.path}/patch`, { out: `${dir.path}/y`, size: 1, sha256: "AB" }),
      TypeError,
    );
  },
});
