// Benchmarks, reported as ratios measured in one run (machines here are shared and noisy).
//
//   deno task bench [--runs N]
//
// 1. The launcher path: `ms11-update apply` with nothing staged, against `deno run` of an empty
//    script. The difference is what ms11-update adds to every application start.
// 2. Hashing a staged file from disk (lib/verify.ts) against `openssl dgst -sha256`.
import { hashFile } from "../lib/verify.ts";

const runsFlag = Deno.args.indexOf("--runs");
const runs = runsFlag >= 0 ? Number(Deno.args[runsFlag + 1]) : 15;
const main = new URL("../main.ts", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "ms11-bench-" });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function time(command: string, args: string[]): Promise<number> {
  const start = performance.now();
  const status = await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
  const elapsed = performance.now() - start;
  if (!status.success) throw new Error(`${command} ${args.join(" ")} failed (${status.code})`);
  return elapsed;
}

try {
  await Deno.writeTextFile(`${dir}/empty.ts`, "");
  await Deno.mkdir(`${dir}/root`);
  const config = `${dir}/config.json`;
  await Deno.writeTextFile(config, "{}");
  const empty: number[] = [];
  const apply: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate, so that both see the same machine load.
    empty.push(await time(Deno.execPath(), ["run", "-A", `${dir}/empty.ts`]));
    apply.push(
      await time(Deno.execPath(), [
        "run",
        "-A",
        main,
        "apply",
        "--root",
        `${dir}/root`,
        "--config",
        config,
      ]),
    );
  }
  const e = median(empty);
  const a = median(apply);
  console.log(`launcher path (median of ${runs}):`);
  console.log(`  deno run empty.ts          ${e.toFixed(1)} ms`);
  console.log(`  ms11-update apply (idle)   ${a.toFixed(1)} ms`);
  console.log(`  overhead ${(a - e).toFixed(1)} ms, ratio ${(a / e).toFixed(2)}x`);

  const size = 256 * 1024 * 1024;
  const file = `${dir}/artifact.bin`;
  {
    const f = await Deno.open(file, { write: true, create: true });
    const chunk = crypto.getRandomValues(new Uint8Array(65536));
    for (let written = 0; written < size; written += chunk.length) await f.write(chunk);
    f.close();
  }
  const ours: number[] = [];
  const openssl: number[] = [];
  const hasOpenssl = await new Deno.Command("openssl", { args: ["version"], stdout: "null" })
    .output().then((o) => o.success, () => false);
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await hashFile(file);
    ours.push(performance.now() - start);
    if (hasOpenssl) openssl.push(await time("openssl", ["dgst", "-sha256", file]));
  }
  const gbps = (ms: number) => (size / 1e9 / (ms / 1000)).toFixed(2);
  console.log(`hashing a 256 MiB file from disk (median of 5):`);
  console.log(`  lib/verify.ts hashFile     ${gbps(median(ours))} GB/s`);
  if (hasOpenssl) {
    console.log(`  openssl dgst -sha256       ${gbps(median(openssl))} GB/s`);
    console.log(`  ratio (time) ${(median(ours) / median(openssl)).toFixed(2)}x openssl`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
