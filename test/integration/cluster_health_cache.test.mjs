// Cluster mode, health and cache (core/cluster_health.c, core/cluster_cache.c) with a real
// redis-server and several sluice instances: a deployment's 429 (with Retry-After) on
// host A cools it down on host B before B ever calls it; after the cooldown exactly one
// host of three sends the half-open probe, and its success reopens the deployment on every
// host; a cache fill on host A (whole and streamed) is a hit on host B with the upstream
// called once, per virtual key; with Redis down, cache lookups are plain misses that go
// upstream, without errors; DELETE /cache on one host empties the Redis tier and every
// host's local cache (this host's only when Redis is down, and the answer says so).
//
// Deployments use `order` so that the one under test is the first choice whenever it is
// usable: a request that avoids it shows the cooldown, one that reaches it shows a probe.
// Waits are bounded polls on what each host exposes (/metrics, the mocks' counters, the
// Redis server's own state); the only clock waits are for a cooldown to run out.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, sluiceConfig, cleanup, post, request, openStream, sseData, pollUntil, nonce, HOST, delay,
} from './lib.mjs';
import { restartMock, counts } from './routing_lib.mjs';
import { startRedis } from './cluster_lib.mjs';

const CHAT = '/v1/chat/completions';
const MASTER = 'sk-cluster-hc-master';
const AUTH = { authorization: `Bearer ${MASTER}` };

after(async () => { await cleanup(); });

// ------------------------------------------------------------------ helpers

async function metrics(s) {
  const r = await request(`${s.url}/metrics`, { headers: AUTH });
  assert.equal(r.status, 200, `GET /metrics: ${r.status} ${r.text}`);
  return r.text;
}

/** The value of one series (name with its labels, as printed); 0 when absent. */
function metric(text, series) {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** Resolves once every worker of host s has its Redis connections up. */
async function waitUp(s, r, ns = 'sluice') {
  await pollUntil(async () => metric(await metrics(s), 'sluice_cluster_redis_up') === 1 || null,
    { timeoutMs: 10000, what: `host ${s.port}: sluice_cluster_redis_up 1\n${s.output()}` });
  // and its subscriber connections are subscribed (pub/sub messages reach it)
  await pollUntil(async () => {
    const out = await r.cmd('PUBSUB', 'NUMSUB', `${ns}:health`);
    return Number(out[1]) >= 1 || null;
  }, { timeoutMs: 10000, what: `a subscriber on ${ns}:health` });
}

/** One sluice host per instance name, on the same model list and Redis (named by
 *  general_settings.coordination_redis when `redis`, else by litellm's cache_params).
 *  timeout: sluice_settings.cluster.timeout; 1 s by default so that a loaded test machine
 *  does not turn Redis replies into timeouts (null: sluice's default, 100 ms). */
async function startHosts(names, { groups, router = {}, litellm, redis, workers = 1, timeout = '1s' }) {
  const hosts = [];
  for (const name of names) {
    const general_settings = { master_key: MASTER };
    if (redis) general_settings.coordination_redis = { host: HOST, port: redis.port };
    const extra = { general_settings };
    if (Object.keys(router).length) extra.router_settings = router;
    if (litellm) extra.litellm_settings = litellm;
    const cluster = { instance: name };
    if (timeout) cluster.timeout = timeout;
    const yaml = sluiceConfig({ groups, settings: { cluster }, extra });
    hosts.push(await startSluice({ yaml, workers }));
  }
  return hosts;
}

function dep(r) { return r.headers['x-sluice-deployment']; }

/** Stops every process (all of them, even after a failure); then throws the first failure:
 *  a sanitizer report, or a sluice host that did not exit 0 on SIGTERM. */
async function stopAll(...ps) {
  let first = null;
  for (const p of ps) {
    if (!p || p.exited) continue;
    try {
      const code = await p.stop();
      if (p.ready) assert.equal(code, 0, `sluice exit code after SIGTERM\n${p.output()}`);
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}

// ------------------------------------------------------------------ health

test('a 429 with Retry-After on host A cools the deployment down on host B: B never calls it', async () => {
  const redis = await startRedis();
  const storm = await startMock(['--p-429', '1', '--retry-after', '20', '--seed', '3']);
  const calm = await startMock(['--seed', '4']);
  const groups = { r: [
    { port: storm.port, order: 1, model_info: { id: 'storm' } },
    { port: calm.port, order: 2, model_info: { id: 'calm' } },
  ] };
  // cooldown_time far below Retry-After: a cooldown longer than it shows the Retry-After travelled
  // two workers each: every worker hears the message (shared memory makes it one cooldown per host)
  const [a, b] = await startHosts(['host-a', 'host-b'], { groups, router: { cooldown_time: 1, allowed_fails: 100 }, redis, workers: 2 });
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    await pollUntil(async () => Number((await redis.cmd('PUBSUB', 'NUMSUB', 'sluice:health'))[1]) >= 4 || null,
      { timeoutMs: 10000, what: 'both hosts\' workers subscribed' });
    // A: the storm deployment is the first choice: 429, retried on calm.
    const r1 = await post(`${a.url}${CHAT}`, { model: 'r', messages: [{ role: 'user', content: nonce('a') }] }, AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(dep(r1), 'calm');
    assert.deepEqual(await counts(storm, calm), [1, 1]);
    // B hears of it: its own gauge says the storm deployment cools down.
    await pollUntil(async () => /sluice_deployment_healthy\{[^}]*deployment="storm"[^}]*\} 0/.test(await metrics(b)) || null,
      { timeoutMs: 5000, what: `host B cooling "storm" down\n${b.output()}` });
    const mb = await metrics(b);
    assert.ok(metric(mb, 'sluice_cluster_cooldowns_applied_total') >= 1, mb);
    assert.ok(metric(await metrics(a), 'sluice_cluster_cooldowns_published_total') >= 1);
    // B's requests go to calm at once, without trying storm; A's too.
    for (let i = 0; i < 10; i++) {
      const r = await post(`${(i % 2 ? a : b).url}${CHAT}`, { model: 'r', messages: [{ role: 'user', content: nonce('b') }] }, AUTH);
      assert.equal(r.status, 200, r.text);
      assert.equal(dep(r), 'calm');
      assert.equal(r.headers['x-sluice-attempts'], '1', 'the cooled deployment was not even tried');
    }
    assert.equal((await counts(storm))[0], 1, 'the 429ing deployment got one request in the whole cluster');
    // The cooldown B applied is the Retry-After (20 s), not cooldown_time (1 s).
    await delay(1500);
    const r = await post(`${b.url}${CHAT}`, { model: 'r', messages: [{ role: 'user', content: nonce('c') }] }, AUTH);
    assert.equal(dep(r), 'calm');
    assert.equal((await counts(storm))[0], 1, 'still cooling after cooldown_time: the Retry-After was honoured on B');
  } finally {
    await stopAll(a, b, storm, calm);
    await redis.kill();
  }
});

test('after a cooldown, one host of three sends the probe; its success reopens the deployment everywhere', async () => {
  const redis = await startRedis();
  const RA = 2;
  let flaky = await startMock(['--p-429', '1', '--retry-after', String(RA), '--seed', '5']);
  const twin = await startMock(['--seed', '6']);
  const groups = { p: [
    { port: flaky.port, order: 1, model_info: { id: 'flaky' } },
    { port: twin.port, order: 2, model_info: { id: 'twin' } },
  ] };
  const hosts = await startHosts(['h1', 'h2', 'h3'], { groups, router: { cooldown_time: 30, allowed_fails: 100 }, redis });
  try {
    for (const h of hosts) await waitUp(h, redis);
    await pollUntil(async () => Number((await redis.cmd('PUBSUB', 'NUMSUB', 'sluice:health'))[1]) >= 3 || null,
      { timeoutMs: 10000, what: 'three hosts subscribed' });
    const t0 = Date.now();
    const r1 = await post(`${hosts[0].url}${CHAT}`, { model: 'p', messages: [{ role: 'user', content: nonce('p') }] }, AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(dep(r1), 'twin');
    // every host cools it down for Retry-After
    for (const h of hosts.slice(1)) {
      await pollUntil(async () => /sluice_deployment_healthy\{[^}]*deployment="flaky"[^}]*\} 0/.test(await metrics(h)) || null,
        { timeoutMs: 5000, what: `host ${h.port} cooling "flaky" down` });
    }
    // It recovers (slow answers: the probe is still in flight when the other hosts decide).
    flaky = await restartMock(flaky, ['--latency-ms', '800', '--seed', '5']);
    // The cooldown runs out on every host (each claimed the probe a little before).
    const left = t0 + RA * 1000 + 400 - Date.now();
    if (left > 0) await delay(left);
    const burst = await Promise.all(hosts.map((h) =>
      post(`${h.url}${CHAT}`, { model: 'p', messages: [{ role: 'user', content: nonce('burst') }] }, AUTH)));
    for (const r of burst) assert.equal(r.status, 200, r.text);
    const toFlaky = burst.filter((r) => dep(r) === 'flaky').length;
    assert.equal((await counts(flaky))[0], 1, `one probe in the cluster (deployments: ${burst.map(dep)})`);
    assert.equal(toFlaky, 1, `the probe's request was answered by it: ${burst.map(dep)}`);
    let won = 0, lost = 0;
    for (const h of hosts) {
      const m = await metrics(h);
      won += metric(m, 'sluice_cluster_probe_claims_total{result="won"}');
      lost += metric(m, 'sluice_cluster_probe_claims_total{result="lost"}');
    }
    assert.equal(won, 1, 'one host won the claim');
    assert.equal(lost, 2, 'the two others lost it');
    // The probe succeeded: every host uses the deployment again, without waiting for the claim to expire.
    for (const h of hosts) {
      await pollUntil(async () => {
        const r = await post(`${h.url}${CHAT}`, { model: 'p', messages: [{ role: 'user', content: nonce('after') }] }, AUTH);
        assert.equal(r.status, 200, r.text);
        return dep(r) === 'flaky' || null;
      }, { timeoutMs: 5000, intervalMs: 50, what: `host ${h.port} routing to "flaky" again` });
    }
  } finally {
    await stopAll(...hosts, flaky, twin);
    await redis.kill();
  }
});

test('Redis down: each host cools down on its own (as a single host), no client errors', async () => {
  const redis = await startRedis();
  const storm = await startMock(['--p-429', '1', '--retry-after', '20', '--seed', '7']);
  const calm = await startMock(['--seed', '8']);
  const groups = { d: [
    { port: storm.port, order: 1, model_info: { id: 'storm' } },
    { port: calm.port, order: 2, model_info: { id: 'calm' } },
  ] };
  const [a, b] = await startHosts(['down-a', 'down-b'], { groups, router: { cooldown_time: 1, allowed_fails: 100 }, redis });
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    await redis.kill();
    for (const h of [a, b]) {
      await pollUntil(async () => metric(await metrics(h), 'sluice_cluster_redis_up') === 0 || null,
        { timeoutMs: 10000, what: `host ${h.port} sees Redis down` });
    }
    const ask = (h) => post(`${h.url}${CHAT}`, { model: 'd', messages: [{ role: 'user', content: nonce('d') }] }, AUTH);
    const r1 = await ask(a);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(dep(r1), 'calm');
    assert.equal((await counts(storm))[0], 1);
    // A's cooldown cannot reach B: B finds out by itself, once, and then cools down too
    const r2 = await ask(b);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(dep(r2), 'calm');
    assert.equal(r2.headers['x-sluice-attempts'], '2', 'B tried the deployment itself');
    for (let i = 0; i < 6; i++) {
      const r = await ask(i % 2 ? a : b);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-sluice-attempts'], '1');
    }
    assert.equal((await counts(storm))[0], 2, 'one 429 per host, then each host\'s own cooldown');
    const ma = await metrics(a);
    assert.equal(metric(ma, 'sluice_cluster_cooldowns_published_total'), 0, 'nothing could be published');
  } finally {
    await stopAll(a, b, storm, calm);
  }
});

// ------------------------------------------------------------------ cache tier

const GROUP = 'mock-model'; // = the upstream model: the forwarded body is the client's bytes

function cacheHosts(names, redis, mock, { timeout, workers } = {}) {
  return startHosts(names, {
    groups: { [GROUP]: { port: mock.port } },
    litellm: { cache: true, cache_params: { type: 'redis', host: HOST, port: redis.port, ttl: 600 } },
    timeout,
    workers,
  });
}

const chatBody = (tag, extra = {}) => ({ model: GROUP, messages: [{ role: 'user', content: nonce(tag) }], ...extra });

async function waitStores(s, n) {
  await pollUntil(async () => metric(await metrics(s), 'sluice_cache_redis_stores_total') >= n || null,
    { timeoutMs: 5000, what: `${n} answers stored in Redis by host ${s.port}` });
}

test('a cache fill on host A is a hit on host B, whole and streamed; the upstream is called once', async () => {
  const redis = await startRedis();
  const mock = await startMock(['--seed', '11']);
  const [a, b] = await cacheHosts(['ca', 'cb'], redis, mock);
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    // whole
    const body = chatBody('whole');
    const r1 = await post(`${a.url}${CHAT}`, body, AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    await waitStores(a, 1);
    const keys = await redis.cmd('KEYS', '*:{c}:*');
    assert.equal(keys.length, 1, `one entry in Redis: ${keys}`);
    assert.ok(Number(await redis.cmd('PTTL', keys[0])) > 590000, 'its TTL is cache_params.ttl');
    const r2 = await post(`${b.url}${CHAT}`, body, AUTH);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'hit',
      `host B hits host A's fill (B's Redis tier errors: ${metric(await metrics(b), 'sluice_cache_redis_errors_total')})`);
    assert.equal(r2.text, r1.text, 'the same answer, byte for byte');
    assert.equal((await counts(mock))[0], 1, 'the upstream was called once');
    assert.equal(metric(await metrics(b), 'sluice_cache_redis_hits_total'), 1);
    // B wrote it into its own cache: its next hit does not ask Redis
    await pollUntil(async () => {
      const r = await request(`${b.url}/cache/stats`, { headers: AUTH });
      return r.json().entries >= 1 || null;
    }, { what: 'host B\'s local entry' });
    const r3 = await post(`${b.url}${CHAT}`, body, AUTH);
    assert.equal(r3.headers['x-sluice-cache'], 'hit');
    assert.equal(metric(await metrics(b), 'sluice_cache_redis_hits_total'), 1, 'a local hit');
    // streamed: a stream filled on A is replayed on B, as a stream and as a whole answer
    const sb = chatBody('stream', { stream: true });
    const s1 = await openStream(`${a.url}${CHAT}`, { body: sb, headers: AUTH });
    await s1.waitEnd(5000);
    assert.equal(s1.status, 200);
    assert.equal(sseData(s1.text).at(-1), '[DONE]');
    await waitStores(a, 2);
    const s2 = await openStream(`${b.url}${CHAT}`, { body: sb, headers: AUTH });
    await s2.waitEnd(5000);
    assert.equal(s2.status, 200);
    assert.equal(s2.headers['x-sluice-cache'], 'hit',
      `host B replays host A's stream (B's Redis tier errors: ${metric(await metrics(b), 'sluice_cache_redis_errors_total')})`);
    const words = (t) => sseData(t).filter((d) => d !== '[DONE]')
      .map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(words(s2.text), words(s1.text), 'the same words');
    assert.equal(sseData(s2.text).at(-1), '[DONE]');
    assert.equal((await counts(mock))[0], 2, 'the upstream was called once per prompt');
    const m = await metrics(b);
    assert.equal(metric(m, 'sluice_cache_redis_hits_total'), 2, m);
    assert.equal(metric(m, 'sluice_cache_redis_errors_total'), 0, m);
  } finally {
    await stopAll(a, b, mock);
    await redis.kill();
  }
});

test('the tier keeps entries per virtual key: another key on another host misses', async () => {
  const redis = await startRedis();
  const mock = await startMock(['--seed', '12']);
  const [a, b] = await cacheHosts(['ka', 'kb'], redis, mock);
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    const k1 = `sk-hc-one-${process.pid}`, k2 = `sk-hc-two-${process.pid}`;
    for (const key of [k1, k2]) { // made on A; keys are shared across hosts (core/cluster_keys.c)
      const g = await post(`${a.url}/key/generate`, { key }, AUTH);
      assert.equal(g.status, 200, g.text);
      await pollUntil(async () => (await request(`${b.url}/key/info?key=${key}`, { headers: AUTH })).status === 200 || null,
        { timeoutMs: 5000, what: `host B knowing ${key}` });
    }
    const body = chatBody('tenant');
    const r1 = await post(`${a.url}${CHAT}`, body, { authorization: `Bearer ${k1}` });
    assert.equal(r1.status, 200, r1.text);
    await waitStores(a, 1);
    const r2 = await post(`${b.url}${CHAT}`, body, { authorization: `Bearer ${k2}` });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'miss', 'another key must not see the entry on any host');
    const r3 = await post(`${b.url}${CHAT}`, body, { authorization: `Bearer ${k1}` });
    assert.equal(r3.headers['x-sluice-cache'], 'hit', 'the same key hits it on host B');
    assert.equal((await counts(mock))[0], 2);
  } finally {
    await stopAll(a, b, mock);
    await redis.kill();
  }
});

test('DELETE /cache on host B empties the Redis tier and both hosts\' local caches; Redis down: local only', async () => {
  const redis = await startRedis({ args: ['--enable-debug-command', 'yes'] });
  const mock = await startMock(['--seed', '14']);
  // two workers each: every worker hears the flush (each has its own queue of local puts)
  const [a, b] = await cacheHosts(['fa', 'fb'], redis, mock, { workers: 2 });
  const stats = async (s) => (await request(`${s.url}/cache/stats`, { headers: AUTH })).json();
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    await pollUntil(async () => Number((await redis.cmd('PUBSUB', 'NUMSUB', 'sluice:cache'))[1]) >= 4 || null,
      { timeoutMs: 10000, what: 'both hosts\' workers subscribed to sluice:cache' });
    // two answers filled on A, each a hit on B (so each host holds both locally, and Redis too)
    const bodies = [chatBody('flush-1'), chatBody('flush-2')];
    for (const [i, body] of bodies.entries()) {
      const r1 = await post(`${a.url}${CHAT}`, body, AUTH);
      assert.equal(r1.status, 200, r1.text);
      assert.equal(r1.headers['x-sluice-cache'], 'miss');
      await waitStores(a, i + 1);
      const r2 = await post(`${b.url}${CHAT}`, body, AUTH);
      assert.equal(r2.headers['x-sluice-cache'], 'hit', 'the tier is on: B hits A\'s fill');
    }
    assert.equal((await redis.cmd('KEYS', 'sluice:{c}:*')).length, 2);
    for (const s of [a, b]) {
      await pollUntil(async () => (await stats(s)).entries === 2 || null, { what: `host ${s.port}: 2 local entries` });
    }
    const n0 = (await counts(mock))[0];
    assert.equal(n0, 2);

    const f = await request(`${b.url}/cache`, { method: 'DELETE', headers: AUTH });
    assert.equal(f.status, 200, f.text);
    const fj = f.json();
    assert.equal(fj.status, 'flushed');
    assert.equal(fj.scope, 'cluster', f.text);
    assert.equal(fj.redis, 'flushed', f.text);
    assert.equal(fj.redis_deleted, 2, f.text);
    // the tier is empty as the answer comes
    assert.deepEqual(await redis.cmd('KEYS', 'sluice:{c}:*'), []);
    // and each host's local cache empties (A's by the message, B's by the route and the message)
    for (const s of [a, b]) {
      await pollUntil(async () => (await stats(s)).entries === 0 || null,
        { timeoutMs: 5000, what: `host ${s.port}: an empty local cache\n${s.output()}` });
    }
    // the same requests now go upstream on both hosts (different prompts: the first's new fill
    // reaching Redis must not turn the second into a tier hit)
    const ra = await post(`${a.url}${CHAT}`, bodies[0], AUTH);
    assert.equal(ra.status, 200, ra.text);
    assert.equal(ra.headers['x-sluice-cache'], 'miss', 'host A: flushed by host B\'s flush');
    const rb = await post(`${b.url}${CHAT}`, bodies[1], AUTH);
    assert.equal(rb.status, 200, rb.text);
    assert.equal(rb.headers['x-sluice-cache'], 'miss', 'host B: its local cache and the tier flushed');
    assert.equal((await counts(mock))[0], n0 + 2, 'both went upstream');

    // Redis stalled past the cluster timeout: the flush is this host's only, and the answer says so
    const stall = redis.cmd('DEBUG', 'SLEEP', '2').catch(() => {});
    await delay(50);
    const t = await request(`${b.url}/cache`, { method: 'DELETE', headers: AUTH });
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json().status, 'flushed');
    assert.equal(t.json().scope, 'local', t.text);
    assert.ok(['failed', 'down'].includes(t.json().redis), t.text); // down: B noticed the stall first
    assert.match(t.json().message, /Only this host's cache was flushed/);
    await stall;
    // Redis down: the same
    await redis.kill();
    await pollUntil(async () => metric(await metrics(b), 'sluice_cluster_redis_up') === 0 || null,
      { timeoutMs: 10000, what: 'host B sees Redis down' });
    const l = await request(`${b.url}/cache`, { method: 'DELETE', headers: AUTH });
    assert.equal(l.status, 200, l.text);
    assert.equal(l.json().status, 'flushed');
    assert.equal(l.json().scope, 'local', l.text);
    assert.equal(l.json().redis, 'down', l.text);
    await pollUntil(async () => (await stats(b)).entries === 0 || null, { timeoutMs: 5000, what: 'host B empty' });
  } finally {
    await stopAll(a, b, mock);
    await redis.kill();
  }
});

test('Redis slow, then down: cache lookups are misses that go upstream at once, no client errors', async () => {
  const redis = await startRedis({ args: ['--enable-debug-command', 'yes'] });
  const mock = await startMock(['--seed', '13']);
  const [a, b] = await cacheHosts(['da', 'db'], redis, mock, { timeout: null }); // the default, 100 ms
  try {
    await waitUp(a, redis);
    await waitUp(b, redis);
    // slow: Redis stalls for 2 s; the lookup gives up after the cluster timeout (100 ms)
    const slowBody = chatBody('slow');
    const stall = redis.cmd('DEBUG', 'SLEEP', '2').catch(() => {});
    await delay(50);
    const t0 = Date.now();
    const rs = await post(`${b.url}${CHAT}`, slowBody, AUTH);
    const took = Date.now() - t0;
    assert.equal(rs.status, 200, rs.text);
    assert.equal(rs.headers['x-sluice-cache'], 'miss');
    assert.ok(took < 1500, `a stalled Redis held the request ${took} ms`);
    assert.ok(metric(await metrics(b), 'sluice_cache_redis_errors_total') >= 1, 'the timeout is counted');
    await stall;
    await redis.kill();
    await pollUntil(async () => metric(await metrics(a), 'sluice_cluster_redis_up') === 0 || null,
      { timeoutMs: 10000, what: 'host A sees Redis down' });
    const body = chatBody('down');
    const r1 = await post(`${a.url}${CHAT}`, body, AUTH);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    const r2 = await post(`${b.url}${CHAT}`, body, AUTH);
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'miss', 'no second tier while Redis is down');
    const s = await openStream(`${b.url}${CHAT}`, { body: chatBody('down-stream', { stream: true }), headers: AUTH });
    await s.waitEnd(5000);
    assert.equal(s.status, 200);
    assert.equal(sseData(s.text).at(-1), '[DONE]');
    assert.equal((await counts(mock))[0], 4, 'every miss went upstream');
    // the local cache still works on each host
    await pollUntil(async () => (await request(`${a.url}/cache/stats`, { headers: AUTH })).json().entries >= 1 || null,
      { what: 'host A\'s local entry' });
    const r3 = await post(`${a.url}${CHAT}`, body, AUTH);
    assert.equal(r3.headers['x-sluice-cache'], 'hit');
    assert.ok(metric(await metrics(b), 'sluice_cache_redis_errors_total') >= 1);
  } finally {
    await stopAll(a, b, mock);
  }
});
