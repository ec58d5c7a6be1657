// The running SHA-256 of a download (lib/net/_hasher.ts): in a worker, fed the chunks as they
// are written, with bounded memory; on this thread where no worker starts; failures named.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startHasher } from "../lib/net/_hasher.ts";

function random(n: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(bytes.subarray(off, Math.min(n, off + 65536)));
  }
  return bytes;
}

const sha = (...parts: Uint8Array[]) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
};

for (const worker of [true, false]) {
  Deno.test(`the digest is node:crypto's for pooled, copied and offset chunks (worker: ${worker})`, async () => {
    const hasher = startHasher({ bufferSize: 4096, maxQueued: 3, worker });
    try {
      const data = random(300_000);
      let off = 0;
      let step = 0;
      while (off < data.length) {
        const n = Math.min(data.length - off, 1 + (step * 977) % 4096);
        if (step % 3 === 0) {
          // Not the hasher's: a view in the middle of a larger buffer, left as it was.
          const view = data.subarray(off, off + n);
          hasher.update(view);
          assert.equal(view.length, n);
        } else {
          const buffer = await hasher.buffer();
          buffer.set(data.subarray(off, off + n));
          const writing = Promise.resolve();
          await hasher.hashWritten(buffer.subarray(0, n), writing, { owned: true });
        }
        off += n;
        step++;
        if (step === 40) assert.equal(await hasher.digest(), sha(data.subarray(0, off)));
      }
      assert.equal(await hasher.digest(), sha(data));
      assert.equal(await hasher.started(), worker);
      assert.equal(await hasher.digest(), sha(data), "a digest does not end the hash");
      hasher.reset();
      hasher.update(data.subarray(0, 10));
      assert.equal(await hasher.digest(), sha(data.subarray(0, 10)));
    } finally {
      hasher.close();
    }
  });
}

Deno.test("memory stays bounded: no more pooled buffers than chunks allowed in the queue", async () => {
  const hasher = startHasher({ bufferSize: 64 * 1024, maxQueued: 2 });
  try {
    assert.ok(await hasher.started());
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const buffer = await hasher.buffer();
      crypto.getRandomValues(buffer.subarray(0, 1024));
      parts.push(buffer.slice(0, 1024));
      hasher.update(buffer.subarray(0, 1024), { owned: true });
      assert.equal(buffer.length, 0, "moved to the worker, not copied");
      assert.ok(hasher.buffers <= 2, `${hasher.buffers} buffers after ${i + 1} chunks`);
    }
    assert.equal(await hasher.digest(), sha(...parts));
  } finally {
    hasher.close();
  }
});

Deno.test("a worker that cannot start leaves the hashing on this thread", async (t) => {
  const sources = {
    "it says it failed": `self.postMessage({ op: "failed", message: "no node:crypto" });`,
    "it throws": `throw new Error("no worker here");`,
  };
  for (const [what, source] of Object.entries(sources)) {
    await t.step(what, async () => {
      const hasher = startHasher({ workerSource: source });
      try {
        // Given while the worker starts: held, then hashed here.
        const buffer = await hasher.buffer();
        buffer.set(new TextEncoder().encode("ab"));
        hasher.update(buffer.subarray(0, 2), { owned: true });
        hasher.update(new TextEncoder().encode("c"));
        assert.equal(await hasher.started(), false);
        assert.equal(
          await hasher.digest(),
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        );
      } finally {
        hasher.close();
      }
    });
  }
});

Deno.test("a worker that fails fails what waits on it, with its message", async () => {
  const source = `self.onmessage = () =>
  self.postMessage({ op: "error", message: "disk of hashes on fire" });
self.postMessage({ op: "ready" });`;
  const hasher = startHasher({ workerSource: source });
  try {
    assert.ok(await hasher.started());
    hasher.update(new Uint8Array(10));
    await assert.rejects(hasher.digest(), {
      message: "Hashing worker failed: disk of hashes on fire",
    });
    assert.throws(() => hasher.update(new Uint8Array(1)), /Hashing worker failed/);
    await assert.rejects(hasher.buffer(), /Hashing worker failed/);
  } finally {
    hasher.close();
  }
});

Deno.test("a closed hasher refuses more work", async () => {
  const hasher = startHasher();
  hasher.close();
  assert.throws(() => hasher.update(new Uint8Array(1)), { message: "Hasher is closed" });
  await assert.rejects(hasher.digest(), { message: "Hasher is closed" });
  await assert.rejects(hasher.buffer(), { message: "Hasher is closed" });
});

Deno.test("a failed write is not hashed and its error passes", async () => {
  for (const worker of [true, false]) {
    const hasher = startHasher({ worker });
    try {
      const buffer = await hasher.buffer();
      const failed = Promise.reject(new Error("No space left on device"));
      await assert.rejects(
        hasher.hashWritten(buffer.subarray(0, 5), failed, { owned: true }),
        { message: "No space left on device" },
      );
      if (worker) {
        assert.equal(await hasher.digest(), sha(), "the worker never saw the chunk");
      }
    } finally {
      hasher.close();
    }
  }
});

Deno.test("chunks and resets given while the worker starts are hashed in order", async () => {
  const hasher = startHasher({ bufferSize: 1024, maxQueued: 3 });
  try {
    hasher.update(new TextEncoder().encode("lost"));
    hasher.reset();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const buffer = await hasher.buffer(); // the fourth waits for the worker
      crypto.getRandomValues(buffer);
      parts.push(buffer.slice(0, 700));
      hasher.update(buffer.subarray(0, 700), { owned: true });
    }
    assert.equal(await hasher.digest(), sha(...parts));
    assert.ok(await hasher.started());
    assert.ok(hasher.buffers <= 3);
  } finally {
    hasher.close();
  }
});

Deno.test("a hasher closed while its worker starts stops at once", async () => {
  const hasher = startHasher({ workerSource: "await new Promise(() => {});" });
  hasher.update(new Uint8Array(3));
  hasher.close();
  assert.equal(await hasher.started(), false);
});

Deno.test("options are checked", () => {
  assert.throws(() => startHasher({ maxQueued: 0 }), {
    message: "Hasher option maxQueued must be a positive integer, got 0",
  });
});
