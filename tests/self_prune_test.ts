// Pruning the kept updaters (lib/self/place.ts `pruneKept`, lib/self/in_use.ts): the one at the
// launcher's path and the previous one are never pruned, older ones are, with their bundle chunks
// beside the path; a version a long-running `run` still executes (its lease held by another
// process) is kept with its chunks until that process has gone.
import assert from "node:assert/strict";
import { hashFiles } from "../lib/self/files.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { holdInUse, versionsInUse } from "../lib/self/in_use.ts";
import { pruneKept } from "../lib/self/place.ts";
import { emptySelfState, keptDir, readSelfState, writeSelfState } from "../lib/self/state.ts";
import { libUrl, namesIn, readUntil, tempDir } from "./_helpers.ts";

const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.4.0"];

/** Four bundles kept, each with a chunk of its own and one shared by all; all beside the path. */
async function fourBundles(dir: string) {
  const layout = layoutOf(`${dir}/root`);
  await Deno.mkdir(layout.builds, { recursive: true });
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  const state = emptySelfState();
  for (const v of VERSIONS) {
    const from = keptDir(layout, v);
    await Deno.mkdir(from, { recursive: true });
    const own = `chunk-${v.replaceAll(".", "")}.js`;
    await Deno.writeTextFile(`${from}/main.js`, `import "./${own}"; import "./shared.js"; // ${v}`);
    await Deno.writeTextFile(`${from}/${own}`, `console.log("${v}");`);
    await Deno.writeTextFile(`${from}/shared.js`, "export {};");
    for (const name of [own, "shared.js"]) await Deno.copyFile(`${from}/${name}`, `${bin}/${name}`);
    state.kept[v] = {
      version: v,
      kind: "bundle",
      entry: "main.js",
      files: await hashFiles(from, ["main.js", own, "shared.js"]),
      sha256: null,
      channel: "stable",
      kept_at: "2026-11-27T00:00:00Z",
    };
  }
  await Deno.copyFile(`${keptDir(layout, "0.4.0")}/main.js`, `${bin}/main.js`);
  Object.assign(state, { path: `${bin}/main.js`, current: "0.4.0", previous: "0.3.0" });
  await writeSelfState(layout, state);
  return { layout, bin, path: `${bin}/main.js`, state };
}

Deno.test("the current and the previous updater are never pruned, older ones are, with their chunks", async () => {
  await using tmp = await tempDir();
  const { layout, bin, path, state } = await fourBundles(tmp.path);
  assert.deepEqual(await pruneKept(layout, state, { running: "0.4.0", path }), ["0.1.0", "0.2.0"]);
  assert.deepEqual(Object.keys((await readSelfState(layout)).state.kept).sort(), [
    "0.3.0",
    "0.4.0",
  ]);
  assert.deepEqual(await namesIn(`${layout.root}/updater`), ["0.3.0", "0.4.0", "state.json"]);
  // Their own chunks went; the shared one (0.3.0 and 0.4.0 name it too) and theirs stay.
  assert.deepEqual(await namesIn(bin), ["chunk-030.js", "chunk-040.js", "main.js", "shared.js"]);
  // Pruning again changes nothing: the current and previous stay whatever runs.
  const again = (await readSelfState(layout)).state;
  assert.deepEqual(await pruneKept(layout, again, { running: "0.4.0", path }), []);
  assert.deepEqual(await pruneKept(layout, again, { running: "0.3.0", path }), []);
  assert.deepEqual(await namesIn(bin), ["chunk-030.js", "chunk-040.js", "main.js", "shared.js"]);
});

Deno.test("a version a long-running run still executes is kept, with its chunks, until its process has gone", async () => {
  await using tmp = await tempDir();
  const { layout, bin, path, state } = await fourBundles(tmp.path);
  // Another process, an old `run` of 0.1.0 (its application still running), holds its lease.
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--quiet",
      `
      import { layoutOf } from "${libUrl("root/layout.ts")}";
      import { holdInUse } from "${libUrl("self/in_use.ts")}";
      const form = { kind: "bundle", path: ${JSON.stringify(path)}, key: "bundle" };
      const lease = await holdInUse(layoutOf(${
        JSON.stringify(layout.root)
      }), { form, running: "0.1.0" });
      console.log(lease === null ? "none" : "held");
      setInterval(() => {}, 60_000); // until it is killed
    `,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const { text, reader } = await readUntil(holder.stdout, (t) => /held|none/.test(t));
  try {
    assert.match(text, /held/);
    assert.deepEqual(await versionsInUse(layout), ["0.1.0"]);
    assert.deepEqual(await pruneKept(layout, state, { running: "0.4.0", path }), ["0.2.0"]);
    assert.deepEqual(await namesIn(`${layout.root}/updater`), [
      `.in-use.0.1.0.${holder.pid}`,
      "0.1.0",
      "0.3.0",
      "0.4.0",
      "state.json",
    ]);
    assert.deepEqual(await namesIn(bin), [
      "chunk-010.js",
      "chunk-030.js",
      "chunk-040.js",
      "main.js",
      "shared.js",
    ]);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await reader.cancel();
  }
  // Its process has gone (killed: it released nothing itself): the next prune takes 0.1.0 too.
  const after = (await readSelfState(layout)).state;
  assert.deepEqual(await pruneKept(layout, after, { running: "0.4.0", path }), ["0.1.0"]);
  assert.deepEqual(await namesIn(`${layout.root}/updater`), ["0.3.0", "0.4.0", "state.json"]);
  assert.deepEqual(await namesIn(bin), ["chunk-030.js", "chunk-040.js", "main.js", "shared.js"]);
});

Deno.test("a lease released is gone at once; one of this process is held against a pruner", async () => {
  await using tmp = await tempDir();
  const layout = layoutOf(tmp.path);
  await Deno.mkdir(`${layout.root}/updater`);
  const form = { kind: "bundle" as const, path: `${tmp.path}/main.js`, key: "bundle" };
  const lease = await holdInUse(layout, { form, running: "0.2.0" });
  assert.notEqual(lease, null);
  assert.deepEqual(await versionsInUse(layout), ["0.2.0"]); // flock: another open file, refused
  lease!.release();
  lease!.release(); // safe twice
  assert.deepEqual([await versionsInUse(layout), await namesIn(`${layout.root}/updater`)], [
    [],
    [],
  ]);
  // A link in place of the updater's folder: no lease is taken through it.
  await Deno.remove(`${layout.root}/updater`);
  await Deno.mkdir(`${tmp.path}/elsewhere`);
  await Deno.symlink(`${tmp.path}/elsewhere`, `${layout.root}/updater`);
  assert.equal(await holdInUse(layout, { form, running: "0.2.0" }), null);
  assert.deepEqual(await namesIn(`${tmp.path}/elsewhere`), []);
});
