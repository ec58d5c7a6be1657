// End-to-end helpers: a release tree served on 127.0.0.1, a temporary install root and config,
// and the real CLI run as a subprocess.
import { detectPlatform } from "../lib/core/config.ts";
import { readSigningKey, type SigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { type PublishOptions, publishRelease } from "../lib/publish/release.ts";
import { type ReleaseServer, serveReleases } from "../lib/publish/serve.ts";
import { type DenoRun, runDeno } from "./_helpers.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

export { SHIPPED_V8_FLAGS };

/** The result of one CLI run. */
export type CliRun = DenoRun;

/** A test world: release tree + server + install root + config. */
export interface World extends AsyncDisposable {
  dir: string;
  tree: string;
  root: string;
  configPath: string;
  server: ReleaseServer;
  /** The publisher's signing key (pinned for every channel in the world's config). */
  key: SigningKey;
  /** Its private key file. */
  keyFile: string;
  /** Run the CLI with --config and --root of this world. */
  cli(
    args: string[],
    options?: { env?: Record<string, string>; root?: boolean; prefix?: string[] },
  ): Promise<CliRun>;
  /** Publish an executable build that prints its version. */
  publish(channel: string, version: string, options?: Partial<PublishOptions>): Promise<void>;
  /** Write the config (merged over the world's defaults). */
  writeConfig(extra?: Record<string, unknown>): Promise<void>;
}

/** Run the CLI as a subprocess, as the executable runs (with its V8 flags). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; entry?: string; prefix?: string[] } = {},
): Promise<CliRun> {
  const entry = options.entry ?? MAIN;
  return runDeno(["run", "-A", "--quiet", ...SHIPPED_V8_FLAGS, entry, ...args], options);
}

/** The result of a CLI run on a terminal: everything it wrote (stdout and stderr interleaved). */
export interface TtyRun {
  /** Exit code. */
  code: number;
  /** What the terminal showed, `\r\n` turned into `\n` (typed input is echoed in it). */
  output: string;
}

/**
 * Run the CLI on a pseudo-terminal (util-linux `script`), typing `input` into it: stdin, stdout
 * and stderr are all the terminal, as for a person at a shell.
 */
export async function runCliTty(
  args: string[],
  input: string,
  options: { env?: Record<string, string> } = {},
): Promise<TtyRun> {
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const argv = [Deno.execPath(), "run", "-A", "--quiet", ...SHIPPED_V8_FLAGS, MAIN, ...args];
  const child = new Deno.Command("script", {
    args: ["-qec", argv.map(quote).join(" "), "/dev/null"],
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    output: new TextDecoder().decode(out.stdout).replaceAll("\r\n", "\n"),
  };
}

/** An executable shell script that prints `MS11 <version>`. */
export function appScript(version: string, extra = ""): string {
  return `#!/bin/sh\necho "MS11 ${version}"\n${extra}`;
}

/** Create a world; dispose it with `await using`. */
export async function makeWorld(): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "ms11-e2e-" });
  const tree = `${dir}/releases`;
  const root = `${dir}/root`;
  const configPath = `${dir}/update_channel.json`;
  await Deno.mkdir(tree);
  const written = await writeKeyPair(`${dir}/keys`);
  const key = await readSigningKey(written.privatePath);
  const pinned = { threshold: 1, keys: [written.publicKey] };
  const server = serveReleases(tree, { hostname: "127.0.0.1", port: 0 });
  const baseConfig = {
    channel: "stable",
    update_servers: {
      stable: { base_url: `${server.url}/stable`, description: "Production-ready releases" },
      canary: { base_url: `${server.url}/canary`, description: "Early access releases" },
    },
    max_retry_attempts: 1,
    security: {
      require_https: false,
      allowed_domains: ["127.0.0.1"],
      signing_keys: { stable: pinned, canary: pinned },
    },
    notifications: {},
  };
  const world: World = {
    dir,
    tree,
    root,
    configPath,
    server,
    key,
    keyFile: written.privatePath,
    async writeConfig(extra = {}) {
      await Deno.writeTextFile(configPath, JSON.stringify({ ...baseConfig, ...extra }, null, 2));
    },
    cli(args, options = {}) {
      const where = options.root === false ? [] : ["--root", root];
      return runCli([...args, "--config", configPath, ...where], options);
    },
    async publish(channel, version, options = {}) {
      const artifact = options.artifact ?? `${dir}/ms11-${version}`;
      if (options.artifact === undefined) await Deno.writeTextFile(artifact, appScript(version));
      await publishRelease(tree, {
        channel,
        version,
        platform: detectPlatform(),
        artifact,
        keys: [key],
        ...options,
      });
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await world.writeConfig();
  return world;
}

/**
 * A snapshot of what matters in an install root: the `current` link, every file under builds/
 * (path, mode, content) and the staged build. Two equal snapshots mean the install is unchanged.
 */
export async function snapshot(root: string): Promise<string> {
  const lines: string[] = [];
  try {
    lines.push(`current -> ${await Deno.readLink(`${root}/current`)}`);
  } catch {
    lines.push("current: none");
  }
  async function walk(dir: string, rel: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const path = `${dir}/${e.name}`;
      const info = await Deno.lstat(path);
      if (e.isSymlink) lines.push(`${rel}${e.name} -> ${await Deno.readLink(path)}`);
      else if (e.isDirectory) {
        lines.push(`${rel}${e.name}/`);
        await walk(path, `${rel}${e.name}/`);
      } else {lines.push(
          `${rel}${e.name} ${(info.mode ?? 0).toString(8)} ${await Deno.readTextFile(path)}`,
        );}
    }
  }
  await walk(`${root}/builds`, "builds/");
  await walk(`${root}/downloads`, "downloads/");
  try {
    const state = JSON.parse(await Deno.readTextFile(`${root}/state.json`));
    lines.push(`staged: ${JSON.stringify(state.staged)}`);
  } catch {
    lines.push("staged: no state");
  }
  return lines.join("\n");
}

/** Run `<root>/current/ms11` like a launcher does; returns its stdout. */
export async function launch(root: string): Promise<string> {
  const out = await new Deno.Command(`${root}/current/ms11`, { stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** This machine's platform key, as the CLI detects it. */
export function linuxPlatform(): string {
  return detectPlatform();
}
