// A block whose entries copy more old bytes than the rebuild gathers at once (4 MiB,
// lib/delta/_block.ts): its entries are gathered and written in groups, an entry's copy cut where
// a group ends, its extra bytes after its last copy byte; the diff bytes span several 1 MiB
// windows. The file must come out whole.
import assert from "node:assert/strict";
import { applyPatch } from "../lib/delta/apply.ts";
import { CACHE_BYTES } from "../lib/delta/_block.ts";
import { pseudoRandom, sha256, tempDir } from "./_helpers.ts";
import { concat, craftPatch } from "./_delta.ts";

const MIB = 1024 * 1024;

Deno.test("entries cut into groups of gathered old bytes rebuild the file whole", async () => {
  assert.equal(CACHE_BYTES, 4 * MIB);
  await using dir = await tempDir();
  const old = pseudoRandom(12 * MIB, 5);
  // Entry 1 copies 5 MiB (cut at 4), then 3 extra bytes; entry 2 only 2 extra bytes; entry 3
  // copies 2.5 MiB from further back; entry 4 copies 400,000 bytes after a seek forward.
  const entries: [number, number, number][] = [
    [5 * MIB, 3, 2 * MIB],
    [0, 2, -(7 * MIB) + 100],
    [2.5 * MIB, 1, 1000],
    [400_000, 0, 0],
  ];
  const copy = entries.reduce((n, [c]) => n + c, 0);
  const diff = new Uint8Array(copy);
  for (let i = 0; i < copy; i += 97) diff[i] = (i >> 7) & 255;
  const parts: Uint8Array[] = [];
  let oldPos = 0;
  let d = 0;
  for (const [c, e, seek] of entries) {
    const piece = old.slice(oldPos, oldPos + c);
    for (let i = 0; i < c; i++) piece[i] += diff[d + i];
    parts.push(piece, new Uint8Array(e).fill(0x78));
    oldPos += c + seek;
    d += c;
  }
  const expected = concat(parts);
  await Deno.writeFile(`${dir.path}/old`, old);
  await Deno.writeFile(
    `${dir.path}/patch`,
    craftPatch({
      oldSize: old.length,
      newSize: expected.length,
      newSha256: sha256(expected),
      blocks: [{ entries, diff }],
    }),
  );
  const result = await applyPatch(`${dir.path}/old`, `${dir.path}/patch`, {
    out: `${dir.path}/rebuilt`,
    size: expected.length,
    sha256: sha256(expected),
  });
  assert.deepEqual({ copied: result.copied, extra: result.extra }, { copied: copy, extra: 6 });
  assert.ok((await Deno.readFile(`${dir.path}/rebuilt`)).every((v, i) => v === expected[i]));
});
