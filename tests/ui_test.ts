// The CLI's output: byte and duration formats, the progress line, and when the bar is drawn.
import assert from "node:assert/strict";
import { formatBytes, formatDuration, progressLine, Ui } from "../cli/_ui.ts";

class FakeStderr {
  text = "";
  constructor(readonly tty: boolean) {}
  writeSync(p: Uint8Array): number {
    this.text += new TextDecoder().decode(p);
    return p.length;
  }
  isTerminal(): boolean {
    return this.tty;
  }
}

Deno.test("formatBytes and formatDuration give short human forms", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(48 * 1024 * 1024), "48.0 MiB");
  assert.equal(formatBytes(200 * 1024 ** 3), "200 GiB");
  assert.equal(formatDuration(42.4), "42s");
  assert.equal(formatDuration(185), "3m05s");
  assert.equal(formatDuration(3720), "1h02m");
  assert.equal(formatDuration(Infinity), "--");
});

Deno.test("the progress line shows bytes, rate and ETA within the width", () => {
  const line = progressLine(
    { phase: "download", done: 25 * 1024 * 1024, total: 100 * 1024 * 1024 },
    5000,
    100,
  );
  assert.equal(
    line,
    "Downloading [########----------------------]  25.0 MiB / 100 MiB  5.0 MiB/s  ETA 15s",
  );
  const narrow = progressLine({ phase: "download", done: 1, total: 2 }, 1000, 30);
  assert.ok(narrow.length <= 30, narrow);
  const unknown = progressLine({ phase: "download", done: 2048, total: null }, 1000, 80);
  assert.equal(unknown, "Downloading   2.0 KiB  2.0 KiB/s");
  const done = progressLine({ phase: "download", done: 10, total: 10 }, 1000, 80);
  assert.ok(!done.includes("ETA"), done);
});

Deno.test("the bar is drawn on a terminal and finished with a newline", () => {
  const tty = new FakeStderr(true);
  const ui = new Ui({ stderr: tty });
  const sink = ui.progress();
  sink({ phase: "download", done: 0, total: 100 });
  sink({ phase: "download", done: 100, total: 100 });
  ui.notice("Downloaded");
  assert.ok(tty.text.startsWith("\r\x1b[2KDownloading [---"), JSON.stringify(tty.text));
  assert.ok(tty.text.includes("\r\x1b[2KDownloading [" + "#".repeat(30)), tty.text);
  assert.ok(tty.text.endsWith("\nDownloaded\n"), JSON.stringify(tty.text));
});

Deno.test("no bar and no escape codes when stderr is not a terminal", () => {
  const pipe = new FakeStderr(false);
  const ui = new Ui({ stderr: pipe });
  const sink = ui.progress();
  sink({ phase: "download", done: 0, total: 100 });
  sink({ phase: "download", done: 100, total: 100 });
  ui.warn("careful");
  ui.error("broken");
  assert.equal(pipe.text, "warning: careful\nerror: broken\n");
});
