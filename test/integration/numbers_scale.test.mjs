// The limiter table at scale (issue 11.11) and counters across reloads (11.14):
// 10,000+ virtual keys each get their own rate limit (the table is sized from
// sluice_settings.max_keys, default 50,000), a table that is full refuses a new key with
// 503 key_table_full instead of serving it unlimited, and Prometheus counters never go
// down across SIGHUP reloads under load.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startSluice, cleanup, request, assertOpenAIError, pollUntil } from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import { pricedConfig, newKey, chat, admin, roomInMinute } from './keys_lib.mjs';

after(cleanup);

test('10,050 keys: the 10,000th key\'s rpm_limit is enforced', async (t) => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 2 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const N = 10050, LIMITED = 9999;
  const t0 = Date.now();
  const keys = await runLoad(N, 8, async (i) => {
    const r = await admin(s.url).generate(i === LIMITED ? { rpm_limit: 3, key_alias: 'the-10000th' } : {});
    assert.equal(r.status, 200, r.text);
    return r.body.key;
  });
  t.diagnostic(`${N} keys generated in ${Date.now() - t0} ms`);
  // every other key takes its slot in the shared table first
  const t1 = Date.now();
  const others = await runLoad(N, 8, (i) => (i === LIMITED ? { status: 200 } : chat(s.url, keys[i], 'm', { agent })));
  t.diagnostic(`${N} requests in ${Date.now() - t1} ms`);
  const bad = others.filter((r) => r.status !== 200);
  assert.equal(bad.length, 0, `keys without limits are served: ${bad.slice(0, 2).map((r) => `${r.status} ${r.text}`)}`);
  await roomInMinute(20);
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push(await chat(s.url, keys[LIMITED], 'm', { agent }));
  agent.destroy();
  assert.deepEqual(seen.map((r) => r.status), [200, 200, 200, 429], seen.map((r) => r.text).join('\n'));
  assertOpenAIError(seen[3].text, { code: 'rate_limit_exceeded', messageIncludes: ['the-10000th', 'rpm_limit'] });
  assert.equal(seen[0].headers['x-ratelimit-limit-requests'], '3');
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('a full key table refuses a new key with 503 key_table_full, never serves it unlimited', async () => {
  const mock = await startMock();
  // 4 entries: the gateway and the group "m" take two, so two keys fit
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }, { settings: { max_keys: 4 } }), workers: 2 });
  const keys = [];
  for (let i = 0; i < 4; i++) keys.push((await newKey(s.url, { rpm_limit: 100 })).key);
  const st = [];
  for (const k of keys) st.push(await chat(s.url, k, 'm'));
  assert.deepEqual(st.map((r) => r.status), [200, 200, 503, 503], st.map((r) => r.text).join('\n'));
  assertOpenAIError(st[2].text, { code: 'key_table_full', messageIncludes: 'max_keys' });
  assert.ok(Number(st[2].headers['retry-after']) >= 1);
  assert.equal((await mock.stats()).requests, 2, 'a refused key reached no provider');
  // the keys that have a slot keep working
  assert.equal((await chat(s.url, keys[0], 'm')).status, 200);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

/** Sums per counter family of a /metrics text (every *_total and histogram _count). */
function counters(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    if (!name.endsWith('_total') && !name.endsWith('_count')) continue;
    out.set(name, (out.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

test('SIGHUP under load: every counter after a reload is >= what it was before', async (t) => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }, { masterKey: null }), workers: 2 });
  const agent = new http.Agent({ keepAlive: false });
  let stop = false, sent = 0;
  const load = runLoad(4, 4, async () => {
    const deadline = Date.now() + 60000;
    while (!stop && sent < 3000 && Date.now() < deadline) {
      sent++;
      await chat(s.url, 'none', 'm', { agent });
    }
  });
  await pollUntil(() => sent >= 100, { timeoutMs: 15000, what: '100 requests before the first reload' });
  let prev = counters((await request(`${s.url}/metrics`)).text);
  assert.ok((prev.get('sluice_requests_total') ?? 0) > 0);
  for (let gen = 1; gen <= 2; gen++) {
    const mark = s.lines.length;
    s.proc.kill('SIGHUP');
    await s.waitLine((l) => l.msg === 'reloaded' && s.lines.indexOf(l) >= mark, 15000, `reload ${gen}`);
    // scrape through new connections while the old generation drains and after it stopped
    for (let i = 0; i < 6; i++) {
      const now = counters((await request(`${s.url}/metrics`)).text);
      for (const [name, v] of prev) {
        assert.ok((now.get(name) ?? 0) >= v, `${name} went down across reload ${gen}: ${v} -> ${now.get(name)}`);
      }
      prev = now;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  stop = true;
  await load;
  await pollUntil(() => s.lines.filter((l) => l.msg === 'generation stopped').length >= 2,
    { timeoutMs: 20000, what: 'both old generations stopped' });
  const end = counters((await request(`${s.url}/metrics`)).text);
  // every request was answered and counted once, whichever generation served it
  t.diagnostic(`${sent} requests, sluice_requests_total ${end.get('sluice_requests_total')}`);
  assert.equal(end.get('sluice_requests_total'), sent);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});
