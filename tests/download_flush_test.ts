// A download that is fsynced at the end is flushed to disk as it is written (lib/net/_partial.ts):
// observed under strace, fdatasync calls on the partial file come while its bytes are still being
// written, and the final fsync comes last; one that is not synced is never flushed.
import assert from "node:assert/strict";
import { haveStrace, libUrl, pseudoRandom, runDeno, sha256, tempDir } from "./_helpers.ts";

const ignore = !haveStrace();

/** The code of a PartialFile download of `size` bytes to `dest`, flushed every 1 MiB. */
function downloadCode(dest: string, size: number, sync: boolean): string {
  return `
    import { PartialFile } from "${libUrl("net/_partial.ts")}";
    import { HttpSession } from "${libUrl("net/http.ts")}";
    import { pseudoRandom, sha256 } from "${new URL("./_helpers.ts", import.meta.url).href}";
    const body = pseudoRandom(${size});
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
      new Response(body));
    const url = "http://127.0.0.1:" + server.addr.port + "/app.bin";
    const session = new HttpSession("Download", url, { requireHttps: false });
    const partial = new PartialFile(${JSON.stringify(dest)}, {
      url, size: ${size}, sha256: sha256(body), onProgress: undefined, session,
      sync: ${sync}, flushBytes: 1024 * 1024,
    });
    await partial.open();
    await session.run(() => partial.attempt(true));
    await partial.finish(true, { sync: ${sync} });
    session.close();
    await server.shutdown();
  `;
}

/** The writes and syncs made to `path`, in order, from strace's log. */
async function callsOn(code: string, path: string): Promise<string[]> {
  await using dir = await tempDir("ms11-strace-");
  const log = `${dir.path}/trace`;
  const run = await runDeno(["eval", "--quiet", code], {
    prefix: [
      ...["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64,fsync,fdatasync"],
      ...["-o", log],
    ],
  });
  if (run.code !== 0) throw new Error(`traced code failed (${run.code}): ${run.stderr}`);
  const calls: string[] = [];
  for (const line of (await Deno.readTextFile(log)).split("\n")) {
    const match = /^\d+\s+(write|pwrite64|fsync|fdatasync)\(\d+<([^>]*)>/.exec(line);
    if (match && match[2] === path) calls.push(match[1] === "pwrite64" ? "write" : match[1]);
  }
  return calls;
}

Deno.test({
  name: "a synced download is flushed while it is written, and fsynced once at the end",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const dest = `${dir.path}/app.bin`;
    const size = 6 * 1024 * 1024;
    const calls = await callsOn(downloadCode(dest, size, true), `${dest}.partial`);
    const lastWrite = calls.lastIndexOf("write");
    const flushes = calls.filter((c) => c === "fdatasync").length;
    assert.ok(flushes >= 2 && flushes <= 6, `${flushes} flushes: ${calls.join(" ")}`);
    assert.ok(calls.indexOf("fdatasync") < lastWrite, "a flush while the bytes still arrive");
    assert.deepEqual(calls.filter((c) => c === "fsync"), ["fsync"]);
    assert.equal(calls.at(-1), "fsync", "the one fsync comes last");
    assert.equal(sha256(await Deno.readFile(dest)), sha256(pseudoRandom(size)));
  },
});

Deno.test({
  name: "a download that is not synced is never flushed",
  ignore,
  async fn() {
    await using dir = await tempDir();
    const dest = `${dir.path}/app.bin`;
    const size = 3 * 1024 * 1024;
    const calls = await callsOn(downloadCode(dest, size, false), `${dest}.partial`);
    assert.ok(calls.includes("write"));
    assert.deepEqual(calls.filter((c) => c !== "write"), []);
    assert.equal((await Deno.stat(dest)).size, size);
  },
});
