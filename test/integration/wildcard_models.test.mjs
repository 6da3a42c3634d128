// GET /v1/models with wildcard deployments: what the providers list, mapped through the
// patterns (core/wild_models.c, core/config/plan_models.c). The OpenAI-format provider is
// sluice-mock (its --models list, asked with the deployment's own path and key), the
// Anthropic one a scripted upstream paging by has_more / after_id, another scripted upstream
// changes its list (the refresh), one port refuses and one server never answers: those
// patterns stay listed as themselves and requests are unaffected. An exact group wins over
// the pattern's name; a general pattern ("gpt-*" -> azure/dep-*) is never expanded; a virtual
// key with `models` sees only the names it may call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';
import { startSluice, startMock, cleanup, request, freePort, pollUntil, mkTmpDir, recordedHeader, HOST } from './lib.mjs';
import { startScriptedUpstream, oaiCompletion } from './providers_lib.mjs';
import { MASTER, newKey } from './keys_lib.mjs';

let mock, anth, live, hang, sluice;
let liveIds = ['m1'];
let liveFail = false;
const hungSockets = new Set();

before(async () => {
  mock = await startMock(['--models', 'gpt-4o,gpt-4o-mini,o3-mini,text-embedding-3-small']);
  anth = await startScriptedUpstream((rec) => {
    if (rec.method !== 'GET') return undefined;
    const u = new URL(rec.path, 'http://x');
    if (u.pathname !== '/v1/models') return undefined;
    if (u.searchParams.get('after_id') === 'claude-a') return { body: { data: [{ type: 'model', id: 'claude-b' }], has_more: false, last_id: 'claude-b' } };
    return { body: { data: [{ type: 'model', id: 'claude-a' }], has_more: true, first_id: 'claude-a', last_id: 'claude-a' } };
  });
  live = await startScriptedUpstream((rec) => {
    if (rec.method === 'GET' && rec.path === '/v1/models') {
      return liveFail ? { status: 500, body: { error: { message: 'down' } } } : { body: { object: 'list', data: liveIds.map((id) => ({ id, object: 'model' })) } };
    }
    return { body: oaiCompletion({ model: rec.json?.model, content: 'live' }) };
  });
  hang = net.createServer((s) => { hungSockets.add(s); s.on('error', () => {}); }); // reads, never answers
  await new Promise((res) => hang.listen(0, HOST, res));
  const dead = await freePort();
  const dep = (name, model, base, key = 'up-key') =>
    `  - model_name: '${name}'\n    litellm_params: {model: '${model}', api_base: '${base}', api_key: ${key}}\n`;
  sluice = await startSluice({
    yaml: 'model_list:\n' +
      dep('openai/gpt-4o', 'openai/gpt-4o', `${mock.url}/v1`) +
      dep('openai/*', 'openai/*', `${mock.url}/v1`) +
      dep('anthropic/*', 'anthropic/*', anth.url, 'an-key') +
      dep('dead/*', 'openai/*', `http://${HOST}:${dead}/v1`) +
      dep('slow/*', 'openai/*', `http://${HOST}:${hang.address().port}/v1`) +
      dep('gpt-*', 'azure/dep-*', mock.url) +
      dep('live/*', 'openai/*', `${live.url}/v1`, 'live-key') +
      `general_settings:\n  master_key: ${MASTER}\n` +
      'sluice_settings:\n  wildcard_models_refresh: 300ms\n',
    args: ['--data-dir', path.join(mkTmpDir('sluice-wmodels-'), 'data')],
  });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  for (const s of hungSockets) s.destroy();
  if (hang) await new Promise((res) => hang.close(res));
  if (mock) await mock.stop();
  if (anth) await anth.close();
  if (live) await live.close();
  await cleanup();
});

const AUTH = { authorization: `Bearer ${MASTER}` };
async function ids(headers = AUTH) {
  const r = await request(`${sluice.url}/v1/models`, { headers });
  assert.equal(r.status, 200, r.text);
  return r.json().data.map((m) => m.id);
}

test('the providers\' ids, mapped through the patterns; patterns without a list stay', async () => {
  const want = ['openai/gpt-4o', 'openai/gpt-4o-mini', 'openai/o3-mini', 'openai/text-embedding-3-small',
    'anthropic/claude-a', 'anthropic/claude-b', 'dead/*', 'slow/*', 'gpt-*'];
  const got = await pollUntil(async () => {
    const l = await ids();
    return l.includes('anthropic/claude-b') && l.includes('openai/o3-mini') && l.includes('live/m1') ? l : null;
  }, { timeoutMs: 10000, what: 'the listed names' });
  // concrete groups first; "openai/gpt-4o" once (the exact group wins over the pattern's name)
  assert.deepEqual(got.filter((id) => id !== 'live/m1' && id !== 'live/m2'), want);
  assert.equal(got.filter((id) => id === 'openai/gpt-4o').length, 1);
  // asked with the deployment's own path and credential
  const st = await mock.stats();
  const rec = st.last.find((r) => r.method === 'GET' && r.path === '/v1/models');
  assert.ok(rec, 'the mock was asked for its models');
  assert.equal(recordedHeader(rec, 'authorization'), 'Bearer up-key');
  const pages = anth.requests.filter((r) => r.method === 'GET');
  assert.ok(pages.length >= 2, 'two pages');
  assert.equal(pages[0].path, '/v1/models?limit=1000');
  assert.equal(pages[1].path, '/v1/models?limit=1000&after_id=claude-a');
  assert.equal(pages[0].headers['x-api-key'], 'an-key');
  assert.ok(pages[0].headers['anthropic-version'], 'anthropic-version sent');
  // what is listed is served: /v1/models/{id} and a request
  const one = await request(`${sluice.url}/v1/models/openai%2Fo3-mini`, { headers: AUTH });
  assert.equal(one.status, 200);
  const oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  const r = await oai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(r.response.headers.get('x-sluice-upstream-model'), 'gpt-4o-mini');
});

test('a provider that refuses or hangs: its pattern stays, requests are unaffected', async () => {
  // the hung server holds a listing request; a request through another pattern is served meanwhile
  await pollUntil(() => hungSockets.size > 0, { timeoutMs: 5000, what: 'the listing request to the hung server' });
  const oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  const t0 = Date.now();
  const r = await oai.chat.completions.create({ model: 'openai/o3-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(Date.now() - t0 < 3000, 'not held by the hung listing');
  const l = await ids();
  assert.ok(l.includes('slow/*') && l.includes('dead/*'), JSON.stringify(l));
  // both failures are logged once, the hung one after the 5 s timeout
  await sluice.waitLine((x) => x.msg === 'wildcard model list failed' && x.deployment === 'dead/*-0', 5000);
  const slow = await sluice.waitLine((x) => x.msg === 'wildcard model list failed' && x.deployment === 'slow/*-0', 10000);
  assert.match(slow.error, /within 5000 ms/);
  assert.ok((await ids()).includes('slow/*'));
});

test('the list refreshes; a failed refresh keeps the last good list', async () => {
  await pollUntil(async () => (await ids()).includes('live/m1'), { timeoutMs: 5000, what: 'live/m1' });
  liveIds = ['m1', 'm2'];
  await pollUntil(async () => (await ids()).includes('live/m2'), { timeoutMs: 5000, what: 'live/m2 after a refresh' });
  liveFail = true;
  const n = live.requests.length;
  await sluice.waitLine((x) => x.msg === 'wildcard model list failed' && x.deployment === 'live/*-0', 5000);
  assert.ok(live.requests.length > n);
  const l = await ids();
  assert.ok(l.includes('live/m1') && l.includes('live/m2'), JSON.stringify(l));
  assert.ok(!l.includes('live/*'));
  liveFail = false;
  liveIds = ['m3'];
  await pollUntil(async () => { const x = await ids(); return x.includes('live/m3') && !x.includes('live/m1'); },
    { timeoutMs: 5000, what: 'live/m3 after recovering' });
});

test('a virtual key with models: only the listed names it may call', async () => {
  await pollUntil(async () => (await ids()).includes('anthropic/claude-b'), { timeoutMs: 5000, what: 'claude-b' });
  const k1 = await newKey(sluice.url, { models: ['openai/*'] });
  const l1 = await ids({ authorization: `Bearer ${k1.key}` });
  assert.deepEqual(l1, ['openai/gpt-4o', 'openai/gpt-4o-mini', 'openai/o3-mini', 'openai/text-embedding-3-small']);
  const k2 = await newKey(sluice.url, { models: ['anthropic/claude-b', 'gpt-*'] });
  assert.deepEqual(await ids({ authorization: `Bearer ${k2.key}` }), ['anthropic/claude-b', 'gpt-*']);
});
