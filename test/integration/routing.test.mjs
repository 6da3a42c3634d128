// Choosing a deployment, against real processes: model_group_alias (and /v1/models),
// the decision headers on every API response, simple-shuffle weights, order (with the
// half-open probe that gives traffic back to a recovered order-1 deployment),
// cost-based, least-busy, usage-based and latency-based routing (a deployment that slows
// from 20 to 200 ms loses its traffic within a few seconds and wins it back after it
// recovers; the mock is restarted on the same port with other latency flags).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, cleanup, request, post, openStream, sseData, findRecorded, nonce,
  chatBody, freePort, delay,
} from './lib.mjs';
import {
  routerConfig, makeClient, runLoad, tally, counts, assertDecisionHeaders, startMockOn, restartMock,
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

test('model_group_alias: an alias routes to its group and is listed in /v1/models unless hidden', async () => {
  const m = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { chat: { port: m.port, model: 'openai/mock-model' }, other: { port: m.port } },
      router: { model_group_alias: { 'gpt-4o': 'chat', internal: { model: 'chat', hidden: true } } },
    }),
  });
  try {
    const models = await request(`${s.url}/v1/models`);
    assert.equal(models.status, 200, models.text);
    const ids = models.json().data.map((x) => x.id).sort();
    assert.deepEqual(ids, ['chat', 'gpt-4o', 'other'], 'the hidden alias is not listed');
    assert.ok(models.headers['x-request-id'], 'x-request-id on /v1/models');
    for (const alias of ['gpt-4o', 'internal']) {
      const id = nonce(alias);
      const r = await post(`${s.url}${CHAT}`, chatBody(alias, { user: id }));
      assert.equal(r.status, 200, `${alias}: ${r.text}`);
      assertDecisionHeaders(r, { group: 'chat', deployment: 'chat-0', attempts: 1, hedge: 'none' });
      const rec = findRecorded(await m.stats(), (b) => b?.user === id);
      assert.equal(rec?.json.model, 'mock-model', 'the deployment model goes upstream');
    }
    const unknown = await post(`${s.url}${CHAT}`, chatBody('gpt-5'));
    assert.equal(unknown.status, 400);
    assert.ok(unknown.headers['x-request-id'], 'x-request-id on errors too');
  } finally {
    await stopAll(s, m);
  }
});

test('decision headers on plain and streaming responses; derived ids are <group>-<n>', async () => {
  const a = await startMock(['--tokens', '3', '--itl-ms', '1']);
  const b = await startMock(['--tokens', '3', '--itl-ms', '1']);
  const s = await startSluice({
    yaml: routerConfig({ groups: { duo: [{ port: a.port }, { port: b.port }] } }),
  });
  try {
    const seen = new Set();
    for (let i = 0; i < 30; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('duo'));
      assert.equal(r.status, 200, r.text);
      assertDecisionHeaders(r, { group: 'duo', attempts: 1, hedge: 'none', fallback: null });
      seen.add(r.headers['x-sluice-deployment']);
    }
    assert.deepEqual([...seen].sort(), ['duo-0', 'duo-1'], 'both deployments, ids by position in the group');
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const st = await openStream(`${s.url}${CHAT}`, { body: chatBody('duo', { stream: true }) });
      await st.waitEnd(5000);
      assert.equal(st.status, 200);
      assertDecisionHeaders(st, { group: 'duo', attempts: 1, hedge: 'none' });
      assert.match(st.headers['x-sluice-deployment'], /^duo-[01]$/);
      assert.equal(sseData(st.text).at(-1), '[DONE]');
      ids.add(st.headers['x-request-id']);
    }
    assert.equal(ids.size, 3, 'request ids are unique');
    for (const e of ['/v1/completions', '/v1/embeddings']) {
      const r = await post(`${s.url}${e}`, e.endsWith('embeddings') ? { model: 'duo', input: 'x' } : { model: 'duo', prompt: 'x' });
      assert.equal(r.status, 200, `${e}: ${r.text}`);
      assertDecisionHeaders(r, { group: 'duo', attempts: 1, hedge: 'none' });
    }
  } finally {
    await stopAll(s, a, b);
  }
});

test('simple-shuffle: weights 9:1 split 500 requests about 9:1', async () => {
  const a = await startMock([]);
  const b = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { w: [{ port: a.port, weight: 9, model_info: { id: 'w9' } }, { port: b.port, weight: 1, model_info: { id: 'w1' } }] },
      router: { routing_strategy: 'simple-shuffle' },
    }),
    workers: 2,
  });
  const c = makeClient(s.url);
  try {
    const t = tally(await runLoad(500, 16, () => c.chat(chatBody('w'))));
    assert.equal(t.status[200], 500, `${t}`);
    const share = t.share('w9');
    // Binomial(500, 0.9): sd ~ 0.013; 0.83..0.96 is beyond 5 sd.
    assert.ok(share > 0.83 && share < 0.96, `weight-9 share ${share}: ${t}`);
    const [na, nb] = await counts(a, b);
    assert.equal(na + nb, 500);
    assert.equal(na, t.deployment.w9, 'mock counts agree with the headers');
  } finally {
    c.close();
    await stopAll(s, a, b);
  }
});

test('order: order 1 serves while healthy; order 2 takes over while it cools down; a probe gives traffic back', async () => {
  const port = await freePort();
  let a = await startMockOn(port, []);
  const b = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { o: [{ port: b.port, order: 2, model_info: { id: 'o-2' } }, { port, order: 1, model_info: { id: 'o-1' } }] },
      router: { allowed_fails: 1, cooldown_time: 1 },
    }),
  });
  const c = makeClient(s.url);
  try {
    let t = tally(await runLoad(30, 4, () => c.chat(chatBody('o'))));
    assert.equal(t.deployment['o-1'], 30, `order 1 only: ${t}`);
    await a.stop();
    // allowed_fails 1: its second failure (LiteLLM: fails > allowed_fails) cools it down.
    for (let i = 0; i < 2; i++) {
      const r = await c.chat(chatBody('o'));
      assert.equal(r.status, 200, r.text);
      assertDecisionHeaders(r, { deployment: 'o-2', attempts: 2 });
    }
    t = tally(await runLoad(10, 2, () => c.chat(chatBody('o'))));
    assert.equal(t.deployment['o-2'], 10, `order 2 while order 1 cools down: ${t}`);
    assert.equal(t.attempts['1'], 10, `no request tried the cooled deployment: ${t}`);
    a = await startMockOn(port, []);
    // After the 1 s cooldown (doubled at most a couple of times by failed probes), a probe
    // finds it healthy again and traffic returns.
    const t0 = Date.now();
    let back = 0;
    while (!back && Date.now() - t0 < 8000) {
      const x = await c.chat(chatBody('o'));
      assert.equal(x.status, 200, x.text);
      if (x.headers['x-sluice-deployment'] === 'o-1') back = Date.now() - t0;
      else await delay(20); // pacing of the probing traffic
    }
    assert.ok(back, 'order 1 never got traffic back within 8 s of recovering');
    t = tally(await runLoad(20, 4, () => c.chat(chatBody('o'))));
    assert.equal(t.deployment['o-1'], 20, `closed again after a good probe: ${t}`);
  } finally {
    c.close();
    await stopAll(s, a, b);
  }
});

test('cost-based-routing picks the cheaper deployment while it is available', async () => {
  const cheap = await startMock([]);
  const dear = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { cb: [
        { port: dear.port, model_info: { id: 'dear', input_cost_per_token: 0.00003, output_cost_per_token: 0.00006 } },
        { port: cheap.port, model_info: { id: 'cheap', input_cost_per_token: 0.0000005, output_cost_per_token: 0.0000015 } },
      ] },
      router: { routing_strategy: 'cost-based-routing', allowed_fails: 1, cooldown_time: 30 },
    }),
  });
  const c = makeClient(s.url);
  try {
    let t = tally(await runLoad(30, 4, () => c.chat(chatBody('cb'))));
    assert.equal(t.deployment.cheap, 30, `${t}`);
    assert.deepEqual(await counts(cheap, dear), [30, 0]);
    await cheap.stop();
    t = tally(await runLoad(10, 2, () => c.chat(chatBody('cb'))));
    assert.equal(t.status[200], 10, `${t}`);
    assert.equal(t.deployment.dear, 10, `the dear one serves when the cheap one is down: ${t}`);
  } finally {
    c.close();
    await stopAll(s, cheap, dear);
  }
});

test('least-busy sends most traffic to the deployment that finishes quickly', async () => {
  const slow = await startMock(['--latency-ms', '300']);
  const quick = await startMock(['--latency-ms', '5']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { lb: [{ port: slow.port, model_info: { id: 'lb-slow' } }, { port: quick.port, model_info: { id: 'lb-quick' } }] },
      router: { routing_strategy: 'least-busy' },
    }),
  });
  const c = makeClient(s.url);
  try {
    const t = tally(await runLoad(80, 8, () => c.chat(chatBody('lb'))));
    assert.equal(t.status[200], 80, `${t}`);
    assert.ok(t.share('lb-quick') > 0.7, `quick share ${t.share('lb-quick')}: ${t}`);
    assert.ok((t.deployment['lb-slow'] ?? 0) >= 1, `the slow one still gets a request when it is idle: ${t}`);
  } finally {
    c.close();
    await stopAll(s, slow, quick);
  }
});

test('usage-based-routing prefers the deployment with the most tpm headroom', async () => {
  const small = await startMock([]);
  const large = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { ub: [
        { port: small.port, tpm: 1000, model_info: { id: 'ub-small' } },
        { port: large.port, tpm: 1000000, model_info: { id: 'ub-large' } },
      ] },
      router: { routing_strategy: 'usage-based-routing' },
    }),
  });
  try {
    const t = tally(await runLoad(40, 1, () => post(`${s.url}${CHAT}`, chatBody('ub'))));
    assert.equal(t.status[200], 40, `${t}`);
    assert.ok((t.deployment['ub-large'] ?? 0) >= 36, `the large-tpm deployment takes almost everything: ${t}`);
  } finally {
    await stopAll(s, small, large);
  }
});

test('latency-based-routing: a deployment that slows from 20 to 200 ms loses its traffic within seconds, and wins it back after recovering', async (tc) => {
  const port = await freePort();
  let a = await startMockOn(port, ['--latency-ms', '20']);
  const b = await startMock(['--latency-ms', '20']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { lat: [{ port, model_info: { id: 'lat-a' } }, { port: b.port, model_info: { id: 'lat-b' } }] },
      router: { routing_strategy: 'latency-based-routing', allowed_fails: 100 },
    }),
  });
  const c = makeClient(s.url);
  const window = async (n = 24) => tally(await runLoad(n, 4, () => c.chat(chatBody('lat'))));
  try {
    // Both at 20 ms: both serve.
    let t = await window(60);
    assert.equal(t.status[200], 60, `${t}`);
    assert.ok(t.share('lat-a') >= 0.1 && t.share('lat-b') >= 0.1, `both used while equal: ${t}`);
    const equalShare = t.share('lat-a');

    // A slows down to 200 ms.
    a = await restartMock(a, ['--latency-ms', '200']);
    let t0 = Date.now();
    let lostAfter = 0;
    const trail = [];
    while (Date.now() - t0 < 6000) {
      t = await window();
      trail.push(t.share('lat-a').toFixed(2));
      assert.equal(t.status[200], t.n, `${t}`);
      if (t.share('lat-a') < 0.2) { lostAfter = Date.now() - t0; break; }
    }
    assert.ok(lostAfter, `the slow deployment kept its traffic for 6 s (shares of A per window: ${trail})`);
    t = await window(60);
    assert.ok(t.share('lat-b') > 0.8, `> 80% to the fast one once it is known: ${t}`);

    // A recovers to 20 ms: it must win traffic back (its old 200 ms estimate has to age).
    a = await restartMock(a, ['--latency-ms', '20']);
    t0 = Date.now();
    let wonAfter = 0;
    trail.length = 0;
    while (Date.now() - t0 < 12000) {
      t = await window();
      trail.push(t.share('lat-a').toFixed(2));
      if (t.share('lat-a') >= 0.2) { wonAfter = Date.now() - t0; break; }
    }
    assert.ok(wonAfter, `the recovered deployment did not win traffic back within 12 s (shares of A per window: ${trail})`);
    tc.diagnostic(`equal: A share ${equalShare.toFixed(2)}; slowed: lost its traffic after ${lostAfter} ms; recovered: won it back after ${wonAfter} ms`);
  } finally {
    c.close();
    await stopAll(s, a, b);
  }
});
