// `ms11-update dashboard` as a subprocess: it prints its URL, serves the status document of
// `status --json`, opens a browser with --open, refuses a public address without --allow-remote,
// and stops cleanly on SIGINT.
import assert from "node:assert/strict";
import { openerCommand } from "../cli/dashboard.ts";
import { makeWorld, type World } from "./_e2e.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Start the dashboard command; resolves with its first stdout line (the URL). */
async function startDashboard(world: World, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "dashboard",
      "--port",
      "0",
      "--config",
      world.configPath,
      "--root",
      world.root,
      ...args,
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await lines.read();
    if (done) break;
    text += value;
  }
  const stderr = new Response(child.stderr).text();
  return {
    line: text.split("\n")[0],
    async stop() {
      child.kill("SIGINT");
      const status = await child.status;
      await lines.cancel();
      return { code: status.code, stderr: await stderr };
    },
  };
}

Deno.test("dashboard --help names its options", async () => {
  await using world = await makeWorld();
  const run = await world.cli(["dashboard", "--help"]);
  assert.equal(run.code, 0, run.stderr);
  for (const option of ["--port <port>", "--host <host>", "--allow-remote", "--open", "--root"]) {
    assert.ok(run.stdout.includes(option), `${option} in:\n${run.stdout}`);
  }
  assert.ok(run.stdout.includes("docs/DASHBOARD.md"));
});

Deno.test("dashboard prints its URL, serves status --json's document, stops on SIGINT", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const dashboard = await startDashboard(world, []);
  try {
    assert.match(dashboard.line, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    const api = new URL(dashboard.line);
    api.pathname = "/api/status";
    const response = await fetch(api);
    assert.equal(response.status, 200);
    const served = await response.json();
    const cli = await world.cli(["status", "--json"]);
    assert.deepEqual(served, JSON.parse(cli.stdout));
    assert.equal(served.current.version, "1.0.0");
  } finally {
    const { code, stderr } = await dashboard.stop();
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^Serving the dashboard of ${world.root} on http://127\\.0\\.0\\.1:\\d+: open the URL printed on stdout \\(Ctrl-C to stop\\)\\n$`,
      ),
    );
  }
});

Deno.test("dashboard --open runs the system's opener with the URL", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  const bin = `${world.dir}/bin`;
  await Deno.mkdir(bin);
  const opened = `${world.dir}/opened.txt`;
  await Deno.writeTextFile(`${bin}/xdg-open`, `#!/bin/sh\necho "$1" > "${opened}"\n`, {
    mode: 0o755,
  });
  const dashboard = await startDashboard(world, ["--open"], {
    PATH: `${bin}:${Deno.env.get("PATH")}`,
  });
  try {
    assert.equal((await Deno.readTextFile(opened)).trim(), dashboard.line);
  } finally {
    assert.equal((await dashboard.stop()).code, 0);
  }
});

Deno.test("dashboard refuses 0.0.0.0 without --allow-remote, and a bad port", async () => {
  await using world = await makeWorld();
  const open = await world.cli(["dashboard", "--host", "0.0.0.0"]);
  assert.equal(open.code, 2);
  assert.equal(
    open.stderr.trim(),
    "error: Refusing to serve the dashboard on 0.0.0.0: it can change this install, so it listens on loopback only; pass --allow-remote if you mean it",
  );
  const port = await world.cli(["dashboard", "--port", "http"]);
  assert.equal(port.code, 2);
  assert.equal(port.stderr.trim(), 'error: Invalid --port "http": expected 0-65535');
  // A mistyped root: no dashboard of an empty install (it would create one on its first action).
  const typo = await world.cli(["dashboard"]);
  assert.equal(typo.code, 1);
  assert.equal(
    typo.stderr,
    `error: No install at ${world.root}: it does not exist (ms11-update install sets one up; the root comes from --root, $MS11_UPDATE_ROOT or install_root)\n`,
  );
  assert.equal(typo.stdout, "");
  await assert.rejects(Deno.stat(world.root), Deno.errors.NotFound);
});

Deno.test("dashboard on a port in use says which port", async () => {
  await using world = await makeWorld();
  await world.publish("stable", "1.0.0");
  assert.equal((await world.cli(["install"])).code, 0);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const busy = await world.cli(["dashboard", "--port", String(port)]);
  assert.equal(busy.code, 1);
  assert.equal(
    busy.stderr,
    `error: Cannot listen on 127.0.0.1:${port}: the port is already in use (choose another with --port, or --port 0 for a free one)\n`,
  );
});

Deno.test("openerCommand picks the opener of each OS", () => {
  assert.deepEqual(openerCommand("linux", "http://x/"), ["xdg-open", "http://x/"]);
  assert.deepEqual(openerCommand("darwin", "http://x/"), ["open", "http://x/"]);
  assert.deepEqual(openerCommand("windows", "http://x/"), ["cmd", "/c", "start", "", "http://x/"]);
});
