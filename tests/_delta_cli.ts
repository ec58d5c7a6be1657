// Helpers of the delta tests through the real CLI (tests/delta_cli_test.ts,
// tests/delta_fallback_test.ts): 1.0.0 installed and 1.1.0 published with its delta made here
// (lib/delta/make.ts: `release` does not make deltas yet), the manifest re-signed with the deltas
// it offers, and a counting server for the delta that answers as each test needs (a body, a
// status, or a connection closed without an answer).
import assert from "node:assert/strict";
import { makeDelta } from "../lib/delta/make.ts";
import { hashFile } from "../lib/core/hash.ts";
import { signDocument } from "../lib/publish/signing.ts";
import { type AuditEntry, readAudit } from "../lib/root/audit.ts";
import { layoutOf } from "../lib/root/layout.ts";
import { appScript, launch, linuxPlatform, type World } from "./_e2e.ts";

/** A build big enough for a delta to be worth it: the version, then the same filler. */
export function build(version: string): string {
  return appScript(version, "# filler line of the build, the same in every version\n".repeat(4000));
}

/** What a delta server answers: a body, a status with no body, or a connection closed. */
export type Answer = Uint8Array | number | "close";

/** A server on 127.0.0.1 that answers every request with `answer()` and counts them. */
export interface DeltaServer extends AsyncDisposable {
  /** The delta's URL on it. */
  url: string;
  /** How many requests it was sent. */
  readonly requests: number;
  /** Their paths, in order. */
  readonly paths: string[];
  /** Change what it answers from now on. */
  answer: Answer;
}

const REASONS: Record<number, string> = {
  404: "Not Found",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/** Start a {@linkcode DeltaServer}: raw HTTP/1.1 over TCP, so that it can close without a word. */
export function deltaServer(answer: Answer): DeltaServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const server = {
    url: `http://127.0.0.1:${listener.addr.port}/stable/1.1.0/ms11.from-1.0.0.delta`,
    requests: 0,
    paths: [] as string[],
    answer,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of open) conn.close();
      await serving;
    },
  };
  async function serve(conn: Deno.Conn): Promise<void> {
    open.add(conn);
    try {
      const buffer = new Uint8Array(16384);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) return;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      server.requests++;
      server.paths.push(head.split(" ")[1] ?? "");
      const reply = server.answer;
      if (reply === "close") return;
      const body = typeof reply === "number" ? new TextEncoder().encode(`status ${reply}`) : reply;
      const status = typeof reply === "number" ? `${reply} ${REASONS[reply] ?? ""}` : "200 OK";
      const bytes = new TextEncoder().encode(
        `HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`,
      );
      await conn.write(bytes);
      for (let at = 0; at < body.length;) at += await conn.write(body.subarray(at));
    } catch {
      // The client went away: nothing to answer.
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // Closed at disposal.
      }
    }
  }
  const serving = (async () => {
    const conns: Promise<void>[] = [];
    try {
      for await (const conn of listener) conns.push(serve(conn));
    } catch {
      // Closed at disposal.
    }
    await Promise.all(conns);
  })();
  return server;
}

/** The 1.1.0 release and its delta from 1.0.0. */
export interface Published {
  /** The delta file the publisher made. */
  delta: Uint8Array;
  /** SHA-256 of the 1.1.0 executable. */
  sha256: string;
  /** Its size. */
  size: number;
  /** SHA-256 of the 1.0.0 executable (the delta's `from_sha256`). */
  fromSha256: string;
}

/** 1.0.0 installed and launched; 1.1.0 published; the delta made (not yet in the manifest). */
export async function installed(world: World): Promise<Published> {
  await Deno.writeTextFile(`${world.dir}/ms11-1.0.0`, build("1.0.0"));
  await world.publish("stable", "1.0.0", { artifact: `${world.dir}/ms11-1.0.0` });
  const install = await world.cli(["install"]);
  assert.equal(install.code, 0, install.stderr);
  assert.equal(await launch(world.root), "MS11 1.0.0");
  await Deno.writeTextFile(`${world.dir}/ms11-1.1.0`, build("1.1.0"));
  await world.publish("stable", "1.1.0", { artifact: `${world.dir}/ms11-1.1.0` });
  const made = await makeDelta(`${world.dir}/ms11-1.0.0`, `${world.dir}/ms11-1.1.0`, {
    out: `${world.dir}/delta`,
  });
  assert.ok(made.written, `delta not worth it: ratio ${made.ratio}`);
  const full = await hashFile(`${world.dir}/ms11-1.1.0`);
  return {
    delta: await Deno.readFile(`${world.dir}/delta`),
    ...full,
    fromSha256: made.from.sha256,
  };
}

/** A bsdiff delta entry from 1.0.0 for `bytes` served at `url`. */
export async function entryFor(
  url: string,
  bytes: Uint8Array,
  published: Published,
): Promise<Record<string, unknown>> {
  return {
    from: "1.0.0",
    kind: "bsdiff",
    url,
    size: bytes.length,
    sha256: await sha256Of(bytes),
    from_sha256: published.fromSha256,
  };
}

/** Set the channel's manifest's deltas for this platform and sign it again (the same serial). */
export async function offerDeltas(world: World, deltas: Record<string, unknown>[]): Promise<void> {
  const path = `${world.tree}/stable/manifest.json`;
  const manifest = JSON.parse(await Deno.readTextFile(path));
  manifest.artifacts[linuxPlatform()].deltas = deltas;
  const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
  await Deno.writeFile(path, bytes);
  await Deno.writeTextFile(`${path}.sig`, await signDocument(bytes, [world.key]));
}

/** SHA-256 of `bytes`, hex. */
export async function sha256Of(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The install's state file. */
export async function state(world: World) {
  return JSON.parse(await Deno.readTextFile(`${world.root}/state.json`));
}

/** The install's audit entries of `event`. */
export async function audited(world: World, event: string): Promise<AuditEntry[]> {
  return (await readAudit(layoutOf(world.root))).filter((e) => e.event === event);
}

/** The staged build is the published 1.1.0, byte for byte, and launches after `apply`. */
export async function stagedIsTheRelease(world: World, published: Published): Promise<void> {
  const s = await state(world);
  assert.equal(s.staged.version, "1.1.0");
  assert.equal(s.builds["1.1.0"].sha256, published.sha256);
  const file = await hashFile(`${world.root}/builds/1.1.0/ms11`);
  assert.deepEqual(file, { sha256: published.sha256, size: published.size });
  assert.equal((await world.cli(["apply"])).code, 0);
  assert.equal(await launch(world.root), "MS11 1.1.0");
}

/**
 * The update fell back to one full download after the delta failed with `reason`: the build is
 * the release's; the delta is recorded bad, or (`transient`) only audited as a network failure.
 */
export async function fellBack(
  world: World,
  published: Published,
  run: { code: number; stderr: string },
  expect: { reason: RegExp; transient?: boolean },
): Promise<void> {
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stderr,
    /The delta from 1\.0\.0 to 1\.1\.0 failed \(.*\); downloading the full build/,
  );
  assert.equal(
    run.stderr.includes("(a network failure: the delta may be tried again at a later update)"),
    expect.transient === true,
    run.stderr,
  );
  const s = await state(world);
  assert.equal(s.last_download.method, "full");
  assert.equal(s.last_download.from, null);
  assert.equal(s.last_download.full_bytes, published.size);
  assert.match(s.last_download.delta_failed, expect.reason);
  if (expect.transient) assert.equal(s.bad_deltas, undefined);
  else {
    assert.equal(s.bad_deltas.length, 1);
    assert.deepEqual([s.bad_deltas[0].version, s.bad_deltas[0].from], ["1.1.0", "1.0.0"]);
    assert.match(s.bad_deltas[0].reason, expect.reason);
  }
  const failed = await audited(world, "delta_failed");
  assert.equal(failed.length, 1);
  assert.deepEqual([failed[0].version, failed[0].from], ["1.1.0", "1.0.0"]);
  assert.equal(failed[0].transient, expect.transient ? true : undefined);
  const staged = (await audited(world, "staged")).find((e) => e.version === "1.1.0");
  assert.equal(staged?.method, "full");
  await stagedIsTheRelease(world, published);
}
