// The demo's staged-rollout part (tools/demo.ts; issue #14): a fleet of simulated installs on one
// machine, each an install root with its own random install id, updated with the library the CLI
// uses (in-process, so twenty installs take a second), while the publisher's side runs the real
// CLI: a release at 10%, a widen to 50% and 100%, and a yanked release.
import { applyUpdate } from "../lib/actions/apply.ts";
import { runUpdate } from "../lib/actions/pipeline.ts";
import { validateConfig } from "../lib/core/config_schema.ts";
import { confirmBuild } from "../lib/root/health.ts";
import { currentVersion, type Layout, layoutOf } from "../lib/root/layout.ts";

/** What the rollout part borrows from the demo. */
export interface RolloutDemo {
  /** The demo's temporary folder. */
  dir: string;
  /** The release tree the server serves. */
  tree: string;
  /** The release server's URL. */
  serverUrl: string;
  /** This machine's platform key. */
  platform: string;
  /** The publisher's public key (pinned by the fleet). */
  publicKey: string;
  /** The publisher's private key file. */
  keyFile: string;
  /** Run the real CLI quietly (a publisher command); its stdout. */
  publisher(...args: string[]): Promise<string>;
  /** A build that prints its version. */
  makeBuild(version: string): Promise<string>;
  /** Print a line. */
  say(text: string): void;
  /** Dim text (on a terminal). */
  dim(text: string): string;
  /** Start a numbered step. */
  step(text: string): void;
}

/** How many installs the fleet has. */
export const FLEET_SIZE = 20;
const CHANNEL = "fleet";

/** One simulated install. */
interface Install {
  name: string;
  layout: Layout;
}

/** The fleet: its installs and how to run them. */
interface Fleet {
  installs: Install[];
  /**
   * Every install checks and updates (`ms11-update`), then launches (the launcher's `apply`)
   * and, unless `confirm` is false, MS11 confirms a new build healthy.
   */
  round(options?: { now?: (install: Install) => boolean; confirm?: boolean }): Promise<void>;
  /** The version each install runs. */
  versions(): Promise<Map<Install, string | null>>;
  /** A new install's check: the version it is offered. */
  offeredToNew(): Promise<string>;
}

function makeFleet(demo: RolloutDemo): Fleet {
  const config = validateConfig({
    channel: CHANNEL,
    update_servers: { [CHANNEL]: { base_url: `${demo.serverUrl}/${CHANNEL}` } },
    keep_backups_count: 1,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { [CHANNEL]: { threshold: 1, keys: [demo.publicKey] } },
    },
  });
  const installs = Array.from({ length: FLEET_SIZE }, (_, i) => {
    const name = `#${String(i + 1).padStart(2, "0")}`;
    return { name, layout: layoutOf(`${demo.dir}/fleet/${name.slice(1)}`) };
  });
  const update = (layout: Layout, options: { checkOnly?: boolean; now?: boolean } = {}) =>
    runUpdate(layout, config, {
      channel: CHANNEL,
      platform: demo.platform,
      checkOnly: options.checkOnly,
      rolloutNow: options.now,
    });
  let fresh = 0;
  return {
    installs,
    async round(options = {}) {
      for (const install of installs) {
        await update(install.layout, { now: options.now?.(install) });
        const launched = await applyUpdate({ layout: install.layout, config });
        if (launched.applied && options.confirm !== false) await confirmBuild(install.layout);
      }
    },
    async versions() {
      const map = new Map<Install, string | null>();
      for (const install of installs) map.set(install, await currentVersion(install.layout));
      return map;
    },
    async offeredToNew() {
      const layout = layoutOf(`${demo.dir}/fleet/new-${++fresh}`);
      const result = await update(layout, { checkOnly: true });
      return result.check.manifest.version;
    },
  };
}

/** `1.1.0: 2 of 20 (#04 #17); 1.0.0: 18 of 20` */
function tally(versions: Map<Install, string | null>): string {
  const by = new Map<string, string[]>();
  for (const [install, version] of versions) {
    const key = version ?? "nothing";
    by.set(key, [...(by.get(key) ?? []), install.name]);
  }
  return [...by.entries()].sort(([a], [b]) => b.localeCompare(a)).map(([version, names]) =>
    `${version}: ${names.length} of ${versions.size}${
      names.length <= 6 ? ` (${names.join(" ")})` : ""
    }`
  ).join("; ");
}

async function release(demo: RolloutDemo, version: string, extra: string[]): Promise<void> {
  await demo.publisher(
    "release",
    ...["--channel", CHANNEL, "--version", version, "--artifact", await demo.makeBuild(version)],
    ...["--platform", demo.platform, "--key", demo.keyFile, "--out", demo.tree, ...extra],
  );
  const rollout = extra.length > 0 ? ` (${extra.join(" ")})` : "";
  demo.say(
    demo.dim(`  $ ms11-update release --channel ${CHANNEL} --version ${version}${rollout} …`),
  );
}

async function control(demo: RolloutDemo, ...args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const out = await demo.publisher(
    command,
    demo.tree,
    "--channel",
    CHANNEL,
    ...rest,
    "--key",
    demo.keyFile,
  );
  demo.say(
    demo.dim(`  $ ms11-update ${args.map((a) => a.includes(" ") ? `"${a}"` : a).join(" ")}`),
  );
  if (out !== "") demo.say(demo.dim(`    ${out.split("\n")[0]}`));
}

/** Installs that ran `from` and no longer run it. */
function lost(
  before: Map<Install, string | null>,
  after: Map<Install, string | null>,
  from: string,
): Install[] {
  return [...before].filter(([i, v]) => v === from && after.get(i) !== from).map(([i]) => i);
}

/**
 * The yank's effect on installs that had taken the yanked version: at their next launch each
 * leaves it, offline, for the newest backup that ran healthy (lib/root/yank.ts), and their next
 * check is not offered it again.
 */
async function retreatOffYank(
  demo: RolloutDemo,
  fleet: Fleet,
  yanked: string,
  had: Install[],
): Promise<void> {
  await fleet.round();
  const now = await fleet.versions();
  const left = had.filter((i) => now.get(i) !== yanked);
  demo.say(`  after the next check and launch: ${tally(now)}`);
  demo.say(
    `  ${left.length} of ${had.length} install(s) that had ${yanked} moved off it: ${
      left.map((i) => `${i.name} back to ${now.get(i)}`).join(", ") || "none"
    }`,
  );
}

/** The rollout part, steps numbered by `demo.step`. */
export async function rolloutPart(demo: RolloutDemo): Promise<void> {
  const fleet = makeFleet(demo);

  demo.step(`A fleet of ${FLEET_SIZE} installs on the "${CHANNEL}" channel installs 1.0.0`);
  await release(demo, "1.0.0", []);
  await fleet.round();
  demo.say(`  ${tally(await fleet.versions())}`);

  demo.step("1.1.0 is released to 10% of installs");
  demo.say(
    demo.dim("  each install decides on its own: SHA-256(its random install id : the release's"),
  );
  demo.say(
    demo.dim("  salt) → a bucket 0-9999, in when below 1000; the id never leaves the machine"),
  );
  await release(demo, "1.1.0", ["--rollout", "10"]);
  await fleet.round();
  let before = await fleet.versions();
  demo.say(`  ${tally(before)}   (about 2 of 20 expected)`);

  demo.step("The publisher widens the rollout to 50%, then 100%: more take it, none loses it");
  for (const percent of ["50", "100"]) {
    await control(demo, "rollout", "widen", percent);
    await fleet.round();
    const after = await fleet.versions();
    demo.say(`  ${tally(after)}; lost it: ${lost(before, after, "1.1.0").length}`);
    before = after;
  }

  demo.step("1.2.0 goes out to 10%, and a tester takes it at once (update --now)");
  await release(demo, "1.2.0", ["--rollout", "10"]);
  const tester = fleet.installs[0];
  await fleet.round({ now: (i) => i === tester, confirm: false }); // on trial
  const had = [...(await fleet.versions())].filter(([, v]) => v === "1.2.0").map(([i]) => i);
  demo.say(`  ${tally(await fleet.versions())}`);

  demo.step("1.2.0 crashes at start: the publisher yanks it");
  await control(demo, "yank", "1.2.0", "--reason", "crashes at start");
  demo.say(`  a new install is offered ${await fleet.offeredToNew()}; 1.2.0 is offered to nobody`);
  await retreatOffYank(demo, fleet, "1.2.0", had);
}
