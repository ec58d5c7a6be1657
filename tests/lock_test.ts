// The install lock under contention: a rival that finds the lock held always names the pid of
// the process holding it, never an empty or a stale one (issue 11, part 5).
import assert from "node:assert/strict";
import { denoSpawn, libUrl, readUntil, tempDir } from "./_helpers.ts";

/** Rivals racing for one lock, and the rounds each of them runs. */
const WORKERS = 4;
const ROUNDS = 400;

/**
 * A worker: says "ready", waits for "go" on stdin, then takes (without waiting) and releases the
 * lock `ROUNDS` times, and prints how often it held it and the pid each refusal named.
 */
function worker(root: string): Deno.ChildProcess {
  return denoSpawn(`
    import { acquireLock } from ${JSON.stringify(libUrl("root/lock.ts"))};
    import { LockHeldError } from ${JSON.stringify(libUrl("core/errors.ts"))};
    import { layoutOf } from ${JSON.stringify(libUrl("root/layout.ts"))};
    const layout = layoutOf(${JSON.stringify(root)});
    console.log("ready");
    const reader = Deno.stdin.readable.getReader();
    await reader.read();
    const refusals = [];
    let held = 0;
    for (let i = 0; i < ${ROUNDS}; i++) {
      try {
        const lock = await acquireLock(layout);
        held++;
        await new Promise((r) => setTimeout(r, 0));
        lock.release();
      } catch (error) {
        if (!(error instanceof LockHeldError)) throw error;
        refusals.push(error.pid);
      }
    }
    console.log(JSON.stringify({ pid: Deno.pid, held, refusals }));
  `);
}

/** The rest of a stream whose start was read. */
async function rest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}

Deno.test({
  name: "the lock race, run many times: every refusal names a rival's pid, never none or its own",
  sanitizeResources: false,
  async fn() {
    await using dir = await tempDir();
    const workers = Array.from({ length: WORKERS }, () => worker(dir.path));
    try {
      const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
      for (const w of workers) {
        const { text, reader } = await readUntil(w.stdout, (t) => t.includes("ready\n"));
        assert.ok(text.includes("ready\n"), "worker started");
        readers.push(reader);
      }
      const go = new TextEncoder().encode("go\n");
      await Promise.all(workers.map(async (w) => {
        const writer = w.stdin.getWriter();
        await writer.write(go);
        await writer.close();
      }));
      const outputs = await Promise.all(workers.map(async (w, i) => {
        const [out, err, status] = await Promise.all([
          rest(readers[i]),
          new Response(w.stderr).text(),
          w.status,
        ]);
        assert.equal(status.code, 0, err);
        return JSON.parse(out.trim().split("\n").at(-1)!) as {
          pid: number;
          held: number;
          refusals: (number | null)[];
        };
      }));
      const pids = new Set(outputs.map((o) => o.pid));
      let refusals = 0;
      for (const o of outputs) {
        assert.equal(o.held + o.refusals.length, ROUNDS);
        for (const pid of o.refusals) {
          assert.notEqual(pid, null, `worker ${o.pid} was refused without a holder's pid`);
          assert.notEqual(pid, o.pid, `worker ${o.pid} was refused naming itself`);
          assert.ok(pids.has(pid!), `worker ${o.pid} named ${pid}, which is no worker`);
        }
        refusals += o.refusals.length;
      }
      // The race was run: the workers did contend, and each also got the lock.
      assert.ok(refusals >= 100, `only ${refusals} refusals: the workers did not contend`);
      for (const o of outputs) assert.ok(o.held > 0, `worker ${o.pid} never got the lock`);
    } finally {
      for (const w of workers) {
        try {
          w.kill("SIGKILL");
        } catch { /* exited */ }
        await w.status;
      }
    }
  },
});
