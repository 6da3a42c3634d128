// Failures and how sluice routes around them, against real sluice and sluice-mock
// processes: a deployment failing 30% of calls, a killed deployment (connection refused),
// a 429 storm with Retry-After seen by every worker, resets, deployment and per-request
// timeouts (the body `timeout` never reaches the provider), stream_timeout failover and
// the in-band error of a stream cut mid-way, fallback groups (general, default,
// context-window, content-policy), 4xx passed through without retry, 401 cooldowns,
// num_retries, and the immediate 503 / 429 when nothing can serve.
//
// The mock's body override (`"mock": {...}`) reaches whichever deployment sluice picks,
// so a fault meant for ONE deployment is set with that mock's CLI flags instead, and a
// group that must answer differently from its fallback uses the node fake upstream.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, cleanup, post, openStream, sseData, assertOpenAIError, findRecorded,
  nonce, chatBody, freePort,
  stopAll,
} from './lib.mjs';
import {
  routerConfig, makeClient, runLoad, tally, counts, assertDecisionHeaders, accessLineOf,
  waitStats, startFakeUpstream, chatCompletion,
} from './routing_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';

test('one deployment failing 30% with 500: 1,000 requests, no client-visible error, the faulty one gets the smaller share', async () => {
  const bad = await startMock(['--p-500', '0.3', '--seed', '5', '--latency-ms', '2']);
  const good = await startMock(['--seed', '6', '--latency-ms', '2']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { chat: [
        { port: bad.port, model_info: { id: 'bad' } },
        { port: good.port, model_info: { id: 'good' } },
      ] },
    }),
    workers: 2,
  });
  const c = makeClient(s.url);
  try {
    const res = await runLoad(1000, 16, () => c.chat(chatBody('chat')));
    const t = tally(res);
    assert.equal(t.status[200], 1000, `every request succeeds: ${t}`);
    const [nb, ng] = await counts(bad, good);
    const st = await bad.stats();
    assert.ok(st.faults['500'] > 0, 'the faulty mock did fail some calls (the test means something)');
    // Every upstream call is one attempt somewhere: the headers account for all of them.
    const attempts = res.reduce((a, r) => a + Number(r.headers['x-sluice-attempts']), 0);
    assert.equal(attempts, nb + ng, `sum of x-sluice-attempts vs mock request counts (bad ${nb}, good ${ng})`);
    assert.ok(res.some((r) => r.headers['x-sluice-attempts'] === '2'), 'some requests were retried');
    assert.ok(res.every((r) => Number(r.headers['x-sluice-attempts']) <= 2),
      `a 500 is retried on the healthy twin, never a third time: ${t}`);
    assert.ok(nb < ng, `faulty got ${nb} upstream requests, healthy ${ng}`);
    assert.ok(nb / (nb + ng) < 0.25, `faulty share ${(nb / (nb + ng)).toFixed(3)} (bad ${nb}, good ${ng}) should be small after cooldowns`);
    // The decision trail of a retried request.
    const retried = res.find((r) => r.headers['x-sluice-attempts'] === '2');
    assertDecisionHeaders(retried, { group: 'chat', deployment: 'good', attempts: 2, hedge: 'none', fallback: null });
    const line = await accessLineOf(s, retried);
    assert.equal(line.attempts?.length, 2, JSON.stringify(line));
    assert.equal(line.attempts[0].deployment, 'bad');
    assert.equal(line.attempts[0].outcome, 'http_500');
    assert.equal(line.attempts[1].deployment, 'good');
    assert.equal(line.attempts[1].outcome, 'ok');
    for (const a of line.attempts) {
      assert.equal(typeof a.start_ms, 'number');
      assert.equal(typeof a.latency_ms, 'number');
    }
    assert.ok(line.attempts[1].start_ms >= line.attempts[0].start_ms);
  } finally {
    c.close();
    await stopAll(s, bad, good);
  }
});

test('a killed deployment (connection refused) is routed around and cooled down', async () => {
  const a = await startMock(['--seed', '1']);
  const b = await startMock(['--seed', '2']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { k: [{ port: a.port, model_info: { id: 'k-a' } }, { port: b.port, model_info: { id: 'k-b' } }] },
      router: { allowed_fails: 3, cooldown_time: 30 },
    }),
  });
  const c = makeClient(s.url);
  try {
    const warm = tally(await runLoad(20, 4, () => c.chat(chatBody('k'))));
    assert.equal(warm.status[200], 20, `${warm}`);
    assert.ok(warm.deployment['k-a'] > 0, `both deployments serve while healthy: ${warm}`);
    await a.stop();
    const t = tally(await runLoad(60, 4, () => c.chat(chatBody('k'))));
    assert.equal(t.status[200], 60, `every request succeeds with one deployment dead: ${t}`);
    assert.equal(t.deployment['k-b'], 60, `all answered by the live one: ${t}`);
    // More than allowed_fails (3) failures in a minute cool it down (LiteLLM's rule: the
    // 4th); only requests already in flight (4) may add more retries.
    const retried = t.attempts['2'] ?? 0;
    assert.ok(retried >= 1 && retried <= 4 + 4, `requests that met the dead one first: ${retried}: ${t}`);
    // Streams too: nothing was sent yet, so a refused connection is invisible.
    const st = await openStream(`${s.url}${CHAT}`, { body: chatBody('k', { stream: true }) });
    await st.waitEnd(5000);
    assert.equal(st.status, 200);
    assert.equal(sseData(st.text).at(-1), '[DONE]');
  } finally {
    c.close();
    await stopAll(s, b);
  }
});

test('a 429 storm with Retry-After: the deployment gets no requests while it cools down, across workers, then one probe', async () => {
  const RA = 3;
  const storm = await startMock(['--p-429', '1', '--retry-after', String(RA), '--seed', '3']);
  const calm = await startMock(['--seed', '4']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { r: [{ port: storm.port, model_info: { id: 'storm' } }, { port: calm.port, model_info: { id: 'calm' } }] },
      // cooldown_time far above Retry-After: the probe coming back after ~RA s shows the
      // 429's Retry-After set the cooldown.
      router: { cooldown_time: 30, allowed_fails: 100 },
    }),
    workers: 2,
  });
  try {
    // Sequential requests until one has met the storm (shuffle picks it half the time).
    let firstAt = 0;
    for (let i = 0; i < 40 && !firstAt; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('r'));
      assert.equal(r.status, 200, `a 429 is retried on the twin: ${r.status} ${r.text}`);
      const [n] = await counts(storm);
      if (n >= 1) {
        firstAt = Date.now();
        assert.equal(n, 1);
        assertDecisionHeaders(r, { group: 'r', deployment: 'calm', attempts: 2 });
      }
    }
    assert.ok(firstAt, 'the storm deployment was never chosen in 40 requests');
    const before = (await counts(storm))[0];
    // A burst on fresh connections, spread over both workers.
    const res = await runLoad(80, 8, () => post(`${s.url}${CHAT}`, chatBody('r')));
    const burstEnd = Date.now();
    const t = tally(res);
    assert.equal(t.status[200], 80, `${t}`);
    const workers = new Set(res.map((r) => String(r.headers['x-request-id']).split('-')[0]));
    assert.ok(workers.size >= 2, `the burst reached both workers (request-id prefixes ${[...workers]})`);
    assert.ok(burstEnd - firstAt < RA * 1000 - 500, `burst took ${burstEnd - firstAt} ms: too slow to judge the cooldown`);
    const during = (await counts(storm))[0];
    assert.equal(during, before, `the 429ing deployment got ${during - before} requests during its ${RA} s cooldown`);
    assert.equal(t.deployment.calm, 80, `${t}`);
    assert.equal(t.attempts['1'], 80, `no request even tried it: ${t}`);
    // After Retry-After, one probe goes to it again (and fails: still 429).
    let probeAt = 0;
    for (let i = 0; i < 400 && !probeAt; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('r'));
      assert.equal(r.status, 200, r.text);
      if ((await counts(storm))[0] > before) probeAt = Date.now();
      else if (Date.now() - firstAt > RA * 1000 + 5000) break;
      else await new Promise((res2) => setTimeout(res2, 20)); // pacing of the probing traffic
    }
    assert.ok(probeAt, `no probe within Retry-After + 5 s (cooldown_time 30 s used instead of Retry-After ${RA} s?)`);
    const waited = probeAt - firstAt;
    assert.ok(waited >= RA * 1000 - 300, `probe after ${waited} ms, before Retry-After (${RA} s) had passed`);
    assert.equal((await counts(storm))[0], before + 1, 'exactly one probe');
  } finally {
    await stopAll(s, storm, calm);
  }
});

test('resets before and during a whole response are retried on the twin', async () => {
  const rb = await startMock(['--p-reset-before', '1']);
  const rd = await startMock(['--p-reset-during', '1']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        rb: [{ port: rb.port, order: 1, model_info: { id: 'rb-bad' } }, { port: ok.port, order: 2, model_info: { id: 'rb-ok' } }],
        rd: [{ port: rd.port, order: 1, model_info: { id: 'rd-bad' } }, { port: ok.port, order: 2, model_info: { id: 'rd-ok' } }],
      },
      router: { allowed_fails: 100 },
    }),
  });
  try {
    for (const g of ['rb', 'rd']) {
      const r = await post(`${s.url}${CHAT}`, chatBody(g));
      assert.equal(r.status, 200, `${g}: ${r.text}`);
      assert.equal(r.json().object, 'chat.completion');
      assertDecisionHeaders(r, { group: g, deployment: `${g}-ok`, attempts: 2 });
      const line = await accessLineOf(s, r);
      assert.equal(line.attempts[0].outcome, 'upstream_reset', JSON.stringify(line.attempts));
    }
  } finally {
    await stopAll(s, rb, rd, ok);
  }
});

test('a deployment slower than its timeout is failed over; its connection is closed', async () => {
  const stall = await startMock(['--p-stall', '1', '--stall-ms', '5000']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { to: [
        { port: stall.port, order: 1, timeout: 0.3, model_info: { id: 'to-slow' } },
        { port: ok.port, order: 2, model_info: { id: 'to-ok' } },
      ] },
      router: { allowed_fails: 100 },
    }),
  });
  try {
    const t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('to'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { deployment: 'to-ok', attempts: 2 });
    assert.ok(ms >= 250 && ms < 1500, `answered after the 0.3 s timeout, not the 5 s stall: ${ms} ms`);
    const line = await accessLineOf(s, r);
    assert.equal(line.attempts[0].outcome, 'upstream_timeout', JSON.stringify(line.attempts));
    await waitStats(stall, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'the timed-out call to be closed' });
  } finally {
    await stopAll(s, stall, ok);
  }
});

test('per-request timeout (x-sluice-timeout header or body timeout) bounds the request; timeout is not forwarded', async () => {
  const m = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({ groups: { pt: { port: m.port } }, router: { allowed_fails: 100 } }),
  });
  try {
    const stall = { fault: 'stall', stall_ms: 5000 };
    for (const [how, body, headers] of [
      ['body', chatBody('pt', { timeout: 0.4, mock: stall, user: nonce('tb') }), {}],
      ['header', chatBody('pt', { mock: stall, user: nonce('th') }), { 'x-sluice-timeout': '0.4' }],
    ]) {
      const t0 = Date.now();
      const r = await post(`${s.url}${CHAT}`, body, headers);
      const ms = Date.now() - t0;
      assert.equal(r.status, 504, `${how}: ${r.status} ${r.text}`);
      assertOpenAIError(r.text, { code: 'upstream_timeout' });
      assert.ok(ms >= 350 && ms < 1500, `${how}: answered after ${ms} ms (timeout 0.4 s, stall 5 s)`);
    }
    const id = nonce('tok');
    const r = await post(`${s.url}${CHAT}`, chatBody('pt', { timeout: 30, user: id, temperature: 0.5 }));
    assert.equal(r.status, 200, r.text);
    const stats = await m.stats();
    for (const rec of stats.last) {
      const b = JSON.parse(rec.body);
      assert.ok(!('timeout' in b), `the provider saw a timeout field: ${rec.body}`);
    }
    const rec = findRecorded(stats, (b) => b?.user === id);
    assert.ok(rec, 'the request reached the mock');
    assert.equal(rec.json.temperature, 0.5, 'other fields are kept');
    await waitStats(m, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'timed-out calls to be closed' });
  } finally {
    await stopAll(s, m);
  }
});

test('stream_timeout: a deployment slow to its first token is failed over before the client sees a byte', async () => {
  const slow = await startMock(['--ttft-ms', '2000', '--tokens', '5', '--itl-ms', '1']);
  const fast = await startMock(['--ttft-ms', '5', '--tokens', '5', '--itl-ms', '1']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { st: [
        { port: slow.port, order: 1, stream_timeout: 0.3, model_info: { id: 'st-slow' } },
        { port: fast.port, order: 2, stream_timeout: 0.3, model_info: { id: 'st-fast' } },
      ] },
      router: { allowed_fails: 100 },
    }),
  });
  try {
    const t0 = Date.now();
    const st = await openStream(`${s.url}${CHAT}`, { body: chatBody('st', { stream: true }) });
    await st.waitEnd(5000);
    const ms = Date.now() - t0;
    assert.equal(st.status, 200, st.text);
    assertDecisionHeaders(st, { deployment: 'st-fast', attempts: 2 });
    const ev = sseData(st.text);
    assert.equal(ev.at(-1), '[DONE]', st.text);
    assert.ok(ev.length >= 6, `5 tokens and [DONE]: ${st.text}`);
    assert.ok(ms >= 250 && ms < 1500, `completed ${ms} ms after the start (stream_timeout 0.3 s, slow ttft 2 s)`);
    await waitStats(slow, (x) => x.streams_aborted === 1 && x.inflight === 0,
      { timeoutMs: 1000, what: 'the slow stream to be closed' });
    const line = await accessLineOf(s, st);
    assert.equal(line.attempts.length, 2, JSON.stringify(line));
    assert.equal(line.attempts[0].deployment, 'st-slow');
    assert.equal(line.attempts[0].outcome, 'upstream_timeout');
  } finally {
    await stopAll(s, slow, fast);
  }
});

test('a stream cut mid-way ends with an in-band error event, and is not retried', async () => {
  const a = await startMock(['--tokens', '10', '--itl-ms', '2']);
  const b = await startMock(['--tokens', '10', '--itl-ms', '2']);
  const s = await startSluice({
    yaml: routerConfig({ groups: { sc: [{ port: a.port }, { port: b.port }] } }),
  });
  try {
    const before = (await counts(a, b)).reduce((x, y) => x + y);
    const st = await openStream(`${s.url}${CHAT}`, {
      body: chatBody('sc', { stream: true, mock: { fault: 'reset-during' } }),
    });
    await st.waitEnd(5000);
    assert.equal(st.status, 200);
    assertDecisionHeaders(st, { group: 'sc', attempts: 1 });
    assert.match(st.headers['x-sluice-deployment'] ?? '', /^sc-[01]$/, 'derived deployment id <group>-<n>');
    const ev = sseData(st.text);
    assert.ok(!ev.includes('[DONE]'), st.text);
    assert.ok(ev.length >= 2, `some tokens, then the error: ${st.text}`);
    const err = JSON.parse(ev.at(-1));
    assert.ok(err.error && typeof err.error.message === 'string', `last event is an error: ${ev.at(-1)}`);
    JSON.parse(ev.at(-2)); // the chunk before it is a whole event
    const after_ = (await counts(a, b)).reduce((x, y) => x + y);
    assert.equal(after_ - before, 1, 'bytes went out: no second attempt');
  } finally {
    await stopAll(s, a, b);
  }
});

test('fallbacks: a group that fails everywhere falls back (router fallbacks, default_fallbacks)', async () => {
  const f500 = await startMock(['--p-500', '1']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        fa: [{ port: f500.port, model_info: { id: 'fa-0' } }, { port: f500.port, model_info: { id: 'fa-1' } }],
        fz: [{ port: f500.port, model_info: { id: 'fz-0' } }],
        fb: [{ port: ok.port, model_info: { id: 'fb-0' } }],
        fd: [{ port: ok.port, model_info: { id: 'fd-0' } }],
      },
      // num_retries 1: each of fa's two deployments once (a lone deployment is retried by
      // default: see attempts.test.mjs), then the fallback group.
      router: { fallbacks: [{ fa: ['fb'] }], default_fallbacks: ['fd'], allowed_fails: 100, num_retries: 1 },
    }),
  });
  try {
    const [b5, bo] = await counts(f500, ok);
    const r = await post(`${s.url}${CHAT}`, chatBody('fa'));
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { group: 'fa', deployment: 'fb-0', fallback: 'fb', attempts: 3 });
    const [a5, ao] = await counts(f500, ok);
    assert.equal(a5 - b5, 2, 'both deployments of fa tried once');
    assert.equal(ao - bo, 1, 'then the fallback group');
    const line = await accessLineOf(s, r);
    assert.equal(line.fallback, 'fb', JSON.stringify(line));
    assert.deepEqual(line.attempts.map((x) => x.deployment).slice(0, 2).sort(), ['fa-0', 'fa-1']);
    const d = await post(`${s.url}${CHAT}`, chatBody('fz'));
    assert.equal(d.status, 200, d.text);
    // fz's lone deployment is tried 1 + num_retries times, then the default fallback.
    assertDecisionHeaders(d, { group: 'fz', deployment: 'fd-0', fallback: 'fd', attempts: 3 });
    // A healthy group says nothing about fallbacks.
    const h = await post(`${s.url}${CHAT}`, chatBody('fb'));
    assertDecisionHeaders(h, { group: 'fb', fallback: null, attempts: 1 });
  } finally {
    await stopAll(s, f500, ok);
  }
});

test('num_retries bounds the attempts within a group; the last error is passed through', async () => {
  const f500 = await startMock(['--p-500', '1']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { nr: [
        { port: f500.port, order: 1, model_info: { id: 'nr-0' } },
        { port: f500.port, order: 1, model_info: { id: 'nr-1' } },
        { port: ok.port, order: 2, model_info: { id: 'nr-2' } },
      ] },
      router: { num_retries: 1, allowed_fails: 100 },
    }),
  });
  try {
    const [b5, bo] = await counts(f500, ok);
    const r = await post(`${s.url}${CHAT}`, chatBody('nr'));
    assert.equal(r.status, 500, `1 try + 1 retry, both 500: ${r.status} ${r.text}`);
    assertOpenAIError(r.text, {});
    assertDecisionHeaders(r, { group: 'nr', attempts: 2 });
    const [a5, ao] = await counts(f500, ok);
    assert.equal(a5 - b5, 2);
    assert.equal(ao - bo, 0, 'a third deployment was not tried');
  } finally {
    await stopAll(s, f500, ok);
  }
});

test('400s: context window -> context_window_fallbacks, content policy -> content_policy_fallbacks, others as they came', async () => {
  const m = await startMock([]);
  const big = await startFakeUpstream(() => ({ status: 200, body: chatCompletion('fake-big') }));
  const safe = await startFakeUpstream(() => ({ status: 200, body: chatCompletion('fake-safe') }));
  const generic = await startFakeUpstream(() => ({ status: 200, body: chatCompletion('fake-generic') }));
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        small: [{ port: m.port, model_info: { id: 'small-0' } }, { port: m.port, model_info: { id: 'small-1' } }],
        tiny: [{ port: m.port, model_info: { id: 'tiny-0', max_input_tokens: 50 } }],
        big: { port: big.port, model: 'openai/fake-big', model_info: { id: 'big-0' } },
        safe: { port: safe.port, model: 'openai/fake-safe', model_info: { id: 'safe-0' } },
        generic: { port: generic.port, model: 'openai/fake-generic', model_info: { id: 'generic-0' } },
      },
      router: {
        context_window_fallbacks: [{ small: ['big'] }, { tiny: ['big'] }],
        content_policy_fallbacks: [{ small: ['safe'] }],
        fallbacks: [{ small: ['generic'] }],
        allowed_fails: 100,
      },
    }),
  });
  try {
    // Context window exceeded upstream.
    let [n0] = await counts(m);
    const ctx = await post(`${s.url}${CHAT}`, chatBody('small', { mock: { status: 400,
      error_message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens." } }));
    assert.equal(ctx.status, 200, ctx.text);
    assertDecisionHeaders(ctx, { group: 'small', deployment: 'big-0', fallback: 'big' });
    assert.equal(ctx.json().model, 'fake-big');
    let [n1] = await counts(m);
    assert.equal(n1 - n0, 1, 'a context-window error is not retried inside the group');
    assert.equal(big.count, 1);
    assert.equal(big.requests[0].json.model, 'fake-big', 'the fallback deployment gets its own model name');

    // Content policy.
    const cp = await post(`${s.url}${CHAT}`, chatBody('small', { mock: { status: 400,
      error_message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. (content_policy_violation)" } }));
    assert.equal(cp.status, 200, cp.text);
    assertDecisionHeaders(cp, { group: 'small', deployment: 'safe-0', fallback: 'safe' });
    assert.equal(safe.count, 1);

    // Any other 400: back to the client as it came; no retry, no fallback.
    [n0] = await counts(m);
    const msg = "Invalid value for 'temperature': expected a number <= 2, got 7.";
    const bad = await post(`${s.url}${CHAT}`, chatBody('small', { mock: { status: 400, error_message: msg } }));
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json().error.message, msg, 'the provider error body is passed through');
    assertDecisionHeaders(bad, { group: 'small', attempts: 1, fallback: null });
    [n1] = await counts(m);
    assert.equal(n1 - n0, 1, 'a 400 is not retried');
    assert.equal(generic.count, 0, 'nor sent to a fallback');
    assert.equal(big.count, 1);
    assert.equal(safe.count, 1);

    // A prompt longer than max_input_tokens skips the deployment before calling it.
    [n0] = await counts(m);
    const long = await post(`${s.url}${CHAT}`, {
      model: 'tiny', messages: [{ role: 'user', content: 'lorem ipsum '.repeat(100) }],
    });
    assert.equal(long.status, 200, long.text);
    assertDecisionHeaders(long, { group: 'tiny', deployment: 'big-0', fallback: 'big', attempts: 1 });
    [n1] = await counts(m);
    assert.equal(n1 - n0, 0, 'the too-small deployment was never called');
    const short = await post(`${s.url}${CHAT}`, chatBody('tiny'));
    assertDecisionHeaders(short, { deployment: 'tiny-0', fallback: null });
  } finally {
    await stopAll(s, m, big, safe, generic);
  }
});

test('401, and 429 without Retry-After: retried on the twin, and that deployment cools down at once', async () => {
  const auth = await startFakeUpstream(() => ({ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } }));
  const limited = await startFakeUpstream(() => ({ status: 429, body: { error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } } }));
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        au: [{ port: auth.port, order: 1, model_info: { id: 'au-bad' } }, { port: ok.port, order: 2, model_info: { id: 'au-ok' } }],
        rl: [{ port: limited.port, order: 1, model_info: { id: 'rl-bad' } }, { port: ok.port, order: 2, model_info: { id: 'rl-ok' } }],
      },
      router: { cooldown_time: 30, allowed_fails: 100 },
    }),
  });
  try {
    for (const [g, fake] of [['au', auth], ['rl', limited]]) {
      const r = await post(`${s.url}${CHAT}`, chatBody(g));
      assert.equal(r.status, 200, `${g}: ${r.text}`);
      assertDecisionHeaders(r, { deployment: `${g}-ok`, attempts: 2 });
      for (let i = 0; i < 5; i++) {
        const x = await post(`${s.url}${CHAT}`, chatBody(g));
        assert.equal(x.status, 200, x.text);
        assertDecisionHeaders(x, { deployment: `${g}-ok`, attempts: 1 });
      }
      assert.equal(fake.count, 1, `${g}: the deployment cooled down (cooldown_time) after its first error`);
    }
  } finally {
    await stopAll(s, ok, auth, limited);
  }
});

test('all deployments down: 503 no_healthy_deployment with Retry-After, at once', async () => {
  const p1 = await freePort();
  const p2 = await freePort();
  const s = await startSluice({
    yaml: routerConfig({
      groups: { down: [{ port: p1 }, { port: p2 }] },
      router: { allowed_fails: 1, cooldown_time: 20, num_retries: 1 }, // one try of each, no third
    }),
  });
  try {
    // allowed_fails 1: the second failure of each deployment (LiteLLM: fails > allowed_fails)
    // cools it down. Two requests, each trying both, make two failures each.
    for (let i = 0; i < 2; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('down'));
      assert.equal(r.status, 502, `request ${i + 1}: ${r.status} ${r.text}`);
      assertOpenAIError(r.text, { code: 'upstream_connect_error' });
      assertDecisionHeaders(r, { group: 'down', attempts: 2 });
    }
    for (const body of [chatBody('down'), chatBody('down', { stream: true })]) {
      const t0 = Date.now();
      const r = await post(`${s.url}${CHAT}`, body);
      const ms = Date.now() - t0;
      assert.equal(r.status, 503, r.text);
      assertOpenAIError(r.text, { code: 'no_healthy_deployment' });
      assert.ok(ms < 1000, `answered in ${ms} ms`);
      const ra = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 20, `Retry-After: ${r.headers['retry-after']}`);
      assertDecisionHeaders(r, { group: 'down', attempts: 0 });
    }
  } finally {
    await stopAll(s);
  }
});

test('rpm limits exhausted: 429 rate_limit_exceeded with Retry-After, nothing sent upstream', async () => {
  const m = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { lim: [{ port: m.port, rpm: 2, model_info: { id: 'lim-0' } }, { port: m.port, rpm: 2, model_info: { id: 'lim-1' } }] },
    }),
  });
  try {
    const res = [];
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      const r = await post(`${s.url}${CHAT}`, chatBody('lim'));
      r.ms = Date.now() - t0;
      res.push(r);
    }
    const ok = res.filter((r) => r.status === 200).length;
    const limited = res.filter((r) => r.status === 429);
    assert.equal(ok + limited.length, 10, res.map((r) => `${r.status} ${r.text}`).join('\n'));
    // 4 per minute; a minute boundary during the run can allow 4 more.
    assert.ok(ok >= 4 && ok <= 8, `${ok} succeeded`);
    assert.equal(res.slice(0, 4).filter((r) => r.status === 200).length, 4, 'the first 4 fit the limits');
    assert.ok(limited.length >= 2);
    for (const r of limited) {
      assertOpenAIError(r.text, { code: 'rate_limit_exceeded' });
      const ra = Number(r.headers['retry-after']);
      assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After: ${r.headers['retry-after']}`);
      assert.ok(r.ms < 1000, `at once: ${r.ms} ms`);
      assertDecisionHeaders(r, { group: 'lim' });
    }
    assert.equal((await counts(m))[0], ok, 'rate-limited requests never reach the provider');
  } finally {
    await stopAll(s, m);
  }
});

test('statuses: 408/429/5xx/529 and 401/403/404 are retried on the twin; other 4xx come back as they came', async () => {
  // The fake (order 1) answers with the status named in the body; the mock (order 2)
  // ignores the field. cooldown_time 0: no cooldowns, so every request meets the fake first.
  const fake = await startFakeUpstream((req) => {
    const st = req.json?.fake_status ?? 200;
    if (st === 200) return { status: 200, body: chatCompletion('fake') };
    return { status: st, body: { error: { message: `fake says ${st}`, type: 'fake_error', param: null, code: `fake_${st}` } } };
  });
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { st: [
        { port: fake.port, order: 1, model_info: { id: 'st-fake' } },
        { port: ok.port, order: 2, model_info: { id: 'st-ok' } },
      ] },
      router: { cooldown_time: 0, allowed_fails: 1000 },
    }),
  });
  try {
    for (const code of [408, 429, 500, 502, 503, 504, 529, 401, 403, 404]) {
      const n0 = fake.count;
      const t0 = Date.now();
      const r = await post(`${s.url}${CHAT}`, chatBody('st', { fake_status: code }));
      const ms = Date.now() - t0;
      assert.equal(r.status, 200, `${code} is retried: ${r.status} ${r.text}`);
      assertDecisionHeaders(r, { deployment: 'st-ok', attempts: 2 });
      assert.equal(fake.count - n0, 1, `${code}: the fake was called once`);
      assert.ok(ms < 1500, `${code}: retried promptly (${ms} ms)`);
    }
    for (const code of [400, 409, 413, 422]) {
      const okBefore = (await counts(ok))[0];
      const r = await post(`${s.url}${CHAT}`, chatBody('st', { fake_status: code }));
      assert.equal(r.status, code, `${code} passes through: ${r.text}`);
      assert.deepEqual(r.json(), { error: { message: `fake says ${code}`, type: 'fake_error', param: null, code: `fake_${code}` } });
      assertDecisionHeaders(r, { deployment: 'st-fake', attempts: 1 });
      assert.equal((await counts(ok))[0], okBefore, `${code}: not retried`);
    }
  } finally {
    await stopAll(s, ok, fake);
  }
});

test('router retry_after: a retry waits at least retry_after seconds', async () => {
  const f500 = await startMock(['--p-500', '1']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { ra: [{ port: f500.port, order: 1 }, { port: ok.port, order: 2 }] },
      router: { retry_after: 0.5, allowed_fails: 100 },
    }),
  });
  try {
    const t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('ra'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { deployment: 'ra-1', attempts: 2 });
    assert.ok(ms >= 450 && ms < 2000, `retried after ${ms} ms (retry_after 0.5 s)`);
  } finally {
    await stopAll(s, f500, ok);
  }
});

test('max_retries of the first deployment bounds the retries; max_fallbacks bounds the fallback groups', async () => {
  const f500 = await startMock(['--p-500', '1']);
  const ok = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        mr: [{ port: f500.port, order: 1, max_retries: 0, model_info: { id: 'mr-0' } }, { port: ok.port, order: 2, model_info: { id: 'mr-1' } }],
        mf: { port: f500.port, model_info: { id: 'mf-0' } },
        mf1: { port: f500.port, model_info: { id: 'mf1-0' } },
        mf2: { port: ok.port, model_info: { id: 'mf2-0' } },
      },
      router: { fallbacks: [{ mf: ['mf1', 'mf2'] }], max_fallbacks: 1, allowed_fails: 100, num_retries: 0 },
    }),
  });
  try {
    let okBefore = (await counts(ok))[0];
    const r = await post(`${s.url}${CHAT}`, chatBody('mr'));
    assert.equal(r.status, 500, `max_retries 0: no retry: ${r.status} ${r.text}`);
    assertDecisionHeaders(r, { deployment: 'mr-0', attempts: 1 });
    assert.equal((await counts(ok))[0], okBefore);
    okBefore = (await counts(ok))[0];
    const f = await post(`${s.url}${CHAT}`, chatBody('mf'));
    assert.equal(f.status, 500, `max_fallbacks 1: mf2 is not tried: ${f.status} ${f.text}`);
    assertDecisionHeaders(f, { attempts: 2 });
    assert.equal((await counts(ok))[0], okBefore);
  } finally {
    await stopAll(s, f500, ok);
  }
});

test('router timeout bounds a request; stream_idle_timeout ends a silent stream with an in-band error', async () => {
  const m = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { rt: { port: m.port } },
      router: { timeout: 0.4, allowed_fails: 100 },
      settings: { stream_idle_timeout: '300ms' },
    }),
  });
  try {
    let t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('rt', { mock: { fault: 'stall', stall_ms: 5000 } }));
    let ms = Date.now() - t0;
    assert.equal(r.status, 504, r.text);
    assert.ok(ms >= 350 && ms < 1500, `router timeout 0.4 s: ${ms} ms`);
    // The stream below is allowed more than the router timeout (per-request header), so
    // only the idle timeout can end it.
    t0 = Date.now();
    const st = await openStream(`${s.url}${CHAT}`, {
      body: chatBody('rt', { stream: true, mock: { tokens: 3, ttft_ms: 0, itl_ms: 4000 } }),
      headers: { 'x-sluice-timeout': '20' },
    });
    await st.waitEnd(5000);
    ms = Date.now() - t0;
    assert.equal(st.status, 200);
    const ev = sseData(st.text);
    assert.ok(!ev.includes('[DONE]'), st.text);
    const err = JSON.parse(ev.at(-1));
    assert.equal(err.error?.code, 'upstream_timeout', ev.at(-1));
    assert.ok(ms >= 250 && ms < 2000, `idle 0.3 s, next token after 4 s: ended after ${ms} ms`);
    await waitStats(m, (x) => x.inflight === 0, { timeoutMs: 1000, what: 'the silent stream to be closed' });
  } finally {
    await stopAll(s, m);
  }
});
