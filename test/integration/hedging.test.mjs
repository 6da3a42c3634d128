// Request hedging against real processes: a first attempt with no response after the
// hedge delay gets a duplicate on another deployment of the group; the first complete
// answer (or first SSE event) wins and the loser's upstream connection is closed (the
// mock's inflight drops to 0 long before its stall ends). `x-sluice-hedge: off` opts
// out, the budget caps the extra upstream requests, and an adaptive delay (p95) cuts the
// tail of a deployment that stalls now and then.
//
// `order` makes the stalling deployment the first choice every time, so which attempt is
// the hedge is known; the stall comes from the mock's CLI flags, so it hits only that
// deployment.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startSluice, cleanup, post, openStream, sseData, chatBody } from './lib.mjs';
import {
  routerConfig, makeClient, runLoad, tally, counts, assertDecisionHeaders, accessLineOf, waitStats,
} from './routing_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';

async function stopAll(...ps) {
  for (const p of ps) {
    if (!p || p.exited) continue;
    const code = await p.stop();
    if (p.ready) assert.equal(code, 0, 'sluice exit code after SIGTERM');
  }
}

async function stallPair(stallArgs, fastArgs, hedging, router = {}) {
  const stall = await startMock(stallArgs);
  const fast = await startMock(fastArgs);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { h: [
        { port: stall.port, order: 1, model_info: { id: 'h-stall' } },
        { port: fast.port, order: 2, model_info: { id: 'h-fast' } },
      ] },
      router: { allowed_fails: 1000, ...router },
      settings: { hedging },
    }),
  });
  return { stall, fast, s };
}

test('fixed delay: a stalled attempt is hedged, the hedge wins, the loser is cancelled; x-sluice-hedge: off opts out', async () => {
  const { stall, fast, s } = await stallPair(
    ['--p-stall', '1', '--stall-ms', '3000', '--tokens', '4', '--itl-ms', '1'],
    ['--latency-ms', '10', '--tokens', '4', '--itl-ms', '1'],
    { delay: '100ms', max_extra: 1, budget: 1, budget_burst: 100 });
  try {
    // Non-streaming.
    let t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('h'));
    let ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { group: 'h', deployment: 'h-fast', attempts: 2, hedge: 'won' });
    assert.ok(ms >= 90 && ms < 1000, `hedged after ~100 ms, answered in ${ms} ms (stall 3 s)`);
    const st = await waitStats(stall, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'the stalled attempt to be closed' });
    assert.equal(st.requests, 1);
    const line = await accessLineOf(s, r);
    assert.equal(line.hedge, 'won', JSON.stringify(line));
    assert.equal(line.attempts.length, 2, JSON.stringify(line));
    const [first, hedge] = line.attempts;
    assert.equal(first.deployment, 'h-stall');
    assert.ok(!first.hedge, 'the first attempt is not the hedge');
    assert.notEqual(first.outcome, 'ok');
    assert.equal(hedge.deployment, 'h-fast');
    assert.equal(hedge.hedge, true);
    assert.equal(hedge.outcome, 'ok');
    assert.ok(hedge.start_ms >= 90 && hedge.start_ms < 600, `hedge started at ${hedge.start_ms} ms`);

    // Streaming: the stall holds back the response head; the hedge's first event wins.
    t0 = Date.now();
    const sr = await openStream(`${s.url}${CHAT}`, { body: chatBody('h', { stream: true }) });
    await sr.waitEnd(5000);
    ms = Date.now() - t0;
    assert.equal(sr.status, 200);
    assertDecisionHeaders(sr, { deployment: 'h-fast', attempts: 2, hedge: 'won' });
    assert.equal(sseData(sr.text).at(-1), '[DONE]', sr.text);
    assert.ok(ms < 1000, `stream done in ${ms} ms`);
    await waitStats(stall, (x) => x.inflight === 0 && x.requests === 2, { timeoutMs: 1000, what: 'the stalled stream to be closed' });

    // Opt out: the request waits for the stalled deployment (bounded by a 1 s timeout).
    const fastBefore = (await counts(fast))[0];
    t0 = Date.now();
    const off = await post(`${s.url}${CHAT}`, chatBody('h'), { 'x-sluice-hedge': 'off', 'x-sluice-timeout': '1' });
    ms = Date.now() - t0;
    assert.equal(off.status, 504, off.text);
    assertDecisionHeaders(off, { attempts: 1, hedge: 'none' });
    assert.ok(ms >= 900 && ms < 2500, `no hedge: it waited for the timeout (${ms} ms)`);
    assert.equal((await counts(fast))[0], fastBefore, 'no duplicate was sent');
    await waitStats(stall, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'the timed-out attempt to be closed' });
  } finally {
    await stopAll(s, stall, fast);
  }
});

test('a fast first attempt is not hedged', async () => {
  const { stall, fast, s } = await stallPair(['--latency-ms', '5'], ['--latency-ms', '5'],
    { delay: '300ms', budget: 1, budget_burst: 100 });
  try {
    const t = tally(await runLoad(20, 4, () => post(`${s.url}${CHAT}`, chatBody('h'))));
    assert.equal(t.status[200], 20, `${t}`);
    assert.equal(t.hedge.none, 20, `${t}`);
    assert.equal(t.deployment['h-stall'], 20, `order 1 serves everything: ${t}`);
    assert.equal((await counts(fast))[0], 0);
  } finally {
    await stopAll(s, stall, fast);
  }
});

test('the hedge budget caps extra upstream requests (budget 0.1, burst 1)', async (tc) => {
  const N = 50;
  const { stall, fast, s } = await stallPair(
    ['--p-stall', '1', '--stall-ms', '300'], ['--latency-ms', '5'],
    { delay: '30ms', max_extra: 1, budget: 0.1, budget_burst: 1 });
  try {
    const res = await runLoad(N, 10, () => post(`${s.url}${CHAT}`, chatBody('h')));
    const t = tally(res);
    assert.equal(t.status[200], N, `${t}`);
    const hedged = (t.hedge.fired ?? 0) + (t.hedge.won ?? 0);
    const [ns, nf] = await counts(stall, fast);
    assert.equal(ns, N, 'every request started on the order-1 deployment');
    assert.equal(nf, hedged, `extra upstream requests (${nf}) = hedges reported in headers (${hedged}): ${t}`);
    const cap = 1 + 0.1 * N + 1; // burst + 10% of requests + 1 slack
    assert.ok(hedged <= cap, `${hedged} hedges for ${N} requests exceeds the budget (cap ${cap}): ${t}`);
    assert.ok(hedged >= 1, `the budget allows some hedges (~${0.1 * N}); got none: ${t}`);
    tc.diagnostic(`${hedged} hedges for ${N} requests (cap ${cap})`);
    // Requests that were not hedged waited for the stall; hedged ones did not.
    for (const r of res) {
      if (r.headers['x-sluice-hedge'] === 'won') assert.ok(r.ms < 250, `hedged request took ${r.ms} ms`);
    }
  } finally {
    await stopAll(s, stall, fast);
  }
});

test('adaptive delay (p95): rare 2 s stalls are cut to near the healthy latency', async (tc) => {
  // 3% stalls: below the 5% that p95 ignores (at 10% the p95 latency IS the stall).
  const N = 300;
  const { stall, fast, s } = await stallPair(
    ['--latency-ms', '20', '--p-stall', '0.03', '--stall-ms', '2000', '--seed', '9'],
    ['--latency-ms', '20'],
    { delay: 'p95', min_delay: '10ms', max_extra: 1, budget: 0.5, budget_burst: 10 });
  const c = makeClient(s.url);
  try {
    // Warm-up: the sketch of the first deployment learns its ~20 ms latency (stalls here
    // may run their full 2 s: there is no data to hedge on yet).
    const warm = tally(await runLoad(60, 10, () => c.chat(chatBody('h'))));
    assert.equal(warm.status[200], 60, `${warm}`);
    const stallsBefore = (await stall.stats()).faults.stall;
    const res = await runLoad(N, 10, () => c.chat(chatBody('h')));
    const t = tally(res);
    assert.equal(t.status[200], N, `${t}`);
    const stalls = (await stall.stats()).faults.stall - stallsBefore;
    assert.ok(stalls >= 3, `the mock stalled ${stalls} times (the test needs a few)`);
    const ms = res.map((r) => r.ms).sort((a, b) => a - b);
    const p99 = ms[Math.floor(ms.length * 0.99) - 1];
    const max = ms.at(-1);
    assert.ok(max < 1000, `slowest request ${max.toFixed(0)} ms (p99 ${p99.toFixed(0)} ms): stalls were not hedged; ${t}`);
    const hedged = (t.hedge.fired ?? 0) + (t.hedge.won ?? 0);
    tc.diagnostic(`${stalls} stalls, ${hedged} hedges in ${N} requests; p99 ${p99.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
    assert.ok(hedged >= stalls, `${hedged} hedges for ${stalls} stalls: ${t}`);
    assert.ok(hedged <= 10 + 0.5 * (N + 60) + 1, `hedges within budget: ${t}`);
  } finally {
    c.close();
    await stopAll(s, stall, fast);
  }
});

test('hedge "fired" when the first attempt still wins; max_extra 2 sends a second hedge', async () => {
  const slowish = await startMock(['--latency-ms', '250']);
  const glacial = await startMock(['--latency-ms', '3000']);
  const stall = await startMock(['--p-stall', '1', '--stall-ms', '3000']);
  const fast = await startMock(['--latency-ms', '5']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        fired: [
          { port: slowish.port, order: 1, model_info: { id: 'fired-1' } },
          { port: glacial.port, order: 2, model_info: { id: 'fired-2' } },
        ],
        two: [
          { port: stall.port, order: 1, model_info: { id: 'two-s1' } },
          { port: stall.port, order: 2, model_info: { id: 'two-s2' } },
          { port: fast.port, order: 3, model_info: { id: 'two-fast' } },
        ],
        quick: { port: fast.port, model_info: { id: 'quick-0' } },
      },
      router: { allowed_fails: 1000 },
      settings: { hedging: { delay: '100ms', max_extra: 2, budget: 1, budget_burst: 100 } },
    }),
  });
  try {
    // The hedge fires at 100 ms; the first attempt answers at 250 ms and wins.
    let t0 = Date.now();
    const f = await post(`${s.url}${CHAT}`, chatBody('fired'));
    let ms = Date.now() - t0;
    assert.equal(f.status, 200, f.text);
    assertDecisionHeaders(f, { deployment: 'fired-1', attempts: 2, hedge: 'fired' });
    assert.ok(ms < 1000, `${ms} ms`);
    await waitStats(glacial, (x) => x.requests === 1 && x.inflight === 0,
      { timeoutMs: 1000, what: 'the losing hedge (3 s latency) to be closed' });
    const line = await accessLineOf(s, f);
    assert.equal(line.hedge, 'fired', JSON.stringify(line));

    // Two stalled attempts: the second hedge (at ~200 ms) wins. Each request pays 1 hedge
    // (budget 1) into the bucket; quick requests first leave room for two.
    for (let i = 0; i < 3; i++) assert.equal((await post(`${s.url}${CHAT}`, chatBody('quick'))).status, 200);
    t0 = Date.now();
    const two = await post(`${s.url}${CHAT}`, chatBody('two'));
    ms = Date.now() - t0;
    assert.equal(two.status, 200, two.text);
    assertDecisionHeaders(two, { deployment: 'two-fast', attempts: 3, hedge: 'won' });
    assert.ok(ms >= 180 && ms < 1000, `${ms} ms`);
    await waitStats(stall, (x) => x.requests === 2 && x.inflight === 0,
      { timeoutMs: 1000, what: 'both stalled attempts to be closed' });
  } finally {
    await stopAll(s, slowish, glacial, stall, fast);
  }
});

test('a group with one deployment hedges to its first fallback group', async () => {
  const stall = await startMock(['--p-stall', '1', '--stall-ms', '3000']);
  const fast = await startMock(['--latency-ms', '5']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        solo: { port: stall.port, model_info: { id: 'solo-0' } },
        fbk: { port: fast.port, model_info: { id: 'fbk-0' } },
      },
      router: { fallbacks: [{ solo: ['fbk'] }], allowed_fails: 1000 },
      settings: { hedging: { delay: '100ms', max_extra: 1, budget: 1, budget_burst: 100 } },
    }),
  });
  try {
    const t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('solo'), {}, { timeoutMs: 6000 });
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { group: 'solo', deployment: 'fbk-0', fallback: 'fbk', attempts: 2, hedge: 'won' });
    assert.ok(ms < 1000, `hedged to the fallback group: ${ms} ms (stall 3 s)`);
    await waitStats(stall, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'the stalled attempt to be closed' });
  } finally {
    await stopAll(s, stall, fast);
  }
});
