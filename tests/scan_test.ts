// The scan gate: lib/root/scan.ts runs `security.scan_command` on a staged build (own process
// group, no shell, a timeout, output kept short and escaped), and the update pipeline refuses,
// rejects or stages the build by its verdict. Stand-in scanners (shell scripts) play the clean,
// infected, crashing and hanging cases; Debian's clamscan plays a real one, with a signature
// database made here and, where it is present, ClamAV's own.
import assert from "node:assert/strict";
import { readAudit } from "../lib/root/audit.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { skipReason } from "../lib/root/lifecycle.ts";
import { scanBuild } from "../lib/root/scan.ts";
import { readState } from "../lib/root/state.ts";
import { makeWorld, type World } from "./_e2e.ts";
import { processGone, tempDir } from "./_helpers.ts";

/** A stand-in scanner: an executable shell script in `dir`. */
async function scanner(dir: string, name: string, body: string): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/** A folder to scan, holding `files`. */
async function buildFolder(dir: string, files: Record<string, string>): Promise<string> {
  const build = `${dir}/build`;
  await Deno.mkdir(build, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${build}/${name}`, text);
  }
  return build;
}

/** The infected stand-in: any file holding MARKER is a threat (exit 1); it reports each file. */
const MARKER = "STANDIN-TEST-SIGNATURE";
const INFECTED_BODY = `for f in $(find "$1" -type f | sort); do
  if grep -q ${MARKER} "$f"; then printf '%s: Standin.Test FOUND\\033[2J\\n' "$f"; exit 1; fi
  echo "$f: OK"
done
exit 0`;

Deno.test("scanBuild: a clean scan passes, its per-file OK lines left out of the summary", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine", "README": "fine" });
  const result = await scanBuild(build, {
    command: [await scanner(tmp.path, "scan", INFECTED_BODY)],
    timeoutMs: 10_000,
    infectedCodes: [1],
  });
  assert.deepEqual(result, { outcome: "clean", detail: "exited with code 0", summary: "" });
});

Deno.test("scanBuild: a threat found is infected, its output one escaped line naming the build", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { a: "fine", b: `x ${MARKER} y` });
  const command = [await scanner(tmp.path, "scan", INFECTED_BODY)];
  const result = await scanBuild(build, {
    command,
    timeoutMs: 10_000,
    infectedCodes: [1],
    shownAs: "builds/1.1.0",
  });
  assert.deepEqual(result, {
    outcome: "infected",
    detail: "exited with code 1",
    summary: "builds/1.1.0/b: Standin.Test FOUND\\x1b[2J",
  });
  // With no infected codes configured every non-zero exit is a threat; with codes, another
  // non-zero exit is the scanner failing.
  const exit3 = [await scanner(tmp.path, "exit3", "echo 'cannot read database' >&2; exit 3")];
  assert.deepEqual(
    await scanBuild(build, { command: exit3, timeoutMs: 10_000, infectedCodes: null }),
    { outcome: "infected", detail: "exited with code 3", summary: "cannot read database" },
  );
  assert.deepEqual(
    await scanBuild(build, { command: exit3, timeoutMs: 10_000, infectedCodes: [1] }),
    { outcome: "failed", detail: "exited with code 3", summary: "cannot read database" },
  );
});

Deno.test("scanBuild: a crashing scanner failed, whatever the exit codes say", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  const command = [await scanner(tmp.path, "crash", "echo starting; kill -SEGV $$")];
  assert.deepEqual(await scanBuild(build, { command, timeoutMs: 10_000, infectedCodes: null }), {
    outcome: "failed",
    detail: "was killed by SIGSEGV",
    summary: "starting",
  });
});

Deno.test("scanBuild: a hanging scanner is killed at its timeout with what it started", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  const pidFile = `${tmp.path}/child.pid`;
  const command = [
    await scanner(tmp.path, "hang", `sleep 300 & echo $! > ${pidFile}; echo scanning; wait`),
  ];
  const result = await scanBuild(build, { command, timeoutMs: 300, infectedCodes: null });
  assert.deepEqual(result, {
    outcome: "failed",
    detail: "did not finish within 0.3 s",
    summary: "scanning",
  });
  assert.ok(await processGone(pidFile), "the scanner's background sleep was killed too");
});

Deno.test("scanBuild: a scanner that cannot start failed, saying why", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  for (const command of [["/nonexistent/clamscan"], ["ms11-no-such-scanner"]]) {
    const result = await scanBuild(build, { command, timeoutMs: 10_000, infectedCodes: null });
    assert.equal(result.outcome, "failed");
    assert.match(result.detail, /^could not start: .*(No such file|not found)/i);
  }
  const notExecutable = `${tmp.path}/plain`;
  await Deno.writeTextFile(notExecutable, "echo hi\n", { mode: 0o644 });
  const denied = await scanBuild(build, {
    command: [notExecutable],
    timeoutMs: 10_000,
    infectedCodes: null,
  });
  assert.equal(denied.outcome, "failed");
  assert.match(denied.detail, /^could not start: .*denied/i);
});

Deno.test("scanBuild: never a shell; the arguments arrive as given, the folder last", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  const argsFile = `${tmp.path}/args`;
  const command = [
    await scanner(tmp.path, "record", `for a in "$@"; do printf '%s\\n' "$a"; done > ${argsFile}`),
    "--log=$(touch pwned)",
    "; touch pwned2",
    "*",
  ];
  const result = await scanBuild(build, { command, timeoutMs: 10_000, infectedCodes: null });
  assert.equal(result.outcome, "clean");
  assert.deepEqual((await Deno.readTextFile(argsFile)).split("\n"), [
    "--log=$(touch pwned)",
    "; touch pwned2",
    "*",
    build,
    "",
  ]);
  for (const name of ["pwned", "pwned2"]) {
    await assert.rejects(Deno.stat(`${build}/${name}`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${tmp.path}/${name}`), Deno.errors.NotFound);
  }
});

Deno.test("scanBuild: a flood of output is drained and cut to one short line", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  // 2 MiB on stdout and stderr each: more than any pipe buffer, so the scanner blocks unless read.
  const command = [
    await scanner(
      tmp.path,
      "flood",
      "head -c 2097152 /dev/zero | tr '\\0' 'x'; head -c 2097152 /dev/zero | tr '\\0' 'y' >&2; exit 1",
    ),
  ];
  const result = await scanBuild(build, { command, timeoutMs: 60_000, infectedCodes: [1] });
  assert.equal(result.outcome, "infected");
  assert.equal(result.summary.length, 300);
  assert.ok(result.summary.endsWith("..."));
});

Deno.test("scanBuild: a process the scanner leaves behind holding its pipes does not hang the gate", async () => {
  await using tmp = await tempDir();
  const build = await buildFolder(tmp.path, { ms11: "fine" });
  const pidFile = `${tmp.path}/stray.pid`;
  // setsid: a new session, out of the scanner's group; it keeps stdout open for 300 s.
  const command = [
    await scanner(tmp.path, "stray", `setsid sh -c 'echo $$ > ${pidFile}; sleep 300' & exit 0`),
  ];
  try {
    const result = await scanBuild(build, { command, timeoutMs: 10_000, infectedCodes: null });
    assert.equal(result.outcome, "clean");
  } finally {
    const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    if (pid > 0) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
});

// --- the gate in the update pipeline, through the CLI ----------------------------------------

/**
 * A world with 1.0.0 installed from stable and 1.1.0 published: a script holding `text` in a
 * comment, or exactly `options.raw`.
 */
async function worldWith110(text = "clean build", options: { raw?: string } = {}): Promise<World> {
  const world = await makeWorld();
  await world.publish("stable", "1.0.0");
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  const artifact = `${world.dir}/ms11-1.1.0`;
  await Deno.writeTextFile(
    artifact,
    options.raw ?? `#!/bin/sh\n# ${text}\necho "MS11 1.1.0"\n`,
  );
  await world.publish("stable", "1.1.0", { artifact });
  return world;
}

/** The world's config with the scan settings and a hook recording events in `events.jsonl`. */
async function scanConfig(world: World, security: Record<string, unknown>): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(world.configPath));
  await world.writeConfig({
    security: { ...config.security, ...security },
    notifications: {
      command: ["sh", "-c", `cat >> ${world.dir}/events.jsonl; echo >> ${world.dir}/events.jsonl`],
    },
  });
}

/** Events the hook heard. */
async function events(world: World): Promise<{ type: string; message: string }[]> {
  const text = await Deno.readTextFile(`${world.dir}/events.jsonl`).catch(() => "");
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

/** A scanner script counting its runs in `<dir>/<name>.runs`, then running `body`. */
function counted(world: World, name: string, body: string): Promise<string> {
  return scanner(world.dir, name, `echo run >> ${world.dir}/${name}.runs\n${body}`);
}

async function runs(world: World, name: string): Promise<number> {
  const text = await Deno.readTextFile(`${world.dir}/${name}.runs`).catch(() => "");
  return text.split("\n").filter((l) => l !== "").length;
}

Deno.test("scan gate: a clean build is scanned, staged and audited", async () => {
  await using world = await worldWith110();
  await scanConfig(world, {
    scan_command: [await counted(world, "scan", INFECTED_BODY)],
    scan_infected_exit_codes: [1],
  });
  const run = await world.cli([]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /^Staged 1\.1\.0 from stable/);
  assert.equal(await runs(world, "scan"), 1);
  const layout = layoutOf(world.root);
  assert.equal((await readState(layout)).state.staged?.version, "1.1.0");
  const scanned = (await readAudit(layout)).filter((e) => e.event === "scanned");
  assert.deepEqual(scanned.map((e) => [e.version, e.reason]), [
    ["1.1.0", "the scanner scan exited with code 0"],
  ]);
  // The applied build is the scanned one: the smoke test and the swap come after, at launch.
  const apply = await world.cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stderr, /^Applied 1\.1\.0 \(was 1\.0\.0\)/);
});

Deno.test("scan gate: a threat found refuses the build, rejects it with the scanner's line, announces it", async () => {
  await using world = await worldWith110(`infected ${MARKER}`);
  await scanConfig(world, {
    scan_command: [await counted(world, "scan", INFECTED_BODY)],
    scan_infected_exit_codes: [1],
  });
  const before = (await Array.fromAsync(Deno.readDir(`${world.root}/builds`))).map((e) => e.name);
  const run = await world.cli([]);
  assert.equal(run.code, 1);
  const reason =
    "the scanner scan found a threat (exited with code 1): builds/1.1.0/ms11: Standin.Test FOUND\\x1b[2J";
  assert.equal(run.stderr, `error: Build 1.1.0 from stable was refused: ${reason}\n`);
  assert.ok(
    !run.stderr.includes("\x1b"),
    "the scanner's escape sequence never reaches the terminal",
  );
  const layout = layoutOf(world.root);
  const { state } = await readState(layout);
  assert.equal(state.staged, null);
  assert.equal(state.builds["1.1.0"], undefined);
  assert.equal(skipReason(state.lifecycle, { version: "1.1.0", channel: "stable" }), reason);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${world.root}/builds`))).map((e) => e.name),
    before,
    "the refused build is gone from builds/",
  );
  const downloads = await Array.fromAsync(Deno.readDir(`${world.root}/downloads`)).catch(() => []);
  assert.deepEqual(downloads.map((e) => e.name), [], "the infected download is gone too");
  const refused = (await readAudit(layout)).filter((e) => e.event === "scan_refused");
  assert.deepEqual(refused.map((e) => [e.version, e.reason, e.bad]), [["1.1.0", reason, true]]);
  const heard = await events(world);
  assert.deepEqual(heard.filter((e) => e.type === "failure").map((e) => e.message), [
    `update failed: Build 1.1.0 from stable was refused: ${reason}`,
  ]);
  // Updates skip the rejected release (no download, no scan) until a newer one or --force.
  const again = await world.cli([]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /1\.1\.0/);
  assert.match(again.stderr, /Standin\.Test FOUND/);
  assert.equal(await runs(world, "scan"), 1);
  const status = await world.cli(["status"]);
  assert.match(status.stdout, /rejected: +1\.1\.0 on stable \(the scanner scan found a threat/);
  // --force downloads it again and scans it again: still refused.
  const forced = await world.cli(["--force"]);
  assert.equal(forced.code, 1);
  assert.equal(await runs(world, "scan"), 2);
  assert.equal((await readState(layout)).state.staged, null);
});

Deno.test("scan gate: a crashing scanner stages nothing and rejects nothing (fail closed)", async () => {
  await using world = await worldWith110();
  await scanConfig(world, { scan_command: [await counted(world, "crash", "kill -SEGV $$")] });
  const run = await world.cli([]);
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr,
    'error: Build 1.1.0 from stable was not staged: the scanner crash was killed by SIGSEGV; a build that was not scanned is never staged (security.scan_on_error is "refuse")\n',
  );
  const layout = layoutOf(world.root);
  const { state } = await readState(layout);
  assert.equal(state.staged, null);
  assert.equal(state.builds["1.1.0"], undefined);
  assert.equal(
    skipReason(state.lifecycle, { version: "1.1.0", channel: "stable" }),
    null,
    "not the build's fault",
  );
  await assert.rejects(Deno.stat(`${world.root}/builds/1.1.0`), Deno.errors.NotFound);
  // The verified download is kept: the next update scans the same bytes without fetching them.
  const kept = (await Array.fromAsync(Deno.readDir(`${world.root}/downloads`))).map((e) => e.name);
  assert.equal(kept.length, 1, kept.join(", "));
  assert.match(kept[0], /^1\.1\.0-/);
  const failed = (await readAudit(layout)).filter((e) => e.event === "scan_failed");
  assert.deepEqual(failed.map((e) => [e.reason, e.allowed]), [
    ["the scanner crash was killed by SIGSEGV", false],
  ]);
  // The next update tries again, from the kept download: the release server no longer has the
  // artifact, and the scanner still runs.
  const manifest = JSON.parse(await Deno.readTextFile(`${world.tree}/stable/manifest.json`));
  const url = Object.values(manifest.artifacts as Record<string, { url: string }>)[0].url;
  await Deno.remove(`${world.tree}/stable/${url}`);
  const again = await world.cli([]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /was not staged: the scanner crash was killed by SIGSEGV/);
  assert.equal(await runs(world, "crash"), 2);
});

Deno.test("scan gate: a hanging scanner is stopped at scan_timeout_seconds; nothing is staged", async () => {
  await using world = await worldWith110();
  const pidFile = `${world.dir}/hang.pid`;
  await scanConfig(world, {
    scan_command: [await counted(world, "hang", `sleep 300 & echo $! > ${pidFile}; wait`)],
    scan_timeout_seconds: 1,
  });
  const run = await world.cli([]);
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr,
    'error: Build 1.1.0 from stable was not staged: the scanner hang did not finish within 1 s; a build that was not scanned is never staged (security.scan_on_error is "refuse")\n',
  );
  assert.ok(await processGone(pidFile), "the scanner's group was killed");
  assert.equal((await readState(layoutOf(world.root))).state.staged, null);
});

Deno.test('scan gate: a missing scanner refuses by default and, with scan_on_error "allow", stages with a warning', async () => {
  await using world = await worldWith110();
  await scanConfig(world, { scan_command: ["ms11-no-such-scanner", "-r"] });
  const refused = await world.cli([]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^error: Build 1\.1\.0 from stable was not staged: the scanner ms11-no-such-scanner could not start: .+; a build that was not scanned is never staged \(security\.scan_on_error is "refuse"\)\n$/,
  );
  assert.equal((await readState(layoutOf(world.root))).state.staged, null);
  await scanConfig(world, { scan_command: ["ms11-no-such-scanner", "-r"], scan_on_error: "allow" });
  const allowed = await world.cli([]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(
    allowed.stderr,
    /^warning: Staging 1\.1\.0 unscanned: the scanner ms11-no-such-scanner could not start: .+ \(security\.scan_on_error is "allow"\)\nStaged 1\.1\.0 from stable/,
  );
  const layout = layoutOf(world.root);
  assert.equal((await readState(layout)).state.staged?.version, "1.1.0");
  const failed = (await readAudit(layout)).filter((e) => e.event === "scan_failed");
  assert.deepEqual(failed.map((e) => e.allowed), [false, true]);
});

// --- Debian's clamscan ------------------------------------------------------------------------

const CLAMSCAN = "/usr/bin/clamscan";
const HAVE_CLAMSCAN = await Deno.stat(CLAMSCAN).then((s) => s.isFile, () => false);
/** ClamAV's own signature database, as freshclam (or clamav-data) leaves it. */
const CLAM_DB = "/var/lib/clamav";
const HAVE_CLAM_DB = await (async () => {
  try {
    for await (const e of Deno.readDir(CLAM_DB)) {
      if (/^(main|daily)\.c[vl]d$/.test(e.name)) return true;
    }
  } catch { /* absent */ }
  return false;
})();

Deno.test({
  name: HAVE_CLAMSCAN
    ? "scan gate with Debian's clamscan and a signature database made here: threat refused, clean staged"
    : `scan gate with Debian's clamscan (skipped: ${CLAMSCAN} is absent; apt-get install clamav, as .ci/run does)`,
  ignore: !HAVE_CLAMSCAN,
  async fn() {
    await using world = await worldWith110(`infected ${MARKER}`);
    // An MD5 signature (ClamAV's .hdb format: md5:size:name) of the published 1.1.0 artifact.
    const artifact = await Deno.readFile(`${world.dir}/ms11-1.1.0`);
    const sig = new Deno.Command("sigtool", {
      args: ["--md5", `${world.dir}/ms11-1.1.0`],
      stdout: "piped",
    });
    const line = new TextDecoder().decode((await sig.output()).stdout).trim().replace(
      /:[^:]*$/,
      ":Ms11.Test.Signature",
    );
    assert.match(line, new RegExp(`^[0-9a-f]{32}:${artifact.length}:Ms11\\.Test\\.Signature$`));
    const db = `${world.dir}/ms11-test.hdb`;
    await Deno.writeTextFile(db, `${line}\n`);
    await scanConfig(world, {
      scan_command: ["clamscan", "--no-summary", "--database", db, "-r"],
      scan_infected_exit_codes: [1],
    });
    const run = await world.cli([]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "error: Build 1.1.0 from stable was refused: the scanner clamscan found a threat (exited with code 1): builds/1.1.0/ms11: Ms11.Test.Signature.UNOFFICIAL FOUND\n",
    );
    const { state } = await readState(layoutOf(world.root));
    assert.match(
      skipReason(state.lifecycle, { version: "1.1.0", channel: "stable" }) ?? "",
      /Ms11\.Test\.Signature/,
    );
    // A release the signature does not match passes clamscan and is staged.
    const clean = `${world.dir}/ms11-1.2.0`;
    await Deno.writeTextFile(clean, '#!/bin/sh\necho "MS11 1.2.0"\n');
    await world.publish("stable", "1.2.0", { artifact: clean });
    const next = await world.cli([]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /^Staged 1\.2\.0 from stable/);
    // A database clamscan cannot load is the scanner failing (exit 2), not a threat.
    await Deno.writeTextFile(db, "not a signature\n");
    await scanConfig(world, {
      scan_command: ["clamscan", "--no-summary", "--database", db, "-r"],
      scan_infected_exit_codes: [1],
    });
    const publishAgain = `${world.dir}/ms11-1.3.0`;
    await Deno.writeTextFile(publishAgain, '#!/bin/sh\necho "MS11 1.3.0"\n');
    await world.publish("stable", "1.3.0", { artifact: publishAgain });
    const broken = await world.cli([]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /was not staged: the scanner clamscan exited with code 2: /);
  },
});

Deno.test({
  name: HAVE_CLAMSCAN && HAVE_CLAM_DB
    ? "scan gate with Debian's clamscan and ClamAV's own database: the EICAR test file is refused"
    : `scan gate with Debian's clamscan and ClamAV's own database (skipped: ${
      HAVE_CLAMSCAN ? "" : `${CLAMSCAN} is absent and `
    }no main/daily database is in ${CLAM_DB}; freshclam downloads it from database.clamav.net, which this machine cannot reach, and it is not faked here)`,
  ignore: !(HAVE_CLAMSCAN && HAVE_CLAM_DB),
  async fn() {
    // The EICAR anti-virus test string, assembled so that this source file is not itself flagged.
    const eicar = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"]
      .join("");
    // The file is the test string and nothing else, as the EICAR signature requires.
    await using world = await worldWith110("", { raw: eicar });
    await scanConfig(world, {
      scan_command: ["clamscan", "--no-summary", "-r"],
      scan_infected_exit_codes: [1],
      scan_timeout_seconds: 600,
    });
    const run = await world.cli([]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /was refused: the scanner clamscan found a threat \(exited with code 1\): builds\/1\.1\.0\/ms11: .*Eicar.* FOUND/i,
    );
  },
  timeout: 900_000,
});
