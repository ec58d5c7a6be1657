// Private to dashboard/: each POST route's step — read the request's fields, call the action
// of lib/actions/ with them, and say what happened. Failure recording and announcing are the
// actions' own; progress goes to the page through `report`.
import { confirmTrial, rollBack } from "../lib/actions/builds.ts";
import { switchChannel } from "../lib/actions/channel.ts";
import type { ActionContext } from "../lib/actions/context.ts";
import { checkForUpdate, updateFromChannel } from "../lib/actions/update.ts";
import type { Progress } from "../lib/core/env.ts";
import { isVersion } from "../lib/core/version.ts";
import { type Fields, flag, InputError } from "./_http.ts";
import type { Confirmation } from "./page.ts";

/**
 * What a step did: one sentence, the data, and a question when the action needs an answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StepResult } from "./_steps.ts";
 * const done: StepResult = { message: "Already on stable", result: {} };
 * assert.equal(done.confirmation, undefined);
 * ```
 */
export interface StepResult {
  /** One sentence for people. */
  message: string;
  /** The action's data (the API's `result`). */
  result: unknown;
  /** Set when the action stopped to ask (answered 409). */
  confirmation?: Confirmation;
}

/**
 * Reports progress of the step to the page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Report } from "./_steps.ts";
 * const seen: string[] = [];
 * const report: Report = (p) => seen.push(p.phase);
 * report({ phase: "check", done: 0, total: 1 });
 * assert.deepEqual(seen, ["check"]);
 * ```
 */
export type Report = (progress: Progress) => void;

/**
 * A POST route's step: the action's context, the request's fields, where progress goes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Step } from "./_steps.ts";
 * const hello: Step = () => Promise.resolve({ message: "Hello", result: null });
 * assert.equal(typeof hello, "function");
 * ```
 */
export type Step = (ctx: ActionContext, fields: Fields, report: Report) => Promise<StepResult>;

function channelOf(fields: Fields): string | undefined {
  const given = fields.channel;
  if (given !== undefined && typeof given !== "string") {
    throw new InputError(`Field channel must be a channel name, got ${JSON.stringify(given)}`);
  }
  return given === "" ? undefined : given;
}

async function check(ctx: ActionContext, fields: Fields, report: Report): Promise<StepResult> {
  const channel = channelOf(fields);
  report({ phase: "check", done: 0, total: 1 });
  const { message, summary } = await checkForUpdate(ctx, { channel });
  report({ phase: "check", done: 1, total: 1 });
  return { message, result: summary };
}

async function update(ctx: ActionContext, fields: Fields, report: Report): Promise<StepResult> {
  const channel = channelOf(fields);
  // The check is one unit of progress, finished by the first report of the download.
  let checked = false;
  const endCheck = () => {
    if (!checked) report({ phase: "check", done: 1, total: 1 });
    checked = true;
  };
  report({ phase: "check", done: 0, total: 1 });
  const { message, summary } = await updateFromChannel({
    ...ctx,
    onProgress: (p) => {
      endCheck();
      report(p);
    },
  }, { channel, allowDowngrade: flag(fields.allow_downgrade) });
  endCheck();
  return { message, result: summary };
}

async function channel(ctx: ActionContext, fields: Fields): Promise<StepResult> {
  if (typeof fields.channel !== "string" || fields.channel === "") {
    throw new InputError("Field channel is required: the channel to switch to");
  }
  const answer = fields.downgrade;
  if (answer !== undefined && answer !== "install" && answer !== "keep") {
    throw new InputError(
      `Field downgrade must be "install" or "keep", got ${JSON.stringify(answer)}`,
    );
  }
  const report = await switchChannel(ctx, fields.channel, {
    downgrade: answer,
    acceptRisk: flag(fields.accept_risk),
  });
  const { message, confirmation, update, ...result } = report;
  return {
    message,
    result: update === null ? result : { ...result, update },
    ...(confirmation === null ? {} : { confirmation }),
  };
}

async function rollback(ctx: ActionContext, fields: Fields, report: Report): Promise<StepResult> {
  const to = fields.to;
  if (to !== undefined && (typeof to !== "string" || !isVersion(to))) {
    throw new InputError(`Field to must be a version, got ${JSON.stringify(to)}`);
  }
  report({ phase: "rollback", done: 0, total: 1 });
  const { message, result } = await rollBack(ctx, {
    to: to === "" ? undefined : to,
    reason: "rolled back from the dashboard",
  });
  report({ phase: "rollback", done: 1, total: 1 });
  return { message, result };
}

async function confirm(ctx: ActionContext): Promise<StepResult> {
  const { message, result } = await confirmTrial(ctx, { reason: "confirmed from the dashboard" });
  return { message, result };
}

/**
 * The dashboard's POST routes (`/api/<name>`) and their steps.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STEPS } from "./_steps.ts";
 * assert.deepEqual(Object.keys(STEPS), ["check", "update", "channel", "rollback", "confirm"]);
 * ```
 */
export const STEPS: Record<string, Step> = { check, update, channel, rollback, confirm };
