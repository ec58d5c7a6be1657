// Private to dashboard/server.ts: the dashboard page, one server-rendered HTML document. Everything
// it shows is readable without JavaScript, and every action is a plain <form> POST; a small
// inline script (dashboard/browser/app.js, nonce-allowed by the Content-Security-Policy) adds
// live progress through Server-Sent Events and submits the forms without leaving the page. No
// external asset of any kind. Pure: a view in, a string out; every value is escaped.
import {
  type ChannelProbe,
  riskSentence,
  type SwitchConfirmation,
} from "../lib/actions/channel.ts";
import type { ProgressReport } from "./progress.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { describeLifecycle } from "../lib/root/lifecycle.ts";
import { escapeLines } from "../lib/core/text.ts";
// The page's script: a file of its own, linted and type-checked against the DOM (see its header),
// embedded at build time, so the compiled executable and the bundle need no file at run time.
import APP_JS from "./browser/app.js" with { type: "text" };

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
 *   at: "2026-11-27T10:00:00Z", confirmation: null };
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
 *   busy: { action: "update", started_at: "2026-11-27T10:00:00Z" }, outcome: null };
 * assert.match(renderPage(view), /<body data-token="t">/);
 * ```
 */
export interface PageView {
  /** The status document (`status --json`). */
  status: StatusDocument;
  /** The configured channels. */
  channels: ChannelProbe[];
  /** The action running, or null. */
  busy: Busy | null;
  /** What the last action did, or null. */
  outcome: Outcome | null;
  /** The last progress report, or null. */
  progress: ProgressReport | null;
  /** The access token (carried by every link and form). */
  token: string;
  /** The CSP nonce of the inline script and style. */
  nonce: string;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escape text for HTML content and attribute values: `&<>"'` as entities, and control, C1 and
 * bidi characters as visible escapes (lib/core/text.ts's `escapeLines`: line feeds and tabs
 * stay), since a right-to-left override from a manifest would reorder what people read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./page.ts";
 * assert.equal(escapeHtml("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
 * assert.equal(escapeHtml("1.0\u202e\x1b[2J"), "1.0\\u202e\\x1b[2J");
 * ```
 */
export function escapeHtml(value: unknown): string {
  return escapeLines(String(value)).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const e = escapeHtml;

function time(iso: string | null | undefined): string {
  if (!iso) return "unknown";
  const shown = iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  return `<time datetime="${e(iso)}">${e(shown)}</time>`;
}

function q(token: string): string {
  return `token=${encodeURIComponent(token)}`;
}

/** A form of one button posting to an action route (with the token). */
interface FormSpec {
  /** The route, e.g. `/api/check`. */
  route: string;
  /** Hidden fields. */
  fields?: Record<string, string>;
  /** The button's label. */
  label: string;
  /** The button's id. */
  id: string;
}

function form(view: PageView, spec: FormSpec): string {
  const hidden = Object.entries(spec.fields ?? {})
    .map(([name, value]) => `<input type="hidden" name="${e(name)}" value="${e(value)}">`)
    .join("");
  const disabled = view.busy ? " disabled" : "";
  return `<form method="post" action="${e(spec.route)}?${e(q(view.token))}">${hidden}` +
    `<button type="submit" id="${e(spec.id)}"${disabled}>${e(spec.label)}</button></form>`;
}

function slug(value: string): string {
  return value.replace(/[^a-zA-Z0-9_-]/g, "_");
}

function installed(view: PageView): string {
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
  if (s.state_problem) rows.push(["State file", e(s.state_problem)]);
  if (s.trust.problem) {
    rows.push(["Trust state", `<span id="trust-problem">${e(s.trust.problem)}</span>`]);
  }
  return `<section aria-labelledby="h-installed"><h2 id="h-installed">Installed</h2><dl>${
    rows.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${v}</dd></div>`).join("")
  }</dl></section>`;
}

function trial(view: PageView): string {
  // `trial` comes with the launcher's trial feature: { version, from, started_at, attempts,
  // max_attempts }. Shown when present; facts this page does not know are listed as they are.
  const t = (view.status as unknown as { trial?: unknown }).trial;
  if (t === undefined || t === null || typeof t !== "object") return "";
  const r = t as Record<string, unknown>;
  const known: [string, string, string][] = [
    ["version", "Build on trial", `<span id="trial-version">${e(r.version)}</span>`],
    ["from", "Falls back to", e(r.from ?? "none")],
    ["started_at", "On trial since", typeof r.started_at === "string" ? time(r.started_at) : ""],
    ["attempts", "Launches so far", e(r.attempts)],
  ];
  const rows = known.filter(([k]) => k in r).map(([, label, value]) => [label, value]);
  if (typeof r.attempts === "number" && typeof r.max_attempts === "number") {
    rows.push([
      "Attempts left",
      `<span id="trial-attempts-left">${e(Math.max(0, r.max_attempts - r.attempts))}</span> of ${
        e(r.max_attempts)
      }`,
    ]);
  }
  for (const [k, v] of Object.entries(r)) {
    if (known.some(([name]) => name === k) || k === "max_attempts") continue;
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) {
      rows.push([k.replaceAll("_", " "), e(v ?? "none")]);
    }
  }
  const facts = rows.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${v}</dd></div>`).join("");
  const action = form(view, {
    route: "/api/confirm",
    label: "Confirm this build",
    id: "confirm-build",
  });
  return `<section id="trial" aria-labelledby="h-trial"><h2 id="h-trial">Build on trial</h2><dl>${facts}</dl>${action}</section>`;
}

function decisionText(c: ChannelProbe, status: StatusDocument): string {
  if (c.error) return `could not check: ${e(c.error)}`;
  if (!c.decision) return "";
  if (c.decision.action === "update") {
    return status.current ? "newer than installed" : "would be installed";
  }
  return {
    "up-to-date": "same as installed",
    "already-staged": "already staged",
    "downgrade-refused": "lower than installed (switching asks first)",
    "rejected": "rejected on this install; skipped",
    "held": "rolled back from; skipped",
  }[c.decision.reason];
}

function channels(view: PageView): string {
  const rows = view.channels.map((c) => {
    const id = slug(c.name);
    const notes = c.available?.notes
      ? `<details><summary>Release notes</summary><p class="notes">${
        e(c.available.notes)
      }</p></details>`
      : "";
    const action = c.configured ? "<strong>followed</strong>" : form(view, {
      route: "/api/channel",
      fields: { channel: c.name },
      label: `Switch to ${c.name}`,
      id: `switch-${id}`,
    });
    return `<tr id="channel-${e(id)}"><th scope="row">${e(c.name)}<div class="risk">${
      e(c.risk)
    } risk</div><div class="muted">${
      e(c.description)
    }</div></th><td class="available" data-label="Newest release">${
      c.available
        ? `${e(c.available.version)}<div class="muted">released ${
          time(c.available.released_at)
        }</div>${notes}`
        : "unknown"
    }</td><td data-label="Compared with installed">${
      decisionText(c, view.status)
    }</td><td data-label="Action">${action}</td></tr>`;
  }).join("");
  return `<section aria-labelledby="h-channels"><h2 id="h-channels">Channels</h2><div class="scroll"><table><thead><tr><th scope="col">Channel</th><th scope="col">Newest release</th><th scope="col">Compared with installed</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table></div></section>`;
}

function confirmation(view: PageView): string {
  const c = view.outcome?.confirmation;
  if (!c) return "";
  const risk = c.risk === null ? "" : `<p class="risk">${e(riskSentence(c.risk))}.</p>`;
  const accept: Record<string, string> = c.risk === null ? {} : { accept_risk: "1" };
  if (c.available === null || c.current === null) {
    return `<section id="confirm-risk" aria-labelledby="h-confirm" class="ask"><h2 id="h-confirm">Switch to ${
      e(c.channel)
    }?</h2>${risk}<div class="row">${
      form(view, {
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
    form(view, {
      route: "/api/channel",
      fields: fields("install"),
      label: `Switch and install ${c.available} (downgrade)`,
      id: "downgrade-install",
    })
  }${
    form(view, {
      route: "/api/channel",
      fields: fields("keep"),
      label: `Switch, keep ${c.current} until ${c.channel} catches up`,
      id: "downgrade-keep",
    })
  }</div></section>`;
}

function actions(view: PageView): string {
  return `<section aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2><div class="row">${
    form(view, { route: "/api/check", label: "Check now", id: "check-now" })
  }${
    form(view, { route: "/api/update", label: "Download and stage", id: "download-stage" })
  }</div></section>`;
}

function progress(view: PageView): string {
  const p = view.progress;
  const running = view.busy
    ? `Running: ${view.busy.action} (since ${time(view.busy.started_at)})`
    : "";
  const value = p?.percent ?? 0;
  return `<section aria-labelledby="h-progress"><h2 id="h-progress">Progress</h2>` +
    `<progress id="progress-bar" max="100" value="${e(value)}" aria-labelledby="progress-text">${
      e(value)
    }%</progress>` +
    `<p id="progress-text" role="status" aria-live="polite">${
      p ? e(p.text) : "Nothing has run yet"
    }</p><p id="busy">${running}</p></section>`;
}

function backups(view: PageView): string {
  const list = view.status.backups;
  if (list.length === 0) {
    return `<section aria-labelledby="h-backups"><h2 id="h-backups">Backups</h2><p id="no-backups">No backups.</p></section>`;
  }
  const rows = list.map((b) =>
    `<tr id="backup-${e(slug(b.version))}"><th scope="row">${
      e(b.version)
    }</th><td data-label="Channel">${e(b.channel ?? "unknown")}</td><td data-label="Installed">${
      time(b.installed_at)
    }</td><td data-label="Last current until">${
      b.retired_at ? time(b.retired_at) : "never ran"
    }</td><td data-label="Health">${
      e(describeLifecycle(b.lifecycle))
    }</td><td data-label="Action">${
      form(view, {
        route: "/api/rollback",
        fields: { to: b.version },
        label: `Roll back to ${b.version}`,
        id: `rollback-${slug(b.version)}`,
      })
    }</td></tr>`
  ).join("");
  return `<section aria-labelledby="h-backups"><h2 id="h-backups">Backups</h2><div class="scroll"><table id="backups"><thead><tr><th scope="col">Version</th><th scope="col">Channel</th><th scope="col">Installed</th><th scope="col">Last current until</th><th scope="col">Health</th><th scope="col">Action</th></tr></thead><tbody>${rows}</tbody></table></div></section>`;
}

const STANDARD = new Set(["at", "event", "reason"]);

function events(view: PageView): string {
  const list = view.status.recent_events;
  const rows = list.slice().reverse().map((entry) => {
    const facts = Object.entries(entry)
      .filter(([k, v]) => !STANDARD.has(k) && v !== null && v !== undefined)
      .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ");
    return `<tr><td data-label="When">${time(entry.at)}</td><td data-label="Event">${
      e(entry.event)
    }</td><td data-label="Details">${e(entry.reason)}${
      facts ? `<div class="muted">${e(facts)}</div>` : ""
    }</td></tr>`;
  }).join("");
  return `<section aria-labelledby="h-events"><h2 id="h-events">Audit log (newest first)</h2>${
    list.length === 0
      ? "<p>No events yet.</p>"
      : `<div class="scroll"><table id="events"><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Details</th></tr></thead><tbody>${rows}</tbody></table></div>`
  }</section>`;
}

function outcome(view: PageView): string {
  const o = view.outcome;
  if (!o) return `<p id="outcome" role="status"></p>`;
  return `<p id="outcome" role="status" class="${o.ok ? "ok" : "fail"}">${
    e(o.ok ? "Done" : "Failed")
  } (${e(o.action)}, ${time(o.at)}): ${e(o.message)}</p>`;
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5c5c5c;--line:#ccc;--accent:#0b57d0;--bad:#b3261e;--good:#1e6b2d}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#161616;--muted:#a8a8a8;--line:#444;--accent:#8ab4f8;--bad:#f2b8b5;--good:#9bd5a1}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
dl{display:grid;gap:.25rem;margin:0}dl div{display:grid;grid-template-columns:10rem 1fr;gap:.5rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.4rem;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
.scroll{overflow-x:auto}.muted{color:var(--muted);font-size:.9em}.notes{white-space:pre-wrap}
.row{display:flex;flex-wrap:wrap;gap:.5rem}form{margin:0}
button{font:inherit;padding:.4rem .8rem;border:1px solid var(--accent);border-radius:.3rem;background:transparent;color:var(--accent);cursor:pointer}
button:focus-visible,summary:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button[disabled]{opacity:.5;cursor:not-allowed}
progress{width:100%;height:1.2rem}
.ok{color:var(--good)}.fail{color:var(--bad)}.ask{border:2px solid var(--bad);padding:0 1rem 1rem;border-radius:.3rem}
@media (max-width:40rem){dl div{grid-template-columns:1fr}
table,thead,tbody,tr,th,td{display:block}thead tr{position:absolute;left:-9999px}
tr{border-bottom:1px solid var(--line);padding:.4rem 0}th,td{border:0;padding:.1rem 0}
td[data-label]::before{content:attr(data-label) ": ";font-weight:600}}
`;

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
 *   token: "t", nonce: "n" });
 * assert.ok(html.startsWith("<!doctype html>"));
 * assert.match(html, /<script nonce="n">\/\/ @ts-check\n/);
 * ```
 */
export function renderPage(view: PageView): string {
  const n = e(view.nonce);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>MS11 updates: ${e(view.status.current?.version ?? "not installed")} on ${
    e(view.status.channel)
  }</title>
<style nonce="${n}">${STYLE}</style></head>
<body data-token="${e(view.token)}"><main>
<h1>MS11 updates</h1>
<div id="content">
${outcome(view)}
${confirmation(view)}
${installed(view)}
${trial(view)}
${actions(view)}
${progress(view)}
${channels(view)}
${backups(view)}
${events(view)}
<p class="muted">JSON: <a href="/api/status?${
    e(q(view.token))
  }">status</a>, <a href="/api/channels?${
    e(q(view.token))
  }">channels</a> (see docs/DASHBOARD.md).</p>
</div>
</main>
<script nonce="${n}">${SCRIPT}</script>
</body></html>
`;
}
