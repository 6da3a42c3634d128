// Data residency against real sluice and sluice-mock processes: deployments in three
// regions (eu-a, eu-b, us-1); a key permitted [eu-a, eu-b] and preferring eu-a goes to
// eu-a, falls back to eu-b when eu-a fails (the hop marked in the access log and the
// sluice_region_outside_preferred_total metric), and gets a 503 residency_unavailable
// naming the rule when neither can serve, with retries, hedging and a fallback group
// whose only deployment is in us-1 configured: the us-1 mocks never receive a request
// (asserted on their request counters). Requests narrow the key's list with
// x-sluice-region-* headers or the body's `sluice.region` (which never reaches the
// provider), may not widen it (403), and /v1/messages gets its errors in Anthropic shape.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, cleanup, post, request, assertOpenAIError, findRecorded, nonce, chatBody, stopAll,
} from './lib.mjs';
import { routerConfig, counts, accessLineOf, assertDecisionHeaders } from './routing_lib.mjs';
import { MASTER, MASTER_AUTH, admin, newKey } from './keys_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';
const MSGS = '/v1/messages';

/** Mocks for eu-a, eu-b and us-1 (group g) and us-2 (group usonly, g's fallback), and a
 *  sluice in front of them with a master key. args: per mock CLI flags. */
async function setup({ euA = [], euB = [], us = [], hedging, router = {}, general = {} } = {}) {
  const mA = await startMock(['--latency-ms', '2', ...euA]);
  const mB = await startMock(['--latency-ms', '2', ...euB]);
  const mU = await startMock(['--latency-ms', '2', ...us]);
  const mU2 = await startMock(['--latency-ms', '2']);
  const yaml = routerConfig({
    groups: {
      g: [
        { port: mA.port, region: 'eu-a', model_info: { id: 'g-eu-a' } },
        { port: mB.port, model_info: { id: 'g-eu-b', region: 'eu-b' } },
        { port: mU.port, region: 'us-1', model_info: { id: 'g-us' } },
      ],
      usonly: [{ port: mU2.port, region: 'us-1', model_info: { id: 'usonly-us' } }],
    },
    router: { allowed_fails: 1000, num_retries: 2, fallbacks: [{ g: ['usonly'] }], ...router },
    settings: hedging ? { hedging } : {},
    masterKey: MASTER,
  }).replace('general_settings:\n', `general_settings:\n${Object.entries(general)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('')}`);
  const s = await startSluice({ yaml });
  return { mA, mB, mU, mU2, s, stop: () => stopAll(s, mA, mB, mU, mU2) };
}

const auth = (key) => ({ authorization: `Bearer ${key}` });

async function acmeKey(base) {
  return (await newKey(base, { key_alias: 'acme', permitted_regions: ['eu-a', 'eu-b'], preferred_regions: ['eu-a'] })).key;
}

async function metricsText(base) {
  const r = await request(`${base}/metrics`, { headers: MASTER_AUTH });
  assert.equal(r.status, 200, r.text);
  return r.text;
}

function metricValue(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
}

test('key fields round-trip; the preferred region answers; eu-a failing hops to eu-b, marked in the log and the metric', async () => {
  const t = await setup();
  try {
    const key = await acmeKey(t.s.url);
    const info = await admin(t.s.url).info(key);
    assert.equal(info.status, 200, info.text);
    assert.deepEqual(info.body.info.permitted_regions, ['eu-a', 'eu-b']);
    assert.deepEqual(info.body.info.preferred_regions, ['eu-a']);
    for (let i = 0; i < 12; i++) {
      const r = await post(`${t.s.url}${CHAT}`, chatBody('g'), auth(key));
      assert.equal(r.status, 200, r.text);
      assertDecisionHeaders(r, { group: 'g', deployment: 'g-eu-a', attempts: 1 });
      if (i === 0) {
        const line = await accessLineOf(t.s, r);
        assert.equal(line.region, 'eu-a', JSON.stringify(line));
        assert.equal(line.region_outside_preferred, undefined, JSON.stringify(line));
        assert.equal(line.attempts[0].region, 'eu-a');
      }
    }
    assert.deepEqual(await counts(t.mB, t.mU, t.mU2), [0, 0, 0], 'only eu-a was called');
  } finally {
    await t.stop();
  }

  const f = await setup({ euA: ['--p-500', '1'] });
  try {
    const key = await acmeKey(f.s.url);
    const r = await post(`${f.s.url}${CHAT}`, chatBody('g'), auth(key));
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { group: 'g', deployment: 'g-eu-b', attempts: 2 });
    const line = await accessLineOf(f.s, r);
    assert.equal(line.region, 'eu-b', JSON.stringify(line));
    assert.equal(line.region_outside_preferred, 1, JSON.stringify(line));
    assert.equal(line.attempts[0].region, 'eu-a');
    assert.equal(line.attempts[0].outcome, 'http_500');
    assert.equal(line.attempts[0].outside_preferred, undefined);
    assert.equal(line.attempts[1].region, 'eu-b');
    assert.equal(line.attempts[1].outside_preferred, true);
    const m = await metricsText(f.s.url);
    assert.equal(metricValue(m, 'sluice_region_outside_preferred_total', { deployment: 'g-eu-b', region: 'eu-b' }), 1, m);
    assert.equal(metricValue(m, 'sluice_region_outside_preferred_total', { deployment: 'g-eu-a', region: 'eu-a' }), 0, m);
    assert.deepEqual(await counts(f.mU, f.mU2), [0, 0], 'us-1 never called');
  } finally {
    await f.stop();
  }
});

test('eu-a and eu-b down: 503 residency_unavailable naming the rule; retries, hedging and a us-only fallback never reach us-1', async () => {
  const t = await setup({
    euA: ['--p-500', '1'], euB: ['--p-503', '1'],
    hedging: { delay: '20ms', max_extra: 2, budget: 1, budget_burst: 100 },
  });
  try {
    const key = await acmeKey(t.s.url);
    for (let i = 0; i < 5; i++) {
      const r = await post(`${t.s.url}${CHAT}`, chatBody('g'), auth(key));
      assert.equal(r.status, 503, r.text);
      const e = assertOpenAIError(r.text, {
        code: 'residency_unavailable',
        messageIncludes: ["model group 'g' or its fallbacks", 'permitted regions [eu-a, eu-b]',
          "(key 'acme' permitted_regions)", 'the permitted ones failed'],
      });
      assert.ok(!e.message.includes('127.0.0.1'), e.message);
      if (i === 0) {
        const line = await accessLineOf(t.s, r);
        assert.equal(line.error, 'residency_unavailable', JSON.stringify(line));
        assert.ok(line.attempts.length >= 2, JSON.stringify(line));
        assert.ok(line.attempts.every((a) => a.region === 'eu-a' || a.region === 'eu-b'), JSON.stringify(line));
      }
    }
    // A group with nothing in the permitted regions: refused before any call.
    const n = await post(`${t.s.url}${CHAT}`, chatBody('usonly'), auth(key));
    assert.equal(n.status, 503, n.text);
    assertOpenAIError(n.text, { code: 'residency_unavailable', messageIncludes: ['none is in those regions'] });
    const [a, b, u, u2] = await counts(t.mA, t.mB, t.mU, t.mU2);
    assert.ok(a >= 5 && b >= 5, `the permitted ones were tried (eu-a ${a}, eu-b ${b})`);
    assert.equal(u, 0, 'the us-1 deployment of g never received a request');
    assert.equal(u2, 0, 'the us-1 fallback group never received a request');
    const m = await metricsText(t.s.url);
    const refused = m.split('\n').filter((l) => l.startsWith('sluice_residency_refused_total{'))
      .reduce((acc, l) => acc + Number(l.split(' ').at(-1)), 0);
    assert.equal(refused, 6, m);
    // The same key without a rule in the way (master key): the fallback and us-1 serve.
    const free = await post(`${t.s.url}${CHAT}`, chatBody('g'), { authorization: `Bearer ${MASTER}` });
    assert.equal(free.status, 200, free.text);
  } finally {
    await t.stop();
  }
});

test('a stalled preferred deployment is hedged inside the permitted regions only', async () => {
  const t = await setup({
    euA: ['--p-stall', '1', '--stall-ms', '400'], euB: ['--p-500', '1'],
    hedging: { delay: '30ms', max_extra: 2, budget: 1, budget_burst: 100 },
  });
  try {
    const key = await acmeKey(t.s.url);
    const r = await post(`${t.s.url}${CHAT}`, chatBody('g'), auth(key));
    assert.equal(r.status, 200, r.text);
    assertDecisionHeaders(r, { deployment: 'g-eu-a' });
    const line = await accessLineOf(t.s, r);
    assert.ok(line.attempts.some((a) => a.hedge && a.region === 'eu-b'), `a hedge went to eu-b: ${JSON.stringify(line)}`);
    assert.deepEqual(await counts(t.mU, t.mU2), [0, 0], 'no hedge reached us-1');
  } finally {
    await t.stop();
  }
});

test('requests narrow with headers or the body, never widen; malformed lists are 400; sluice.region is not forwarded', async () => {
  const t = await setup({ general: { permitted_regions: ['eu-a', 'eu-b', 'us-1'] } });
  try {
    const key = await acmeKey(t.s.url);
    // header narrowing: eu-b only (the key's eu-a preference no longer applies)
    const h = await post(`${t.s.url}${CHAT}`, chatBody('g'), { ...auth(key), 'x-sluice-region-permitted': 'eu-b' });
    assert.equal(h.status, 200, h.text);
    assertDecisionHeaders(h, { deployment: 'g-eu-b', attempts: 1 });
    assert.equal((await accessLineOf(t.s, h)).region_outside_preferred, undefined);
    // header preference inside the key's list
    const p = await post(`${t.s.url}${CHAT}`, chatBody('g'), { ...auth(key), 'x-sluice-region-preferred': 'eu-b' });
    assertDecisionHeaders(p, { deployment: 'g-eu-b' });
    // widening: 403 naming the region and the rule
    for (const [name, value] of [['x-sluice-region-permitted', 'eu-a, us-1'], ['x-sluice-region-preferred', 'us-1']]) {
      const w = await post(`${t.s.url}${CHAT}`, chatBody('g'), { ...auth(key), [name]: value });
      assert.equal(w.status, 403, w.text);
      assertOpenAIError(w.text, {
        code: 'region_not_permitted', type: 'permission_error',
        messageIncludes: ["region 'us-1' is not permitted", "key 'acme' permitted_regions", '[eu-a, eu-b]'],
      });
    }
    const wb = await post(`${t.s.url}${CHAT}`, chatBody('g', { sluice: { region: { permitted: ['us-1'] } } }), auth(key));
    assert.equal(wb.status, 403, wb.text);
    // malformed
    for (const [hdrs, extra, what] of [
      [{ 'x-sluice-region-permitted': 'eu a' }, {}, 'x-sluice-region-permitted'],
      [{ 'x-sluice-region-permitted': '' }, {}, 'x-sluice-region-permitted'],
      [{}, { sluice: { region: { permitted: 'eu-b' } } }, 'sluice.region.permitted'],
      [{}, { sluice: { region: { permitted: [] } } }, 'sluice.region.permitted'],
      [{}, { sluice: { region: { allowed: ['eu-b'] } } }, "'allowed'"],
      [{}, { sluice: 'eu-b' }, "'sluice'"],
      [{ 'x-sluice-region-permitted': 'eu-b' }, { sluice: { region: { permitted: ['eu-b'] } } }, 'give them once'],
    ]) {
      const r = await post(`${t.s.url}${CHAT}`, chatBody('g', extra), { ...auth(key), ...hdrs });
      assert.equal(r.status, 400, `${JSON.stringify([hdrs, extra])}: ${r.text}`);
      assertOpenAIError(r.text, { messageIncludes: [what] });
    }
    // the body form, with the master key (the gateway default permits all three): eu-b
    // only, and the field never reaches the provider
    const tag = nonce('rb');
    const body = { model: 'g', messages: [{ role: 'user', content: tag }], sluice: { region: { permitted: ['eu-b'] } } };
    for (let i = 0; i < 6; i++) {
      const r = await post(`${t.s.url}${CHAT}`, body, { authorization: `Bearer ${MASTER}` });
      assert.equal(r.status, 200, r.text);
      assertDecisionHeaders(r, { deployment: 'g-eu-b' });
    }
    const rec = findRecorded(await t.mB.stats(), (j) => j?.messages?.[0]?.content === tag);
    assert.ok(rec, 'eu-b recorded the request');
    assert.equal(rec.json.sluice, undefined, `the mock saw no sluice field: ${JSON.stringify(rec.json)}`);
    const raw = String(rec.rawBody ?? JSON.stringify(rec.json));
    assert.ok(!raw.includes('sluice') && !raw.includes('permitted'), `nothing of it upstream: ${raw}`);
    // the gateway default refuses what it does not list, even to the master key
    const far = await post(`${t.s.url}${CHAT}`, chatBody('g'), { authorization: `Bearer ${MASTER}`, 'x-sluice-region-permitted': 'ap-1' });
    assert.equal(far.status, 403, far.text);
    assertOpenAIError(far.text, { code: 'region_not_permitted', messageIncludes: ['general_settings.permitted_regions'] });
  } finally {
    await t.stop();
  }
});

test('/v1/messages gets the residency errors in Anthropic shape; bad key fields are 400', async () => {
  const t = await setup();
  try {
    const key = await acmeKey(t.s.url);
    const anth = { model: 'usonly', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const r = await post(`${t.s.url}${MSGS}`, anth, auth(key));
    assert.equal(r.status, 503, r.text);
    const j = r.json();
    assert.equal(j.type, 'error', r.text);
    assert.equal(typeof j.error?.type, 'string', r.text);
    assert.ok(j.error.message.includes('permitted regions [eu-a, eu-b]'), r.text);
    const w = await post(`${t.s.url}${MSGS}`, { ...anth, model: 'g' }, { ...auth(key), 'x-sluice-region-permitted': 'us-1' });
    assert.equal(w.status, 403, w.text);
    assert.equal(w.json().type, 'error', w.text);
    // and a permitted call through /v1/messages works (translated to the OpenAI mock)
    const ok = await post(`${t.s.url}${MSGS}`, { ...anth, model: 'g' }, auth(key));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['x-sluice-deployment'], 'g-eu-a');
    assert.deepEqual(await counts(t.mU, t.mU2), [0, 0]);
    // admin validation
    const a = admin(t.s.url);
    for (const body of [{ permitted_regions: 'eu-a' }, { permitted_regions: ['eu a'] },
      { permitted_regions: ['eu-a'], preferred_regions: ['us-1'] }]) {
      const g = await a.generate(body);
      assert.equal(g.status, 400, `${JSON.stringify(body)}: ${g.text}`);
    }
    // update: clear the permitted list ([]), after which us-1 may serve the key
    const u = await a.update({ key, permitted_regions: [], preferred_regions: [] });
    assert.equal(u.status, 200, u.text);
    assert.equal(u.body.permitted_regions, null, u.text);
    const free = await post(`${t.s.url}${CHAT}`, chatBody('usonly'), auth(key));
    assert.equal(free.status, 200, free.text);
  } finally {
    await t.stop();
  }
});
