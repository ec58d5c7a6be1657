// Download + verify benchmark, reported as ratios measured in one run, against loopback nginx
// (a server that streams 64 KiB chunks, such as Deno.serve over file.readable, is itself the
// bottleneck near 0.25 GB/s):
//
//   deno task bench:download [--size-mib 1024] [--runs 3]
//
// Cases, interleaved so that each sees the same machine load, each a fresh process:
//   ours      lib/net/download.ts downloadArtifact as lib/actions/pipeline.ts calls it (stream → SHA-256 + file,
//             rename; the fsync is left to staging, which fsyncs what it installs)
//   ours+sync the same, fsynced before the rename (durable on return, like curl -o + sync)
//   curl -o   curl -sS -o FILE URL && openssl dgst -sha256 FILE        (what a shell updater does)
//   +sync     the same with `sync FILE` before hashing (durable, as ours: it fsyncs)
//   curl|tee  curl -sS URL | tee FILE | openssl dgst -sha256           (the pipelined shell)
//   ours, default V8 flags: the same as ours, run without the executable's V8 flags
//   naive     fetch → arrayBuffer → crypto.subtle.digest → write
// Then the peak RSS of `ours` for 64 MiB and for the full size, against an idle Deno process.
//
// `ours` runs with the V8 flags that `deno task compile` builds the executable with (read from
// deno.json, so that the two cannot drift apart); the peak RSS is also shown without them.
import { createHash } from "node:crypto";
import { startNginx } from "../tests/_nginx.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { median, numberFlag } from "./_util.ts";

const sizeMib = numberFlag("--size-mib", 1024);
const runs = numberFlag("--runs", 3);
const one = new URL("./_download_one.ts", import.meta.url).pathname;
const shipped = SHIPPED_V8_FLAGS;

/** Write `mib` MiB of pseudo-random bytes; returns the SHA-256. */
async function makeArtifact(path: string, mib: number): Promise<string> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < mib; i++) {
    for (let off = 0; off < chunk.length; off += 65536) {
      crypto.getRandomValues(chunk.subarray(off, off + 65536));
    }
    hash.update(chunk);
    let written = 0;
    while (written < chunk.length) written += await file.write(chunk.subarray(written));
  }
  file.close();
  return hash.digest("hex");
}

async function timed(command: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  const start = performance.now();
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const ms = performance.now() - start;
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return { ms, stdout };
}

const dir = await Deno.makeTempDir({ prefix: "ms11-bench-dl-" });
try {
  const tree = `${dir}/tree`;
  await Deno.mkdir(tree);
  const big = { name: "big.bin", mib: sizeMib, sha: "" };
  const small = { name: "small.bin", mib: 64, sha: "" };
  big.sha = await makeArtifact(`${tree}/${big.name}`, big.mib);
  small.sha = await makeArtifact(`${tree}/${small.name}`, small.mib);
  const nginx = await startNginx(tree);
  if (nginx === null) throw new Error("nginx is not installed (apt-get install nginx-light)");
  try {
    const url = `${nginx.url}/${big.name}`;
    const bytes = big.mib * 1024 * 1024;
    const dest = `${dir}/out.bin`;
    const deno = Deno.execPath();
    /** One download by bench/_download_one.ts in `mode`, with `flags` for deno. */
    const runOne = (mode: string, flags: string[]) => () =>
      timed(deno, ["run", "-A", "--quiet", ...flags, one, mode, url, dest, String(bytes), big.sha]);
    const cases: [string, () => Promise<{ ms: number; stdout: string }>][] = [
      ["ours (downloadArtifact)", runOne("ours", shipped)],
      ["curl -o && openssl dgst", () =>
        timed("sh", [
          "-c",
          `curl -sS -o "${dest}" "${url}" && openssl dgst -sha256 "${dest}"`,
        ])],
      ["ours + fsync (sync: true)", runOne("ours-sync", shipped)],
      ["curl -o && sync && openssl", () =>
        timed("sh", [
          "-c",
          `curl -sS -o "${dest}" "${url}" && sync "${dest}" && openssl dgst -sha256 "${dest}"`,
        ])],
      ["curl | tee | openssl dgst", () =>
        timed("bash", [
          "-c",
          `set -o pipefail; curl -sS "${url}" | tee "${dest}" | openssl dgst -sha256`,
        ])],
      ["ours, default V8 flags", runOne("ours", [])],
      ["naive fetch+arrayBuffer", runOne("naive", [])],
    ];
    const times: number[][] = cases.map(() => []);
    const rssOurs: number[] = [];
    const rssNaive: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [k, [name, run]] of cases.entries()) {
        await Deno.remove(dest).catch(() => {});
        const { ms, stdout } = await run();
        times[k].push(ms);
        if (k === 0) rssOurs.push(JSON.parse(stdout).peak_rss_kib);
        if (k === cases.length - 1) rssNaive.push(JSON.parse(stdout).peak_rss_kib);
        if (name.startsWith("curl") && !stdout.includes(big.sha)) {
          throw new Error(`${name}: the digest printed is not ${big.sha}: ${stdout}`);
        }
      }
    }
    const medians = times.map(median);
    const gbps = (ms: number) => (bytes / 1e9 / (ms / 1000)).toFixed(2);
    console.log(
      `download + verify of ${big.mib} MiB from loopback nginx over http (median of ${runs} interleaved runs):`,
    );
    for (const [k, [name]] of cases.entries()) {
      console.log(
        `  ${name.padEnd(28)} ${medians[k].toFixed(0).padStart(7)} ms  ${gbps(medians[k])} GB/s  ${
          (medians[k] / medians[0]).toFixed(2)
        }x ours`,
      );
    }
    // Ratios by case name, so that reordering the cases cannot mix them up.
    const median_ = (name: string) => {
      const k = cases.findIndex(([n]) => n === name);
      if (k < 0) throw new Error(`No case ${name}`);
      return medians[k];
    };
    const ratio = (a: string, b: string) => (median_(a) / median_(b)).toFixed(2);
    const ours = "ours (downloadArtifact)";
    console.log(
      `  ours / curl -o:              ${ratio(ours, "curl -o && openssl dgst")}  (goal <= 1.0)`,
    );
    console.log(
      `  ours+fsync / curl -o+sync:   ${
        ratio("ours + fsync (sync: true)", "curl -o && sync && openssl")
      }  (both durable on disk)`,
    );
    console.log(
      `  ours / curl | tee | openssl: ${ratio(ours, "curl | tee | openssl dgst")}  (goal <= 1.2)`,
    );
    console.log(
      `  ours / ours without flags:   ${ratio(ours, "ours, default V8 flags")}  (the cost of ${
        shipped.join(" ")
      })`,
    );
    console.log(`  ours / naive fetch:          ${ratio(ours, "naive fetch+arrayBuffer")}`);

    const smallUrl = `${nginx.url}/${small.name}`;
    const smallBytes = small.mib * 1024 * 1024;
    const rssSmall: number[] = [];
    const rssIdle: number[] = [];
    const rssPlain: [number[], number[]] = [[], []];
    const peak = async (flags: string[], mode: string, u = "", size = 0, sha = "") => {
      await Deno.remove(dest).catch(() => {});
      const args = [...flags, one, mode, u, dest, String(size), sha];
      return JSON.parse((await timed(deno, ["run", "-A", "--quiet", ...args])).stdout).peak_rss_kib;
    };
    for (let i = 0; i < runs; i++) {
      rssSmall.push(await peak(shipped, "ours", smallUrl, smallBytes, small.sha));
      rssIdle.push(await peak(shipped, "idle"));
      // The same without the shipped V8 flags (the optimizing compilers on).
      rssPlain[0].push(await peak([], "ours", smallUrl, smallBytes, small.sha));
      rssPlain[1].push(await peak([], "ours", url, bytes, big.sha));
    }
    const mib = (kib: number) => (kib / 1024).toFixed(1);
    const [big_, small_, idle_, naive_] = [rssOurs, rssSmall, rssIdle, rssNaive].map(median);
    console.log(`peak RSS (VmHWM, median of ${runs}):`);
    console.log(`  idle Deno process            ${mib(idle_).padStart(7)} MiB`);
    console.log(`  ours, 64 MiB artifact        ${mib(small_).padStart(7)} MiB`);
    console.log(`  ours, ${big.mib} MiB artifact ${mib(big_).padStart(9)} MiB`);
    console.log(`  naive, ${big.mib} MiB artifact ${mib(naive_).padStart(8)} MiB`);
    console.log(
      `  ours ${big.mib} MiB / 64 MiB: ${
        (big_ / small_).toFixed(3)
      } (goal within 10%); above idle: ${mib(Math.max(big_, small_) - idle_)} MiB (goal <= 48)`,
    );
    const [plainSmall, plainBig] = rssPlain.map(median);
    console.log(
      `  without ${shipped.join(" ") || "V8 flags"}: 64 MiB ${
        mib(plainSmall)
      } MiB, ${big.mib} MiB ${mib(plainBig)} MiB (${(plainBig / plainSmall).toFixed(3)})`,
    );
  } finally {
    await nginx.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
