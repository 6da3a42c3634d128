// Semantic routers (issue #15) against real processes: groups "math" and "history", each on
// its own mock (so each mock's request count says where a request went), "general" (the
// default) on a third, and an embeddings group "emb" on a fourth mock whose model is named
// hash-embed (the mock then serves sluice's hashed n-gram vectors). Asserted: with the
// in-process embedder, prompts near a route's utterances go there (x-sluice-router-reason
// semantic:<group>, the similarity in x-sluice-router-score) and an unrelated prompt goes to
// the default (semantic_default); the same through the embeddings group (a loopback
// /v1/embeddings call through sluice: the embeddings mock counts one call per prompt, and
// since it is the same function the scores equal the in-process ones); LiteLLM's
// auto_router/<name> with an auto_router_config_path JSON file; an embeddings group that is
// down, stopped or slower than embedding_timeout gives the default route, never an error; and
// a restart reuses the stored utterance vectors (the embeddings mock sees only the prompts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, startSluice, cleanup, toYaml, HOST, mkTmpDir, pollUntil, stopAll, freePort } from './lib.mjs';
import { makeClient } from './routing_lib.mjs';

after(cleanup);

const MASTER = 'sk-semantic-master';
const MATH = ['solve the equation for x', 'what is the derivative of this function', 'compute the integral of a polynomial'];
const HISTORY = ['who won the battle of waterloo', 'when did the roman empire fall', 'causes of the first world war'];
const ROUTES = [
  { model: 'math', utterances: MATH },
  { model: 'history', utterances: HISTORY, description: 'questions about kings, wars and empires in history' },
];
const MANY = Array.from({ length: 300 }, (_, i) => `arithmetic drill number ${i}: add ${i} and ${2 * i}`);
const NEAR_MATH = 'What is the derivative of x squared plus 3x?';
const NEAR_HISTORY = 'Who won the battle of Hastings and why?';
const UNRELATED = 'Tell me a joke about cats and dogs';

let mathM, histM, genM, embM, slowM, s, client, dataDir, routesJson, downPort;

function config({ emb = embM.port, timeout = '2s' } = {}) {
  const dep = (name, port, model = 'openai/mock-model') => ({
    model_name: name,
    litellm_params: { model, api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock' },
  });
  const R = (name, model, params) => ({ model_name: name, litellm_params: { model, ...params } });
  return toYaml({
    model_list: [
      dep('math', mathM.port), dep('history', histM.port), dep('general', genM.port),
      dep('emb', emb, 'openai/hash-embed'), dep('emb-down', downPort, 'openai/hash-embed'),
      R('topic', 'sluice_router/semantic', { default_model: 'general', routes: ROUTES }),
      R('topic-emb', 'sluice_router/semantic', {
        default_model: 'general', embedding_model: 'emb', embedding_timeout: timeout, routes: ROUTES,
      }),
      R('topic-down', 'sluice_router/semantic', {
        default_model: 'general', embedding_model: 'emb-down', embedding_timeout: '1s', routes: ROUTES,
      }),
      R('many', 'sluice_router/semantic', {
        default_model: 'general', embedding_model: 'emb', routes: [
          { model: 'math', utterances: [...MATH, ...MANY] }, { model: 'history', utterances: HISTORY }],
      }),
      R('auto', 'auto_router/topics', {
        auto_router_config_path: routesJson, auto_router_default_model: 'general', auto_router_embedding_model: 'emb',
      }),
    ],
    general_settings: { master_key: MASTER },
  });
}

async function start(opts) {
  s = await startSluice({ yaml: config(opts), args: ['--data-dir', dataDir] });
  client?.close();
  client = makeClient(s.url);
}

before(async () => {
  [mathM, histM, genM, embM, slowM] = await Promise.all([
    startMock(), startMock(), startMock(), startMock(), startMock(['--latency-ms', '3000']),
  ]);
  downPort = await freePort(); /* nothing listens there */
  const dir = mkTmpDir('sluice-semantic-');
  dataDir = path.join(dir, 'data');
  routesJson = path.join(dir, 'routes.json');
  fs.writeFileSync(routesJson, JSON.stringify({
    routes: [
      { name: 'math', utterances: MATH, description: 'mathematics', score_threshold: 0.3, metadata: {} },
      { name: 'history', utterances: HISTORY },
    ],
  }));
  await start();
  /* every worker embeds its routes' utterances when it starts: wait for that before
   * counting requests per mock */
  /* every router that embeds through "emb" (topic-emb, many, auto) must be ready, or its
   * utterance calls would still be arriving at the embeddings mock while a test counts the
   * calls its own requests make (seen in CI: "many" needs three calls) */
  for (const r of ['topic-emb', 'many', 'auto'])
    await pollUntil(async () => (await chat(r, NEAR_HISTORY)).headers['x-sluice-router-reason'] === 'semantic:history',
      { what: `router ${r}: its utterances embedded through the embeddings group at worker start` });
});

after(async () => {
  client?.close();
  await stopAll(s, mathM, histM, genM, embM, slowM);
});

const auth = { authorization: `Bearer ${MASTER}` };
const chat = (model, content) => client.chat({ model, messages: [{ role: 'user', content }] }, auth);

async function counts() {
  const st = await Promise.all([mathM, histM, genM, embM].map((m) => m.stats()));
  return { math: st[0].requests, history: st[1].requests, general: st[2].requests, emb: st[3].requests };
}

/** Sends one prompt; asserts where it went (by header and by the mocks' counts) and how many
 *  embeddings calls it made; returns the score header as a number (null: none). */
async function routed(model, content, { target, reason, embCalls = 0 }) {
  const a = await counts();
  const r = await chat(model, content);
  const b = await counts();
  const ctx = `${model} "${content}": status ${r.status} headers ${JSON.stringify(r.headers)} body ${r.text.slice(0, 300)}`;
  assert.equal(r.status, 200, ctx);
  assert.equal(r.headers['x-sluice-router'], model, ctx);
  assert.equal(r.headers['x-sluice-router-target'], target, ctx);
  assert.equal(r.headers['x-sluice-router-reason'], reason, ctx);
  assert.equal(r.headers['x-sluice-model-group'], target, ctx);
  const want = { math: 0, history: 0, general: 0, emb: embCalls };
  want[target] += 1;
  assert.deepEqual({ math: b.math - a.math, history: b.history - a.history, general: b.general - a.general, emb: b.emb - a.emb },
    want, `requests per mock: ${ctx}`);
  const sc = r.headers['x-sluice-router-score'];
  if (sc === undefined) return null;
  assert.match(sc, /^-?\d+\.\d{4}$/, ctx);
  return Number(sc);
}

const scores = {};

test('in-process embedder: prompts go to the nearest route over its threshold, else the default', async () => {
  scores.math = await routed('topic', NEAR_MATH, { target: 'math', reason: 'semantic:math' });
  scores.history = await routed('topic', NEAR_HISTORY, { target: 'history', reason: 'semantic:history' });
  scores.none = await routed('topic', UNRELATED, { target: 'general', reason: 'semantic_default' });
  assert.ok(scores.math >= 0.3 && scores.history >= 0.3, JSON.stringify(scores));
  assert.ok(scores.none < 0.3, `an unrelated prompt scores under the threshold: ${scores.none}`);
  // the same prompt twice: the same decision and score (deterministic)
  assert.equal(await routed('topic', NEAR_MATH, { target: 'math', reason: 'semantic:math' }), scores.math);
});

test('embeddings group through sluice: utterances embedded once at worker start, then one call per prompt, same scores', async () => {
  // the worker embedded the utterances when it started (before()): one call with a list
  const rec = (await embM.stats()).last.map((x) => JSON.parse(x.body ?? '{}')).find((j) => Array.isArray(j.input));
  assert.ok(rec, 'the utterances went in one call with an input list (fewer than 128)');
  assert.equal(rec.input.length, MATH.length + HISTORY.length + 1, 'every utterance and the description');
  assert.equal(rec.model, 'hash-embed', 'the embeddings deployment\'s model');
  // decisions: one embeddings call per prompt, none for utterances any more
  const m = await routed('topic-emb', NEAR_MATH, { target: 'math', reason: 'semantic:math', embCalls: 1 });
  const h = await routed('topic-emb', NEAR_HISTORY, { target: 'history', reason: 'semantic:history', embCalls: 1 });
  const n = await routed('topic-emb', UNRELATED, { target: 'general', reason: 'semantic_default', embCalls: 1 });
  // the mock serves the in-process function: the same similarities (this checks the plumbing)
  assert.deepEqual([m, h, n], [scores.math, scores.history, scores.none]);
});

test('many utterances are embedded in calls of at most 128 texts', async () => {
  // the worker embedded them when it started (each router at once, so texts that another
  // router shares may be asked twice then): every call at most 128 texts, all of MANY asked
  const lists = (await embM.stats()).last.map((x) => JSON.parse(x.body)).filter((j) => Array.isArray(j.input) && j.input.some((t) => MANY.includes(t)));
  assert.ok(lists.length >= 3, `at least three calls for ${MANY.length} texts: ${lists.map((j) => j.input.length)}`);
  assert.ok(lists.every((j) => j.input.length <= 128), `calls of at most 128: ${lists.map((j) => j.input.length)}`);
  const asked = new Set(lists.flatMap((j) => j.input));
  assert.ok(MANY.every((t) => asked.has(t)), 'every utterance asked');
  await routed('many', 'arithmetic drill: add 5 and 7', { target: 'math', reason: 'semantic:math', embCalls: 1 });
});

test('LiteLLM auto_router/<name> with auto_router_config_path', async () => {
  await routed('auto', NEAR_MATH, { target: 'math', reason: 'semantic:math', embCalls: 1 });
  await routed('auto', NEAR_HISTORY, { target: 'history', reason: 'semantic:history', embCalls: 1 });
  await routed('auto', UNRELATED, { target: 'general', reason: 'semantic_default', embCalls: 1 });
});

test('an embeddings group that is down gives the default route, never an error', async () => {
  for (const p of [NEAR_MATH, NEAR_HISTORY, UNRELATED, NEAR_MATH]) {
    const sc = await routed('topic-down', p, { target: 'general', reason: 'semantic_default' });
    assert.equal(sc, null, 'no similarity without vectors');
  }
});

test('a restart reuses the stored utterance vectors: the embeddings mock sees only the prompts', async () => {
  await stopAll(s);
  s = null;
  await embM.reset();
  await start();
  // the very first request is routed (the vectors come from DATA_DIR/vectors), one call
  assert.equal(await routed('topic-emb', NEAR_MATH, { target: 'math', reason: 'semantic:math', embCalls: 1 }), scores.math);
  assert.equal(await routed('topic-emb', NEAR_HISTORY, { target: 'history', reason: 'semantic:history', embCalls: 1 }), scores.history);
  const st = await embM.stats();
  assert.equal(st.requests, 2, 'no utterance call after the restart');
  assert.ok(st.last.every((x) => typeof JSON.parse(x.body).input === 'string'), 'only single prompts were embedded');
});

test('embeddings slower than embedding_timeout, or stopped: the default route, on time', async () => {
  // the same group name on a mock that answers in 3 s, with a 300 ms timeout: the stored
  // utterance vectors are used, the prompt's embedding times out
  await stopAll(s);
  s = null;
  await start({ emb: slowM.port, timeout: '300ms' });
  const r = await chat('topic-emb', NEAR_MATH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-router-reason'], 'semantic_default');
  assert.equal(r.headers['x-sluice-router-target'], 'general');
  assert.ok(r.ms < 2500, `the request did not wait for the slow embeddings (${r.ms} ms)`);
  // the fast embeddings mock again, then stopped: the default
  await stopAll(s);
  s = null;
  await start();
  await routed('topic-emb', NEAR_HISTORY, { target: 'history', reason: 'semantic:history', embCalls: 1 });
  await embM.stop();
  const a = await Promise.all([mathM, histM, genM].map((m) => m.stats()));
  for (const p of [NEAR_MATH, NEAR_HISTORY]) {
    const x = await chat('topic-emb', p);
    assert.equal(x.status, 200, x.text);
    assert.equal(x.headers['x-sluice-router-reason'], 'semantic_default');
    assert.equal(x.headers['x-sluice-router-target'], 'general');
  }
  const b = await Promise.all([mathM, histM, genM].map((m) => m.stats()));
  assert.deepEqual(b.map((x, i) => x.requests - a[i].requests), [0, 0, 2], 'both went to the default group');
});
