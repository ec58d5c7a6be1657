import assert from "node:assert/strict";
import { LockHeldError } from "../lib/core/errors.ts";
import { layoutOf } from "../lib/root/layout.ts";
import {
  applyPending,
  emptyState,
  parseState,
  readState,
  type State,
  STATE_SCHEMA,
  writeState,
} from "../lib/root/state.ts";
import { acquireLock } from "../lib/root/lock.ts";
import {
  buildRecord,
  denoSpawn,
  libUrl,
  namesIn,
  readUntil,
  rejectsWith,
  tempDir,
  throwsWith,
} from "./_helpers.ts";

const SRC = "/r/state.json";

function fullState(): State {
  return {
    schema: 2,
    staged: { version: "1.2.0", channel: "stable", staged_at: "2026-11-26T10:00:00.000Z" },
    builds: {
      "1.0.0": buildRecord("1.0.0", { retired_at: "2026-11-20T00:00:00.000Z" }),
      "1.1.0": buildRecord("1.1.0", { sha256: null, kind: "directory", channel: "adopted" }),
      "1.2.0": buildRecord("1.2.0", { channel: "canary", kind: "tar.gz" }),
    },
    last_check: {
      at: "2026-11-26T09:00:00.000Z",
      channel: "stable",
      current: "1.1.0",
      available: "1.2.0",
      decision: "update",
    },
    last_error: { at: "2026-11-25T00:00:00.000Z", command: "check", message: "offline" },
    lifecycle: [
      {
        version: "0.9.0",
        channel: "stable",
        state: "rejected",
        reason: "0.9.0 exited with code 3 before its health check passed",
        at: "2026-11-01T00:00:00Z",
        held: null,
      },
      {
        version: "1.0.0",
        channel: "stable",
        state: "confirmed",
        reason: "confirmed healthy",
        at: "2026-11-02T00:00:00Z",
        held: { at: "2026-11-20T00:00:00.000Z", reason: "rolled back to 0.9.0 by hand" },
      },
    ],
    manifests: {
      stable: {
        url: "https://updates.ms11.com/stable/manifest.json",
        etag: '"66f1-2a"',
        last_modified: "Thu, 26 Nov 2026 09:00:00 GMT",
        body: '{"channel":"stable"}',
        checked_at: "2026-11-26T09:00:00.000Z",
      },
    },
    trusted: {
      stable: {
        serial: 7,
        sha256: "ab".repeat(32),
        version: "1.1.0",
        expires: "2026-12-25T00:00:00Z",
        accepted_at: "2026-11-25T00:00:00.000Z",
        keys: null,
        pinned: null,
      },
    },
  };
}

// --- parseState ----------------------------------------------------------------------------

Deno.test("applyPending: only a staged build, a build on trial or a journal give apply work", () => {
  const at = "2026-11-27T00:00:00.000Z";
  const idle = emptyState();
  idle.last_check = { at, channel: "stable", result: "up_to_date", version: "1.0.0" } as never;
  assert.equal(applyPending(idle), false);
  assert.equal(
    applyPending({ ...idle, staged: { version: "1.1.0", channel: "stable", staged_at: at } }),
    true,
  );
  assert.equal(
    applyPending({
      ...idle,
      trial: { version: "1.1.0", from: "1.0.0", channel: "stable", started_at: at, attempts: 1 },
    }),
    true,
  );
  assert.equal(
    applyPending({
      ...idle,
      journal: { op: "apply", from: "1.0.0", to: "1.1.0", at, reason: "staged", bad: false },
    }),
    true,
  );
});

Deno.test("emptyState is empty and of the current schema", () => {
  assert.deepEqual(emptyState(), {
    schema: STATE_SCHEMA,
    staged: null,
    builds: {},
    last_check: null,
    last_error: null,
    lifecycle: [],
    manifests: {},
  });
  assert.equal(STATE_SCHEMA, 2);
  assert.notEqual(emptyState().builds, emptyState().builds);
});

Deno.test("parseState accepts a full valid document unchanged", () => {
  const state = fullState();
  assert.deepEqual(parseState(structuredClone(state), SRC), { state, problem: null });
  // Optional parts may be missing or null.
  assert.deepEqual(parseState({ schema: 1 }, SRC), { state: emptyState(), problem: null });
  assert.deepEqual(
    parseState(
      { schema: 1, staged: null, builds: {}, last_check: null, last_error: null, rejected: [] },
      SRC,
    ),
    { state: emptyState(), problem: null },
  );
  // An empty error message is still a message.
  const e = parseState(
    { schema: 1, last_error: { at: "2026-11-25T00:00:00Z", command: "apply", message: "" } },
    SRC,
  );
  assert.equal(e.problem, null);
  assert.equal(e.state.last_error?.message, "");
});

Deno.test("parseState ignores fields it does not know", () => {
  const raw = { ...fullState(), future_field: { a: 1 } } as Record<string, unknown>;
  (raw.builds as Record<string, Record<string, unknown>>)["1.0.0"].extra = true;
  const { state, problem } = parseState(raw, SRC);
  assert.equal(problem, null);
  assert.deepEqual(state, fullState());
});

Deno.test("parseState: a document that is not an object gives an empty state and a problem", () => {
  for (const raw of [null, [], "state", 3, undefined]) {
    assert.deepEqual(parseState(raw, SRC), {
      state: emptyState(),
      problem: `State file ${SRC} is not a JSON object; starting afresh`,
    });
  }
});

Deno.test("parseState: no valid schema gives an empty state and a problem", () => {
  for (const schema of [undefined, 0, -1, 1.5, "1", null]) {
    const raw = { ...fullState(), schema };
    assert.deepEqual(parseState(raw, SRC), {
      state: emptyState(),
      problem: `State file ${SRC} has no valid schema; starting afresh`,
    });
  }
});

Deno.test("parseState: a newer schema is a RangeError", () => {
  throwsWith(
    () => parseState({ ...fullState(), schema: 3 }, SRC),
    RangeError,
    `State file ${SRC} has schema 3, newer than this ms11-update understands (2); update ms11-update`,
  );
});

Deno.test("parseState drops bad records one by one and names them", () => {
  const raw = fullState() as unknown as Record<string, unknown>;
  raw.staged = 7;
  const builds = raw.builds as Record<string, unknown>;
  builds["1.1.0"] = { ...buildRecord("1.1.0"), version: "9.9.9" }; // key and version disagree
  builds["1.3.0"] = "broken";
  builds["1.4.0"] = { ...buildRecord("1.4.0"), sha256: 5 };
  raw.last_check = { at: "2026-11-26T09:00:00.000Z" };
  raw.last_error = "boom";
  raw.lifecycle = [
    ...fullState().lifecycle,
    { version: "0.8.0" },
    null,
    { ...fullState().lifecycle[0], state: "bad" },
    { ...fullState().lifecycle[1], held: { at: 5 } },
    { ...fullState().lifecycle[0], reason: "the same build twice" },
  ];
  // An old client's trust records are carried through as they are (trust.json gets them).
  const trusted = raw.trusted as Record<string, Record<string, unknown>>;
  trusted.canary = { ...trusted.stable, serial: 0 };
  trusted.Bad = trusted.stable;
  const { state, problem } = parseState(raw, SRC);
  assert.equal(
    problem,
    `State file ${SRC} had unreadable entries (staged, builds.1.1.0, builds.1.3.0, builds.1.4.0, last_check, last_error, lifecycle[], lifecycle[], lifecycle[], lifecycle[], lifecycle[]); they were ignored`,
  );
  assert.deepEqual(state, {
    schema: 2,
    staged: null,
    builds: { "1.0.0": fullState().builds["1.0.0"], "1.2.0": fullState().builds["1.2.0"] },
    last_check: null,
    last_error: null,
    lifecycle: fullState().lifecycle,
    manifests: fullState().manifests,
    trusted,
  });
});

Deno.test("parseState: old files without manifests load; bad manifest records are dropped", () => {
  const old = fullState() as unknown as Record<string, unknown>;
  delete old.manifests;
  assert.deepEqual(parseState(old, SRC), {
    state: { ...fullState(), manifests: {} },
    problem: null,
  });
  const good = fullState().manifests.stable;
  const { state, problem } = parseState({
    schema: 1,
    manifests: {
      stable: good,
      canary: { ...good, body: 5 },
      beta: { ...good, etag: 7 },
      "Bad Name": good,
      huge: { ...good, body: "x".repeat(65_537) },
    },
  }, SRC);
  assert.deepEqual(state.manifests, { stable: good });
  assert.equal(
    problem,
    `State file ${SRC} had unreadable entries (manifests.canary, manifests.beta, manifests.Bad Name, manifests.huge); they were ignored`,
  );
  assert.equal(
    parseState({ schema: 1, manifests: [] }, SRC).problem,
    `State file ${SRC} had unreadable entries (manifests); they were ignored`,
  );
});

Deno.test("parseState drops builds, rejected and lifecycle of the wrong type", () => {
  const { state, problem } = parseState({ schema: 1, builds: [], rejected: {} }, SRC);
  assert.deepEqual(state, emptyState());
  assert.equal(
    problem,
    `State file ${SRC} had unreadable entries (builds, rejected); they were ignored`,
  );
  assert.deepEqual(parseState({ schema: 2, lifecycle: {} }, SRC), {
    state: emptyState(),
    problem: `State file ${SRC} had unreadable entries (lifecycle); they were ignored`,
  });
  const staged = parseState(
    { schema: 1, staged: { version: "1.0.0", channel: "", staged_at: "x" } },
    SRC,
  );
  assert.equal(staged.state.staged, null);
  assert.equal(
    staged.problem,
    `State file ${SRC} had unreadable entries (staged); they were ignored`,
  );
});

// --- readState / writeState ----------------------------------------------------------------

Deno.test("readState: a missing file is an empty state without a problem", async () => {
  await using dir = await tempDir();
  assert.deepEqual(await readState(layoutOf(dir.path)), { state: emptyState(), problem: null });
  assert.deepEqual(await readState(layoutOf(`${dir.path}/no/root`)), {
    state: emptyState(),
    problem: null,
  });
  assert.deepEqual(await namesIn(dir.path), []);
});

Deno.test("readState: garbage is an empty state with a problem", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  for (const text of ["", "{", "not json", '{"schema":1} trailing', "\u0000\u0001"]) {
    await Deno.writeTextFile(layout.state, text);
    assert.deepEqual(await readState(layout), {
      state: emptyState(),
      problem: `State file ${layout.state} is not valid JSON; starting afresh`,
    });
  }
  await Deno.writeTextFile(layout.state, "[1,2]");
  assert.deepEqual(await readState(layout), {
    state: emptyState(),
    problem: `State file ${layout.state} is not a JSON object; starting afresh`,
  });
  // Reading never repairs or rewrites the file.
  assert.equal(await Deno.readTextFile(layout.state), "[1,2]");
});

Deno.test("readState: a newer schema is a RangeError", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await Deno.writeTextFile(layout.state, JSON.stringify({ schema: 3 }));
  await rejectsWith(
    readState(layout),
    RangeError,
    `State file ${layout.state} has schema 3, newer than this ms11-update understands (2); update ms11-update`,
  );
});

// --- schema 1 -> 2 ------------------------------------------------------------------------

/** A schema 1 file as the issue met it: one `rejected` list for bad and rolled-back-from alike. */
function schema1(): Record<string, unknown> {
  return {
    schema: 1,
    staged: { version: "1.3.0", channel: "stable", staged_at: "2026-11-26T10:00:00.000Z" },
    builds: {
      "1.0.0": buildRecord("1.0.0", { retired_at: "2026-11-20T00:00:00.000Z" }),
      "1.1.0": buildRecord("1.1.0", { retired_at: null }),
      "1.2.0": buildRecord("1.2.0", { retired_at: "2026-11-25T00:00:00.000Z" }),
      "1.2.5": buildRecord("1.2.5", { retired_at: "2026-11-24T00:00:00.000Z" }),
      "1.3.0": buildRecord("1.3.0"),
      "1.4.0": buildRecord("1.4.0", { retired_at: null }),
    },
    last_check: null,
    last_error: null,
    rejected: [
      // Rolled back from earlier, then brought back with --force and running now.
      { version: "1.1.0", channel: "stable", reason: "rolled back to 1.0.0 by hand", at: "T1" },
      { version: "1.2.0", channel: "stable", reason: "rolled back to 1.1.0 by hand", at: "T2" },
      { version: "1.2.5", channel: "stable", reason: "rolled back from the dashboard", at: "T3" },
      {
        version: "0.9.0",
        channel: "stable",
        reason: "0.9.0 was not confirmed healthy after 3 launches (health.max_attempts 3)",
        at: "T0",
      },
      { version: "nope/..", channel: "stable", reason: "x", at: "T0" },
    ],
    manifests: {},
    trusted: {},
  };
}

Deno.test("a schema 1 file is converted: bad builds rejected, builds rolled back from by hand held, the running build not rejected", () => {
  const { state, problem } = parseState(schema1(), SRC, { current: "1.1.0" });
  assert.equal(problem, `State file ${SRC} had unreadable entries (rejected[]); they were ignored`);
  assert.equal(state.schema, 2);
  const upgraded = "recorded before build lifecycles (state schema 1)";
  assert.deepEqual(state.lifecycle, [
    {
      version: "1.1.0",
      channel: "stable",
      state: "confirmed",
      at: "T1",
      reason:
        "current when the state file was upgraded (it had been skipped: rolled back to 1.0.0 by hand)",
      held: null,
    },
    {
      version: "1.2.0",
      channel: "stable",
      state: "trial",
      at: "T2",
      reason: "ran without a verdict",
      held: { at: "T2", reason: "rolled back to 1.1.0 by hand" },
    },
    {
      version: "1.2.5",
      channel: "stable",
      state: "trial",
      at: "T3",
      reason: "ran without a verdict",
      held: { at: "T3", reason: "rolled back from the dashboard" },
    },
    {
      version: "0.9.0",
      channel: "stable",
      state: "rejected",
      at: "T0",
      reason: "0.9.0 was not confirmed healthy after 3 launches (health.max_attempts 3)",
      held: null,
    },
    {
      version: "1.0.0",
      channel: "stable",
      state: "confirmed",
      at: "2026-11-20T00:00:00.000Z",
      reason: `ran (${upgraded})`,
      held: null,
    },
    {
      version: "1.3.0",
      channel: "stable",
      state: "staged",
      at: buildRecord("1.3.0").installed_at,
      reason: `staged (${upgraded})`,
      held: null,
    },
    {
      version: "1.4.0",
      channel: "stable",
      state: "staged",
      at: buildRecord("1.4.0").installed_at,
      reason: `never ran (${upgraded})`,
      held: null,
    },
  ]);
});

Deno.test("a schema 1 build on trial stays on trial, even one rejected before", () => {
  const raw = schema1();
  raw.trial = {
    version: "1.1.0",
    from: "1.0.0",
    channel: "stable",
    started_at: "2026-11-26T00:00:00.000Z",
    attempts: 2,
  };
  const { state } = parseState(raw, SRC, { current: "1.1.0" });
  const record = state.lifecycle.find((r) => r.version === "1.1.0");
  assert.equal(record?.state, "trial");
  assert.equal(record?.at, "2026-11-26T00:00:00.000Z");
  assert.equal(state.trial?.attempts, 2);
});

Deno.test("readState converts a schema 1 file using the current link, and the next write is schema 2", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await Deno.mkdir(layout.builds);
  await Deno.symlink("builds/1.1.0", layout.current);
  const raw = schema1();
  (raw.rejected as unknown[]).pop();
  await Deno.writeTextFile(layout.state, JSON.stringify(raw));
  const { state, problem } = await readState(layout);
  assert.equal(problem, null);
  assert.equal(state.lifecycle.find((r) => r.version === "1.1.0")?.state, "confirmed");
  // Reading does not rewrite the file; the next write does, as schema 2, without `rejected`.
  assert.equal(JSON.parse(await Deno.readTextFile(layout.state)).schema, 1);
  await writeState(layout, state);
  const written = JSON.parse(await Deno.readTextFile(layout.state));
  assert.equal(written.schema, 2);
  assert.equal(written.rejected, undefined);
  assert.deepEqual(await readState(layout), { state, problem: null });
});

Deno.test("readState: a state file that is not a regular file is refused, not read", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await Deno.mkdir(layout.state);
  await rejectsWith(
    readState(layout),
    Error,
    `Refusing to open ${layout.state}: it is not a regular file`,
  );
});

Deno.test("writeState then readState round-trips", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await writeState(layout, fullState());
  assert.deepEqual(await readState(layout), { state: fullState(), problem: null });
  const text = await Deno.readTextFile(layout.state);
  assert.ok(text.endsWith("}\n"));
  assert.deepEqual(JSON.parse(text), fullState());
  await writeState(layout, emptyState());
  assert.deepEqual(await readState(layout), { state: emptyState(), problem: null });
  assert.deepEqual(await namesIn(dir.path), ["state.json"]);
});

Deno.test("writeState replaces the file by rename (atomic)", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  await writeState(layout, fullState());
  const before = await Deno.readTextFile(layout.state);
  await Deno.link(layout.state, `${dir.path}/old`);
  await writeState(layout, emptyState());
  assert.equal(await Deno.readTextFile(`${dir.path}/old`), before);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(layout.state)), emptyState());
});

// --- acquireLock ---------------------------------------------------------------------------

/** A child process holding the lock of `root` until its stdin closes. */
async function holder(root: string, afterLock = ""): Promise<Deno.ChildProcess> {
  const child = denoSpawn(`
    import { acquireLock } from ${JSON.stringify(libUrl("root/lock.ts"))};
    import { layoutOf } from ${JSON.stringify(libUrl("root/layout.ts"))};
    const layout = layoutOf(${JSON.stringify(root)});
    const lock = await acquireLock(layout);
    ${afterLock}
    console.log("locked");
    for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
    lock.release();
    console.log("released");
  `);
  const { text, reader } = await readUntil(child.stdout, (t) => t.includes("locked\n"));
  reader.releaseLock();
  if (!text.includes("locked\n")) {
    const status = await child.status;
    const err = await new Response(child.stderr).text();
    throw new Error(`lock holder failed (${status.code}): ${err}`);
  }
  return child;
}

async function finish(child: Deno.ChildProcess): Promise<void> {
  await child.stdin.close().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  await child.stderr.cancel().catch(() => {});
  await child.status;
}

Deno.test("acquireLock creates the root and writes the holder's pid", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(`${dir.path}/new/root`);
  const lock = await acquireLock(layout);
  try {
    assert.equal(await Deno.readTextFile(layout.lock), `${Deno.pid}\n`);
  } finally {
    lock.release();
  }
  lock.release(); // twice is harmless
});

Deno.test("acquireLock: a second acquire fails with LockHeldError naming the pid", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  {
    using _first = await acquireLock(layout);
    const error = await rejectsWith(
      acquireLock(layout),
      LockHeldError,
      `Install lock ${layout.lock} is held by another ms11-update (pid ${Deno.pid}); try again when it finishes`,
    ) as LockHeldError;
    assert.equal(error.pid, Deno.pid);
    assert.equal(error.path, layout.lock);
    // The failed attempt did not disturb the holder's pid.
    assert.equal(await Deno.readTextFile(layout.lock), `${Deno.pid}\n`);
  }
  // Disposed: it can be taken again.
  const again = await acquireLock(layout);
  again.release();
});

Deno.test("acquireLock: another process holding the lock is named by its pid", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const child = await holder(dir.path);
  try {
    const error = await rejectsWith(
      acquireLock(layout),
      LockHeldError,
      `Install lock ${layout.lock} is held by another ms11-update (pid ${child.pid}); try again when it finishes`,
    ) as LockHeldError;
    assert.equal(error.pid, child.pid);
    // A short wait is not enough while it holds on.
    await rejectsWith(
      acquireLock(layout, { waitMs: 50, pollMs: 10 }),
      LockHeldError,
      /held by another ms11-update \(pid \d+\)/,
    );
  } finally {
    await finish(child);
  }
});

Deno.test("acquireLock with waitMs succeeds once the holder exits", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const child = await holder(dir.path);
  let acquired = false;
  const waiting = acquireLock(layout, { waitMs: 60_000, pollMs: 10 }).then((lock) => {
    acquired = true;
    return lock;
  });
  try {
    // Still held: let a few polls fail first.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(acquired, false);
  } finally {
    await child.stdin.close();
  }
  const lock = await waiting;
  try {
    assert.equal(await Deno.readTextFile(layout.lock), `${Deno.pid}\n`);
  } finally {
    lock.release();
    await finish(child);
  }
  assert.equal((await child.status).success, true);
});

Deno.test("acquireLock: the lock goes with a holder that is killed", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const child = await holder(dir.path);
  await rejectsWith(acquireLock(layout), LockHeldError, /held by another ms11-update/);
  child.kill("SIGKILL");
  await finish(child);
  const lock = await acquireLock(layout);
  lock.release();
});

Deno.test("acquireLock: an unreadable holder pid is left out of the message", async () => {
  await using dir = await tempDir();
  const layout = layoutOf(dir.path);
  const child = await holder(
    dir.path,
    `await Deno.writeTextFile(layout.lock, "not a pid");`,
  );
  try {
    const error = await rejectsWith(
      acquireLock(layout),
      LockHeldError,
      `Install lock ${layout.lock} is held by another ms11-update; try again when it finishes`,
    ) as LockHeldError;
    assert.equal(error.pid, null);
  } finally {
    await finish(child);
  }
});

Deno.test({
  name: "parseState drops records whose version is not a version",
  fn() {
    const { state, problem } = parseState(
      {
        schema: 1,
        staged: { version: "../../etc", channel: "stable", staged_at: "2026-11-26T00:00:00Z" },
        builds: { "../x": { ...buildRecord("../x") } },
      },
      SRC,
    );
    assert.equal(state.staged, null);
    assert.deepEqual(state.builds, {});
    assert.match(problem ?? "", /staged, builds\.\.\.\/x/);
  },
});
