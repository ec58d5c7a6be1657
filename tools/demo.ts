// The demo: a full update cycle on this machine, in a temporary folder, in a few seconds.
// It publishes releases with the library, serves them on 127.0.0.1, and drives the real CLI
// as a subprocess, the way a launcher and a user would. Then a staged rollout across a fleet of
// simulated installs (tools/_demo_rollout.ts): a release at 10%, widened, and a yank.
//
//   deno task demo            (or ./denow task demo)
//   deno task demo --keep     keep the temporary folder to look around
import { create as createTar } from "tar";
import { serveReleases } from "../lib/publish/serve.ts";
import { detectPlatform } from "../lib/core/config.ts";
import { SHIPPED_V8_FLAGS } from "./_v8_flags.ts";
import { rolloutPart } from "./_demo_rollout.ts";

const keep = Deno.args.includes("--keep");
const main = new URL("../main.ts", import.meta.url).pathname;
/** How the demo runs the CLI: as the executable runs, with the V8 flags it is compiled with. */
const CLI = ["run", "-A", "--quiet", ...SHIPPED_V8_FLAGS, main];
const started = performance.now();
const dir = await Deno.makeTempDir({ prefix: "ms11-demo-" });
const tree = `${dir}/releases`;
const root = `${dir}/install`;
const configPath = `${dir}/update_channel.json`;
const platform = detectPlatform();
const bold = (s: string) => Deno.stdout.isTerminal() && !Deno.noColor ? `\x1b[1m${s}\x1b[0m` : s;
const dim = (s: string) => Deno.stdout.isTerminal() && !Deno.noColor ? `\x1b[2m${s}\x1b[0m` : s;

function say(text: string): void {
  console.log(text);
}

/** The steps: 9 of one install's update cycle, then the fleet's staged rollout (5). */
const STEPS = 14;

function step(n: number, text: string): void {
  console.log(`\n${bold(`[${n}/${STEPS}] ${text}`)}`);
}

/** An MS11 "build": a script that prints its version, padded to `padMiB` so progress shows. */
async function makeBuild(version: string, padMiB = 0): Promise<string> {
  const path = `${dir}/ms11-${version}`;
  const pad = padMiB > 0 ? `# ${"x".repeat(padMiB * 1024 * 1024)}\n` : "";
  await Deno.writeTextFile(path, `#!/bin/sh\necho "MS11 ${version} is running"\nexit 0\n${pad}`);
  return path;
}

/** A directory build packed as .tar.gz: the app plus a data file. */
async function makeArchive(version: string): Promise<string> {
  const src = `${dir}/src-${version}`;
  await Deno.mkdir(`${src}/resources`, { recursive: true });
  await Deno.writeTextFile(
    `${src}/ms11`,
    `#!/bin/sh\necho "MS11 ${version} is running ($(cat "$(dirname "$0")/resources/banner.txt"))"\n`,
  );
  await Deno.chmod(`${src}/ms11`, 0o755);
  await Deno.writeTextFile(`${src}/resources/banner.txt`, "canary build, packed as tar.gz");
  const file = `${dir}/ms11-${version}.tar.gz`;
  await createTar({ gzip: true, file, cwd: src, portable: true }, ["ms11", "resources"]);
  return file;
}

const keyDir = `${dir}/publisher-keys`;

/** The publisher's side, with the real CLI: sign and add a build to the release tree. */
async function publish(channel: string, version: string, artifact: string, notes: string) {
  await run(
    true,
    "release",
    ...["--channel", channel, "--version", version, "--artifact", artifact],
    ...["--platform", platform, "--notes", notes, "--key", `${keyDir}/ms11-update.key`],
    ...["--out", tree, "--expires", "30d"],
  );
  say(dim(`  published ${version} on ${channel}, signed`));
}

/** Run the real CLI quietly (publisher commands) and return its stdout. */
async function run(quiet: boolean, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: quiet ? "piped" : "inherit",
  }).output();
  if (!out.success) {
    throw new Error(
      `ms11-update ${args.join(" ")} exited with ${out.code}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Run the real CLI and expect exit code `expected`; its messages (and progress bar) appear. */
async function cliExpecting(expected: number, args: string[]): Promise<void> {
  say(`  ${bold("$")} ms11-update ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: [...CLI, ...args],
    env: { MS11_UPDATE_ROOT: root, MS11_UPDATE_CONFIG: configPath },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (status.code !== expected) {
    throw new Error(
      `ms11-update ${args.join(" ")} exited with ${status.code}, expected ${expected}`,
    );
  }
}

/** Run the real CLI where it must succeed. */
function cli(...args: string[]): Promise<void> {
  return cliExpecting(0, args);
}

/** Run the real CLI where it must refuse (exit 1). */
function cliRefused(...args: string[]): Promise<void> {
  return cliExpecting(1, args);
}

/** What a launcher does at every start: apply, then run the current build. */
async function launchApp(): Promise<void> {
  say(dim("  (the launcher starts: ms11-update apply, then <root>/current/ms11)"));
  await cli("apply");
  const out = await new Deno.Command(`${root}/current/ms11`, { stdout: "piped" }).output();
  say(`  ${bold(">")} ${new TextDecoder().decode(out.stdout).trim()}`);
}

await Deno.mkdir(tree, { recursive: true });
const server = serveReleases(tree, { hostname: "127.0.0.1", port: 0 });
try {
  // The publisher makes a signing key once; clients pin its public half per channel.
  const publicKey = await run(true, "keygen", "--out", keyDir);
  const pinned = { threshold: 1, keys: [publicKey] };
  await Deno.writeTextFile(
    configPath,
    JSON.stringify(
      {
        channel: "stable",
        update_servers: {
          stable: { base_url: `${server.url}/stable`, description: "Production-ready releases" },
          canary: { base_url: `${server.url}/canary`, description: "Early access releases" },
        },
        keep_backups_count: 2,
        security: {
          require_https: false,
          allowed_domains: ["127.0.0.1"],
          signing_keys: { stable: pinned, canary: pinned },
        },
      },
      null,
      2,
    ),
  );
  say(bold("ms11-update demo: one full update cycle, on this machine, in a temporary folder"));
  say(dim(`  folder ${dir}; release server ${server.url} (127.0.0.1 only)`));
  say(dim("  the demo config allows plain HTTP to 127.0.0.1; the shipped config requires HTTPS"));
  say(dim(`  manifests are signed with the publisher's Ed25519 key ${publicKey.slice(0, 20)}…`));

  step(1, "The publisher releases MS11 1.0.0 on the stable channel");
  await publish("stable", "1.0.0", await makeBuild("1.0.0"), "First release");

  step(2, "First run on a fresh machine: install the stable release");
  await cli("install");
  await launchApp();

  step(3, "Stable 1.1.0 is published; the updater downloads, verifies and stages it");
  await publish("stable", "1.1.0", await makeBuild("1.1.0", 48), "Faster start-up");
  await cli("check");
  await cli();
  say(dim("  MS11 keeps running 1.0.0 until its next launch"));

  step(4, "Next launch: the staged build is swapped in atomically");
  await launchApp();

  step(5, "A compromised mirror alters the signed manifest: the updater refuses it");
  const manifestPath = `${tree}/stable/manifest.json`;
  const genuine = await Deno.readFile(manifestPath);
  await Deno.writeTextFile(
    manifestPath,
    new TextDecoder().decode(genuine).replace('"1.1.0"', '"6.6.6"'),
  );
  await cliRefused("check");
  await Deno.writeFile(manifestPath, genuine);
  say(dim("  nothing was downloaded; the refusal is in the audit log (status --json)"));

  step(6, "The user joins the canary channel; a canary build (a .tar.gz) is staged");
  await publish(
    "canary",
    "1.2.0-canary.20261126.3",
    await makeArchive("1.2.0-canary.20261126.3"),
    "New engine",
  );
  await cli("channel", "canary");
  await cli();

  step(7, "Next launch runs the canary build");
  await launchApp();

  step(8, "The user does not like it and rolls back by hand");
  await cli("rollback");
  await launchApp();

  step(9, "Status (also available as JSON for dashboards: ms11-update status --json)");
  await cli("status");

  // Staged rollouts across a fleet of simulated installs (tools/_demo_rollout.ts).
  let n = 9;
  await rolloutPart({
    dir,
    tree,
    serverUrl: server.url,
    platform,
    publicKey,
    keyFile: `${keyDir}/ms11-update.key`,
    publisher: (...args) => run(true, ...args),
    makeBuild: (version) => makeBuild(version),
    say,
    dim,
    step: (text) => step(++n, text),
  });

  say(`\n${bold("Done")} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
} finally {
  await server.shutdown();
  if (keep) say(dim(`Kept ${dir}`));
  else await Deno.remove(dir, { recursive: true });
}
