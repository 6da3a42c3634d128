// The semantic cache (litellm_settings.cache_params.type: semantic) against real sluice
// and a mock provider: a paraphrase above similarity_threshold is served from the stored
// answer (x-sluice-cache: semantic, x-sluice-cache-similarity, the mock not called
// again), an unrelated prompt misses, the threshold holds both ways at its boundary
// (measured, then restarted on the same data dir just above and just below), a stream
// is replayed from a semantic hit, another virtual key never gets the first key's
// answer, and different non-message parameters (temperature) never match. The in-process
// embedder (hashed n-grams) is used: no embeddings provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  startMock, startSluice, cleanup, post, request, openStream, sseData, pollUntil, mkTmpDir,
} from './lib.mjs';
import { routerConfig } from './routing_lib.mjs';
import { MASTER, MASTER_AUTH, newKey } from './keys_lib.mjs';

const CHAT = '/v1/chat/completions';
const GROUP = 'mock-model';

let mock;
before(async () => { mock = await startMock(['--seed', '5']); });
after(async () => {
  try {
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

function yaml({ threshold = 0.8, type = 'semantic', masterKey } = {}) {
  return routerConfig({
    groups: { [GROUP]: { port: mock.port } },
    litellm: { cache: true, cache_params: { type, ttl: 3600, similarity_threshold: threshold } },
    masterKey,
  });
}

const start = (o = {}) => startSluice({ yaml: yaml(o), workers: 1, args: o.dataDir ? ['--data-dir', o.dataDir] : [] });
const body = (content, extra = {}) => ({ model: GROUP, messages: [{ role: 'user', content }], ...extra });
const chat = (s, b, headers = {}) => post(`${s.url}${CHAT}`, b, headers);
const mockCalls = async () => (await mock.stats()).requests;

/** Waits until n answers and n prompt vectors are stored (both are written off the loop:
 *  the exact cache's writer thread, the vector append on the thread pool). */
async function waitEntries(s, n) {
  return pollUntil(async () => {
    const r = await request(`${s.url}/cache/stats`, { headers: MASTER_AUTH });
    const st = r.status === 200 ? r.json() : null;
    return st && st.entries >= n && st.semantic?.vectors >= n ? st : null;
  }, { timeoutMs: 5000, intervalMs: 20, what: `${n} committed cache entries and prompt vectors` });
}

let tag = 0;
/** A prompt and its paraphrase (the same words, reordered), unique to this run. */
function pair() {
  const t = `zq${process.pid}x${++tag}`;
  return [
    `What is the capital city of France ${t}? Please answer in one short sentence.`,
    `Please answer in one short sentence: what is the capital city of France ${t}?`,
  ];
}

test('a paraphrase hits (semantic, with its similarity), an unrelated prompt misses', async () => {
  const s = await start({ masterKey: MASTER });
  try {
    const [p, q] = pair();
    const r1 = await chat(s, body(p), MASTER_AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const calls = await mockCalls();
    const r2 = await chat(s, body(q), MASTER_AUTH);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'semantic');
    const sim = Number(r2.headers['x-sluice-cache-similarity']);
    assert.match(r2.headers['x-sluice-cache-similarity'], /^[01]\.\d{4}$/);
    assert.ok(sim >= 0.8 && sim < 1, `similarity ${sim}`);
    assert.match(r2.headers.age ?? '', /^\d+$/);
    assert.deepEqual(r2.json().choices, r1.json().choices, 'the stored answer is served');
    assert.equal(await mockCalls(), calls, 'the mock was not called again');
    const r3 = await chat(s, body(`Write a haiku about autumn leaves ${tag} falling in a quiet forest.`), MASTER_AUTH);
    assert.equal(r3.headers['x-sluice-cache'], 'miss');
    assert.equal(r3.headers['x-sluice-cache-similarity'], undefined);
    assert.equal(await mockCalls(), calls + 1);
    // the exact prompt is still an exact hit
    assert.equal((await chat(s, body(p), MASTER_AUTH)).headers['x-sluice-cache'], 'hit');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('the threshold holds at its boundary both ways; vectors outlive a restart', async () => {
  const [p, q] = pair();
  /** Stores p on a fresh data dir at this threshold, then asks q: its x-sluice-cache. */
  async function ask(threshold, dataDir = path.join(mkTmpDir('sluice-semcache-'), 'data')) {
    const s = await start({ threshold, dataDir });
    try {
      assert.equal((await chat(s, body(p))).headers['x-sluice-cache'], 'miss');
      await waitEntries(s, 1);
      const calls = await mockCalls();
      const r = await chat(s, body(q));
      assert.equal(await mockCalls(), calls + (r.headers['x-sluice-cache'] === 'semantic' ? 0 : 1));
      return { state: r.headers['x-sluice-cache'], sim: Number(r.headers['x-sluice-cache-similarity']) };
    } finally {
      assert.equal(await s.stop(), 0);
    }
  }
  const first = await ask(0.5); // measure the paraphrase's similarity
  assert.equal(first.state, 'semantic');
  const sim = first.sim;
  assert.ok(sim > 0.6 && sim < 0.9995, `similarity ${sim}`);
  assert.equal((await ask(sim + 0.0005)).state, 'miss', `just above ${sim}`);
  const dataDir = path.join(mkTmpDir('sluice-semcache-'), 'data');
  const below = await ask(sim - 0.0005, dataDir);
  assert.equal(below.state, 'semantic', `just below ${sim}`);
  assert.equal(below.sim, sim);
  // a restart on the same data dir reads the vectors back (q itself was never stored)
  const s = await start({ threshold: sim - 0.0005, dataDir });
  try {
    const r = await chat(s, body(q));
    assert.equal(r.headers['x-sluice-cache'], 'semantic');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a stream is replayed from a semantic hit', async () => {
  const s = await start();
  try {
    const [p, q] = pair();
    const r1 = await chat(s, body(p));
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const calls = await mockCalls();
    const st = await openStream(`${s.url}${CHAT}`, { body: body(q, { stream: true }) });
    assert.equal(st.status, 200);
    assert.equal(st.headers['x-sluice-cache'], 'semantic');
    assert.ok(Number(st.headers['x-sluice-cache-similarity']) >= 0.8);
    await st.waitEnd();
    const events = sseData(st.text);
    assert.equal(events.at(-1), '[DONE]');
    const text = events.slice(0, -1).map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, r1.json().choices[0].message.content, 'the replay says the stored answer');
    assert.equal(await mockCalls(), calls);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('another virtual key does not get the first key\'s answer', async () => {
  const s = await start({ masterKey: MASTER });
  try {
    const a = { authorization: `Bearer ${(await newKey(s.url)).key}` };
    const b = { authorization: `Bearer ${(await newKey(s.url)).key}` };
    const [p, q] = pair();
    assert.equal((await chat(s, body(p), a)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    assert.equal((await chat(s, body(q), b)).headers['x-sluice-cache'], 'miss', 'key b must not see a\'s answer');
    assert.equal((await chat(s, body(q), a)).headers['x-sluice-cache'], 'semantic', 'key a hits its own');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('different non-message parameters do not match', async () => {
  const s = await start();
  try {
    const [p, q] = pair();
    assert.equal((await chat(s, body(p, { temperature: 0.2 }))).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    assert.equal((await chat(s, body(q, { temperature: 0.7 }))).headers['x-sluice-cache'], 'miss');
    assert.equal((await chat(s, body(q, { temperature: 0.2, max_tokens: 50 }))).headers['x-sluice-cache'], 'miss');
    assert.equal((await chat(s, body(q, { temperature: 0.2 }))).headers['x-sluice-cache'], 'semantic');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('LiteLLM\'s redis-semantic is accepted (vectors in sluice\'s store) and works', async () => {
  const s = await start({ type: 'redis-semantic' });
  try {
    assert.match(s.output(), /redis-semantic.*LMDB store/);
    const [p, q] = pair();
    assert.equal((await chat(s, body(p))).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    assert.equal((await chat(s, body(q))).headers['x-sluice-cache'], 'semantic');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('prompt vectors from an embeddings group (through sluice itself): a paraphrase hits; the group down is a plain miss', async () => {
  const emb = await startMock(['--seed', '6']);
  let s;
  try {
    const cfg = (group) => routerConfig({
      groups: {
        [GROUP]: { port: mock.port },
        emb: { port: emb.port, model: 'openai/hash-embed' },
        'emb-down': { port: 9, model: 'openai/hash-embed' },
      },
      litellm: {
        cache: true,
        cache_params: { type: 'redis-semantic', ttl: 3600, similarity_threshold: 0.8, redis_semantic_cache_embedding_model: group },
      },
      masterKey: MASTER,
    });
    s = await startSluice({ yaml: cfg('emb'), workers: 1 });
    const [p, q] = pair();
    const before = (await emb.stats()).requests;
    const r1 = await chat(s, body(p), MASTER_AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const r2 = await chat(s, body(q), MASTER_AUTH);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'semantic', 'the lookup waited for the group\'s embedding');
    assert.deepEqual(r2.json().choices, r1.json().choices);
    assert.ok((await emb.stats()).requests >= before + 2, 'each prompt was embedded by the embeddings group');
    await s.stop();
    s = null;
    // the embeddings group unreachable: every lookup is a miss, the answer still comes
    s = await startSluice({ yaml: cfg('emb-down'), workers: 1 });
    const r3 = await chat(s, body(pair()[0]), MASTER_AUTH);
    assert.equal(r3.status, 200, r3.text);
    assert.equal(r3.headers['x-sluice-cache'], 'miss');
  } finally {
    if (s) await s.stop();
    await emb.stop();
  }
});
