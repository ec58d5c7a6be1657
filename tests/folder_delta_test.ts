// Folder deltas (lib/delta/make_folder.ts, folder.ts): round trips with changes of every kind
// (modes, renames, symlinks, type changes, removals), identical and empty builds, real binaries.
// The hostile ones are in folder_delta_hostile_test.ts.
import assert from "node:assert/strict";
import { applyFolderDelta } from "../lib/delta/folder.ts";
import { makeFolderDelta } from "../lib/delta/make_folder.ts";
import { treeDigest } from "../lib/root/seal.ts";
import { exists } from "../lib/core/fs.ts";
import { tempDir } from "./_helpers.ts";
import { DELTA_TIMEOUT_MS, describeTree, HAVE_BSDIFF, textOf, writeTree } from "./_delta.ts";

function needsBsdiff(name: string): { name: string; ignore: boolean; timeout: number } {
  return {
    name: HAVE_BSDIFF ? name : `${name} (skipped: bsdiff or bzip2 not installed)`,
    ignore: !HAVE_BSDIFF,
    timeout: DELTA_TIMEOUT_MS,
  };
}

/**
 * Make the delta from `old` to `next` under `dir`, apply it, and check the result is `next`; the
 * same in the first format (MS11FDZ1, which clients still read), larger by its blobs' headers.
 */
async function roundTrip(dir: string, fullSize = 1e9) {
  const made = await makeFolderDelta(`${dir}/old`, `${dir}/new`, {
    out: `${dir}/delta.fdz`,
    fullSize,
  });
  assert.ok(made.written, `not written: ratio ${made.ratio}`);
  assert.equal(made.to.seal, await treeDigest(`${dir}/new`));
  assert.equal(made.from.seal, await treeDigest(`${dir}/old`));
  const before = await describeTree(`${dir}/old`);
  const applied = await applyFolderDelta(`${dir}/old`, `${dir}/delta.fdz`, {
    out: `${dir}/rebuilt`,
    seal: made.to.seal,
  });
  assert.deepEqual(await describeTree(`${dir}/rebuilt`), await describeTree(`${dir}/new`));
  assert.equal(await treeDigest(`${dir}/rebuilt`), made.to.seal);
  assert.equal(applied.seal, made.to.seal);
  assert.deepEqual(await describeTree(`${dir}/old`), before, "old build untouched");
  assert.equal((await Deno.stat(`${dir}/rebuilt`)).mode! & 0o777, 0o700);
  const magic = async (path: string) =>
    new TextDecoder().decode((await Deno.readFile(path)).subarray(0, 8));
  assert.equal(await magic(`${dir}/delta.fdz`), "MS11FDZ2");
  const v1 = await makeFolderDelta(`${dir}/old`, `${dir}/new`, {
    out: `${dir}/delta-v1.fdz`,
    fullSize,
    formatVersion: 1,
  });
  assert.equal(await magic(`${dir}/delta-v1.fdz`), "MS11FDZ1");
  const appliedV1 = await applyFolderDelta(`${dir}/old`, `${dir}/delta-v1.fdz`, {
    out: `${dir}/rebuilt-v1`,
    seal: made.to.seal,
  });
  assert.deepEqual(appliedV1, applied);
  assert.deepEqual(await describeTree(`${dir}/rebuilt-v1`), await describeTree(`${dir}/new`));
  if (made.patched + made.whole > 0) {
    assert.ok(made.size < v1.size, `MS11FDZ2 ${made.size} bytes, MS11FDZ1 ${v1.size}`);
  }
  await Deno.remove(`${dir}/rebuilt-v1`, { recursive: true });
  await Deno.remove(`${dir}/delta-v1.fdz`);
  return { made, applied };
}

Deno.test(
  needsBsdiff("round trip: patches, new, removed, renamed, mode changes, symlinks, type changes"),
  async () => {
    await using dir = await tempDir("ms11-fdelta-");
    const app = textOf("app", 2000);
    await writeTree(`${dir.path}/old`, {
      "bin/app": { mode: 0o755, text: app },
      "lib/libfoo.so.1": textOf("libfoo"),
      "lib/libfoo.so": { link: "libfoo.so.1" },
      "lib/plugins/a.txt": textOf("a"),
      "lib/plugins/b.txt": textOf("b"),
      "docs/readme.txt": textOf("readme"),
      "docs/old-only.txt": textOf("old only"),
      "data/empty": "",
      "share": { dir: 0o755 },
      "conf/settings.json": '{"x": 1}\n',
      "moved/from.txt": textOf("moved"),
      "tree-to-file/x.txt": "x",
      "file-to-tree": "was a file",
      "link-to-file": { link: "docs/readme.txt" },
      "link-to-dir": { link: "lib" },
    });
    await writeTree(`${dir.path}/new`, {
      "bin/app": { mode: 0o755, text: app.replace("line 1000 ", "line 1000 (fixed) ") },
      "bin/tool": { mode: 0o755, text: textOf("tool") },
      "lib/libfoo.so.1": textOf("libfoo"),
      "lib/libfoo.so": { link: "libfoo.so.1" },
      "lib/plugins/a.txt": textOf("a"),
      "lib/plugins/c.txt": textOf("c"),
      "docs/readme.txt": textOf("readme").replace("line 7 ", "line seven "),
      "data/empty": "",
      "share": { dir: 0o755 },
      "newdir": { dir: 0o700 },
      "conf/settings.json": { mode: 0o755, text: '{"x": 1}\n' },
      "renamed/to.txt": textOf("moved"),
      "tree-to-file": "now a file",
      "file-to-tree/y.txt": "y",
      "link-to-file": { link: "lib/libfoo.so.1" },
      "link-to-dir": { link: "lib/plugins" },
      "dup.txt": textOf("libfoo"),
    });
    await Deno.chmod(`${dir.path}/new/lib/plugins`, 0o700);
    const { made, applied } = await roundTrip(dir.path);
    assert.deepEqual(
      { kept: made.kept, copied: made.copied, patched: made.patched, whole: made.whole },
      // kept: libfoo.so.1, a.txt, empty; copied: settings (mode), to.txt (rename), dup.txt;
      // patched: app, readme; whole: tool, c.txt, tree-to-file, y.txt
      { kept: 3, copied: 3, patched: 2, whole: 4 },
    );
    // removed: b.txt, old-only.txt, moved/ (with from.txt), tree-to-file/ (a dir), file-to-tree
    assert.equal(made.removed, 5);
    assert.equal(applied.files, 12);
    assert.deepEqual(
      {
        kept: applied.kept,
        copied: applied.copied,
        patched: applied.patched,
        whole: applied.whole,
      },
      { kept: 3, copied: 3, patched: 2, whole: 4 },
    );
  },
);

Deno.test(
  needsBsdiff("round trip: identical and empty builds, and a delta that does not pay"),
  async (t) => {
    await t.step("identical builds: an empty delta", async () => {
      await using dir = await tempDir("ms11-fdelta-");
      const tree = { "ms11": { mode: 0o755, text: textOf("ms11") }, "lib/x": textOf("x") };
      await writeTree(`${dir.path}/old`, tree);
      await writeTree(`${dir.path}/new`, tree);
      const { made } = await roundTrip(dir.path);
      assert.equal(made.entries, 0);
      assert.equal(made.removed, 0);
      assert.ok(made.size < 300, `${made.size} bytes for nothing`);
    });
    await t.step("empty builds, to and from", async () => {
      await using dir = await tempDir("ms11-fdelta-");
      await writeTree(`${dir.path}/old`, {});
      await writeTree(`${dir.path}/new`, { "ms11": "#!/bin/sh\n" });
      await roundTrip(dir.path);
      await Deno.remove(`${dir.path}/rebuilt`, { recursive: true });
      await Deno.rename(`${dir.path}/old`, `${dir.path}/empty`);
      await Deno.rename(`${dir.path}/new`, `${dir.path}/old`);
      await Deno.rename(`${dir.path}/empty`, `${dir.path}/new`);
      const { made } = await roundTrip(dir.path);
      assert.equal(made.removed, 1);
    });
    await t.step("not worth it: nothing written", async () => {
      await using dir = await tempDir("ms11-fdelta-");
      await writeTree(`${dir.path}/old`, { "a": "a" });
      await writeTree(`${dir.path}/new`, { "a": crypto.randomUUID().repeat(50) });
      const made = await makeFolderDelta(`${dir.path}/old`, `${dir.path}/new`, {
        out: `${dir.path}/delta.fdz`,
        fullSize: 100,
      });
      assert.equal(made.written, false);
      assert.equal(made.sha256, null);
      assert.ok(made.ratio > 0.5);
      assert.equal(await exists(`${dir.path}/delta.fdz`), false);
      assert.deepEqual((await Array.fromAsync(Deno.readDir(dir.path))).map((e) => e.name).sort(), [
        "new",
        "old",
      ]);
    });
    await t.step("a build that is not as extraction makes it is refused", async () => {
      await using dir = await tempDir("ms11-fdelta-");
      await writeTree(`${dir.path}/old`, { "a": "a" });
      await writeTree(`${dir.path}/new`, { "a": { mode: 0o666, text: "b" } });
      await assert.rejects(
        makeFolderDelta(`${dir.path}/old`, `${dir.path}/new`, {
          out: `${dir.path}/d`,
          fullSize: 9,
        }),
        (error: Error) =>
          error instanceof RangeError &&
          /new: a has mode 0666, which extraction makes 0644; pass builds as extracted$/.test(
            error.message,
          ),
      );
    });
  },
);

Deno.test(
  needsBsdiff("round trip: real binaries in a build (bsdiff becomes bspatch)"),
  async () => {
    await using dir = await tempDir("ms11-fdelta-");
    const bsdiff = await Deno.readTextFile("/usr/bin/bsdiff").catch(() => "");
    assert.ok(bsdiff.length > 0);
    await Deno.mkdir(`${dir.path}/old/bin`, { recursive: true });
    await Deno.mkdir(`${dir.path}/new/bin`, { recursive: true });
    await Deno.copyFile("/usr/bin/bsdiff", `${dir.path}/old/bin/tool`);
    await Deno.copyFile("/usr/bin/bspatch", `${dir.path}/new/bin/tool`);
    await Deno.copyFile("/usr/bin/bzip2", `${dir.path}/old/bin/bzip2`);
    await Deno.copyFile("/usr/bin/bzip2", `${dir.path}/new/bin/bzip2`);
    const { made } = await roundTrip(dir.path);
    assert.equal(made.patched, 1);
    assert.equal(made.kept, 1);
    assert.ok(made.size < (await Deno.stat("/usr/bin/bspatch")).size);
  },
);
