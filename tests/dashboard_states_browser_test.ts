// The dashboard's states in a real browser (Debian's chromium, headless, playwright-core): the
// page is driven through on trial, healthy, update ready, rolled back (automatically) and a
// failing check, asserting what the status header says in each; the timeline is checked entry by
// entry against the audit log; each state is kept as screenshots at phone (390 px) and desktop
// (1200 px) width, light and dark, in .artifacts/ (git-ignored); axe-core checks the DOM (labels,
// roles, text contrast) in both colour schemes, and the status colours' marks are checked for
// 3:1 contrast. Keyboard-only use: the trial is confirmed with Tab and Enter.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import axe from "axe-core";
import { type Browser, chromium, type Page } from "playwright-core";
import { type AuditEntry, readAudit } from "../lib/root/audit.ts";
import { applyStaged } from "../lib/root/swap.ts";
import { type DashboardWorld, dashboardWorld } from "./_dashboard.ts";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
const ARTIFACTS = new URL("../.artifacts/", import.meta.url).pathname;
// A phone, the width that once cut through the backups table, a desktop.
const WIDTHS = [390, 900, 1200] as const;
const SCHEMES = ["light", "dark"] as const;

// Functions run in the page are serialized by playwright; the test is not type-checked against
// the DOM, so they reach the page's globals through `globalThis as PageGlobals`.
// deno-lint-ignore no-explicit-any
type PageGlobals = any;

async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

async function text(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? "").replace(/\s+/g, " ").trim();
}

/** What the status header says: its state, tone, title, and the ids of its buttons. */
async function header(page: Page) {
  return await page.evaluate(() => {
    const d = (globalThis as PageGlobals).document;
    const s = d.getElementById("status");
    return {
      state: s.dataset.state as string,
      tone: [...s.classList].find((c: string) => c.startsWith("tone-")) as string,
      title: d.getElementById("status-title").textContent as string,
      detail: d.getElementById("status-detail").textContent as string,
      next: d.getElementById("status-next").textContent as string,
      buttons: [...s.querySelectorAll("button")].map((b: PageGlobals) => b.id) as string[],
    };
  });
}

/** The timeline as the page lists it (oldest first) and draws it. */
async function timeline(page: Page) {
  return await page.evaluate(() => {
    const d = (globalThis as PageGlobals).document;
    const pick = (e: PageGlobals) => ({
      kind: e.dataset.kind,
      version: e.dataset.version,
      at: e.dataset.at,
      automatic: e.dataset.automatic === "true",
    });
    return {
      list: [...d.querySelectorAll("#timeline-list > li")].reverse().map((li: PageGlobals) => ({
        ...pick(li),
        n: Number(li.getAttribute("value")),
        text: li.textContent.replace(/\s+/g, " ").trim(),
      })),
      drawn: [...d.querySelectorAll("#timeline-svg g.entry")].map((g: PageGlobals) => ({
        ...pick(g),
        n: Number(g.dataset.n),
      })),
    };
  });
}

/**
 * The timeline the audit log implies, read straight from its entries: a swap is an install
 * (nothing before) or an update, or a rollback (`automatic` as the log says); a confirmation.
 */
function expectedTimeline(log: AuditEntry[]) {
  const out: { kind: string; version: string; at: string; automatic: boolean }[] = [];
  for (const e of log) {
    if (e.event === "applied") {
      out.push({
        kind: e.from === null ? "installed" : "updated",
        version: String(e.to),
        at: e.at,
        automatic: false,
      });
    } else if (e.event === "rolled_back") {
      out.push({ kind: "rolled_back", version: String(e.to), at: e.at, automatic: !!e.automatic });
    } else if (e.event === "confirmed") {
      out.push({ kind: "confirmed", version: String(e.version), at: e.at, automatic: false });
    } else if ((e.event === "refused" || e.event === "artifact_refused") && e.bad === true) {
      out.push({ kind: "rejected", version: String(e.version), at: e.at, automatic: true });
    }
  }
  return out;
}

async function checkTimeline(page: Page, d: DashboardWorld): Promise<void> {
  const log = await readAudit(d.layout);
  const expected = expectedTimeline(log);
  const shown = await timeline(page);
  assert.deepEqual(
    shown.list.map(({ kind, version, at, automatic }) => ({ kind, version, at, automatic })),
    expected,
  );
  assert.deepEqual(shown.list.map((x) => x.n), expected.map((_, i) => i + 1));
  assert.deepEqual(shown.drawn, shown.list.map(({ text: _, ...x }) => x), "drawn as listed");
}

/** Relative luminance contrast of two CSS colours (`rgb(r, g, b)`). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * The checks of one state in one colour scheme and width: nothing wider than the window, axe's
 * rules (labels, roles, names, contrast) pass, the tones' lines and marks stand out 3:1 from the
 * page and from their own background; and a screenshot.
 */
async function inspect(page: Page, name: string): Promise<void> {
  for (const scheme of SCHEMES) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      const sizes = await page.evaluate(() => {
        const w = globalThis as PageGlobals;
        return [w.document.documentElement.scrollWidth, w.innerWidth];
      });
      assert.ok(sizes[0] <= sizes[1], `${name} ${scheme} ${width}px: scrolls sideways (${sizes})`);
      await page.screenshot({
        path: `${ARTIFACTS}dashboard-${name}-${width}-${scheme}.png`,
        fullPage: true,
      });
    }
    await page.evaluate(axe.source);
    const result = await page.evaluate(async () => {
      const w = globalThis as PageGlobals;
      const r = await w.axe.run(w.document, {
        runOnly: {
          type: "tag",
          values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
        },
        rules: { "color-contrast": { enabled: true } },
      });
      return {
        violations: r.violations.map((v: PageGlobals) =>
          `${v.id}: ${v.help} (${v.nodes.map((n: PageGlobals) => n.target.join(" ")).join(", ")})`
        ),
        passes: r.passes.map((v: PageGlobals) => v.id),
      };
    });
    assert.deepEqual(result.violations, [], `${name} ${scheme}`);
    // The rules that matter here did run, and found something to check.
    const rules = [
      "color-contrast",
      "button-name",
      "svg-img-alt",
      "list",
      "aria-allowed-attr",
      "heading-order",
      "region",
      "landmark-one-main",
    ];
    for (const rule of rules) {
      assert.ok(result.passes.includes(rule), `${name} ${scheme}: axe ran ${rule}`);
    }
    // The status colours' lines and marks: 3:1 against the page and against the tone's own
    // background (WCAG 1.4.11, non-text contrast).
    const tones = await page.evaluate(() => {
      const w = globalThis as PageGlobals;
      const probe = w.document.createElement("span");
      w.document.body.append(probe);
      const colour = (v: string) => {
        probe.style.color = `var(${v})`;
        return w.getComputedStyle(probe).color as string;
      };
      const out: Record<string, string[]> = {};
      for (const t of ["good", "info", "warn", "bad", "neutral"]) {
        out[t] = [colour(`--${t}-line`), colour(`--${t}-bg`), colour(`--${t}-fg`)];
      }
      out.page = [colour("--bg")];
      probe.remove();
      return out;
    });
    for (const t of ["good", "info", "warn", "bad", "neutral"]) {
      const [line, bg, fg] = tones[t];
      assert.ok(contrast(line, tones.page[0]) >= 3, `${scheme} ${t} line on the page`);
      assert.ok(contrast(line, bg) >= 3, `${scheme} ${t} line on its background`);
      assert.ok(contrast(fg, bg) >= 4.5, `${scheme} ${t} text on its background`);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1200, height: 900 });
}

Deno.test({
  name:
    `dashboard states in headless chromium: header, timeline against the audit log, widths, accessibility${
      present ? "" : ` (ignored: ${CHROMIUM} is absent)`
    }`,
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  timeout: 240_000,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await using d = await dashboardWorld();
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => {
        // Failed requests are counted below, by their answers.
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          problems.push(m.text());
        }
      });
      // Answers that are errors, but for the failing check's 500 at the end (the page names its
      // icon inline, so the browser asks for no /favicon.ico, which would be a 401).
      const refused: string[] = [];
      page.on("response", (r) => {
        const path = new URL(r.url()).pathname;
        if (r.status() >= 400) refused.push(`${r.status()} ${path}`);
      });
      const external: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(d.dashboard.origin)) external.push(r.url());
      });
      const load = async () => {
        await page.goto(d.dashboard.url);
        await page.waitForSelector("body[data-live=yes]");
      };
      /** Wait until the header is in `state` (the page refreshes itself after an action). */
      const until = (state: string) =>
        page.waitForSelector(`#status[data-state="${state}"]`, { timeout: 30_000 });

      // 1. On trial: 1.1.0 was swapped in over 1.0.0 and not confirmed yet.
      await load();
      let h = await header(page);
      assert.deepEqual([h.state, h.tone, h.title], [
        "trial",
        "tone-warn",
        "On trial: launch 1 of 3",
      ]);
      assert.match(h.detail, /1\.1\.0 became current .*, replacing 1\.0\.0/);
      assert.match(
        h.detail,
        /If it is not confirmed by launch 3, the launcher rolls back to 1\.0\.0/,
      );
      assert.deepEqual(h.buttons, ["next-confirm", "next-rollback"]);
      assert.equal(await text(page, "#next-confirm"), "Confirm 1.1.0 works");
      assert.equal(await text(page, "#next-rollback"), "Roll back to 1.0.0");
      assert.match(await text(page, "#build-current"), /on trial/);
      await checkTimeline(page, d);
      await inspect(page, "trial");

      // Keyboard only: the first Tab reaches the suggested action; Enter confirms.
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() => (globalThis as PageGlobals).document.activeElement.id),
        "next-confirm",
      );
      await page.keyboard.press("Enter");

      // 2. Healthy: confirmed, nothing newer.
      await until("healthy");
      assert.equal(
        await page.evaluate(() => (globalThis as PageGlobals).document.activeElement.id),
        "status-title",
        "focus moves to the header when its button goes",
      );
      h = await header(page);
      assert.deepEqual([h.tone, h.title], ["tone-good", "Healthy"]);
      assert.match(h.detail, /^1\.1\.0 from stable is installed and confirmed healthy\./);
      assert.match(h.next, /Nothing to do/);
      assert.match(await text(page, "#outcome"), /^Done: Confirmed 1\.1\.0 after 1 launch/);
      assert.match(await text(page, "#build-current"), /confirmed healthy/);
      await checkTimeline(page, d);
      await inspect(page, "healthy");

      // 3. Update ready: 1.2.0 is published, checked, downloaded and staged from the header.
      await d.world.publish("stable", "1.2.0");
      await page.click("#next-check");
      await until("available");
      assert.equal((await header(page)).title, "Update available: 1.2.0");
      await page.click("#next-update");
      await until("ready");
      h = await header(page);
      assert.deepEqual([h.tone, h.title], ["tone-info", "Update ready at next launch"]);
      assert.match(h.detail, /1\.2\.0 from stable was downloaded, verified and staged/);
      assert.match(h.next, /Restart MS11 to use it/);
      assert.match(await text(page, "#outcome"), /^Done: Staged 1\.2\.0 from stable/);
      assert.match(await text(page, "#progress-text"), /100%/);
      assert.match(await text(page, "#staged-1_2_0"), /staged/);
      await inspect(page, "ready");

      // 4. Rolled back: 1.2.0 goes in at the next launch, is never confirmed, and the launcher
      // rolls back to 1.1.0 by itself after three launches.
      await applyStaged(d.layout, { maxAttempts: 3, lockWaitMs: 5000 });
      await load();
      assert.equal((await header(page)).title, "On trial: launch 1 of 3");
      for (let i = 0; i < 3; i++) await applyStaged(d.layout, { maxAttempts: 3, lockWaitMs: 5000 });
      await load();
      h = await header(page);
      const reason = "1.2.0 was not confirmed healthy after 3 launches (health.max_attempts 3)";
      assert.deepEqual([h.state, h.tone, h.title], [
        "rolled-back",
        "tone-bad",
        `Rolled back: ${reason}`,
      ]);
      assert.match(h.detail, /^Rolled back automatically from 1\.2\.0 to 1\.1\.0 at \d{4}-/);
      assert.match(h.detail, /1\.2\.0 is rejected: updates skip it until a newer release\.$/);
      assert.match(
        await text(page, "#rejected-1_2_0"),
        new RegExp(reason.replace(/[().]/g, "\\$&")),
      );
      assert.match(await text(page, "#backup-1_2_0"), /rejected/);
      await checkTimeline(page, d);
      const { list } = await timeline(page);
      const back = list.at(-1)!;
      assert.deepEqual([back.kind, back.automatic], ["rolled_back", true]);
      assert.equal(
        back.text,
        `Automatic rollback 1.2.0 → 1.1.0 ${
          back.at.replace("T", " ").replace(/\.\d+Z$/, " UTC")
        }Why: ${reason}`,
      );
      await inspect(page, "rolled-back");

      // A newer release is out: the header offers it; staged, it fails its smoke test at the
      // next launch and is rejected, not applied.
      await d.world.publish("stable", "1.3.0");
      await load();
      assert.equal(await text(page, "#next-update"), "Download and stage 1.3.0");
      await page.click("#next-update");
      await until("ready");
      const smoke = { executable: "no-such-file", args: [], timeoutMs: 10_000 };
      const launch = await applyStaged(d.layout, { maxAttempts: 3, lockWaitMs: 5000, smoke });
      assert.deepEqual([launch.applied, launch.refused?.version], [false, "1.3.0"]);
      await load();
      h = await header(page);
      assert.deepEqual([h.state, h.buttons], ["rolled-back", ["next-check"]]);
      await checkTimeline(page, d);
      const rejectedEntry = (await timeline(page)).list.at(-1)!;
      assert.deepEqual([rejectedEntry.kind, rejectedEntry.version], ["rejected", "1.3.0"]);
      assert.match(
        rejectedEntry.text,
        /^Rejected 1\.3\.0 .*Why: smoke test no-such-file could not start/,
      );
      assert.match(await text(page, "#rejected-1_3_0"), /smoke test no-such-file could not start/);
      assert.match(
        await text(page, "#channel-stable .compare"),
        /^Rejected on this install, skipped: /,
      );

      // 5. Failing check: the channel's server loses its files.
      await Deno.rename(`${d.world.tree}/stable`, `${d.world.tree}/stable.gone`);
      await page.click("#next-check");
      await until("failing");
      h = await header(page);
      assert.equal(h.tone, "tone-bad");
      assert.match(h.title, /^Check failing since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
      assert.match(h.detail, /1 failed attempt, the last .*: Fetch .*404/);
      assert.match(h.detail, /1\.1\.0 is still installed and runs as before/);
      assert.deepEqual(h.buttons, ["next-check"]);
      assert.equal(await text(page, "#next-check"), "Check again now");
      assert.match(await text(page, "#outcome"), /^Failed while checking: Fetch .*404/);
      await inspect(page, "failing");

      assert.deepEqual(external, [], "no request leaves the dashboard");
      assert.deepEqual(problems, [], "no script error, no CSP violation");
      assert.deepEqual(refused, ["500 /api/check"], "only the failing check failed");
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: `dashboard in headless chromium: reduced motion stops every animation${
    present ? "" : ` (ignored: ${CHROMIUM} is absent)`
  }`,
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using d = await dashboardWorld();
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(d.dashboard.url);
      // The spinner and the waiting bar of a running action, as the page's script shows them.
      const animations = () =>
        page.evaluate(() => {
          const w = globalThis as PageGlobals;
          const spinner = w.document.createElement("span");
          spinner.className = "spinner";
          const bar = w.document.createElement("progress");
          w.document.body.append(spinner, bar);
          const names = [spinner, bar].map((e) => w.getComputedStyle(e).animationName);
          spinner.remove();
          bar.remove();
          return names;
        });
      await page.emulateMedia({ reducedMotion: "no-preference" });
      assert.deepEqual(await animations(), ["pulse", "slide"]);
      await page.emulateMedia({ reducedMotion: "reduce" });
      assert.deepEqual(await animations(), ["none", "none"]);
    } finally {
      await browser.close();
    }
  },
});
