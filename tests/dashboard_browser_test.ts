// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core. Load
// the page, check now (by keyboard), download and stage while watching the progress reach 100%,
// switch to canary, roll back, asserting what the page shows after each step; the status is
// also read with JavaScript off. A screenshot of the final state is kept in .artifacts/.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { dashboardWorld } from "./_dashboard.ts";

const CHROMIUM = "/usr/bin/chromium";
const present = existsSync(CHROMIUM);
if (!present) {
  console.warn(
    `dashboard browser test skipped: ${CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)`,
  );
}
const ARTIFACTS = new URL("../.artifacts/", import.meta.url).pathname;

async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
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
  return ((await page.textContent(selector)) ?? "").trim();
}

// Functions run in the page. They are serialized by playwright; the test is not type-checked
// against the DOM, so they reach the page's globals through `globalThis as PageGlobals`.
// deno-lint-ignore no-explicit-any
type PageGlobals = any;

/** Wait until `selector`'s text matches. */
async function waitText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    ([s, source, flags]) =>
      new RegExp(source, flags).test(
        (globalThis as PageGlobals).document.querySelector(s)?.textContent ?? "",
      ),
    [selector, pattern.source, pattern.flags] as const,
  );
}

Deno.test({
  name: `dashboard in headless chromium: check, download with progress, switch, roll back${
    present ? "" : ` (ignored: ${CHROMIUM} is absent)`
  }`,
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using d = await dashboardWorld();
    const artifact = `${d.world.dir}/big-1.2.0`;
    await Deno.writeTextFile(
      artifact,
      `#!/bin/sh\necho "MS11 1.2.0"\n#${"x".repeat(4 * 1024 * 1024)}\n`,
      { mode: 0o755 },
    );
    await d.world.publish("stable", "1.2.0", { artifact, notes: "Stable fixes" });
    await d.world.publish("canary", "1.3.0-canary.1", { notes: "New <renderer>" });
    const browser = await launchBrowser();
    try {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      const page = await context.newPage();
      const external: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith(d.dashboard.origin)) external.push(r.url());
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));

      // Load: the installed state, both channels with notes, the backup.
      await page.goto(d.dashboard.url);
      await page.waitForSelector("body[data-live=yes]");
      assert.equal(await text(page, "#current-version"), "1.1.0");
      assert.equal(await text(page, "#channel"), "stable");
      assert.equal(await text(page, "#staged"), "none");
      assert.match(await text(page, "#channel-stable .available"), /^1\.2\.0/);
      assert.match(await text(page, "#channel-canary .available"), /^1\.3\.0-canary\.1/);
      await page.click("#channel-canary summary");
      assert.equal(await text(page, "#channel-canary .notes"), "New <renderer>");
      assert.match(
        await text(page, "#backup-1_0_0"),
        /^1\.0\.0\s*confirmed healthy\s*Backup\s*Health\s*confirmed healthy\s*Channel\s*stable/,
      );

      // Record every progress line and bar value the page shows from now on.
      await page.evaluate(() => {
        const w = globalThis as PageGlobals;
        const seen: string[] = [];
        w.seen = seen;
        const note = () => {
          const bar = w.document.getElementById("progress-bar");
          const line = `${bar?.value ?? ""}|${
            w.document.getElementById("progress-text")?.textContent
          }`;
          if (seen.at(-1) !== line) seen.push(line);
        };
        new w.MutationObserver(note).observe(w.document.body, {
          subtree: true,
          childList: true,
          characterData: true,
          attributes: true,
        });
      });
      const seen = () => page.evaluate((): string[] => (globalThis as PageGlobals).seen);

      // Check now, by keyboard.
      await page.focus("#check-now");
      await page.keyboard.press("Enter");
      await waitText(page, "#last-check", /1\.2\.0 available \(update\)/);
      await waitText(page, "#outcome", /Update available: 1\.1\.0 -> 1\.2\.0 on stable/);
      assert.ok((await seen()).includes("100|Checking 1 / 1 (100%)"), (await seen()).join("\n"));
      assert.equal(await text(page, "#staged"), "none");

      // Download and stage: progress reaches 100% live.
      await page.click("#download-stage");
      await waitText(page, "#staged", /^1\.2\.0 from stable/);
      const lines = await seen();
      assert.ok(
        lines.some((l) => /^100\|Downloading 4\.0 MiB \/ 4\.0 MiB \(100%\)/.test(l)),
        lines.join("\n"),
      );
      assert.equal(
        await page.evaluate(() =>
          (globalThis as PageGlobals).document.getElementById("progress-bar").value
        ),
        100,
      );
      assert.match(
        await text(page, "#outcome"),
        /Staged 1\.2\.0 from stable \(1\.1\.0 -> 1\.2\.0; downloaded and verified [\d.]+ MiB\); it is applied at the next launch/,
      );
      assert.equal(await text(page, "#current-version"), "1.1.0");

      // Switch to canary (newer than installed: no question asked).
      await page.click("#switch-canary");
      await waitText(page, "#channel", /^canary$/);
      assert.match(await text(page, "#outcome"), /Switched channel stable -> canary/);
      assert.match(await text(page, "#channel-canary"), /followed/);
      assert.equal(JSON.parse(await Deno.readTextFile(d.world.configPath)).channel, "canary");

      // Roll back to the chosen backup: the staged build is cancelled.
      await page.click("#rollback-1_0_0");
      await waitText(page, "#current-version", /^1\.0\.0$/);
      assert.equal(await text(page, "#staged"), "none");
      assert.match(
        await text(page, "#outcome"),
        /Rolled back 1\.1\.0 -> 1\.0\.0; updates skip 1\.1\.0 until a newer release; cancelled the staged 1\.2\.0/,
      );
      assert.match(await text(page, "#backup-1_1_0"), /^1\.1\.0/);
      assert.match(await text(page, "#events"), /rolled_back\s*rolled back from the dashboard/);
      assert.deepEqual(external, [], "no request leaves the dashboard");
      assert.deepEqual(errors, []);

      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}dashboard-final.png`, fullPage: true });

      // A narrow window: nothing wider than the viewport.
      await page.setViewportSize({ width: 360, height: 800 });
      assert.ok(
        await page.evaluate(() =>
          (globalThis as PageGlobals).document.documentElement.scrollWidth <=
            (globalThis as PageGlobals).innerWidth
        ),
        "no horizontal scrolling at 360px",
      );
      await page.screenshot({ path: `${ARTIFACTS}dashboard-narrow.png`, fullPage: true });

      // Without JavaScript the status is all there.
      const plain = await browser.newContext({ javaScriptEnabled: false });
      const still = await plain.newPage();
      await still.goto(d.dashboard.url);
      assert.equal(await text(still, "#current-version"), "1.0.0");
      assert.equal(await text(still, "#channel"), "canary");
      await plain.close();
      await context.close();
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: `dashboard in headless chromium: a downgrading channel switch asks first${
    present ? "" : ` (ignored: ${CHROMIUM} is absent)`
  }`,
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using d = await dashboardWorld();
    await d.world.publish("canary", "1.0.5");
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(d.dashboard.url);
      await page.waitForSelector("body[data-live=yes]");
      assert.match(
        await text(page, "#channel-canary"),
        /Lower than installed \(switching asks first\)/,
      );
      await page.click("#switch-canary");
      await page.waitForSelector("#confirm-downgrade");
      assert.match(
        await text(page, "#confirm-downgrade"),
        /canary's newest release 1\.0\.5 is lower than the installed 1\.1\.0/,
      );
      assert.equal(await text(page, "#channel"), "stable", "nothing switched yet");
      await page.focus("#downgrade-keep");
      await page.keyboard.press("Enter");
      await waitText(page, "#channel", /^canary$/);
      assert.match(
        await text(page, "#outcome"),
        /Switched channel stable -> canary; keeping 1\.1\.0 until canary catches up/,
      );
      assert.equal(await page.$("#confirm-downgrade"), null, "the question is gone");
      assert.equal(await text(page, "#current-version"), "1.1.0");
      assert.equal(await text(page, "#staged"), "none");
    } finally {
      await browser.close();
    }
  },
});

Deno.test({
  name: `dashboard in headless chromium: the one-time link of --open becomes a session cookie${
    present ? "" : ` (ignored: ${CHROMIUM} is absent)`
  }`,
  ignore: !present,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using d = await dashboardWorld();
    await d.world.publish("stable", "1.2.0");
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const link = d.dashboard.openUrl();
      assert.ok(!link.includes(d.dashboard.token));
      // As a browser started by xdg-open: the link, then the page at / with the cookie.
      const landed = await page.goto(link);
      assert.equal(landed?.status(), 200);
      assert.equal(page.url(), `${d.dashboard.origin}/`);
      await page.waitForSelector("body[data-live=yes]");
      assert.equal(await text(page, "#current-version"), "1.1.0");
      // The cookie is HttpOnly (the page's scripts cannot read it) and SameSite=Strict.
      assert.equal(await page.evaluate(() => (globalThis as PageGlobals).document.cookie), "");
      const [cookie] = await page.context().cookies();
      assert.deepEqual([cookie.name, cookie.httpOnly, cookie.sameSite], [
        "ms11_session",
        true,
        "Strict",
      ]);
      // Actions work.
      await page.focus("#check-now");
      await page.keyboard.press("Enter");
      await waitText(page, "#outcome", /Update available: 1\.1\.0 -> 1\.2\.0 on stable/);
      // The link cannot be used again, even by the same browser; the session it opened ends.
      const again = await page.goto(link);
      assert.equal(again?.status(), 410);
      const after = await page.goto(`${d.dashboard.origin}/`);
      assert.equal(after?.status(), 401);
    } finally {
      await browser.close();
    }
  },
});
