// The launcher's idle `apply` as instruction counts, which the machine's load does not change:
//
//   deno task bench:instructions [--runs 3] [--rev GIT_REV ...]
//
// Each tree (this one, and every `--rev` taken out of git into a temporary folder) builds its
// own code-split bundle with its own `deno task bundle:split` and makes its own install root
// (`install --adopt`, nothing staged). Then, interleaved, `valgrind --tool=callgrind` counts the
// instructions of `deno run --no-config` of an empty script and of each tree's `apply`, with the
// shipped V8 flags, in a private DENO_DIR warmed by one run of each first (V8's code cache).
// Prints the median count per case and its excess over the empty script. Needs valgrind
// (Debian: apt-get install valgrind) and git.
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { median, numberFlag } from "./_util.ts";

const runs = numberFlag("--runs", 3);
const revs = Deno.args.flatMap((arg, i) => Deno.args[i - 1] === "--rev" ? [arg] : []);
const project = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const dir = await Deno.makeTempDir({ prefix: "ms11-instructions-" });
const env = { DENO_DIR: `${dir}/deno-dir`, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };

/** Run `command`; its stderr, or an error naming it when it fails. */
async function run(command: string, args: string[], cwd = dir): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd, env, stdout: "null", stderr: "piped" })
    .output().catch((error) => {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`${command} is not installed (Debian: apt-get install ${command})`);
      }
      throw error;
    });
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${command} ${args.join(" ")} failed: ${stderr.trim()}`);
  return stderr;
}

/** A tree to measure: its bundle's entry and its install root. */
interface Tree {
  name: string;
  entry: string;
  root: string;
}

/** Take `rev` out of git into its own folder (or use this tree), bundle it, make its root. */
async function prepare(rev: string | null, app: string): Promise<Tree> {
  let src = project;
  if (rev !== null) {
    src = `${dir}/tree-${rev.replace(/[^\w.-]/g, "_")}`;
    await Deno.mkdir(src);
    await run("sh", ["-c", `git -C "${project}" archive "${rev}" | tar -x -C "${src}"`]);
  }
  let out = `${dir}/split-this`;
  if (rev === null) await run(deno, ["run", "-A", "tools/bundle_split.ts", out], src);
  else {
    // The tree's own bundling: its task writes dist/split in the tree.
    await run(deno, ["task", "-q", "bundle:split"], src);
    out = `${src}/dist/split`;
  }
  const root = `${dir}/root-${rev ?? "this"}`;
  await run(deno, [
    ...["run", "-A", `${src}/main.ts`, "--root", root],
    ...["install", "--adopt", app, "--version", "1.0.0"],
  ], src);
  return { name: rev === null ? "this tree" : rev, entry: `${out}/main.js`, root };
}

/** The instructions one run of `deno args` executes. */
async function count(args: string[]): Promise<number> {
  const stderr = await run("valgrind", [
    ...["--tool=callgrind", "--callgrind-out-file=/dev/null", deno],
    ...args,
  ]);
  const m = /Collected : (\d+)/.exec(stderr);
  if (!m) throw new Error(`valgrind printed no instruction count: ${stderr.slice(-200)}`);
  return Number(m[1]);
}

try {
  const app = `${dir}/app`;
  await Deno.writeTextFile(app, "#!/bin/sh\necho MS11\n", { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/empty.js`, "");
  const trees = [await prepare(null, app)];
  for (const rev of revs) trees.push(await prepare(rev, app));
  const cases: [string, string[]][] = [
    ["deno run of an empty script", ["run", "--no-config", `${dir}/empty.js`]],
    ...trees.map((t): [string, string[]] => [
      `apply, code-split bundle (${t.name})`,
      ["run", "-A", "--no-config", ...SHIPPED_V8_FLAGS, t.entry, "apply", "--root", t.root],
    ]),
  ];
  for (const [, args] of cases) await count(args); // warm the code cache
  const counts: number[][] = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [c, [, args]] of cases.entries()) counts[c].push(await count(args));
  }
  const empty = median(counts[0]);
  console.log(`Idle apply, instructions (callgrind), medians of ${runs} interleaved runs:`);
  for (const [c, [name]] of cases.entries()) {
    const m = median(counts[c]);
    const over = c === 0 ? "" : `  +${((m - empty) / 1e6).toFixed(1)} M over the empty script`;
    console.log(`  ${name.padEnd(48)} ${(m / 1e6).toFixed(1).padStart(6)} M${over}`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
