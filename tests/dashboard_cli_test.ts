// `ms11-update dashboard` as a subprocess: it prints its URL, serves the status document of
// `status --json`, opens a browser with --open, refuses a public address without --allow-remote,
// and stops cleanly on SIGINT.
import assert from "node:assert/strict";
import { openerCommand } from "../cli/dashboard.ts";
import { exists } from "../lib/core/fs.ts";
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every process's arguments and environment, as another user of the machine could read them. */
async function processTexts(): Promise<{ pid: string; what: string; text: string }[]> {
  const found: { pid: string; what: string; text: string }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    for (const what of ["cmdline", "environ"]) {
      try {
        const bytes = await Deno.readFile(`/proc/${entry.name}/${what}`);
        found.push({ pid: entry.name, what, text: new TextDecoder().decode(bytes) });
      } catch { /* gone, or not readable */ }
    }
  }
  return found;
}

Deno.test({
  name:
    "dashboard --open hands the opener a one-time link: the token is in no process's arguments or environment",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using world = await makeWorld();
    await world.publish("stable", "1.0.0");
    assert.equal((await world.cli(["install"])).code, 0);
    const bin = `${world.dir}/bin`;
    await Deno.mkdir(bin);
    const opened = `${world.dir}/opened.txt`;
    const done = `${world.dir}/opener-done`;
    // A stand-in opener that stays alive (as a browser starting up does) until told to go.
    await Deno.writeTextFile(
      `${bin}/xdg-open`,
      // (written aside and renamed: the test must never read a created but still empty file)
      `#!/bin/sh\necho "$1" > "${opened}.tmp"\nmv "${opened}.tmp" "${opened}"\nwhile [ ! -e "${done}" ]; do sleep 0.05; done\n`,
      { mode: 0o755 },
    );
    const dashboard = await startDashboard(world, ["--open"], {
      PATH: `${bin}:${Deno.env.get("PATH")}`,
    });
    let stderr = "";
    try {
      const token = new URL(dashboard.line).searchParams.get("token")!;
      assert.match(token, /^[\w-]{43}$/);
      // The opener is running: scan every process while it does.
      for (let i = 0; i < 1200 && !(await exists(opened)); i++) await delay(25);
      const link = (await Deno.readTextFile(opened)).trim();
      assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/open\?code=[\w-]{43}$/);
      const code = new URL(link).searchParams.get("code")!;
      assert.notEqual(code, token);
      const scanned = await processTexts();
      // The scan sees arguments (the opener's, with the one-time link)...
      assert.ok(
        scanned.some((p) => p.what === "cmdline" && p.text.includes(code)),
        "the scan found the running opener",
      );
      // ...and the token in none of them.
      assert.deepEqual(
        scanned.filter((p) => p.text.includes(token)).map((p) => `${p.pid}/${p.what}`),
        [],
      );
      await Deno.writeTextFile(done, "");

      // The link is exchanged once for an HttpOnly, SameSite=Strict session cookie.
      const redeemed = await fetch(link, { redirect: "manual" });
      await redeemed.body?.cancel();
      assert.equal(redeemed.status, 303);
      assert.equal(redeemed.headers.get("location"), "/");
      const cookie = redeemed.headers.get("set-cookie")!;
      assert.match(cookie, /^ms11_session=[\w-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
      const session = cookie.split(";")[0];
      const origin = new URL(link).origin;
      const page = await fetch(`${origin}/`, { headers: { cookie: session } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<h2 id="h-installed">Installed<\/h2>/);
      const api = await fetch(`${origin}/api/status`, { headers: { cookie: session } });
      assert.equal((await api.json()).schema, 2);
      // Scripts keep the header.
      const scripted = await fetch(`${origin}/api/status`, { headers: { "x-ms11-token": token } });
      assert.equal(scripted.status, 200);
      await scripted.body?.cancel();

      // A replay is refused, and ends the session the link opened.
      const replay = await fetch(link, { redirect: "manual" });
      assert.equal(replay.status, 410);
      assert.match((await replay.json()).error, /^Refused: this one-time link was already used/);
      const after = await fetch(`${origin}/api/status`, { headers: { cookie: session } });
      assert.equal(after.status, 401);
      await after.body?.cancel();
    } finally {
      await Deno.writeTextFile(done, "").catch(() => {});
      const stopped = await dashboard.stop();
      stderr = stopped.stderr;
      assert.equal(stopped.code, 0, stderr);
    }
    assert.ok(
      stderr.includes(
        "warning: The dashboard's one-time link was opened twice: the session it opened is ended; open the printed URL instead",
      ),
      stderr,
    );
  },
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
