// The dashboard's pure parts: the page renderer (dashboard/page.ts) and the progress report
// (dashboard/progress.ts).
import assert from "node:assert/strict";
import { escapeHtml, escapeScript, type PageView, renderPage } from "../dashboard/page.ts";
import { formatBytes, progressReport } from "../dashboard/progress.ts";
import type { StatusDocument } from "../lib/root/status.ts";

function status(extra: Partial<StatusDocument> = {}): StatusDocument {
  return {
    schema: 2,
    root: "/opt/ms11",
    channel: "stable",
    channel_info: {
      description: "Production-ready releases: weekly, thoroughly tested",
      risk: "low",
      check_interval_hours: 24,
    },
    platform: "linux-x64",
    current: {
      version: "1.1.0",
      channel: "stable",
      installed_at: "2026-11-27T09:12:01.000Z",
      lifecycle: null,
    },
    staged: null,
    backups: [],
    keep_backups: 2,
    last_check: null,
    last_error: null,
    state_problem: null,
    recent_events: [],
    trial: null,
    rejected: [],
    held: [],
    trust: { file: "/opt/ms11/trust.json", problem: null, channels: {} },
    mirror: null,
    ...extra,
  };
}

function view(extra: Partial<PageView> = {}): PageView {
  return {
    status: status(),
    channels: [],
    busy: null,
    outcome: null,
    progress: null,
    token: "tok",
    nonce: "non",
    ...extra,
  };
}

Deno.test("escapeHtml escapes the five HTML characters", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
  assert.equal(escapeHtml(42), "42");
});

Deno.test("renderPage shows the status facts, nothing installed included", () => {
  const html = renderPage(view({
    status: status({
      staged: { version: "1.2.0", channel: "stable", staged_at: "2026-11-27T10:00:00.000Z" },
      last_check: {
        at: "2026-11-27T09:59:00.000Z",
        channel: "stable",
        current: "1.1.0",
        available: "1.2.0",
        decision: "update",
      },
      last_error: { at: "2026-11-27T08:00:00.000Z", command: "update", message: "Network <down>" },
      state_problem: "State file x had unreadable entries (staged); they were ignored",
      mirror: {
        base_url: "https://cdn.ms11.com/<x>/stable",
        checked_at: "2026-11-27T09:59:00.000Z",
      },
    }),
  }));
  assert.match(
    html,
    /<span id="current-version">1\.1\.0<\/span> \(from stable, installed <time datetime="2026-11-27T09:12:01\.000Z">2026-11-27 09:12:01 UTC<\/time>\)/,
  );
  assert.match(
    html,
    /<span id="staged">1\.2\.0 from stable, staged <time[^>]*>2026-11-27 10:00:00 UTC<\/time>; applied at the next launch<\/span>/,
  );
  assert.match(
    html,
    /<span id="last-check"><time[^>]*>2026-11-27 09:59:00 UTC<\/time> on stable: 1\.2\.0 available \(update\)<\/span>/,
  );
  assert.match(
    html,
    /<span id="last-error"><time[^>]*>[^<]*<\/time> update: Network &lt;down&gt;<\/span>/,
  );
  assert.match(
    html,
    /<span id="served-by">https:\/\/cdn\.ms11\.com\/&lt;x&gt;\/stable \(checked <time[^>]*>2026-11-27 09:59:00 UTC<\/time>\)<\/span>/,
  );
  assert.ok(html.includes("State file x had unreadable entries"));
  assert.match(html, /<p id="no-backups">No backups\.<\/p>/);
  assert.match(
    html,
    /<p id="progress-text" role="status" aria-live="polite">Nothing has run yet<\/p>/,
  );
  const none = renderPage(view({ status: status({ current: null }) }));
  assert.match(
    none,
    /<span id="current-version">none<\/span> \(nothing is installed in \/opt\/ms11\)/,
  );
  assert.match(none, /<title>MS11 updates: not installed on stable<\/title>/);
  assert.match(none, /<span id="served-by">not checked yet<\/span>/);
});

Deno.test("renderPage shows each backup's health: confirmed, rejected with why, held back", () => {
  const backup = (version: string, lifecycle: StatusDocument["backups"][number]["lifecycle"]) => ({
    version,
    channel: "stable",
    installed_at: "2026-11-20T10:00:00.000Z",
    retired_at: "2026-11-26T10:00:00.000Z",
    lifecycle,
  });
  const at = "2026-11-26T10:00:00.000Z";
  const html = renderPage(view({
    status: status({
      backups: [
        backup("1.2.0", {
          state: "confirmed",
          at,
          reason: "confirmed healthy",
          held: { at, reason: "rolled back to 1.1.0 by hand" },
        }),
        backup("1.0.5", {
          state: "rejected",
          at,
          reason: "1.0.5 exited with code <3>",
          held: null,
        }),
        backup("1.0.0", { state: "confirmed", at, reason: "confirmed healthy", held: null }),
        backup("0.9.0", null),
      ],
    }),
  }));
  const health = [...html.matchAll(/<td data-label="Health">([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(health, [
    "confirmed healthy; held back: rolled back to 1.1.0 by hand",
    "rejected: 1.0.5 exited with code &lt;3&gt;",
    "confirmed healthy",
    "unknown",
  ]);
});

Deno.test("renderPage lists channels with notes, decisions, errors and switch buttons", () => {
  const html = renderPage(view({
    channels: [
      {
        name: "stable",
        description: "Production",
        risk: "low",
        configured: true,
        available: { version: "1.1.0", released_at: "2026-11-20T10:00:00Z", notes: null, size: 9 },
        decision: { action: "none", reason: "up-to-date", message: "same" },
        error: null,
      },
      {
        name: "canary",
        description: "Early",
        risk: "high",
        configured: false,
        available: {
          version: "1.2.0-canary.1",
          released_at: "2026-11-26T10:00:00Z",
          notes: "line 1\n<b>line 2</b>",
          size: 9,
        },
        decision: { action: "update", version: "1.2.0-canary.1", downgrade: false, message: "x" },
        error: null,
      },
      {
        name: "beta",
        description: "Beta",
        risk: "medium",
        configured: false,
        available: null,
        decision: null,
        error: "Fetch https://x/beta/manifest.json failed: HTTP 404",
      },
    ],
  }));
  assert.match(html, /<tr id="channel-stable">.*same as installed.*<strong>followed<\/strong>/s);
  // Each channel's risk and description, plainly.
  assert.match(
    html,
    /<tr id="channel-canary"><th scope="row">canary<div class="risk">high risk<\/div><div class="muted">Early<\/div><\/th>/,
  );
  assert.ok(html.includes('<p class="notes">line 1\n&lt;b&gt;line 2&lt;/b&gt;</p>'));
  assert.match(html, /newer than installed/);
  assert.match(html, /<button type="submit" id="switch-canary">Switch to canary<\/button>/);
  assert.match(html, /<input type="hidden" name="channel" value="beta">/);
  assert.ok(html.includes("could not check: Fetch https://x/beta/manifest.json failed: HTTP 404"));
});

Deno.test("renderPage asks before a downgrade, with both answers as buttons", () => {
  const html = renderPage(view({
    outcome: {
      action: "channel",
      ok: false,
      message: "asks",
      at: "2026-11-27T10:00:00.000Z",
      confirmation: {
        channel: "stable",
        available: "1.4.0",
        current: "1.5.0-canary.3",
        risk: null,
      },
    },
  }));
  assert.match(html, /<h2 id="h-confirm">Switch to stable\?<\/h2>/);
  assert.ok(
    html.includes("stable's newest release 1.4.0 is lower than the installed 1.5.0-canary.3"),
  );
  assert.match(
    html,
    /name="downgrade" value="install"><button type="submit" id="downgrade-install">Switch and install 1\.4\.0 \(downgrade\)<\/button>/,
  );
  assert.match(
    html,
    /name="downgrade" value="keep"><button type="submit" id="downgrade-keep">Switch, keep 1\.5\.0-canary\.3 until stable catches up<\/button>/,
  );
  assert.match(html, /<p id="outcome" role="status" class="fail">Failed \(channel, /);
});

Deno.test("renderPage asks before a riskier channel, showing its risk and description", () => {
  const risk = {
    channel: "canary",
    risk: "high" as const,
    from: "stable",
    previous: "low" as const,
    description: "Daily <builds>",
  };
  const html = renderPage(view({
    outcome: {
      action: "channel",
      ok: false,
      message: "asks",
      at: "2026-11-27T10:00:00.000Z",
      confirmation: { channel: "canary", available: null, current: null, risk },
    },
  }));
  assert.match(html, /<section id="confirm-risk"[^>]*><h2 id="h-confirm">Switch to canary\?<\/h2>/);
  assert.ok(
    html.includes(
      '<p class="risk">canary is a high-risk channel (stable is low-risk): Daily &lt;builds&gt;.</p>',
    ),
  );
  assert.match(
    html,
    /<input type="hidden" name="channel" value="canary"><input type="hidden" name="accept_risk" value="1"><button type="submit" id="accept-risk">Switch to canary \(high risk\)<\/button>/,
  );
  // Riskier and lower: one question, both answers carrying the consent.
  const both = renderPage(view({
    outcome: {
      action: "channel",
      ok: false,
      message: "asks",
      at: "2026-11-27T10:00:00.000Z",
      confirmation: { channel: "canary", available: "1.0.0", current: "1.1.0", risk },
    },
  }));
  assert.match(both, /<section id="confirm-downgrade"/);
  assert.ok(both.includes("canary is a high-risk channel (stable is low-risk)"));
  assert.match(
    both,
    /name="downgrade" value="keep"><input type="hidden" name="accept_risk" value="1"><button type="submit" id="downgrade-keep">/,
  );
  assert.ok(!both.includes('id="accept-risk"'));
});

Deno.test("renderPage shows the followed channel's risk and description", () => {
  const html = renderPage(view());
  assert.match(
    html,
    /<span id="channel">stable<\/span> <span id="channel-risk">\(low risk\)<\/span><div class="muted">Production-ready releases: weekly, thoroughly tested<\/div>/,
  );
});

Deno.test("renderPage shows a trial record, with attempts left, when the status has one", () => {
  const trial = {
    version: "1.2.0",
    from: "1.1.0",
    started_at: "2026-11-27T10:00:00.000Z",
    attempts: 1,
    max_attempts: 3,
    note: "<x>",
  };
  const withTrial = { ...status(), trial } as StatusDocument;
  const html = renderPage(view({ status: withTrial }));
  assert.match(html, /<section id="trial"/);
  assert.match(html, /<dt>Build on trial<\/dt><dd><span id="trial-version">1\.2\.0<\/span><\/dd>/);
  assert.match(html, /<dt>Falls back to<\/dt><dd>1\.1\.0<\/dd>/);
  assert.match(
    html,
    /<dt>On trial since<\/dt><dd><time[^>]*>2026-11-27 10:00:00 UTC<\/time><\/dd>/,
  );
  assert.match(html, /<dt>Launches so far<\/dt><dd>1<\/dd>/);
  assert.match(
    html,
    /<dt>Attempts left<\/dt><dd><span id="trial-attempts-left">2<\/span> of 3<\/dd>/,
  );
  assert.match(html, /<dt>note<\/dt><dd>&lt;x&gt;<\/dd>/);
  assert.match(
    html,
    /action="\/api\/confirm\?token=tok"><button type="submit" id="confirm-build">Confirm this build<\/button>/,
  );
  assert.doesNotMatch(renderPage(view()), /id="trial"/, "no trial section without a trial");
  const nullTrial = { ...status(), trial: null } as StatusDocument;
  assert.doesNotMatch(renderPage(view({ status: nullTrial })), /id="trial"/, "nor with trial null");
});

Deno.test("renderPage disables the actions while one runs and shows which", () => {
  const html = renderPage(view({
    busy: { action: "update", started_at: "2026-11-27T10:00:00.000Z" },
    progress: progressReport({ phase: "download", done: 50, total: 100 }, {
      action: "update",
      elapsedMs: 1000,
    }),
  }));
  assert.match(html, /<button type="submit" id="check-now" disabled>Check now<\/button>/);
  assert.match(html, /<p id="busy">Running: update \(since <time/);
  assert.match(html, /<progress id="progress-bar" max="100" value="50"/);
  assert.match(html, /Downloading 50 B \/ 100 B \(50%\), 50 B\/s, ETA 1s/);
});

Deno.test("renderPage: the audit log newest first, the token on every form and link", () => {
  const html = renderPage(view({
    status: status({
      recent_events: [
        { at: "2026-11-27T09:00:00.000Z", event: "checked", reason: "first", channel: "stable" },
        {
          at: "2026-11-27T10:00:00.000Z",
          event: "rolled_back",
          reason: "second",
          from: "1.1.0",
          to: "1.0.0",
        },
      ],
    }),
    token: "a&b",
  }));
  const second = html.indexOf(">rolled_back<");
  const first = html.indexOf(">checked<");
  assert.ok(second > 0 && first > second, "newest first");
  assert.ok(html.includes('<div class="muted">from: 1.1.0, to: 1.0.0</div>'));
  assert.ok(html.includes('data-token="a&amp;b"'));
  for (const m of html.matchAll(/(?:action|href)="([^"]+)"/g)) {
    assert.ok(m[1].endsWith("?token=a%26b"), m[1]);
  }
});

const APP_JS = new URL("../dashboard/browser/app.js", import.meta.url);

Deno.test("renderPage inlines dashboard/browser/app.js as it is, once, under the nonce", async () => {
  const file = await Deno.readTextFile(APP_JS);
  const html = renderPage(view({ nonce: "n0Nce_-9", token: "T0k3n-x" }));
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  assert.equal(scripts.length, 1, "one script element");
  const [, attributes, text] = scripts[0];
  assert.equal(attributes, ' nonce="n0Nce_-9"');
  assert.equal(text, escapeScript(file));
  // The file has nothing to escape today, so the page carries it byte for byte.
  assert.equal(text, file, "dashboard/browser/app.js, unchanged");
  assert.ok(file.startsWith("// @ts-check\n"), "the file is type-checked");
  // The script's input reaches it as HTML, never spliced into its code.
  assert.ok(!text.includes("n0Nce_-9") && !text.includes("T0k3n-x"));
  assert.match(html, /<body data-token="T0k3n-x">/);
});

Deno.test("escapeScript: the text cannot end its <script> element, and runs the same", () => {
  const source = [
    'const s = ["</script>", "</SCRIPT >", "<script>", "<!-- x -->", `</sCrIpT ${1}`];',
    'const r = [/<!--/u.test("<!--"), /<\\/script/i.test("</Script"), /a<b/.test("a<b")];',
    "// a comment with </script> in it",
    "return [...s, ...r, 1 < 2, 1 <= 2];",
  ].join("\n");
  const escaped = escapeScript(source);
  assert.doesNotMatch(escaped, /<!--|<\/?script/i);
  assert.ok(escaped.includes("a<b") && escaped.includes("1 < 2"), "other < stay");
  const run = (code: string) => new Function(code)();
  assert.deepEqual(run(escaped), run(source));
  assert.deepEqual(run(source), [
    "</script>",
    "</SCRIPT >",
    "<script>",
    "<!-- x -->",
    "</sCrIpT 1",
    true,
    true,
    true,
    true,
    true,
  ]);
  assert.equal(escapeScript("x < y"), "x < y");
});

Deno.test("progressReport: percent, rate, ETA and text", () => {
  assert.deepEqual(
    progressReport({ phase: "download", done: 1048576, total: 4194304 }, {
      action: "update",
      elapsedMs: 500,
    }),
    {
      action: "update",
      phase: "download",
      done: 1048576,
      total: 4194304,
      percent: 25,
      rate: 2097152,
      eta_seconds: 1.5,
      text: "Downloading 1.0 MiB / 4.0 MiB (25%), 2.0 MiB/s, ETA 2s",
    },
  );
  const finished = progressReport({ phase: "download", done: 10, total: 10 }, {
    action: "update",
    elapsedMs: 1000,
  });
  assert.equal(finished.text, "Downloading 10 B / 10 B (100%), 10 B/s");
  const unknown = progressReport({ phase: "download", done: 0, total: null }, {
    action: "update",
    elapsedMs: 0,
  });
  assert.deepEqual([unknown.percent, unknown.rate, unknown.eta_seconds, unknown.text], [
    null,
    null,
    null,
    "Downloading 0 B",
  ]);
  const steps = progressReport({ phase: "rollback", done: 1, total: 1 }, {
    action: "rollback",
    elapsedMs: 3,
  });
  assert.equal(steps.text, "Rolling back 1 / 1 (100%)");
  assert.equal(
    progressReport({ phase: "stage", done: 0, total: 0 }, { action: "x", elapsedMs: 0 }).percent,
    100,
  );
});

Deno.test("formatBytes picks the unit", () => {
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1048576, 150 * 1073741824].map(formatBytes), [
    "0 B",
    "1023 B",
    "1.0 KiB",
    "1.5 KiB",
    "10.0 MiB",
    "150 GiB",
  ]);
});
