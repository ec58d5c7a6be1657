// Launcher mode end to end: `ms11-update run -- COMMAND` as a subprocess, with builds that
// fail, survive, confirm themselves, and take signals; plus `confirm` and two updaters at once.
import assert from "node:assert/strict";
import { launch, makeWorld, runCli, type World } from "./_e2e.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** `ms11-update run [extra] -- COMMAND` against the world's root and config. */
function run(world: World, command: string[], extra: string[] = []) {
  return runCli([
    "run",
    ...extra,
    "--root",
    world.root,
    "--config",
    world.configPath,
    "--",
    ...command,
  ]);
}

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

/** Install 1.0.0, then publish and stage 1.1.0 with `body` after its version line. */
async function stageBad(world: World, body: string): Promise<void> {
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const artifact = `${world.dir}/ms11-1.1.0`;
  await Deno.writeTextFile(
    artifact,
    `#!/bin/sh\n[ "$1" = "--version" ] && { echo "MS11 1.1.0"; exit 0; }\necho "MS11 1.1.0"\n${body}\n`,
  );
  await world.publish("stable", "1.1.0", { artifact });
  const update = await world.cli([]);
  assert.equal(update.code, 0, update.stderr);
}

Deno.test("run: a build that exits non-zero is rolled back, the old one started, and it is not staged again", async () => {
  await using world = await makeWorld();
  await stageBad(world, "exit 3");
  const ran = await run(world, [`${world.root}/current/ms11`]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, "MS11 1.1.0\nMS11 1.0.0\n", ran.stderr);
  includes(ran.stderr, "Applied 1.1.0 (was 1.0.0)");
  includes(
    ran.stderr,
    "1.1.0 exited with code 3 before its health check passed; rolled back to 1.0.0 and starting it",
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(status.current.version, "1.0.0");
  assert.equal(status.trial, null);
  assert.deepEqual(status.rejected.map((r: { version: string; reason: string }) => r.reason), [
    "1.1.0 exited with code 3 before its health check passed",
  ]);
  const events = status.recent_events.map((e: { event: string }) => e.event);
  assert.deepEqual(events.slice(-2), ["applied", "rolled_back"]);
  const again = await world.cli([]);
  assert.equal(again.code, 0, again.stderr);
  includes(again.stderr, "1.1.0 on stable is skipped (rejected: 1.1.0 exited with code 3");
  // No crash loop: the next start runs 1.0.0 without any rollback.
  const next = await run(world, [`${world.root}/current/ms11`]);
  assert.equal(next.code, 0);
  assert.equal(next.stdout, "MS11 1.0.0\n");
  // A newer release clears it.
  await world.publish("stable", "1.1.1");
  const newer = await world.cli([]);
  assert.equal(newer.stdout, "");
  assert.match(
    newer.stderr,
    /^Staged 1\.1\.1 from stable \(1\.0\.0 -> 1\.1\.1; downloaded and verified \d+ B\); it is applied at the next launch\n$/,
  );
});

Deno.test("run: three clean short sessions keep the build: a clean exit is evidence of health", async () => {
  await using world = await makeWorld();
  await stageBad(world, "exit 0"); // a CLI-style build: it does its job and exits 0 at once
  for (let session = 1; session <= 3; session++) {
    const ran = await run(world, [`${world.root}/current/ms11`]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, "MS11 1.1.0\n", `session ${session}: ${ran.stderr}`);
    if (session === 1) includes(ran.stderr, "Confirmed 1.1.0: it exited cleanly (code 0)");
    else assert.ok(!ran.stderr.includes("Confirmed"), ran.stderr);
  }
  assert.equal(await launch(world.root), "MS11 1.1.0");
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(status.trial, null);
  assert.equal(status.current.lifecycle.state, "confirmed");
  assert.equal(status.current.lifecycle.reason, "exited cleanly (code 0) under ms11-update run");
  assert.deepEqual(status.rejected, []);
});

Deno.test("run: a build killed by a crash signal is rolled back; another signal is no verdict", async () => {
  await using world = await makeWorld();
  await stageBad(world, "kill -SEGV $$");
  const ran = await run(world, [`${world.root}/current/ms11`]);
  includes(
    ran.stderr,
    "1.1.0 crashed (SIGSEGV) before its health check passed; rolled back to 1.0.0 and starting it",
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");

  await using other = await makeWorld();
  await stageBad(other, "kill -KILL $$");
  for (let session = 1; session <= 4; session++) {
    const killed = await run(other, [`${other.root}/current/ms11`]);
    assert.equal(killed.code, 137, killed.stderr);
    assert.ok(!killed.stderr.includes("rolled back"), killed.stderr);
  }
  // No evidence either way: still on trial (launches counted), never rolled back under run.
  const status = JSON.parse((await other.cli(["status", "--json"])).stdout);
  assert.equal(status.trial.version, "1.1.0");
  assert.equal(status.trial.attempts, 4);
  assert.deepEqual(status.rejected, []);
});

Deno.test("run: only the exit codes the distribution declares are failures", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ health: { failure_exit_codes: [70] } });
  await stageBad(world, '[ -e "$0.fail" ] && exit 70; exit 2');
  for (let session = 1; session <= 4; session++) {
    const ran = await run(world, [`${world.root}/current/ms11`]);
    assert.equal(ran.code, 2, ran.stderr);
    assert.ok(!ran.stderr.includes("rolled back"), ran.stderr);
  }
  assert.equal(await launch(world.root), "MS11 1.1.0");
  await Deno.writeTextFile(`${world.root}/builds/1.1.0/ms11.fail`, "");
  const failed = await run(world, [`${world.root}/current/ms11`]);
  includes(
    failed.stderr,
    "1.1.0 exited with code 70 before its health check passed; rolled back to 1.0.0",
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");
});

Deno.test("run with require_confirm: clean sessions without a confirm roll back after max_attempts launches", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ health: { require_confirm: true, max_attempts: 2 } });
  await stageBad(world, "exit 0");
  for (const expected of ["MS11 1.1.0\n", "MS11 1.1.0\n"]) {
    const ran = await run(world, [`${world.root}/current/ms11`]);
    assert.equal(ran.stdout, expected, ran.stderr);
  }
  const third = await run(world, [`${world.root}/current/ms11`]);
  includes(
    third.stderr,
    "Rolled back 1.1.0 -> 1.0.0: 1.1.0 was not confirmed healthy after 2 launches (health.max_attempts 2)",
  );
  assert.equal(third.stdout, "MS11 1.0.0\n");
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.deepEqual(status.rejected.map((r: { version: string }) => r.version), ["1.1.0"]);
});

Deno.test("run: a build that lives through its health window is confirmed, and its exit code passes through", async () => {
  await using world = await makeWorld();
  // Exits 5 only once the updater has confirmed it (its trial is gone from state.json).
  await stageBad(
    world,
    `while grep -q '"trial"' "${world.root}/state.json"; do sleep 0.05; done; read line; echo "got $line"; exit 5`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "run",
      "--health-timeout",
      "0",
      "--root",
      world.root,
      "--config",
      world.configPath,
      "--",
      `${world.root}/current/ms11`,
    ],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("hello\n"));
  await writer.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 5, stderr);
  assert.equal(new TextDecoder().decode(out.stdout), "MS11 1.1.0\ngot hello\n");
  includes(stderr, "Confirmed 1.1.0: it passed its health window");
  assert.equal(await Deno.readLink(`${world.root}/current`), "builds/1.1.0");
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(status.trial, null);
  assert.deepEqual(status.rejected, []);
});

Deno.test("run with require_confirm: the build's own confirm commits it; a failure before it rolls back", async () => {
  await using world = await makeWorld();
  await world.writeConfig({ health: { require_confirm: true } });
  const confirm =
    `${Deno.execPath()} run -A ${MAIN} confirm --root ${world.root} --config ${world.configPath}`;
  await stageBad(world, `${confirm} >/dev/null 2>&1 || exit 99\nexit 4`);
  const ran = await run(world, [`${world.root}/current/ms11`]);
  assert.equal(ran.code, 4, ran.stderr);
  assert.equal(ran.stdout, "MS11 1.1.0\n");
  assert.equal(await launch(world.root), "MS11 1.1.0");

  await using other = await makeWorld();
  await other.writeConfig({ health: { require_confirm: true, health_timeout_seconds: 0 } });
  await stageBad(other, "exit 6");
  const failed = await run(other, [`${other.root}/current/ms11`]);
  assert.equal(failed.code, 0, failed.stderr);
  includes(failed.stderr, "1.1.0 exited with code 6 before it confirmed; rolled back to 1.0.0");
  assert.equal(await launch(other.root), "MS11 1.0.0");
});

Deno.test("run passes signals on to the application", async () => {
  await using world = await makeWorld();
  await stageBad(
    world,
    `trap 'echo "got TERM"; exit 0' TERM\necho ready\nwhile true; do sleep 0.05; done`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "run",
      "--root",
      world.root,
      "--config",
      world.configPath,
      "--",
      `${world.root}/current/ms11`,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGTERM");
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  const status = await child.status;
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0, stderr);
  assert.equal(seen, "MS11 1.1.0\nready\ngot TERM\n");
  // A signal from the user is not a failed health check: no rollback.
  assert.equal(await Deno.readLink(`${world.root}/current`), "builds/1.1.0");
});

Deno.test("run and confirm: usage errors exit 2", async () => {
  await using world = await makeWorld();
  const noCommand = await world.cli(["run"]);
  assert.equal(noCommand.code, 2);
  includes(noCommand.stderr, "error: missing required argument 'command'");
  const badTimeout = await run(world, ["true"], ["--health-timeout", "soon"]);
  assert.equal(badTimeout.code, 2);
  includes(badTimeout.stderr, 'Invalid --health-timeout "soon": expected seconds >= 0');
  const missing = await run(world, [`${world.dir}/nope`]);
  assert.equal(missing.code, 1);
  includes(missing.stderr, `error: Cannot start ${world.dir}/nope:`);
  // confirm at a mistyped root says there is no install there; at an install, nothing on trial
  // is no error.
  const typo = await world.cli(["confirm", "--json"]);
  assert.equal(typo.code, 1);
  includes(typo.stderr, `error: No install at ${world.root}: it does not exist`);
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const confirm = await world.cli(["confirm", "--json"]);
  assert.equal(confirm.code, 0, confirm.stderr);
  assert.equal(JSON.parse(confirm.stdout).confirmed, null);
  assert.equal(confirm.stderr, "No build is on trial; nothing to confirm\n");
});

Deno.test("two updaters at once: one stages, the other waits or fails naming the holder's pid", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  const spawn = (extra: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, ...extra, "--root", world.root, "--config", world.configPath],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  // With --wait both finish: one stages, the other then finds it staged.
  const a = spawn(["--wait", "60"]);
  const b = spawn(["--wait", "60"]);
  const [ra, rb] = await Promise.all([a.output(), b.output()]);
  const text = (o: Deno.CommandOutput) =>
    new TextDecoder().decode(o.stderr).trim().replace(/verified \d+ B/, "verified N B");
  assert.equal(ra.code, 0);
  assert.equal(rb.code, 0);
  assert.deepEqual([text(ra), text(rb)].sort(), [
    "1.1.0 from stable is already staged; it is applied at the next launch",
    "Staged 1.1.0 from stable (1.0.0 -> 1.1.0; downloaded and verified N B); it is applied at the next launch",
  ]);
  // Without --wait, while one holds the lock the other fails at once naming its pid.
  await world.publish("stable", "1.2.0");
  const c = spawn([]);
  const d = spawn([]);
  const [rc, rd] = await Promise.all([c.output(), d.output()]);
  const pids = [c.pid, d.pid];
  for (const [i, r] of [rc, rd].entries()) {
    if (r.code === 0) continue;
    assert.equal(r.code, 1);
    includes(
      new TextDecoder().decode(r.stderr),
      `error: Install lock ${world.root}/lock is held by another ms11-update (pid ${pids[1 - i]})`,
    );
  }
  assert.ok(rc.code === 0 || rd.code === 0, "one of them staged");
  const status = JSON.parse(
    (await runCli([
      "status",
      "--json",
      "--root",
      world.root,
      "--config",
      world.configPath,
    ])).stdout,
  );
  assert.equal(status.staged.version, "1.2.0");
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.equal(await launch(world.root), "MS11 1.2.0");
});

Deno.test("the launcher path needs no import map: apply and run work with --no-config", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  await world.publish("stable", "1.1.0");
  assert.equal((await world.cli([])).code, 0);
  const bare = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-config", MAIN, ...args],
      cwd: world.dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  };
  const where = ["--root", world.root, "--config", world.configPath];
  const ran = await bare(["run", ...where, "--", `${world.root}/current/ms11`]);
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout, "MS11 1.1.0\n");
  includes(ran.stderr, "Confirmed 1.1.0: it exited cleanly (code 0)");
  const applied = await bare(["apply", "--json", ...where]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(JSON.parse(applied.stdout).applied, false);
  assert.equal(JSON.parse(applied.stdout).trial, undefined);
});

Deno.test("apply: a staged build failing its smoke test stays out, is removed and is not staged again", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const artifact = `${world.dir}/ms11-1.1.0`;
  await Deno.writeTextFile(artifact, '#!/bin/sh\necho "cannot start" >&2\nexit 1\n');
  await world.publish("stable", "1.1.0", { artifact });
  assert.equal((await world.cli([])).code, 0);
  const apply = await world.cli(["apply"]);
  assert.equal(apply.code, 0, apply.stderr);
  includes(
    apply.stderr,
    "warning: Staged build 1.1.0 was not applied: smoke test ms11 --version exited with code 1",
  );
  assert.equal(await launch(world.root), "MS11 1.0.0");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${world.root}/builds`))).map((e) => e.name),
    ["1.0.0"],
  );
  const again = await world.cli([]);
  includes(
    again.stderr,
    "1.1.0 on stable is skipped (rejected: smoke test ms11 --version exited with code 1)",
  );
  const status = JSON.parse((await world.cli(["status", "--json"])).stdout);
  assert.equal(status.staged, null);
  assert.equal(
    status.last_error.message,
    "Staged build 1.1.0 was not applied: smoke test ms11 --version exited with code 1",
  );
});
