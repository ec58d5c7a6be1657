// The install root is no trampoline (issue 11, part 2): a symbolic link planted at any path the
// updater writes or removes is refused with an error naming it, and what it points at is left
// alone; what the updater creates is owner-only whatever the umask; a root or state file that
// other users may write, or that belongs to another user, is refused (or, for reading, warned
// about); a root that is itself a symbolic link is followed only when it is safe.
import assert from "node:assert/strict";
import { linuxPlatform, makeWorld, snapshot, type World } from "./_e2e.ts";
import { rejectsWith, tempDir } from "./_helpers.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { acquireLock } from "../lib/root/lock.ts";
import { checkRoot, ensureDir, ensureRoot, MODES, refuseLinks } from "../lib/root/safe.ts";
import { emptyState, readState, writeState } from "../lib/root/state.ts";
import { appendAudit } from "../lib/root/audit.ts";
import { pruneBackups } from "../lib/root/backups.ts";
import { stageBuild, sweepLeftovers } from "../lib/root/stage.ts";
import { switchCurrent } from "../lib/root/swap.ts";
import { downloadArtifact } from "../lib/net/download.ts";

/** Every file and folder under `dir`: relative path, type, mode and content, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(path: string, rel: string): Promise<void> {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      const info = await Deno.lstat(full);
      const mode = ((info.mode ?? 0) & 0o7777).toString(8);
      if (info.isDirectory) {
        out.push(`${rel}${entry.name}/ ${mode}`);
        await walk(full, `${rel}${entry.name}/`);
      } else if (info.isSymlink) {
        out.push(`${rel}${entry.name} -> ${await Deno.readLink(full)}`);
      } else out.push(`${rel}${entry.name} ${mode} ${await Deno.readTextFile(full)}`);
    }
  }
  await walk(dir, "");
  return out.sort();
}

/** A folder outside the root with a file in it: what a planted link points at. */
async function decoy(world: World): Promise<{ dir: string; file: string }> {
  const dir = `${world.dir}/decoy`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/precious`, "the user's file\n");
  await Deno.writeTextFile(`${dir}/sub/kept`, "kept\n");
  return { dir, file: `${dir}/precious` };
}

/** Replace what is at `rel` in the root with a symbolic link to `target`. */
async function plant(world: World, rel: string, target: string): Promise<string> {
  const path = `${world.root}/${rel}`;
  await Deno.remove(path, { recursive: true }).catch(() => {});
  await Deno.symlink(target, path);
  return path;
}

const BIN = `1.1.0-${linuxPlatform()}.bin`;

/** Where a link is planted, whether it stands for a file or a folder, and the command run. */
const PLANTED: { rel: string; kind: "file" | "dir"; args: string[] }[] = [
  { rel: "lock", kind: "file", args: [] },
  { rel: "lock.guard", kind: "file", args: [] },
  { rel: "state.json", kind: "file", args: [] },
  { rel: "trust.json", kind: "file", args: [] },
  { rel: "trust.json.bak", kind: "file", args: [] },
  { rel: "logs", kind: "dir", args: [] },
  { rel: "logs/audit.jsonl", kind: "file", args: [] },
  { rel: "downloads", kind: "dir", args: [] },
  { rel: `downloads/${BIN}.partial`, kind: "file", args: [] },
  { rel: `downloads/${BIN}.partial.json`, kind: "file", args: [] },
  { rel: `downloads/${BIN}`, kind: "file", args: [] },
  { rel: "builds", kind: "dir", args: [] },
  { rel: "builds/1.1.0", kind: "dir", args: [] },
  { rel: "builds/.staging-1.1.0-leftover", kind: "dir", args: [] },
  { rel: "builds/.trash-0.9.0-leftover", kind: "dir", args: [] },
  { rel: "logs", kind: "dir", args: ["rollback"] },
  { rel: "state.json", kind: "file", args: ["confirm"] },
];

Deno.test({
  name: "a symbolic link planted at any path the updater writes or removes is refused, naming it",
  timeout: 10 * 60_000,
  async fn(t) {
    for (const { rel, kind, args } of PLANTED) {
      await t.step(`${rel} (${args.join(" ") || "update"})`, async () => {
        await using world = await makeWorld();
        await world.publish("stable", "0.9.0");
        assert.equal((await world.cli(["install"])).code, 0);
        await world.publish("stable", "1.0.0");
        assert.equal((await world.cli([])).code, 0);
        assert.equal((await world.cli(["apply"])).code, 0);
        await world.publish("stable", "1.1.0");
        const { dir, file } = await decoy(world);
        const outside = await tree(dir);
        const path = await plant(world, rel, kind === "dir" ? dir : file);
        const before = await snapshot(world.root);
        const run = await world.cli(args);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(
          run.stderr.trim(),
          `error: Refusing to use ${path}: it is a symbolic link (to ${
            JSON.stringify(kind === "dir" ? dir : file)
          }), and nothing in the install root but current may be one; remove it`,
        );
        // Nothing outside was written, appended, truncated, renamed or removed; nothing inside
        // changed either.
        assert.deepEqual(await tree(dir), outside);
        if (!rel.startsWith("builds") && !rel.startsWith("downloads")) {
          assert.equal(await snapshot(world.root), before);
        }
        assert.equal((await Deno.lstat(path)).isSymlink, true);
      });
    }
  },
});

Deno.test("the launcher's apply refuses a staged build that became a symbolic link", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  assert.equal((await world.cli([])).code, 0);
  const { dir } = await decoy(world);
  await Deno.writeTextFile(`${dir}/ms11`, "#!/bin/sh\necho pwned\n");
  await Deno.chmod(`${dir}/ms11`, 0o755);
  const outside = await tree(dir);
  const path = await plant(world, "builds/1.1.0", dir);
  const run = await world.cli(["apply"]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, new RegExp(`Refusing to use ${path}: it is a symbolic link`));
  assert.equal(await Deno.readLink(`${world.root}/current`), "builds/1.0.0");
  assert.deepEqual(await tree(dir), outside);
});

Deno.test("refuseLinks walks every folder between the root and the path; current is the one link allowed", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await Deno.mkdir(`${dir.path}/elsewhere`);
  await Deno.mkdir(layout.builds);
  await Deno.symlink(`${dir.path}/elsewhere`, `${layout.builds}/1.0.0`);
  await rejectsWith(
    refuseLinks(layout, `${layout.builds}/1.0.0/ms11`),
    Error,
    `Refusing to use ${layout.builds}/1.0.0: it is a symbolic link (to ${
      JSON.stringify(`${dir.path}/elsewhere`)
    }), and nothing in the install root but current may be one; remove it`,
  );
  await Deno.symlink("builds/1.0.0", layout.current);
  await refuseLinks(layout, layout.current); // renamed over, never written through
  await rejectsWith(
    refuseLinks(layout, `${layout.current}/ms11`),
    Error,
    /^Refusing to use .*\/current: it is a symbolic link/,
  );
  await rejectsWith(
    refuseLinks(layout, "/etc/passwd"),
    RangeError,
    /is not inside the install root/,
  );
});

// --- modes ----------------------------------------------------------------------------------

/** Run the CLI of `world` under `umask 000`. */
function underUmask000(world: World, args: string[], root: string) {
  return world.cli([...args, "--root", root], {
    root: false,
    prefix: ["sh", "-c", 'umask 000 && exec "$@"', "sh"],
  });
}

Deno.test({
  name:
    "under umask 000 nothing the updater creates is writable by others; private parts are owner-only",
  timeout: 5 * 60_000,
  async fn() {
    await using world = await makeWorld();
    const root = `${world.dir}/made/by/us/root`;
    await world.publish("stable", "1.0.0");
    const install = await underUmask000(world, ["install"], root);
    assert.equal(install.code, 0, install.stderr);
    await world.publish("stable", "1.1.0");
    const update = await underUmask000(world, [], root);
    assert.equal(update.code, 0, update.stderr);
    const apply = await underUmask000(world, ["apply"], root);
    assert.equal(apply.code, 0, apply.stderr);
    const mode = async (path: string) => (await Deno.lstat(path)).mode! & 0o7777;
    for (const line of await tree(root)) {
      if (line.includes(" -> ")) continue; // current, the one link
      const [path, m] = line.split(" ");
      assert.equal(parseInt(m, 8) & 0o022, 0, `${path} is writable by others (${m})`);
    }
    assert.equal(await mode(root), 0o700);
    for (const parent of [`${world.dir}/made`, `${world.dir}/made/by`, `${world.dir}/made/by/us`]) {
      assert.equal(await mode(parent), 0o755, parent);
    }
    assert.equal(await mode(`${root}/lock`), 0o600);
    assert.equal(await mode(`${root}/lock.guard`), 0o600);
    assert.equal(await mode(`${root}/state.json`), 0o644);
    assert.equal(await mode(`${root}/logs`), 0o700);
    assert.equal(await mode(`${root}/logs/audit.jsonl`), 0o600);
    assert.equal(await mode(`${root}/downloads`), 0o700);
    assert.equal(await mode(`${root}/builds`), 0o755);
    assert.equal(await mode(`${root}/builds/1.1.0`), 0o755);
    assert.equal(await mode(`${root}/builds/1.1.0/ms11`), 0o755);
  },
});

Deno.test("a root, folder or state file that other users may write is refused before anything changes", async (t) => {
  for (const rel of ["", "builds", "downloads", "logs", "state.json", "lock"]) {
    await t.step(rel || "the root", async () => {
      await using world = await makeWorld();
      await world.publish("stable", "1.0.0");
      assert.equal((await world.cli(["install"])).code, 0);
      await world.publish("stable", "1.1.0");
      const path = rel === "" ? world.root : `${world.root}/${rel}`;
      const what = rel === ""
        ? "Install root"
        : rel === "state.json"
        ? "State file"
        : rel === "lock"
        ? "Lock file"
        : "Folder";
      await Deno.chmod(path, rel.includes(".") || rel === "lock" ? 0o666 : 0o777);
      const before = await snapshot(world.root);
      const run = await world.cli([]);
      assert.equal(run.code, 1, run.stderr);
      const mode = rel.includes(".") || rel === "lock" ? "0666" : "0777";
      assert.equal(
        run.stderr.trim(),
        `error: ${what} ${path} is writable by other users (mode ${mode}); refusing to use it: run chmod go-w ${path}`,
      );
      assert.equal(await snapshot(world.root), before);
    });
  }
});

Deno.test("a state file that others may write is read with a warning by status", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const state = `${world.root}/state.json`;
  await Deno.chmod(state, 0o646);
  const { problem } = await readState(layoutOf(world.root));
  assert.equal(
    problem,
    `State file ${state} is writable by other users (mode 0646); commands that change the install refuse it: run chmod go-w ${state}`,
  );
  const status = await world.cli(["status"]);
  assert.equal(status.code, 0);
  assert.ok(status.stderr.includes(problem!), status.stderr);
});

Deno.test("a root that belongs to another user is refused", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/root`);
  await ensureRoot(layout);
  if (Deno.uid() === 0) {
    // As root, any other owner but root is refused (root could be led to write for that user).
    await Deno.chown(layout.root, 4242, 4242);
    await rejectsWith(
      acquireLock(layout),
      Error,
      `Install root ${layout.root} belongs to uid 4242, not to this user (uid 0); refusing to use it`,
    );
    assert.equal((await Array.fromAsync(Deno.readDir(layout.root))).length, 0);
  } else {
    await checkRoot(layout); // our own root passes
  }
});

Deno.test("a root that is a symbolic link is followed when the link and its folder are safe", async () => {
  await using dir = await tempDir();
  const real = `${dir.path}/disk/ms11`;
  await ensureRoot(layoutOf(real));
  await Deno.symlink(real, `${dir.path}/ms11`);
  const layout = layoutOf(`${dir.path}/ms11`);
  {
    using _lock = await acquireLock(layout);
    assert.equal((await Deno.lstat(`${real}/lock`)).isFile, true);
  }
  await Deno.chmod(real, 0o777);
  await rejectsWith(
    acquireLock(layout),
    Error,
    `Install root ${layout.root} is writable by other users (mode 0777); refusing to use it: run chmod go-w ${layout.root}`,
  );
  await Deno.chmod(real, 0o755); // a shared install: accepted
  (await acquireLock(layout)).release();
  if (Deno.uid() === 0) {
    // A link planted by another user (in a shared folder such as /tmp) is not followed.
    await Deno.remove(`${dir.path}/ms11`);
    await Deno.symlink(real, `${dir.path}/ms11`);
    await new Deno.Command("chown", { args: ["-h", "4242", `${dir.path}/ms11`] }).output();
    await rejectsWith(
      acquireLock(layout),
      Error,
      `Install root link ${layout.root} belongs to uid 4242, not to this user (uid 0); refusing to use it`,
    );
  }
});

// --- each writer on its own ----------------------------------------------------------------
// The CLI refuses links when it takes the lock (checkRoot); each function that writes or removes
// also refuses them itself, so that no caller can be led through one.

/** A link planted at `rel` of a fresh root (to a decoy file or folder), the call, the link. */
const WRITERS: {
  name: string;
  rel: string;
  kind: "file" | "dir";
  call(layout: ReturnType<typeof layoutOf>): Promise<unknown>;
}[] = [
  {
    name: "appendAudit, logs/",
    rel: "logs",
    kind: "dir",
    call: (layout) => appendAudit(layout, { at: "x", event: "checked", reason: "test" }),
  },
  {
    name: "appendAudit, logs/audit.jsonl",
    rel: "logs/audit.jsonl",
    kind: "file",
    call: (layout) => appendAudit(layout, { at: "x", event: "checked", reason: "test" }),
  },
  {
    name: "writeState",
    rel: "state.json",
    kind: "file",
    call: (layout) => writeState(layout, emptyState()),
  },
  { name: "readState", rel: "state.json", kind: "file", call: (layout) => readState(layout) },
  { name: "acquireLock, lock", rel: "lock", kind: "file", call: (layout) => acquireLock(layout) },
  {
    name: "acquireLock, lock.guard",
    rel: "lock.guard",
    kind: "file",
    call: (layout) => acquireLock(layout),
  },
  {
    name: "sweepLeftovers, builds/",
    rel: "builds",
    kind: "dir",
    call: (layout) => sweepLeftovers(layout),
  },
  {
    name: "sweepLeftovers, builds/.staging-*",
    rel: "builds/.staging-1.0.0-x",
    kind: "dir",
    call: (layout) => sweepLeftovers(layout),
  },
  {
    name: "pruneBackups, builds/",
    rel: "builds",
    kind: "dir",
    call: (layout) => pruneBackups(layout, emptyState(), { keep: 0 }),
  },
  {
    name: "switchCurrent, builds/<version>",
    rel: "builds/1.0.0",
    kind: "dir",
    call: (layout) => switchCurrent(layout, "1.0.0"),
  },
  {
    name: "stageBuild, builds/",
    rel: "builds",
    kind: "dir",
    call: (layout) => stage(layout),
  },
  {
    name: "stageBuild, builds/<version>",
    rel: "builds/1.0.0",
    kind: "dir",
    call: (layout) => stage(layout),
  },
  {
    name: "ensureDir, downloads/",
    rel: "downloads",
    kind: "dir",
    call: (layout) => ensureDir(layout, layout.downloads, MODES.privateDir),
  },
];

/** Stage an executable build 1.0.0 from a file in the root's parent. */
async function stage(layout: ReturnType<typeof layoutOf>): Promise<unknown> {
  const artifact = `${layout.root}.artifact`;
  await Deno.writeTextFile(artifact, "abc");
  return await stageBuild(layout, artifact, {
    version: "1.0.0",
    channel: "stable",
    kind: "executable",
    sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    executable: "ms11",
    state: emptyState(),
  });
}

Deno.test("every function that writes or removes in the root refuses a planted link itself", async (t) => {
  for (const { name, rel, kind, call } of WRITERS) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      const layout = layoutOf(`${dir.path}/root`);
      await ensureRoot(layout);
      await Deno.mkdir(`${layout.root}/builds`);
      await Deno.mkdir(`${layout.root}/logs`);
      const target = `${dir.path}/decoy`;
      await Deno.mkdir(`${target}/sub`, { recursive: true });
      await Deno.writeTextFile(`${target}/precious`, "the user's file\n");
      await Deno.mkdir(`${target}/.staging-1.0.0-x`);
      const linked = kind === "dir" ? target : `${target}/precious`;
      const path = `${layout.root}/${rel}`;
      await Deno.remove(path, { recursive: true }).catch(() => {});
      await Deno.symlink(linked, path);
      const outside = await tree(target);
      await rejectsWith(
        call(layout),
        Error,
        `Refusing to use ${path}: it is a symbolic link (to ${
          JSON.stringify(linked)
        }), and nothing in the install root but current may be one; remove it`,
      );
      assert.deepEqual(await tree(target), outside);
    });
  }
});

Deno.test("a download's partial file or resume record that is a symbolic link is refused", async () => {
  await using dir = await tempDir();
  const target = `${dir.path}/precious`;
  await Deno.writeTextFile(target, "the user's file\n");
  const dest = `${dir.path}/app.bin`;
  const sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("abc"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/app.bin`;
  try {
    // A resume record says the partial belongs to this download: the link is refused.
    await Deno.symlink(target, `${dest}.partial`);
    await Deno.writeTextFile(
      `${dest}.partial.json`,
      JSON.stringify({ url, sha256, size: 3, etag: null, last_modified: null }),
    );
    await rejectsWith(
      downloadArtifact(url, dest, { size: 3, sha256, requireHttps: false }),
      Error,
      `Refusing to open ${dest}.partial: it is a symbolic link (to ${JSON.stringify(target)})`,
    );
    assert.equal(await Deno.readTextFile(target), "the user's file\n");
    // Without one too; and a link in place of the resume record is refused the same way.
    await Deno.remove(`${dest}.partial.json`);
    await rejectsWith(
      downloadArtifact(url, dest, { size: 3, sha256, requireHttps: false }),
      Error,
      `Refusing to open ${dest}.partial: it is a symbolic link (to ${JSON.stringify(target)})`,
    );
    await Deno.remove(`${dest}.partial`);
    await Deno.symlink(target, `${dest}.partial.json`);
    await rejectsWith(
      downloadArtifact(url, dest, { size: 3, sha256, requireHttps: false }),
      Error,
      `Refusing to open ${dest}.partial.json: it is a symbolic link (to ${JSON.stringify(target)})`,
    );
    assert.equal((await Deno.lstat(`${dest}.partial.json`)).isSymlink, true);
  } finally {
    await server.shutdown();
  }
  assert.equal(await Deno.readTextFile(target), "the user's file\n");
});
