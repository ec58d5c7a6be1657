// lib/actions/install.ts: adoptBuild only (installRelease needs a release server: see the e2e tests).
import assert from "node:assert/strict";
import { LockHeldError } from "../lib/core/errors.ts";
import { adoptBuild } from "../lib/actions/install.ts";
import { type Layout, layoutOf } from "../lib/root/layout.ts";
import { readState, writeState } from "../lib/root/state.ts";
import { acquireLock } from "../lib/root/lock.ts";
import { buildRecord, makeRoot, namesIn, rejectsWith, type TempDir, tempDir } from "./_helpers.ts";

const NOW = new Date("2026-11-27T12:00:00.000Z");

async function sourceFile(dir: TempDir, content = "#!/bin/sh\necho adopted\n"): Promise<string> {
  const path = `${dir.path}/ms11-binary`;
  await Deno.writeTextFile(path, content);
  await Deno.chmod(path, 0o700);
  return path;
}

async function sourceDir(dir: TempDir): Promise<string> {
  const path = `${dir.path}/app`;
  await Deno.mkdir(`${path}/lib`, { recursive: true });
  await Deno.writeTextFile(`${path}/ms11`, "#!/bin/sh\necho dir\n");
  await Deno.chmod(`${path}/ms11`, 0o755);
  await Deno.writeTextFile(`${path}/lib/data.txt`, "library");
  await Deno.symlink("lib/data.txt", `${path}/link`);
  return path;
}

async function stateOf(layout: Layout) {
  const { state, problem } = await readState(layout);
  assert.equal(problem, null);
  return state;
}

Deno.test("adoptBuild adopts a single executable as the current build", async () => {
  await using dir = await tempDir();
  const source = await sourceFile(dir);
  const layout = layoutOf(`${dir.path}/root`);
  await adoptBuild(layout, source, { version: "v1.0.0", executable: "ms11", now: NOW });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  const main = `${layout.builds}/1.0.0/ms11`;
  assert.equal(await Deno.readTextFile(main), "#!/bin/sh\necho adopted\n");
  assert.equal((await Deno.stat(main)).mode! & 0o777, 0o755);
  assert.deepEqual(await namesIn(`${layout.builds}/1.0.0`), ["ms11"]);
  const state = await stateOf(layout);
  assert.deepEqual(state.builds, {
    "1.0.0": {
      version: "1.0.0",
      channel: "adopted",
      sha256: null,
      kind: "executable",
      installed_at: NOW.toISOString(),
      retired_at: null,
    },
  });
  assert.equal(state.staged, null);
  // Copied, never moved.
  assert.equal(await Deno.readTextFile(source), "#!/bin/sh\necho adopted\n");
  assert.equal((await Deno.stat(source)).mode! & 0o777, 0o700);
  // No staging leftovers.
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0"]);
});

Deno.test("adoptBuild adopts a directory build, symlinks verbatim", async () => {
  await using dir = await tempDir();
  const source = await sourceDir(dir);
  const layout = layoutOf(`${dir.path}/root`);
  await adoptBuild(layout, source, { version: "2.0.0-beta.1", executable: "ms11", now: NOW });
  assert.equal(await Deno.readLink(layout.current), "builds/2.0.0-beta.1");
  const build = `${layout.builds}/2.0.0-beta.1`;
  assert.deepEqual(await namesIn(build), ["lib", "link", "ms11"]);
  assert.equal(await Deno.readTextFile(`${build}/lib/data.txt`), "library");
  assert.equal(await Deno.readLink(`${build}/link`), "lib/data.txt");
  assert.equal(await Deno.readTextFile(`${layout.current}/ms11`), "#!/bin/sh\necho dir\n");
  const state = await stateOf(layout);
  assert.equal(state.builds["2.0.0-beta.1"].kind, "directory");
  assert.equal(state.builds["2.0.0-beta.1"].channel, "adopted");
  assert.equal(state.builds["2.0.0-beta.1"].sha256, null);
  // The source is untouched.
  assert.deepEqual(await namesIn(source), ["lib", "link", "ms11"]);
});

Deno.test("adoptBuild refuses a directory without the executable and creates nothing", async () => {
  await using dir = await tempDir();
  const source = await sourceDir(dir);
  const layout = layoutOf(`${dir.path}/root`);
  await rejectsWith(
    adoptBuild(layout, source, { version: "1.0.0", executable: "ms11.exe" }),
    Error,
    `Cannot adopt ${source}: it has no file ms11.exe (the configured executable)`,
  );
  await rejectsWith(
    adoptBuild(layout, source, { version: "1.0.0", executable: "lib" }),
    Error,
    `Cannot adopt ${source}: it has no file lib (the configured executable)`,
  );
  assert.deepEqual(await namesIn(dir.path), ["app"]);
});

Deno.test("adoptBuild refuses a missing source, a device and a bad version", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/root`);
  await rejectsWith(
    adoptBuild(layout, `${dir.path}/missing`, { version: "1.0.0", executable: "ms11" }),
    Error,
    `Cannot adopt ${dir.path}/missing: it does not exist`,
  );
  await rejectsWith(
    adoptBuild(layout, "/dev/null", { version: "1.0.0", executable: "ms11" }),
    Error,
    "Cannot adopt /dev/null: not a file or directory",
  );
  const source = await sourceFile(dir);
  await rejectsWith(
    adoptBuild(layout, source, { version: "1.0", executable: "ms11" }),
    TypeError,
    'Invalid --version "1.0": expected a semver version',
  );
  assert.deepEqual(await namesIn(dir.path), ["ms11-binary"]);
});

Deno.test("adoptBuild refuses a root that already has a current build", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0"], current: "1.0.0" });
  const before = await Deno.readTextFile(layout.state);
  const source = await sourceFile(dir);
  await rejectsWith(
    adoptBuild(layout, source, { version: "2.0.0", executable: "ms11" }),
    Error,
    `${layout.root} already has 1.0.0 installed; nothing adopted`,
  );
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
  assert.deepEqual(await namesIn(layout.builds), ["1.0.0"]);
  assert.equal(await Deno.readTextFile(layout.state), before);
});

Deno.test("adoptBuild sweeps leftovers, replaces a stale build dir and keeps other state", async () => {
  await using dir = await tempDir();
  const layout = await makeRoot(dir.path, { builds: ["1.0.0", "0.9.0"] });
  await Deno.writeTextFile(`${layout.builds}/1.0.0/stale`, "old junk");
  await Deno.mkdir(`${layout.builds}/.staging-1.0.0-adopt`);
  await Deno.mkdir(`${layout.builds}/.trash-0.8.0-1`);
  const { state } = await readState(layout);
  state.last_error = { at: "2026-11-01T00:00:00Z", command: "install", message: "offline" };
  await writeState(layout, state);
  const source = await sourceFile(dir);
  await adoptBuild(layout, source, { version: "1.0.0", executable: "ms11", now: NOW });
  assert.deepEqual(await namesIn(layout.builds), ["0.9.0", "1.0.0"]);
  assert.deepEqual(await namesIn(`${layout.builds}/1.0.0`), ["ms11"]);
  const after = await stateOf(layout);
  assert.deepEqual(after.last_error, state.last_error);
  assert.deepEqual(after.builds["0.9.0"], buildRecord("0.9.0"));
  assert.equal(after.builds["1.0.0"].channel, "adopted");
});

Deno.test("adoptBuild fails on a held lock", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/root`);
  const source = await sourceFile(dir);
  {
    using _held = await acquireLock(layout);
    await rejectsWith(
      adoptBuild(layout, source, { version: "1.0.0", executable: "ms11" }),
      LockHeldError,
      /is held by another ms11-update/,
    );
  }
  assert.equal(
    await Deno.readLink(layout.current).catch((e) => e instanceof Deno.errors.NotFound),
    true,
  );
  await adoptBuild(layout, source, { version: "1.0.0", executable: "ms11" });
  assert.equal(await Deno.readLink(layout.current), "builds/1.0.0");
});

Deno.test({
  name: "adoptBuild of a symlink to a directory copies the directory",
  async fn() {
    await using dir = await tempDir();
    const source = await sourceDir(dir);
    await Deno.symlink(source, `${dir.path}/app-link`);
    const layout = layoutOf(`${dir.path}/root`);
    await adoptBuild(layout, `${dir.path}/app-link`, { version: "1.0.0", executable: "ms11" });
    const info = await Deno.lstat(`${layout.builds}/1.0.0`);
    assert.equal(info.isSymlink, false);
    assert.equal(info.isDirectory, true);
    assert.deepEqual(await namesIn(`${layout.builds}/1.0.0`), ["lib", "link", "ms11"]);
  },
});
