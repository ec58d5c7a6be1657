// lib/root/space.ts: the disk-space preflight, pure and through runUpdate with an injected probe.
import assert from "node:assert/strict";
import { validateConfig } from "../lib/core/config_schema.ts";
import { layoutOf } from "../lib/root/layout.ts";
import {
  checkFreeSpace,
  freeBytes,
  SPACE_MARGIN_BYTES,
  spaceNeeded,
  treeBytes,
} from "../lib/root/space.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { linuxPlatform, makeWorld, snapshot } from "./_e2e.ts";
import { rejectsWith, tempDir } from "./_helpers.ts";

const M = SPACE_MARGIN_BYTES;

Deno.test("spaceNeeded: an executable needs its size, an archive also its extraction", () => {
  assert.deepEqual(spaceNeeded("executable", 1000, { currentBuildBytes: 1 << 30 }), {
    artifact: 1000,
    extraction: 0,
    margin: M,
    total: 1000 + M,
  });
  assert.deepEqual(spaceNeeded("tar.gz", 1000), {
    artifact: 1000,
    extraction: 2000,
    margin: M,
    total: 3000 + M,
  });
  assert.equal(spaceNeeded("zip", 1000, { currentBuildBytes: 9000 }).extraction, 9000);
});

Deno.test("checkFreeSpace names every number when there is too little", async () => {
  const need = spaceNeeded("tar.gz", 1000);
  await rejectsWith(
    checkFreeSpace("/r/downloads", need, { probe: () => Promise.resolve(4096) }),
    Error,
    `Not enough free space in /r/downloads: need ${
      3000 + M
    } bytes (artifact 1000, extraction 2000, margin ${M}), 4096 available`,
  );
  await checkFreeSpace("/r", need, { probe: () => Promise.resolve(need.total) });
});

Deno.test("freeBytes and treeBytes measure the real disk", async () => {
  await using dir = await tempDir();
  assert.ok((await freeBytes(dir.path)) > 0);
  await Deno.mkdir(`${dir.path}/a/b`, { recursive: true });
  await Deno.writeFile(`${dir.path}/a/x`, new Uint8Array(10));
  await Deno.writeFile(`${dir.path}/a/b/y`, new Uint8Array(5));
  assert.equal(await treeBytes(`${dir.path}/a`), 15);
});

Deno.test("an update on a disk too small fails before downloading and changes nothing", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const config = validateConfig(JSON.parse(await Deno.readTextFile(world.configPath)));
  const layout = layoutOf(world.root);
  const before = await snapshot(world.root);
  const size = (await Deno.stat(`${world.tree}/stable/1.1.0/ms11-1.1.0`)).size;
  let probed = "";
  await rejectsWith(
    runUpdate(layout, config, {
      channel: "stable",
      platform: linuxPlatform(),
      freeSpace: (path) => {
        probed = path;
        return Promise.resolve(1000);
      },
    }),
    Error,
    `Not enough free space in ${layout.downloads}: need ${
      size + M
    } bytes (artifact ${size}, extraction 0, margin ${M}), 1000 available`,
  );
  assert.equal(probed, layout.downloads);
  assert.deepEqual(await snapshot(world.root), before);
});
