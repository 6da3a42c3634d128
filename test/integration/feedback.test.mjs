// Routers that learn from outcomes (issue #15), against real processes: sluice with two
// priced mock groups, "strong" and "weak" (one mock process each), and learned routers in
// front of them. Asserted: POST /v1/feedback records an outcome (its answer names the
// router and target), refuses a second one (409), unknown ids and another key's requests
// (404, the same answer), bad bodies (400, each with its reason); an online router whose
// choice for a prompt moves from strong to weak after repeated "weak_ok" labels while a
// frozen router given the same labels does not move; and the CLI: export (JSON with the
// learned slots), import (a blank state: back to strong), rollback (the state before the
// import: weak again), history, and rollback --to before any snapshot refused.
// The thresholds are set from the probe router's score of the prompt, so the test holds
// for any model file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startMock, startSluice, cleanup, post, toYaml, HOST, runCommand, SLUICE_BIN, pollUntil, stopAll, mkTmpDir,
} from './lib.mjs';
import { MASTER, newKey } from './keys_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';
const PROMPT = 'Prove that the sum of two even integers is even, step by step.';
const STRONG_PRICE = { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 };
const WEAK_PRICE = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 };
const SW = { strong_model: 'strong', weak_model: 'weak' };
const R = (name, params) => ({ model_name: name, litellm_params: { model: 'sluice_router/learned', ...SW, ...params } });

function config(strong, weak, routers) {
  const dep = (name, port, price) => ({
    model_name: name,
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock' },
    model_info: price,
  });
  return toYaml({
    model_list: [dep('strong', strong.port, STRONG_PRICE), dep('weak', weak.port, WEAK_PRICE), ...routers],
    general_settings: { master_key: MASTER },
  });
}

const auth = (key = MASTER) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
let strong, weak, s, dataDir, score;

async function ask(model, key = MASTER, content = PROMPT) {
  const r = await post(`${s.url}${CHAT}`, JSON.stringify({ model, messages: [{ role: 'user', content }] }), auth(key));
  assert.equal(r.status, 200, r.text);
  return { id: r.headers['x-request-id'], target: r.headers['x-sluice-router-target'], reason: r.headers['x-sluice-router-reason'] };
}

async function feedback(body, key = MASTER) {
  const r = await post(`${s.url}/v1/feedback`, typeof body === 'string' ? body : JSON.stringify(body), auth(key));
  let json = null;
  try { json = JSON.parse(r.text); } catch { /* asserted by callers */ }
  return { status: r.status, json, text: r.text };
}

const cli = (...args) => runCommand(SLUICE_BIN, ['router', ...args, '--data-dir', dataDir], { timeoutMs: 30000 });

before(async () => {
  strong = await startMock(['--tokens', '5']);
  weak = await startMock(['--tokens', '5']);
  // the prompt's score, from a probe router
  const probe = await startSluice({ yaml: config(strong, weak, [R('probe', { threshold: 0 })]) });
  const r = await post(`${probe.url}${CHAT}`, JSON.stringify({ model: 'probe', messages: [{ role: 'user', content: PROMPT }] }), auth());
  score = Number(r.headers['x-sluice-router-score']);
  assert.ok(Number.isFinite(score), r.text);
  await stopAll(probe);
  // just below it: the prompt goes to strong until learning moves it
  const thr = Math.max(-1, score - 0.05);
  s = await startSluice({
    yaml: config(strong, weak, [
      R('online', { threshold: thr, learning: 'online', max_shift_per_hour: 2 }),
      R('frozen', { threshold: thr, learning: 'online', max_shift_per_hour: 2, frozen: true }),
      R('plain', { threshold: thr }),
    ]),
  });
  dataDir = path.join(s.dir, 'data');
});

after(async () => { await stopAll(s, strong, weak); });

test('feedback is recorded once, for its owner or the master key; bad bodies and unknown ids are refused', async () => {
  const a = await ask('plain');
  assert.equal(a.target, 'strong');
  const ok = await feedback({ request_id: a.id, thumbs: 'up' });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { request_id: a.id, recorded: true, router: 'plain', target: 'strong', need: 0, learns: false });
  const again = await feedback({ request_id: a.id, label: 'weak_ok' });
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.error.code, 'feedback_exists');
  const unknown = await feedback({ request_id: 'no-such-request', score: 0.5 });
  assert.equal(unknown.status, 404, unknown.text);
  assert.match(unknown.json.error.message, /No routed request with id 'no-such-request'/);

  // a virtual key's request: its own key and the master key may answer; another key gets 404
  const k1 = (await newKey(s.url, {})).key;
  const k2 = (await newKey(s.url, {})).key;
  const b = await ask('plain', k1);
  const other = await feedback({ request_id: b.id, score: 1 }, k2);
  assert.equal(other.status, 404, other.text);
  assert.equal(other.json.error.message, `No routed request with id '${b.id}' (unknown, expired, or made with another key)`);
  const own = await feedback({ request_id: b.id, score: 0.25 }, k1);
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json.need, 0.75);
  const c = await ask('plain', k1);
  assert.equal((await feedback({ request_id: c.id, label: 'strong_needed' })).status, 200);

  const bad = [
    ['', /must be a JSON object/],
    ['[1]', /must be a JSON object/],
    [{ score: 1 }, /'request_id' is required/],
    [{ request_id: 5, score: 1 }, /'request_id' must be a non-empty string/],
    [{ request_id: a.id }, /exactly one of/],
    [{ request_id: a.id, score: 1, thumbs: 'up' }, /exactly one of/],
    [{ request_id: a.id, score: 1.5 }, /'score' must be a number from 0/],
    [{ request_id: a.id, thumbs: 'sideways' }, /'thumbs' must be "up" or "down"/],
    [{ request_id: a.id, label: 'meh' }, /'label' must be "weak_ok" or "strong_needed"/],
    [{ request_id: a.id, score: 1, rating: 3 }, /unknown field 'rating'/],
  ];
  for (const [body, re] of bad) {
    const r = await feedback(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, re, JSON.stringify(body));
  }
  const noauth = await post(`${s.url}/v1/feedback`, JSON.stringify({ request_id: a.id, score: 1 }), {});
  assert.equal(noauth.status, 401, noauth.text);
});

test('an online router moves a prompt to weak after "weak_ok" outcomes; a frozen one does not', async () => {
  assert.equal((await ask('online')).target, 'strong');
  assert.equal((await ask('frozen')).target, 'strong');
  for (let i = 0; i < 6; i++) {
    for (const r of ['online', 'frozen']) {
      const a = await ask(r);
      const f = await feedback({ request_id: a.id, label: 'weak_ok' });
      assert.equal(f.status, 200, f.text);
      assert.equal(f.json.learns, true);
    }
  }
  // the writer thread applies the outcomes; the worker re-reads the state within a second
  await pollUntil(async () => (await ask('online')).target === 'weak', { timeoutMs: 8000, intervalMs: 100, what: 'the online router to choose weak' });
  const after = await ask('online');
  assert.equal(after.target, 'weak');
  assert.equal(after.reason, 'learned');
  for (let i = 0; i < 5; i++) assert.equal((await ask('frozen')).target, 'strong', 'the frozen router keeps its choice');
  assert.equal((await ask('plain')).target, 'strong');
  // another prompt with other words is not moved as far (its slots saw no outcomes)
  const other = await ask('online', MASTER, 'Bonjour');
  assert.ok(['strong', 'weak'].includes(other.target));
});

test('export, import, history and rollback through the CLI', async () => {
  const ex = await cli('export', 'online');
  assert.equal(ex.code, 0, ex.stderr);
  const state = JSON.parse(ex.stdout);
  assert.equal(state.router, 'online');
  assert.equal(state.version, 1);
  assert.ok(state.outcomes >= 6, ex.stdout);
  assert.ok(state.slots.length > 0 && state.slots.every((x) => x.bias <= 0 && x.ok > 0), ex.stdout);
  const none = await cli('export', 'frozen');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /has no learned state/);

  // a blank state: the prompt goes back to strong
  const tmp = mkTmpDir('sluice-learn-');
  const blank = path.join(tmp, 'blank.json');
  fs.writeFileSync(blank, JSON.stringify({ router: 'online', version: 1, slots: [] }));
  const im = await cli('import', 'online', blank);
  assert.equal(im.code, 0, im.stderr);
  await pollUntil(async () => (await ask('online')).target === 'strong', { timeoutMs: 8000, intervalMs: 100, what: 'strong after the import' });
  const badFile = path.join(tmp, 'bad.json');
  fs.writeFileSync(badFile, JSON.stringify({ version: 1, slots: [{ slot: 5000, bias: 0, ok: 0, need: 0 }] }));
  const bad = await cli('import', 'online', badFile);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /every slot needs 'slot' \(0\.\.1023\)/);

  const hist = await cli('history', 'online');
  assert.equal(hist.code, 0, hist.stderr);
  const times = hist.stdout.trim().split('\n').map(Number);
  assert.ok(times.length >= 1 && times.every((t) => t > 1.7e9), hist.stdout);

  // rollback: the newest snapshot is the learned state the import replaced
  const rb = await cli('rollback', 'online');
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, /rolled back router 'online' to its snapshot of \d+/);
  await pollUntil(async () => (await ask('online')).target === 'weak', { timeoutMs: 8000, intervalMs: 100, what: 'weak after the rollback' });
  const early = await cli('rollback', 'online', '--to', '1000');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /no snapshot at or before that time/);
});
