// The demo's staged-rollout part (tools/_demo_rollout.ts) against a real tree, server and CLI:
// the fleet installs 1.0.0, some take 1.1.0 at 10%, all at 100% with none losing it, a tester
// takes 1.2.0 ahead of its rollout, and after the yank a new install is offered 1.1.0 and every
// install that had 1.2.0 leaves it at its next launch.
import assert from "node:assert/strict";
import { detectPlatform } from "../lib/core/config.ts";
import { serveReleases } from "../lib/publish/serve.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { FLEET_SIZE, rolloutPart } from "../tools/_demo_rollout.ts";
import { runCli } from "./_e2e.ts";

Deno.test("the demo's rollout part: 10% reaches some, a widen to 100% all and none loses it, a yanked release is offered to nobody and left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ms11-demo-rollout-" });
  const tree = `${dir}/releases`;
  await Deno.mkdir(tree);
  const written = await writeKeyPair(`${dir}/keys`);
  await readSigningKey(written.privatePath);
  const server = serveReleases(tree, { hostname: "127.0.0.1", port: 0 });
  const lines: string[] = [];
  try {
    await rolloutPart({
      dir,
      tree,
      serverUrl: server.url,
      platform: detectPlatform(),
      publicKey: written.publicKey,
      keyFile: written.privatePath,
      async publisher(...args) {
        const run = await runCli(args);
        assert.equal(run.code, 0, run.stderr);
        return run.stdout.trim();
      },
      async makeBuild(version) {
        const path = `${dir}/ms11-${version}`;
        await Deno.writeTextFile(path, `#!/bin/sh\necho "MS11 ${version}"\n`);
        return path;
      },
      say: (text) => lines.push(text),
      dim: (text) => text,
      step: (text) => lines.push(`[step] ${text}`),
    });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const steps = lines.filter((l) => l.startsWith("[step]"));
  assert.equal(steps.length, 5);
  assert.ok(lines.includes(`  1.0.0: ${FLEET_SIZE} of ${FLEET_SIZE}`), lines.join("\n"));
  // At 10%: some, not all (the chance that all 20 are in is 1e-20).
  const at10 = lines.find((l) => l.includes("(about 2 of 20 expected)"))!;
  assert.match(at10, /1\.0\.0: \d+ of 20/, at10);
  // Widened: none that had it lost it, and at 100% every install runs 1.1.0.
  const widened = lines.filter((l) => l.includes("lost it:"));
  assert.equal(widened.length, 2);
  assert.ok(widened.every((l) => l.endsWith("lost it: 0")), widened.join("\n"));
  assert.ok(widened[1].startsWith(`  1.1.0: ${FLEET_SIZE} of ${FLEET_SIZE};`), widened[1]);
  // The tester took 1.2.0 ahead of its rollout; after the yank a new install is offered 1.1.0.
  assert.ok(lines.some((l) => /^ {2}1\.2\.0: \d+ of 20 \(#01/.test(l)), lines.join("\n"));
  assert.ok(lines.includes("  a new install is offered 1.1.0; 1.2.0 is offered to nobody"));
  // At their next launch, offline, every install that had taken 1.2.0 left it for 1.1.0.
  assert.ok(
    lines.includes(`  after the next check and launch: 1.1.0: ${FLEET_SIZE} of ${FLEET_SIZE}`),
  );
  const retreat = lines.at(-1)!;
  assert.match(
    retreat,
    /^ {2}(\d+) of \1 install\(s\) that had 1\.2\.0 moved off it: #01 back to 1\.1\.0/,
  );
});
