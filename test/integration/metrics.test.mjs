// Prometheus metrics at GET /metrics against real processes: sluice with two workers in
// front of four mocks gets a known mix of requests (plain and streaming answers, a
// provider's 500 passed through, a retry onto a twin that cools the failing one down, a
// fallback to another group, sluice's own 429s, cache hits and bypasses, hedges, a client
// that hangs up, and requests that have no model group at all), then /metrics is read
// through both workers and parsed with the strict text-format parser of prom_lib.mjs (every line
// checked: comments, names, labels and escaping, values, family grouping, histogram
// buckets). The counters must agree exactly with what the clients saw, summed over both
// workers. What a request should count as is taken from its x-sluice-* headers (group,
// deployment, attempts, hedge, fallback, cache), so the test does not guess routing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startMock, startSluice, cleanup, post, request, openStream, sseData, pollUntil, delay,
} from './lib.mjs';
import { routerConfig } from './routing_lib.mjs';
import { parseExposition, samples, one } from './prom_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';

// ------------------------------------------------------------------ the parser itself

test('the parser accepts the format and rejects what breaks it', () => {
  const ok = [
    '# HELP a_total A counter with a \\\\ and a \\n.',
    '# TYPE a_total counter',
    'a_total{x="q\\"uo\\\\te\\nnl",y=""} 3',
    'a_total{x="b",} 1e3 1700000000000',
    '# just a comment',
    '# TYPE g gauge',
    'g -1.5',
    'g{k="v"} NaN',
    '# TYPE h histogram',
    'h_bucket{le="0.1"} 1',
    'h_bucket{le="1"} 2',
    'h_bucket{le="+Inf"} 2',
    'h_sum 0.3',
    'h_count 2',
    '',
  ].join('\n');
  const f = parseExposition(ok);
  assert.equal(f.get('a_total').samples[0].labels.x, 'q"uo\\te\nnl');
  assert.equal(f.get('a_total').help, 'A counter with a \\ and a \n.');
  assert.equal(f.get('h').samples.length, 5);
  const bad = {
    'no final newline': '# TYPE g gauge\ng 1',
    'bad escape': '# TYPE g gauge\ng{a="\\t"} 1\n',
    'unterminated label': '# TYPE g gauge\ng{a="x} 1\n',
    'bad label name': '# TYPE g gauge\ng{1a="x"} 1\n',
    'reserved label': '# TYPE g gauge\ng{__a="x"} 1\n',
    'duplicate label': '# TYPE g gauge\ng{a="x",a="y"} 1\n',
    'bad value': '# TYPE g gauge\ng 1,5\n',
    'two spaces': '# TYPE g gauge\ng  1\n',
    'no TYPE': 'g 1\n',
    'TYPE after samples': '# TYPE g gauge\ng 1\n# TYPE g gauge\n',
    'unknown type': '# TYPE g meter\ng 1\n',
    'duplicate series': '# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n',
    'interleaved families': '# TYPE g gauge\n# TYPE k gauge\ng 1\nk 1\ng{a="1"} 2\n',
    'negative counter': '# TYPE c_total counter\nc_total -1\n',
    'counter without _total': '# TYPE c counter\nc 1\n',
    'no +Inf': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '+Inf != count': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    'decreasing buckets': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    'le not ascending': '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    'no _sum': '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n',
    'bad HELP escape': '# HELP g a \\x\n# TYPE g gauge\ng 1\n',
  };
  for (const [what, text] of Object.entries(bad)) {
    assert.throws(() => parseExposition(text), Error, `should reject: ${what}`);
  }
});

// ------------------------------------------------------------------ the known mix

const DEP_GROUP = {
  'alpha-1': 'alpha',
  'beta-1': 'beta',
  'broken-1': 'broken',
  'dead-1': 'dead',
  'flaky-0': 'flaky',
  'flaky-1': 'flaky',
  'limited-1': 'limited',
  'hedged-slow': 'hedged',
  'hedged-fast': 'hedged',
};

function statusClass(s) {
  if (s >= 200 && s < 300) return '2xx';
  if (s >= 400 && s < 500) return '4xx';
  if (s >= 500 && s < 600) return '5xx';
  return 'other';
}

/** What the clients saw, in the shape of the metrics. */
class Expected {
  constructor() {
    this.requests = new Map(); // "group|deployment|status_class|cache" -> n
    this.series = new Map(); // "group|deployment" -> {requests, ttft, retries, fallbacks, fired, won, limited}
    this.total = 0;
    this.workers = new Set();
    this.usage = { in: 0, out: 0 };
  }

  seriesOf(group, dep) {
    const k = `${group}|${dep}`;
    if (!this.series.has(k)) this.series.set(k, { requests: 0, ttft: 0, retries: 0, fallbacks: 0, fired: 0, won: 0, limited: 0 });
    return this.series.get(k);
  }

  /** One response, read from its headers (and body for the error code). */
  add(r, { stream = false } = {}) {
    const h = r.headers;
    assert.ok(h['x-sluice-model-group'], `a counted response names its group: ${JSON.stringify(h)}`);
    const dep = h['x-sluice-deployment'] ?? '';
    if (dep) assert.ok(DEP_GROUP[dep], `unknown deployment ${dep}`);
    const group = dep ? DEP_GROUP[dep] : h['x-sluice-model-group'];
    this.addRaw({ group, dep, status: r.status, cache: h['x-sluice-cache'] ?? 'none' });
    const s = this.seriesOf(group, dep);
    const attempts = Number(h['x-sluice-attempts'] ?? 0);
    const hedge = h['x-sluice-hedge'] ?? 'none';
    const fired = hedge === 'none' ? 0 : 1; // max_extra is 1
    s.retries += Math.max(0, attempts - 1 - fired);
    s.fired += fired;
    s.won += hedge === 'won' ? 1 : 0;
    s.fallbacks += h['x-sluice-fallback'] ? 1 : 0;
    if (r.status === 429) {
      let code;
      try { code = JSON.parse(r.text).error.code; } catch { code = undefined; }
      if (code === 'rate_limit_exceeded') s.limited++;
    }
    if (stream && r.status === 200 && dep && h['x-sluice-cache'] !== 'hit') s.ttft++;
    const id = h['x-request-id'];
    if (id && /^[0-9a-f]+-/.test(id)) this.workers.add(id.split('-')[0]);
    if (!stream && r.status === 200) {
      try {
        const u = JSON.parse(r.text).usage;
        this.usage.in += u?.prompt_tokens ?? 0;
        this.usage.out += u?.completion_tokens ?? 0;
      } catch { /* not JSON */ }
    }
  }

  addRaw({ group, dep, status, cache }) {
    const k = `${group}|${dep}|${statusClass(status)}|${cache}`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    this.seriesOf(group, dep).requests++;
    this.total++;
  }
}

let seq = 0;
const body = (model, extra = {}) => ({
  model,
  messages: [{ role: 'user', content: `metrics ${process.pid} ${++seq}` }],
  ...extra,
});

async function streamOnce(url, b) {
  const s = await openStream(`${url}${CHAT}`, { body: { ...b, stream: true } });
  await s.waitEnd(15000);
  assert.ok(s.clean, `the stream ended cleanly:\n${s.text.slice(-500)}`);
  if (s.status === 200) assert.equal(sseData(s.text).at(-1), '[DONE]');
  return { status: s.status, headers: s.headers, text: s.text };
}

/** A request the client gives up on (sluice sees the connection close: 499) once the
 *  deployment's mock has received it and then ms more have passed. */
async function abandon(url, mock, b, ms) {
  const before = (await mock.stats()).requests;
  const req = http.request(`${url}${CHAT}`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
  const closed = new Promise((resolve) => {
    req.on('error', resolve);
    req.on('close', resolve);
    req.on('response', (res) => { res.resume(); res.on('close', resolve); });
  });
  req.end(JSON.stringify(b));
  try {
    await pollUntil(async () => (await mock.stats()).requests > before, { timeoutMs: 10000, intervalMs: 20, what: 'the mock to get the request' });
    await delay(ms);
  } finally {
    req.destroy();
  }
  await closed;
}

async function scrape(url) {
  const r = await request(`${url}/metrics`);
  assert.equal(r.status, 200, `GET /metrics: ${r.status} ${r.text.slice(0, 300)}`);
  assert.match(String(r.headers['content-type']), /^text\/plain(;|$)/, 'content type');
  assert.match(String(r.headers['content-type']), /version=0\.0\.4/, 'content type names the format version');
  return { fams: parseExposition(r.text), text: r.text, worker: (r.headers['x-request-id'] ?? '').split('-')[0] };
}

/** Every requests_total series as "group|deployment|status_class|cache" -> value. */
function requestsOf(fams) {
  const out = new Map();
  for (const s of samples(fams, 'sluice_requests_total')) {
    const { group, deployment, status_class: sc, cache } = s.labels;
    assert.deepEqual(Object.keys(s.labels).sort(), ['cache', 'deployment', 'group', 'status_class']);
    out.set(`${group}|${deployment}|${sc}|${cache}`, s.value);
  }
  return out;
}

test('GET /metrics parses strictly and its counters agree with the requests sent through both workers', async () => {
  const a = await startMock(['--seed', '21']);
  const b = await startMock(['--seed', '22']);
  const c = await startMock(['--p-500', '1']);
  const slow = await startMock(['--latency-ms', '700']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        alpha: { port: a.port, model_info: { id: 'alpha-1' } },
        beta: { port: b.port, model_info: { id: 'beta-1' } },
        broken: { port: c.port, model_info: { id: 'broken-1' } },
        dead: { port: c.port, model_info: { id: 'dead-1' } },
        flaky: [{ port: c.port, order: 1, model_info: { id: 'flaky-0' } }, { port: b.port, order: 2, model_info: { id: 'flaky-1' } }],
        limited: { port: b.port, rpm: 2, model_info: { id: 'limited-1' } },
        hedged: [{ port: slow.port, order: 1, model_info: { id: 'hedged-slow' } }, { port: a.port, order: 2, model_info: { id: 'hedged-fast' } }],
      },
      router: { num_retries: 1, allowed_fails: 0, cooldown_time: 120, fallbacks: [{ dead: ['beta'] }] },
      litellm: { cache: true, cache_params: { type: 'local', ttl: 600 } },
      settings: { hedging: { delay: '100ms', max_extra: 1, budget: 1, budget_burst: 100 } },
    }),
    workers: 2,
  });
  const exp = new Expected();
  const send = async (b_, o) => {
    const r = await post(`${s.url}${CHAT}`, b_, o?.headers ?? {}, { timeoutMs: 15000 });
    exp.add(r);
    return r;
  };
  try {
    // Nothing counted yet: every deployment still shows its families, all zero.
    const empty = (await scrape(s.url)).fams;
    for (const [dep, group] of Object.entries(DEP_GROUP)) {
      const want = { group, deployment: dep };
      assert.equal(one(empty, 'sluice_requests_total', want), 0);
      assert.equal(one(empty, 'sluice_request_duration_seconds_count', want), 0);
      assert.equal(one(empty, 'sluice_time_to_first_token_seconds_count', want), 0);
      assert.equal(one(empty, 'sluice_deployment_healthy', want), 1);
      assert.equal(one(empty, 'sluice_deployment_inflight', want), 0);
    }

    // Plain and streaming answers from the two groups of single deployments.
    for (let i = 0; i < 6; i++) assert.equal((await send(body('alpha'))).status, 200);
    assert.equal((await send(body('beta', { mock: { latency_ms: 40 } }))).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await send(body('beta'))).status, 200);
    for (let i = 0; i < 4; i++) exp.add(await streamOnce(s.url, body('alpha')), { stream: true });
    for (let i = 0; i < 3; i++) exp.add(await streamOnce(s.url, body('beta')), { stream: true });
    // A provider's 500 passed through (one deployment: nothing to retry on).
    for (let i = 0; i < 3; i++) assert.equal((await send(body('broken'))).status, 500);
    // A failing single deployment falls back to another group.
    for (let i = 0; i < 2; i++) {
      const r = await send(body('dead'));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-sluice-fallback'], 'beta');
    }
    // The first flaky request is retried on the twin and cools flaky-0 down.
    for (let i = 0; i < 4; i++) assert.equal((await send(body('flaky'))).status, 200);
    assert.ok(exp.series.get('flaky|flaky-1')?.retries >= 1, 'a flaky request was retried');
    // sluice's own 429s: the rpm of the only deployment is spent.
    const lim = [];
    for (let i = 0; i < 5; i++) lim.push(await send(body('limited')));
    assert.ok(lim.some((r) => r.status === 429), lim.map((r) => r.status).join(' '));
    // Hedges: the order-1 deployment answers after 700 ms, the hedge at 100 ms goes to the fast one.
    for (let i = 0; i < 3; i++) assert.equal((await send(body('hedged'))).status, 200);
    assert.ok([...exp.series.values()].some((x) => x.won > 0), 'some hedge won');
    // Cache: a bypass, and one body asked again until it is a hit (the store is asynchronous).
    assert.equal((await send(body('beta', { cache: { 'no-store': true } }))).headers['x-sluice-cache'], 'bypass');
    const twice = body('alpha');
    await send(twice);
    await pollUntil(async () => (await send(twice)).headers['x-sluice-cache'] === 'hit',
      { timeoutMs: 5000, intervalMs: 50, what: 'a cache hit' });
    // A client that hangs up while its deployment is still thinking: 499, a 4xx of alpha-1.
    await abandon(s.url, a, body('alpha', { mock: { latency_ms: 5000 } }), 400);
    exp.addRaw({ group: 'alpha', dep: 'alpha-1', status: 499, cache: 'miss' });
    // Requests without a model group are not counted.
    assert.equal((await post(`${s.url}${CHAT}`, body('no-such-model'))).status, 400);
    assert.equal((await request(`${s.url}/v1/models`)).status, 200);
    assert.equal((await request(`${s.url}/health/readiness`)).status, 200);
    assert.equal((await request(`${s.url}/nope`)).status, 404);

    assert.equal(exp.workers.size, 2, `both workers answered some requests: ${[...exp.workers]}`);

    // Counters are added when a request ends, which can be a moment after its last byte
    // (and the 499 ends when sluice notices the close): wait for the totals, then compare.
    let fams;
    await pollUntil(async () => {
      ({ fams } = await scrape(s.url));
      const sum = samples(fams, 'sluice_requests_total').reduce((x, y) => x + y.value, 0);
      const inflight = samples(fams, 'sluice_deployment_inflight').reduce((x, y) => x + y.value, 0);
      return sum === exp.total && inflight === 0;
    }, { timeoutMs: 10000, intervalMs: 50, what: `sluice_requests_total to reach ${exp.total}` });

    // Read through both workers: each shows the same sums.
    const seen = new Map();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const sc = await scrape(s.url);
      if (!seen.has(sc.worker)) seen.set(sc.worker, sc.fams);
    }
    if (!seen.has('')) assert.equal(seen.size, 2, 'a scrape reached each worker');
    for (const [wk, f] of seen) {
      assert.deepEqual(requestsOf(f), requestsOf(fams), `worker ${wk} renders the same request counters`);
    }

    // requests_total: exactly the combinations the clients saw; every other one is 0.
    const got = requestsOf(fams);
    for (const [k, n] of exp.requests) assert.equal(got.get(k), n, `sluice_requests_total ${k}`);
    for (const [k, n] of got) if (!exp.requests.has(k)) assert.equal(n, 0, `sluice_requests_total ${k} should not count`);
    assert.ok(![...got.keys()].some((k) => k.startsWith('no-such-model|')), 'unknown models are not a group');

    for (const [k, e] of exp.series) {
      const [group, deployment] = k.split('|');
      const want = { group, deployment };
      assert.equal(one(fams, 'sluice_request_duration_seconds_count', want), e.requests, `duration _count ${k}`);
      assert.ok(one(fams, 'sluice_request_duration_seconds_sum', want) >= 0);
      assert.equal(one(fams, 'sluice_time_to_first_token_seconds_count', want), e.ttft, `TTFT _count ${k}`);
      assert.equal(one(fams, 'sluice_retries_total', want), e.retries, `retries ${k}`);
      assert.equal(one(fams, 'sluice_fallbacks_total', want), e.fallbacks, `fallbacks ${k}`);
      assert.equal(one(fams, 'sluice_hedges_fired_total', want), e.fired, `hedges fired ${k}`);
      assert.equal(one(fams, 'sluice_hedges_won_total', want), e.won, `hedges won ${k}`);
      assert.equal(one(fams, 'sluice_rate_limited_total', want), e.limited, `rate limited ${k}`);
    }
    // Series the clients never saw count nothing.
    for (const name of ['sluice_retries_total', 'sluice_fallbacks_total', 'sluice_hedges_fired_total', 'sluice_hedges_won_total',
      'sluice_rate_limited_total', 'sluice_request_duration_seconds_count']) {
      for (const x of samples(fams, name)) {
        if (!exp.series.has(`${x.labels.group}|${x.labels.deployment}`)) assert.equal(x.value, 0, `${name} ${JSON.stringify(x.labels)}`);
      }
    }
    assert.ok(exp.series.get('limited|')?.limited >= 1, 'the 429s were counted on the group-level series');
    // The abandoned request took over 0.4 s: alpha-1 has an observation above 0.25 s.
    const a1 = { group: 'alpha', deployment: 'alpha-1' };
    assert.ok(one(fams, 'sluice_request_duration_seconds_bucket', { ...a1, le: '0.25' })
      < one(fams, 'sluice_request_duration_seconds_count', a1), 'the 499 is in a slow bucket');
    assert.ok(one(fams, 'sluice_request_duration_seconds_sum', a1) >= 0.4);
    // Streams: TTFT no later than the whole request.
    for (const dep of ['alpha-1', 'beta-1']) {
      const w = { group: DEP_GROUP[dep], deployment: dep };
      assert.ok(one(fams, 'sluice_time_to_first_token_seconds_sum', w) <= one(fams, 'sluice_request_duration_seconds_sum', w));
    }

    // Tokens and cost: per deployment and direction; once usage is accounted they cover
    // at least the usage of the whole answers the clients saw.
    for (const [dep, group] of Object.entries(DEP_GROUP)) {
      for (const d of ['in', 'out']) assert.ok(one(fams, 'sluice_tokens_total', { group, deployment: dep, direction: d }) >= 0);
      assert.ok(one(fams, 'sluice_cost_usd_total', { group, deployment: dep }) >= 0);
    }
    const tok = (d) => samples(fams, 'sluice_tokens_total', { direction: d }).reduce((x, y) => x + y.value, 0);
    if (tok('out') > 0) {
      assert.ok(tok('in') >= exp.usage.in && tok('out') >= exp.usage.out,
        `tokens in ${tok('in')} out ${tok('out')} vs usage seen ${JSON.stringify(exp.usage)}`);
    }

    // Health gauges: flaky-0 failed and cools down; deployments alone in their group
    // are never cooled down by routing, so they stay healthy however they fail.
    assert.equal(one(fams, 'sluice_deployment_healthy', { deployment: 'flaky-0' }), 0);
    assert.equal(one(fams, 'sluice_deployment_healthy', { deployment: 'flaky-1' }), 1);
    assert.equal(one(fams, 'sluice_deployment_healthy', { deployment: 'broken-1' }), 1);
    assert.ok(one(fams, 'sluice_cooldowns_total', { group: 'flaky', deployment: 'flaky-0' }) >= 1, 'the cooldown was counted');
    assert.equal(one(fams, 'sluice_cooldowns_total', { group: 'flaky', deployment: 'flaky-1' }), 0);
    // The EWMA moves with answers that took time (the mock's others take under 1 ms).
    assert.ok(one(fams, 'sluice_deployment_ewma_latency_seconds', { deployment: 'beta-1' }) > 0);
    assert.equal(one(fams, 'sluice_deployment_ewma_latency_seconds', { deployment: 'flaky-0' }) >= 0, true);
    for (const x of samples(fams, 'sluice_deployment_ewma_latency_seconds')) assert.ok(Number.isFinite(x.value) && x.value >= 0);
    for (const x of samples(fams, 'sluice_deployment_ewma_ttft_seconds')) assert.ok(Number.isFinite(x.value) && x.value >= 0);
    for (const x of samples(fams, 'sluice_deployment_inflight')) assert.equal(x.value, 0);

    // Process-wide gauges.
    assert.equal(one(fams, 'sluice_workers'), 2);
    // At least the scrape's own connection is open (on the worker that answers it).
    const conns = one(fams, 'sluice_connections_open');
    assert.ok(Number.isInteger(conns) && conns >= 1, `connections ${conns}`);
    assert.equal(one(fams, 'sluice_build_info', { version: '0.1.0' }), 1);
    assert.ok(one(fams, 'sluice_cache_entries') >= 1, 'the cache holds entries');
    assert.ok(one(fams, 'sluice_cache_bytes') > 0);
    assert.equal(one(fams, 'sluice_cache_evictions_total'), 0);

    // Conventions: every family has HELP and TYPE, names are sluice_*, counters *_total,
    // durations in seconds.
    for (const f of fams.values()) {
      assert.ok(f.name.startsWith('sluice_'), f.name);
      assert.ok(f.help && f.type, `HELP and TYPE for ${f.name}`);
      if (f.type === 'histogram') assert.ok(f.name.endsWith('_seconds'), f.name);
    }
    for (const name of ['sluice_requests_total', 'sluice_request_duration_seconds', 'sluice_time_to_first_token_seconds',
      'sluice_tokens_total', 'sluice_cost_usd_total', 'sluice_retries_total', 'sluice_fallbacks_total',
      'sluice_hedges_fired_total', 'sluice_hedges_won_total', 'sluice_cooldowns_total', 'sluice_rate_limited_total',
      'sluice_deployment_ewma_latency_seconds', 'sluice_deployment_healthy', 'sluice_deployment_inflight',
      'sluice_cache_entries', 'sluice_cache_bytes', 'sluice_cache_evictions_total', 'sluice_connections_open',
      'sluice_workers', 'sluice_build_info']) {
      assert.ok(fams.has(name), `family ${name} is exposed`);
    }

    // /metrics itself is not a counted request: a few more scrapes change nothing.
    await scrape(s.url);
    await scrape(s.url);
    await delay(50);
    assert.deepEqual(requestsOf((await scrape(s.url)).fams), got);
  } finally {
    for (const p of [s, a, b, c, slow]) {
      if (p.exited) continue;
      const code = await p.stop();
      if (p === s) assert.equal(code, 0, `sluice exit code\n${s.output()}`);
    }
  }
});
