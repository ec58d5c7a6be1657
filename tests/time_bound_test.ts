// The time bound of tests/_time_bound.ts: a `deno test` of deliberately hanging tests (every
// Deno.test overload, an open server, a hot loop, a doc example) with a short bound fails within
// it, naming each test; a test that declares a longer bound keeps it.
import assert from "node:assert/strict";
import { DEFAULT_TEST_TIMEOUT_MS, parseTimeoutMs, TIMEOUT_ENV } from "./_time_bound.ts";
import { tempDir } from "./_helpers.ts";

const PRELOAD = new URL("./_time_bound.ts", import.meta.url).pathname;
const BOUND_MS = 1500; // long enough that a loaded machine does not time out the quick tests

const HANGING_TESTS = `
Deno.test("hangs with an open server", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("x"));
  await new Promise(() => {});
  await server.shutdown();
});
Deno.test({ name: "spins in a hot loop", fn() { for (;;) Math.random(); } });
Deno.test("never settles", { sanitizeOps: false }, () => new Promise(() => {}));
Deno.test(async function hangsInAMicrotaskLoop() { for (;;) await Promise.resolve(); });
Deno.test({ name: "waits for a timer an hour away" }, () => new Promise((r) => setTimeout(r, 3_600_000)));
Deno.test.each([[1], [2]])("case %i never settles", () => new Promise(() => {}));
Deno.test({
  name: "a declared longer bound is kept",
  timeout: 30_000,
  fn: () => new Promise((r) => setTimeout(r, ${2 * BOUND_MS})),
});
Deno.test("a quick test passes", () => {});
`;

const HANGING_DOC = `/**
 * @example
 * \`\`\`ts
 * Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("x"));
 * await new Promise(() => {});
 * \`\`\`
 */
export const hangs = 1;
`;

const HANGING = [
  "hangs with an open server",
  "spins in a hot loop",
  "never settles",
  "hangsInAMicrotaskLoop",
  "waits for a timer an hour away",
  "case 1 never settles",
  "case 2 never settles",
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("a hanging test fails within the bound, naming the test, under every Deno.test form", async () => {
  await using dir = await tempDir("ms11-time-bound-");
  await Deno.writeTextFile(`${dir.path}/hang_test.ts`, HANGING_TESTS);
  await Deno.writeTextFile(`${dir.path}/mod.ts`, HANGING_DOC);
  const started = performance.now();
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-config", "--preload", PRELOAD, "--doc", "."],
    cwd: dir.path,
    env: { NO_COLOR: "1", [TIMEOUT_ENV]: String(BOUND_MS) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const output = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);

  assert.equal(run.success, false, output);
  // Eight hangs of 1.5 s each, run one after another, plus Deno's start and type check.
  assert.ok(seconds < 120, `the hanging run took ${seconds} s:\n${output}`);
  for (const name of HANGING) {
    assert.match(
      output,
      new RegExp(
        `\\n${
          escape(name)
        } => \\./hang_test\\.ts:\\d+:\\d+\\nerror: Test timed out after ${BOUND_MS}ms`,
      ),
      `no timeout reported for "${name}":\n${output}`,
    );
  }
  assert.match(
    output,
    new RegExp(
      `\\nfile://\\S+/mod\\.ts#3-7\\.ts => \\S+\\nerror: Test timed out after ${BOUND_MS}ms`,
    ),
    `no timeout reported for the doc example:\n${output}`,
  );
  assert.match(output, /a declared longer bound is kept \.\.\. ok/);
  assert.match(output, /a quick test passes \.\.\. ok/);
  assert.match(output, /\nFAILED \| 2 passed \| 8 failed/);
});

Deno.test("the default bound is 120 s unless $MS11_TEST_TIMEOUT_MS says otherwise", () => {
  assert.equal(DEFAULT_TEST_TIMEOUT_MS, 120_000);
  assert.equal(parseTimeoutMs(undefined), 120_000);
  assert.equal(parseTimeoutMs(""), 120_000);
  assert.equal(parseTimeoutMs("2500"), 2500);
  for (const raw of ["soon", "0", "-5", "1.5"]) {
    assert.throws(() => parseTimeoutMs(raw), {
      name: "RangeError",
      message: `${TIMEOUT_ENV} must be a positive integer of milliseconds, got ${raw}`,
    });
  }
});
