// The response cache is per virtual key by default: tenant B sending tenant A's prompt gets
// a miss (no `age`), so it cannot learn what A asked, or when. `cache_params.shared: true`
// opts in to one cache for every key; a key's metadata {"cache_shared": true} opts that key
// in to the shared scope. A request's `cache.ttl` (or x-sluice-cache-ttl,
// Cache-Control max-age) never stores an entry longer than `cache_params.ttl`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startSluice, cleanup, post, request, pollUntil, nonce } from './lib.mjs';
import { routerConfig } from './routing_lib.mjs';
import { MASTER, MASTER_AUTH, newKey } from './keys_lib.mjs';

const GROUP = 'mock-model';
let mock;
after(async () => {
  try {
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

async function start(cacheParams) {
  mock ??= await startMock(['--seed', '7']);
  return startSluice({
    yaml: routerConfig({
      groups: { [GROUP]: { port: mock.port } },
      litellm: { cache: true, cache_params: { type: 'local', ...cacheParams } },
      masterKey: MASTER,
    }),
    workers: 1,
  });
}

const body = (tag, extra = {}) => ({ model: GROUP, messages: [{ role: 'user', content: `secret plan ${tag}` }], ...extra });
const chat = (s, key, b) => post(`${s.url}/v1/chat/completions`, b, { authorization: `Bearer ${key}` });

async function entries(s) {
  const r = await request(`${s.url}/cache/stats`, { headers: MASTER_AUTH });
  assert.equal(r.status, 200, r.text);
  return r.json().entries;
}
const waitEntries = (s, n) => pollUntil(async () => (await entries(s)) >= n || null,
  { timeoutMs: 5000, what: `${n} committed cache entries` });

test('entries are per key by default: another key with the same prompt misses', async () => {
  const s = await start({ ttl: 3600 });
  try {
    const a = (await newKey(s.url)).key;
    const b = (await newKey(s.url)).key;
    const p = body(nonce('t'));
    const r1 = await chat(s, a, p);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const r2 = await chat(s, a, p);
    assert.equal(r2.headers['x-sluice-cache'], 'hit', 'the same key hits its own entry');
    const r3 = await chat(s, b, p);
    assert.equal(r3.status, 200, r3.text);
    assert.equal(r3.headers['x-sluice-cache'], 'miss', 'another key must not see the entry');
    assert.equal(r3.headers.age, undefined);
    // a namespace chosen by the client does not reach another key's entries either
    const q = body(nonce('ns'), { cache: { namespace: 'team' } });
    assert.equal((await chat(s, a, q)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 3); // p for a, p for b, q for a
    assert.equal((await chat(s, a, q)).headers['x-sluice-cache'], 'hit');
    const r4 = await chat(s, b, q);
    assert.equal(r4.headers['x-sluice-cache'], 'miss', 'the same namespace from another key misses');
    // the master key is its own scope too
    const r5 = await chat(s, MASTER, body(nonce('m')));
    assert.equal(r5.headers['x-sluice-cache'], 'miss');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a virtual key cannot flush or read the whole cache: the admin routes need the master key', async () => {
  const s = await start({ ttl: 3600 });
  try {
    const a = (await newKey(s.url)).key;
    const p = body(nonce('adm'));
    assert.equal((await chat(s, a, p)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const del = await request(`${s.url}/cache`, { method: 'DELETE', headers: { authorization: `Bearer ${a}` } });
    assert.equal(del.status, 403, del.text);
    assert.equal(del.json().error.code, 'admin_only');
    const st = await request(`${s.url}/cache/stats`, { headers: { authorization: `Bearer ${a}` } });
    assert.equal(st.status, 403, st.text);
    assert.equal(await entries(s), 1, 'nothing was flushed');
    assert.equal((await chat(s, a, p)).headers['x-sluice-cache'], 'hit');
    const ok = await request(`${s.url}/cache`, { method: 'DELETE', headers: MASTER_AUTH });
    assert.equal(ok.status, 200, ok.text);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('cache_params.shared: true shares entries across keys', async () => {
  const s = await start({ ttl: 3600, shared: true });
  try {
    const a = (await newKey(s.url)).key;
    const b = (await newKey(s.url)).key;
    const p = body(nonce('s'));
    assert.equal((await chat(s, a, p)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    const r = await chat(s, b, p);
    assert.equal(r.headers['x-sluice-cache'], 'hit');
    assert.match(r.headers.age ?? '', /^\d+$/);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('keys created with metadata {"cache_shared": true} share one scope; other keys stay apart', async () => {
  const s = await start({ ttl: 3600 });
  try {
    const c = (await newKey(s.url, { metadata: { cache_shared: true } })).key;
    const d = (await newKey(s.url, { metadata: { team: 'x', cache_shared: true } })).key;
    const e = (await newKey(s.url, { metadata: { cache_shared: false } })).key;
    const p = body(nonce('meta'));
    assert.equal((await chat(s, c, p)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    assert.equal((await chat(s, d, p)).headers['x-sluice-cache'], 'hit', 'an opted-in key shares');
    assert.equal((await chat(s, e, p)).headers['x-sluice-cache'], 'miss', 'a key that did not opt in does not');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('a request ttl above cache_params.ttl is capped to it', async () => {
  const s = await start({ ttl: 1 });
  try {
    const a = (await newKey(s.url)).key;
    const p = body(nonce('ttl'), { cache: { ttl: 1e15 } });
    assert.equal((await chat(s, a, p)).headers['x-sluice-cache'], 'miss');
    await waitEntries(s, 1);
    // stored for at most 1 s: within a few seconds the same request misses again
    const t0 = Date.now();
    await pollUntil(async () => (await chat(s, a, p)).headers['x-sluice-cache'] === 'miss' || null,
      { timeoutMs: 8000, intervalMs: 200, what: 'the entry to expire after cache_params.ttl' });
    assert.ok(Date.now() - t0 < 8000);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});
