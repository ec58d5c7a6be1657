// The soak test's victim: runs update → apply → (confirm | rollback | unconfirmed launches)
// cycles on one install root for ever, through the real lib/ functions, against an in-memory
// release server (an injected fetch). bench/soak.ts kills it with SIGKILL at a random moment.
//
//   deno run -A bench/_soak_worker.ts ROOT SEED
import { validateConfig } from "../lib/core/config_schema.ts";
import { confirmBuild } from "../lib/root/health.ts";
import { currentVersion, layoutOf } from "../lib/root/layout.ts";
import { rollback } from "../lib/root/rollback.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { xorshift32 } from "./_util.ts";

/** The application every soak build is: a script naming its version. */
export function soakScript(version: string): string {
  return `#!/bin/sh\necho "MS11 ${version}"\n`;
}

const PLATFORM = "linux-x64";

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  const [root, seedText] = Deno.args;
  const layout = layoutOf(root);
  const seed = Number(seedText) >>> 0 || 1;
  const base = seed % 1000;
  const random = xorshift32(seed);
  const config = validateConfig({
    update_servers: { stable: { base_url: "https://updates.test/stable", description: "soak" } },
    // The soak is about crash safety; signed manifests are covered by tests/hostile_repo_test.ts.
    security: { allowed_domains: ["updates.test"], verify_signatures: false },
    max_retry_attempts: 1,
    keep_backups_count: 1,
  });
  let published = "";
  const fetcher = async (input: string | URL | Request): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    if (url.pathname === "/stable/manifest.json") {
      const bytes = new TextEncoder().encode(soakScript(published));
      return Response.json({
        schema: 1,
        channel: "stable",
        version: published,
        released_at: "2026-11-27T00:00:00Z",
        artifacts: {
          [PLATFORM]: {
            url: `${published}/ms11`,
            size: bytes.length,
            sha256: await sha256(bytes),
            kind: "executable",
          },
        },
      });
    }
    const match = url.pathname.match(/^\/stable\/([^/]+)\/ms11$/);
    if (match) {
      const bytes = new TextEncoder().encode(soakScript(match[1]));
      return new Response(bytes, { headers: { "content-length": String(bytes.length) } });
    }
    return new Response("not found", { status: 404 });
  };
  const env = { now: () => new Date(), fetch: fetcher as typeof fetch };
  console.log("ready");
  for (let cycle = 0;; cycle++) {
    // A version above anything installed, so that every cycle downloads and stages.
    published = `2.${base}.${cycle}`;
    await runUpdate(layout, config, {
      channel: "stable",
      platform: PLATFORM,
      env,
      allowDowngrade: true,
      force: true,
      lockWaitMs: 1000,
      freeSpace: () => Promise.resolve(Number.MAX_SAFE_INTEGER),
    });
    await applyStaged(layout, { keepBackups: 1, maxAttempts: 1, lockWaitMs: 1000 });
    const choice = random();
    if (choice < 0.4) await confirmBuild(layout, { keepBackups: 1, lockWaitMs: 1000 });
    else if (choice < 0.7) {
      if (await currentVersion(layout) !== null) {
        await rollback(layout, { lockWaitMs: 1000 }).catch((e) => {
          if (!(e instanceof RangeError)) throw e; // no backup to go back to: fine
        });
      }
    } else {
      // Launches without a confirm: the next apply rolls the build back automatically.
      await applyStaged(layout, { keepBackups: 1, maxAttempts: 1, lockWaitMs: 1000 });
    }
  }
}
