// Cluster mode's admission (core/cluster_admit.c) with a real redis-server and three sluice
// instances: a key's RPM is exact across instances, budgets are exact, one host and three
// hosts answer the same (statuses and x-ratelimit-* numbers), a deployment's rpm is
// shared, and with Redis killed every instance keeps serving on its share of each limit
// (ceil(limit / live hosts)), says so in its metrics, and reconciles its counts when Redis
// returns; fail_closed_budget_enforcement refuses budgeted keys while Redis is down.
//
// Keys are created with the same secret on every host (/key/generate with `key`), so this
// suite does not depend on key sync (core/cluster_keys.c).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startSluice, cleanup, sluiceConfig, pollUntil, HOST } from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import { PRICED, MASTER, admin, chat, call, roomInMinute } from './keys_lib.mjs';
import { startRedis } from './cluster_lib.mjs';

after(cleanup);

let seq = 0;
const secret = (tag) => `sk-cluster-${tag}-${process.pid}-${++seq}`;

/** YAML for one instance: priced groups, the master key, Redis r (null: one host). */
function clusterYaml(r, groups, { general = {}, settings = {} } = {}) {
  const g = {};
  for (const [name, deps] of Object.entries(groups)) g[name] = (Array.isArray(deps) ? deps : [deps]).map((d) => ({ model_info: PRICED, ...d }));
  const gs = { master_key: MASTER, ...general };
  if (r) gs.coordination_redis = { host: HOST, port: r.port };
  return sluiceConfig({ groups: g, settings: { ...(r ? { cluster: { heartbeat: '200ms', timeout: '500ms' } } : {}), ...settings }, extra: { general_settings: gs } });
}

async function startHosts(r, groups, workers, opts) {
  const yaml = clusterYaml(r, groups, opts);
  const hosts = [];
  for (const w of workers) hosts.push(await startSluice({ yaml, workers: w }));
  return hosts;
}

/** The same key (secret and fields) on every host. With key sync (core/cluster_keys.c)
 *  the first host's key may reach the others first: then they answer key_exists. */
async function sameKey(hosts, body) {
  const key = body.key ?? secret('k');
  for (const [i, h] of hosts.entries()) {
    const r = await admin(h.url).generate({ ...body, key });
    const synced = i > 0 && r.status === 400 && /"key_exists"/.test(r.text);
    assert.ok(r.status === 200 || synced, `POST /key/generate on ${h.url}: ${r.text}`);
  }
  return key;
}

async function metrics(h) {
  const r = await call(h.url, '/metrics', { method: 'GET' });
  assert.equal(r.status, 200);
  const m = {};
  for (const line of r.text.split('\n')) {
    const x = /^(sluice_cluster_[a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line);
    if (x) m[x[1]] = Number(x[2]);
  }
  return m;
}

async function waitMetric(hosts, name, pred, what) {
  for (const h of hosts) {
    await pollUntil(async () => pred((await metrics(h))[name]), { timeoutMs: 15000, what: `${what} on ${h.url}` });
  }
}

/** ms left in the current minute of CLOCK_MONOTONIC (one host's windows; libuv's hrtime is the same clock). */
const monoLeft = () => 60000 - (Number(process.hrtime.bigint() / 1000000n) % 60000);
/** Waits for a moment when both clocks (Redis windows: wall minutes; one host's: monotonic
 *  minutes) have needSec left in their minute (needSec <= 20: such a moment always comes). */
async function roomInBothMinutes(needSec) {
  const wallLeft = () => 60000 - (Date.now() % 60000);
  const need = needSec * 1000;
  let wait = 0;
  const w0 = wallLeft(), m0 = monoLeft();
  while (wait < 60000) {
    const w = ((w0 - wait) % 60000 + 60000) % 60000 || 60000, m = ((m0 - wait) % 60000 + 60000) % 60000 || 60000;
    if (w >= need && m >= need) break;
    wait += 100;
  }
  if (wait) await new Promise((res) => setTimeout(res, wait + 50));
}

const rl = (r) => [r.status, r.headers['x-ratelimit-limit-requests'], r.headers['x-ratelimit-remaining-requests'],
  r.headers['x-ratelimit-limit-tokens'], r.headers['x-ratelimit-remaining-tokens']];

test('rpm_limit 60 across 3 instances (1, 2, 2 workers), 150 requests spread over all: exactly 60 admitted', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 2, 2]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  const key = await sameKey(hosts, { rpm_limit: 60, key_alias: 'rpm-60' });
  await roomInMinute(30);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 48 });
  const res = await runLoad(150, 30, (i) => chat(hosts[i % 3].url, key, 'm', { agent, stream: i % 7 === 0 }).then((r) => ({ ...r, host: i % 3 })));
  agent.destroy();
  const ok = res.filter((r) => r.status === 200), limited = res.filter((r) => r.status === 429);
  const other = res.filter((r) => r.status !== 200 && r.status !== 429);
  assert.equal(other.length, 0, `unexpected: ${other.slice(0, 3).map((r) => `${r.status} ${r.text ?? r.error}`)}`);
  assert.equal(ok.length, 60, `admitted across 3 instances in one window: ${ok.length}`);
  assert.equal(limited.length, 90);
  for (const h of [0, 1, 2]) assert.ok(ok.some((r) => r.host === h), `instance ${h} admitted some`);
  for (const r of [...ok, ...limited]) assert.equal(r.headers['x-ratelimit-limit-requests'], '60');
  for (const r of limited) {
    assert.match(r.text, /rpm_limit/);
    assert.ok(Number(r.headers['retry-after']) >= 1, 'Retry-After on a 429');
  }
  const m = await metrics(hosts[1]);
  assert.ok(m['sluice_cluster_admissions_total{mode="redis"}'] >= 1, 'decided in Redis');
  // every instance's heartbeat is counted (polled: a loaded machine may lag a heartbeat)
  await waitMetric([hosts[1]], 'sluice_cluster_live_hosts', (v) => v === 3, 'three live hosts');
});

test('one host and three hosts answer the same: statuses and x-ratelimit-* numbers of a sequence (rpm 8, tpm 3000)', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const groups = { m: { port: mock.port } };
  const [single] = await startHosts(null, groups, [1]);
  const hosts = await startHosts(redis, groups, [1, 1, 1]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  const body = { rpm_limit: 8, tpm_limit: 3000 };
  const k1 = await sameKey([single], body), k3 = await sameKey(hosts, body);
  const extra = { max_tokens: 400 };
  await roomInBothMinutes(20);
  const one = [], three = [];
  for (let i = 0; i < 12; i++) {
    one.push(rl(await chat(single.url, k1, 'm', { extra })));
    three.push(rl(await chat(hosts[i % 3].url, k3, 'm', { extra })));
  }
  assert.deepEqual(three, one, 'the same answers and numbers');
  assert.ok(one.some((x) => x[0] === 429) && one.some((x) => x[0] === 200), `both kinds: ${JSON.stringify(one)}`);
});

test('a key budget is exact across instances: sequential requests alternating hosts stop where one host stops', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 2, 1]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  // what one answer costs (the mock's usage is the same for the same prompt)
  const probe = await sameKey(hosts, {});
  const c = (await chat(hosts[0].url, probe, 'm')).cost;
  assert.ok(c > 0, 'an answer costs something');
  const key = await sameKey(hosts, { max_budget: (5.5 * c) / 1e6 });
  const st = [];
  for (let i = 0; i < 9; i++) {
    const r = await chat(hosts[i % 3].url, key, 'm');
    st.push(r.status);
    if (r.status === 429) assert.match(r.text, /budget/i);
  }
  assert.deepEqual(st, [200, 200, 200, 200, 200, 200, 429, 429, 429], 'admitted while spend < budget, across hosts');
  const spent = await redis.cmd('KEYS', 'sluice:{k:*}:spend:*');
  const totals = await Promise.all(spent.map(async (k) => hostFields(await redis.cmd('HGETALL', k))));
  assert.ok(totals.some((f) => f.sum === 6 * c && f.n === 3), `Redis holds the settled spend 6 x ${c}, 2 x ${c} per host: ${JSON.stringify(totals)}`);
});

/** A spend hash's fields (one per host: its spend of the period, micro-USD): their count and sum. */
function hostFields(flat) {
  const f = { n: 0, sum: 0, values: [] };
  for (let i = 0; i + 1 < (flat ?? []).length; i += 2) {
    f.n++;
    f.sum += Number(flat[i + 1]);
    f.values.push(Number(flat[i + 1]));
  }
  return f;
}

/** The one key budget's spend hash in Redis (count and sum of its host fields; n 0: none). */
async function budgetHash(redis) {
  const ks = await redis.cmd('KEYS', 'sluice:{k:*}:spend:*');
  assert.ok(ks.length <= 1, `one budgeted key: ${ks}`);
  return ks.length ? hostFields(await redis.cmd('HGETALL', ks[0])) : { n: 0, sum: 0, values: [] };
}

test('Redis restarted empty (or flushed): every host\'s spend comes back, idle hosts too; the budget holds on the exact total', async () => {
  let redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 2]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  const probe = await sameKey(hosts, {});
  const c = (await chat(hosts[0].url, probe, 'm')).cost;
  assert.ok(c > 0, 'an answer costs something');
  // budget 5.5 x c: 3 on host 0 and 2 on host 1 before the restart (5 x c, one more fits)
  const key = await sameKey(hosts, { max_budget: (5.5 * c) / 1e6 });
  // Settlement is asynchronous (after the answer): each request's is awaited in Redis (its
  // spend field and reservation are one script), so the next one, on another host, does
  // not meet its reservation
  const settled = (total) => pollUntil(async () => (await budgetHash(redis)).sum === total,
    { timeoutMs: 5000, what: `the spend ${total} settled in Redis` });
  let spent = 0;
  for (const h of [0, 1, 0, 1, 0]) {
    const r = await chat(hosts[h].url, key, 'm');
    assert.equal(r.status, 200, r.text);
    spent += r.cost;
    await settled(spent);
  }
  assert.equal(spent, 5 * c);
  assert.deepEqual((await budgetHash(redis)).values.sort((a, b) => a - b), [2 * c, 3 * c], 'one field per host: its own spend');
  // Redis dies and comes back empty
  await redis.kill();
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 0, 'redis down');
  redis = await redis.restart();
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up again');
  // host 1 stays idle: its 2 x c must be back by itself. One more fits on host 0 (5 x c <
  // 5.5 x c: nothing counted twice), then the total 6 x c is over the budget on both hosts,
  // though each host's own spend (4 x c, 2 x c) is under it
  const after = [];
  for (const h of [0, 0, 1]) {
    const r = await chat(hosts[h].url, key, 'm');
    after.push(r.status);
    if (r.status === 200) {
      spent += r.cost;
      await settled(spent);
    } else {
      assert.match(r.text, /budget/i);
    }
  }
  assert.deepEqual(after, [200, 429, 429], 'admitted while the exact total < budget, then refused on every host');
  assert.equal(spent, 6 * c);
  // a flush without a reconnect: each host finds its marker gone on a heartbeat and writes its spend again
  await redis.cmd('FLUSHALL');
  await pollUntil(async () => {
    const f = await budgetHash(redis);
    return f.n === 2 && f.sum === spent;
  }, { timeoutMs: 10000, what: 'both hosts\' spend written again after FLUSHALL (no request)' });
  assert.deepEqual((await budgetHash(redis)).values.sort((a, b) => a - b), [2 * c, 4 * c]);
  for (const h of hosts) assert.equal((await chat(h.url, key, 'm')).status, 429, 'still over the budget after the flush');
  const m = await Promise.all(hosts.map(metrics));
  assert.ok(m.every((x) => x['sluice_cluster_reconciled_total'] >= 1), 'the re-written spend counted as reconciled');
});

test('a deployment rpm is shared: rpm 10, 30 requests over 3 instances, exactly 10 reach it', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { d: { port: mock.port, rpm: 10 } }, [1, 2, 1]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  await roomInMinute(30);
  const res = await runLoad(30, 10, (i) => chat(hosts[i % 3].url, MASTER, 'd'));
  const ok = res.filter((r) => r.status === 200).length;
  assert.deepEqual([...new Set(res.map((r) => r.status))].sort(), [200, 429], res.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.text).join('\n'));
  assert.equal(ok, 10, `the deployment's window across instances: ${ok}`);
});

test('Redis killed mid-load: only 429s within limits, each host on its share, metrics, reconciliation on return', async () => {
  let redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 2, 1]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  await waitMetric(hosts, 'sluice_cluster_live_hosts', (v) => v === 3, '3 live hosts');
  const key = await sameKey(hosts, { rpm_limit: 60 });
  /* the whole test inside one minute of both clocks (a window that slides mid-test admits
   * more; seen on a loaded machine with 20 s): 28 s, the most both clocks always share */
  await roomInBothMinutes(28);
  const per = [0, 0, 0];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const one = (h) => chat(hosts[h].url, key, 'm', { agent }).then((r) => {
    assert.ok(r.status === 200 || r.status === 429, `only 200 or 429: ${r.status} ${r.text ?? r.error}`);
    if (r.status === 200) per[h]++;
    return r;
  });
  // phase 1, Redis up: 5 on each
  for (let i = 0; i < 15; i++) assert.equal((await one(i % 3)).status, 200);
  // kill it while requests are in flight
  const inflight = runLoad(30, 6, (i) => one(i % 3));
  await redis.kill();
  await inflight;
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 0, 'redis down');
  // phase 2, degraded: 40 more on each host; each holds to ceil(60 / 3) = 20 in its window
  const down = await runLoad(120, 12, (i) => one(i % 3));
  const before = per.slice();
  agent.destroy();
  for (const h of [0, 1, 2]) assert.ok(before[h] <= 20 + 0, `host ${h} admitted ${before[h]} (share 20)`);
  for (const r of down.filter((x) => x.status === 429)) assert.match(r.text, /rpm_limit/);
  assert.equal(down.filter((x) => x.status === 200).length + 15 <= 60, true);
  const mdown = await metrics(hosts[0]);
  assert.ok(mdown['sluice_cluster_admissions_total{mode="degraded"}'] >= 1);
  // Redis returns (empty): up again, degraded time counted, degraded counts pushed back
  redis = await redis.restart();
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up again');
  for (const h of hosts) {
    const m = await metrics(h);
    assert.ok(m['sluice_cluster_degraded_seconds_total'] > 0, `degraded seconds counted on ${h.url}`);
  }
  // every request admitted while Redis was down is in its window now (it came back empty)
  const downOk = down.filter((x) => x.status === 200).length;
  assert.ok(downOk >= 3, `served while degraded: ${downOk}`);
  let total = -1;
  await pollUntil(async () => {
    const ks = await redis.cmd('KEYS', 'sluice:{k:*}:rl');
    if (ks.length !== 1) return false;
    const [p, c] = await redis.cmd('HMGET', ks[0], 'p', 'c');
    total = Number(p ?? 0) + Number(c ?? 0);
    return total >= downOk;
  }, { timeoutMs: 15000, what: `the ${downOk} degraded admissions reconciled into Redis` });
  const m = await Promise.all(hosts.map(metrics));
  assert.ok(m.some((x) => x['sluice_cluster_reconciled_total'] >= 1), 'reconciliation counted');
  assert.ok(total <= 60, `the degraded counts in Redis (${total}) are within the limit`);
});

test('fail_closed_budget_enforcement: budgeted keys are refused while Redis is down, others served', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 1], { general: { fail_closed_budget_enforcement: true } });
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  const budgeted = await sameKey(hosts, { max_budget: 10 });
  const plain = await sameKey(hosts, {});
  assert.equal((await chat(hosts[0].url, budgeted, 'm')).status, 200);
  await redis.kill();
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 0, 'redis down');
  for (const h of hosts) {
    const r = await chat(h.url, budgeted, 'm');
    assert.equal(r.status, 429, r.text);
    assert.match(r.text, /cannot be verified/);
    assert.equal((await chat(h.url, plain, 'm')).status, 200);
  }
  // a worker reconnecting forever still drains and exits promptly
  const t0 = Date.now();
  assert.equal(await hosts[0].stop(), 0);
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
});

test('a Redis that stops answering: admission past cluster.timeout is decided locally, no client error', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const hosts = await startHosts(redis, { m: { port: mock.port } }, [1, 1]);
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  const key = await sameKey(hosts, { rpm_limit: 100 });
  assert.equal((await chat(hosts[0].url, key, 'm')).status, 200);
  const before = await metrics(hosts[1]);
  // every client of Redis is paused for 3 s: the admission's reply does not come within 500 ms
  await redis.cmd('CLIENT', 'PAUSE', '3000', 'ALL');
  const t0 = Date.now();
  const res = await Promise.all(hosts.map((h) => chat(h.url, key, 'm')));
  assert.deepEqual(res.map((r) => r.status), [200, 200], res.map((r) => r.text).join('\n'));
  assert.ok(Date.now() - t0 < 2500, `answered without waiting for Redis: ${Date.now() - t0} ms`);
  const after = await metrics(hosts[1]);
  assert.ok(after['sluice_cluster_admissions_total{mode="degraded"}'] > (before['sluice_cluster_admissions_total{mode="degraded"}'] ?? 0),
    'decided on the host\'s share');
  await waitMetric(hosts, 'sluice_cluster_redis_up', (v) => v === 1, 'redis up after the pause');
});

test('a cache hit does not use a deployment rpm on Redis (as on one host): rpm 3, 1 miss + 4 hits, then 2 more reach it', async () => {
  const redis = await startRedis();
  const mock = await startMock();
  const yaml = clusterYaml(redis, { d: { port: mock.port, rpm: 3 } }).replace(/^model_list:/m, 'litellm_settings:\n  cache: true\nmodel_list:');
  const h = await startSluice({ yaml, workers: 1 });
  await waitMetric([h], 'sluice_cluster_redis_up', (v) => v === 1, 'redis up');
  await roomInMinute(20);
  const same = { messages: [{ role: 'user', content: 'cache me' }] };
  const first = await chat(h.url, MASTER, 'd', { extra: same });
  assert.equal(first.status, 200, first.text);
  await pollUntil(async () => {
    const r = await call(h.url, '/cache/stats', { method: 'GET', headers: { authorization: `Bearer ${MASTER}` } });
    return r.status === 200 && r.json().entries >= 1;
  }, { what: 'the cache entry committed' });
  for (let i = 0; i < 4; i++) {
    const r = await chat(h.url, MASTER, 'd', { extra: same });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-sluice-cache'], 'hit');
  }
  const more = [];
  for (let i = 0; i < 3; i++) more.push((await chat(h.url, MASTER, 'd', { extra: { messages: [{ role: 'user', content: `other ${i}` }] } })).status);
  assert.deepEqual(more, [200, 200, 429], 'the hits counted nothing on the deployment');
});
