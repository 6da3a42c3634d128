// Routers are groups (issue #13), against real processes: two priced mock groups, "strong"
// and "weak", each on its own mock process (so each mock's request count says where a
// request went), and routers of every kind in front of them. Asserted: the x-sluice-router-*
// headers and the access-log fields; the learned router's thresholds from the config, the
// x-sluice-router-threshold header, the body's sluice.router and RouteLLM's
// router-<name>-<threshold> names (-1: always strong, 1: always weak); strong_fraction
// tracking over 300 requests; overrides refused per router (allow_override: false) and per
// key (metadata sluice_router_override: false); a key pinned to a router; rules on header,
// metadata, tags, key_alias, tools, stream and prompt length; the cost router by quality
// bar and max_cost_usd; chain (rule, then learned); complexity tiers; shadow mode; the
// per-router metrics; /v1/models; streaming; a target group that fails falling back; the
// cache through a router; the body's `sluice` field never reaching the provider; a reload to
// a corrupt router file refused (the old router keeps serving) and a good reload applied,
// under a background load that sees no errors; `sluice check` on a corrupt router file.
// The learned model is read only through its properties (thresholds -1 and 1, shares), never
// its exact scores, so these tests hold for any model file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startMock, startSluice, cleanup, request, post, openStream, sseData, findRecorded, nonce, toYaml, HOST,
  assertOpenAIError, runCommand, SLUICE_BIN, mkTmpDir, pollUntil, stopAll, liveChildPids,
} from './lib.mjs';
import { accessLineOf, makeClient, runLoad } from './routing_lib.mjs';
import { MASTER, MASTER_AUTH, newKey } from './keys_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';
const STRONG_PRICE = { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 };
const WEAK_PRICE = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 };
const TARGETS = [{ model: 'weak', quality: 0.6 }, { model: 'strong', quality: 0.9 }];
const SW = { strong_model: 'strong', weak_model: 'weak' };

const R = (name, model, params = {}) => ({ model_name: name, litellm_params: { model, ...params } });

/** A config: groups strong and weak (priced, one mock each), then the routers. */
function config({ strong, weak, routers = [], router_settings, litellm, settings }) {
  const dep = (name, port, price) => ({
    model_name: name,
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock' },
    model_info: price,
  });
  const cfg = {
    model_list: [dep('strong', strong.port, STRONG_PRICE), dep('weak', weak.port, WEAK_PRICE), ...routers],
    general_settings: { master_key: MASTER },
  };
  if (router_settings) cfg.router_settings = router_settings;
  if (litellm) cfg.litellm_settings = litellm;
  if (settings) cfg.sluice_settings = settings;
  return toYaml(cfg);
}

const ROUTERS = [
  R('auto', 'sluice_router/learned', { ...SW, threshold: 0 }),
  R('locked', 'sluice_router/learned', { ...SW, threshold: 0, allow_override: false }),
  R('frac', 'sluice_router/learned', { ...SW, strong_fraction: 0.3 }),
  R('frac0', 'sluice_router/learned', { ...SW, strong_fraction: 0 }),
  R('frac1', 'sluice_router/learned', { ...SW, strong_fraction: 1 }),
  R('by-rule', 'sluice_router/rules', {
    default_model: 'weak',
    rules: [
      { name: 'gold', if: { header: { 'x-tier': ['gold', 'platinum'] } }, then: 'strong' },
      { name: 'vip', if: { metadata: { vip: true } }, then: 'strong' },
      { name: 'urgent', if: { tags: 'urgent' }, then: 'strong' },
      { name: 'boss', if: { key_alias: 'boss' }, then: 'strong' },
      { name: 'tools', if: { tools: true }, then: 'strong' },
      { name: 'streamed', if: { stream: true }, then: 'strong' },
      { name: 'long', if: { min_prompt_tokens: 500 }, then: 'strong' },
    ],
  }),
  R('by-who', 'sluice_router/rules', {
    default_model: 'weak',
    rules: [
      { name: 'team', if: { team: 'research' }, then: 'strong' },
      { name: 'tier', if: { tier: 'enterprise' }, then: 'strong' },
      { name: 'key-tags', if: { key_tags: 'vip' }, then: 'strong' },
      { name: 'user', if: { user: ['alice', 'carol'] }, then: 'strong' },
      { name: 'model', if: { model: 'router-by-who-0.5' }, then: 'strong' },
      { name: 'eu', if: { region: 'eu' }, then: 'strong' },
      { name: 'short', if: { max_prompt_tokens: 3, stream: false, tools: false }, then: 'strong' },
    ],
  }),
  R('cost-hi', 'sluice_router/cost', { min_quality: 0.8, targets: TARGETS }),
  R('cost-lo', 'sluice_router/cost', { min_quality: 0.5, targets: TARGETS }),
  R('cost-capped', 'sluice_router/cost', { min_quality: 0.8, max_cost_usd: 0.001, targets: TARGETS }),
  R('chain', 'sluice_router/chain', {
    ...SW, threshold: 1, rules: [{ name: 'gold', if: { header: { 'x-tier': 'gold' } }, then: 'strong' }],
  }),
  // boundaries 0: every score is in the top tier; 1: every score (below the maximum) in the bottom one
  R('tiers-top', 'auto_router/complexity_router', {
    complexity_router_config: {
      tiers: { SIMPLE: 'weak', MEDIUM: 'weak', COMPLEX: 'weak', REASONING: 'strong' },
      tier_boundaries: { simple_medium: 0, medium_complex: 0, complex_reasoning: 0 },
    },
  }),
  R('tiers-bottom', 'auto_router/complexity_router', {
    complexity_router_config: {
      tiers: { SIMPLE: 'weak', MEDIUM: 'strong', COMPLEX: 'strong', REASONING: 'strong' },
      tier_boundaries: { simple_medium: 1, medium_complex: 1, complex_reasoning: 1 },
    },
  }),
  // ten rules on one metadata number: the tenth must still see the request's value
  R('many-rules', 'sluice_router/rules', {
    default_model: 'weak',
    rules: [...Array.from({ length: 9 }, (_, i) => ({ name: `l${i}`, if: { metadata: { level: i } }, then: 'weak' })),
      { name: 'l9', if: { metadata: { level: 9 } }, then: 'strong' }],
  }),
  R('chain-capped', 'sluice_router/chain', { ...SW, threshold: -1, max_cost_usd: 0.001 }),
  R('shadow', 'sluice_router/learned', { ...SW, threshold: -1, shadow: true, default_model: 'weak' }),
];

let strong, weak, s, client;

before(async () => {
  strong = await startMock(['--tokens', '5']);
  weak = await startMock(['--tokens', '5']);
  s = await startSluice({ yaml: config({ strong, weak, routers: ROUTERS }), workers: 1 });
  client = makeClient(s.url);
});

after(async () => {
  client?.close();
  await stopAll(s, strong, weak);
});

const auth = (key = MASTER) => ({ authorization: `Bearer ${key}` });
const say = (content, extra = {}) => ({ messages: [{ role: 'user', content }], ...extra });

/** One chat call through the pooled client. */
function chat(model, body = {}, headers = {}, key) {
  return client.chat({ model, ...say('Say hello.'), ...body }, { ...auth(key), ...headers });
}

async function counts() {
  const [a, b] = await Promise.all([strong.stats(), weak.stats()]);
  return { strong: a.requests, weak: b.requests };
}

/** Asserts the router headers; returns the score (a number) or null when none was sent. */
function assertRouted(r, { router, target, reason, scored }) {
  const h = r.headers;
  const ctx = `status ${r.status}\nheaders: ${JSON.stringify(h)}\nbody: ${String(r.text).slice(0, 400)}`;
  assert.equal(r.status, 200, ctx);
  assert.equal(h['x-sluice-router'], router, `x-sluice-router\n${ctx}`);
  if (target !== undefined) assert.equal(h['x-sluice-router-target'], target, `x-sluice-router-target\n${ctx}`);
  assert.ok(['strong', 'weak'].includes(h['x-sluice-router-target']), ctx);
  assert.equal(h['x-sluice-model-group'], h['x-sluice-router-target'], `the request is the target group's\n${ctx}`);
  assert.equal(h['x-sluice-deployment'], `${h['x-sluice-router-target']}-0`, ctx);
  if (reason !== undefined) {
    if (reason instanceof RegExp) assert.match(h['x-sluice-router-reason'], reason, ctx);
    else assert.equal(h['x-sluice-router-reason'], reason, `x-sluice-router-reason\n${ctx}`);
  }
  const sc = h['x-sluice-router-score'];
  if (scored === true) assert.ok(sc !== undefined, `a score\n${ctx}`);
  if (scored === false) assert.equal(sc, undefined, `no score\n${ctx}`);
  if (sc === undefined) return null;
  assert.match(sc, /^-?\d+\.\d{4}$/, ctx);
  const v = Number(sc);
  assert.ok(v >= -1 && v <= 1, `the score is on the -1..1 scale: ${sc}`);
  assert.equal(h['x-sluice-router-shadow-target'], undefined, ctx);
  return v;
}

/** Runs fn and asserts how many requests each mock received meanwhile. */
async function expectCounts(want, fn) {
  const a = await counts();
  const out = await fn();
  const b = await counts();
  assert.deepEqual({ strong: b.strong - a.strong, weak: b.weak - a.weak }, want, 'requests per mock');
  return out;
}

/** The sum of a metric's samples whose labels include all of want (0 when none). */
async function metric(name, want = {}) {
  const r = await request(`${s.url}/metrics`, { headers: auth() });
  assert.equal(r.status, 200, r.text);
  let sum = 0;
  for (const line of r.text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

// ------------------------------------------------------------------ learned

test('learned: the decision in headers and the access log; the request is the target group\'s', async () => {
  for (const content of ['hi', 'Prove that there are infinitely many primes. '.repeat(40)]) {
    const id = nonce('learned');
    const before_ = await counts();
    const r = await chat('auto', { ...say(content), user: id });
    const score = assertRouted(r, { router: 'auto', reason: 'learned', scored: true });
    const target = r.headers['x-sluice-router-target'];
    assert.equal(target, score >= 0 ? 'strong' : 'weak', `threshold 0: score ${score} -> ${target}`);
    const after_ = await counts();
    assert.equal(after_[target] - before_[target], 1, `the ${target} mock answered`);
    const rec = findRecorded(await (target === 'strong' ? strong : weak).stats(), (b) => b?.user === id);
    assert.ok(rec, 'the target mock saw the request');
    assert.equal(rec.json.model, 'mock-model', 'the target deployment\'s model goes upstream');
    const line = await accessLineOf(s, r);
    assert.equal(line.router, 'auto', JSON.stringify(line));
    assert.equal(line.router_reason, 'learned', JSON.stringify(line));
    assert.equal(line.model_group, target, JSON.stringify(line));
    assert.equal(typeof line.router_score, 'number', JSON.stringify(line));
    assert.ok(Math.abs(line.router_score - score) < 1e-4, `the access log's score ${line.router_score} is the header's ${score}`);
    assert.equal(line.router_would, undefined);
  }
});

test('learned: thresholds -1 and 1 from the header, the body and RouteLLM names; the sluice field never goes upstream', async () => {
  const cases = [
    ['header -1', 'auto', {}, { 'x-sluice-router-threshold': '-1' }, 'strong'],
    ['header 1', 'auto', {}, { 'x-sluice-router-threshold': '1' }, 'weak'],
    ['header 1.0', 'auto', {}, { 'x-sluice-router-threshold': '1.0' }, 'weak'],
    ['body -1', 'auto', { sluice: { router: { threshold: -1 } } }, {}, 'strong'],
    ['body 1', 'auto', { sluice: { router: { threshold: 1 } } }, {}, 'weak'],
    ['body strong_fraction 1', 'auto', { sluice: { router: { strong_fraction: 1 } } }, {}, 'strong'],
    ['router-auto--1', 'router-auto--1', {}, {}, 'strong'],
    ['router-auto-1', 'router-auto-1', {}, {}, 'weak'],
    ['router-auto-1.0', 'router-auto-1.0', {}, {}, 'weak'],
    ['RouteLLM router name mf: the first learned router', 'router-mf--1', {}, {}, 'strong'],
  ];
  for (const [what, model, body, headers, target] of cases) {
    for (const content of ['hi', 'Explain general relativity in detail. '.repeat(60)]) {
      const id = nonce('thr');
      const r = await expectCounts({ strong: target === 'strong' ? 1 : 0, weak: target === 'weak' ? 1 : 0 },
        () => chat(model, { ...say(content), user: id, ...body }, headers));
      assertRouted(r, { router: 'auto', target, reason: 'override', scored: true });
      const rec = findRecorded(await (target === 'strong' ? strong : weak).stats(), (b) => b?.user === id);
      assert.ok(rec, `${what}: recorded`);
      assert.equal(rec.json.sluice, undefined, `${what}: the body's sluice field is stripped before the provider`);
      assert.ok(!String(rec.rawBody ?? '').includes('"sluice"'), `${what}: no "sluice" upstream: ${rec.rawBody}`);
      assert.equal(rec.json.model, 'mock-model', `${what}: the deployment's model name upstream`);
      assert.equal(rec.json.messages[0].content, content);
    }
  }
  // an override that does not feed the decision taken is not the reason: a threshold on a
  // rules router leaves the rule's (or the default's) reason
  assertRouted(await chat('by-rule', {}, { 'x-tier': 'gold', 'x-sluice-router-threshold': '-1' }),
    { router: 'by-rule', target: 'strong', reason: 'rule:gold' });
  assertRouted(await chat('by-rule', {}, { 'x-sluice-router-threshold': '-1' }),
    { router: 'by-rule', target: 'weak', reason: 'fallback' });
  // the access log says override
  const r = await chat('auto', {}, { 'x-sluice-router-threshold': '-1' });
  const line = await accessLineOf(s, r);
  assert.equal(line.router_reason, 'override', JSON.stringify(line));
  assert.equal(line.model_group, 'strong', JSON.stringify(line));
});

test('learned: malformed overrides and unknown RouteLLM routers are 400s naming the problem', async () => {
  const bad = [
    [{}, { 'x-sluice-router-threshold': 'high' }, 'x-sluice-router-threshold'],
    [{}, { 'x-sluice-router-threshold': '1.5' }, 'x-sluice-router-threshold'],
    [{}, { 'x-sluice-router-threshold': '' }, 'x-sluice-router-threshold'],
    [{ sluice: { router: { threshold: 2 } } }, {}, 'sluice.router.threshold'],
    [{ sluice: { router: { threshold: '0.5' } } }, {}, 'sluice.router.threshold'],
    [{ sluice: { router: { strong_fraction: 1.5 } } }, {}, 'sluice.router.strong_fraction'],
    [{ sluice: { router: { max_cost_usd: 0 } } }, {}, 'sluice.router.max_cost_usd'],
    [{ sluice: { router: { temperature: 0.5 } } }, {}, 'sluice.router.temperature'],
    [{ sluice: { router: 0.5 } }, {}, 'sluice.router'],
  ];
  const c0 = await counts();
  for (const [body, headers, names] of bad) {
    const r = await chat('auto', body, headers);
    assert.equal(r.status, 400, `${JSON.stringify(body)} ${JSON.stringify(headers)}: ${r.text}`);
    assertOpenAIError(r.text, { type: 'invalid_request_error', messageIncludes: [names] });
  }
  for (const model of ['router-nope-0.5', 'router-auto-2', 'router-auto-x', 'router-auto', 'router--0.5']) {
    const r = await chat(model);
    assert.equal(r.status, 400, `${model}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'model_not_found', messageIncludes: [model] });
  }
  // RouteLLM names of a router that is not learned are not RouteLLM names for a learned one
  assert.deepEqual(await counts(), c0, 'nothing reached a provider');
});

/** A fixed-seed mix of short and long prompts of varied words (scores must vary: a
 *  strong_fraction is a quantile of recent scores). */
function variedPrompts(count, seed = 12345) {
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const words = ['integral', 'hello', 'prove', 'the', 'code', 'compute', 'why', 'list', 'sum', 'matrix', 'poem',
    'translate', 'cat', 'theorem', 'x^2', '42', 'function', 'explain', 'dog', 'derive'];
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rnd() ** 2 * 300);
    return Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]).join(' ');
  });
}

test('learned: strong_fraction 0 is never strong, 1 always strong (config and body)', async () => {
  const prompts = variedPrompts(60, 777);
  const res0 = await runLoad(60, 4, (i) => chat('frac0', say(prompts[i])));
  const res1 = await runLoad(60, 4, (i) => chat('frac1', say(prompts[i])));
  for (const r of res0) assertRouted(r, { router: 'frac0', target: 'weak', reason: 'learned', scored: true });
  for (const r of res1) assertRouted(r, { router: 'frac1', target: 'strong', reason: 'learned', scored: true });
  for (const p of prompts.slice(0, 10)) {
    assertRouted(await chat('auto', { ...say(p), sluice: { router: { strong_fraction: 0 } } }), { router: 'auto', target: 'weak', reason: 'override' });
    assertRouted(await chat('auto', { ...say(p), sluice: { router: { strong_fraction: 1 } } }), { router: 'auto', target: 'strong', reason: 'override' });
  }
});

test('learned: strong_fraction 0.3 keeps the strong share near 30% over 300 varied prompts', async () => {
  const prompts = variedPrompts(300);
  const c0 = await counts();
  const results = await runLoad(300, 4, (i) => chat('frac', say(prompts[i])));
  const byTarget = { strong: 0, weak: 0 };
  for (const r of results) {
    assertRouted(r, { router: 'frac', reason: 'learned', scored: true });
    byTarget[r.headers['x-sluice-router-target']]++;
  }
  const share = byTarget.strong / 300;
  assert.ok(share >= 0.2 && share <= 0.4, `strong share ${share} (${JSON.stringify(byTarget)}) within 0.2..0.4`);
  const c1 = await counts();
  assert.deepEqual({ strong: c1.strong - c0.strong, weak: c1.weak - c0.weak }, byTarget, 'the mocks agree');
});

// ------------------------------------------------------------------ overrides and keys

test('overrides refused with 403 when the router (allow_override: false) or the key forbids them', async () => {
  const c0 = await counts();
  for (const [model, body, headers] of [
    ['locked', {}, { 'x-sluice-router-threshold': '-1' }],
    ['locked', { sluice: { router: { threshold: 1 } } }, {}],
    ['locked', { sluice: { router: { strong_fraction: 0.5 } } }, {}],
    ['router-locked-0.5', {}, {}],
  ]) {
    const r = await chat(model, body, headers);
    assert.equal(r.status, 403, `${model} ${JSON.stringify(body)} ${JSON.stringify(headers)}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'router_override_forbidden', messageIncludes: ['locked', 'allow_override: false'] });
  }
  assert.deepEqual(await counts(), c0, 'refused requests reach no provider');
  assertRouted(await chat('locked'), { router: 'locked', reason: 'learned', scored: true });

  const k = await newKey(s.url, { metadata: { sluice_router_override: false } });
  const refused = await chat('auto', {}, { 'x-sluice-router-threshold': '-1' }, k.key);
  assert.equal(refused.status, 403, refused.text);
  assertOpenAIError(refused.text, { code: 'router_override_forbidden', messageIncludes: ['auto', 'sluice_router_override'] });
  const viaName = await chat('router-auto-1', {}, {}, k.key);
  assert.equal(viaName.status, 403, viaName.text);
  assertRouted(await chat('auto', {}, {}, k.key), { router: 'auto', reason: 'learned' });
  // another key (and the master key) may override
  const k2 = await newKey(s.url, { metadata: { sluice_router_override: true, team: 'x' } });
  assertRouted(await chat('auto', {}, { 'x-sluice-router-threshold': '-1' }, k2.key), { router: 'auto', target: 'strong', reason: 'override' });
});

test('nothing to read (no user turn): the learned router cannot decide and fails open to default_model', async () => {
  const r = await expectCounts({ strong: 1, weak: 0 },
    () => chat('auto', { messages: [{ role: 'system', content: 'You are terse.' }] }));
  assertRouted(r, { router: 'auto', target: 'strong', reason: 'fallback', scored: false });
});

test('a key limited to models: [auto] may call the router, whichever group it picks', async () => {
  const k = await newKey(s.url, { models: ['auto'] });
  for (const thr of ['-1', '1']) {
    assertRouted(await chat('auto', {}, { 'x-sluice-router-threshold': thr }, k.key), { router: 'auto', reason: 'override' });
  }
  const direct = await chat('strong', {}, {}, k.key);
  assert.equal(direct.status, 403, direct.text);
  const named = await chat('router-auto--1', {}, {}, k.key);
  assertRouted(named, { router: 'auto', target: 'strong', reason: 'override' });
});

test('a key pinned to a router: every request of the key is routed by it', async () => {
  const k = await newKey(s.url, { metadata: { sluice_router: 'by-rule' } });
  for (const model of ['strong', 'weak', 'auto']) {
    const r = await expectCounts({ strong: 0, weak: 1 }, () => chat(model, {}, {}, k.key));
    assertRouted(r, { router: 'by-rule', target: 'weak', reason: 'fallback', scored: false });
    const line = await accessLineOf(s, r);
    assert.equal(line.router, 'by-rule', JSON.stringify(line));
  }
  const gold = await chat('strong', {}, { 'x-tier': 'gold' }, k.key);
  assertRouted(gold, { router: 'by-rule', target: 'strong', reason: 'rule:gold', scored: false });
  // a key pinned to a router that does not exist is not routed
  const k2 = await newKey(s.url, { metadata: { sluice_router: 'no-such-router' } });
  const r = await chat('weak', {}, {}, k2.key);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-router'], undefined);
});

// ------------------------------------------------------------------ rules, cost, chain, tiers

test('rules: header, metadata, tags, key_alias, tools, stream and prompt length; first match wins; default', async () => {
  const boss = await newKey(s.url, { key_alias: 'boss' });
  const intern = await newKey(s.url, { key_alias: 'intern' });
  const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } };
  const strongCases = [
    ['header', {}, { 'x-tier': 'platinum' }, undefined, 'rule:gold'],
    ['header, first match wins over metadata', { metadata: { vip: true } }, { 'X-Tier': 'gold' }, undefined, 'rule:gold'],
    ['metadata bool', { metadata: { vip: true } }, {}, undefined, 'rule:vip'],
    ['body tags', { tags: ['batch', 'urgent'] }, {}, undefined, 'rule:urgent'],
    ['metadata.tags', { metadata: { tags: ['urgent'] } }, {}, undefined, 'rule:urgent'],
    ['key_alias', {}, {}, boss.key, 'rule:boss'],
    ['tools', { tools: [tool] }, {}, undefined, 'rule:tools'],
    ['min_prompt_tokens', say('word '.repeat(3000)), {}, undefined, 'rule:long'],
  ];
  for (const [what, body, headers, key, reason] of strongCases) {
    const r = await expectCounts({ strong: 1, weak: 0 }, () => chat('by-rule', body, headers, key));
    assertRouted(r, { router: 'by-rule', target: 'strong', reason, scored: false });
    const line = await accessLineOf(s, r);
    assert.equal(line.router_reason, reason, `${what}: ${JSON.stringify(line)}`);
    assert.equal(line.router_score, undefined, `${what}: no score for a rule`);
  }
  const weakCases = [
    ['nothing', {}, {}, undefined],
    ['another header value', {}, { 'x-tier': 'silver' }, undefined],
    ['metadata false', { metadata: { vip: false } }, {}, undefined],
    ['metadata string "true"', { metadata: { vip: 'yes' } }, {}, undefined],
    ['other tags', { tags: ['batch'] }, {}, undefined],
    ['another alias', {}, {}, intern.key],
    ['empty tools', { tools: [] }, {}, undefined],
  ];
  for (const [what, body, headers, key] of weakCases) {
    const r = await expectCounts({ strong: 0, weak: 1 }, () => chat('by-rule', body, headers, key));
    assertRouted(r, { router: 'by-rule', target: 'weak', reason: 'fallback', scored: false });
    assert.ok(r, what);
  }
  // many rules reading numbers and booleans: each rule sees the request's value
  for (const [level, target, reason] of [[0, 'weak', 'rule:l0'], [8, 'weak', 'rule:l8'], [9, 'strong', 'rule:l9'], [10, 'weak', 'fallback']]) {
    const r = await expectCounts({ strong: target === 'strong' ? 1 : 0, weak: target === 'weak' ? 1 : 0 },
      () => chat('many-rules', { metadata: { level } }));
    assertRouted(r, { router: 'many-rules', target, reason, scored: false });
  }
  // stream: true (SSE through, the headers on the stream)
  const st = await openStream(`${s.url}${CHAT}`, { body: { model: 'by-rule', ...say('hi'), stream: true }, headers: auth() });
  await st.waitEnd(5000);
  assert.equal(st.status, 200, st.text);
  assert.equal(st.headers['x-sluice-router'], 'by-rule');
  assert.equal(st.headers['x-sluice-router-target'], 'strong');
  assert.equal(st.headers['x-sluice-router-reason'], 'rule:streamed');
  assert.equal(sseData(st.text).at(-1), '[DONE]', st.text);
});

test('rules on the key (team, tier, tags, user_id), body user, the model named, region, max_prompt_tokens', async () => {
  const team = await newKey(s.url, { team_id: 'research' });
  const tier = await newKey(s.url, { metadata: { tier: 'enterprise' } });
  const tagged = await newKey(s.url, { tags: ['batch', 'vip'] });
  const alice = await newKey(s.url, { user_id: 'alice' });
  const bob = await newKey(s.url, { user_id: 'bob', team_id: 'ops', tags: ['batch'], metadata: { tier: 'free' } });
  const long = say('Tell me a long story about the sea and the ships that sail on it.');
  const cases = [
    ['team_id', long, {}, team.key, 'strong', 'rule:team'],
    ['metadata.tier', long, {}, tier.key, 'strong', 'rule:tier'],
    ['key tags', long, {}, tagged.key, 'strong', 'rule:key-tags'],
    ['key user_id', long, {}, alice.key, 'strong', 'rule:user'],
    ['body user over the key\'s user_id', { ...long, user: 'carol' }, {}, bob.key, 'strong', 'rule:user'],
    ['body user that matches nothing', { ...long, user: 'dave' }, {}, alice.key, 'weak', 'fallback'],
    ['region', long, { 'x-sluice-region-preferred': 'us, eu' }, undefined, 'strong', 'rule:eu'],
    ['another region', long, { 'x-sluice-region-preferred': 'us,apac' }, undefined, 'weak', 'fallback'],
    ['max_prompt_tokens with stream and tools false', say('hi'), {}, undefined, 'strong', 'rule:short'],
    ['none of the key\'s labels match', long, {}, bob.key, 'weak', 'fallback'],
  ];
  for (const [what, body, headers, key, target, reason] of cases) {
    const r = await chat('by-who', body, headers, key);
    assert.equal(r.status, 200, `${what}: ${r.text}`);
    assert.equal(r.headers['x-sluice-router-reason'], reason, `${what}: ${JSON.stringify(r.headers)}`);
    assertRouted(r, { router: 'by-who', target, reason, scored: false });
  }
  assertRouted(await chat('router-by-who-0.5', long), { router: 'by-who', target: 'strong', reason: 'rule:model' });
});

test('cost: the cheapest target meeting the quality bar, within max_cost_usd (config or body)', async () => {
  assertRouted(await expectCounts({ strong: 1, weak: 0 }, () => chat('cost-hi')),
    { router: 'cost-hi', target: 'strong', reason: 'cost', scored: false });
  assertRouted(await expectCounts({ strong: 0, weak: 1 }, () => chat('cost-lo')),
    { router: 'cost-lo', target: 'weak', reason: 'cost', scored: false });
  // strong meets the bar but its estimate (256 output tokens at $30/M) is over the $0.001 cap
  assertRouted(await expectCounts({ strong: 0, weak: 1 }, () => chat('cost-capped')),
    { router: 'cost-capped', target: 'weak', reason: 'cost' });
  // a request that asks for few tokens fits under the cap on strong
  assertRouted(await chat('cost-capped', { max_tokens: 10 }), { router: 'cost-capped', target: 'strong', reason: 'cost' });
  // an absurd max_tokens is an estimate over any cap (never an undefined cast): the cheapest
  assertRouted(await chat('cost-capped', { max_tokens: 1e308 }), { router: 'cost-capped', target: 'weak', reason: 'cost' });
  // the body raises the cap / lowers it
  assertRouted(await chat('cost-capped', { sluice: { router: { max_cost_usd: 1 } } }),
    { router: 'cost-capped', target: 'strong', reason: 'override' });
  assertRouted(await chat('cost-hi', { sluice: { router: { max_cost_usd: 0.0001 } } }),
    { router: 'cost-hi', target: 'weak', reason: 'override' });
  const line = await accessLineOf(s, await chat('cost-lo'));
  assert.equal(line.router, 'cost-lo');
  assert.equal(line.router_reason, 'cost');
});

test('chain: a rule first, then the learned score; complexity tiers; shadow mode', async () => {
  assertRouted(await expectCounts({ strong: 1, weak: 0 }, () => chat('chain', {}, { 'x-tier': 'gold' })),
    { router: 'chain', target: 'strong', reason: 'rule:gold', scored: false });
  for (const content of ['hi', 'Derive the Navier-Stokes equations. '.repeat(50)]) {
    assertRouted(await expectCounts({ strong: 0, weak: 1 }, () => chat('chain', say(content))),
      { router: 'chain', target: 'weak', reason: 'learned', scored: true });
  }
  assertRouted(await chat('chain', {}, { 'x-sluice-router-threshold': '-1' }),
    { router: 'chain', target: 'strong', reason: 'override', scored: true });

  // chain without cost targets: the learned choice, then max_cost_usd caps the strong one
  assertRouted(await expectCounts({ strong: 0, weak: 1 }, () => chat('chain-capped')),
    { router: 'chain-capped', target: 'weak', reason: 'cost', scored: true });
  assertRouted(await expectCounts({ strong: 1, weak: 0 }, () => chat('chain-capped', { max_tokens: 10 })),
    { router: 'chain-capped', target: 'strong', reason: 'learned', scored: true });

  for (const content of ['hi', 'Derive the Navier-Stokes equations. '.repeat(50)]) {
    assertRouted(await expectCounts({ strong: 1, weak: 0 }, () => chat('tiers-top', say(content))),
      { router: 'tiers-top', target: 'strong', reason: 'learned', scored: true });
    assertRouted(await expectCounts({ strong: 0, weak: 1 }, () => chat('tiers-bottom', say(content))),
      { router: 'tiers-bottom', target: 'weak', reason: 'learned', scored: true });
  }

  const would0 = await metric('sluice_router_shadow_would_total', { router: 'shadow', target: 'strong' });
  for (let i = 0; i < 3; i++) {
    const r = await expectCounts({ strong: 0, weak: 1 }, () => chat('shadow'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-sluice-router'], 'shadow');
    assert.equal(r.headers['x-sluice-router-target'], 'weak', 'shadow: always the default group');
    assert.equal(r.headers['x-sluice-router-reason'], 'shadow');
    assert.equal(r.headers['x-sluice-router-shadow-target'], 'strong', 'what the router would have chosen');
    assert.match(r.headers['x-sluice-router-score'] ?? '', /^-?\d/);
    const line = await accessLineOf(s, r);
    assert.equal(line.router_reason, 'shadow', JSON.stringify(line));
    assert.equal(line.router_would, 'strong', JSON.stringify(line));
    assert.equal(line.model_group, 'weak', JSON.stringify(line));
  }
  await pollUntil(async () => (await metric('sluice_router_shadow_would_total', { router: 'shadow', target: 'strong' })) === would0 + 3,
    { timeoutMs: 3000, what: 'sluice_router_shadow_would_total +3' });
});

// ------------------------------------------------------------------ metrics, models, streaming

test('metrics: requests per router and target, cost, always-strong cost and savings', async () => {
  const m = async () => ({
    strong: await metric('sluice_router_requests_total', { router: 'by-rule', target: 'strong' }),
    weak: await metric('sluice_router_requests_total', { router: 'by-rule', target: 'weak' }),
    cost: await metric('sluice_router_cost_usd_total', { router: 'by-rule' }),
    costWeak: await metric('sluice_router_cost_usd_total', { router: 'by-rule', target: 'weak' }),
    always: await metric('sluice_router_always_strong_cost_usd_total', { router: 'by-rule' }),
    saved: await metric('sluice_router_savings_usd', { router: 'by-rule' }),
  });
  const a = await m();
  for (let i = 0; i < 3; i++) assert.equal((await chat('by-rule', {}, { 'x-tier': 'gold' })).status, 200);
  for (let i = 0; i < 5; i++) assert.equal((await chat('by-rule')).status, 200);
  const b = await pollUntil(async () => {
    const x = await m();
    return x.strong - a.strong === 3 && x.weak - a.weak === 5 && x.costWeak > a.costWeak ? x : null;
  }, { timeoutMs: 3000, what: 'router metrics to count 3 strong and 5 weak' });
  assert.ok(b.cost > a.cost, `cost grows: ${a.cost} -> ${b.cost}`);
  // the always-strong estimate prices the same tokens at strong's price: 10x to 15x weak's
  assert.ok(b.always - a.always > b.cost - a.cost, `always-strong ${b.always - a.always} > cost ${b.cost - a.cost}`);
  assert.ok(b.saved > a.saved, `savings grow with weak answers: ${a.saved} -> ${b.saved}`);
  assert.ok(Math.abs(b.saved - (b.always - b.cost)) < 1e-5, 'savings = always-strong - cost');
  const text = (await request(`${s.url}/metrics`, { headers: auth() })).text;
  for (const name of ['sluice_router_requests_total', 'sluice_router_shadow_would_total', 'sluice_router_cost_usd_total',
    'sluice_router_always_strong_cost_usd_total', 'sluice_router_savings_usd']) {
    assert.match(text, new RegExp(`# TYPE ${name} (counter|gauge)`), name);
  }
  assert.match(text, /^sluice_router_savings_usd\{router="auto"\} -?\d/m, 'a savings line per router');
});

test('GET /v1/models lists the routers next to the groups', async () => {
  const r = await request(`${s.url}/v1/models`, { headers: auth() });
  assert.equal(r.status, 200, r.text);
  const ids = r.json().data.map((x) => x.id);
  for (const name of ['strong', 'weak', ...ROUTERS.map((x) => x.model_name)]) assert.ok(ids.includes(name), `${name} in ${ids}`);
});

test('streaming through a learned router: SSE through the target, router headers on the stream', async () => {
  for (const [thr, target] of [['-1', 'strong'], ['1', 'weak']]) {
    const c0 = await counts();
    const st = await openStream(`${s.url}${CHAT}`, {
      body: { model: 'auto', ...say('Count to three.'), stream: true },
      headers: { ...auth(), 'x-sluice-router-threshold': thr },
    });
    await st.waitEnd(5000);
    assert.equal(st.status, 200, st.text);
    assert.match(st.headers['content-type'], /text\/event-stream/);
    assert.equal(st.headers['x-sluice-router'], 'auto');
    assert.equal(st.headers['x-sluice-router-target'], target);
    assert.equal(st.headers['x-sluice-router-reason'], 'override');
    assert.equal(st.headers['x-sluice-model-group'], target);
    const events = sseData(st.text);
    assert.equal(events.at(-1), '[DONE]', st.text);
    assert.ok(events.length >= 3, st.text);
    const c1 = await counts();
    assert.equal(c1[target] - c0[target], 1);
  }
});

test('the Anthropic Messages API through a router: routed, translated, the sluice field dropped', async () => {
  for (const [thr, target] of [[-1, 'strong'], [1, 'weak']]) {
    const id = nonce('anth');
    const r = await expectCounts({ strong: target === 'strong' ? 1 : 0, weak: target === 'weak' ? 1 : 0 },
      () => client.request('/v1/messages', {
        body: { model: 'auto', max_tokens: 20, metadata: { user_id: id }, messages: [{ role: 'user', content: [{ type: 'text', text: `hello ${id}` }] }],
          sluice: { router: { threshold: thr } } },
        headers: auth(),
      }));
    assertRouted(r, { router: 'auto', target, reason: 'override', scored: true });
    assert.equal(r.json().type, 'message', r.text);
    const rec = findRecorded(await (target === 'strong' ? strong : weak).stats(),
      (b) => JSON.stringify(b?.messages ?? '').includes(id));
    assert.ok(rec, 'recorded upstream');
    assert.equal(rec.json.sluice, undefined, 'no sluice field upstream');
  }
});

// ------------------------------------------------------------------ fallbacks and the cache

test('a target group that fails falls back as configured (weak down -> strong answers)', async () => {
  const good = await startMock(['--tokens', '3']);
  const down = await startMock(['--p-500', '1']);
  const sf = await startSluice({
    yaml: config({
      strong: good, weak: down,
      routers: [R('auto', 'sluice_router/learned', { ...SW, threshold: 0 })],
      router_settings: { fallbacks: [{ weak: ['strong'] }], num_retries: 0, allowed_fails: 100 },
    }),
  });
  try {
    const r = await post(`${sf.url}${CHAT}`, { model: 'auto', ...say('hi') }, { ...auth(), 'x-sluice-router-threshold': '1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-sluice-router'], 'auto');
    assert.equal(r.headers['x-sluice-router-target'], 'weak', 'the router chose weak');
    assert.equal(r.headers['x-sluice-fallback'], 'strong', 'weak failed: strong answered');
    assert.equal(r.headers['x-sluice-deployment'], 'strong-0');
    assert.equal((await down.stats()).requests >= 1, true, 'weak was tried');
    assert.equal((await good.stats()).requests, 1);
    const line = await accessLineOf(sf, r);
    assert.equal(line.router, 'auto');
    assert.equal(line.fallback, 'strong');
    // strong chosen directly: no fallback
    const r2 = await post(`${sf.url}${CHAT}`, { model: 'auto', ...say('hi') }, { ...auth(), 'x-sluice-router-threshold': '-1' });
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-fallback'], undefined);
  } finally {
    await stopAll(sf, good, down);
  }
});

test('the cache through a router: the same request twice is a hit on the target group', async () => {
  const a = await startMock(['--tokens', '3']);
  const b = await startMock(['--tokens', '3']);
  const sc = await startSluice({
    yaml: config({
      strong: a, weak: b, litellm: { cache: true, cache_params: { type: 'local', ttl: 600 } },
      routers: [R('auto', 'sluice_router/learned', { ...SW, threshold: 0 }),
        R('cost-lo', 'sluice_router/cost', { min_quality: 0.5, targets: TARGETS })],
    }),
  });
  const n = async () => [(await a.stats()).requests, (await b.stats()).requests];
  const entries = (k) => pollUntil(async () => {
    const r = await request(`${sc.url}/cache/stats`, { headers: auth() });
    assert.equal(r.status, 200, r.text);
    return r.json().entries >= k ? true : null;
  }, { timeoutMs: 5000, intervalMs: 20, what: `${k} committed cache entries` });
  try {
    const body = { model: 'cost-lo', ...say(`cache me ${nonce('c')}`) };
    const r1 = await post(`${sc.url}${CHAT}`, body, auth());
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers['x-sluice-cache'], 'miss');
    assert.equal(r1.headers['x-sluice-router-target'], 'weak');
    await entries(1);
    const r2 = await post(`${sc.url}${CHAT}`, body, auth());
    assert.equal(r2.status, 200, r2.text);
    assert.equal(r2.headers['x-sluice-cache'], 'hit');
    assert.equal(r2.headers['x-sluice-router'], 'cost-lo');
    assert.equal(r2.headers['x-sluice-router-target'], 'weak');
    assert.equal(r2.json().choices[0].message.content, r1.json().choices[0].message.content);
    assert.deepEqual(await n(), [0, 1], 'one upstream call');
    // the body's sluice field is not part of the key: another router choosing the same group hits
    const r3 = await post(`${sc.url}${CHAT}`, { ...body, model: 'auto', sluice: { router: { threshold: 1 } } }, auth());
    assert.equal(r3.status, 200, r3.text);
    assert.equal(r3.headers['x-sluice-router-target'], 'weak');
    assert.equal(r3.headers['x-sluice-cache'], 'hit');
    // the same prompt routed to another group is that group's entry (a miss)
    const r4 = await post(`${sc.url}${CHAT}`, { ...body, model: 'auto', sluice: { router: { threshold: -1 } } }, auth());
    assert.equal(r4.status, 200, r4.text);
    assert.equal(r4.headers['x-sluice-router-target'], 'strong');
    assert.equal(r4.headers['x-sluice-cache'], 'miss');
    assert.deepEqual(await n(), [1, 1]);
  } finally {
    await stopAll(sc, a, b);
  }
});

// ------------------------------------------------------------------ reload and check

test('reload to a corrupt router file is refused and the old router keeps serving; a good reload changes the routing; no request fails', async () => {
  const a = await startMock(['--tokens', '2']);
  const b = await startMock(['--tokens', '2']);
  const dir = mkTmpDir('sluice-router-');
  const corrupt = path.join(dir, 'corrupt.slrt');
  fs.writeFileSync(corrupt, 'definitely not a router model\n');
  const yaml = (params) => config({ strong: a, weak: b, routers: [R('auto', 'sluice_router/learned', { ...SW, ...params })] });
  const sr = await startSluice({ yaml: yaml({ threshold: 1 }), workers: 2 });
  const lc = makeClient(sr.url, { maxSockets: 4 });
  const results = [];
  let stop = false;
  const load = runLoad(4, 4, async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const r = await lc.chat({ model: 'auto', ...say(`load ${i}`) }, auth());
      results.push({ status: r.status, target: r.headers['x-sluice-router-target'], text: r.text });
    }
  });
  try {
    await pollUntil(() => results.length >= 20, { timeoutMs: 10000, what: '20 requests before the reloads' });
    const workers = liveChildPids(sr.pid);
    // SIGHUP with a corrupt file: refused, named
    fs.writeFileSync(sr.configPath, yaml({ threshold: -1, router_model_path: corrupt }));
    sr.proc.kill('SIGHUP');
    const failed = await sr.waitLine((l) => l.msg === 'reload failed', 10000, 'the "reload failed" line');
    assert.match(failed.error, /router_model_path/, failed.error);
    assert.ok(failed.error.includes(corrupt), failed.error);
    assert.match(failed.error, /config\.yaml:\d+/, failed.error);
    // POST /config/reload says the same as a 400
    const bad = await post(`${sr.url}/config/reload`, {}, auth(), { timeoutMs: 25000 });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json().error.message, /router_model_path.*refused/, bad.text);
    // a missing file too
    fs.writeFileSync(sr.configPath, yaml({ threshold: -1, router_model_path: path.join(dir, 'missing.slrt') }));
    const missing = await post(`${sr.url}/config/reload`, {}, auth(), { timeoutMs: 25000 });
    assert.equal(missing.status, 400, missing.text);
    assert.match(missing.json().error.message, /cannot read router model/, missing.text);
    const mark = results.length;
    await pollUntil(() => results.length >= mark + 20, { timeoutMs: 10000, what: '20 requests after the refused reloads' });
    assert.ok(results.slice(mark).every((x) => x.target === 'weak'), 'the old router (threshold 1) still serves');
    assert.deepEqual(liveChildPids(sr.pid), workers, 'no worker was replaced by the refused reloads');
    // a good config: threshold -1 (always strong)
    fs.writeFileSync(sr.configPath, yaml({ threshold: -1 }));
    const ok = await post(`${sr.url}/config/reload`, {}, auth(), { timeoutMs: 25000 });
    assert.equal(ok.status, 200, ok.text);
    const direct = await post(`${sr.url}${CHAT}`, { model: 'auto', ...say('after') }, auth());
    assert.equal(direct.headers['x-sluice-router-target'], 'strong', 'a new connection meets the new router');
    const mark2 = results.length;
    await pollUntil(() => results.slice(mark2).filter((x) => x.target === 'strong').length >= 20,
      { timeoutMs: 10000, what: '20 requests to strong after the good reload' });
  } finally {
    stop = true;
    await load;
    lc.close();
  }
  const errors = results.filter((x) => x.status !== 200);
  assert.equal(errors.length, 0, `${errors.length} of ${results.length} failed: ${errors.slice(0, 3).map((x) => `${x.status} ${x.text.slice(0, 200)}`).join('\n')}`);
  await stopAll(sr, a, b);
});

test('sluice check: a corrupt or missing router file exits 2 with the message', async () => {
  const dir = mkTmpDir('sluice-router-check-');
  const corrupt = path.join(dir, 'corrupt.slrt');
  fs.writeFileSync(corrupt, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  const m = { port: 9 };
  const write = (name, params) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, config({ strong: m, weak: m, routers: [R('auto', 'sluice_router/learned', { ...SW, ...params })] }));
    return f;
  };
  const good = await runCommand(SLUICE_BIN, ['check', write('good.yaml', { threshold: 0.1 })]);
  assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
  const r = await runCommand(SLUICE_BIN, ['check', write('bad.yaml', { router_model_path: 'corrupt.slrt' })]);
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /bad\.yaml:\d+: model_list\[2\]\.litellm_params\.router_model_path: router model '.*corrupt\.slrt' refused/, r.stderr);
  const r2 = await runCommand(SLUICE_BIN, ['check', write('missing.yaml', { router_model_path: 'nope.slrt' })]);
  assert.equal(r2.code, 2, `${r2.stdout}\n${r2.stderr}`);
  assert.match(r2.stderr, /missing\.yaml:\d+: model_list\[2\]\.litellm_params\.router_model_path: cannot read router model '.*nope\.slrt': No such file/, r2.stderr);
  const r3 = await runCommand(SLUICE_BIN, ['check', write('both.yaml', { threshold: 0.1, strong_fraction: 0.2 })]);
  assert.equal(r3.code, 2, `${r3.stdout}\n${r3.stderr}`);
  assert.match(r3.stderr, /strong_fraction or threshold, not both/);
});
