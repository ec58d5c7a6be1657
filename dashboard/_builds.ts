// Private to dashboard/page.ts: the builds — current, staged, backups (with their lifecycle state
// and a button to roll back to each), rejected and held-back builds with their reasons — and the
// channels, as cards that fit a phone's width. Pure.
import type { ChannelProbe } from "../lib/actions/channel.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import {
  escapeHtml as e,
  type FormContext,
  formHtml,
  slug,
  timeHtml,
  type Tone,
  toneIcon,
} from "./_html.ts";
import type { RejectedRecord } from "../lib/root/lifecycle.ts";
import { badgeOf, type StateBadge } from "./_lifecycle.ts";

/**
 * A badge: the tone's icon and the state in words (the card shows the reason beside it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { badgeHtml } from "./_builds.ts";
 * assert.match(badgeHtml({ word: "rejected", tone: "bad" }),
 *   /^<span class="badge tone-bad"><svg[^]*<\/svg>rejected<\/span>$/);
 * ```
 */
export function badgeHtml(badge: Pick<StateBadge, "word" | "tone">): string {
  return `<span class="badge tone-${badge.tone}">${toneIcon(badge.tone, 16)}${
    e(badge.word)
  }</span>`;
}

function facts(rows: [string, string][]): string {
  return `<dl class="facts">${
    rows.map(([k, v]) => `<div><dt>${e(k)}</dt><dd>${v}</dd></div>`).join("")
  }</dl>`;
}

function card(id: string, title: string, badge: string, body: string): string {
  return `<li class="card" id="${e(id)}"><h3><span class="version">${
    e(title)
  }</span> ${badge}</h3>${body}</li>`;
}

function skippedCard(kind: "rejected" | "held", r: RejectedRecord, tone: Tone): string {
  const word = kind === "rejected" ? "rejected" : "held back";
  return card(
    `${kind}-${slug(r.version)}`,
    r.version,
    badgeHtml({ word, tone }),
    `<p class="reason">${e(r.reason)}</p>${
      facts([["Channel", e(r.channel)], [
        kind === "rejected" ? "Rejected" : "Held",
        timeHtml(r.at),
      ]])
    }<p class="muted">Updates skip ${e(r.version)} on ${
      e(r.channel)
    } until a newer release (or <code>update --force</code>).</p>`,
  );
}

/**
 * The builds section.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderBuilds } from "./_builds.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const html = renderBuilds({ ...status, rejected: [{ version: "1.2.0", channel: "stable",
 *   reason: "exited with code 3 <early>", at: "2026-11-27T00:00:00.000Z" }] }, { token: "t", busy: false });
 * assert.match(html, /<li class="card" id="rejected-1_2_0">/);
 * assert.ok(html.includes("exited with code 3 &lt;early&gt;"));
 * assert.match(html, /<p id="no-backups">No backups\.<\/p>/);
 * ```
 */
export function renderBuilds(status: StatusDocument, ctx: FormContext): string {
  const cards: string[] = [];
  const current = status.current;
  if (current !== null) {
    const badge = badgeOf(current.lifecycle, { current: true });
    cards.push(card(
      "build-current",
      current.version,
      badgeHtml(badge),
      `<p class="role">Current build</p>${
        facts([
          ["Health", `<span class="health">${e(badge.health)}</span>`],
          ["Channel", e(current.channel ?? "unknown")],
          ["Installed", timeHtml(current.installed_at)],
        ])
      }`,
    ));
  }
  if (status.staged !== null) {
    const s = status.staged;
    cards.push(card(
      `staged-${slug(s.version)}`,
      s.version,
      badgeHtml({ word: "staged", tone: "info" }),
      `<p class="role">Applied at MS11's next start</p>${
        facts([["Channel", e(s.channel)], ["Staged", timeHtml(s.staged_at)]])
      }`,
    ));
  }
  for (const b of status.backups) {
    const badge = badgeOf(b.lifecycle);
    cards.push(card(
      `backup-${slug(b.version)}`,
      b.version,
      badgeHtml(badge),
      `<p class="role">Backup</p>${
        facts([
          ["Health", `<span class="health">${e(badge.health)}</span>`],
          ["Channel", e(b.channel ?? "unknown")],
          ["Installed", timeHtml(b.installed_at)],
          ["Last current until", b.retired_at ? timeHtml(b.retired_at) : "never ran"],
        ])
      }${
        formHtml(ctx, {
          route: "/api/rollback",
          fields: { to: b.version },
          label: `Roll back to ${b.version}`,
          id: `rollback-${slug(b.version)}`,
        })
      }`,
    ));
  }
  const rejected = status.rejected.map((r) => skippedCard("rejected", r, "bad"));
  const held = status.held.map((r) => skippedCard("held", r, "warn"));
  return `<section id="builds" aria-labelledby="h-builds"><h2 id="h-builds">Builds</h2>` +
    `<ul class="cards" aria-label="Installed builds">${cards.join("")}</ul>` +
    (status.backups.length === 0
      ? `<p id="no-backups">No backups.</p>`
      : `<p class="muted">${status.backups.length} of ${status.keep_backups} backups kept.</p>`) +
    (rejected.length === 0
      ? ""
      : `<h3 id="h-rejected">Rejected builds</h3><ul class="cards" aria-labelledby="h-rejected">${
        rejected.join("")
      }</ul>`) +
    (held.length === 0
      ? ""
      : `<h3 id="h-held">Held back</h3><ul class="cards" aria-labelledby="h-held">${
        held.join("")
      }</ul>`) +
    `</section>`;
}

/** What installing the channel's newest release would mean, against what is installed. */
function comparison(c: ChannelProbe, status: StatusDocument): string {
  if (c.error) return `Could not check: ${c.error}`;
  if (!c.decision || !c.available) return "";
  const installed = status.current?.version;
  if (c.available.version === installed) return "Same as installed";
  if (c.decision.action === "update") {
    return installed === undefined ? "Would be installed" : "Newer than installed";
  }
  const version = c.available.version;
  const why = (list: RejectedRecord[]) =>
    list.find((r) => r.version === version && r.channel === c.name)?.reason ?? c.decision!.message;
  switch (c.decision.reason) {
    case "up-to-date":
      return "Same as installed";
    case "already-staged":
      return "Already staged";
    case "downgrade-refused":
      return "Lower than installed (switching asks first)";
    case "rejected":
      return `Rejected on this install, skipped: ${why(status.rejected)}`;
    case "held":
      return `Held back (rolled back from), skipped: ${why(status.held)}`;
    case "not-offered":
      return `Not offered to this install yet: ${c.decision.message}`;
  }
}

/**
 * The channels section: a card per configured channel with its newest release, its notes, what
 * installing it would mean, and a button to follow it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderChannels } from "./_builds.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const html = renderChannels([{ name: "beta", description: "Beta", risk: "high", configured: false, available: null,
 *   decision: null, error: "HTTP 404" }], status, { token: "t", busy: false });
 * assert.match(html, /<button type="submit" id="switch-beta" class="secondary">Switch to beta<\/button>/);
 * assert.ok(html.includes("Could not check: HTTP 404"));
 * assert.ok(html.includes(`<p class="risk">high risk</p>`));
 * ```
 */
export function renderChannels(
  channels: ChannelProbe[],
  status: StatusDocument,
  ctx: FormContext,
): string {
  const items = channels.map((c) => {
    const id = slug(c.name);
    const notes = c.available?.notes
      ? `<details><summary>Release notes of ${e(c.available.version)}</summary><p class="notes">${
        e(c.available.notes)
      }</p></details>`
      : "";
    const action = c.configured ? badgeHtml({ word: "followed", tone: "good" }) : formHtml(ctx, {
      route: "/api/channel",
      fields: { channel: c.name },
      label: `Switch to ${c.name}`,
      id: `switch-${id}`,
    });
    const rollout = rolloutHtml(c);
    return `<li class="card" id="channel-${e(id)}"><h3><span class="version">${e(c.name)}</span> ${
      c.configured ? action : ""
    }</h3><p class="risk">${e(c.risk)} risk</p><p class="muted">${e(c.description)}</p>${
      facts([
        [
          "Newest release",
          `<span class="available">${
            c.available
              ? `${e(c.available.version)}, released ${timeHtml(c.available.released_at)}`
              : "unknown"
          }</span>`,
        ],
        ["Compared with installed", `<span class="compare">${e(comparison(c, status))}</span>`],
      ])
    }${notes}${rollout}${c.configured ? "" : action}</li>`;
  }).join("");
  return `<section id="channels" aria-labelledby="h-channels"><h2 id="h-channels">Channels</h2><ul class="cards" aria-labelledby="h-channels">${items}</ul></section>`;
}

/** A channel card's staged rollout: the share, pause, this install's cohort, yanked, minimum. */
function rolloutHtml(c: ChannelProbe): string {
  const r = c.rollout;
  if (r === undefined) return "";
  const offered = r.offered === "newest"
    ? `this install is offered ${r.newest}`
    : r.offered === "previous"
    ? `this install is not in the cohort yet: it is offered ${
      c.available?.version ?? "the previous release"
    }`
    : "this install is offered nothing yet";
  const lines = [
    `Staged rollout of ${r.newest}: ${r.share_basis_points / 100}% of installs${
      r.paused ? ", paused" : ""
    }; ${offered} (${r.reason})`,
    ...(r.admits_at ? [`The ramp admits this install at ${r.admits_at}`] : []),
    ...(r.yanked.length > 0 ? [`Yanked: ${r.yanked.join(", ")}`] : []),
    ...(r.minimum_version !== null ? [`Minimum version: ${r.minimum_version}`] : []),
  ];
  return `<p class="rollout muted">${lines.map(e).join("<br>")}</p>`;
}
