// Private to dashboard/page.ts: the status header — the one thing that matters about the install
// now, in words and colour (a tone, an icon shape and a title), what it means, and the next action
// a user can take. Pure: the status document, the configured channel's probe and the history in,
// a headline (and its HTML) out.
import type { ChannelProbe } from "../lib/actions/channel.ts";
import type { InstallHistory, TimelineEntry } from "../lib/root/history.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import {
  escapeHtml as e,
  type FormContext,
  formHtml,
  type FormSpec,
  type Tone,
  toneIcon,
} from "./_html.ts";

/**
 * The header's states, most pressing first: the first that applies is shown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HEADLINE_STATES } from "./_header.ts";
 * assert.deepEqual(HEADLINE_STATES.slice(0, 3), ["not-installed", "blocked", "trial"]);
 * ```
 */
export const HEADLINE_STATES = [
  "not-installed",
  "blocked",
  "trial",
  "failing",
  "ready",
  "rolled-back",
  "available",
  "healthy",
] as const;

/**
 * One of {@linkcode HEADLINE_STATES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HeadlineState } from "./_header.ts";
 * const state: HeadlineState = "healthy";
 * assert.equal(state, "healthy");
 * ```
 */
export type HeadlineState = typeof HEADLINE_STATES[number];

/**
 * What the header says.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Headline } from "./_header.ts";
 * const h: Headline = { state: "ready", tone: "info", title: "Update ready at next launch",
 *   detail: ["1.2.0 is staged"], next: { say: "Restart MS11 to use it", forms: [] }, also: [] };
 * assert.equal(h.next.forms.length, 0);
 * ```
 */
export interface Headline {
  /** The state. */
  state: HeadlineState;
  /** Its tone. */
  tone: Tone;
  /** The one thing that matters, in words. */
  title: string;
  /** What it means, a sentence each. */
  detail: string[];
  /** The next action: what to do, and the buttons that do it (none when it is not here). */
  next: { say: string; forms: FormSpec[] };
  /** Other facts worth a glance (a staged build under a trial, a state file problem, …). */
  also: string[];
}

/**
 * What {@linkcode headline} reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HeadlineInput } from "./_header.ts";
 * const input: Partial<HeadlineInput> = { channel: null, history: null };
 * assert.equal(input.history, null);
 * ```
 */
export interface HeadlineInput {
  /** The status document. */
  status: StatusDocument;
  /** The configured channel's probe (its newest release now), or null. */
  channel: ChannelProbe | null;
  /** The install's history, or null when it could not be read. */
  history: InstallHistory | null;
}

/** `2026-11-27 09:12 UTC`. */
function short(iso: string): string {
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

const CHECK: FormSpec = {
  route: "/api/check",
  label: "Check for updates now",
  id: "next-check",
  kind: "primary",
};

/** The primary button that downloads and stages `what` (a version, or the newest release). */
function stageForm(what: string): FormSpec {
  return {
    route: "/api/update",
    label: `Download and stage ${what}`,
    id: "next-update",
    kind: "primary",
  };
}

/** Failing checks: from the history, else from the status's last error. */
function failing(input: HeadlineInput) {
  if (input.history !== null) return input.history.failing;
  const { last_error: error, last_check: check } = input.status;
  if (error === null || !["check", "update"].includes(error.command)) return null;
  if (check !== null && check.at >= error.at) return null;
  return {
    since: error.at,
    last_at: error.at,
    count: 1,
    command: error.command,
    message: error.message,
  };
}

/** The last swap, when it was a rollback to the build current now (and nothing is staged). */
function rollbackNow(input: HeadlineInput): TimelineEntry | null {
  const swaps = (input.history?.entries ?? []).filter((x) => x.changes_current);
  const last = swaps.at(-1);
  return last?.kind === "rolled_back" && last.version === input.status.current?.version
    ? last
    : null;
}

/** The version the configured channel offers as an update, or null. */
function available(input: HeadlineInput): string | null {
  const probe = input.channel;
  if (probe?.decision?.action === "update") return probe.decision.version;
  if (probe?.decision) return null; // a live answer: nothing to update to
  const check = input.status.last_check;
  return check?.decision === "update" && check.current === input.status.current?.version &&
      check.channel === input.status.channel
    ? check.available
    : null;
}

/**
 * The header for the install as `input` describes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { headline } from "./_header.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const h = headline({ status, channel: null, history: null });
 * assert.deepEqual([h.state, h.title], ["not-installed", "Not installed"]);
 * const installed = { ...status, current: { version: "1.1.0", channel: "stable", installed_at: null, lifecycle: null } };
 * assert.equal(headline({ status: installed, channel: null, history: null }).title, "Healthy");
 * ```
 */
export function headline(input: HeadlineInput): Headline {
  const s = input.status;
  const also: string[] = [];
  if (s.state_problem) also.push(s.state_problem);
  const yanked = s.current_yanked;
  if (yanked) {
    also.push(
      `${yanked.version} is yanked on ${yanked.channel} (${yanked.reason}): MS11's next start leaves it for a backup that ran healthy, if there is one`,
    );
  }
  const fail = failing(input);
  const failLine = fail === null
    ? ""
    : `Checks have failed since ${short(fail.since)}: ${fail.message}`;
  const stagedLine = s.staged === null
    ? ""
    : `${s.staged.version} is staged: the launcher applies it at MS11's next start`;
  if (s.current === null) {
    return {
      state: "not-installed",
      tone: "neutral",
      title: "Not installed",
      detail: [`Nothing is installed in ${s.root} yet.`],
      next: {
        say: s.staged === null
          ? "Download the newest release; MS11's launcher installs it at its next start"
          : "Start MS11: its launcher installs the staged build",
        forms: s.staged === null ? [stageForm("the newest release")] : [],
      },
      also: [...also, ...(failLine ? [failLine] : [])],
    };
  }
  const current = s.current;
  if (s.trust.problem) {
    return {
      state: "blocked",
      tone: "bad",
      title: "Updates blocked",
      detail: [s.trust.problem],
      next: { say: "Run the command named above in a terminal, then check again", forms: [CHECK] },
      also,
    };
  }
  if (s.trial !== null) {
    const t = s.trial;
    const fallback = t.from;
    const forms: FormSpec[] = [{
      route: "/api/confirm",
      label: `Confirm ${t.version} works`,
      id: "next-confirm",
      kind: "primary",
    }];
    if (fallback !== null) {
      forms.push({
        route: "/api/rollback",
        fields: { to: fallback },
        label: `Roll back to ${fallback}`,
        id: "next-rollback",
      });
    }
    return {
      state: "trial",
      tone: "warn",
      title: `On trial: launch ${t.attempts} of ${t.max_attempts}`,
      detail: [
        `${t.version} became current ${short(t.started_at)}${
          fallback === null ? "" : `, replacing ${fallback}`
        }, and has not been confirmed healthy yet.`,
        fallback === null
          ? "There is no build to fall back to."
          : `If it is not confirmed by launch ${t.max_attempts}, the launcher rolls back to ${fallback} by itself.`,
      ],
      next: {
        say: fallback === null
          ? "Confirm it once MS11 works"
          : "Confirm it once MS11 works, or roll back now",
        forms,
      },
      also: [...also, ...(failLine ? [failLine] : []), ...(stagedLine ? [stagedLine] : [])],
    };
  }
  if (fail !== null) {
    return {
      state: "failing",
      tone: "bad",
      title: `Check failing since ${short(fail.since)}`,
      detail: [
        `${plural(fail.count, "failed attempt", "failed attempts")}, the last ${
          short(fail.last_at)
        }: ${fail.message}`,
        `${current.version} is still installed and runs as before.`,
      ],
      next: {
        say: "Check the network and the channel's address, then check again",
        forms: [{ ...CHECK, label: "Check again now" }],
      },
      also: [...also, ...(stagedLine ? [stagedLine] : [])],
    };
  }
  if (s.staged !== null) {
    return {
      state: "ready",
      tone: "info",
      title: "Update ready at next launch",
      detail: [
        `${s.staged.version} from ${s.staged.channel} was downloaded, verified and staged ${
          short(s.staged.staged_at)
        }.`,
        `The launcher swaps it in for ${current.version} the next time MS11 starts; it runs on trial until confirmed healthy.`,
      ],
      next: { say: "Restart MS11 to use it", forms: [] },
      also,
    };
  }
  const back = rollbackNow(input);
  if (back !== null) {
    const from = back.from ?? "the previous build";
    const rejected = s.rejected.find((r) => r.version === back.from);
    const held = s.held.find((r) => r.version === back.from);
    const skip = rejected !== undefined
      ? `${from} is rejected${
        rejected.reason === back.reason ? "" : ` (${rejected.reason})`
      }: updates skip it until a newer release.`
      : held !== undefined
      ? `${from} is held back: updates skip it until a newer release.`
      : null;
    const update = available(input);
    return {
      state: "rolled-back",
      tone: back.automatic ? "bad" : "warn",
      title: back.automatic
        ? `Rolled back: ${back.reason}`
        : `Rolled back by hand to ${back.version}`,
      detail: [
        `Rolled back ${
          back.automatic ? "automatically" : "by hand"
        } from ${from} to ${back.version} at ${short(back.at)}${
          back.automatic ? "" : `: ${back.reason}`
        }.`,
        ...(skip === null ? [] : [skip]),
      ],
      next: update === null
        ? {
          say: "A newer release is installed as usual",
          forms: [{ ...CHECK, label: "Check for a newer release" }],
        }
        : {
          say: `${update} is available: download it now; it is applied at MS11's next start`,
          forms: [stageForm(update)],
        },
      also,
    };
  }
  const update = available(input);
  if (update !== null) {
    return {
      state: "available",
      tone: "info",
      title: `Update available: ${update}`,
      detail: [`${s.channel} has ${update}; ${current.version} is installed.`],
      next: {
        say: "Download it now; it is applied at MS11's next start",
        forms: [stageForm(update)],
      },
      also,
    };
  }
  const lifecycle = current.lifecycle;
  const check = s.last_check;
  return {
    state: "healthy",
    tone: "good",
    title: "Healthy",
    detail: [
      `${current.version} from ${current.channel ?? "an unknown channel"} is installed${
        lifecycle?.state === "confirmed" ? " and confirmed healthy" : ""
      }.`,
      input.channel?.decision
        ? input.channel.decision.message
        : check === null
        ? "It has not been checked for updates yet."
        : `Up to date when last checked, ${short(check.at)}.`,
    ],
    next: { say: "Nothing to do", forms: [CHECK] },
    also,
  };
}

/**
 * The header's HTML: a region named by its title, with the tone as a class (`tone-good`, …) and
 * `data-state`, an icon (hidden from screen readers: the title says it), the detail, and the next
 * action's words and buttons.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderHeader } from "./_header.ts";
 * const html = renderHeader({ state: "healthy", tone: "good", title: "Healthy", detail: ["1.1.0 <ok>"],
 *   next: { say: "Nothing to do", forms: [] }, also: [] }, { token: "t", busy: false });
 * assert.match(html, /<section id="status" class="banner tone-good" data-state="healthy"/);
 * assert.match(html, /<h2 id="status-title" tabindex="-1">Healthy<\/h2>/);
 * assert.ok(html.includes("1.1.0 &lt;ok&gt;"));
 * ```
 */
export function renderHeader(h: Headline, ctx: FormContext): string {
  const detail = h.detail.map((d) => `<p>${e(d)}</p>`).join("");
  const also = h.also.length === 0
    ? ""
    : `<ul id="status-also">${h.also.map((a) => `<li>${e(a)}</li>`).join("")}</ul>`;
  const forms = h.next.forms.map((f) => formHtml(ctx, f)).join("");
  return `<section id="status" class="banner tone-${h.tone}" data-state="${h.state}" aria-labelledby="status-title">` +
    toneIcon(h.tone, 40) +
    `<div class="banner-text"><h2 id="status-title" tabindex="-1">${e(h.title)}</h2>` +
    `<div id="status-detail">${detail}</div>${also}` +
    `<div id="status-next" class="next"><p><strong>Next:</strong> ${e(h.next.say)}</p>` +
    `${forms ? `<div class="row">${forms}</div>` : ""}</div></div></section>`;
}
