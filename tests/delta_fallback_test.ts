// A delta that cannot be used ends in a correct full update through the real CLI, with exactly
// one delta request at the delta's server (docs/DELTA.md, "The client"): corrupted in transit,
// truncated, signed but broken, substituted (a valid delta from another build), 404 and 501 are
// recorded bad and never asked for again; a 503 or a connection closed without an answer is a
// network failure, not recorded, and asked for again at the next update; a delta from a build
// the client lacks is not asked for at all; a delta is fetched from the one URL the manifest
// names, never from the channel's other mirrors.
import assert from "node:assert/strict";
import { makeDelta } from "../lib/delta/make.ts";
import { makeWorld, type World } from "./_e2e.ts";
import {
  type Answer,
  audited,
  build,
  deltaServer,
  entryFor,
  fellBack,
  installed,
  offerDeltas,
  type Published,
  stagedIsTheRelease,
  state,
} from "./_delta_cli.ts";

/** One way a delta fails: what its server answers and what the manifest signs. */
interface FailingDelta {
  name: string;
  /** What the delta's server answers, and the bytes the manifest's entry is signed for. */
  make(world: World, published: Published): Promise<{ answer: Answer; signed: Uint8Array }>;
  /** The failure's reason, as state and audit record it. */
  reason: RegExp;
  /** A network failure: not recorded bad. */
  transient?: boolean;
}

/** `bytes` with one byte flipped at `at` (from the end when negative). */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at < 0 ? out.length + at : at] ^= 0xff;
  return out;
}

const FAILING: FailingDelta[] = [
  {
    name: "a delta corrupted in transit",
    make: (_, p) =>
      Promise.resolve({ answer: flipped(p.delta, p.delta.length >> 1), signed: p.delta }),
    reason: /^Checksum mismatch for .*\.delta\.partial: expected sha256 /,
  },
  {
    name: "a truncated delta",
    make: (_, p) =>
      Promise.resolve({ answer: p.delta.slice(0, p.delta.length >> 1), signed: p.delta }),
    reason: /^Size mismatch for .*\.delta\.partial/,
  },
  {
    name: "a signed delta that does not rebuild the release",
    make: (_, p) => {
      const broken = flipped(p.delta, -1);
      return Promise.resolve({ answer: broken, signed: broken });
    },
    reason: /^Delta .*: block \d+ is not valid zstd data/,
  },
  {
    name: "a substituted delta (a valid one from another build, signed as from 1.0.0)",
    async make(world) {
      await Deno.writeTextFile(`${world.dir}/ms11-0.9.0`, build("0.9.0") + "# and more\n");
      const made = await makeDelta(`${world.dir}/ms11-0.9.0`, `${world.dir}/ms11-1.1.0`, {
        out: `${world.dir}/other.delta`,
      });
      assert.ok(made.written);
      const other = await Deno.readFile(`${world.dir}/other.delta`);
      return { answer: other, signed: other };
    },
    reason:
      /^Delta .*: patch was made from a file of \d+ bytes, the old file .*\/builds\/1\.0\.0\/ms11 has \d+$/,
  },
  {
    name: "a delta server answering 404",
    make: (_, p) => Promise.resolve({ answer: 404, signed: p.delta }),
    reason: /^Download of http:.*\.delta failed: HTTP 404 Not Found$/,
  },
  {
    name: "a delta server answering 501",
    make: (_, p) => Promise.resolve({ answer: 501, signed: p.delta }),
    reason:
      /^Download of http:.*\.delta failed: HTTP 501 Not Implemented; gave up after 1 attempt$/,
  },
  {
    name: "a delta server answering 503",
    make: (_, p) => Promise.resolve({ answer: 503, signed: p.delta }),
    reason:
      /^Download of http:.*\.delta failed: HTTP 503 Service Unavailable; gave up after 1 attempt$/,
    transient: true,
  },
  {
    name: "a delta server closing the connection without an answer",
    make: (_, p) => Promise.resolve({ answer: "close", signed: p.delta }),
    reason: /^Download of http:.*\.delta failed: .*; gave up after 1 attempt$/,
    transient: true,
  },
];

for (const failing of FAILING) {
  Deno.test(`${failing.name} is asked for once, then the full build is installed`, async () => {
    await using world = await makeWorld();
    const published = await installed(world);
    const { answer, signed } = await failing.make(world, published);
    await using server = deltaServer(answer);
    await offerDeltas(world, [await entryFor(server.url, signed, published)]);
    const run = await world.cli([]);
    assert.equal(server.requests, 1);
    await fellBack(world, published, run, failing);
  });
}

/** The full artifact of 1.1.0 in the release tree, moved away and back (a full update fails). */
async function withoutFullBuild(world: World, body: () => Promise<void>): Promise<void> {
  const served = `${world.tree}/stable/1.1.0/ms11-1.1.0`;
  await Deno.rename(served, `${served}.away`);
  try {
    await body();
  } finally {
    await Deno.rename(`${served}.away`, served);
  }
}

// The next update after a failed delta: a delta recorded bad is skipped; one that met a network
// failure is asked for again. The first update's full download fails too, so that there is one.
const NEXT_UPDATE: { failure: Answer; next: "skipped" | "delta" }[] = [
  { failure: 501, next: "skipped" },
  { failure: 503, next: "delta" },
];

for (const { failure, next } of NEXT_UPDATE) {
  Deno.test(`after a delta answered ${failure}, the next update ${next === "skipped" ? "skips it" : "asks for it again"}`, async () => {
    await using world = await makeWorld();
    const published = await installed(world);
    await using server = deltaServer(failure);
    await offerDeltas(world, [await entryFor(server.url, published.delta, published)]);
    await withoutFullBuild(world, async () => {
      const first = await world.cli([]);
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stderr, /error: Download of .*ms11-1\.1\.0 failed: HTTP 404 Not Found/);
    });
    assert.equal(server.requests, 1);
    assert.equal((await state(world)).bad_deltas?.length ?? 0, next === "skipped" ? 1 : 0);
    server.answer = published.delta;
    const second = await world.cli([]);
    assert.equal(second.code, 0, second.stderr);
    const s = await state(world);
    const staged = (await audited(world, "staged")).find((e) => e.version === "1.1.0");
    if (next === "skipped") {
      assert.equal(server.requests, 1);
      assert.equal(s.last_download.method, "full");
      assert.equal(staged?.delta_skipped, "the delta from 1.0.0 failed before");
    } else {
      assert.equal(server.requests, 2);
      assert.equal(s.last_download.method, "delta");
      assert.equal(s.bad_deltas, undefined);
    }
    await stagedIsTheRelease(world, published);
  });
}

Deno.test("a delta from a build the client lacks is not asked for: the full build, nothing recorded bad", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  const entry = await entryFor(server.url, published.delta, published);
  await offerDeltas(world, [{ ...entry, from: "0.9.0" }]);
  const run = await world.cli([]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(server.requests, 0);
  assert.doesNotMatch(run.stderr, /delta/);
  const s = await state(world);
  assert.deepEqual([s.last_download.method, s.last_download.delta_failed], ["full", null]);
  assert.equal(s.bad_deltas, undefined);
  assert.deepEqual(await audited(world, "delta_failed"), []);
  const staged = (await audited(world, "staged")).find((e) => e.version === "1.1.0");
  assert.equal(staged?.delta_skipped, "no build here that a delta is made from (0.9.0)");
  await stagedIsTheRelease(world, published);
});

Deno.test("a delta is asked for once at the URL the manifest names (a relative one on the mirror that served it), never at the channel's other mirrors", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  // The serving mirror lacks the delta (404); another mirror would serve it: it is not asked.
  await using other = deltaServer(published.delta);
  await offerDeltas(world, [
    await entryFor("1.1.0/ms11.from-1.0.0.delta", published.delta, published),
  ]);
  const config = JSON.parse(await Deno.readTextFile(world.configPath));
  const served = `${world.server.url}/stable`;
  await world.writeConfig({
    update_servers: {
      ...config.update_servers,
      stable: {
        base_url: served,
        mirrors: [new URL(other.url).origin + "/stable"],
        description: "Stable",
      },
    },
  });
  const run = await world.cli([]);
  assert.equal(other.requests, 0);
  await fellBack(world, published, run, {
    reason:
      /^Download of http:.*\/stable\/1\.1\.0\/ms11\.from-1\.0\.0\.delta failed: HTTP 404 Not Found$/,
  });
  const [failed] = await audited(world, "delta_failed");
  assert.equal(failed.delta_url, `${served}/1.1.0/ms11.from-1.0.0.delta`);
});

Deno.test("a build rebuilt from a delta that the scanner refuses records the delta bad too", async () => {
  await using world = await makeWorld();
  const published = await installed(world);
  await using server = deltaServer(published.delta);
  await offerDeltas(world, [await entryFor(server.url, published.delta, published)]);
  const scanner = `${world.dir}/scanner`;
  await Deno.writeTextFile(scanner, '#!/bin/sh\necho "$1: Test.Threat FOUND"\nexit 1\n');
  await Deno.chmod(scanner, 0o755);
  const config = JSON.parse(await Deno.readTextFile(world.configPath));
  await world.writeConfig({
    security: { ...config.security, scan_command: [scanner], scan_infected_exit_codes: [1] },
  });
  const run = await world.cli([]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^error: Build 1\.1\.0 from stable was refused: the scanner scanner found a threat/m,
  );
  assert.equal(server.requests, 1);
  const s = await state(world);
  assert.equal(s.staged, null);
  assert.deepEqual(
    s.bad_deltas.map((b: { version: string; from: string }) => [b.version, b.from]),
    [["1.1.0", "1.0.0"]],
  );
  assert.match(
    s.bad_deltas[0].reason,
    /^Build 1\.1\.0 from stable was refused: the scanner scanner found a threat/,
  );
  const [failed] = await audited(world, "delta_failed");
  assert.equal(failed.code, "scan_refused");
});
