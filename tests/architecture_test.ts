// The import rules of the wings (docs/ARCHITECTURE.md), checked on the static import graph of the
// repository (tests/_import_graph.ts):
//
// (a) The launcher's start-up path stays light. The launcher's entry (main.ts, cli/apply.ts, and
//     lib/actions/apply.ts, which cli/apply.ts imports when there is work) and
//     every module in lib/root/ load at module load (static imports that are not type-only,
//     followed transitively; `import()` runs later and is not followed) no network, trust,
//     archive, publishing or action code, no npm, jsr or bare package, and no `node:` built-in
//     beyond an explicit list: none at all for the entry (the idle `apply` loads none today), and
//     `node:crypto` for lib/root (lib/root/seal.ts hashes builds, through lib/core/hash.ts).
// (b) lib/ never imports the front ends (cli/, dashboard/), not even for a type.
// (c) The front ends do not import each other: dashboard/ never imports cli/, and cli/ imports
//     only the dashboard's entry (its `dashboard` command starts the server).
// (d) No import cycle among modules (static imports that are not type-only).
//
// Each rule is shown to fail on a small synthetic graph, then the real tree must pass them all.
import assert from "node:assert/strict";
import {
  type Edge,
  graphOf,
  type ImportGraph,
  repositorySources,
  resolveSpecifier,
  scanImports,
} from "./_import_graph.ts";

/** What the rules allow; the real tree is checked with {@linkcode RULES}. */
interface Rules {
  /** The launcher's entry modules. */
  launcherEntry: readonly string[];
  /** Folder prefixes the launcher path never loads. */
  launcherForbidden: readonly string[];
  /** Modules inside those folders the launcher may load all the same. */
  launcherSafe: readonly string[];
  /** `node:` built-ins the launcher's entry may load. */
  entryBuiltins: readonly string[];
  /** `node:` built-ins lib/root modules may load. */
  rootBuiltins: readonly string[];
  /** Modules of dashboard/ that cli/ may import. */
  dashboardEntry: readonly string[];
}

const RULES: Rules = {
  // cli/apply.ts imports lib/actions/apply.ts only when there is work, but that path is the
  // launcher's too: it is checked as an entry of its own.
  launcherEntry: ["main.ts", "cli/apply.ts", "lib/actions/apply.ts"],
  launcherForbidden: ["lib/net/", "lib/trust/", "lib/archive/", "lib/publish/", "lib/actions/"],
  // The launcher's own actions (apply, run) import the install root only.
  launcherSafe: ["lib/actions/apply.ts"],
  // The idle `apply` loads no node: built-in (docs/ARCHITECTURE.md, "Start-up path"): keep it so.
  entryBuiltins: [],
  // lib/root/seal.ts (and lib/core/hash.ts, through it) hash with node:crypto.
  rootBuiltins: ["node:crypto"],
  dashboardEntry: ["dashboard/server.ts"],
};

/** Edges that run when their module loads. */
function loads(edge: Edge): boolean {
  return !edge.dynamic && !edge.typeOnly;
}

function show(edge: Edge): string {
  return edge.kind === "module" ? edge.to : `${edge.to} [${edge.kind}]`;
}

/** Why the launcher path must not load `edge`'s target from `start`, or null when it may. */
function launcherProblem(edge: Edge, start: string, rules: Rules): string | null {
  if (edge.kind === "module") {
    const wing = rules.launcherForbidden.find((prefix) => edge.to.startsWith(prefix));
    return wing !== undefined && !rules.launcherSafe.includes(edge.to) ? `${wing} code` : null;
  }
  if (edge.kind === "node") {
    const allowed = rules.launcherEntry.includes(start) ? rules.entryBuiltins : rules.rootBuiltins;
    return allowed.includes(edge.to)
      ? null
      : `a node: built-in other than ${allowed.join(", ") || "none"}`;
  }
  return `a package (${edge.kind})`;
}

/** Rule (a): the launcher's entry and lib/root load nothing heavy, transitively. */
function launcherViolations(graph: ImportGraph, rules: Rules): string[] {
  const starts = [
    ...rules.launcherEntry.filter((m) => graph.has(m)),
    ...[...graph.keys()].filter((m) => m.startsWith("lib/root/")).sort(),
  ];
  const found: string[] = [];
  for (const start of starts) {
    const via = new Map<string, string[]>([[start, [start]]]); // shortest chains, breadth first
    const queue = [start];
    while (queue.length > 0) {
      const module = queue.shift()!;
      for (const edge of (graph.get(module) ?? []).filter(loads)) {
        const chain = [...via.get(module)!, show(edge)];
        const problem = launcherProblem(edge, start, rules);
        if (problem !== null) {
          found.push(`(a) ${chain.join(" → ")}: the launcher path loads ${problem} at start-up`);
        } else if (edge.kind === "module" && !via.has(edge.to)) {
          via.set(edge.to, chain);
          queue.push(edge.to);
        }
      }
    }
  }
  return found;
}

/** Rules (b) and (c): which folders may import which, for every edge, type-only and dynamic too. */
function layerViolations(graph: ImportGraph, rules: Rules): string[] {
  const found: string[] = [];
  for (const edges of graph.values()) {
    for (const edge of edges.filter((e) => e.kind === "module")) {
      const [from, to] = [edge.from, edge.to];
      const where = `${from}:${edge.line} → ${to}`;
      if (from.startsWith("lib/") && (to.startsWith("cli/") || to.startsWith("dashboard/"))) {
        found.push(`(b) ${where}: lib/ never imports the front ends (cli/, dashboard/)`);
      }
      if (from.startsWith("dashboard/") && to.startsWith("cli/")) {
        found.push(`(c) ${where}: the dashboard never imports the CLI`);
      }
      if (
        from.startsWith("cli/") && to.startsWith("dashboard/") &&
        !rules.dashboardEntry.includes(to)
      ) {
        found.push(
          `(c) ${where}: the CLI imports the dashboard only through ${
            rules.dashboardEntry.join(", ")
          }`,
        );
      }
    }
  }
  return found;
}

/** Rule (d): cycles of static, not type-only imports, one chain per strongly connected part. */
function cycleViolations(graph: ImportGraph): string[] {
  const next = (m: string) =>
    (graph.get(m) ?? []).filter((e) => loads(e) && e.kind === "module" && graph.has(e.to))
      .map((e) => e.to);
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const parts: string[][] = [];
  const visit = (m: string) => {
    index.set(m, index.size);
    low.set(m, index.get(m)!);
    stack.push(m);
    onStack.add(m);
    for (const to of next(m)) {
      if (!index.has(to)) {
        visit(to);
        low.set(m, Math.min(low.get(m)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(m, Math.min(low.get(m)!, index.get(to)!));
    }
    if (low.get(m) === index.get(m)) {
      const part: string[] = [];
      let top: string;
      do {
        top = stack.pop()!;
        onStack.delete(top);
        part.push(top);
      } while (top !== m);
      if (part.length > 1 || next(m).includes(m)) parts.push(part);
    }
  };
  for (const m of [...graph.keys()].sort()) if (!index.has(m)) visit(m);
  return parts.map((part) => {
    // A shortest way from the part's first module back to itself, within the part.
    const inPart = new Set(part);
    const first = [...part].sort()[0];
    const via = new Map<string, string[]>([[first, [first]]]);
    const queue = [first];
    let cycle: string[] = [first, first];
    search: while (queue.length > 0) {
      const m = queue.shift()!;
      for (const to of next(m).filter((t) => inPart.has(t))) {
        if (to === first) {
          cycle = [...via.get(m)!, first];
          break search;
        }
        if (!via.has(to)) {
          via.set(to, [...via.get(m)!, to]);
          queue.push(to);
        }
      }
    }
    return `(d) import cycle: ${cycle.join(" → ")}`;
  });
}

/** Every violation of the rules in `graph`, each naming the offending chain or edge. */
function checkArchitecture(graph: ImportGraph, rules: Rules = RULES): string[] {
  return [
    ...launcherViolations(graph, rules),
    ...layerViolations(graph, rules),
    ...cycleViolations(graph),
  ];
}

Deno.test("scanImports reads declarations, not comments, strings or regular expressions", () => {
  const source = `
    // import { a } from "./comment.ts";
    /* export * from "./block.ts"; */
    /** @example import { b } from "./jsdoc.ts" */
    import def from "./default.ts";
    import * as ns from "./namespace.ts";
    import "./side_effect.ts";
    import json from "./data.json" with { type: "json" };
    import type { T } from "./type.ts";
    import { type A, type B as C } from "./inline_types.ts";
    import { type D, value } from "./mixed.ts";
    import other, { type E } from "./default_and_type.ts";
    import type from "./default_named_type.ts";
    import { type as alias } from "./binding_named_type.ts";
    export { f } from "./reexport.ts";
    export { type G } from "./reexport_type.ts";
    export type { H } from "./export_type.ts";
    export * from "./star.ts";
    export * as all from "./star_as.ts";
    export type * from "./star_type.ts";
    export { local };
    export const x = 1;
    const text = \`import { c } from "./template.ts" \${'" from "./inner.ts'}\`;
    const path = \`\${cwd}/\${given.replace(/^\\.\\//, "") + 1 / 2}\`; // a regex's "//" in \${…}
    /** A backtick in a comment after it: \`x\`. @example import { g } from "./after.ts" */
    const quoted = 'import { d } from "./string.ts"';
    const re = /import { e } from "\\.\\/regex.ts"/;
    const half = 1 / 2, third = 3 / 4;
    const lazy = await import("./dynamic.ts");
    type Q = typeof import("./type_query.ts");
    const computed = await import(name);
    console.log(import.meta.url, re, text, path, quoted, half, third, lazy, computed);
  `;
  const got = scanImports(source).map((r) =>
    `${r.specifier}${r.dynamic ? " dynamic" : ""}${r.typeOnly ? " type" : ""}`
  );
  assert.deepEqual(got, [
    "./default.ts",
    "./namespace.ts",
    "./side_effect.ts",
    "./data.json",
    "./type.ts type",
    "./inline_types.ts type",
    "./mixed.ts",
    "./default_and_type.ts",
    "./default_named_type.ts",
    "./binding_named_type.ts",
    "./reexport.ts",
    "./reexport_type.ts type",
    "./export_type.ts type",
    "./star.ts",
    "./star_as.ts",
    "./star_type.ts type",
    "./dynamic.ts dynamic",
    "./type_query.ts dynamic type",
  ]);
  assert.equal(scanImports('\n\nimport { a } from "./a.ts";')[0].line, 3);
});

Deno.test("resolveSpecifier: paths, built-ins, packages and the import map", () => {
  const map = { semver: "npm:semver@^7.7.2", "@std/": "jsr:@std/", "~/": "./lib/" };
  assert.deepEqual(resolveSpecifier("lib/root/a.ts", "../core/b.ts"), {
    to: "lib/core/b.ts",
    kind: "module",
  });
  assert.deepEqual(resolveSpecifier("main.ts", "./cli/apply.ts"), {
    to: "cli/apply.ts",
    kind: "module",
  });
  assert.deepEqual(resolveSpecifier("a.ts", "node:fs"), { to: "node:fs", kind: "node" });
  assert.deepEqual(resolveSpecifier("a.ts", "semver", map), {
    to: "semver (npm:semver@^7.7.2)",
    kind: "npm",
  });
  assert.deepEqual(resolveSpecifier("a.ts", "@std/path", map).kind, "jsr");
  assert.deepEqual(resolveSpecifier("a.ts", "~/core/x.ts", map), {
    to: "lib/core/x.ts",
    kind: "module",
  });
  assert.deepEqual(resolveSpecifier("a.ts", "left-pad", map), { to: "left-pad", kind: "bare" });
  assert.deepEqual(resolveSpecifier("a.ts", "https://x.example/m.ts").kind, "url");
});

Deno.test("checkArchitecture reports a violation of each rule in a synthetic graph", () => {
  const graph = graphOf({
    "main.ts": `import { ConfigError } from "./lib/core/errors.ts";
      const { run } = await import("./cli/program.ts");`,
    "cli/program.ts": `import { Command } from "commander";`, // loaded lazily: allowed
    "cli/apply.ts": `import { readState } from "../lib/root/state.ts";
      import type { Manifest } from "../lib/trust/manifest.ts";`, // type-only: allowed
    "lib/core/errors.ts": ``,
    "lib/root/state.ts": `import { layoutOf } from "./layout.ts";
      // import { fetchLimited } from "../net/fetch.ts";`,
    "lib/root/layout.ts": `import { fetchLimited } from "../net/fetch.ts";`, // (a) net
    "lib/root/seal.ts": `import { createHash } from "node:crypto";`, // allowed in lib/root
    "lib/root/stage.ts": `import { digest } from "./seal.ts";
      import { tally } from "../actions/tally.ts";
      import { heavy } from "../actions/heavy.ts";
      const { extract } = await import("../archive/extract.ts");`,
    "lib/root/space.ts": `import { statfs } from "node:fs/promises";`, // (a) built-in
    "lib/root/version.ts": `import semver from "semver";`, // (a) npm
    "lib/actions/tally.ts": `import { pad } from "npm:left-pad";`, // allowed itself, not its npm
    "lib/actions/heavy.ts": ``, // (a) actions code
    "lib/net/fetch.ts": ``,
    "lib/core/ui.ts": `import type { Ui } from "../../cli/_ui.ts";`, // (b), even type-only
    "lib/core/page.ts": `const page = await import("../../dashboard/page.ts");`, // (b)
    "cli/_ui.ts": ``,
    "cli/commands.ts": `import { serveDashboard } from "../dashboard/server.ts";
      import { renderPage } from "../dashboard/page.ts";`, // (c) not the entry
    "dashboard/server.ts": `import { Ui } from "../cli/_ui.ts";`, // (c)
    "dashboard/page.ts": ``,
    "lib/core/a.ts": `import { b } from "./b.ts";`, // (d) a → b → c → a
    "lib/core/b.ts": `import { c } from "./c.ts";`,
    "lib/core/c.ts": `export { a } from "./a.ts";`,
    "lib/core/self.ts": `import { me } from "./self.ts";`, // (d)
    "lib/core/t1.ts": `import type { T2 } from "./t2.ts";`, // type-only cycle: allowed
    "lib/core/t2.ts": `import type { T1 } from "./t1.ts";`,
    "lib/core/d1.ts": `const d2 = await import("./d2.ts");`, // dynamic cycle: allowed
    "lib/core/d2.ts": `import { d1 } from "./d1.ts";`,
  }, { semver: "npm:semver@^7.7.2", commander: "npm:commander@^15.1.0" });
  const rules = { ...RULES, launcherSafe: ["lib/actions/tally.ts"] };
  assert.deepEqual(checkArchitecture(graph, rules), [
    "(a) cli/apply.ts → lib/root/state.ts → lib/root/layout.ts → lib/net/fetch.ts: the launcher path loads lib/net/ code at start-up",
    "(a) lib/root/layout.ts → lib/net/fetch.ts: the launcher path loads lib/net/ code at start-up",
    "(a) lib/root/space.ts → node:fs/promises [node]: the launcher path loads a node: built-in other than node:crypto at start-up",
    "(a) lib/root/stage.ts → lib/actions/heavy.ts: the launcher path loads lib/actions/ code at start-up",
    "(a) lib/root/stage.ts → lib/actions/tally.ts → npm:left-pad [npm]: the launcher path loads a package (npm) at start-up",
    "(a) lib/root/state.ts → lib/root/layout.ts → lib/net/fetch.ts: the launcher path loads lib/net/ code at start-up",
    "(a) lib/root/version.ts → semver (npm:semver@^7.7.2) [npm]: the launcher path loads a package (npm) at start-up",
    "(b) lib/core/ui.ts:1 → cli/_ui.ts: lib/ never imports the front ends (cli/, dashboard/)",
    "(b) lib/core/page.ts:1 → dashboard/page.ts: lib/ never imports the front ends (cli/, dashboard/)",
    "(c) cli/commands.ts:2 → dashboard/page.ts: the CLI imports the dashboard only through dashboard/server.ts",
    "(c) dashboard/server.ts:1 → cli/_ui.ts: the dashboard never imports the CLI",
    "(d) import cycle: lib/core/a.ts → lib/core/b.ts → lib/core/c.ts → lib/core/a.ts",
    "(d) import cycle: lib/core/self.ts → lib/core/self.ts",
  ]);
  // The launcher's entry may load no node: built-in at all, not even lib/root's node:crypto.
  const entry = graphOf({
    "main.ts": `import { apply } from "./cli/apply.ts";`,
    "cli/apply.ts": `import { digest } from "../lib/root/seal.ts";`,
    "lib/root/seal.ts": `import { createHash } from "node:crypto";`,
  });
  assert.deepEqual(checkArchitecture(entry), [
    "(a) main.ts → cli/apply.ts → lib/root/seal.ts → node:crypto [node]: the launcher path loads a node: built-in other than none at start-up",
    "(a) cli/apply.ts → lib/root/seal.ts → node:crypto [node]: the launcher path loads a node: built-in other than none at start-up",
  ]);
});

Deno.test("the repository's imports follow the wings' rules", async () => {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const deno = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  // Inline `type` imports count as erased only while the compiler erases them.
  assert.notEqual(deno.compilerOptions?.verbatimModuleSyntax, true);
  const graph = graphOf(await repositorySources(root), deno.imports);
  for (const module of ["main.ts", "cli/apply.ts", "lib/root/state.ts", "lib/core/validate.ts"]) {
    assert.ok(graph.has(module), `${module} is in the graph`);
  }
  assert.deepEqual(checkArchitecture(graph), []);
  // Said again, plainly: what the launcher's entry loads at start-up is modules of this
  // repository only, no node: built-in and no package (rule (a) with entryBuiltins empty).
  for (const entry of RULES.launcherEntry) {
    const loaded = new Map<string, Edge>();
    const queue = [entry];
    while (queue.length > 0) {
      for (const edge of (graph.get(queue.shift()!) ?? []).filter(loads)) {
        if (loaded.has(edge.to)) continue;
        loaded.set(edge.to, edge);
        if (edge.kind === "module") queue.push(edge.to);
      }
    }
    const external = [...loaded.values()].filter((e) => e.kind !== "module").map(show);
    assert.deepEqual(external, [], `${entry} loads ${external.join(", ")} at start-up`);
    assert.ok(loaded.has("lib/core/errors.ts"), `${entry}'s closure was followed`);
  }
});
