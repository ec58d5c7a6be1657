/**
 * A time bound on every test: `deno task test` preloads this module (`--preload
 * tests/_time_bound.ts`), and it wraps `Deno.test` (with `.only`, `.ignore` and `.each`) so that
 * every test registered afterwards, in tests/ and every doc test, gets a `timeout` unless it
 * declares its own. A hanging test then fails with its name ("<name> => file:line", "error: Test
 * timed out after 120000ms.") instead of blocking the suite until CI's limit.
 *
 * The bound is Deno's own `TestDefinition.timeout`, not a timer in the test's isolate: it also stops
 * a test that never yields (a synchronous hot loop, an endless chain of resolved promises), which a
 * `setTimeout` racing the test's body could never interrupt, and it leaves no timer behind for the
 * op sanitizer.
 *
 * The default is {@linkcode DEFAULT_TEST_TIMEOUT_MS}, or `$MS11_TEST_TIMEOUT_MS`; a test that needs
 * longer says so: `Deno.test({ name, timeout: 10 * 60_000, fn })`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TEST_TIMEOUT_MS, testTimeoutMs } from "./_time_bound.ts";
 * assert.ok(testTimeoutMs() > 0);
 * assert.equal(DEFAULT_TEST_TIMEOUT_MS, 120_000);
 * ```
 *
 * @module
 */

/** The bound of a test that declares none: 120 s. */
export const DEFAULT_TEST_TIMEOUT_MS = 120_000;

/** The environment variable that overrides {@linkcode DEFAULT_TEST_TIMEOUT_MS}, in milliseconds. */
export const TIMEOUT_ENV = "MS11_TEST_TIMEOUT_MS";

const INSTALLED = Symbol.for("ms11.testTimeBound");

/**
 * The bound given to tests that declare none: `$MS11_TEST_TIMEOUT_MS` when set (and readable),
 * else {@linkcode DEFAULT_TEST_TIMEOUT_MS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testTimeoutMs } from "./_time_bound.ts";
 * assert.ok(Number.isSafeInteger(testTimeoutMs()) && testTimeoutMs() > 0);
 * ```
 */
export function testTimeoutMs(): number {
  let raw: string | undefined;
  try {
    raw = Deno.env.get(TIMEOUT_ENV);
  } catch {
    // No env permission: the default.
  }
  return parseTimeoutMs(raw);
}

/**
 * A bound as `$MS11_TEST_TIMEOUT_MS` gives it: unset or empty is the default, else a positive
 * integer of milliseconds, or a `RangeError` naming the variable and the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTimeoutMs } from "./_time_bound.ts";
 * assert.equal(parseTimeoutMs(undefined), 120_000);
 * assert.equal(parseTimeoutMs("2500"), 2500);
 * assert.throws(() => parseTimeoutMs("soon"), RangeError);
 * ```
 */
export function parseTimeoutMs(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_TEST_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 1) {
    throw new RangeError(`${TIMEOUT_ENV} must be a positive integer of milliseconds, got ${raw}`);
  }
  return ms;
}

type Options = { timeout?: number };
// deno-lint-ignore no-explicit-any
type Register = (...args: any[]) => void;

/** `options` with a `timeout`: its own, or `ms`. */
function bounded<T extends Options>(options: T, ms: number): T {
  return options.timeout === undefined ? { ...options, timeout: ms } : options;
}

/**
 * The arguments of any `Deno.test` overload with the default bound added, in the same overload
 * (so Deno still reports a missing name or function itself):
 * (definition), (name, fn), (fn), (name, options, fn), (options, fn).
 */
function withBound(args: unknown[], ms: number): unknown[] {
  const [first, second, third] = args;
  if (args.length === 1 && typeof first === "function") return [{ timeout: ms }, first];
  if (args.length === 1 && typeof first === "object" && first !== null) {
    return [bounded(first as Options, ms)];
  }
  if (typeof first === "string" && typeof second === "function") {
    return [first, { timeout: ms }, second];
  }
  if (typeof first === "string" && typeof second === "object" && second !== null) {
    return [first, bounded(second as Options, ms), third];
  }
  if (typeof first === "object" && first !== null && typeof second === "function") {
    return [bounded(first as Options, ms), second];
  }
  return args;
}

/**
 * `(...args) => then(register(...transform(args)))`, compiled from a `data:` module. Deno names a
 * test's location after the innermost caller of `Deno.test` whose script is a `file:` URL; a
 * wrapper written in this file would be that caller, and every test would be reported at a line of
 * tests/_time_bound.ts instead of its own.
 */
const forward: <R>(
  register: (...args: unknown[]) => R,
  transform: (args: unknown[]) => unknown[],
  then?: (result: R) => unknown,
) => Register = (await import(
  "data:text/javascript," + encodeURIComponent(
    "export const forward = (register, transform, then = (result) => result) =>" +
      " function test(...args) { return then(register(...transform(args))); };",
  )
)).forward;

/** The arguments of an `each` registrar, (name, fn) or (name, options, fn), with the bound. */
function withEachBound(args: unknown[], ms: number): unknown[] {
  const [name, second, third] = args;
  return typeof second === "function"
    ? [name, { timeout: ms }, second]
    : [name, bounded(second as Options, ms), third];
}

/** `each(cases)` whose returned registrar adds the bound to every case. */
function boundedEach(each: (cases: unknown) => Register, ms: number): Register {
  return forward(
    each as (...args: unknown[]) => Register,
    (args) => args,
    (register) => forward(register, (args) => withEachBound(args, ms)),
  );
}

/** A registrar like `register` (and its `.each`) that adds the bound to every test. */
function boundedRegister(register: Register & { each?: unknown }, ms: number): Register {
  const wrapped: Register & { each?: unknown } = forward(register, (args) => withBound(args, ms));
  if (typeof register.each === "function") {
    wrapped.each = boundedEach(register.each.bind(register) as (cases: unknown) => Register, ms);
  }
  return wrapped;
}

/** Wrap `Deno.test` once (per isolate); its hooks (`beforeAll`, `sanitizer`, …) stay as they are. */
function install(): void {
  const test = Deno.test as unknown as Register & Record<string | symbol, unknown>;
  if (test[INSTALLED]) return;
  const ms = testTimeoutMs();
  const wrapped = Object.assign(boundedRegister(test, ms), test, {
    each: boundedEach((test.each as (cases: unknown) => Register).bind(test), ms),
    ignore: boundedRegister(test.ignore as Register & { each?: unknown }, ms),
    only: boundedRegister(test.only as Register & { each?: unknown }, ms),
    [INSTALLED]: true,
  });
  (Deno as { test: unknown }).test = wrapped;
}

install();
