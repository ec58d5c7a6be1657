// Private to dashboard/server.ts: the dashboard page, one server-rendered HTML document. At the
// top, a status header says the one thing that matters (dashboard/_header.ts); then the progress
// of the running action, the install's timeline as a picture (dashboard/_timeline.ts), the builds
// and channels as cards (dashboard/_builds.ts), the details and the audit log. Everything it
// shows is readable without JavaScript, and every action is a plain <form> POST; a small inline
// script (dashboard/browser/app.js, nonce-allowed by the Content-Security-Policy, as is the
// stylesheet dashboard/browser/app.css) adds live progress through Server-Sent Events and submits
// the forms without leaving the page. No external asset of any kind. Pure: a view in, a string
// out; every value is escaped (dashboard/_html.ts).
import {
  type ChannelProbe,
  riskSentence,
  type SwitchConfirmation,
} from "../lib/actions/channel.ts";
import type { Progress } from "../lib/core/env.ts";
import { countsBytes, PHASE_LABEL } from "../lib/core/format.ts";
import type { InstallHistory } from "../lib/root/history.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import type { ProgressReport } from "./progress.ts";
import { renderBuilds, renderChannels } from "./_builds.ts";
import { headline, renderHeader } from "./_header.ts";
import {
  escapeHtml,
  type FormContext,
  formHtml,
  timeHtml as time,
  tokenQuery,
  toneIcon,
} from "./_html.ts";
import { renderTimeline } from "./_timeline.ts";
// The page's script and stylesheet: files of their own (the script linted and type-checked
// against the DOM, see its header), embedded at build time, so the compiled executable and the
// bundle need no file at run time.
import APP_JS from "./browser/app.js" with { type: "text" };
import APP_CSS from "./browser/app.css" with { type: "text" };

export { escapeHtml };

/**
 * A channel switch's question waiting for an answer: a riskier channel, a downgrade, or both
 * (lib/actions/channel.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Confirmation } from "./page.ts";
 * const question: Confirmation = { channel: "stable", available: "1.0.0", current: "1.1.0-beta.2",
 *   risk: null };
 * assert.equal(question.channel, "stable");
 * ```
 */
export type Confirmation = SwitchConfirmation;

/**
 * What the last action did.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Outcome } from "./page.ts";
 * const outcome: Outcome = { action: "check", ok: true, message: "Up to date: 1.1.0 on stable",
 *   at: "2026-11-27T10:00:00Z", confirmation: null, phase: "check", transfer: null };
 * assert.ok(outcome.ok);
 * ```
 */
export interface Outcome {
  /** The action (`check`, `update`, `channel`, `rollback`, `confirm`). */
  action: string;
  /** Whether it succeeded. */
  ok: boolean;
  /** One sentence for people. */
  message: string;
  /** When it finished. */
  at: string;
  /** A question to answer before the action can go on, or null. */
  confirmation: Confirmation | null;
  /** The phase it was in when it ended (a failure names it), or null when it reported none. */
  phase: Progress["phase"] | null;
  /** What it downloaded, for people (`4.0 MiB at 2.0 MiB/s`), or null. */
  transfer: string | null;
}

/**
 * The action running now.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Busy } from "./page.ts";
 * const busy: Busy = { action: "update", started_at: "2026-11-27T10:00:00Z" };
 * assert.equal(busy.action, "update");
 * ```
 */
export interface Busy {
  /** The action. */
  action: string;
  /** When it started. */
  started_at: string;
}

/**
 * Everything the page shows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type PageView, renderPage } from "./page.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const view: PageView = { status, channels: [], progress: null, token: "t", nonce: "n",
 *   busy: { action: "update", started_at: "2026-11-27T10:00:00Z" }, outcome: null, history: null };
 * assert.match(renderPage(view), /<body data-token="t">/);
 * ```
 */
export interface PageView {
  /** The status document (`status --json`). */
  status: StatusDocument;
  /** The configured channels. */
  channels: ChannelProbe[];
  /** The install's history (the timeline), or null when it could not be read. */
  history: InstallHistory | null;
  /** The action running, or null. */
  busy: Busy | null;
  /** What the last action did, or null. */
  outcome: Outcome | null;
  /** The last progress report of the running (or last) action, or null. */
  progress: ProgressReport | null;
  /** The access token (carried by every link and form). */
  token: string;
  /** The CSP nonce of the inline script and style. */
  nonce: string;
}

const e = escapeHtml;

function formContext(view: PageView): FormContext {
  return { token: view.token, busy: view.busy !== null };
}

function details(view: PageView): string {
  const s = view.status;
  const rows: [string, string][] = [
    [
      "Current version",
      s.current
        ? `<span id="current-version">${e(s.current.version)}</span> (from ${
          e(s.current.channel ?? "an unknown channel")
        }, installed ${time(s.current.installed_at)})`
        : `<span id="current-version">none</span> (nothing is installed in ${e(s.root)})`,
    ],
    [
      "Channel",
      `<span id="channel">${e(s.channel)}</span> <span id="channel-risk">(${
        e(s.channel_info.risk)
      } risk)</span><div class="muted">${e(s.channel_info.description)}</div>`,
    ],
    [
      "Staged build",
      `<span id="staged">${
        s.staged
          ? `${e(s.staged.version)} from ${e(s.staged.channel)}, staged ${
            time(s.staged.staged_at)
          }; applied at the next launch`
          : "none"
      }</span>`,
    ],
    [
      "Last check",
      `<span id="last-check">${
        s.last_check
          ? `${time(s.last_check.at)} on ${e(s.last_check.channel)}: ${
            e(s.last_check.available)
          } available (${e(s.last_check.decision)})`
          : "never"
      }</span>`,
    ],
    [
      "Served by",
      `<span id="served-by">${
        s.mirror
          ? `${e(s.mirror.base_url)} (checked ${time(s.mirror.checked_at)})`
          : "not checked yet"
      }</span>`,
    ],
    [
      "Last error",
      `<span id="last-error">${
        s.last_error
          ? `${time(s.last_error.at)} ${e(s.last_error.command)}: ${e(s.last_error.message)}`
          : "none"
      }</span>`,
    ],
    ["Platform", e(s.platform)],
    ["Install root", `<code>${e(s.root)}</code>`],
  ];
  if (s.updater !== undefined) rows.push(["Updater", updater(s.updater)]);
  if (s.state_problem) rows.push(["State file", e(s.state_problem)]);
  if (s.trust.problem) {
    rows.push(["Trust state", `<span id="trust-problem">${e(s.trust.problem)}</span>`]);
  }
  return `<section id="installed" aria-labelledby="h-installed"><h2 id="h-installed">Installed</h2><dl class="facts">${
    rows.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${v}</dd></div>`).join("")
  }</dl></section>`;
}

/** The updater's row: its version, form and path, a pending updater update, the previous one. */
function updater(u: NonNullable<StatusDocument["updater"]>): string {
  const parts = [
    `ms11-update <span id="updater-version">${e(u.version)}</span> (${e(u.form)}, <code>${
      e(u.path)
    }</code>)`,
    `<span id="updater-pending">${
      u.pending
        ? `${e(u.pending.version)} from ${e(u.pending.channel)}, staged ${
          time(u.pending.staged_at)
        }; tried at the next launch, in place once it has started`
        : "no updater update pending"
    }</span>`,
  ];
  if (u.previous) parts.push(`previous ${e(u.previous)} kept`);
  if (u.last?.event === "failed") {
    parts.push(`${e(u.last.version)} failed its trial ${time(u.last.at)}: ${e(u.last.reason)}`);
  }
  if (u.problem) parts.push(`<span id="updater-problem">${e(u.problem)}</span>`);
  return parts.join("; ");
}

function confirmation(view: PageView): string {
  const c = view.outcome?.confirmation;
  if (!c || view.busy) return "";
  const ctx = formContext(view);
  const risk = c.risk === null ? "" : `<p class="risk">${e(riskSentence(c.risk))}.</p>`;
  const accept: Record<string, string> = c.risk === null ? {} : { accept_risk: "1" };
  if (c.available === null || c.current === null) {
    return `<section id="confirm-risk" aria-labelledby="h-confirm" class="ask"><h2 id="h-confirm">Switch to ${
      e(c.channel)
    }?</h2>${risk}<div class="row">${
      formHtml(ctx, {
        route: "/api/channel",
        fields: { channel: c.channel, ...accept },
        label: `Switch to ${c.channel} (${c.risk?.risk ?? "higher"} risk)`,
        id: "accept-risk",
      })
    }</div></section>`;
  }
  const fields = (answer: string) => ({ channel: c.channel, downgrade: answer, ...accept });
  return `<section id="confirm-downgrade" aria-labelledby="h-confirm" class="ask"><h2 id="h-confirm">Switch to ${
    e(c.channel)
  }?</h2>${risk}<p>${e(c.channel)}'s newest release ${e(c.available)} is lower than the installed ${
    e(c.current)
  }. Switching never downgrades by itself.</p><div class="row">${
    formHtml(ctx, {
      route: "/api/channel",
      fields: fields("install"),
      label: `Switch and install ${c.available} (downgrade)`,
      id: "downgrade-install",
    })
  }${
    formHtml(ctx, {
      route: "/api/channel",
      fields: fields("keep"),
      label: `Switch, keep ${c.current} until ${c.channel} catches up`,
      id: "downgrade-keep",
    })
  }</div></section>`;
}

/** The version the configured channel would install now, or null. */
function offered(view: PageView): string | null {
  const probe = view.channels.find((c) => c.configured);
  return probe?.decision?.action === "update" ? probe.decision.version : null;
}

function actions(view: PageView): string {
  const ctx = formContext(view);
  const version = offered(view);
  return `<section id="actions" aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2><div class="row">${
    formHtml(ctx, { route: "/api/check", label: "Check for updates now", id: "check-now" })
  }${
    formHtml(ctx, {
      route: "/api/update",
      label: version === null
        ? "Download and stage the newest release"
        : `Download and stage ${version}`,
      id: "download-stage",
    })
  }</div></section>`;
}

function phaseWords(phase: Progress["phase"]): string {
  return PHASE_LABEL[phase].toLowerCase();
}

function outcomeLine(o: Outcome): string {
  const line = o.ok
    ? `Done: ${o.message}${o.transfer ? ` (downloaded ${o.transfer})` : ""}`
    : `Failed${o.phase === null ? "" : ` while ${phaseWords(o.phase)}`}: ${o.message}`;
  return `${toneIcon(o.ok ? "good" : "bad", 20)}<span>${e(line)} <span class="muted">(${
    e(o.action)
  }, ${time(o.at)})</span></span>`;
}

function progress(view: PageView): string {
  const { progress: p, busy, outcome: o } = view;
  const finished = busy === null ? o : null;
  // The bar: while running; full after a success that reported progress; gone after a failure
  // (its last value would be a lie) and before anything ran.
  const showBar = busy !== null || (finished?.ok === true && p !== null);
  const value = busy !== null ? p?.percent ?? null : 100;
  const bar = `<progress id="progress-bar" max="100"${
    value === null ? "" : ` value="${e(value)}"`
  } aria-labelledby="h-progress"${showBar ? "" : " hidden"}>${e(value ?? 0)}%</progress>`;
  const text = busy !== null
    ? p?.text ?? `Starting ${busy.action}…`
    : finished === null
    ? "Nothing has run yet"
    : finished.ok
    ? p?.text ?? ""
    : p === null
    ? ""
    : `Stopped while ${phaseWords(p.phase)}${countsBytes(p.phase) ? ` at ${p.amount}` : ""}`;
  // The facts of the last report while running; once it ended, the outcome line says it all.
  const f = busy !== null ? p : null;
  const facts = `<dl class="facts" id="progress-facts"${f === null ? " hidden" : ""}>` +
    `<div><dt>Phase</dt><dd id="progress-phase">${e(f?.label ?? "")}</dd></div>` +
    `<div><dt>Done</dt><dd id="progress-amount">${e(f?.amount ?? "")}</dd></div>` +
    `<div><dt>Speed</dt><dd id="progress-speed">${
      e(f === null ? "" : f.speed ?? "not measured")
    }</dd></div></dl>`;
  const running = busy
    ? `<span class="spinner" aria-hidden="true"></span>Running: ${e(busy.action)} (since ${
      time(busy.started_at)
    })`
    : "";
  return `<section id="progress" aria-labelledby="h-progress"><h2 id="h-progress">Progress</h2>` +
    `<p id="busy">${running}</p>${bar}` +
    `<p id="progress-text" aria-live="polite">${e(text)}</p>${facts}` +
    `<p id="outcome" role="status"${finished ? ` class="${finished.ok ? "ok" : "fail"}"` : ""}>${
      finished ? outcomeLine(finished) : ""
    }</p></section>`;
}

const STANDARD = new Set(["at", "event", "reason"]);

function events(view: PageView): string {
  const list = view.status.recent_events;
  const rows = list.slice().reverse().map((entry) => {
    const facts = Object.entries(entry)
      .filter(([k, v]) => !STANDARD.has(k) && v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ");
    return `<li>${time(entry.at)} <code class="event">${e(entry.event)}</code> ${e(entry.reason)}${
      facts ? `<div class="muted">${e(facts)}</div>` : ""
    }</li>`;
  }).join("");
  return `<section id="audit" aria-labelledby="h-events"><h2 id="h-events">Audit log</h2>${
    list.length === 0
      ? "<p>No events yet.</p>"
      : `<details><summary>The last ${list.length} entries, newest first</summary><ol id="events" class="events">${rows}</ol></details>`
  }</section>`;
}

/** The stylesheet (dashboard/browser/app.css), safe to inline: it cannot end its element. */
const STYLE = APP_CSS.replace(/<\/(?=style)/gi, "<\\/");

/**
 * Make script text safe to inline in a `<script>` element: every `<` that begins `<!--`,
 * `<script` or `</script` (in any case) becomes `\x3C`, as the HTML standard advises
 * ("Restrictions for contents of script elements"), so the text can neither end the element
 * early nor switch the parser into its double-escaped state. `\x3C` means `<` in the places
 * these sequences can appear in a script (strings, template literals, regular expressions,
 * comments), so the script does the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeScript } from "./page.ts";
 * assert.equal(escapeScript('x = "</SCRIPT><!--";'), 'x = "\\x3C/SCRIPT>\\x3C!--";');
 * assert.equal(escapeScript("a < b && c <= d"), "a < b && c <= d");
 * ```
 */
export function escapeScript(source: string): string {
  return source.replace(/<(?=!--|\/?script)/gi, "\\x3C");
}

/** The page's script (dashboard/browser/app.js), escaped once for inlining. */
const SCRIPT = escapeScript(APP_JS);

/**
 * The whole page for `view`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderPage } from "./page.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const html = renderPage({ status, channels: [], busy: null, outcome: null, progress: null,
 *   history: null, token: "t", nonce: "n" });
 * assert.ok(html.startsWith("<!doctype html>"));
 * assert.match(html, /<script nonce="n">\/\/ @ts-check\n/);
 * assert.match(html, /<h2 id="status-title" tabindex="-1">Not installed<\/h2>/);
 * ```
 */
export function renderPage(view: PageView): string {
  const n = e(view.nonce);
  const ctx = formContext(view);
  const head = headline({
    status: view.status,
    channel: view.channels.find((c) => c.configured) ?? null,
    history: view.history,
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>MS11 updates: ${e(head.title)} · ${e(view.status.current?.version ?? "not installed")} on ${
    e(view.status.channel)
  }</title>
<style nonce="${n}">${STYLE}</style></head>
<body data-token="${e(view.token)}"><main>
<h1>MS11 updates</h1>
<div id="content">
${renderHeader(head, ctx)}
${confirmation(view)}
${progress(view)}
${actions(view)}
${renderTimeline(view.history, view.status)}
${renderBuilds(view.status, ctx)}
${renderChannels(view.channels, view.status, ctx)}
${details(view)}
${events(view)}
<p class="muted">JSON: <a href="/api/status?${
    e(tokenQuery(view.token))
  }">status</a>, <a href="/api/history?${
    e(tokenQuery(view.token))
  }">history</a>, <a href="/api/channels?${
    e(tokenQuery(view.token))
  }">channels</a> (see docs/DASHBOARD.md).</p>
</div>
</main>
<script nonce="${n}">${SCRIPT}</script>
</body></html>
`;
}
