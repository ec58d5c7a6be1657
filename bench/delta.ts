// Delta benchmark: what a delta saves on real consecutive releases nobody here wrote, what it
// costs the publisher, and what rebuilding costs the client, as ratios measured in one run:
//
//   deno task bench:delta [--runs 3] [--baseline REF] [--executable-only | --folders-only]
//
// Fetched from the npm registry at run time (kept in .artifacts/bench-delta/, never committed;
// each tarball checked against the registry's sha512 integrity):
//   executable  @deno/linux-x64-glibc 2.9.5 → 2.9.6 (the `deno` binary, 95.6 MB)
//   folders     typescript 5.6.2 → 5.6.3, lodash 4.17.20 → 4.17.21, @types/node 22.10.1 → 22.10.2
//               (each package extracted as staging extracts a build, lib/archive/extract.ts)
//
// Every step runs in a fresh process (bench/_delta_one.ts), the client's with the executable's
// V8 flags: the delta's size against the full download (the executable raw, as the npm .tgz and
// as zstd -19; a folder's npm .tgz), generation time and peak memory (bsdiff included, from
// python3's RUSAGE_CHILDREN), and the client's rebuild + verify against downloading and
// verifying the full artifact from loopback nginx (bench/_download_one.ts) and against hashing
// it, with the rebuild's peak RSS above an idle process. Needs bsdiff, bzip2, python3, nginx.
// `--baseline REF` also rebuilds the executable with lib/ as it is at the git revision REF
// (exported to a temporary folder), interleaved with ours, the same patch: before and after in one
// run. `--executable-only` skips the folders, `--folders-only` the executable.
import { constants, zstdCompress } from "node:zlib";
import { startNginx } from "../tests/_nginx.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { median, numberFlag } from "./_util.ts";
import { measured, npmTarball } from "./_npm.ts";

const runs = numberFlag("--runs", 3);
const baselineRef = Deno.args.includes("--baseline")
  ? Deno.args[Deno.args.indexOf("--baseline") + 1]
  : null;
const executableOnly = Deno.args.includes("--executable-only");
const foldersOnly = Deno.args.includes("--folders-only");
const one = new URL("./_delta_one.ts", import.meta.url).pathname;
const downloadOne = new URL("./_download_one.ts", import.meta.url).pathname;
const deno = Deno.execPath();
const MB = 1e6;

/** Wall time, stdout and the largest RSS of the process tree (via python3) of one command. */
async function run(
  args: string[],
  flags: string[] = SHIPPED_V8_FLAGS,
): Promise<{ wallMs: number; treeRssKib: number; out: Record<string, unknown> }> {
  const got = await measured([deno, "run", "-A", "--quiet", ...flags, ...args]);
  const stdout = got.stdout.trim();
  return {
    wallMs: got.wallMs,
    treeRssKib: got.treeRssKib,
    out: JSON.parse(stdout.split("\n").at(-1)!),
  };
}

/** Size of `path` compressed by zstd -19 (the zstd program when installed, else node:zlib). */
async function zstdSize(path: string): Promise<number> {
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", `zstd -19 -T0 -q -c "${path}" | wc -c`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const size = Number(new TextDecoder().decode(out.stdout).trim());
    if (out.success && size > 0) return size;
  } catch {
    // no sh or zstd: below
  }
  const data = await Deno.readFile(path);
  return await new Promise((resolve, reject) =>
    zstdCompress(
      data,
      { params: { [constants.ZSTD_c_compressionLevel]: 19 } },
      (e, r) => e ? reject(e) : resolve(r.length),
    )
  );
}

const pct = (part: number, whole: number) => `${(100 * part / whole).toFixed(2)}%`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `git archive` of REF's lib/ and bench/ into `dir`; returns its _delta_one.ts. */
async function exportBaseline(ref: string, dir: string): Promise<string> {
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command("sh", {
    args: ["-c", `git -C "${root}" archive "${ref}" lib bench | tar -x -C "${dir}"`],
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Exporting ${ref}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return `${dir}/bench/_delta_one.ts`;
}

const dir = await Deno.makeTempDir({ prefix: "ms11-bench-delta-" });
try {
  const baseline = baselineRef === null
    ? null
    : await exportBaseline(baselineRef, await Deno.makeTempDir({ dir, prefix: "baseline-" }));
  const idles: number[] = [];
  for (let i = 0; i < 3; i++) idles.push((await run([one, "idle"])).out.peak_rss_kib as number);
  const idle = median(idles);
  const baseIdles: number[] = [];
  if (baseline !== null) {
    for (let i = 0; i < 3; i++) {
      baseIdles.push((await run([baseline, "idle"])).out.peak_rss_kib as number);
    }
  }

  if (!foldersOnly) {
    // ---- the executable ----
    const exe: Record<string, string> = {};
    for (const version of ["2.9.5", "2.9.6"]) {
      const tgz = await npmTarball("@deno/linux-x64-glibc", version);
      await run([one, "extract", tgz, `${dir}/deno-${version}`], []);
      exe[version] = `${dir}/deno-${version}/package/deno`;
      exe[`${version}.tgz`] = tgz;
    }
    const newSize = (await Deno.stat(exe["2.9.6"])).size;
    const tgzSize = (await Deno.stat(exe["2.9.6.tgz"])).size;
    const zstdFull = await zstdSize(exe["2.9.6"]);
    const patch = `${dir}/deno.bsz`;
    const made = await run([one, "make", exe["2.9.5"], exe["2.9.6"], patch, String(zstdFull)], []);
    const result = made.out.result as { size: number; to: { size: number; sha256: string } };
    const tree = `${dir}/serve`;
    await Deno.mkdir(tree);
    await Deno.copyFile(exe["2.9.6"], `${tree}/deno`);
    const nginx = await startNginx(tree);
    const times = { download: [] as number[], hash: [] as number[], apply: [] as number[] };
    const applyRss: number[] = [];
    const baseTimes: number[] = [];
    const baseRss: number[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const out = `${dir}/rebuilt`;
        if (nginx !== null) {
          await Deno.remove(out).catch(() => {});
          const { size, sha256 } = result.to;
          const args = [downloadOne, "ours", `${nginx.url}/deno`, out, String(size), sha256];
          times.download.push((await run(args)).wallMs);
        }
        times.hash.push((await run([one, "hash", exe["2.9.6"]])).wallMs);
        await Deno.remove(out).catch(() => {});
        const { size, sha256 } = result.to;
        // With a baseline, the two alternate which goes first, so that load hits both alike.
        const order = baseline === null ? [one] : i % 2 === 0 ? [one, baseline] : [baseline, one];
        for (const script of order) {
          await Deno.remove(out).catch(() => {});
          const applied = await run([
            script,
            "apply",
            exe["2.9.5"],
            patch,
            out,
            String(size),
            sha256,
          ]);
          (script === one ? times.apply : baseTimes).push(applied.wallMs);
          (script === one ? applyRss : baseRss).push(applied.out.peak_rss_kib as number);
        }
      }
    } finally {
      await nginx?.stop();
    }
    const apply = median(times.apply);
    console.log(
      `executable: @deno/linux-x64-glibc 2.9.5 → 2.9.6 (deno, ${(newSize / MB).toFixed(1)} MB)`,
    );
    console.log(
      `  delta ${(result.size / MB).toFixed(2)} MB: ${pct(result.size, zstdFull)} of zstd -19 (${
        (zstdFull / MB).toFixed(1)
      } MB), ${pct(result.size, tgzSize)} of the npm .tgz (${(tgzSize / MB).toFixed(1)} MB), ${
        pct(result.size, newSize)
      } of the executable   [target ≤ 15% of the compressed full download]`,
    );
    console.log(
      `  generation ${secs(made.out.ms as number)}, peak RSS ${mib(made.treeRssKib)} (bsdiff), ${
        mib(made.out.peak_rss_kib as number)
      } (ours)`,
    );
    console.log(`  client, median of ${runs} fresh processes (wall time, shipped V8 flags):`);
    if (times.download.length > 0) {
      console.log(
        `    download + verify the full build from loopback nginx  ${secs(median(times.download))}`,
      );
    }
    console.log(
      `    hash the full build (hashFile)                        ${secs(median(times.hash))}`,
    );
    console.log(
      `    rebuild + verify from the delta (applyPatch)            ${secs(apply)}   (${
        times.download.length > 0
          ? `${(apply / median(times.download)).toFixed(2)}× the download, `
          : ""
      }${(apply / median(times.hash)).toFixed(2)}× hashing)   [target ≤ 2× the download]`,
    );
    console.log(
      `    peak RSS: idle ${mib(idle)}, rebuild ${mib(median(applyRss))} (+${
        mib(median(applyRss) - idle)
      })   [target ≤ +64 MiB]`,
    );
    if (baseline !== null) {
      const baseIdle = median(baseIdles);
      console.log(
        `    baseline ${baselineRef}, interleaved: rebuild + verify ${
          secs(median(baseTimes))
        } (ours ${(apply / median(baseTimes)).toFixed(2)}× it), peak RSS idle ${
          mib(baseIdle)
        }, rebuild ${mib(median(baseRss))} (+${mib(median(baseRss) - baseIdle)})`,
      );
    }
  }

  // ---- folders ----
  const folders: [string, string, string][] = executableOnly ? [] : [
    ["typescript", "5.6.2", "5.6.3"],
    ["lodash", "4.17.20", "4.17.21"],
    ["@types/node", "22.10.1", "22.10.2"],
  ];
  for (const [name, from, to] of folders) {
    const oldTgz = await npmTarball(name, from);
    const newTgz = await npmTarball(name, to);
    const base = `${dir}/${name.replace("/", "+")}`;
    await run([one, "extract", oldTgz, `${base}-old`], []);
    await run([one, "extract", newTgz, `${base}-new`], []);
    const full = (await Deno.stat(newTgz)).size;
    const delta = `${base}.fdz`;
    const madeFolder = await run(
      [one, "make-folder", `${base}-old`, `${base}-new`, delta, String(full)],
      [],
    );
    const r = madeFolder.out.result as {
      size: number;
      to: { seal: string };
      kept: number;
      copied: number;
      patched: number;
      whole: number;
      removed: number;
    };
    const files = r.kept + r.copied + r.patched + r.whole;
    const changed = r.copied + r.patched + r.whole + r.removed;
    const applyMs: number[] = [];
    const extractMs: number[] = [];
    const rss: number[] = [];
    const stageRss: number[] = [];
    for (let i = 0; i < runs; i++) {
      await Deno.remove(`${base}-rebuilt`, { recursive: true }).catch(() => {});
      const applied = await run([
        one,
        "apply-folder",
        `${base}-old`,
        delta,
        `${base}-rebuilt`,
        r.to.seal,
      ]);
      applyMs.push(applied.wallMs);
      rss.push(applied.out.peak_rss_kib as number);
      await Deno.remove(`${base}-full`, { recursive: true }).catch(() => {});
      const staged = await run([one, "stage", newTgz, `${base}-full`]);
      extractMs.push(staged.wallMs);
      stageRss.push(staged.out.peak_rss_kib as number);
    }
    console.log(
      `folder: ${name} ${from} → ${to} (${files} files; ${changed} changed, new or removed = ${
        pct(changed, files)
      })`,
    );
    console.log(
      `  delta ${r.size} bytes: ${
        pct(r.size, full)
      } of the npm .tgz (${full} bytes; ${r.patched} patched, ${r.whole} whole, ${r.copied} copied, ${r.removed} removed)   [target ≤ 5% with ~1% of files changed]`,
    );
    console.log(
      `  generation ${secs(madeFolder.out.ms as number)}, peak RSS ${mib(madeFolder.treeRssKib)}`,
    );
    console.log(
      `  client: rebuild + verify ${secs(median(applyMs))}, staging the full .tgz (extract, seal) ${
        secs(median(extractMs))
      }, both fsynced; peak RSS above idle +${mib(median(rss) - idle)} (staging the .tgz +${
        mib(median(stageRss) - idle)
      })`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
