// The random-kill soak (bench/soak.ts) at CI size: 200 SIGKILLs at random moments of update,
// apply, confirm and rollback cycles; every install must launch the build it names afterwards.
import assert from "node:assert/strict";
import { soak } from "../bench/soak.ts";

// About 40 s on a CI machine; its own bound, above the default 120 s of tests/_time_bound.ts, keeps a
// slow machine from failing it while a hang still ends the run.
Deno.test({
  name: "200 random SIGKILLs of update/apply/rollback cycles leave no install that does not launch",
  timeout: 10 * 60_000,
}, async () => {
  const seed = Date.now();
  const tally = await soak({ iterations: 200, parallel: 4, maxDelayMs: 300, seed });
  console.log(
    `soak (seed ${seed}): ${tally.iterations} kills, ${tally.valid} valid, ${tally.invalid} invalid; recoveries: ${tally.finished} finished, ${tally.undone} undone; at most ${tally.mostLeftovers} leftovers in a root`,
  );
  // What one killed command leaves is swept by the next: leftovers never pile up.
  assert.ok(tally.mostLeftovers <= 2, `${tally.mostLeftovers} leftovers in one root`);
  assert.deepEqual(tally.failures, []);
  assert.equal(tally.iterations, 200);
  assert.equal(tally.valid, 200);
});
