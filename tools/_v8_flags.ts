// The V8 flags the executable is compiled with, read from `deno task compile` in deno.json, so
// that the demo, the benches and the tests run the CLI as it ships (docs/PERFORMANCE.md, "Peak
// memory"), and a change of flags is made in one place.
const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

/** `["--v8-flags=…"]` as in the compile task, or `[]` when it has none. */
export const SHIPPED_V8_FLAGS: string[] = String(denoJson.tasks?.compile ?? "")
  .match(/--v8-flags=\S+/g) ?? [];
