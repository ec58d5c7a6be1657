// Benchmarks, reported as ratios measured in one run (machines here are shared and noisy).
//
//   deno task bench [--runs N]
//
// 1. The launcher path: `ms11-update apply` with nothing staged, against `deno run` of an empty
//    script. The difference is what ms11-update adds to every application start.
// 2. Hashing a staged file from disk (lib/core/hash.ts) against `openssl dgst -sha256`.
import { hashFile } from "../lib/core/hash.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { bundleSplit } from "../tools/bundle_split.ts";
import { median, numberFlag } from "./_util.ts";

const runs = numberFlag("--runs", 31);
const main = new URL("../main.ts", import.meta.url).pathname;
// The apply cases run with the V8 flags `deno task compile` builds the executable with.
const shipped = SHIPPED_V8_FLAGS;
const dir = await Deno.makeTempDir({ prefix: "ms11-bench-" });

async function time(command: string, args: string[], cwd?: string): Promise<number> {
  const start = performance.now();
  const status = await new Deno.Command(command, { args, cwd, stdout: "null", stderr: "null" })
    .output();
  const elapsed = performance.now() - start;
  if (!status.success) throw new Error(`${command} ${args.join(" ")} failed (${status.code})`);
  return elapsed;
}

try {
  await Deno.writeTextFile(`${dir}/empty.ts`, "");
  await Deno.mkdir(`${dir}/root`);
  const config = `${dir}/config.json`;
  await Deno.writeTextFile(config, "{}");
  const project = new URL("..", import.meta.url).pathname;
  const bundle = `${dir}/ms11-update.js`;
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "-o", bundle, "main.ts"],
    cwd: project,
  }).output();
  if (!built.success) throw new Error("deno bundle failed");
  // Code-split: the launcher path loads only its own chunks, not commander or archive code.
  await bundleSplit(`${dir}/split`, { cwd: project });
  await Deno.writeTextFile(`${project}/.bench-empty.ts`, "");
  const apply = ["apply", "--root", `${dir}/root`, "--config", config];
  // [name, deno arguments, working directory (deno looks for deno.json from there)]
  const cases: [string, string[], string][] = [
    ["deno run empty.ts (no project)", ["run", "-A", `${dir}/empty.ts`], dir],
    ["deno run empty.ts (in project)", ["run", "-A", `${project}/.bench-empty.ts`], project],
    ["ms11-update apply, main.ts", ["run", "-A", ...shipped, main, ...apply], project],
    ["ms11-update apply, bundle", ["run", "-A", ...shipped, bundle, ...apply], dir],
    // The launcher path needs no import map: skipping the project's config and lockfile skips
    // deno's npm resolution at start-up, which is most of the cost above.
    ["apply, main.ts --no-config", ["run", "-A", ...shipped, "--no-config", main, ...apply], dir],
    ["apply, code-split bundle", ["run", "-A", ...shipped, `${dir}/split/main.js`, ...apply], dir],
  ];
  const times: number[][] = cases.map(() => []);
  try {
    for (let i = 0; i < runs; i++) {
      // Interleaved, so that every case sees the same machine load.
      for (const [k, [, args, cwd]] of cases.entries()) {
        times[k].push(await time(Deno.execPath(), args, cwd));
      }
    }
  } finally {
    await Deno.remove(`${project}/.bench-empty.ts`);
  }
  const medians = times.map(median);
  console.log(`launcher path, idle apply (median of ${runs} interleaved runs):`);
  for (const [k, [name]] of cases.entries()) {
    console.log(`  ${name.padEnd(34)} ${medians[k].toFixed(1).padStart(7)} ms`);
  }
  for (const k of [4, 5]) {
    console.log(
      `  overhead of ${cases[k][0]} over an empty script (no project): ${
        (medians[k] - medians[0]).toFixed(1)
      } ms (${(medians[k] / medians[0]).toFixed(2)}x)`,
    );
  }
  console.log(
    `  overhead of apply over an empty script: main.ts ${
      (medians[2] - medians[1]).toFixed(1)
    } ms (${(medians[2] / medians[1]).toFixed(2)}x), bundle ${
      (medians[3] - medians[0]).toFixed(1)
    } ms (${(medians[3] / medians[0]).toFixed(2)}x)`,
  );

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
  console.log(`  lib/core/hash.ts hashFile     ${gbps(median(ours))} GB/s`);
  if (hasOpenssl) {
    console.log(`  openssl dgst -sha256       ${gbps(median(openssl))} GB/s`);
    console.log(`  ratio (time) ${(median(ours) / median(openssl)).toFixed(2)}x openssl`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
