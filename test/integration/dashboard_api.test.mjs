// The dashboard's JSON endpoints and event stream (GET /ui/api/..., spec in
// core/dashboard.h) against real sluice and sluice-mock processes: the master key only
// (401 without or with a wrong key, 403 for a virtual key), the numbers after known traffic
// (20 requests -> overview counts, the tail has them with their attempts), a failing
// deployment shown cooling down with its last error, a routed request with its router,
// reason and score, spend per key equal to the x-sluice-cost of its answers, no secret
// anywhere in any answer, the SSE stream delivering a request made after connecting
// within 2 s, and the stream closing cleanly when sluice gets SIGTERM.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startSluice, cleanup, toYaml, HOST, withDeadline } from './lib.mjs';
import { MASTER, MASTER_AUTH, call, micro } from './keys_lib.mjs';

after(cleanup);

const API_KEY = 'sk-mock-provider-secret-9f3a71';
const STRONG_PRICE = { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 };
const WEAK_PRICE = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 };
const ENDPOINTS = ['overview', 'deployments', 'requests', 'routing', 'spend', 'keys', 'cache', 'config'];

let good, bad, s, vkey;

function config() {
  const dep = (name, port, id, price) => ({
    model_name: name,
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: API_KEY },
    model_info: { id, ...price },
  });
  return toYaml({
    model_list: [
      dep('strong', good.port, 'strong-0', STRONG_PRICE),
      dep('weak', good.port, 'weak-0', WEAK_PRICE),
      dep('chat', good.port, 'chat-good', WEAK_PRICE),
      dep('chat', bad.port, 'chat-bad', WEAK_PRICE),
      { model_name: 'auto', litellm_params: { model: 'sluice_router/learned', strong_model: 'strong', weak_model: 'weak', threshold: 0 } },
    ],
    router_settings: { allowed_fails: 1, cooldown_time: 60, num_retries: 2 },
    general_settings: { master_key: MASTER },
    litellm_settings: { no_such_setting_here: true },
  });
}

const api = (path, headers = MASTER_AUTH) => call(s.url, `/ui/api/${path}`, { method: 'GET', headers });
async function apiJson(path) {
  const r = await api(path);
  assert.equal(r.status, 200, `GET /ui/api/${path}: ${r.status} ${r.text}`);
  assert.match(r.headers['content-type'], /application\/json/);
  return r.json();
}
const chat = (model, key = vkey, extra = {}) => call(s.url, '/v1/chat/completions', {
  body: { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra },
  headers: { authorization: `Bearer ${key}` },
});

/** A fetch()-read SSE stream (as the page reads it): events as {event, data}. */
async function openEvents(headers = MASTER_AUTH) {
  const ac = new AbortController();
  const res = await fetch(`${s.url}/ui/api/stream`, { headers, signal: ac.signal });
  const events = [];
  const waiters = [];
  let ended = false, buf = '';
  const pump = (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { event: null, data: null };
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          events.push(ev);
          for (const w of waiters.splice(0)) w();
        }
      }
      ended = 'clean';
    } catch (e) {
      ended = ac.signal.aborted ? 'aborted' : `error: ${e.message}`;
    }
    for (const w of waiters.splice(0)) w();
  })();
  const waitFor = (pred, ms, what) => withDeadline(new Promise((resolve) => {
    const check = () => {
      const e = events.find(pred);
      if (e) return resolve(e);
      if (ended) return resolve(null);
      waiters.push(check);
    };
    check();
  }), ms, what, () => `events: ${events.map((e) => e.event).join(',')}`);
  return { res, events, waitFor, pump, get ended() { return ended; }, close: () => ac.abort() };
}

before(async () => {
  good = await startMock(['--seed', '3', '--latency-ms', '3']);
  bad = await startMock(['--seed', '4', '--p-500', '1']);
  s = await startSluice({ yaml: config(), workers: 2 });
  const g = await call(s.url, '/key/generate', { body: { key_alias: 'dash-key' }, headers: MASTER_AUTH });
  assert.equal(g.status, 200, g.text);
  vkey = g.json().key;
});

test('every endpoint: 401 without a key and with a wrong one (OpenAI error shape), 403 for a virtual key', async () => {
  for (const e of [...ENDPOINTS, 'stream']) {
    for (const h of [{}, { authorization: 'Bearer sk-wrong' }]) {
      const r = await api(e, h);
      assert.equal(r.status, 401, `${e} ${JSON.stringify(h)}: ${r.status} ${r.text}`);
      const b = r.json();
      assert.equal(b.error.code, 'invalid_api_key', r.text);
      assert.equal(typeof b.error.message, 'string');
    }
    const v = await api(e, { authorization: `Bearer ${vkey}` });
    assert.equal(v.status, 403, `${e} with a virtual key: ${v.text}`);
  }
});

test('20 requests: overview counts them, the tail has them newest first with attempts, spend per key = sum of x-sluice-cost', async () => {
  const ids = [];
  let cost = 0;
  for (let i = 0; i < 20; i++) {
    const r = await chat('weak');
    assert.equal(r.status, 200, r.text);
    ids.push(r.headers['x-request-id']);
    cost += micro(r.headers['x-sluice-cost']);
  }
  assert.ok(cost > 0, 'priced answers cost something');
  const ov = await apiJson('overview');
  const weak = ov.groups.find((g) => g.group === 'weak');
  assert.equal(weak.requests, 20, JSON.stringify(weak));
  assert.equal(weak.errors, 0);
  assert.equal(weak.error_pct, 0);
  assert.ok(weak.latency_ms.p50 <= weak.latency_ms.p95 && weak.latency_ms.p95 <= weak.latency_ms.p99, JSON.stringify(weak));
  assert.ok(weak.rps > 0 && weak.tokens_per_s > 0 && weak.usd_per_hour > 0, JSON.stringify(weak));
  assert.ok(Math.abs(weak.cost_usd * 1e6 - cost) < 1, `window cost ${weak.cost_usd} vs ${cost} micro-USD`);
  assert.ok(ov.total.requests >= 20, JSON.stringify(ov.total));
  assert.ok(ov.window_s > 0 && ov.window_s <= 60);
  assert.ok(ov.since_start.requests >= 20);

  const t = await apiJson('requests?key=dash-key&group=weak&limit=20');
  assert.equal(t.requests.length, 20);
  assert.deepEqual(t.requests.map((r) => r.id), [...ids].reverse(), 'newest first, exactly the 20');
  const seqs = t.requests.map((r) => r.seq);
  assert.ok(seqs.every((q, i) => i === 0 || q < seqs[i - 1]), 'seq decreases');
  for (const r of t.requests) {
    assert.equal(r.status, 200);
    assert.equal(r.group, 'weak');
    assert.equal(r.key, 'dash-key');
    assert.equal(r.path, '/v1/chat/completions');
    assert.equal(r.attempts.length, 1, JSON.stringify(r));
    assert.equal(r.attempts[0].deployment, 'weak-0');
    assert.equal(r.attempts[0].outcome, 'ok');
    assert.equal(r.attempts[0].status, 200);
    assert.ok(r.attempts[0].start_ms >= 0 && r.attempts[0].duration_ms >= 0);
    assert.ok(r.tokens_in > 0 && r.tokens_out > 0 && r.cost_usd > 0);
    assert.ok(r.latency_ms >= r.attempts[0].duration_ms);
    assert.equal(r.router, null);
    assert.equal(r.cache, 'none');
  }
  const only5 = await apiJson('requests?key=dash-key&limit=5');
  assert.equal(only5.requests.length, 5);
  const after = await apiJson(`requests?after=${t.requests[1].seq}&key=dash-key`);
  assert.deepEqual(after.requests.map((r) => r.id), [ids[19]], 'after= is a cursor');
  assert.equal((await apiJson('requests?status=5xx&group=weak')).requests.length, 0);
  for (const bad of ['limit=0', 'limit=501', 'limit=x', 'status=abc', 'after=-1']) {
    const r = await api(`requests?${bad}`);
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
  }

  // spend: the key's spend equals what its answers said they cost
  const sp = await apiJson('spend');
  const k = sp.by_key.find((x) => x.key === 'dash-key');
  assert.ok(k, JSON.stringify(sp.by_key));
  assert.equal(Math.round(k.spend_usd * 1e6), cost, `spend ${k.spend_usd} vs x-sluice-cost sum ${cost}`);
  assert.match(k.token, /^[0-9a-f]{64}$/);
  const g = sp.by_group.find((x) => x.group === 'weak');
  assert.equal(Math.round(g.spend_usd * 1e6), cost);
  assert.equal(sp.by_day.length, 30);
  assert.ok(Math.round(sp.by_day.at(-1).spend_usd * 1e6) >= cost);
  assert.equal((await api('spend?days=0')).status, 400);

  // keys: live window usage against the key's limits
  const ks = await apiJson('keys');
  const key = ks.keys.find((x) => x.key_alias === 'dash-key');
  assert.ok(key, JSON.stringify(ks));
  assert.ok(key.rpm.used >= 20 || key.rpm.used === 0, JSON.stringify(key.rpm)); // 0 only across a minute boundary
  assert.equal(key.rpm.limit, null);
  assert.equal(key.blocked, false);
  assert.equal(key.expired, false);
  assert.equal(Math.round(key.spend_usd * 1e6), cost);
  assert.deepEqual(ks.actions, { generate: 'POST /key/generate', delete: 'POST /key/delete', block: 'POST /key/block', unblock: 'POST /key/unblock' });
});

test('a failing deployment shows cooling_down with time left and its last error; the tail shows the retry', async () => {
  let retried = null;
  for (let i = 0; i < 12 && !retried; i++) {
    const r = await chat('chat');
    assert.equal(r.status, 200, r.text);
    if (r.headers['x-sluice-attempts'] === '2') retried = r.headers['x-request-id'];
  }
  assert.ok(retried, 'some request met the failing deployment first');
  // more failures than allowed_fails put it in cooldown (the requests themselves succeed)
  let d, b;
  for (let i = 0; i < 40; i++) {
    d = await apiJson('deployments');
    b = d.deployments.find((x) => x.id === 'chat-bad');
    if (b.state === 'cooling_down') break;
    assert.equal((await chat('chat')).status, 200);
  }
  const g = d.deployments.find((x) => x.id === 'chat-good');
  assert.equal(b.state, 'cooling_down', JSON.stringify(b));
  assert.ok(b.cooldown_left_ms > 0 && b.cooldown_left_ms <= 60000, JSON.stringify(b));
  assert.equal(b.group, 'chat');
  assert.equal(b.provider, 'openai');
  assert.equal(b.last_error.status, 500, JSON.stringify(b.last_error));
  assert.equal(b.last_error.outcome, 'http_500');
  assert.equal(g.state, 'healthy');
  assert.equal(g.last_error, null);
  assert.ok(g.ewma_latency_ms > 0, JSON.stringify(g));
  assert.equal(g.rpm.limit, null);
  const t = await apiJson('requests?group=chat&limit=50');
  const r = t.requests.find((x) => x.id === retried);
  assert.ok(r, 'the retried request is in the tail');
  assert.deepEqual(r.attempts.map((a) => [a.deployment, a.outcome]), [['chat-bad', 'http_500'], ['chat-good', 'ok']]);
  assert.ok(r.attempts[1].start_ms >= r.attempts[0].start_ms);
  assert.equal(r.status, 200);
  const errs = await apiJson('requests?status=error');
  assert.ok(errs.requests.every((x) => x.status >= 400 || x.status === 0));
});

test('a routed request shows its router, reason and score; routing shows the shares and the strongest-target cost', async () => {
  const r = await chat('auto');
  assert.equal(r.status, 200, r.text);
  const id = r.headers['x-request-id'];
  const t = await apiJson('requests?group=auto');
  const x = t.requests.find((q) => q.id === id);
  assert.ok(x, JSON.stringify(t.requests.map((q) => q.id)));
  assert.equal(x.router.name, 'auto');
  assert.equal(x.router.reason, r.headers['x-sluice-router-reason'] ?? x.router.reason);
  assert.equal(typeof x.router.score, 'number');
  assert.equal(x.model_group, 'auto');
  assert.ok(['strong', 'weak'].includes(x.group), JSON.stringify(x));
  const rt = await apiJson('routing');
  const a = rt.routers.find((q) => q.name === 'auto');
  assert.equal(a.kind, 'learned');
  assert.equal(a.requests, 1);
  assert.equal(a.targets.length, 1);
  assert.equal(a.targets[0].group, x.group);
  assert.equal(a.targets[0].share, 1);
  assert.ok(a.strongest.cost_usd >= a.spend_usd, JSON.stringify(a));
  assert.equal(a.strongest.group, 'strong');
  assert.ok('eval' in a);
});

test('config has no secret anywhere, shows the ignored key with FILE:LINE and the reload route; cache has stats', async () => {
  for (const e of ENDPOINTS) {
    const r = await api(e);
    assert.equal(r.status, 200, `${e}: ${r.text}`);
    assert.ok(!r.text.includes(API_KEY), `${e} leaks the provider api_key`);
    assert.ok(!r.text.includes(MASTER), `${e} leaks the master key`);
    assert.ok(!r.text.includes(vkey), `${e} leaks a virtual key`);
  }
  const c = await apiJson('config');
  assert.ok(c.config.model_list.some((m) => m.litellm_params.api_key === '***'), JSON.stringify(c.config.model_list[0]));
  assert.equal(c.config.general_settings.master_key, '***');
  assert.equal(typeof c.generation, 'number');
  assert.equal(c.reload, 'POST /config/reload');
  const ig = c.ignored.find((w) => w.warning.includes('no_such_setting_here'));
  assert.ok(ig, JSON.stringify(c.ignored));
  assert.match(ig.where, /config\.yaml:\d+$/);
  const cc = await apiJson('cache');
  assert.equal(typeof cc.stats, 'object');
  assert.equal(cc.flush, 'DELETE /cache');
});

test('the stream: hello at once, a request made after connecting arrives within 2 s, overview and deployments every second', async () => {
  const ev = await openEvents();
  assert.equal(ev.res.status, 200);
  assert.match(ev.res.headers.get('content-type'), /text\/event-stream/);
  const hello = await ev.waitFor((e) => e.event === 'hello', 2000, 'hello');
  assert.equal(typeof hello.data.cursor, 'number');
  const r = await chat('weak');
  const id = r.headers['x-request-id'];
  const t0 = Date.now();
  const got = await ev.waitFor((e) => e.event === 'requests' && e.data.requests.some((q) => q.id === id), 2500, 'the request');
  assert.ok(got, `the stream delivered ${id}`);
  assert.ok(Date.now() - t0 <= 2000, `within 2 s (${Date.now() - t0} ms)`);
  const ov = await ev.waitFor((e) => e.event === 'overview', 2000, 'overview');
  assert.ok(ov.data.groups.some((g) => g.group === 'weak'));
  const dp = await ev.waitFor((e) => e.event === 'deployments', 2000, 'deployments');
  assert.ok(dp.data.deployments.some((d) => d.id === 'weak-0'));
  // a request is sent once on this stream
  await ev.waitFor((e) => e.event === 'requests' && e !== got, 2500, 'the next requests event');
  const n = ev.events.filter((e) => e.event === 'requests').flatMap((e) => e.data.requests).filter((q) => q.id === id).length;
  assert.equal(n, 1);
  const all = JSON.stringify(ev.events);
  assert.ok(!all.includes(API_KEY) && !all.includes(MASTER) && !all.includes(vkey), 'no secret in the stream');
  ev.close();
  await ev.pump;
  // the dashboard's own calls are not in the tail
  const t = await apiJson('requests?limit=500');
  assert.ok(t.requests.every((q) => !q.path.startsWith('/ui')), 'no /ui calls in the tail');
});

test('stream connections end cleanly on SIGTERM, and sluice exits promptly', async () => {
  const evs = [await openEvents(), await openEvents()];
  for (const ev of evs) await ev.waitFor((e) => e.event === 'hello', 2000, 'hello');
  const t0 = Date.now();
  s.proc.kill('SIGTERM');
  for (const ev of evs) {
    await withDeadline(ev.pump, 5000, 'the stream ends');
    assert.equal(ev.ended, 'clean', `the stream ended with the chunked terminator: ${ev.ended}`);
  }
  await withDeadline(s.exitPromise, 10000, 'sluice exits');
  assert.ok(Date.now() - t0 < 10000);
  assert.equal(s.exitCode, 0, s.stderr.slice(-2000));
});
