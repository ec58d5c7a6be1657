// Benchmarks at the user's boundary: the CLI as a user and a launcher run it (process start to
// exit), against the shell commands that do the same, in one run, interleaved, behind Debian's
// nginx on loopback: plain HTTP by default, as the component benches (--https: through TLS with a
// test CA, where Deno's TLS, on the same thread as the hashing, is slower than curl's OpenSSL).
// Reported as ratios (machines here are shared and noisy).
//
//   deno task bench:boundary [--size-mib 1024] [--runs 3] [--apply-runs 11] [--idle-runs 31]
//                            [--https] [--keep] [--only WORD,…] [--compare DIR,…]
//
// The CLI is the code-split bundle (`deno task bundle:split`) run with the V8 flags the
// executable ships with. Cases:
//
//   update, executable   `ms11-update` staging a SIZE executable build, from an install of 1.0.0
//     vs curl -o F && openssl dgst -sha256 F && chmod +x F && sync F   (the durable shell)
//     vs curl -o F && sync F                                        (transfer + one durable write)
//   update, tar.gz       `ms11-update` staging a SIZE tar.gz build (random content)
//     vs curl -o A && openssl dgst -sha256 A && tar xzf A -C D && sync -f D
//     vs curl A | tar xz -C D && sync -f D
//   apply, staged        `ms11-update apply` with a SIZE build staged vs with a 1 MiB build
//   idle apply           `ms11-update apply` with nothing staged vs `deno run` of an empty file
//
// `--compare DIR,…` also bundles the checkout at each DIR (another version of this project, e.g.
// a `git worktree` of main) and times its update of the executable build in the same rounds: a
// before/after in one run.
//
// Before each timed run an untimed `sync` flushes what the previous one left dirty. Each round
// starts one case further on, so that every case runs in every place. Afterwards,
// the peak RSS of one update of the SIZE executable build (GNU time's %M).
import { publishRelease } from "../lib/publish/release.ts";
import { readSigningKey, writeKeyPair } from "../lib/publish/signing.ts";
import { detectPlatform } from "../lib/core/config.ts";
import { startNginx } from "../tests/_nginx.ts";
import { SHIPPED_V8_FLAGS } from "../tools/_v8_flags.ts";
import { bundleSplit } from "../tools/bundle_split.ts";
import { median, numberFlag } from "./_util.ts";

const sizeMib = numberFlag("--size-mib", 1024);
const runs = numberFlag("--runs", 3);
const applyRuns = numberFlag("--apply-runs", 11);
const idleRuns = numberFlag("--idle-runs", 31);
const https = Deno.args.includes("--https");
/** `--only WORD,…`: run only the update and apply cases whose name contains one of the WORDs. */
const only = Deno.args.includes("--only")
  ? Deno.args[Deno.args.indexOf("--only") + 1].split(",")
  : null;
/** `--compare DIR,…`: checkouts whose update of the executable build is timed too. */
const compare = Deno.args.includes("--compare")
  ? Deno.args[Deno.args.indexOf("--compare") + 1].split(",")
  : [];
/** The name of the case of `--compare`'s `i`th checkout. */
const compared = (i: number) => `ms11-update, executable (--compare ${i + 1})`;
const project = new URL("..", import.meta.url).pathname;
const deno = Deno.execPath();
const platform = detectPlatform();

/** Run a command; throws with its stderr when it fails. Returns the elapsed milliseconds. */
async function run(command: string, args: string[], cwd?: string): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).output();
  const ms = performance.now() - start;
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return ms;
}

const sh = (script: string) => run("sh", ["-c", script]);

/** Write `mib` MiB of random bytes after `head` (a script that exits before reaching them). */
async function randomFile(path: string, mib: number, head = ""): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o755 });
  const encoded = new TextEncoder().encode(head);
  let written = 0;
  while (written < encoded.length) written += await file.write(encoded.subarray(written));
  const chunk = new Uint8Array(1 << 20);
  for (let i = 0; i < mib; i++) {
    for (let off = 0; off < chunk.length; off += 65536) {
      crypto.getRandomValues(chunk.subarray(off, off + 65536));
    }
    let done = 0;
    while (done < chunk.length) done += await file.write(chunk.subarray(done));
  }
  file.close();
}

/** Throw unless `root` has 1.1.0 staged (the update really ran). */
async function expectStaged(root: string): Promise<void> {
  const state = JSON.parse(await Deno.readTextFile(`${root}/state.json`));
  if (state.staged?.version !== "1.1.0") {
    throw new Error(`${root}: 1.1.0 is not staged (${JSON.stringify(state.staged)})`);
  }
}

/** Throw unless `root`'s current build is `version` (the apply really swapped). */
async function expectCurrent(root: string, version: string): Promise<void> {
  const current = await Deno.readLink(`${root}/current`);
  if (current !== `builds/${version}`) throw new Error(`${root}: current is ${current}`);
}

const script = (version: string) => `#!/bin/sh\necho "MS11 ${version}"\nexit 0\n`;

const dir = await Deno.makeTempDir({ prefix: "ms11-bench-boundary-" });
try {
  console.log(`setting up in ${dir} (${sizeMib} MiB builds)…`);
  const www = `${dir}/www`;
  await Deno.mkdir(www);
  const keyFiles = await writeKeyPair(`${dir}/keys`);
  const key = await readSigningKey(keyFiles.privatePath);
  const src = `${dir}/src`;
  await Deno.mkdir(src);
  const publish = async (tree: string, version: string, artifact: string) => {
    await publishRelease(`${www}/${tree}`, {
      channel: "stable",
      version,
      platform,
      artifact,
      keys: [key],
    });
  };
  // Each tree: a small 1.0.0 to install, then (once the roots are made) the build to update to.
  await Deno.writeTextFile(`${src}/ms11`, script("1.0.0"));
  for (const tree of ["exe", "tgz", "small"]) await publish(tree, "1.0.0", `${src}/ms11`);

  const nginx = await startNginx(www, { http: !https });
  if (nginx === null) throw new Error("nginx is not installed (apt-get install nginx-light)");
  try {
    const base = https ? nginx.httpsUrl : nginx.url;
    const ca = `${dir}/ca.pem`;
    await Deno.writeTextFile(ca, nginx.caPem);
    const configOf = async (tree: string) => {
      const path = `${dir}/config-${tree}.json`;
      await Deno.writeTextFile(
        path,
        JSON.stringify({
          channel: "stable",
          update_servers: { stable: { base_url: `${base}/${tree}/stable` } },
          security: {
            require_https: https,
            allowed_domains: ["127.0.0.1"],
            ca_file: ca,
            signing_keys: { stable: { threshold: 1, keys: [key.publicKey] } },
          },
        }),
      );
      return path;
    };
    const configs = {
      exe: await configOf("exe"),
      tgz: await configOf("tgz"),
      small: await configOf("small"),
    };
    const split = `${dir}/split`;
    await bundleSplit(split, { cwd: project, deno });
    for (const [i, checkout] of compare.entries()) {
      // A checkout's own update code, bundled here (--compare times the executable update only).
      await run(deno, [
        ...["bundle", "--quiet", "--code-splitting", "--outdir", `${dir}/split-compare-${i}`],
        "main.ts",
      ], checkout);
    }
    const cli = (args: string[], config: string, root: string, bundle = split) => [
      "run",
      "-A",
      ...SHIPPED_V8_FLAGS,
      `${bundle}/main.js`,
      ...args,
      "--config",
      config,
      "--root",
      root,
    ];
    const ms11 = (args: string[], config: string, root: string) =>
      run(deno, cli(args, config, root), dir);

    // Roots with 1.0.0 installed: templates copied afresh for each update, and roots where
    // 1.1.0 gets staged (their state is put back after each apply).
    const templates: Record<string, string> = {};
    for (const tree of ["exe", "tgz"] as const) {
      templates[tree] = `${dir}/template-${tree}`;
      await ms11(["install"], configs[tree], templates[tree]);
    }
    for (const tree of ["exe", "small"] as const) {
      await ms11(["install"], configs[tree], `${dir}/staged-${tree}`);
    }
    await randomFile(`${src}/ms11`, sizeMib, script("1.1.0"));
    await publish("exe", "1.1.0", `${src}/ms11`);
    await randomFile(`${src}/ms11`, 1, script("1.1.0"));
    await publish("small", "1.1.0", `${src}/ms11`);
    const content = `${dir}/content`;
    await Deno.mkdir(content);
    await Deno.writeTextFile(`${content}/ms11`, script("1.1.0"));
    await Deno.chmod(`${content}/ms11`, 0o755);
    await randomFile(`${content}/data.bin`, sizeMib);
    const tgz = `${src}/ms11-1.1.0.tar.gz`;
    await run("tar", ["-I", "gzip -1", "-cf", tgz, "-C", content, "."]);
    await Deno.remove(content, { recursive: true });
    await publish("tgz", "1.1.0", tgz);
    await Deno.remove(src, { recursive: true });
    const staged: Record<string, { root: string; state: string }> = {};
    for (const tree of ["exe", "small"] as const) {
      const root = `${dir}/staged-${tree}`;
      await ms11([], configs[tree], root);
      await expectStaged(root);
      staged[tree] = { root, state: await Deno.readTextFile(`${root}/state.json`) };
    }
    const unapply = async (tree: "exe" | "small") => {
      const { root, state } = staged[tree];
      await Deno.writeTextFile(`${root}/state.json`, state);
      await Deno.symlink("builds/1.0.0", `${root}/.current.bench`);
      await Deno.rename(`${root}/.current.bench`, `${root}/current`);
    };
    const idleRoot = templates.exe; // 1.0.0, nothing staged
    await expectCurrent(idleRoot, "1.0.0");
    const empty = `${dir}/empty.js`;
    await Deno.writeTextFile(empty, "");

    const fresh = async (name: string) => {
      const path = `${dir}/run-${name}`;
      await Deno.remove(path, { recursive: true }).catch(() => {});
      return path;
    };
    const url = (tree: string, file: string) => `${base}/${tree}/stable/1.1.0/${file}`;
    const curl = `curl -sS --fail ${https ? `--cacert "${ca}"` : ""}`;
    type Case = {
      name: string;
      prepare?: () => Promise<void>;
      run: () => Promise<number>;
      check?: () => Promise<void>;
    };
    let root = "";
    let out = "";
    const updates: Case[] = [
      {
        name: "ms11-update, executable",
        prepare: async () => {
          root = await fresh("root");
          await run("cp", ["-a", templates.exe, root]);
        },
        run: () => ms11([], configs.exe, root),
        check: () => expectStaged(root),
      },
      ...compare.map((_, i) => ({
        name: compared(i),
        prepare: async () => {
          root = await fresh("root");
          await run("cp", ["-a", templates.exe, root]);
        },
        run: () => run(deno, cli([], configs.exe, root, `${dir}/split-compare-${i}`), dir),
        check: () => expectStaged(root),
      })),
      {
        name: "curl -o && openssl && chmod && sync F",
        prepare: async () => {
          out = await fresh("out");
          await Deno.mkdir(out);
        },
        run: () =>
          sh(
            `${curl} -o "${out}/ms11" "${
              url("exe", "ms11")
            }" && openssl dgst -sha256 "${out}/ms11" >/dev/null && chmod +x "${out}/ms11" && sync "${out}/ms11"`,
          ),
      },
      {
        name: "curl -o && sync F",
        prepare: async () => {
          out = await fresh("out");
          await Deno.mkdir(out);
        },
        run: () => sh(`${curl} -o "${out}/ms11" "${url("exe", "ms11")}" && sync "${out}/ms11"`),
      },
      {
        name: "ms11-update, tar.gz",
        prepare: async () => {
          root = await fresh("root");
          await run("cp", ["-a", templates.tgz, root]);
        },
        run: () => ms11([], configs.tgz, root),
        check: () => expectStaged(root),
      },
      {
        name: "curl -o && openssl && tar xzf && sync",
        prepare: async () => {
          out = await fresh("out");
          await Deno.mkdir(`${out}/build`, { recursive: true });
        },
        run: () =>
          sh(
            `${curl} -o "${out}/a.tar.gz" "${
              url("tgz", "ms11-1.1.0.tar.gz")
            }" && openssl dgst -sha256 "${out}/a.tar.gz" >/dev/null && tar xzf "${out}/a.tar.gz" -C "${out}/build" && sync -f "${out}/build"`,
          ),
      },
      {
        name: "curl | tar xz && sync",
        prepare: async () => {
          out = await fresh("out");
          await Deno.mkdir(`${out}/build`, { recursive: true });
        },
        run: () =>
          sh(
            `${curl} "${
              url("tgz", "ms11-1.1.0.tar.gz")
            }" | tar xz -C "${out}/build" && sync -f "${out}/build"`,
          ),
      },
      {
        name: `apply, ${sizeMib} MiB staged`,
        prepare: () => unapply("exe"),
        run: () => ms11(["apply"], configs.exe, staged.exe.root),
        check: () => expectCurrent(staged.exe.root, "1.1.0"),
      },
      {
        name: "apply, 1 MiB staged",
        prepare: () => unapply("small"),
        run: () => ms11(["apply"], configs.small, staged.small.root),
        check: () => expectCurrent(staged.small.root, "1.1.0"),
      },
    ];
    const times = new Map<string, number[]>();
    const record = (name: string, ms: number) => times.set(name, [...times.get(name) ?? [], ms]);
    const total = Math.max(runs, applyRuns);
    const chosen = updates.filter((c) => only === null || only.some((w) => c.name.includes(w)));
    for (let i = 0; i < total; i++) {
      // Each round starts one case further on: the case that runs first in a round (after the
      // previous round's last, and the clean-up of its files) was the slowest in every run, which
      // ever code it was; rotating gives every case every place.
      for (const c of chosen.map((_, k) => chosen[(k + i) % chosen.length])) {
        const isApply = c.name.startsWith("apply");
        if (i >= (isApply ? applyRuns : runs)) continue;
        await c.prepare?.();
        await run("sync", []);
        record(c.name, await c.run());
        await c.check?.();
      }
      console.log(`  round ${i + 1} of ${total} done`);
    }
    for (let i = 0; i < idleRuns; i++) {
      record("deno run empty.js", await run(deno, ["run", "-A", ...SHIPPED_V8_FLAGS, empty], dir));
      record("ms11-update apply, idle", await ms11(["apply"], configs.exe, idleRoot));
    }
    // Peak memory of one update of the big executable build.
    const rssFile = `${dir}/rss`;
    const peakKib = async (bundle: string) => {
      root = await fresh("root");
      await run("cp", ["-a", templates.exe, root]);
      await run("/usr/bin/time", [
        ...["-f", "%M", "-o", rssFile, deno],
        ...cli([], configs.exe, root, bundle),
      ]);
      return Number((await Deno.readTextFile(rssFile)).trim().split("\n").at(-1));
    };
    const rssKib = await peakKib(split);
    const compareKib: number[] = [];
    for (const i of compare.keys()) compareKib.push(await peakKib(`${dir}/split-compare-${i}`));

    const m = (name: string) => median(times.get(name) ?? [NaN]);
    const line = (name: string) =>
      console.log(
        `  ${name.padEnd(40)} ${(m(name) / 1000).toFixed(3).padStart(8)} s  (median of ${
          times.get(name)?.length ?? 0
        })`,
      );
    const ratio = (a: string, b: string, target: string) =>
      console.log(`    ${a} / ${b}: ${(m(a) / m(b)).toFixed(2)}x  (target ${target})`);
    console.log(
      `\nat the user's boundary, ${sizeMib} MiB builds over ${
        https ? "HTTPS" : "HTTP"
      } from loopback nginx, interleaved:`,
    );
    for (const name of times.keys()) line(name);
    console.log("  ratios:");
    ratio("ms11-update, executable", "curl -o && openssl && chmod && sync F", "<= 0.85");
    ratio("ms11-update, executable", "curl -o && sync F", "<= 1.05");
    for (const [i, checkout] of compare.entries()) {
      console.log(`  --compare ${i + 1} is ${checkout}:`);
      ratio(compared(i), "curl -o && openssl && chmod && sync F", "<= 0.85");
      ratio(compared(i), "curl -o && sync F", "<= 1.05");
      ratio("ms11-update, executable", compared(i), "none; this checkout / that one");
    }
    ratio("ms11-update, tar.gz", "curl -o && openssl && tar xzf && sync", "<= 1.0");
    ratio("ms11-update, tar.gz", "curl | tar xz && sync", "none; for reference");
    ratio(`apply, ${sizeMib} MiB staged`, "apply, 1 MiB staged", "<= 1.2");
    console.log(
      `    idle apply - empty deno run: ${
        (m("ms11-update apply, idle") - m("deno run empty.js")).toFixed(1)
      } ms  (target <= +10 ms)`,
    );
    console.log(
      `  peak RSS of the ${sizeMib} MiB executable update: ${(rssKib / 1024).toFixed(1)} MiB`,
    );
    for (const [i, kib] of compareKib.entries()) {
      console.log(`  the same, --compare ${i + 1}: ${(kib / 1024).toFixed(1)} MiB`);
    }
  } finally {
    await nginx.stop();
  }
} finally {
  if (Deno.args.includes("--keep")) console.log(`kept ${dir}`);
  else await Deno.remove(dir, { recursive: true });
}
