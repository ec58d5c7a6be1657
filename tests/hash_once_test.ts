// Every byte read once on the way in, and a launch that never waits on the build's size
// (issue 13). Observed from the outside under strace: an update reads none of an executable
// build after downloading it and fsyncs it once; an archive build is read once (to extract
// it) and no extracted file is ever read; `apply` reads no file of the staged build. The seal
// staging records, made from what was verified and written, is the seal of the files on disk;
// a staged build changed after staging is refused at apply, whatever was changed.
import assert from "node:assert/strict";
import { makeTarGz, makeZip } from "./_archives.ts";
import { haveStrace, libUrl, runDeno, sha256, tempDir } from "./_helpers.ts";
import { linuxPlatform } from "./_e2e.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { buildDir, layoutOf } from "../lib/root/layout.ts";
import { stageBuild } from "../lib/root/stage.ts";
import { emptyState, readState, writeState } from "../lib/root/state.ts";
import { treeDigest } from "../lib/root/seal.ts";
import { statStamp } from "../lib/root/stamp.ts";
import { rejectedBuilds } from "../lib/root/lifecycle.ts";
import { applyStaged, switchCurrent } from "../lib/root/swap.ts";
import { fileIdentity } from "../lib/core/fs.ts";

const ignore = !haveStrace();

/** One system call seen by strace: which, on which path, with what flags, and its result. */
interface Call {
  name: string;
  path: string;
  flags: string;
  result: number;
}

/** Run `code` (deno eval) under strace, each thread in a file of its own, and parse the calls. */
async function traced(code: string): Promise<Call[]> {
  await using dir = await tempDir("ms11-strace-");
  const run = await runDeno(["eval", "--quiet", code], {
    prefix: [
      "strace",
      "-ff",
      "-qq",
      "-y",
      "-s",
      "0",
      "-e",
      "trace=openat,read,pread64,readv,preadv,fsync,fdatasync",
      "-o",
      `${dir.path}/t`,
    ],
  });
  if (run.code !== 0) throw new Error(`traced code failed (${run.code}): ${run.stderr}`);
  const calls: Call[] = [];
  for await (const entry of Deno.readDir(dir.path)) {
    for (const line of (await Deno.readTextFile(`${dir.path}/${entry.name}`)).split("\n")) {
      const open = /^openat\([^,]+, "([^"]*)", ([A-Z_|]+)[^)]*\) = (-?\d+)/.exec(line);
      if (open) {
        calls.push({ name: "openat", path: open[1], flags: open[2], result: Number(open[3]) });
        continue;
      }
      const io = /^(read|pread64|readv|preadv|fsync|fdatasync)\(\d+<([^>]*)>.*\) = (-?\d+)/
        .exec(line);
      if (io) calls.push({ name: io[1], path: io[2], flags: "", result: Number(io[3]) });
    }
  }
  return calls;
}

/** Bytes read from `path` (all read calls). */
function bytesRead(calls: Call[], test: (path: string) => boolean): number {
  return calls.filter((c) => /read/.test(c.name) && test(c.path) && c.result > 0)
    .reduce((sum, c) => sum + c.result, 0);
}

/** A release tree with 1.1.0 of `artifact` on stable, and the traced update of `root`. */
async function updateCode(dir: string, artifact: string, root: string): Promise<string> {
  const tree = `${dir}/tree`;
  const keyFiles = await writeKeyPair(`${dir}/keys`);
  const key = await readSigningKey(keyFiles.privatePath);
  await publishRelease(tree, {
    channel: "stable",
    version: "1.1.0",
    platform: linuxPlatform(),
    artifact,
    keys: [key],
  });
  return `
    import { serveReleases } from "${libUrl("publish/serve.ts")}";
    import { runUpdate } from "${libUrl("actions/pipeline.ts")}";
    import { validateConfig } from "${libUrl("core/config_schema.ts")}";
    import { layoutOf } from "${libUrl("root/layout.ts")}";
    const server = serveReleases(${JSON.stringify(tree)}, { hostname: "127.0.0.1", port: 0 });
    const config = validateConfig({
      update_servers: { stable: { base_url: server.url + "/stable" } },
      security: { require_https: false, allowed_domains: ["127.0.0.1"],
        signing_keys: { stable: { threshold: 1, keys: [${JSON.stringify(key.publicKey)}] } } },
    });
    const result = await runUpdate(layoutOf(${JSON.stringify(root)}), config,
      { channel: "stable", platform: ${JSON.stringify(linuxPlatform())} });
    if (result.staged !== "1.1.0") throw new Error("not staged");
    await server.shutdown();
  `;
}

Deno.test({
  name: "an executable update reads nothing back and fsyncs the build once",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const artifact = `${dir.path}/ms11`;
    const bytes = new Uint8Array(3 * 1024 * 1024).fill(0x41);
    bytes.set(new TextEncoder().encode("#!/bin/sh\necho MS11 1.1.0\nexit 0\n"));
    await Deno.writeFile(artifact, bytes);
    const root = `${dir.path}/root`;
    const calls = await traced(await updateCode(dir.path, artifact, root));
    const inRoot = (p: string) => p.startsWith(`${root}/`);
    const partial = (p: string) => inRoot(p) && p.endsWith(".bin.partial");
    const built = (p: string) => inRoot(p) && (p.endsWith("/ms11") || /\.bin$/.test(p));
    // Written once through one descriptor; never read, never opened again.
    assert.equal(bytesRead(calls, (p) => partial(p) || built(p)), 0);
    const opens = calls.filter((c) => c.name === "openat" && (partial(c.path) || built(c.path)));
    assert.deepEqual(opens.map((c) => c.path), [
      `${root}/downloads/1.1.0-${linuxPlatform()}.bin.partial`,
    ]);
    // One fsync of what was written (the download's), none by staging.
    const syncs = calls.filter((c) => /sync/.test(c.name) && (partial(c.path) || built(c.path)));
    assert.equal(syncs.length, 1, JSON.stringify(syncs));
    const state = (await readState(layoutOf(root))).state;
    const record = state.builds["1.1.0"];
    assert.equal(record.sha256, sha256(bytes));
    // The seal made from the verified digest, name and mode is the seal of what is on disk.
    assert.equal(record.tree_sha256, await treeDigest(buildDir(layoutOf(root), "1.1.0")));
    assert.equal(record.stat_sha256, await statStamp(buildDir(layoutOf(root), "1.1.0")));
  },
});

Deno.test({
  name: "a tar.gz update reads the archive once and no extracted file ever",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const big = "x".repeat(2 * 1024 * 1024);
    const archive = await makeTarGz(`${dir.path}/ms11-1.1.0.tar.gz`, [
      { type: "file", name: "ms11", data: "#!/bin/sh\necho MS11 1.1.0\n", mode: 0o755 },
      { type: "file", name: "lib/data.bin", data: big },
      { type: "symlink", name: "lib/data.link", target: "data.bin" },
    ]);
    const size = (await Deno.stat(archive)).size;
    const root = `${dir.path}/root`;
    const calls = await traced(await updateCode(dir.path, archive, root));
    const download = `${root}/downloads/1.1.0-${linuxPlatform()}.tar.gz`;
    assert.equal(bytesRead(calls, (p) => p === download || p === `${download}.partial`), size);
    const extracted = (p: string) => /\/builds\/[^/]+\/(ms11|lib\/data\.bin)$/.test(p);
    assert.equal(bytesRead(calls, extracted), 0);
    const opens = calls.filter((c) => c.name === "openat" && extracted(c.path));
    assert.equal(opens.length, 2); // each created once, for writing
    assert.ok(opens.every((c) => c.flags.includes("O_EXCL")), JSON.stringify(opens));
    const record = (await readState(layoutOf(root))).state.builds["1.1.0"];
    assert.equal(record.tree_sha256, await treeDigest(buildDir(layoutOf(root), "1.1.0")));
  },
});

/** A root with 1.0.0 current and 1.1.0 (a script and a 4 MiB file) staged by stageBuild. */
async function stagedRoot(dir: string): Promise<ReturnType<typeof layoutOf>> {
  const layout = layoutOf(`${dir}/root`);
  await Deno.mkdir(`${layout.builds}/1.0.0`, { recursive: true });
  await Deno.writeTextFile(`${layout.builds}/1.0.0/ms11`, "#!/bin/sh\necho MS11 1.0.0\n");
  await switchCurrent(layout, "1.0.0");
  const archive = await makeTarGz(`${dir}/ms11-1.1.0.tar.gz`, [
    { type: "file", name: "ms11", data: "#!/bin/sh\necho MS11 1.1.0\n", mode: 0o755 },
    { type: "file", name: "lib/data.bin", data: "y".repeat(4 * 1024 * 1024) },
  ]);
  const state = emptyState();
  await stageBuild(layout, archive, {
    version: "1.1.0",
    channel: "stable",
    kind: "tar.gz",
    sha256: sha256(await Deno.readFile(archive)),
    executable: "ms11",
    state,
  });
  await writeState(layout, state);
  return layout;
}

Deno.test({
  name: "apply with a build staged reads no file of the build",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const layout = await stagedRoot(dir.path);
    const calls = await traced(`
      import { applyStaged } from "${libUrl("root/swap.ts")}";
      import { layoutOf } from "${libUrl("root/layout.ts")}";
      const result = await applyStaged(layoutOf(${JSON.stringify(layout.root)}), { smoke: null });
      if (!result.applied) throw new Error(JSON.stringify(result));
    `);
    const inBuild = (p: string) => p.startsWith(`${layout.builds}/1.1.0/`);
    assert.equal(bytesRead(calls, inBuild), 0);
    const files = calls.filter((c) =>
      c.name === "openat" && inBuild(c.path) && !c.flags.includes("O_DIRECTORY")
    );
    assert.deepEqual(files, []);
    assert.equal(await Deno.readLink(layout.current), "builds/1.1.0");
  },
});

/** Ways a staged build's content can change after staging, each keeping its size. */
const CHANGES: [string, (build: string) => Promise<void>][] = [
  ["content rewritten, same size", async (b) => {
    const data = await Deno.readFile(`${b}/lib/data.bin`);
    data[100] = 0x7a;
    await Deno.writeFile(`${b}/lib/data.bin`, data);
  }],
  ["rewritten with its old mtime put back", async (b) => {
    const info = await Deno.stat(`${b}/ms11`);
    await Deno.writeTextFile(`${b}/ms11`, "#!/bin/sh\necho MS11 evil\n");
    await Deno.utime(`${b}/ms11`, info.atime!, info.mtime!);
  }],
  ["replaced by another file", async (b) => {
    await Deno.writeTextFile(`${b}/ms11.new`, "#!/bin/sh\necho MS11 1.1.1\n");
    await Deno.chmod(`${b}/ms11.new`, 0o755);
    await Deno.rename(`${b}/ms11.new`, `${b}/ms11`);
  }],
  ["a file added", (b) => Deno.writeTextFile(`${b}/lib/extra.so`, "x")],
  ["a file removed", (b) => Deno.remove(`${b}/lib/data.bin`)],
  ["a mode changed", (b) => Deno.chmod(`${b}/ms11`, 0o700)],
];

Deno.test("a staged build changed after staging is refused at apply, however it changed", async (t) => {
  for (const [what, change] of CHANGES) {
    await t.step(what, async () => {
      await using dir = await tempDir();
      const layout = await stagedRoot(dir.path);
      const record = (await readState(layout)).state.builds["1.1.0"];
      await change(buildDir(layout, "1.1.0"));
      assert.notEqual(await statStamp(buildDir(layout, "1.1.0")), record.stat_sha256);
      const now = await treeDigest(buildDir(layout, "1.1.0"));
      const result = await applyStaged(layout, { smoke: null });
      assert.equal(result.applied, false);
      assert.equal(
        result.refused?.reason,
        `staged build 1.1.0 changed since it was verified (seal ${record.tree_sha256}, now ${now})`,
      );
      assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
      const { state } = await readState(layout);
      assert.equal(state.staged, null);
      assert.deepEqual(rejectedBuilds(state.lifecycle), []); // its release is not at fault
    });
  }
});

Deno.test("a staged build whose stamp moved but whose content did not (touched, root copied) goes in after one read", async (t) => {
  for (
    const [what, move] of [
      ["touched", async (layout: ReturnType<typeof layoutOf>) => {
        const path = `${buildDir(layout, "1.1.0")}/lib/data.bin`;
        await Deno.utime(path, new Date(), new Date());
        return layout;
      }],
      ["the root copied elsewhere (new inodes)", async (layout: ReturnType<typeof layoutOf>) => {
        const copy = `${layout.root}-copy`;
        const out = await new Deno.Command("cp", { args: ["-a", layout.root, copy] }).output();
        assert.ok(out.success);
        return layoutOf(copy);
      }],
    ] as const
  ) {
    await t.step(what, async () => {
      await using dir = await tempDir();
      const moved = await move(await stagedRoot(dir.path));
      const record = (await readState(moved)).state.builds["1.1.0"];
      assert.notEqual(await statStamp(buildDir(moved, "1.1.0")), record.stat_sha256);
      const result = await applyStaged(moved, { smoke: null });
      assert.equal(result.applied, true, JSON.stringify(result));
      assert.equal(await Deno.readLink(moved.current), "builds/1.1.0");
    });
  }
});

Deno.test("an untouched staged build goes in, and its stamp is what staging recorded", async () => {
  await using dir = await tempDir();
  const layout = await stagedRoot(dir.path);
  const record = (await readState(layout)).state.builds["1.1.0"];
  assert.equal(record.stat_sha256, await statStamp(buildDir(layout, "1.1.0")));
  assert.equal(record.tree_sha256, await treeDigest(buildDir(layout, "1.1.0")));
  assert.equal((await applyStaged(layout, { smoke: null })).applied, true);
});

Deno.test("staging refuses a download that is not the file that was verified, reading nothing", async (t) => {
  for (
    const [what, tamper] of [
      ["replaced", async (path: string) => {
        await Deno.writeTextFile(`${path}.other`, "#!/bin/sh\necho MS11 1.1.0\n");
        await Deno.rename(`${path}.other`, path);
      }],
      ["appended to", async (path: string) => {
        await Deno.writeTextFile(path, "echo more\n", { append: true });
      }],
    ] as const
  ) {
    await t.step(what, async () => {
      await using dir = await tempDir();
      const layout = layoutOf(`${dir.path}/root`);
      await Deno.mkdir(layout.downloads, { recursive: true });
      const artifact = `${layout.downloads}/1.1.0.bin`;
      const text = "#!/bin/sh\necho MS11 1.1.0\n";
      await Deno.writeTextFile(artifact, text, { mode: 0o755 });
      await Deno.chmod(artifact, 0o755);
      const identity = fileIdentity(await Deno.lstat(artifact)); // as the download left it
      await new Promise((r) => setTimeout(r, 5)); // so that a new mtime differs
      await tamper(artifact);
      const state = emptyState();
      await assert.rejects(
        stageBuild(layout, artifact, {
          version: "1.1.0",
          channel: "stable",
          kind: "executable",
          sha256: sha256(text),
          identity,
          executable: "ms11",
          state,
        }),
        (error: Error) => {
          assert.match(
            error.message,
            /^Artifact .*\/builds\/\.staging-1\.1\.0-[0-9a-z]+\/ms11 is not the file that was verified \(inode \d+, \d+ bytes, mtime \d+; found inode \d+, \d+ bytes, mtime \d+\); nothing staged$/,
          );
          return true;
        },
      );
      assert.equal(state.staged, null);
      assert.deepEqual([...Deno.readDirSync(layout.builds)].map((e) => e.name), []);
    });
  }
});

Deno.test("the seal made while extracting is the seal of the files on disk, for every format", async () => {
  await using dir = await tempDir();
  const entries = [
    { type: "file" as const, name: "ms11", data: "#!/bin/sh\n", mode: 0o4755 },
    { type: "dir" as const, name: "share", mode: 0o750 },
    { type: "file" as const, name: "share/b", data: "b" },
    { type: "file" as const, name: "share/a", data: "a", mode: 0o600 },
    { type: "file" as const, name: "lib/deep/x.so.1", data: "x" },
    { type: "symlink" as const, name: "lib/deep/x.so", target: "x.so.1" },
    { type: "file" as const, name: "Z-upper", data: "z" },
  ];
  const archives = [
    ["tar.gz", await makeTarGz(`${dir.path}/a.tar.gz`, entries)],
    ["tar.gz", await makeTarGz(`${dir.path}/g.tar.gz`, entries, { format: "gnu" })],
    [
      "zip",
      await makeZip(`${dir.path}/a.zip`, [
        { name: "ms11", data: "#!/bin/sh\n", mode: 0o100755 },
        { name: "share/", mode: 0o40750 },
        { name: "share/b", data: "b" },
        { name: "share/a", data: "a", mode: 0o100600 },
        { name: "lib/deep/x.so.1", data: "x" },
      ]),
    ],
  ] as const;
  for (const [i, [kind, archive]] of archives.entries()) {
    const layout = layoutOf(`${dir.path}/root${i}`);
    await Deno.mkdir(layout.root); // as the install lock makes it
    const state = emptyState();
    await stageBuild(layout, archive, {
      version: "1.0.0",
      channel: "stable",
      kind,
      sha256: sha256(await Deno.readFile(archive)),
      executable: "ms11",
      state,
    });
    const build = buildDir(layout, "1.0.0");
    assert.equal(state.builds["1.0.0"].tree_sha256, await treeDigest(build), archive);
    assert.equal(state.builds["1.0.0"].stat_sha256, await statStamp(build), archive);
  }
});
