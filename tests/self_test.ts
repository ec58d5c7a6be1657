// The updater's own update at the library level (lib/self/), with shell scripts as compiled
// updaters (the executable form runs its file directly): the state file across versions, the
// placement at the launcher's path (rename over, never missing or half-written, across
// filesystems), the trial of a candidate, promotion, refusal and rollback.
import assert from "node:assert/strict";
import { hashFile } from "../lib/core/hash.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { copyOver } from "../lib/self/files.ts";
import { candidateFor } from "../lib/self/launch.ts";
import { launcherFileMode } from "../lib/self/place.ts";
import { promoteCandidate, refuseCandidate, rollBackSelf } from "../lib/self/promote.ts";
import { keepArtifact } from "../lib/self/stage.ts";
import {
  emptySelfState,
  parseSelfState,
  readSelfState,
  SELF_STATE_SCHEMA,
  selfPaths,
  type SelfState,
  writeSelfState,
} from "../lib/self/state.ts";
import { updaterStatus } from "../lib/self/status.ts";
import { handOff } from "../lib/self/trial.ts";
import { libUrl, namesIn, tempDir } from "./_helpers.ts";

/** A compiled "updater": a shell script that says its version; `body` runs for anything else. */
function updaterScript(version: string, body = "exit 0"): string {
  return `#!/bin/sh\n[ "$1" = --version ] && echo ${version} && exit 0\n${body}\n`;
}

interface Setup {
  dir: string;
  layout: Layout;
  form: { kind: "executable"; path: string; key: string };
  state: SelfState;
}

/** A launcher's path holding updater 0.1.0, and `candidate` (a script) kept and staged as 0.2.0. */
async function staged(dir: string, candidate: string, root = `${dir}/root`): Promise<Setup> {
  const layout = layoutOf(root);
  await Deno.mkdir(layout.builds, { recursive: true }); // an install
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  const path = `${dir}/bin/ms11-update`;
  await Deno.writeTextFile(path, updaterScript("0.1.0"), { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  // Downloaded into the root's downloads/, as lib/actions/self.ts does.
  await Deno.mkdir(layout.downloads, { recursive: true });
  const download = `${layout.downloads}/updater-0.2.0-linux-x64.bin`;
  await Deno.writeTextFile(download, candidate);
  const { sha256 } = await hashFile(download);
  const state = emptySelfState();
  state.kept["0.2.0"] = await keepArtifact(layout, download, {
    version: "0.2.0",
    kind: "executable",
    sha256,
    channel: "stable",
    now: new Date("2026-11-27T00:00:00Z"),
  });
  state.staged = {
    version: "0.2.0",
    channel: "stable",
    staged_at: "2026-11-27T00:00:00Z",
    by: "0.1.0",
    path,
  };
  await writeSelfState(layout, state);
  return { dir, layout, form: { kind: "executable", path, key: "linux-x64" }, state };
}

Deno.test("the updater's state: an older file is read, unknown fields survive a rewrite, a newer schema is refused", async () => {
  await using tmp = await tempDir();
  const layout = layoutOf(tmp.path);
  // A minimal file of schema 1 (as the first version wrote it, before fields were added).
  await Deno.mkdir(selfPaths(layout).dir, { recursive: true });
  await Deno.writeTextFile(selfPaths(layout).state, '{"schema": 1, "current": "0.1.0"}');
  const old = await readSelfState(layout);
  assert.deepEqual(old, { state: { ...emptySelfState(), current: "0.1.0" }, problem: null });

  // A newer updater's fields, at the top level and of a kind this one does not know: kept.
  const newer = {
    schema: SELF_STATE_SCHEMA,
    current: "0.3.0",
    previous: "0.2.0",
    channels_seen: { stable: "0.3.0" },
    refused: [{ version: "0.2.5", reason: "exited with code 1 before it started", at: "x" }],
  };
  await Deno.writeTextFile(selfPaths(layout).state, JSON.stringify(newer));
  const read = await readSelfState(layout);
  assert.deepEqual(read.state.other, { channels_seen: { stable: "0.3.0" } });
  read.state.previous = null;
  await writeSelfState(layout, read.state);
  const written = JSON.parse(await Deno.readTextFile(selfPaths(layout).state));
  assert.deepEqual(written.channels_seen, { stable: "0.3.0" });
  assert.equal(written.previous, null);

  // Entries that do not fit are dropped and named; the rest stands.
  const { state, problem } = parseSelfState({
    schema: 1,
    current: "0.1.0",
    staged: { version: "0.2.0", path: "relative/ms11-update" },
    kept: { "0.1.0": { version: "0.1.0", kind: "exe" } },
  }, "s.json");
  assert.deepEqual([state.current, state.staged, state.kept], ["0.1.0", null, {}]);
  assert.equal(
    problem,
    "Updater state s.json had unreadable entries (staged, kept.0.1.0); they were ignored",
  );

  // A newer schema: every reader refuses or ignores it, and nothing rewrites it.
  const future = JSON.stringify({ schema: SELF_STATE_SCHEMA + 1, staged: { version: "9.0.0" } });
  await Deno.writeTextFile(selfPaths(layout).state, future);
  await assert.rejects(readSelfState(layout), {
    name: "RangeError",
    message: `Updater state ${selfPaths(layout).state} has schema ${
      SELF_STATE_SCHEMA + 1
    }, newer than this ms11-update understands (${SELF_STATE_SCHEMA}); it was written by a newer ms11-update`,
  });
  const form = { kind: "executable" as const, path: "/opt/bin/ms11-update", key: "linux-x64" };
  assert.equal(await candidateFor(layout, form), null); // the launch goes on
  assert.match((await updaterStatus(layout, { form })).problem!, /newer than this ms11-update/);
  await assert.rejects(
    promoteCandidate(layout, { form, version: "9.0.0" }, { reason: "test" }),
    /newer than this ms11-update/,
  );
  await assert.rejects(refuseCandidate(layout, "9.0.0", { reason: "test" }), RangeError);
  assert.equal(await Deno.readTextFile(selfPaths(layout).state), future);
});

Deno.test(
  "a kept updater is put at the launcher's path by rename: a reader never sees it missing or half-written",
  {
    timeout: 120_000,
  },
  async () => {
    await using tmp = await tempDir();
    const layout = layoutOf(`${tmp.path}/root`);
    await Deno.mkdir(layout.builds, { recursive: true });
    const path = `${tmp.path}/bin/ms11-update`;
    await Deno.mkdir(`${tmp.path}/bin`);
    // Two updaters of 256 KiB each (a rename is atomic whatever the size; a copy in place is not).
    const state = emptySelfState();
    const bodies: Record<string, string> = {};
    for (const version of ["0.1.0", "0.2.0"]) {
      bodies[version] = updaterScript(version) + `# ${version[2].repeat(256 * 1024)}\n`;
      await Deno.writeTextFile(`${tmp.path}/${version}`, bodies[version]);
      const { sha256 } = await hashFile(`${tmp.path}/${version}`);
      state.kept[version] = await keepArtifact(layout, `${tmp.path}/${version}`, {
        version,
        kind: "executable",
        sha256,
        channel: "stable",
        now: new Date(),
      });
    }
    await Deno.copyFile(`${tmp.path}/0.1.0`, path);
    await Deno.chmod(path, 0o750);
    await writeSelfState(layout, state);
    // A reader in another process runs the path in a loop and says what it saw.
    const reader = new Deno.Command("sh", {
      args: [
        "-c",
        `while [ ! -e "${tmp.path}/stop" ]; do "${path}" --version 2>&1 || echo failed; done`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // The placements run in a process of their own, as a promoting updater does (in the test
    // runner, another test's subprocess could inherit the copy's write handle before its exec,
    // and a reader would meet "Text file busy" from that, not from the placement). They go on,
    // alternating, until the reader has run the path 30 times, and end with 0.1.0.
    const placer = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--quiet",
        `
        import { layoutOf } from "${libUrl("root/layout.ts")}";
        import { placeUpdater } from "${libUrl("self/place.ts")}";
        import { readSelfState } from "${libUrl("self/state.ts")}";
        const layout = layoutOf(${JSON.stringify(layout.root)});
        const { state } = await readSelfState(layout);
        let i = 0;
        for (; i < 5000; i++) {
          await placeUpdater(layout, state.kept[i % 2 === 0 ? "0.2.0" : "0.1.0"], ${
          JSON.stringify(path)
        });
          if (i % 2 === 1 && i >= 39) {
            try { Deno.statSync(${
          JSON.stringify(`${tmp.path}/enough`)
        }); break; } catch { /* not yet */ }
          }
        }
        console.log(i + 1);
      `,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let placerDone = false;
    placer.status.then(() => placerDone = true);
    const seen: string[] = [];
    let rest = "";
    let sinceNew = -1; // runs since the reader first saw 0.2.0 (the placements under way)
    for await (const chunk of reader.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      seen.push(...lines);
      for (const line of lines) if (sinceNew >= 0 || line === "0.2.0") sinceNew++;
      if (sinceNew >= 30 || placerDone) break;
    }
    await Deno.writeTextFile(`${tmp.path}/enough`, "");
    const placed = await placer.output();
    assert.equal(placed.code, 0, new TextDecoder().decode(placed.stderr));
    assert.ok(Number(new TextDecoder().decode(placed.stdout)) >= 40);
    assert.ok(sinceNew >= 30, `the reader ran the path ${sinceNew} times while it was replaced`);
    await Deno.writeTextFile(`${tmp.path}/stop`, "");
    await reader.status;
    await reader.stderr.cancel();
    assert.deepEqual([...new Set(seen)].sort(), ["0.1.0", "0.2.0"]);
    assert.equal(await Deno.readTextFile(path), bodies["0.1.0"]);
    assert.equal(await launcherFileMode(path), 0o750, "the launcher's file keeps its mode");
    assert.deepEqual(await namesIn(`${tmp.path}/bin`), ["ms11-update"], "no temporary file left");
  },
);

Deno.test("the replacement works across filesystems: a tmpfs install root and download, the launcher's path on disk", async (t) => {
  const shm = "/dev/shm";
  const here = await Deno.stat(Deno.cwd());
  const there = await Deno.stat(shm).catch(() => null);
  if (there === null || there.dev === here.dev) {
    // Every Linux machine CI runs on has a tmpfs at /dev/shm: a missing one is a failure.
    assert.fail(`${shm} is not a filesystem of its own here`);
  }
  await using disk = await tempDir();
  const ram = await Deno.makeTempDir({ dir: shm, prefix: "ms11-self-" });
  try {
    const setup = await staged(disk.path, updaterScript("0.2.0"), `${ram}/root`);
    const tmpfs = (await Deno.stat(ram)).dev;
    assert.notEqual((await Deno.stat(setup.form.path)).dev, tmpfs);
    assert.equal((await Deno.stat(setup.layout.downloads)).dev, tmpfs);
    assert.equal((await Deno.stat(`${setup.layout.root}/updater/0.2.0`)).dev, tmpfs);
    await t.step("promote: a copy beside the launcher's path, then a rename", async () => {
      assert.equal(
        await promoteCandidate(setup.layout, { form: setup.form, version: "0.2.0" }, {
          reason: "test",
          running: "0.1.0",
        }),
        true,
      );
      assert.equal(await Deno.readTextFile(setup.form.path), updaterScript("0.2.0"));
      assert.equal((await Deno.stat(setup.form.path)).mode! & 0o777, 0o755);
      assert.deepEqual(await namesIn(`${disk.path}/bin`), ["ms11-update"]);
    });
    await t.step("roll back: the previous copy (on tmpfs) comes back the same way", async () => {
      const back = await rollBackSelf(setup.layout, setup.form, {
        reason: "by hand",
        running: "0.2.0",
        check: () => Promise.resolve(null),
      });
      assert.deepEqual(back, { from: "0.2.0", to: "0.1.0", path: setup.form.path });
      assert.equal(await Deno.readTextFile(setup.form.path), updaterScript("0.1.0"));
    });
  } finally {
    await Deno.remove(ram, { recursive: true });
  }
});

Deno.test("a copy that does not hold the expected bytes replaces nothing", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/new`, "new");
  await Deno.writeTextFile(`${tmp.path}/ms11-update`, "old");
  await assert.rejects(
    copyOver(`${tmp.path}/new`, `${tmp.path}/ms11-update`, { sha256: "0".repeat(64), mode: 0o755 }),
    {
      message: `Copy of ${tmp.path}/new has SHA-256 ${
        (await hashFile(`${tmp.path}/new`)).sha256
      }, not ${"0".repeat(64)}; ${tmp.path}/ms11-update was not replaced`,
    },
  );
  assert.equal(await Deno.readTextFile(`${tmp.path}/ms11-update`), "old");
  assert.deepEqual(await namesIn(tmp.path), ["ms11-update", "new"].sort());
});

Deno.test("a launcher's path that is a symbolic link is refused before anything is written", async () => {
  await using tmp = await tempDir();
  const setup = await staged(tmp.path, updaterScript("0.2.0"));
  await Deno.rename(setup.form.path, `${tmp.path}/bin/real`);
  await Deno.symlink("real", setup.form.path);
  await assert.rejects(
    promoteCandidate(setup.layout, { form: setup.form, version: "0.2.0" }, {
      reason: "test",
      running: "0.1.0",
    }),
    {
      message:
        `The updater at ${setup.form.path} is a symbolic link; ms11-update replaces only a regular file (point the launcher at the file itself)`,
    },
  );
  assert.equal(await Deno.readTextFile(`${tmp.path}/bin/real`), updaterScript("0.1.0"));
  assert.equal((await readSelfState(setup.layout)).state.staged?.version, "0.2.0");
});

Deno.test("a candidate that reports its start is promoted, and its exit code is the launch's", async () => {
  await using tmp = await tempDir();
  // It reports (as lib/self/launch.ts reportStarted does), then the "application" exits 5.
  const setup = await staged(
    tmp.path,
    updaterScript("0.2.0", 'echo 0.2.0 > "$MS11_UPDATE_TRIAL"\necho "args: $*"\nexit 5'),
  );
  const notices: string[] = [];
  const code = await handOff(setup.layout, setup.state.kept["0.2.0"], {
    args: ["apply", "--root", setup.layout.root],
    form: setup.form,
    running: "0.1.0",
    onNotice: (line) => notices.push(line),
  });
  assert.equal(code, 5);
  assert.deepEqual(notices, [`ms11-update 0.2.0 started; it replaces 0.1.0 at ${setup.form.path}`]);
  assert.equal(
    await Deno.readTextFile(setup.form.path),
    updaterScript("0.2.0", 'echo 0.2.0 > "$MS11_UPDATE_TRIAL"\necho "args: $*"\nexit 5'),
  );
  const { state } = await readSelfState(setup.layout);
  assert.deepEqual([state.current, state.previous, state.staged, state.last?.event], [
    "0.2.0",
    "0.1.0",
    null,
    "promoted",
  ]);
  // The running updater was kept as the previous one: the bytes that were at the path.
  assert.equal(
    await Deno.readTextFile(`${setup.layout.root}/updater/0.1.0/ms11-update`),
    updaterScript("0.1.0"),
  );
  assert.deepEqual(await namesIn(`${setup.layout.root}/updater`), ["0.1.0", "0.2.0", "state.json"]);
  const audit = (await Deno.readTextFile(`${setup.layout.root}/logs/audit.jsonl`)).trim().split(
    "\n",
  )
    .map((line) => JSON.parse(line));
  assert.deepEqual(audit.map((e) => [e.event, e.version, e.from]), [[
    "updater_promoted",
    "0.2.0",
    "0.1.0",
  ]]);
  // 0.2.0 runs now: nothing is staged for it.
  assert.equal(await candidateFor(setup.layout, setup.form, "0.2.0"), null);
});

Deno.test("a candidate killed before it started is refused; the launcher's path is never touched", async () => {
  await using tmp = await tempDir();
  const setup = await staged(tmp.path, updaterScript("0.2.0", "kill -9 $$"));
  const notices: string[] = [];
  const code = await handOff(setup.layout, setup.state.kept["0.2.0"], {
    args: ["apply"],
    form: setup.form,
    running: "0.1.0",
    onNotice: (line) => notices.push(line),
  });
  assert.equal(code, null);
  assert.deepEqual(notices, [
    "ms11-update 0.2.0 was killed by SIGKILL before it started; it was refused, and 0.1.0 runs this launch",
  ]);
  assert.equal(await Deno.readTextFile(setup.form.path), updaterScript("0.1.0"));
  const { state } = await readSelfState(setup.layout);
  assert.deepEqual(
    [state.staged, state.refused.map((r) => r.version), state.last?.event, Object.keys(state.kept)],
    [null, ["0.2.0"], "failed", []],
  );
  assert.equal(await candidateFor(setup.layout, setup.form, "0.1.0"), null);
});

Deno.test("only the updater that staged a candidate, at its path, hands a launch to it", async () => {
  await using tmp = await tempDir();
  const setup = await staged(tmp.path, updaterScript("0.2.0"));
  assert.equal((await candidateFor(setup.layout, setup.form, "0.1.0"))?.version, "0.2.0");
  assert.equal(await candidateFor(setup.layout, setup.form, "0.1.1"), null);
  assert.equal(
    await candidateFor(setup.layout, { ...setup.form, path: "/other/ms11-update" }, "0.1.0"),
    null,
  );
  assert.equal(
    await candidateFor(setup.layout, { ...setup.form, kind: "bundle" } as never, "0.1.0"),
    null,
  );
  // Inside a candidate on trial, trials never nest.
  Deno.env.set("MS11_UPDATE_TRIAL", `${tmp.path}/report`);
  try {
    assert.equal(await candidateFor(setup.layout, setup.form, "0.1.0"), null);
  } finally {
    Deno.env.delete("MS11_UPDATE_TRIAL");
  }
  // Garbage: the launch goes on with the updater at the path.
  await Deno.writeTextFile(selfPaths(setup.layout).state, "{not json");
  assert.equal(await candidateFor(setup.layout, setup.form, "0.1.0"), null);
});

Deno.test("a rollback whose smoke test fails replaces nothing", async () => {
  await using tmp = await tempDir();
  const setup = await staged(tmp.path, updaterScript("0.2.0"));
  await promoteCandidate(setup.layout, { form: setup.form, version: "0.2.0" }, {
    reason: "test",
    running: "0.1.0",
  });
  const before = await Deno.readTextFile(selfPaths(setup.layout).state);
  await assert.rejects(
    rollBackSelf(setup.layout, setup.form, {
      reason: "by hand",
      running: "0.2.0",
      check: () =>
        Promise.resolve(
          "ms11-update 0.1.0 status --json exited with code 1: State file has schema 3",
        ),
    }),
    {
      message:
        "Not rolling back to ms11-update 0.1.0: ms11-update 0.1.0 status --json exited with code 1: State file has schema 3",
    },
  );
  assert.equal(await Deno.readTextFile(setup.form.path), updaterScript("0.2.0"));
  assert.equal(await Deno.readTextFile(selfPaths(setup.layout).state), before);
  // A previous of another form is refused too.
  await assert.rejects(
    rollBackSelf(setup.layout, { kind: "bundle", path: `${tmp.path}/main.js`, key: "bundle" }, {
      reason: "by hand",
      running: "0.2.0",
      check: () => Promise.resolve(null),
    }),
    { message: "The previous ms11-update 0.1.0 is an executable; this one runs as a bundle" },
  );
});

Deno.test("the updater's files in the install root follow lib/root/safe.ts: no link followed, owner-only where it matters", async () => {
  await using tmp = await tempDir();
  const setup = await staged(tmp.path, updaterScript("0.2.0"));
  const { dir, state: file } = selfPaths(setup.layout);
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o755);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o644);
  assert.equal((await Deno.stat(`${dir}/0.2.0`)).mode! & 0o777, 0o755);
  // A link planted at the state file: never read through, never written through.
  const outside = `${tmp.path}/outside.json`;
  await Deno.writeTextFile(outside, JSON.stringify({ schema: 1 }));
  await Deno.rename(file, `${tmp.path}/saved.json`);
  await Deno.symlink(outside, file);
  const refusal = new RegExp(`^Error: Refusing to use ${file}: it is a symbolic link`);
  await assert.rejects(readSelfState(setup.layout), refusal);
  await assert.rejects(writeSelfState(setup.layout, emptySelfState()), refusal);
  assert.equal(await candidateFor(setup.layout, setup.form, "0.1.0"), null); // the launch goes on
  assert.equal(await Deno.readTextFile(outside), JSON.stringify({ schema: 1 }));
  await Deno.remove(file);
  await Deno.rename(`${tmp.path}/saved.json`, file);
  // A folder others may write is refused before a command changes anything.
  const { checkRoot } = await import("../lib/root/safe.ts");
  await Deno.chmod(dir, 0o777);
  await assert.rejects(checkRoot(setup.layout), {
    message:
      `Folder ${dir} is writable by other users (mode 0777); refusing to use it: run chmod go-w ${dir}`,
  });
  await assert.rejects(
    promoteCandidate(setup.layout, { form: setup.form, version: "0.2.0" }, {
      reason: "test",
      running: "0.1.0",
    }),
    /is writable by other users/,
  );
  assert.equal(await Deno.readTextFile(setup.form.path), updaterScript("0.1.0"));
  await Deno.chmod(dir, 0o755);
  // The updater's state writable by others: refused as well.
  await Deno.chmod(file, 0o666);
  await assert.rejects(
    readSelfState(setup.layout),
    /is writable by other users \(mode 0666\); refusing to use it: run chmod go-w /,
  );
});
