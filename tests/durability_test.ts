// What reaches the disk before a build can become current, observed from the outside: each case
// runs the real code in a subprocess under strace and checks which paths were fsynced. (A test
// cannot cut the power; it can check that every byte that matters was flushed before the rename
// that publishes it.)
import assert from "node:assert/strict";
import { makeTarGz, makeZip } from "./_archives.ts";
import { fsyncedPaths, haveStrace, libUrl, sha256, tempDir } from "./_helpers.ts";

const ignore = !haveStrace();

/** The paths of `set` that match `pattern`, sorted. */
function matching(set: Set<string>, pattern: RegExp): string[] {
  return [...set].filter((path) => pattern.test(path)).sort();
}

for (const sync of [true, false]) {
  Deno.test({
    name: `downloadArtifact with sync ${sync} ${sync ? "fsyncs" : "does not fsync"} the file`,
    ignore,
    async fn() {
      await using dir = await tempDir();
      const data = new Uint8Array(300_000).fill(7);
      const dest = `${dir.path}/app.bin`;
      const synced = await fsyncedPaths(`
        import { downloadArtifact } from "${libUrl("net/download.ts")}";
        const data = new Uint8Array(${data.length}).fill(7);
        const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} },
          () => new Response(data));
        await downloadArtifact(\`http://127.0.0.1:\${server.addr.port}/app.bin\`, ${
        JSON.stringify(dest)
      }, { size: data.length, sha256: "${sha256(data)}", requireHttps: false, sync: ${sync} });
        await server.shutdown();
      `);
      assert.equal(synced.has(`${dest}.partial`), sync, [...synced].join(", "));
      // The rename into place is made durable either way.
      assert.ok(synced.has(dir.path), [...synced].join(", "));
    },
  });
}

Deno.test({
  name: "stageBuild fsyncs an executable (which the download left unsynced) before the rename",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const artifact = `${dir.path}/downloads/ms11-1.1.0`;
    await Deno.mkdir(`${dir.path}/downloads`);
    const bytes = new TextEncoder().encode("#!/bin/sh\necho MS11 1.1.0\n");
    await Deno.writeFile(artifact, bytes);
    const synced = await fsyncedPaths(`
      import { layoutOf } from "${libUrl("root/layout.ts")}";
      import { stageBuild } from "${libUrl("root/stage.ts")}";
      import { emptyState } from "${libUrl("root/state.ts")}";
      await stageBuild(layoutOf(${JSON.stringify(dir.path)}), ${JSON.stringify(artifact)}, {
        version: "1.1.0", channel: "stable", kind: "executable", sha256: "${sha256(bytes)}",
        executable: "ms11", state: emptyState(),
      });
    `);
    const staging = /\/builds\/\.staging-1\.1\.0-[0-9a-z]+(\/ms11)?$/;
    const paths = matching(synced, staging);
    assert.equal(paths.length, 2, [...synced].join(", "));
    assert.ok(paths.some((p) => p.endsWith("/ms11")), "the executable itself");
    assert.ok(synced.has(`${dir.path}/builds`), "the folder it is renamed into");
  },
});

for (const kind of ["tar.gz", "zip"] as const) {
  Deno.test({
    name: `stageBuild of a ${kind} fsyncs every file and folder it extracts`,
    ignore,
    async fn() {
      await using dir = await tempDir();
      await Deno.mkdir(`${dir.path}/downloads`);
      const artifact = `${dir.path}/downloads/app.${kind}`;
      const script = "#!/bin/sh\necho MS11 2.0.0\n";
      if (kind === "tar.gz") {
        await makeTarGz(artifact, [
          { type: "file", name: "ms11", data: script, mode: 0o755 },
          { type: "dir", name: "lib" },
          { type: "file", name: "lib/data.txt", data: "data" },
        ]);
      } else {
        await makeZip(artifact, [
          { name: "ms11", data: script, mode: 0o100755 },
          { name: "lib/data.txt", data: "data" },
        ]);
      }
      const bytes = await Deno.readFile(artifact);
      const synced = await fsyncedPaths(`
        import { layoutOf } from "${libUrl("root/layout.ts")}";
        import { stageBuild } from "${libUrl("root/stage.ts")}";
        import { emptyState } from "${libUrl("root/state.ts")}";
        await stageBuild(layoutOf(${JSON.stringify(dir.path)}), ${JSON.stringify(artifact)}, {
          version: "2.0.0", channel: "stable", kind: "${kind}", sha256: "${sha256(bytes)}",
          executable: "ms11", state: emptyState(),
        });
      `);
      const inside = matching(synced, /\/builds\/\.staging-2\.0\.0-[0-9a-z]+\/./)
        .map((p) => p.replace(/^.*\/\.staging-2\.0\.0-[0-9a-z]+\//, ""));
      assert.deepEqual(inside, ["lib", "lib/data.txt", "ms11"], [...synced].join(", "));
    },
  });
}

Deno.test({
  name: "adoptBuild fsyncs every file and folder it copies before the build becomes current",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const source = `${dir.path}/existing`;
    await Deno.mkdir(`${source}/lib/deep`, { recursive: true });
    await Deno.writeTextFile(`${source}/ms11`, "#!/bin/sh\necho MS11 1.0.0\n");
    await Deno.writeTextFile(`${source}/lib/deep/data.txt`, "data");
    await Deno.symlink("deep/data.txt", `${source}/lib/link`);
    const root = `${dir.path}/root`;
    const synced = await fsyncedPaths(`
      import { adoptBuild } from "${libUrl("actions/install.ts")}";
      import { layoutOf } from "${libUrl("root/layout.ts")}";
      await adoptBuild(layoutOf(${JSON.stringify(root)}), ${JSON.stringify(source)}, {
        version: "1.0.0", executable: "ms11",
      });
    `);
    const staging = `${root}/builds/.staging-1.0.0-adopt`;
    const inside = matching(synced, /\/\.staging-1\.0\.0-adopt\//)
      .map((p) => p.slice(staging.length + 1));
    assert.deepEqual(inside, ["lib", "lib/deep", "lib/deep/data.txt", "ms11"]);
    assert.ok(synced.has(staging), "the build folder itself");
    assert.equal(await Deno.readLink(`${root}/current`), "builds/1.0.0");
  },
});
