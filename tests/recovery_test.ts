// Recovery that wastes nothing and leaves nothing (issue 12, part 6): a complete, verified
// download survives any kill until it is staged (no second download, counted in nginx's access
// log); the temporary files of interrupted atomic writes are swept by the next command, so their
// number stays bounded over many kills; a command that recovers an interrupted apply prunes as
// the apply would; a resume after a full disk needs room only for what is missing, and the full
// disk's error names the path and what was being written.
import assert from "node:assert/strict";
import { appScript, linuxPlatform, makeWorld, type World } from "./_e2e.ts";
import { rejectsWith, sha256, tempDir } from "./_helpers.ts";
import { makeTarGz } from "./_archives.ts";
import { haveNginx, startNginx } from "./_nginx.ts";
import { validateConfig } from "../lib/core/config_schema.ts";
import { writeFileAtomic } from "../lib/core/fs.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { readState } from "../lib/root/state.ts";
import { SPACE_MARGIN_BYTES } from "../lib/root/space.ts";
import { extractArchive } from "../lib/archive/extract.ts";

const KILLED = 137;

/** Requests nginx answered for paths under `prefix` with 200 or 206, and the bytes it sent. */
async function served(log: string, prefix: string): Promise<{ requests: number; bytes: number }> {
  let requests = 0;
  let bytes = 0;
  const text = await Deno.readTextFile(log).catch(() => "");
  for (const line of text.split("\n")) {
    const m = /"GET (\S+) HTTP\/[\d.]+" (\d{3}) (\d+)/.exec(line);
    if (m === null || !m[1].startsWith(prefix) || !["200", "206"].includes(m[2])) continue;
    requests++;
    bytes += Number(m[3]);
  }
  return { requests, bytes };
}

/** A world whose releases nginx serves, with 1.0.0 installed and 1.1.0 (`kind`) published. */
async function nginxWorld(kind: "executable" | "tar.gz") {
  const world = await makeWorld();
  const nginx = (await startNginx(world.tree))!;
  await world.writeConfig({
    update_servers: { stable: { base_url: `${nginx.url}/stable` } },
  });
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const filler = "#".repeat(2 * 1024 * 1024) + "\n";
  if (kind === "executable") {
    await Deno.writeTextFile(`${world.dir}/ms11-1.1.0`, appScript("1.1.0") + filler);
    await world.publish("stable", "1.1.0", { artifact: `${world.dir}/ms11-1.1.0` });
  } else {
    const archive = await makeTarGz(`${world.dir}/ms11-1.1.0.tar.gz`, [
      { type: "file", name: "ms11", data: appScript("1.1.0"), mode: 0o755 },
      { type: "file", name: "share/filler.txt", data: filler },
    ]);
    await world.publish("stable", "1.1.0", { artifact: archive });
  }
  return {
    world,
    nginx,
    async [Symbol.asyncDispose]() {
      await nginx.stop();
      await world[Symbol.asyncDispose]();
    },
  };
}

Deno.test({
  name: "a kill between download and staging costs no second download",
  ignore: !(await haveNginx()),
  timeout: 5 * 60_000,
  async fn(t) {
    for (const kind of ["executable", "tar.gz"] as const) {
      for (const point of ["after-download", "after-verify"]) {
        await t.step(`${kind}, killed ${point}`, async () => {
          await using w = await nginxWorld(kind);
          const { world, nginx } = w;
          const killed = await world.cli([], { env: { MS11_UPDATE_FAULT: point } });
          assert.equal(killed.code, KILLED, killed.stderr);
          const first = await served(nginx.accessLogPath, "/stable/1.1.0/");
          assert.equal(first.requests, 1);
          const again = await world.cli([]);
          assert.equal(again.code, 0, again.stderr);
          assert.match(again.stderr, /^Staged 1\.1\.0 from stable /m);
          // Not one more byte of the artifact: the verified download was staged from disk.
          assert.deepEqual(await served(nginx.accessLogPath, "/stable/1.1.0/"), first);
          assert.equal((await world.cli(["apply"])).code, 0);
          const launched = await new Deno.Command(`${world.root}/current/ms11`, {
            stdout: "piped",
          }).output();
          assert.equal(new TextDecoder().decode(launched.stdout).trim(), "MS11 1.1.0");
          // Nothing of the download is left once it is staged.
          assert.deepEqual([...Deno.readDirSync(`${world.root}/downloads`)], []);
        });
      }
    }
  },
});

/** Leftovers of interrupted commands in a root: temporary files, half-made or half-removed builds. */
async function leftovers(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ["", "/downloads", "/builds"]) {
    try {
      for await (const entry of Deno.readDir(`${root}${dir}`)) {
        if (/\.tmp$|^\.(staging|trash)-/.test(entry.name)) found.push(`${dir}/${entry.name}`);
      }
    } catch { /* not there */ }
  }
  return found.sort();
}

Deno.test({
  name: "over many kills in atomic writes and swaps, leftovers stay bounded and are swept",
  timeout: 10 * 60_000,
  async fn() {
    await using world = await makeWorld();
    await world.publish("stable", "1.0.0");
    assert.equal((await world.cli(["install"])).code, 0);
    let most = 0;
    let kills = 0;
    const killedRun = async (args: string[], point: string) => {
      const run = await world.cli(args, { env: { MS11_UPDATE_FAULT: point } });
      assert.equal(run.code, KILLED, `${args.join(" ")} at ${point}: ${run.stderr}`);
      kills++;
      const left = await leftovers(world.root);
      most = Math.max(most, left.length);
      // What one kill left, never what earlier kills left: the next command swept those.
      assert.ok(left.length <= 1, `after ${kills} kills: ${left.join(", ")}`);
    };
    for (let i = 1; i <= 12; i++) {
      await world.publish("stable", `1.${i}.0`);
      await killedRun([], "during-write"); // the state file, half written
      const staged = await world.cli([]);
      assert.equal(staged.code, 0, staged.stderr);
      await killedRun(["apply"], "during-link"); // the new `current`, made, not renamed
      await killedRun(["confirm"], "during-write");
      const confirmed = await world.cli(["confirm"]);
      assert.equal(confirmed.code, 0, confirmed.stderr);
    }
    assert.equal(kills, 36);
    assert.equal(most, 1);
    const clean = await world.cli([]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual(await leftovers(world.root), []);
    assert.equal(
      new TextDecoder().decode(
        (await new Deno.Command(`${world.root}/current/ms11`, { stdout: "piped" }).output())
          .stdout,
      ).trim(),
      "MS11 1.12.0",
    );
  },
});

/** 0.9.0 retired, 1.0.0 current and confirmed, 1.1.0 staged, keep_backups_count 0. */
async function pruneWorld(world: World): Promise<void> {
  await world.publish("stable", "0.9.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli([])).code, 0);
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.equal((await world.cli(["confirm"])).code, 0);
  await world.publish("stable", "1.1.0");
  assert.equal((await world.cli([])).code, 0);
  // 0.9.0 is a backup beyond keep_backups_count 0: the apply prunes it.
  await world.writeConfig({ keep_backups_count: 0 });
}

Deno.test("a command that recovers an interrupted apply prunes backups as the apply would have", async (t) => {
  const builds = async (world: World) =>
    (await Array.fromAsync(Deno.readDir(`${world.root}/builds`))).map((e) => e.name).sort();
  await t.step("a clean apply (what to expect)", async () => {
    await using world = await makeWorld();
    await pruneWorld(world);
    assert.equal((await world.cli(["apply"])).code, 0);
    // 0.9.0 pruned; 1.0.0 kept: the fallback of 1.1.0 while it is on trial.
    assert.deepEqual(await builds(world), ["1.0.0", "1.1.0"]);
  });
  // A confirm then also ends the trial, and prunes the fallback as it always does.
  for (
    const [recovering, left] of [
      [["apply"], ["1.0.0", "1.1.0"]],
      [[], ["1.0.0", "1.1.0"]],
      [["confirm"], ["1.1.0"]],
    ]
  ) {
    await t.step(`killed after the rename, recovered by ${recovering[0] ?? "update"}`, async () => {
      await using world = await makeWorld();
      await pruneWorld(world);
      const killed = await world.cli(["apply"], { env: { MS11_UPDATE_FAULT: "after-rename" } });
      assert.equal(killed.code, KILLED);
      assert.deepEqual(await builds(world), ["0.9.0", "1.0.0", "1.1.0"]);
      const run = await world.cli(recovering);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await builds(world), left);
      const { state } = await readState(layoutOf(world.root));
      assert.equal(state.builds["0.9.0"], undefined);
    });
  }
});

// --- a full disk ----------------------------------------------------------------------------

/** Whether this process may mount a tmpfs (root on Linux, not in a locked-down container). */
async function canMount(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir],
      stderr: "null",
    }).output();
    if (!out.success) return false;
    await new Deno.Command("umount", { args: [dir] }).output();
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(dir).catch(() => {});
  }
}

const mountable = await canMount();

/** A tmpfs of `mib` MiB at a new folder, unmounted when disposed. */
async function smallDisk(mib: number) {
  const dir = await Deno.makeTempDir({ prefix: "ms11-disk-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${mib}m,mode=0755`, "tmpfs", dir],
  }).output();
  assert.ok(mount.success, "mount tmpfs");
  return {
    path: dir,
    async resize(size: number) {
      const out = await new Deno.Command("mount", {
        args: ["-o", `remount,size=${size}m`, dir],
      }).output();
      assert.ok(out.success, "remount tmpfs");
    },
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name: "a resume after a full disk needs room only for what is missing; the error names the path",
  ignore: !mountable,
  timeout: 5 * 60_000,
  async fn() {
    await using world = await makeWorld();
    await using disk = await smallDisk(12);
    const MiB = 1024 * 1024;
    // A 30 MiB executable build; the first run meets a 12 MiB disk.
    const big = appScript("1.1.0") + "#".repeat(30 * MiB);
    await Deno.writeTextFile(`${world.dir}/ms11-1.1.0`, big);
    await world.publish("stable", "1.1.0", { artifact: `${world.dir}/ms11-1.1.0` });
    const size = new TextEncoder().encode(big).length;
    const root = `${disk.path}/root`;
    const layout = layoutOf(root);
    const config = validateConfig(JSON.parse(await Deno.readTextFile(world.configPath)));
    const options = { channel: "stable", platform: linuxPlatform() };
    const partial = `${layout.downloads}/1.1.0-${linuxPlatform()}.bin.partial`;
    // The preflight is told there is room (as on a disk that fills up meanwhile).
    const error = await rejectsWith(
      runUpdate(layout, config, { ...options, freeSpace: () => Promise.resolve(2 ** 40) }),
      Error,
      new RegExp(
        `^Cannot write the download of ${world.server.url}/stable/1\\.1\\.0/ms11-1\\.1\\.0 to ${partial}: no space left on device \\((\\d+) of ${size} bytes written; they are kept and a later run resumes\\)$`,
      ),
    );
    const kept = (await Deno.stat(partial)).size;
    assert.ok(kept > 8 * MiB && kept < 12 * MiB, `${kept} bytes kept`);
    // The bytes counted are those written whole before the disk filled (a last chunk may be
    // half on disk: a resume re-hashes what is there).
    const counted = Number(/\((\d+) of /.exec(error.message)![1]);
    assert.ok(counted <= kept && counted > kept - 2 * MiB, `${counted} counted, ${kept} kept`);
    // Room for what is missing and the margin, but not for the whole artifact again.
    const free = size - kept + SPACE_MARGIN_BYTES + MiB;
    await disk.resize(Math.ceil((kept + free + 256 * 1024) / MiB) + 1);
    const freeNow = await (await import("../lib/root/space.ts")).freeBytes(layout.downloads);
    assert.ok(freeNow < size + SPACE_MARGIN_BYTES, "the whole artifact would not fit again");
    assert.ok(freeNow >= size - kept + SPACE_MARGIN_BYTES, "what is missing does");
    const result = await runUpdate(layout, config, options);
    assert.equal(result.staged, "1.1.0");
    assert.equal(
      sha256(await Deno.readFile(`${layout.builds}/1.1.0/ms11`)),
      sha256(new TextEncoder().encode(big)),
    );
  },
});

Deno.test({
  name: "a full disk's error names the state file, or the extracted file and its archive",
  ignore: !mountable,
  async fn() {
    await using disk = await smallDisk(1);
    await Deno.writeFile(`${disk.path}/filler`, new Uint8Array(1024 * 1024 - 8192)).catch(
      () => {},
    );
    const state = `${disk.path}/state.json`;
    await rejectsWith(
      writeFileAtomic(state, "x".repeat(64 * 1024), { what: `the state file ${state}` }),
      Error,
      `Cannot write the state file ${state}: no space left on device`,
    );
    await Deno.remove(`${disk.path}/filler`);
    await using dir = await tempDir();
    const archive = await makeTarGz(`${dir.path}/a.tar.gz`, [
      { type: "file", name: "ms11", data: "#!/bin/sh\n" },
      { type: "file", name: "big.bin", data: "z".repeat(2 * 1024 * 1024) },
    ]);
    await rejectsWith(
      extractArchive(archive, `${disk.path}/build`, { kind: "tar.gz" }),
      Error,
      `Cannot write ${disk.path}/build/big.bin, extracted from ${archive}: no space left on device`,
    );
  },
});
