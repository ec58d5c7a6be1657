import assert from "node:assert/strict";
import {
  buildDir,
  currentVersion,
  isBuildName,
  layoutOf,
  resolveRoot,
} from "../lib/root/layout.ts";
import { tempDir } from "./_helpers.ts";

Deno.test("resolveRoot: flag, then $MS11_UPDATE_ROOT, then config, then the default location", () => {
  const env = {
    MS11_UPDATE_ROOT: "/env/root",
    XDG_DATA_HOME: "/xdg",
    LOCALAPPDATA: "/local",
    HOME: "/home/u",
  };
  assert.equal(resolveRoot("/flag/root", env, "/cfg/root"), "/flag/root");
  assert.equal(resolveRoot(undefined, env, "/cfg/root"), "/env/root");
  assert.equal(resolveRoot("", env, "/cfg/root"), "/env/root");
  assert.equal(resolveRoot(undefined, { ...env, MS11_UPDATE_ROOT: "" }, "/cfg/root"), "/cfg/root");
  assert.equal(resolveRoot(undefined, { ...env, MS11_UPDATE_ROOT: undefined }, null), "/xdg/ms11");
  assert.equal(resolveRoot(undefined, { LOCALAPPDATA: "/local", HOME: "/h" }, null), "/local/ms11");
  assert.equal(resolveRoot(undefined, { HOME: "/home/u" }, null), "/home/u/.local/share/ms11");
  assert.equal(resolveRoot(undefined, {}, null), "./ms11");
  // Trailing slashes go, but the filesystem root stays.
  assert.equal(resolveRoot("/opt/ms11///", {}, null), "/opt/ms11");
  assert.equal(resolveRoot("/", {}, null), "/");
});

Deno.test({
  name: "resolveRoot treats an empty $XDG_DATA_HOME as unset",
  fn() {
    assert.equal(
      resolveRoot(undefined, { XDG_DATA_HOME: "", HOME: "/home/u" }, null),
      "/home/u/.local/share/ms11",
    );
  },
});

Deno.test("layoutOf names everything inside the root; isBuildName keeps builds inside builds/", () => {
  const layout = layoutOf("/opt/ms11");
  assert.equal(layout.state, "/opt/ms11/state.json");
  assert.equal(
    buildDir(layout, "1.5.0-canary.20261126.3"),
    "/opt/ms11/builds/1.5.0-canary.20261126.3",
  );
  assert.ok(isBuildName("1.5.0-canary.20261126.3+linux"));
  for (const bad of ["", ".", "..", "1.0.0/../x", "../1.0.0", "a..b", "-1.0.0", "x".repeat(129)]) {
    assert.ok(!isBuildName(bad), bad);
  }
});

Deno.test("currentVersion reads the current link; null when there is none", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  assert.equal(await currentVersion(layout), null);
  await Deno.symlink("builds/1.2.0", layout.current);
  assert.equal(await currentVersion(layout), "1.2.0");
});
