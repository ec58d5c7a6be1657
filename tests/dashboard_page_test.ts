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
    controls: null,
    current_yanked: null,
    trial: null,
    rejected: [],
    held: [],
    trust: { file: "/opt/ms11/trust.json", problem: null, channels: {} },
    mirror: null,
    cohort: null,
    ...extra,
  };
}

function view(extra: Partial<PageView> = {}): PageView {
  return {
    status: status(),
    channels: [],
    history: null,
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
    /<p id="progress-text" aria-live="polite">Nothing has run yet<\/p>/,
  );
  const none = renderPage(view({ status: status({ current: null }) }));
  assert.match(
    none,
    /<span id="current-version">none<\/span> \(nothing is installed in \/opt\/ms11\)/,
  );
  assert.match(none, /<title>MS11 updates: Not installed · not installed on stable<\/title>/);
  assert.match(none, /<span id="served-by">not checked yet<\/span>/);
  // The page names its icon inline, so a browser asks for no /favicon.ico (which the token
  // check would refuse, as every path without the session).
  assert.match(none, /<link rel="icon" href="data:,">/);
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
  const health = [
    ...html.matchAll(/<li class="card" id="backup-[^"]+">.*?<span class="health">([^<]*)<\/span>/g),
  ].map((m) => m[1]);
  const badges = [
    ...html.matchAll(/id="backup-[^"]+"><h3>.*?<span class="badge tone-(\w+)">.*?<\/svg>([^<]*)</g),
  ]
    .map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(badges, [
    "warn held back",
    "bad rejected",
    "good confirmed healthy",
    "neutral health unknown",
  ]);
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
  const card = (name: string) =>
    /<li class="card" id="channel-[^"]+">.*?<\/li>/s.exec(
      html.slice(html.indexOf(`<li class="card" id="channel-${name}">`)),
    )?.[0] ?? "";
  assert.match(card("stable"), /<span class="badge tone-good"><svg[^]*?<\/svg>followed<\/span>/);
  assert.match(card("stable"), /<span class="compare">Same as installed<\/span>/);
  assert.doesNotMatch(card("stable"), /<button/, "no switch button for the followed channel");
  // Each channel's risk and description, plainly.
  assert.match(card("canary"), /<p class="risk">high risk<\/p><p class="muted">Early<\/p>/);
  assert.ok(html.includes('<p class="notes">line 1\n&lt;b&gt;line 2&lt;/b&gt;</p>'));
  assert.match(card("canary"), /<span class="compare">Newer than installed<\/span>/);
  assert.match(
    card("canary"),
    /<button type="submit" id="switch-canary" class="secondary">Switch to canary<\/button>/,
  );
  assert.match(card("beta"), /<input type="hidden" name="channel" value="beta">/);
  assert.match(card("beta"), /<span class="available">unknown<\/span>/);
  assert.ok(
    card("beta").includes("Could not check: Fetch https://x/beta/manifest.json failed: HTTP 404"),
  );
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
      phase: null,
      transfer: null,
    },
  }));
  assert.match(html, /<h2 id="h-confirm">Switch to stable\?<\/h2>/);
  assert.ok(
    html.includes("stable's newest release 1.4.0 is lower than the installed 1.5.0-canary.3"),
  );
  assert.match(
    html,
    /name="downgrade" value="install"><button type="submit" id="downgrade-install" class="secondary">Switch and install 1\.4\.0 \(downgrade\)<\/button>/,
  );
  assert.match(
    html,
    /name="downgrade" value="keep"><button type="submit" id="downgrade-keep" class="secondary">Switch, keep 1\.5\.0-canary\.3 until stable catches up<\/button>/,
  );
  assert.match(
    html,
    /<p id="outcome" role="status" class="fail"><svg [^]*?<\/svg><span>Failed: asks <span class="muted">\(channel, /,
  );
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
      phase: null,
      transfer: null,
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
    /<input type="hidden" name="channel" value="canary"><input type="hidden" name="accept_risk" value="1"><button type="submit" id="accept-risk" class="secondary">Switch to canary \(high risk\)<\/button>/,
  );
  // Riskier and lower: one question, both answers carrying the consent.
  const both = renderPage(view({
    outcome: {
      action: "channel",
      ok: false,
      message: "asks",
      at: "2026-11-27T10:00:00.000Z",
      confirmation: { channel: "canary", available: "1.0.0", current: "1.1.0", risk },
      phase: null,
      transfer: null,
    },
  }));
  assert.match(both, /<section id="confirm-downgrade"/);
  assert.ok(both.includes("canary is a high-risk channel (stable is low-risk)"));
  assert.match(
    both,
    /name="downgrade" value="keep"><input type="hidden" name="accept_risk" value="1"><button type="submit" id="downgrade-keep" class="secondary">/,
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

Deno.test("renderPage: a build on trial is the header, with confirm and roll back buttons", () => {
  const trial = {
    version: "1.2.0",
    from: "1.1.0",
    started_at: "2026-11-27T10:00:00.000Z",
    attempts: 1,
    max_attempts: 3,
  };
  const html = renderPage(view({ status: status({ trial }) }));
  assert.match(html, /<section id="status" class="banner tone-warn" data-state="trial"/);
  assert.match(html, /<h2 id="status-title" tabindex="-1">On trial: launch 1 of 3<\/h2>/);
  assert.ok(html.includes(
    "<p>1.2.0 became current 2026-11-27 10:00 UTC, replacing 1.1.0, and has not been confirmed healthy yet.</p>",
  ));
  assert.ok(
    html.includes(
      "If it is not confirmed by launch 3, the launcher rolls back to 1.1.0 by itself.",
    ),
  );
  assert.match(
    html,
    /action="\/api\/confirm\?token=tok"><button type="submit" id="next-confirm" class="primary">Confirm 1\.2\.0 works<\/button>/,
  );
  assert.match(
    html,
    /<input type="hidden" name="to" value="1\.1\.0"><button type="submit" id="next-rollback" class="secondary">Roll back to 1\.1\.0<\/button>/,
  );
  assert.match(html, /<title>MS11 updates: On trial: launch 1 of 3 · 1\.1\.0 on stable<\/title>/);
  const healthy = renderPage(view());
  assert.match(healthy, /data-state="healthy"/);
  assert.doesNotMatch(healthy, /id="next-confirm"/, "no confirm button without a trial");
});

Deno.test("renderPage disables the actions while one runs and shows which", () => {
  const html = renderPage(view({
    busy: { action: "update", started_at: "2026-11-27T10:00:00.000Z" },
    progress: progressReport({ phase: "download", done: 50, total: 100 }, {
      action: "update",
      elapsedMs: 1000,
    }),
  }));
  const buttons = [...html.matchAll(/<button [^>]*>/g)].map((m) => m[0]);
  assert.ok(buttons.length >= 3, buttons.join("\n"));
  for (const b of buttons) assert.match(b, / disabled>$/);
  assert.match(
    html,
    /<p id="busy"><span class="spinner" aria-hidden="true"><\/span>Running: update \(since <time/,
  );
  assert.match(
    html,
    /<progress id="progress-bar" max="100" value="50" aria-labelledby="h-progress">/,
  );
  assert.match(html, /Downloading 50 B \/ 100 B \(50%\), 50 B\/s, ETA 1s/);
  assert.match(html, /<dd id="progress-phase">Downloading<\/dd>/);
  assert.match(html, /<dd id="progress-amount">50 B of 100 B \(50%\)<\/dd>/);
  assert.match(html, /<dd id="progress-speed">50 B\/s, about 1 s left<\/dd>/);
  assert.match(html, /<p id="outcome" role="status"><\/p>/, "no outcome while running");
});

Deno.test("renderPage ends the progress in one success or failure line, never a stale bar", () => {
  const at = "2026-11-27T10:00:00.000Z";
  const full = progressReport({ phase: "download", done: 4194304, total: 4194304 }, {
    action: "update",
    elapsedMs: 2000,
  });
  const ok = renderPage(view({
    progress: full,
    outcome: {
      action: "update",
      ok: true,
      message: "Staged 1.2.0 from stable; it is applied at the next launch",
      at,
      confirmation: null,
      phase: "stage",
      transfer: "4.0 MiB at 2.0 MiB/s",
    },
  }));
  assert.match(
    ok,
    /<progress id="progress-bar" max="100" value="100" aria-labelledby="h-progress">/,
  );
  assert.match(
    ok,
    /<p id="outcome" role="status" class="ok"><svg [^]*?<\/svg><span>Done: Staged 1\.2\.0 from stable; it is applied at the next launch \(downloaded 4\.0 MiB at 2\.0 MiB\/s\) <span class="muted">\(update, <time/,
  );
  assert.match(ok, /<dl class="facts" id="progress-facts" hidden>/, "the outcome says it");
  // A failed rollback: no "Rolling back 0 / 1 (0%)" left behind, the bar is gone.
  const failed = renderPage(view({
    progress: progressReport({ phase: "rollback", done: 0, total: 1 }, {
      action: "rollback",
      elapsedMs: 5,
    }),
    outcome: {
      action: "rollback",
      ok: false,
      message: "No backup 0.9.0 to roll back to",
      at,
      confirmation: null,
      phase: "rollback",
      transfer: null,
    },
  }));
  assert.doesNotMatch(failed, /0 \/ 1 \(0%\)|0 of 1 step/);
  assert.match(failed, /<progress id="progress-bar" max="100" value="100"[^>]* hidden>/);
  assert.match(failed, /<dl class="facts" id="progress-facts" hidden>/);
  assert.match(failed, /<p id="progress-text" aria-live="polite">Stopped while rolling back<\/p>/);
  assert.match(
    failed,
    /class="fail"><svg [^]*?<\/svg><span>Failed while rolling back: No backup 0\.9\.0 to roll back to </,
  );
  // A download that failed names how far it got.
  const cut = renderPage(view({
    progress: progressReport({ phase: "download", done: 1048576, total: 4194304 }, {
      action: "update",
      elapsedMs: 1000,
    }),
    outcome: {
      action: "update",
      ok: false,
      message: "Connection reset",
      at,
      confirmation: null,
      phase: "download",
      transfer: null,
    },
  }));
  assert.match(
    cut,
    /<p id="progress-text" aria-live="polite">Stopped while downloading at 1\.0 MiB of 4\.0 MiB \(25%\)<\/p>/,
  );
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
  // Every form and link to the dashboard carries the token (the inline icon asks for nothing).
  for (const m of html.matchAll(/(?:action|href)="([^"]+)"/g)) {
    if (m[1] === "data:,") continue;
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
      label: "Downloading",
      amount: "1.0 MiB of 4.0 MiB (25%)",
      speed: "2.0 MiB/s, about 2 s left",
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

Deno.test("renderPage: the installed release is the same as installed, whatever skips it", () => {
  const channel = (name: string, version: string, reason: "held" | "rejected") => ({
    name,
    description: name,
    risk: "low" as const,
    configured: name === "stable",
    available: { version, released_at: "2026-11-20T10:00:00Z", notes: null, size: 9 },
    decision: { action: "none" as const, reason, message: `${version} is skipped` },
    error: null,
  });
  const at = "2026-11-26T10:00:00.000Z";
  const html = renderPage(view({
    status: status({
      held: [{ version: "1.2.0", channel: "canary", reason: "rolled back to 1.1.0 by hand", at }],
      rejected: [{ version: "1.3.0", channel: "beta", reason: "exited with code 3", at }],
    }),
    channels: [
      channel("stable", "1.1.0", "held"),
      channel("canary", "1.2.0", "held"),
      channel("beta", "1.3.0", "rejected"),
    ],
  }));
  const compare = [...html.matchAll(/<span class="compare">([^<]*)<\/span>/g)].map((m) => m[1]);
  assert.deepEqual(compare, [
    "Same as installed",
    "Held back (rolled back from), skipped: rolled back to 1.1.0 by hand",
    "Rejected on this install, skipped: exited with code 3",
  ]);
});

Deno.test("renderPage shows the updater: its version and form, a pending updater update, a failed trial", () => {
  const updater = {
    version: "0.1.0",
    form: "bundle" as const,
    path: "/opt/ms11/bin/main.js",
    pending: { version: "0.2.0", channel: "stable", staged_at: "2026-11-27T10:00:00.000Z" },
    previous: "0.0.9",
    refused: [],
    last: {
      event: "failed" as const,
      version: "0.1.5",
      from: "0.1.0",
      at: "2026-11-26T10:00:00.000Z",
      reason: "exited with code 70 before it started <x>",
    },
    problem: null,
  };
  const html = renderPage(view({ status: status({ updater }) }));
  assert.match(
    html,
    /<dt>Updater<\/dt><dd>ms11-update <span id="updater-version">0\.1\.0<\/span> \(bundle, <code>\/opt\/ms11\/bin\/main\.js<\/code>\); <span id="updater-pending">0\.2\.0 from stable, staged <time[^>]*>2026-11-27 10:00:00 UTC<\/time>; tried at the next launch, in place once it has started<\/span>; previous 0\.0\.9 kept; 0\.1\.5 failed its trial <time[^>]*>2026-11-26 10:00:00 UTC<\/time>: exited with code 70 before it started &lt;x&gt;<\/dd>/,
  );
  const idle = renderPage(view({
    status: status({ updater: { ...updater, pending: null, previous: null, last: null } }),
  }));
  assert.match(idle, /<span id="updater-pending">no updater update pending<\/span><\/dd>/);
  // A status without the updater's part (an older document) shows no row.
  assert.doesNotMatch(renderPage(view()), /id="updater-version"/);
});

Deno.test("renderPage shows a channel's staged rollout: the share, pause, this install's cohort and when the ramp admits it, yanked, minimum", () => {
  const html = renderPage(view({
    channels: [{
      name: "stable",
      description: "Production",
      risk: "low",
      configured: true,
      available: { version: "1.0.0", released_at: "2026-11-10T10:00:00Z", notes: null, size: 9 },
      decision: { action: "none", reason: "up-to-date", message: "same" },
      rollout: {
        newest: "1.1.0",
        offered: "previous",
        in_cohort: false,
        share_basis_points: 1000,
        paused: true,
        yanked: ["1.0.5"],
        minimum_version: "0.9.0",
        reason: "outside the cohort (10%, <paused>)",
        admits_at: "2026-11-22T10:00:00.000Z",
      },
      error: null,
    }],
  }));
  assert.ok(
    html.includes(
      '<p class="rollout muted">Staged rollout of 1.1.0: 10% of installs, paused; this install is not in the cohort yet: it is offered 1.0.0 (outside the cohort (10%, &lt;paused&gt;))<br>The ramp admits this install at 2026-11-22T10:00:00.000Z<br>Yanked: 1.0.5<br>Minimum version: 0.9.0</p>',
    ),
    html,
  );
  // A channel without a rollout shows none.
  const plain = renderPage(view());
  assert.ok(!plain.includes('class="rollout'));
});
