// Private to dashboard/page.ts: the install's timeline as a picture — an inline SVG drawn from the
// history (lib/root/history.ts) — and, under it, the same entries as a numbered list in words.
//
// The picture has a lane per build, newest version on top: a bar where the build was current
// (hatched while it was on trial), a marker per entry whose shape says what happened (readable
// without colour: the legend names each shape), a line from the build it replaced, and the
// entry's number under the marker. Entries are spaced evenly in order, oldest on the left: the
// times are in the list. Positions are percentages of the width, so the picture fills a phone's
// width or a desktop's without scaling its text. No style attribute (the CSP allows none): the
// colours are classes of the page's stylesheet. Pure.
import type { InstallHistory, TimelineEntry, TimelineKind } from "../lib/root/history.ts";
import type { StatusDocument } from "../lib/root/status.ts";
import { compareVersions, isVersion } from "../lib/core/version.ts";
import { escapeHtml as e, timeHtml } from "./_html.ts";

/**
 * Most entries the page draws and lists; `GET /api/history` has the rest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TIMELINE_SHOWN } from "./_timeline.ts";
 * assert.equal(TIMELINE_SHOWN, 12);
 * ```
 */
export const TIMELINE_SHOWN = 12;

/** The marker of each entry: its symbol id (in the SVG's defs) and what it is in words. */
type Mark =
  | "installed"
  | "adopted"
  | "updated"
  | "rollback"
  | "auto-rollback"
  | "recovered"
  | "confirmed"
  | "rejected";

const MARK_WORDS: Record<Mark, string> = {
  installed: "installed",
  adopted: "adopted",
  updated: "updated",
  rollback: "rolled back by hand",
  "auto-rollback": "rolled back automatically",
  recovered: "interrupted swap recovered",
  confirmed: "confirmed healthy",
  rejected: "rejected",
};

const SHAPES: Record<Mark, string> = {
  installed: '<circle r="6"/>',
  adopted: '<rect x="-5.5" y="-5.5" width="11" height="11"/>',
  updated: '<path d="M0-7L6.5 5H-6.5z"/>',
  rollback: '<path class="hollow" d="M0 7L6.5-5H-6.5z"/>',
  "auto-rollback": '<path d="M0 7L6.5-5H-6.5z"/><circle class="ring" r="9.5"/>',
  recovered: '<path d="M0-7L7 0 0 7-7 0z"/>',
  confirmed: '<circle class="hollow" r="6.5"/><path class="tick" d="M-3.5 0l2.5 2.8 4.5-5.3"/>',
  rejected: '<path class="cross" d="M-5.5-5.5l11 11m0-11l-11 11"/>',
};

/**
 * The marker of a timeline entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markOf } from "./_timeline.ts";
 * const entry = { at: "2026-11-27T00:00:00Z", kind: "rolled_back" as const, version: "1.0.0",
 *   from: "1.1.0", automatic: true, changes_current: true, reason: "crashed", event: "rolled_back" };
 * assert.equal(markOf(entry), "auto-rollback");
 * assert.equal(markOf({ ...entry, automatic: false }), "rollback");
 * ```
 */
export function markOf(entry: TimelineEntry): Mark {
  const marks: Record<TimelineKind, Mark> = {
    installed: "installed",
    adopted: "adopted",
    updated: "updated",
    rolled_back: entry.automatic ? "auto-rollback" : "rollback",
    recovered: "recovered",
    confirmed: "confirmed",
    rejected: "rejected",
  };
  return marks[entry.kind];
}

/**
 * What a timeline entry says, in words: `Updated 1.0.0 → 1.1.0`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entryWords } from "./_timeline.ts";
 * const entry = { at: "2026-11-27T00:00:00Z", kind: "rolled_back" as const, version: "1.0.0",
 *   from: "1.1.0", automatic: true, changes_current: true, reason: "crashed", event: "rolled_back" };
 * assert.equal(entryWords(entry), "Automatic rollback 1.1.0 → 1.0.0");
 * ```
 */
export function entryWords(entry: TimelineEntry): string {
  const from = entry.from ?? "?";
  switch (entry.kind) {
    case "installed":
      return `Installed ${entry.version}`;
    case "adopted":
      return `Adopted ${entry.version}`;
    case "updated":
      return `Updated ${from} → ${entry.version}`;
    case "rolled_back":
      return `${
        entry.automatic ? "Automatic rollback" : "Rolled back by hand"
      } ${from} → ${entry.version}`;
    case "recovered":
      return `Recovered an interrupted swap: ${entry.version} current`;
    case "confirmed":
      return `Confirmed ${entry.version} healthy`;
    case "rejected":
      return `Rejected ${entry.version}`;
  }
}

function byVersionDescending(a: string, b: string): number {
  return isVersion(a) && isVersion(b) ? compareVersions(b, a) : b.localeCompare(a);
}

function symbol(mark: Mark): string {
  return `<g id="tl-${mark}" class="mk mk-${mark}">${SHAPES[mark]}</g>`;
}

/** A small picture of one marker, for the legend and the list (hidden from screen readers). */
function glyph(mark: Mark): string {
  return `<svg class="glyph" viewBox="-11 -11 22 22" width="20" height="20" aria-hidden="true" focusable="false"><g class="mk mk-${mark}">${
    SHAPES[mark]
  }</g></svg>`;
}

const LANE = 50;
const TOP = 6;
const LEFT = 3;
const RIGHT = 97;

function pct(value: number): string {
  return `${Math.round(value * 100) / 100}%`;
}

function laneRole(status: StatusDocument, version: string): string {
  if (status.current?.version === version) return "current";
  if (status.staged?.version === version) return "staged";
  if (status.rejected.some((r) => r.version === version)) return "rejected";
  if (status.held.some((r) => r.version === version)) return "held back";
  if (status.backups.some((b) => b.version === version)) return "backup";
  return "removed";
}

function picture(
  entries: TimelineEntry[],
  history: InstallHistory,
  status: StatusDocument,
): string {
  const n = entries.length;
  const slot = (RIGHT - LEFT) / n;
  const x = (i: number) => LEFT + (i + 0.5) * slot;
  const versions = [
    ...new Set([...entries.map((x) => x.version), ...history.spans.map((s) => s.version)]),
  ]
    .sort(byVersionDescending);
  const lane = (v: string) => versions.indexOf(v);
  const barY = (v: string) => TOP + lane(v) * LANE + 20;
  const height = TOP + versions.length * LANE + 18;
  const first = entries[0].at;
  // The x of a time that is an entry's (a swap or a confirmation): before the first entry shown,
  // the left edge; open, the right.
  const at = (time: string | null, version?: string): number => {
    if (time === null) return RIGHT;
    if (time < first) return LEFT - 1;
    const i = entries.findIndex((x) =>
      x.at === time && (version === undefined || x.version === version)
    );
    return i < 0 ? (time > entries[n - 1].at ? RIGHT : LEFT - 1) : x(i);
  };
  const parts: string[] = [];
  for (const v of versions) {
    const y = TOP + lane(v) * LANE;
    parts.push(
      `<text class="lane-label" x="${pct(LEFT)}" y="${y + 13}">${e(v)} · ${
        e(laneRole(status, v))
      }</text>`,
      `<line class="lane-line" x1="${pct(LEFT)}" x2="${pct(RIGHT)}" y1="${y + 26}" y2="${
        y + 26
      }"/>`,
    );
  }
  for (const s of history.spans) {
    if (lane(s.version) < 0) continue;
    const x1 = Math.max(0, at(s.since, s.version));
    const x2 = at(s.until);
    const y = barY(s.version);
    const current = s.until === null && status.current?.version === s.version ? " current" : "";
    const trialEnd = s.trial ? (s.confirmed_at === null ? x2 : at(s.confirmed_at, s.version)) : x1;
    if (trialEnd > x1) {
      parts.push(
        `<rect class="bar trial${current}" x="${pct(x1)}" y="${y}" width="${
          pct(trialEnd - x1)
        }" height="12" data-version="${e(s.version)}"/>`,
      );
    }
    if (x2 > trialEnd) {
      parts.push(
        `<rect class="bar${current}" x="${pct(trialEnd)}" y="${y}" width="${
          pct(x2 - trialEnd)
        }" height="12" data-version="${e(s.version)}"/>`,
      );
    }
  }
  entries.forEach((entry, i) => {
    if (entry.changes_current && entry.from !== null && lane(entry.from) >= 0) {
      const [y1, y2] = [barY(entry.from) + 6, barY(entry.version) + 6];
      parts.push(
        `<line class="link" x1="${pct(x(i))}" x2="${pct(x(i))}" y1="${y1}" y2="${
          y2 + (y2 > y1 ? -9 : 9)
        }" marker-end="url(#tl-arrow)"/>`,
      );
    }
  });
  entries.forEach((entry, i) => {
    const mark = markOf(entry);
    const y = barY(entry.version) + 6;
    parts.push(
      `<g class="entry" data-n="${i + 1}" data-kind="${entry.kind}" data-version="${
        e(entry.version)
      }" data-at="${e(entry.at)}" data-automatic="${entry.automatic}"><title>${i + 1}. ${
        e(entryWords(entry))
      }</title><use href="#tl-${mark}" x="${pct(x(i))}" y="${y}"/><text class="num" x="${
        pct(x(i))
      }" y="${y + 22}">${i + 1}</text></g>`,
    );
  });
  const last = entries[n - 1].at;
  const axisY = height - 4;
  parts.push(
    `<text class="axis" x="${pct(LEFT)}" y="${axisY}">${e(first.slice(0, 10))}</text>`,
    `<text class="axis end" x="${pct(RIGHT)}" y="${axisY}">${
      e(last.slice(0, 10) === first.slice(0, 10) ? "now" : `${last.slice(0, 10)} · now`)
    }</text>`,
  );
  const defs =
    `<defs><pattern id="tl-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect class="hatch-bg" width="6" height="6"/><line class="hatch" x1="0" y1="0" x2="0" y2="6"/></pattern>` +
    `<marker id="tl-arrow" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrow" d="M0 0L10 5 0 10z"/></marker>` +
    `${(Object.keys(SHAPES) as Mark[]).map(symbol).join("")}</defs>`;
  return `<svg id="timeline-svg" class="timeline" width="100%" height="${height}" role="img" aria-labelledby="timeline-svg-title" focusable="false">` +
    `<title id="timeline-svg-title">Which build was current when: ${n} ${
      n === 1 ? "entry" : "entries"
    }, oldest on the left, numbered as in the list below</title>${defs}${parts.join("")}</svg>`;
}

function legend(entries: TimelineEntry[]): string {
  const marks = [...new Set(entries.map(markOf))];
  const items = marks.map((m) => `<li>${glyph(m)} ${e(MARK_WORDS[m])}</li>`);
  items.push(
    `<li><svg class="glyph" viewBox="0 0 28 12" width="28" height="12" aria-hidden="true" focusable="false"><rect class="bar" width="28" height="12"/></svg> current</li>`,
  );
  if (entries.some((x) => x.kind === "updated")) {
    items.push(
      `<li><svg class="glyph" viewBox="0 0 28 12" width="28" height="12" aria-hidden="true" focusable="false"><rect class="bar trial" width="28" height="12"/></svg> on trial</li>`,
    );
  }
  return `<ul class="legend" aria-label="Legend">${items.join("")}</ul>`;
}

function item(entry: TimelineEntry, n: number): string {
  const why = entry.kind === "installed" || entry.kind === "updated"
    ? ""
    : `<div class="why">${e(entry.automatic ? "Why: " : "")}${e(entry.reason)}</div>`;
  return `<li value="${n}" id="timeline-${n}" data-kind="${entry.kind}" data-version="${
    e(entry.version)
  }" data-at="${e(entry.at)}" data-automatic="${entry.automatic}">${glyph(markOf(entry))}` +
    `<div><span class="what">${e(entryWords(entry))}</span> <span class="when">${
      timeHtml(entry.at)
    }</span>${why}</div></li>`;
}

/**
 * The timeline section: the picture, its legend, and the list (newest first, numbered as in the
 * picture); with no history, a sentence saying so.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderTimeline } from "./_timeline.ts";
 * import { historyOf } from "../lib/root/history.ts";
 * import { readStatus } from "../lib/root/status.ts";
 * import { defaultConfig } from "../lib/core/config.ts";
 * import { layoutOf } from "../lib/root/layout.ts";
 * const status = await readStatus(layoutOf("/nonexistent"), defaultConfig(), { platform: "linux-x64" });
 * const history = historyOf([{ at: "2026-11-01T00:00:00Z", event: "applied", reason: "first", from: null, to: "1.0.0" }]);
 * const html = renderTimeline(history, status);
 * assert.match(html, /<svg id="timeline-svg"[^>]* role="img"/);
 * assert.match(html, /<li value="1" id="timeline-1" data-kind="installed" data-version="1.0.0"/);
 * assert.match(renderTimeline(historyOf([]), status), /No installs, updates or rollbacks/);
 * ```
 */
export function renderTimeline(history: InstallHistory | null, status: StatusDocument): string {
  const head =
    `<section id="timeline" aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2>`;
  if (history === null) {
    return `${head}<p>The audit log could not be read.</p></section>`;
  }
  const entries = history.entries.slice(-TIMELINE_SHOWN);
  if (entries.length === 0) {
    return `${head}<p id="timeline-empty">No installs, updates or rollbacks are in the audit log yet.</p></section>`;
  }
  const left = history.earlier + history.entries.length - entries.length;
  const list = entries.map((x, i) => item(x, i + 1)).reverse().join("");
  return `${head}<figure>${picture(entries, history, status)}<figcaption>${
    legend(entries)
  }</figcaption></figure>` +
    `<ol id="timeline-list" reversed aria-label="Timeline entries, newest first">${list}</ol>` +
    (left > 0
      ? `<p class="muted" id="timeline-earlier">${left} earlier ${
        left === 1 ? "entry is" : "entries are"
      } not shown (all of them: <code>GET /api/history</code>).</p>`
      : "") +
    `</section>`;
}
