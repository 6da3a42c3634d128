// The LMDB response cache against real processes: decision headers and the access-log
// field; one entry shared by every worker and by other sluice processes on the same data
// dir (while they run and after a restart); kill -9 of workers mid-write leaves a file
// that opens cleanly with every entry intact; the bound holds and the oldest go first;
// what is and is not in the key; streamed and whole answers serving each other (the
// official SDK reassembles a replay); single flight; per-request controls (headers and
// LiteLLM's body field); only complete successes are stored; stats and flush; a garbage
// data.mdb is moved aside and never stops sluice from serving.
//
// The model group is named after the mock's model, so sluice forwards the client's body
// byte for byte (the `model` value is replaced by the same bytes) and the mock, whose
// answer is a function of the body bytes, gives the same answer when called directly
// (except `created`, the wall clock). Stores are queued to a writer thread, so a test
// waits for an entry to be committed (GET /cache/stats `entries`) before it expects a hit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {
  startMock, startSluice, cleanup, post, request, openStream, sseData, pollUntil, mkTmpDir,
  liveChildPids, findRecorded, HOST,
} from './lib.mjs';
import { routerConfig, makeClient, runLoad, accessLineOf } from './routing_lib.mjs';

const CHAT = '/v1/chat/completions';
const GROUP = 'mock-model'; // = the upstream model: the forwarded body is the client's bytes
const MASTER = 'sk-cache-master';

let mock; // shared: deterministic per body, no latency
before(async () => { mock = await startMock(['--seed', '11']); });
after(async () => {
  try {
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ helpers

function cacheYaml({ port = mock.port, ttl = 3600, namespace, maxSize, masterKey, router } = {}) {
  const cache_params = { type: 'local', ttl };
  if (namespace !== undefined) cache_params.namespace = namespace;
  const settings = {};
  if (maxSize) settings.cache = { max_size: maxSize };
  return routerConfig({
    groups: { [GROUP]: { port } },
    litellm: { cache: true, cache_params },
    settings,
    masterKey,
    router,
  });
}

async function startCached(o = {}) {
  const { workers = 1, args = [], ...y } = o;
  return startSluice({ yaml: cacheYaml(y), workers, args });
}

async function stopOk(s) {
  if (!s || s.exited) return;
  assert.equal(await s.stop(), 0, `sluice exit code after SIGTERM\n${s.output()}`);
}

let seq = 0;
/** A request body unique to this run (tag + counter), as the client sends it. */
function chatReq(tag, extra = {}) {
  return { model: GROUP, messages: [{ role: 'user', content: `${tag} ${process.pid}-${++seq}` }], ...extra };
}

const chat = (s, body, headers = {}) => post(`${s.url}${CHAT}`, body, headers);

async function stats(s, headers = {}) {
  const r = await request(`${s.url}/cache/stats`, { headers });
  assert.equal(r.status, 200, `GET /cache/stats: ${r.status} ${r.text}`);
  return r.json();
}

/** Waits until the cache holds at least n committed entries; returns the stats. */
function waitEntries(s, n, { timeoutMs = 5000, headers } = {}) {
  return pollUntil(async () => {
    const st = await stats(s, headers);
    return st.entries >= n ? st : null;
  }, { timeoutMs, intervalMs: 20, what: `${n} committed cache entr${n === 1 ? 'y' : 'ies'}` });
}

/** Waits until every one of `puts` stores queued by this sluice (workers: 1, so the stats
 *  are that worker's) has been committed or dropped (a full queue drops and counts). */
function waitSettled(s, puts) {
  return pollUntil(async () => {
    const st = await stats(s);
    return st.stores + st.dropped_writes + st.oversize + st.errors >= puts ? st : null;
  }, { timeoutMs: 10000, intervalMs: 20, what: `${puts} stores to be committed or dropped` });
}

/** Waits until the wall clock is 100 ms into the next second: recency is kept in whole
 *  seconds, and time() (a coarse clock) may lag Date.now() by a tick. */
async function nextSecond() {
  const t = Math.floor(Date.now() / 1000);
  await pollUntil(() => Date.now() >= (t + 1) * 1000 + 100, { timeoutMs: 2500, intervalMs: 10, what: 'the next wall-clock second' });
}

const mockCount = async () => (await mock.stats()).requests;

function cacheHdr(r) { return r.headers['x-sluice-cache']; }

function ctx(r) { return `status ${r.status}, headers ${JSON.stringify(r.headers)}\nbody: ${String(r.text).slice(0, 400)}`; }

function assertCache(r, want) {
  assert.equal(r.status, 200, ctx(r));
  assert.equal(cacheHdr(r), want, `x-sluice-cache should be ${want}\n${ctx(r)}`);
}

/** `created` is the mock's wall clock: the one field two calls may differ in. */
function normalise(json) {
  return JSON.parse(JSON.stringify(json, (k, v) => (k === 'created' && typeof v === 'number' ? 0 : v)));
}

/** The mock's own answer for exactly these body bytes (what sluice forwards here). */
async function direct(bodyText) {
  const r = await post(`${mock.url}${CHAT}`, bodyText, { authorization: 'Bearer sk-mock' });
  assert.equal(r.status, 200, `mock direct: ${r.status} ${r.text}`);
  return r.json();
}

/** Parses an SSE chat stream into its chunks (JSON) and whether it ended with [DONE]. */
function parseChunks(text) {
  const data = sseData(text);
  const done = data.length > 0 && data[data.length - 1] === '[DONE]';
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  assert.equal(data.filter((d) => d === '[DONE]').length, done ? 1 : 0, `[DONE] only last:\n${text}`);
  return { chunks, done };
}

function streamedContent(chunks) {
  return chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
}

async function readStream(s, body, headers = {}) {
  const st = await openStream(`${s.url}${CHAT}`, { body, headers });
  await st.waitEnd(10000);
  return st;
}

/** Asserts text is a well-formed replay of the stored completion `json`. */
function assertReplay(text, json, { includeUsage }) {
  const { chunks, done } = parseChunks(text);
  assert.ok(done, `stream must end with data: [DONE]\n${text}`);
  assert.ok(chunks.length >= 3, `role, content and finish chunks expected\n${text}`);
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk', `chunk object\n${JSON.stringify(c)}`);
    assert.equal(c.id, json.id, 'every chunk carries the stored id');
    assert.equal(c.model, json.model);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant', `first chunk names the role\n${text}`);
  const withChoice = chunks.filter((c) => c.choices.length > 0);
  assert.equal(streamedContent(withChoice), json.choices[0].message.content, 'content deltas rebuild the content');
  const fin = withChoice.filter((c) => c.choices[0].finish_reason !== null && c.choices[0].finish_reason !== undefined);
  assert.equal(fin.length, 1, `exactly one chunk carries finish_reason\n${text}`);
  assert.equal(fin[0].choices[0].finish_reason, json.choices[0].finish_reason);
  assert.equal(fin[0], withChoice[withChoice.length - 1], 'finish_reason comes after every delta');
  const usageChunks = chunks.filter((c) => c.choices.length === 0);
  if (includeUsage) {
    assert.equal(usageChunks.length, 1, `one usage chunk when include_usage\n${text}`);
    assert.deepEqual(usageChunks[0].usage, json.usage);
    assert.equal(usageChunks[0], chunks[chunks.length - 1], 'the usage chunk is the last before [DONE]');
  } else {
    assert.equal(usageChunks.length, 0, `no usage chunk unless asked for\n${text}`);
    for (const c of chunks) assert.ok(c.usage === undefined || c.usage === null, `no usage without include_usage\n${JSON.stringify(c)}`);
  }
}

// ------------------------------------------------------------------ headers, access log

test('miss, then hit with age; bypass; the access log says which', async () => {
  const s = await startCached();
  try {
    const body = chatReq('hdr');
    const before = await mockCount();
    const r1 = await chat(s, body);
    assertCache(r1, 'miss');
    assert.equal(r1.headers.age, undefined, 'no age on a miss');
    assert.equal((await accessLineOf(s, r1)).cache, 'miss');
    await waitEntries(s, 1);

    const r2 = await chat(s, body);
    assertCache(r2, 'hit');
    assert.match(String(r2.headers.age), /^\d+$/, `age on a hit\n${ctx(r2)}`);
    assert.equal(r2.text, r1.text, 'a hit returns the stored bytes');
    assert.equal((await accessLineOf(s, r2)).cache, 'hit');
    assert.equal(await mockCount(), before + 1, 'the hit did not reach the mock');

    const r3 = await chat(s, body, { 'x-sluice-cache': 'no-store' });
    assertCache(r3, 'bypass');
    assert.equal(r3.headers.age, undefined);
    assert.equal((await accessLineOf(s, r3)).cache, 'bypass');
    assert.equal(await mockCount(), before + 2, 'a bypass goes upstream');

    // age counts seconds since the store (polled: at most ~2 s of hits)
    const aged = await pollUntil(async () => {
      const r = await chat(s, body);
      assertCache(r, 'hit');
      return Number(r.headers.age) >= 1 ? r : null;
    }, { timeoutMs: 4000, intervalMs: 100, what: 'age >= 1 on a hit' });
    assert.ok(Number(aged.headers.age) <= 3, `age ${aged.headers.age} too large`);

    // requests that are not cacheable at all carry no cache header
    const models = await request(`${s.url}/v1/models`);
    assert.equal(models.headers['x-sluice-cache'], undefined);
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ sharing

test('an entry stored through one worker is a hit through the other (20 fresh connections)', async () => {
  const s = await startCached({ workers: 2 });
  try {
    const body = chatReq('xworker');
    const before = await mockCount();
    const first = await chat(s, body);
    assertCache(first, 'miss');
    await waitEntries(s, 1);
    const workersSeen = new Set([first.headers['x-request-id'].split('-')[0]]);
    for (let i = 0; i < 20; i++) {
      const r = await chat(s, body); // lib's request(): agent:false, a new connection each
      assertCache(r, 'hit');
      assert.equal(r.text, first.text);
      workersSeen.add(r.headers['x-request-id'].split('-')[0]);
    }
    assert.equal(await mockCount(), before + 1, 'the mock got exactly one request');
    // x-request-id is "<worker index>-<seq>": with SO_REUSEPORT, 21 connections all landing
    // on one worker has probability 2^-20.
    assert.equal(workersSeen.size, 2, `both workers served: ${[...workersSeen]}`);
  } finally {
    await stopOk(s);
  }
});

test('a second sluice on the same data dir shares the cache while both run and after a restart', async () => {
  const dataDir = path.join(mkTmpDir('sluice-cache-shared-'), 'data');
  const a = await startCached({ workers: 2, args: ['--data-dir', dataDir] });
  let b;
  let c;
  try {
    const before = await mockCount();
    const k1 = chatReq('shared-1');
    const k2 = chatReq('shared-2');
    const m1 = await chat(a, k1);
    assertCache(m1, 'miss');
    await waitEntries(a, 1);

    b = await startCached({ workers: 2, args: ['--data-dir', dataDir] });
    const h1 = await chat(b, k1);
    assertCache(h1, 'hit');
    assert.equal(h1.text, m1.text);

    // and the other way: stored through b while a runs, a hit through a
    const m2 = await chat(b, k2);
    assertCache(m2, 'miss');
    await waitEntries(a, 2);
    const h2 = await chat(a, k2);
    assertCache(h2, 'hit');
    assert.equal(h2.text, m2.text);

    await stopOk(a);
    await stopOk(b);
    c = await startCached({ workers: 1, args: ['--data-dir', dataDir] });
    for (const [k, m] of [[k1, m1], [k2, m2]]) {
      const r = await chat(c, k);
      assertCache(r, 'hit');
      assert.equal(r.text, m.text, 'the restarted sluice serves the stored bytes');
    }
    assert.equal(await mockCount(), before + 2, 'two keys, two upstream calls in all');
    assert.ok(!c.lines.some((l) => /moved|stale|corrupt/.test(String(l.detail ?? ''))),
      `a clean restart moves nothing aside\n${c.output()}`);
  } finally {
    await stopOk(a);
    await stopOk(b);
    await stopOk(c);
  }
});

// ------------------------------------------------------------------ crash safety

test('kill -9 of workers while they write, 5 rounds: the file opens cleanly and every entry is intact', async (t) => {
  const s = await startCached({ workers: 2 });
  const dataDir = path.join(s.dir, 'data');
  const written = new Map(); // body text -> response text of a 200 miss
  let killed = 0;
  try {
    const seenWorkerPids = new Set(liveChildPids(s.pid));
    for (let round = 0; round < 5; round++) {
      const pids = liveChildPids(s.pid);
      assert.equal(pids.length, 2, `two live workers before round ${round}: ${pids}`);
      const victim = pids[round % 2];
      const bodies = Array.from({ length: 300 }, (_, i) => JSON.stringify(chatReq(`kill-${round}-${i}`)));
      const client = makeClient(s.url, { maxSockets: 16 });
      let done = 0;
      let fired = false;
      let replaced;
      try {
        const results = await runLoad(bodies.length, 16, async (i) => {
          if (!fired && done >= 60) {
            fired = true; // mid-load: writes of the earlier answers are queued or committing
            process.kill(victim, 'SIGKILL');
            killed++;
            replaced = s.waitLine((l) => l.msg === 'worker started' && !seenWorkerPids.has(l.worker_pid),
              15000, `a replacement for worker ${victim} (round ${round})`);
          }
          const r = await client.chat(bodies[i], {}, { timeoutMs: 10000 });
          done++;
          return r;
        });
        results.forEach((r, i) => {
          if (r.status === 200 && cacheHdr(r) === 'miss') written.set(bodies[i], r.text);
        });
        assert.ok(fired, 'the worker was killed during the load');
        const line = await replaced;
        seenWorkerPids.add(line.worker_pid);
        await pollUntil(() => liveChildPids(s.pid).length === 2, { timeoutMs: 5000, what: 'two live workers' });
      } finally {
        client.close();
      }
    }
    assert.equal(killed, 5);
    const cleared = s.lines.filter((l) => /stale reader/.test(String(l.detail ?? '')));
    t.diagnostic(`replacements that cleared stale reader slots: ${cleared.length}; ${cleared.map((l) => l.detail).join(' | ')}`);
    assert.ok(written.size >= 1000, `most requests were answered and stored: ${written.size}`);
    await stopOk(s);

    const fresh = await startCached({ workers: 2, args: ['--data-dir', dataDir] });
    try {
      const trouble = fresh.lines.filter((l) => /cache/.test(String(l.msg)) && l.level !== 'info' ||
        /moved|aside|stale|corrupt|damaged|cannot/i.test(String(l.detail ?? '')));
      assert.deepEqual(trouble, [], `a fresh sluice opens the file cleanly, with no stale reader left\n${fresh.output()}`);
      const st0 = await stats(fresh);
      assert.equal(st0.broken, false);
      assert.equal(st0.errors, 0, `no store errors: ${JSON.stringify(st0)}`);

      // Read every written key back: a hit must be complete and correct; a miss is allowed
      // (a store still queued in a killed worker is lost), but most must be there.
      const keys = [...written.keys()];
      const client = makeClient(fresh.url, { maxSockets: 16 });
      let hits = 0;
      const bad = [];
      try {
        const results = await runLoad(keys.length, 16, (i) => client.chat(keys[i]));
        for (let i = 0; i < keys.length; i++) {
          const r = results[i];
          assert.equal(r.status, 200, ctx(r));
          if (cacheHdr(r) !== 'hit') continue;
          hits++;
          if (r.text !== written.get(keys[i])) bad.push(`stored bytes differ for ${keys[i]}:\n${r.text}\nvs\n${written.get(keys[i])}`);
        }
        // against the mock itself, for a sample of the hits
        const sample = keys.filter((_, i) => cacheHdr(results[i]) === 'hit').filter((_, j) => j % 10 === 0);
        for (const k of sample) {
          const got = normalise(JSON.parse(written.get(k)));
          assert.deepEqual(got, normalise(await direct(k)), `hit for ${k} equals the mock's own answer`);
        }
      } finally {
        client.close();
      }
      assert.deepEqual(bad, [], 'every entry read back is byte-identical to the answer stored');
      t.diagnostic(`read back ${keys.length} written keys: ${hits} hits`);
      assert.ok(hits >= keys.length * 0.8, `most written entries survived: ${hits}/${keys.length}`);
    } finally {
      await stopOk(fresh);
    }
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ bound and eviction

test('filling far past max_size (1 MiB) stays bounded, keeps serving, and evicts the oldest first', async (t) => {
  const s = await startCached({ workers: 1, maxSize: '1MiB' });
  const client = makeClient(s.url, { maxSockets: 16 });
  const send = async (bodies, conc) => {
    const rs = await runLoad(bodies.length, conc, (i) => client.chat(bodies[i]));
    rs.forEach((r) => assertCache(r, 'miss'));
    return rs;
  };
  try {
    const first = Array.from({ length: 50 }, (_, i) => JSON.stringify(chatReq(`evict-first-${i}`)));
    const filler = Array.from({ length: 5000 }, (_, i) => JSON.stringify(chatReq(`evict-fill-${i} ${'x'.repeat(200)}`)));
    const last = Array.from({ length: 50 }, (_, i) => JSON.stringify(chatReq(`evict-last-${i}`)));

    await send(first, 4);
    await waitEntries(s, first.length);
    await nextSecond(); // recency is kept in seconds: the first batch is strictly older
    for (let off = 0; off < filler.length; off += 500) {
      await send(filler.slice(off, off + 500), 8);
      const st = await stats(s);
      assert.ok(st.used_bytes <= st.max_bytes, `used_bytes ${st.used_bytes} <= max_bytes ${st.max_bytes}`);
    }
    t.diagnostic(`after the filler: ${JSON.stringify(await waitSettled(s, first.length + filler.length))}`);
    await nextSecond();
    await send(last, 1);
    const st = await waitSettled(s, first.length + filler.length + last.length);
    const dataFile = fs.statSync(path.join(s.dir, 'data', 'data.mdb')).size;
    t.diagnostic(`after the fill: ${JSON.stringify(st)}; data.mdb ${dataFile} bytes`);

    assert.equal(st.max_bytes, 1 << 20);
    assert.ok(st.used_bytes <= st.max_bytes, `used_bytes ${st.used_bytes} <= max_bytes ${st.max_bytes}`);
    assert.ok(st.evictions > 0, `entries were evicted: ${JSON.stringify(st)}`);
    assert.ok(st.entries < first.length + filler.length, `not everything fits: ${JSON.stringify(st)}`);
    assert.ok(st.stores >= 2 * st.entries, `filled far past the bound (stored ${st.stores}, holds ${st.entries})`);
    assert.ok(st.bytes < st.max_bytes, `stored bytes under the bound: ${JSON.stringify(st)}`);
    // the map may grow by at most 1/16 to get out of a completely full map (store/cache.h)
    assert.ok(dataFile <= (st.max_bytes * 17) / 16, `data.mdb is ${dataFile} bytes for a 1 MiB bound`);

    // the newest are all there ...
    const lastR = await runLoad(last.length, 4, (i) => client.chat(last[i]));
    const lastHits = lastR.filter((r) => r.status === 200 && cacheHdr(r) === 'hit').length;
    t.diagnostic(`last: ${lastR.map((r) => (cacheHdr(r) === 'hit' ? 1 : 0)).join('')}; stats now ${JSON.stringify(await stats(s))}`);
    assert.equal(lastHits, last.length, `the last keys written hit (${lastHits}/${last.length}); stats ${JSON.stringify(st)}`);
    // ... and the oldest were the first to go
    const firstR = await runLoad(first.length, 4, (i) => client.chat(first[i]));
    const firstMisses = firstR.filter((r) => r.status === 200 && cacheHdr(r) === 'miss').length;
    assert.equal(firstMisses, first.length, `the first keys written miss again (${firstMisses}/${first.length})`);
    assert.ok(!s.exited, 'sluice kept running');
  } finally {
    client.close();
    await stopOk(s);
  }
});

test('a full 1 MiB cache still stores a burst of new answers, evicting old ones to make room', async (t) => {
  // After the fill, every burst of 200 new answers (about 90 KB: far under the writer
  // queue's 4096 ops / 256 KiB, so the queue cannot be what drops them) must be stored;
  // the oldest entries make room.
  const s = await startCached({ workers: 1, maxSize: '1MiB' });
  const client = makeClient(s.url, { maxSockets: 16 });
  let puts = 0;
  const send = async (bodies, conc) => {
    const rs = await runLoad(bodies.length, conc, (i) => client.chat(bodies[i]));
    rs.forEach((r) => assertCache(r, 'miss'));
    puts += bodies.length;
    return waitSettled(s, puts);
  };
  try {
    const fill = Array.from({ length: 4000 }, (_, i) => JSON.stringify(chatReq(`burst-fill-${i}`)));
    const before = await send(fill, 8);
    assert.ok(before.evictions > 0, `the fill went past the bound: ${JSON.stringify(before)}`);
    const lost = [];
    let burst;
    let prev = before;
    for (let round = 0; round < 5; round++) {
      await nextSecond(); // each burst strictly newer than everything before it
      burst = Array.from({ length: 200 }, (_, i) => JSON.stringify(chatReq(`burst-${round}-${i}`)));
      const st = await send(burst, 16);
      t.diagnostic(`burst ${round}: dropped ${st.dropped_writes - prev.dropped_writes}, evicted ${st.evictions - prev.evictions}, used ${st.used_bytes} of ${st.max_bytes}`);
      if (st.dropped_writes !== prev.dropped_writes) {
        lost.push(`burst ${round}: ${st.dropped_writes - prev.dropped_writes} of 200 stores dropped ` +
          `(evicted ${st.evictions - prev.evictions}; used_bytes ${st.used_bytes} of ${st.max_bytes})`);
      }
      prev = st;
    }
    assert.deepEqual(lost, [], 'stores dropped although the queue had room: the map was "full" while under its watermark');
    const rs = await runLoad(burst.length, 4, (i) => client.chat(burst[i]));
    const hits = rs.filter((r) => cacheHdr(r) === 'hit').length;
    assert.equal(hits, burst.length, `the last burst is all in the cache (${hits}/${burst.length})`);
  } finally {
    client.close();
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ what is in the key

test('an unknown field (top_k, num_ctx) is in the key; key order, whitespace and user are not', async () => {
  const s = await startCached({ workers: 1 });
  try {
    const before = await mockCount();
    const content = `key ${process.pid}-${++seq}`;
    const base = `{"model":"${GROUP}","messages":[{"role":"user","content":"${content}"}],"temperature":0.5}`;
    const r0 = await chat(s, base);
    assertCache(r0, 'miss');
    await waitEntries(s, 1);

    let entries = 1;
    for (const extra of ['"top_k":40', '"num_ctx":4096', '"top_k":41']) {
      const b = base.replace(/}$/, `,${extra}}`);
      const r = await chat(s, b);
      assertCache(r, 'miss');
      await waitEntries(s, ++entries);
      const again = await chat(s, b);
      assertCache(again, 'hit');
      assert.equal(again.text, r.text, `${extra}: its own entry`);
    }
    assert.equal(await mockCount(), before + 4, 'each unknown field value made its own upstream call');

    const same = [
      // key order
      `{"temperature":0.5,"messages":[{"content":"${content}","role":"user"}],"model":"${GROUP}"}`,
      // whitespace
      `{\n  "model" : "${GROUP}",\n  "messages" : [ { "role" : "user" , "content" : "${content}" } ],\n  "temperature" : 0.5\n}`,
      // user (and 0.5 written as 5e-1)
      `{"model":"${GROUP}","messages":[{"role":"user","content":"${content}"}],"temperature":5e-1,"user":"someone-else"}`,
      // metadata
      `{"model":"${GROUP}","messages":[{"role":"user","content":"${content}"}],"temperature":0.5,"metadata":{"trace":"x"}}`,
    ];
    for (const b of same) {
      const r = await chat(s, b);
      assertCache(r, 'hit');
      assert.equal(r.text, r0.text, `shares the entry: ${b}`);
    }
    assert.equal(await mockCount(), before + 4, 'no upstream call for the equivalent bodies');

    // the namespace keeps configs apart: same body, other namespace -> miss
    await stopOk(s);
    const ns = await startCached({ workers: 1, namespace: 'other', args: ['--data-dir', path.join(s.dir, 'data')] });
    try {
      assertCache(await chat(ns, base), 'miss');
    } finally {
      await stopOk(ns);
    }
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ streaming

test('a streamed miss is stored assembled; a later plain request gets it as JSON', async () => {
  const s = await startCached({ workers: 1 });
  try {
    const before = await mockCount();
    const body = chatReq('stream-first', { stream: true, stream_options: { include_usage: true } });
    const st = await readStream(s, body);
    assert.equal(st.status, 200);
    assert.equal(st.headers['x-sluice-cache'], 'miss');
    const { chunks, done } = parseChunks(st.text);
    assert.ok(done, 'the upstream stream ended with [DONE]');
    const content = streamedContent(chunks.filter((c) => c.choices.length));
    assert.ok(content.length > 0);
    await waitEntries(s, 1);

    const { stream: _s, stream_options: _so, ...plain } = body;
    const r = await chat(s, plain);
    assertCache(r, 'hit');
    const j = r.json();
    assert.equal(j.object, 'chat.completion');
    assert.equal(j.id, chunks[0].id);
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].message.role, 'assistant');
    assert.equal(j.choices[0].message.content, content, 'the assembled content is what was streamed');
    assert.equal(j.choices[0].finish_reason, chunks.filter((c) => c.choices.length).at(-1).choices[0].finish_reason);
    assert.deepEqual(j.usage, chunks.at(-1).usage, 'usage from the usage chunk');
    assert.equal(await mockCount(), before + 1);

    // and the stored assembly replays as a stream again
    const again = await readStream(s, { ...plain, stream: true });
    assert.equal(again.headers['x-sluice-cache'], 'hit');
    assertReplay(again.text, j, { includeUsage: false });
  } finally {
    await stopOk(s);
  }
});

test('a plain miss replays as a valid SSE stream; the openai SDK reassembles the same content', async () => {
  const s = await startCached({ workers: 2 });
  try {
    const before = await mockCount();
    const messages = [{ role: 'user', content: `replay ${process.pid}-${++seq}` }];
    const plain = { model: GROUP, messages, max_tokens: 40 };
    const m = await chat(s, plain);
    assertCache(m, 'miss');
    const json = m.json();
    await waitEntries(s, 1);

    const noUsage = await readStream(s, { ...plain, stream: true });
    assert.equal(noUsage.status, 200);
    assert.equal(noUsage.headers['x-sluice-cache'], 'hit');
    assert.match(noUsage.headers['content-type'], /^text\/event-stream/);
    assert.match(String(noUsage.headers.age), /^\d+$/);
    assertReplay(noUsage.text, json, { includeUsage: false });

    const withUsage = await readStream(s, { ...plain, stream: true, stream_options: { include_usage: true } });
    assert.equal(withUsage.headers['x-sluice-cache'], 'hit');
    assertReplay(withUsage.text, json, { includeUsage: true });

    const client = new OpenAI({ apiKey: 'sk-unused', baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 10000 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: GROUP, messages, max_tokens: 40, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get('x-sluice-cache'), 'hit');
    let text = '';
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        text += ch.delta?.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(text, json.choices[0].message.content, 'the SDK rebuilds the stored content');
    assert.equal(finish, json.choices[0].finish_reason);
    assert.deepEqual(usage, json.usage);

    // the SDK's own assembler (ChatCompletionStream) agrees
    const runner = client.chat.completions.stream({ model: GROUP, messages, max_tokens: 40 });
    const final = await runner.finalChatCompletion();
    assert.equal(final.id, json.id);
    assert.equal(final.choices[0].message.content, json.choices[0].message.content);
    assert.equal(final.choices[0].message.role, 'assistant');
    assert.equal(final.choices[0].finish_reason, json.choices[0].finish_reason);

    assert.equal(await mockCount(), before + 1, 'every replay came from the cache');
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ single flight

test('single flight: 10 identical concurrent misses make one upstream call', async () => {
  const slow = await startMock(['--seed', '3', '--latency-ms', '300']);
  const s = await startCached({ workers: 1, port: slow.port });
  try {
    const body = JSON.stringify(chatReq('sf'));
    const rs = await Promise.all(Array.from({ length: 10 }, () => chat(s, body)));
    for (const r of rs) assert.equal(r.status, 200, ctx(r));
    assert.equal(new Set(rs.map((r) => r.text)).size, 1, 'all got the same body');
    assert.equal(rs.filter((r) => cacheHdr(r) === 'miss').length, 1, `one leader: ${rs.map(cacheHdr)}`);
    assert.equal((await slow.stats()).requests, 1, 'the mock received exactly one request');

    // streaming waiters too: mixed stream / plain followers behind one (plain) leader
    await slow.reset();
    const b2 = chatReq('sf-mixed');
    const leader = chat(s, b2);
    const followers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2
      ? readStream(s, { ...b2, stream: true })
      : chat(s, b2))));
    const lr = await leader;
    assertCache(lr, 'miss');
    const json = lr.json();
    for (const [i, f] of followers.entries()) {
      assert.equal(f.status, 200);
      if (i % 2) assertReplay(f.text, json, { includeUsage: false });
      else assert.equal(f.text, lr.text);
    }
    assert.equal((await slow.stats()).requests, 1, 'one upstream call for a mixed crowd');
  } finally {
    await stopOk(s);
    await slow.stop();
  }
});

// ------------------------------------------------------------------ per-request controls

test('x-sluice-cache: no-cache skips the lookup but stores; no-store does neither', async () => {
  const s = await startCached({ workers: 1 });
  try {
    const before = await mockCount();
    // no-cache on a fresh key: bypass, and the answer is stored
    const k1 = chatReq('nocache');
    assertCache(await chat(s, k1, { 'x-sluice-cache': 'no-cache' }), 'bypass');
    await waitEntries(s, 1);
    assertCache(await chat(s, k1), 'hit');
    // no-cache on a stored key still goes upstream
    assertCache(await chat(s, k1, { 'x-sluice-cache': 'no-cache' }), 'bypass');
    assert.equal(await mockCount(), before + 2);

    // no-store on a stored key: not served from the cache
    assertCache(await chat(s, k1, { 'x-sluice-cache': 'no-store' }), 'bypass');
    assert.equal(await mockCount(), before + 3);
    // no-store on a fresh key: not stored. A store queued after it (one worker, one FIFO
    // writer) being committed proves it would have been committed too.
    const k2 = chatReq('nostore');
    assertCache(await chat(s, k2, { 'x-sluice-cache': 'no-store' }), 'bypass');
    assertCache(await chat(s, chatReq('sentinel')), 'miss');
    const st = await waitEntries(s, 2);
    assert.equal(st.entries, 2, 'k1 and the sentinel only');
    assertCache(await chat(s, k2), 'miss');
    assert.equal(await mockCount(), before + 6);
  } finally {
    await stopOk(s);
  }
});

/** Repeats a request until it misses again after having hit (the entry expired). */
async function expiresSoon(s, body, headers, what) {
  let sawHit = false;
  const t0 = Date.now();
  await pollUntil(async () => {
    const r = await chat(s, body, headers);
    assert.equal(r.status, 200, ctx(r));
    if (cacheHdr(r) === 'hit') sawHit = true;
    return sawHit && cacheHdr(r) === 'miss';
  }, { timeoutMs: 6000, intervalMs: 50, what: `${what}: a hit, then a miss once the entry expired` });
  return Date.now() - t0;
}

test('x-sluice-cache-ttl: 1 and the body\'s cache.ttl expire the entry', async () => {
  const s = await startCached({ workers: 1, ttl: 3600 });
  try {
    const k = chatReq('ttl-hdr');
    assertCache(await chat(s, k, { 'x-sluice-cache-ttl': '1' }), 'miss');
    await waitEntries(s, 1);
    await expiresSoon(s, k, { 'x-sluice-cache-ttl': '1' }, 'x-sluice-cache-ttl: 1');

    const b = chatReq('ttl-body', { cache: { ttl: 1 } });
    assertCache(await chat(s, b), 'miss');
    await expiresSoon(s, b, {}, 'cache: {ttl: 1}');
    // the default ttl (3600) does not expire in that time
    const d = chatReq('ttl-default');
    assertCache(await chat(s, d), 'miss');
    await waitEntries(s, 3);
    await pollUntil(async () => Number((await chat(s, d)).headers.age) >= 2,
      { timeoutMs: 5000, intervalMs: 100, what: 'a default-ttl entry still hitting at age 2' });
  } finally {
    await stopOk(s);
  }
});

test('Cache-Control: no-cache, no-store, max-age=N', async () => {
  const s = await startCached({ workers: 1 });
  try {
    const before = await mockCount();
    const k = chatReq('cc');
    assertCache(await chat(s, k), 'miss');
    await waitEntries(s, 1);
    assertCache(await chat(s, k, { 'cache-control': 'no-cache' }), 'bypass');
    assertCache(await chat(s, k, { 'cache-control': 'no-store' }), 'bypass');
    assert.equal(await mockCount(), before + 3, 'both bypasses went upstream');

    const ns = chatReq('cc-nostore');
    assertCache(await chat(s, ns, { 'Cache-Control': 'no-store' }), 'bypass');
    assertCache(await chat(s, chatReq('cc-sentinel')), 'miss');
    const st = await waitEntries(s, 2);
    assert.equal(st.entries, 2, 'Cache-Control: no-store stored nothing');

    // max-age limits the age of a served entry
    await pollUntil(async () => Number((await chat(s, k)).headers.age) >= 2,
      { timeoutMs: 5000, intervalMs: 100, what: 'the entry to be 2 s old' });
    const n0 = await mockCount();
    const fresh = await chat(s, k, { 'cache-control': 'max-age=100' });
    assertCache(fresh, 'hit');
    assert.ok(Number(fresh.headers.age) >= 2);
    assertCache(await chat(s, k, { 'cache-control': 'max-age=1' }), 'miss');
    assert.equal(await mockCount(), n0 + 1, 'an entry older than max-age is not served');
    assertCache(await chat(s, k, { 'cache-control': 'max-age=0' }), 'bypass');

    // max-age=N with no other ttl stores the answer for N seconds
    const m = chatReq('cc-maxage-ttl');
    assertCache(await chat(s, m, { 'cache-control': 'max-age=1' }), 'miss');
    await expiresSoon(s, m, { 'cache-control': 'max-age=1' }, 'Cache-Control: max-age=1');
  } finally {
    await stopOk(s);
  }
});

test('body cache: {"no-cache"}, {"no-store"} controls; the cache field never reaches the provider', async () => {
  const s = await startCached({ workers: 1 });
  try {
    const before = await mockCount();
    const tag = `bodyctl ${process.pid}-${++seq}`;
    const plain = { model: GROUP, messages: [{ role: 'user', content: tag }] };
    const m = await chat(s, plain);
    assertCache(m, 'miss');
    await waitEntries(s, 1);

    const nc = await chat(s, { ...plain, cache: { 'no-cache': true } });
    assertCache(nc, 'bypass');
    const rec = findRecorded(await mock.stats(), (b) => b?.messages?.[0]?.content === tag);
    assert.ok(rec, 'the mock recorded the request');
    assert.equal(rec.rawBody ?? JSON.stringify(rec.json), JSON.stringify(plain),
      'forwarded without the cache field (byte for byte the rest)');
    assert.equal(nc.json().id, m.json().id, 'same key: same deterministic answer');

    assertCache(await chat(s, { ...plain, cache: { 'no-store': true } }), 'bypass');
    assert.equal(await mockCount(), before + 3);
    // the cache field is not part of the key: a ttl in the body still hits the entry
    assertCache(await chat(s, { ...plain, cache: { ttl: 600 } }), 'hit');

    const fresh = chatReq('bodyctl-nostore', { cache: { 'no-store': true } });
    assertCache(await chat(s, fresh), 'bypass');
    const stats0 = (await mock.stats()).last.map((l) => String(l.body));
    assert.ok(stats0.every((b) => !b.includes('"cache"')), `no forwarded body carries "cache": ${stats0.join('\n')}`);
    assertCache(await chat(s, chatReq('bodyctl-sentinel')), 'miss');
    assert.equal((await waitEntries(s, 2)).entries, 2, 'the no-store answer was not stored');
    const { cache: _c, ...freshPlain } = fresh;
    assertCache(await chat(s, freshPlain), 'miss');
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ only complete successes

test('a 500 is never stored; a stream cut mid-way is not stored', async () => {
  const s = await startCached({ workers: 1, router: { num_retries: 0 } });
  try {
    const failing = chatReq('fault-500', { mock: { fault: '500' } });
    const n0 = await mockCount();
    const e1 = await chat(s, failing);
    assert.equal(e1.status, 500, ctx(e1));
    const e2 = await chat(s, failing);
    assert.equal(e2.status, 500, ctx(e2));
    assert.notEqual(cacheHdr(e2), 'hit');
    assert.equal(await mockCount(), n0 + 2, 'the second 500 came from the mock again');

    const cut = chatReq('fault-cut', { stream: true, mock: { fault: 'reset-during', tokens: 30 } });
    const c1 = await readStream(s, cut);
    assert.equal(c1.status, 200);
    assert.ok(!c1.text.includes('[DONE]'), `the stream was cut\n${c1.text}`);

    // a sentinel committed after them (one FIFO writer) proves nothing else was stored
    assertCache(await chat(s, chatReq('fault-sentinel')), 'miss');
    const st = await waitEntries(s, 1);
    assert.equal(st.entries, 1, `only the sentinel is stored: ${JSON.stringify(st)}`);
    const n1 = await mockCount();
    const { stream: _s, ...cutPlain } = cut;
    const c2 = await chat(s, { ...cutPlain, mock: { tokens: 30, fault: 'reset-during' } });
    assert.notEqual(cacheHdr(c2), 'hit', 'the cut stream is not served');
    const c3 = await readStream(s, cut);
    assert.notEqual(c3.headers['x-sluice-cache'], 'hit');
    assert.ok((await mockCount()) >= n1 + 2, 'both went upstream');
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ admin

test('GET /cache/stats counts; DELETE /cache empties it and needs the master key', async () => {
  const s = await startCached({ workers: 1, masterKey: MASTER });
  const auth = { authorization: `Bearer ${MASTER}` };
  try {
    const st0 = await stats(s, auth);
    for (const f of ['entries', 'bytes', 'hits', 'misses', 'hit_ratio', 'evictions', 'used_bytes', 'max_bytes']) {
      assert.equal(typeof st0[f], 'number', `stats.${f}: ${JSON.stringify(st0)}`);
    }
    assert.equal(st0.entries, 0);
    assert.equal((await request(`${s.url}/cache/stats`)).status, 401, 'stats need the master key');

    const k = chatReq('stats');
    assertCache(await chat(s, k, auth), 'miss');
    await waitEntries(s, 1, { headers: auth });
    assertCache(await chat(s, k, auth), 'hit');
    assertCache(await chat(s, k, auth), 'hit');
    const st = await pollUntil(async () => {
      const x = await stats(s, auth);
      return x.hits === 2 && x.misses === 1 ? x : null;
    }, { timeoutMs: 3000, what: 'hits 2, misses 1' });
    assert.equal(st.entries, 1);
    assert.ok(st.bytes > 0 && st.bytes < 4096, `bytes ${st.bytes}`);
    assert.ok(Math.abs(st.hit_ratio - 2 / 3) < 0.001, `hit_ratio ${st.hit_ratio}`);
    assert.equal(st.evictions, 0);

    const denied = await request(`${s.url}/cache`, { method: 'DELETE' });
    assert.equal(denied.status, 401, `DELETE without the key: ${denied.text}`);
    const wrong = await request(`${s.url}/cache`, { method: 'DELETE', headers: { authorization: 'Bearer sk-wrong' } });
    assert.equal(wrong.status, 401);
    assert.equal((await stats(s, auth)).entries, 1, 'a refused flush flushed nothing');

    const ok = await request(`${s.url}/cache`, { method: 'DELETE', headers: auth });
    assert.equal(ok.status, 200, ok.text);
    await pollUntil(async () => (await stats(s, auth)).entries === 0, { timeoutMs: 3000, what: 'an empty cache' });
    const after = await stats(s, auth);
    assert.equal(after.bytes, 0);
    const n = await mockCount();
    assertCache(await chat(s, k, auth), 'miss');
    assert.equal(await mockCount(), n + 1);
  } finally {
    await stopOk(s);
  }
});

// ------------------------------------------------------------------ a broken file

test('a garbage data.mdb is moved aside: sluice starts, serves, and caches again', async () => {
  const dataDir = path.join(mkTmpDir('sluice-cache-garbage-'), 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const garbage = crypto.randomBytes(256 * 1024);
  fs.writeFileSync(path.join(dataDir, 'data.mdb'), garbage);
  const s = await startCached({ workers: 2, args: ['--data-dir', dataDir] });
  try {
    const moved = s.lines.find((l) => /moved .*data\.mdb aside/.test(String(l.detail ?? '')));
    assert.ok(moved, `a log line says the file was moved aside\n${s.output()}`);
    const aside = fs.readdirSync(dataDir).filter((f) => f.startsWith('data.mdb.corrupt-'));
    assert.equal(aside.length, 1, `one file moved aside: ${fs.readdirSync(dataDir)}`);
    assert.ok(fs.readFileSync(path.join(dataDir, aside[0])).equals(garbage), 'the moved file is the garbage, kept');

    const k = chatReq('after-garbage');
    assertCache(await chat(s, k), 'miss');
    await waitEntries(s, 1);
    assertCache(await chat(s, k), 'hit');
    const st = await stats(s);
    assert.equal(st.broken, false);
  } finally {
    await stopOk(s);
  }
});

test('garbage written into data.mdb before start with the file the right size is moved aside too', async () => {
  // a real environment first, then its pages overwritten with random bytes
  const dataDir = path.join(mkTmpDir('sluice-cache-garbage2-'), 'data');
  const s0 = await startCached({ workers: 1, args: ['--data-dir', dataDir] });
  assertCache(await chat(s0, chatReq('pre-garbage')), 'miss');
  await waitEntries(s0, 1);
  await stopOk(s0);
  const file = path.join(dataDir, 'data.mdb');
  const size = fs.statSync(file).size;
  fs.writeFileSync(file, crypto.randomBytes(size));
  const s = await startCached({ workers: 2, args: ['--data-dir', dataDir] });
  try {
    assert.ok(s.lines.some((l) => /moved .*aside/.test(String(l.detail ?? ''))), `moved aside\n${s.output()}`);
    const k = chatReq('after-garbage2');
    assertCache(await chat(s, k), 'miss');
    await waitEntries(s, 1);
    assertCache(await chat(s, k), 'hit');
  } finally {
    await stopOk(s);
  }
});
