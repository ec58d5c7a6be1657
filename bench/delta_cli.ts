// The whole client update by delta against the full download, through the real CLI:
//
//   deno task bench:delta-cli [--runs 3] [--case deno|typescript|lodash|types-node]
//
// For each case a release tree is published (lib/publish) and served by loopback nginx; 1.0.0 is
// installed once into a template root; 1.1.0 is published with its delta (made here with
// lib/delta, kept in .artifacts/bench-delta/ for the executable, whose bsdiff takes minutes).
// Each run updates the installed root (put back after each) and times `ms11-update update` (main.ts under `deno run`
// with the executable's V8 flags) from process start to exit, once taking the delta and once
// with --no-delta (the full download), interleaved; wall time and the process's peak RSS
// (python3's RUSAGE_CHILDREN) against an idle `ms11-update --version`. The bytes come from the
// state's last_download. Releases nobody here wrote, from the npm registry (bench/_npm.ts):
//   deno        @deno/linux-x64-glibc 2.9.5 → 2.9.6: the `deno` executable (95.6 MB)
//   typescript  5.6.2 → 5.6.3, lodash 4.17.20 → 4.17.21, @types/node 22.10.1 → 22.10.2: each
//               package's folder as a tar.gz build (with an `ms11` script added at its root)
// Needs nginx, python3, tar, bsdiff and bzip2 (the publisher's delta), zstd (the -19 size).
import { detectPlatform } from "../lib/core/config.ts";
import { hashFile } from "../lib/core/hash.ts";
import { extractArchive } from "../lib/archive/extract.ts";
import { makeDelta } from "../lib/delta/make.ts";
import { makeFolderDelta } from "../lib/delta/make_folder.ts";
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, signDocument, writeKeyPair } from "../lib/publish/signing.ts";
import { startNginx } from "../tests/_nginx.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { CACHE, measured, npmTarball } from "./_npm.ts";
import { median, numberFlag } from "./_util.ts";

const runs = numberFlag("--runs", 3);
const only = Deno.args.includes("--case") ? Deno.args[Deno.args.indexOf("--case") + 1] : null;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CLI = [Deno.execPath(), "run", "-A", "--quiet", ...SHIPPED_V8_FLAGS, MAIN];
const platform = detectPlatform();

interface Case {
  name: string;
  package: string;
  from: string;
  to: string;
  folder: boolean;
}

const CASES: Case[] = [
  { name: "deno", package: "@deno/linux-x64-glibc", from: "2.9.5", to: "2.9.6", folder: false },
  { name: "typescript", package: "typescript", from: "5.6.2", to: "5.6.3", folder: true },
  { name: "lodash", package: "lodash", from: "4.17.20", to: "4.17.21", folder: true },
  { name: "types-node", package: "@types/node", from: "22.10.1", to: "22.10.2", folder: true },
];

async function sh(args: string[]): Promise<void> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** The build of `version`: the executable, or the package's folder repacked as a tar.gz build. */
async function artifactOf(c: Case, version: string, dir: string): Promise<string> {
  const tgz = await npmTarball(c.package, version);
  const out = `${dir}/src-${version}`;
  await Deno.mkdir(out, { recursive: true });
  await sh(["tar", "-xzf", tgz, "-C", out]);
  // npm packs a package under one folder (`package/`, `node/` for @types/node).
  const [top] = await Array.fromAsync(Deno.readDir(out));
  const pkg = `${out}/${top.name}`;
  if (!c.folder) return `${pkg}/deno`;
  await Deno.writeTextFile(`${pkg}/ms11`, `#!/bin/sh\necho "MS11 ${version}"\n`);
  await Deno.chmod(`${pkg}/ms11`, 0o755);
  const archive = `${dir}/build-${version}.tar.gz`;
  await sh(["tar", "-czf", archive, "-C", pkg, "."]);
  return archive;
}

/** zstd -19 of `path`'s size, cached beside the tarballs (the executable's takes a minute). */
async function zstdSize(path: string, key: string): Promise<number> {
  const file = `${CACHE}${key}.zstd19-size`;
  const cached = await Deno.readTextFile(file).catch(() => null);
  if (cached !== null) return Number(cached);
  const out = await new Deno.Command("sh", {
    args: ["-c", `zstd -19 -T0 -q -c "${path}" | wc -c`],
    stdout: "piped",
  }).output();
  const size = Number(new TextDecoder().decode(out.stdout).trim());
  await Deno.writeTextFile(file, String(size));
  return size;
}

/**
 * Put `root` back as the install left it (`snapshot` holds its files beside builds/): the build
 * folder of 1.0.0 is never copied, since a copy moves its stat stamp and the client would then
 * not take it as the delta's `from` (docs/DELTA.md).
 */
async function reset(root: string, snapshot: string): Promise<void> {
  for await (const entry of Deno.readDir(root)) {
    if (entry.name !== "builds") await Deno.remove(`${root}/${entry.name}`, { recursive: true });
  }
  for await (const entry of Deno.readDir(`${root}/builds`)) {
    if (entry.name !== "1.0.0") {
      await Deno.remove(`${root}/builds/${entry.name}`, { recursive: true });
    }
  }
  for await (const entry of Deno.readDir(snapshot)) {
    await sh(["cp", "-a", `${snapshot}/${entry.name}`, `${root}/${entry.name}`]);
  }
}

/** One update of `root` (then reset): wall time, peak RSS and the state's last_download. */
async function update(root: string, config: string, snapshot: string, full: boolean) {
  const args = ["--config", config, "--root", root, ...(full ? ["--no-delta"] : [])];
  const got = await measured([...CLI, ...args]);
  const state = JSON.parse(await Deno.readTextFile(`${root}/state.json`));
  await reset(root, snapshot);
  const method = full ? "full" : "delta";
  if (state.last_download?.method !== method || state.staged?.version !== "1.1.0") {
    throw new Error(
      `The ${method} update did not stage 1.1.0 by ${method}: ${
        JSON.stringify(state.last_download)
      }`,
    );
  }
  return { wallMs: got.wallMs, rssKib: got.treeRssKib, bytes: state.last_download.bytes as number };
}

const mib = (kib: number) => (kib / 1024).toFixed(0);
const secs = (ms: number) => (ms / 1000).toFixed(2);
const pct = (part: number, whole: number) => `${(100 * part / whole).toFixed(2)}%`;

const idles: number[] = [];
for (let i = 0; i < 3; i++) idles.push((await measured([...CLI, "--version"])).treeRssKib);
const idle = median(idles);
console.log(`idle \`ms11-update --version\`: peak RSS ${mib(idle)} MiB; ${runs} runs each`);
console.log(
  "| case | full download | delta | delta / full | update by delta | full update | time ratio | peak RSS above idle: delta (full) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");

for (const c of CASES.filter((c) => only === null || c.name === only)) {
  const work = await Deno.makeTempDir({ prefix: `ms11-bench-delta-cli-${c.name}-` });
  let nginx: Awaited<ReturnType<typeof startNginx>> = null;
  try {
    const tree = `${work}/tree`;
    const key = await readSigningKey((await writeKeyPair(`${work}/keys`)).privatePath);
    const old = await artifactOf(c, c.from, work);
    const next = await artifactOf(c, c.to, work);
    await publishRelease(tree, {
      channel: "stable",
      version: "1.0.0",
      platform,
      artifact: old,
      keys: [key],
    });
    nginx = await startNginx(tree);
    if (nginx === null) throw new Error("nginx is not installed");
    const config = `${work}/config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        channel: "stable",
        update_servers: { stable: { base_url: `${nginx.url}/stable`, description: "Stable" } },
        max_retry_attempts: 1,
        security: {
          require_https: false,
          allowed_domains: ["127.0.0.1"],
          signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
        },
        notifications: {},
      }),
    );
    const template = `${work}/template`;
    await measured([...CLI, "install", "--config", config, "--root", template]);
    const snapshot = `${work}/snapshot`;
    await Deno.mkdir(snapshot);
    for await (const entry of Deno.readDir(template)) {
      if (entry.name !== "builds") {
        await sh(["cp", "-a", `${template}/${entry.name}`, `${snapshot}/${entry.name}`]);
      }
    }
    await publishRelease(tree, {
      channel: "stable",
      version: "1.1.0",
      platform,
      artifact: next,
      keys: [key],
    });
    const full = (await Deno.stat(next)).size;
    const name = c.folder ? "ms11.tar.gz" : "ms11";
    const deltaFile = `${tree}/stable/1.1.0/${name}.from-1.0.0.delta`;
    let entry: Record<string, unknown>;
    let made = "";
    if (c.folder) {
      const extracted = `${work}/extracted`;
      await extractArchive(next, extracted, { kind: "tar.gz" });
      const start = performance.now();
      const r = await makeFolderDelta(`${template}/builds/1.0.0`, extracted, {
        out: deltaFile,
        fullSize: full,
      });
      made = `${secs(performance.now() - start)} s`;
      entry = { kind: "folder", from_seal: r.from.seal, seal: r.to.seal };
    } else {
      const cached = `${CACHE}deno-${c.from}-${c.to}.cli.bsz`;
      if (!(await Deno.stat(cached).catch(() => null))) {
        const start = performance.now();
        await makeDelta(old, next, { out: `${cached}.tmp`, fullSize: full, maxRatio: 1 });
        await Deno.rename(`${cached}.tmp`, cached);
        made = `${secs(performance.now() - start)} s`;
      } else made = "cached";
      await Deno.copyFile(cached, deltaFile);
      entry = { kind: "bsdiff", from_sha256: (await hashFile(old)).sha256 };
    }
    const delta = await hashFile(deltaFile);
    const manifestPath = `${tree}/stable/manifest.json`;
    const manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    manifest.artifacts[platform].deltas = [{
      from: "1.0.0",
      url: `1.1.0/${name}.from-1.0.0.delta`,
      size: delta.size,
      sha256: delta.sha256,
      ...entry,
    }];
    const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
    await Deno.writeFile(manifestPath, bytes);
    await Deno.writeTextFile(`${manifestPath}.sig`, await signDocument(bytes, [key]));
    const byDelta: Awaited<ReturnType<typeof update>>[] = [];
    const byFull: Awaited<ReturnType<typeof update>>[] = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, the order swapped each run, so that load hits both alike.
      for (const fullRun of i % 2 === 0 ? [false, true] : [true, false]) {
        (fullRun ? byFull : byDelta).push(await update(template, config, snapshot, fullRun));
      }
    }
    const t = (xs: { wallMs: number }[]) => median(xs.map((x) => x.wallMs));
    const rss = (xs: { rssKib: number }[]) => median(xs.map((x) => x.rssKib)) - idle;
    const compressed = c.folder
      ? ""
      : `; ${pct(delta.size, await zstdSize(next, c.name))} of zstd -19`;
    console.log(
      `| ${c.package} ${c.from} → ${c.to} | ${full.toLocaleString("en")} B | ${
        byDelta[0].bytes.toLocaleString("en")
      } B (made in ${made}) | ${pct(byDelta[0].bytes, full)}${compressed} | ${
        secs(t(byDelta))
      } s | ${secs(t(byFull))} s | ${(t(byDelta) / t(byFull)).toFixed(2)}× | +${
        mib(rss(byDelta))
      } MiB (+${mib(rss(byFull))}) |`,
    );
  } finally {
    await nginx?.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
