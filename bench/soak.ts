// Random-kill soak: a worker (bench/_soak_worker.ts) runs update → apply → confirm / rollback /
// unconfirmed-launch cycles through the real lib/ functions; it is killed with SIGKILL at a
// random moment; then the launcher's `applyStaged` runs, and the install must launch and be
// exactly one of the builds that were ever published (its bytes hashed). Outcomes are tallied;
// any install that does not launch fails the run.
//
//   deno run -A bench/soak.ts [--iterations 1000] [--parallel 4] [--max-delay-ms 300] [--seed N]
//
// tests/soak_test.ts runs it with 200 iterations in CI.
import { buildDir, currentVersion, layoutOf } from "../lib/root/layout.ts";
import { readState } from "../lib/root/state.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { soakScript } from "./_soak_worker.ts";
import { numberFlag, xorshift32 } from "./_util.ts";

/** Options of {@linkcode soak}. */
export interface SoakOptions {
  /** Kill-and-recover iterations in all. */
  iterations: number;
  /** Install roots soaked at the same time. */
  parallel?: number;
  /** The kill comes 0 to this many milliseconds after the worker is ready. */
  maxDelayMs?: number;
  /** Seed of the random delays and choices. */
  seed?: number;
}

/** The tally of a soak run. */
export interface SoakTally {
  /** Iterations run. */
  iterations: number;
  /** Installs that launched the right build after recovery. */
  valid: number;
  /** Installs that did not launch, or launched bytes that were never published. */
  invalid: number;
  /** Recoveries that found an interrupted swap and finished it. */
  finished: number;
  /** Recoveries that found an interrupted swap and undid it. */
  undone: number;
  /** What was wrong with each invalid install. */
  failures: string[];
  /**
   * The most leftovers of interrupted commands (temporary files of atomic writes, half-made or
   * half-removed builds) found in one root after a kill and its recovery: bounded by what one
   * killed command can leave, since the next command sweeps what the ones before left.
   */
  mostLeftovers: number;
}

/** Leftovers of interrupted commands in `root`. */
async function leftovers(root: string): Promise<number> {
  let found = 0;
  for (const dir of [root, `${root}/downloads`, `${root}/builds`]) {
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (/\.tmp$|^\.(staging|trash)-/.test(entry.name)) found++;
      }
    } catch { /* not there */ }
  }
  return found;
}

const WORKER = new URL("./_soak_worker.ts", import.meta.url).pathname;
const PROJECT = new URL("..", import.meta.url).pathname;

async function check(root: string): Promise<string | null> {
  const layout = layoutOf(root);
  const version = await currentVersion(layout);
  if (version === null) return "no current build";
  let bytes: string;
  try {
    bytes = await Deno.readTextFile(`${buildDir(layout, version)}/ms11`);
  } catch (error) {
    return `current ${version} has no executable: ${(error as Error).message}`;
  }
  if (bytes !== soakScript(version)) return `current ${version} holds other bytes`;
  const out = await new Deno.Command(`${root}/current/ms11`, { stdout: "piped", stderr: "null" })
    .output().catch((e) => ({ success: false, stdout: new TextEncoder().encode(String(e)) }));
  const said = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || said !== `MS11 ${version}`) {
    return `current ${version} does not launch: ${said}`;
  }
  const { state } = await readState(layout);
  if (state.journal !== undefined) return "a journal was left after recovery";
  return null;
}

async function seedRoot(root: string): Promise<void> {
  const dir = `${root}/builds/1.0.0`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/ms11`, soakScript("1.0.0"), { mode: 0o755 });
  await Deno.chmod(`${dir}/ms11`, 0o755);
  await Deno.symlink("builds/1.0.0", `${root}/current`);
}

/** Run the soak; resolves to the tally. */
export async function soak(options: SoakOptions): Promise<SoakTally> {
  const tally: SoakTally = {
    iterations: 0,
    valid: 0,
    invalid: 0,
    finished: 0,
    undone: 0,
    failures: [],
    mostLeftovers: 0,
  };
  const random = xorshift32(options.seed ?? Date.now());
  const dir = await Deno.makeTempDir({ prefix: "ms11-soak-" });
  const lanes = Math.max(1, options.parallel ?? 4);
  let next = 0;
  try {
    await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
      const root = `${dir}/root-${lane}`;
      await seedRoot(root);
      while (next < options.iterations) {
        const i = next++;
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", WORKER, root, String(Math.floor(random() * 2 ** 31) + 1)],
          cwd: PROJECT,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = child.stdout.getReader();
        await reader.read(); // "ready": its modules are loaded
        const delay = random() * (options.maxDelayMs ?? 300);
        await new Promise((r) => setTimeout(r, delay));
        try {
          child.kill("SIGKILL");
        } catch {
          // it already ended (by failing): its stderr says why
        }
        const status = await child.status;
        reader.releaseLock();
        await child.stdout.cancel();
        const stderr = await new Response(child.stderr).text();
        tally.iterations++;
        if (status.signal !== "SIGKILL") {
          tally.invalid++;
          tally.failures.push(`#${i}: the worker ended by itself (${status.code}): ${stderr}`);
          continue;
        }
        const result = await applyStaged(layoutOf(root), { keepBackups: 1, maxAttempts: 1 })
          .catch((e) => e as Error);
        if (result instanceof Error) {
          tally.invalid++;
          tally.failures.push(`#${i}: apply after the kill failed: ${result.message}`);
          continue;
        }
        if (result.recovered?.outcome === "finished") tally.finished++;
        else if (result.recovered?.outcome === "undone") tally.undone++;
        tally.mostLeftovers = Math.max(tally.mostLeftovers, await leftovers(root));
        const problem = await check(root);
        if (problem === null) tally.valid++;
        else {
          tally.invalid++;
          tally.failures.push(`#${i}: ${problem}`);
        }
      }
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return tally;
}

if (import.meta.main) {
  const options: SoakOptions = {
    iterations: numberFlag("--iterations", 1000),
    parallel: numberFlag("--parallel", 4),
    maxDelayMs: numberFlag("--max-delay-ms", 300),
    seed: numberFlag("--seed", Date.now()),
  };
  const start = performance.now();
  const tally = await soak(options);
  const seconds = ((performance.now() - start) / 1000).toFixed(0);
  console.log(
    `soak: ${tally.iterations} kills in ${seconds} s (seed ${options.seed}): ${tally.valid} valid, ${tally.invalid} invalid; recoveries: ${tally.finished} finished, ${tally.undone} undone; at most ${tally.mostLeftovers} leftovers in a root`,
  );
  for (const failure of tally.failures) console.log(`  ${failure}`);
  if (tally.invalid > 0) Deno.exit(1);
}
