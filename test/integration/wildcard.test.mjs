// Wildcard deployments (LiteLLM's `model_name: "openai/*"`, `"anthropic/*"`, `"*"` with a bare
// `model: "*"`), through the official SDKs: a requested name that matches a pattern is served
// by that deployment with the matched part as the upstream model (asserted on what the
// scripted upstream received: path and body model), an exact group wins over a pattern, the
// bare "*" picks the provider from the name (claude -> Anthropic's Messages API, gemini ->
// gemini, "<provider>/..." -> that provider, else OpenAI), an unmatched name is the usual
// model_not_found error in each client's format, /v1/models lists the concrete groups then
// the patterns, and x-sluice-cost prices the requested model, not the pattern.
// Gemini (gemini/*, on sluice-mock --gemini-errors): its errors, a JSON array
// [{"error":{...}}], reach the OpenAI client as an OpenAI error and the Anthropic client in
// Anthropic's shape; a stream asks for usage (stream_options.include_usage) upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startSluice, startMock, cleanup, request, findRecorded } from './lib.mjs';
import { startScriptedUpstream, anthMessage, oaiCompletion } from './providers_lib.mjs';
import { accessLineOf } from './routing_lib.mjs';

let fake;    // one scripted upstream: /.../messages answers as Anthropic, the rest as OpenAI
let sluice;  // openai/gpt-4o (exact), openai/*, anthropic/*, and a bare *
let narrow;  // openai/* and anthropic/* only: other names are unknown
let oai, anth;
let gmock, gsluice; // gemini/* on a mock answering 429 in Gemini's array shape; gemini/* on a plain mock

const USAGE_OAI = { prompt_tokens: 1000, completion_tokens: 1000, total_tokens: 2000 };

before(async () => {
  fake = await startScriptedUpstream((rec) => {
    const b = rec.json ?? {};
    if (rec.path.endsWith('/messages')) {
      return { body: anthMessage({ model: b.model, content: [{ type: 'text', text: `anthropic ${b.model}` }],
        usage: { input_tokens: 1000, output_tokens: 1000 } }) };
    }
    return { body: oaiCompletion({ model: b.model, content: `openai-format ${b.model}`, usage: USAGE_OAI }) };
  });
  const dep = (name, model, base) =>
    `  - model_name: '${name}'\n    litellm_params: {model: '${model}', api_base: '${fake.url}${base}', api_key: up-key}\n`;
  sluice = await startSluice({
    yaml: 'model_list:\n' +
      dep('openai/gpt-4o', 'openai/exact-upstream', '/exact/v1') +
      dep('openai/*', 'openai/*', '/oa/v1') +
      dep('anthropic/*', 'anthropic/*', '/an') +
      dep('*', '*', '/any'),
  });
  narrow = await startSluice({
    yaml: 'model_list:\n' + dep('openai/*', 'openai/*', '/oa/v1') + dep('anthropic/*', 'anthropic/*', '/an') +
      'litellm_settings:\n  cache: true\n',
  });
  gmock = { bad: await startMock(['--gemini-errors', '--p-429', '1', '--retry-after', '0']), good: await startMock([]) };
  gsluice = await startSluice({
    yaml: 'model_list:\n' +
      `  - model_name: 'gemini/*'\n    litellm_params: {model: 'gemini/*', api_base: '${gmock.bad.url}/v1', api_key: g}\n` +
      `  - model_name: 'ok/*'\n    litellm_params: {model: 'gemini/*', api_base: '${gmock.good.url}/v1', api_key: g}\n` +
      'router_settings:\n  num_retries: 0\n',
  });
  // each worker asks the wildcard deployments' providers for their model lists at start
  // (core/wild_models.c); the fake answers those GETs with no "data" array: wait for them to
  // be done, so that fake.requests holds only the tests' own requests from here on
  const listed = (st, dep) => st.waitLine((l) => l.msg === 'wildcard model list failed' && l.deployment === dep, 10000);
  for (const dep of ['openai/*-0', 'anthropic/*-0', '*-0']) await listed(sluice, dep);
  for (const dep of ['openai/*-0', 'anthropic/*-0']) await listed(narrow, dep);
  oai = new OpenAI({ apiKey: 'none', baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  anth = new Anthropic({ apiKey: 'none', baseURL: sluice.url, maxRetries: 0 });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  if (narrow) assert.equal(await narrow.stop(), 0, 'narrow sluice exit code');
  if (gsluice) assert.equal(await gsluice.stop(), 0, 'gemini sluice exit code');
  if (gmock) { await gmock.bad.stop(); await gmock.good.stop(); }
  if (fake) await fake.close();
  await cleanup();
});

const last = () => fake.requests.at(-1);

async function chat(model) {
  const { data, response } = await oai.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  return { data, h: response.headers, rec: last() };
}

test('openai/*: the matched part goes upstream, on the pattern deployment', async () => {
  for (const m of ['gpt-4o-mini', 'gpt-4.1', 'o3-mini']) {
    const { data, h, rec } = await chat(`openai/${m}`);
    assert.equal(rec.path, '/oa/v1/chat/completions');
    assert.equal(rec.json.model, m);
    assert.equal(rec.headers.authorization, 'Bearer up-key');
    assert.equal(data.choices[0].message.content, `openai-format ${m}`);
    assert.equal(h.get('x-sluice-model-group'), 'openai/*');
    assert.equal(h.get('x-sluice-upstream-model'), m);
  }
  // the access log's attempt names the model sent upstream
  const { h } = await chat('openai/gpt-4o-mini');
  const line = await accessLineOf(sluice, { headers: { 'x-request-id': h.get('x-request-id') } });
  assert.equal(line.attempts[0].model, 'gpt-4o-mini');
  assert.equal(line.model_group, 'openai/*');
});

test('an exact group wins over a pattern that also matches', async () => {
  const { h, rec } = await chat('openai/gpt-4o');
  assert.equal(rec.path, '/exact/v1/chat/completions');
  assert.equal(rec.json.model, 'exact-upstream');
  assert.equal(h.get('x-sluice-model-group'), 'openai/gpt-4o');
  assert.equal(h.get('x-sluice-upstream-model'), null);
});

test('anthropic/*: the Anthropic client, and the OpenAI client translated', async () => {
  const { data, response } = await anth.messages
    .create({ model: 'anthropic/claude-3-5-haiku-20241022', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  let rec = last();
  assert.equal(rec.path, '/an/v1/messages');
  assert.equal(rec.json.model, 'claude-3-5-haiku-20241022');
  assert.equal(rec.headers['x-api-key'], 'up-key');
  assert.equal(data.content[0].text, 'anthropic claude-3-5-haiku-20241022');
  assert.equal(response.headers.get('x-sluice-model-group'), 'anthropic/*');
  const r = await chat('anthropic/claude-sonnet-4-20250514');
  rec = r.rec;
  assert.equal(rec.path, '/an/v1/messages');
  assert.equal(rec.json.model, 'claude-sonnet-4-20250514');
  assert.equal(r.data.choices[0].message.content, 'anthropic claude-sonnet-4-20250514');
});

test('a bare *: the provider inferred from the name', async () => {
  const cases = [
    ['claude-3-5-haiku-20241022', '/any/v1/messages', 'claude-3-5-haiku-20241022', '*@anthropic'],
    ['gemini-2.5-flash', '/any/chat/completions', 'gemini-2.5-flash', '*@gemini'],
    ['gemini/gemini-2.0-flash', '/any/chat/completions', 'gemini-2.0-flash', '*@gemini'],
    ['groq/llama-3.1-8b-instant', '/any/chat/completions', 'llama-3.1-8b-instant', '*@groq'],
    ['my-local-model', '/any/chat/completions', 'my-local-model', '*'],
  ];
  for (const [asked, path, upstream, group] of cases) {
    const { h, rec } = await chat(asked);
    assert.equal(rec.path, path, asked);
    assert.equal(rec.json.model, upstream, asked);
    assert.equal(h.get('x-sluice-model-group'), group, asked);
  }
  // the Anthropic client asking for an OpenAI model through the bare *: translated to OpenAI
  const msg = await anth.messages.create({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(last().path, '/any/chat/completions');
  assert.equal(last().json.model, 'gpt-4o-mini');
  assert.equal(msg.content[0].text, 'openai-format gpt-4o-mini');
});

test('an unmatched name: model_not_found in each client\'s format', async () => {
  const o = new OpenAI({ apiKey: 'none', baseURL: `${narrow.url}/v1`, maxRetries: 0 });
  const a = new Anthropic({ apiKey: 'none', baseURL: narrow.url, maxRetries: 0 });
  const before = fake.requests.length;
  await assert.rejects(o.chat.completions.create({ model: 'mistral-large', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 400 && e.code === 'model_not_found' && /mistral-large/.test(e.message));
  await assert.rejects(a.messages.create({ model: 'claude-3-haiku', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.APIError && e.status === 400 && e.error?.type === 'error' &&
      typeof e.error?.error?.type === 'string' && /claude-3-haiku/.test(e.error.error.message));
  // a name with characters no model has matches no pattern, even the bare *
  await assert.rejects(oai.chat.completions.create({ model: 'a b', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e.status === 400 && e.code === 'model_not_found');
  assert.equal(fake.requests.length, before, 'nothing went upstream');
  // and a pattern that matches serves on the narrow one
  const r = await o.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, 'openai-format gpt-4o');
});

test('/v1/models: the concrete groups, then each pattern once', async () => {
  const r = await request(`${sluice.url}/v1/models`);
  assert.equal(r.status, 200);
  const ids = r.json().data.map((m) => m.id);
  assert.deepEqual(ids, ['openai/gpt-4o', 'openai/*', 'anthropic/*', '*']);
  const one = await request(`${sluice.url}/v1/models/openai%2Fgpt-4.1`);
  assert.equal(one.status, 200);
  assert.equal(one.json().id, 'openai/gpt-4.1');
  const none = await request(`${narrow.url}/v1/models/mistral-large`);
  assert.equal(none.status, 404);
});

test('x-sluice-cost: the requested model\'s price', async () => {
  // 1000 prompt + 1000 completion tokens: gpt-4o-mini 0.15 + 0.60 per M, gpt-4.1 2 + 8 per M
  assert.equal((await chat('openai/gpt-4o-mini')).h.get('x-sluice-cost'), '0.000750');
  assert.equal((await chat('openai/gpt-4.1')).h.get('x-sluice-cost'), '0.010000');
  assert.equal((await chat('claude-3-5-haiku-20241022')).h.get('x-sluice-cost'), '0.004800'); // 0.80 + 4.00 per M
  assert.equal((await chat('openai/no-such-model-xyz')).h.get('x-sluice-cost'), '0.000000');
});

test('gemini: array-shaped errors in each client\'s format; streams ask for usage', async () => {
  const o = new OpenAI({ apiKey: 'none', baseURL: `${gsluice.url}/v1`, maxRetries: 0 });
  const a = new Anthropic({ apiKey: 'none', baseURL: gsluice.url, maxRetries: 0 });
  // what the mock sends, so the test fails if it stops sending the array shape
  const direct = await request(`${gmock.bad.url}/v1/chat/completions`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
  assert.equal(direct.status, 429);
  assert.ok(Array.isArray(direct.json()) && direct.json()[0].error.status === 'RESOURCE_EXHAUSTED', direct.text);
  const r = await request(`${gsluice.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] }) });
  assert.equal(r.status, 429);
  const body = r.json();
  assert.ok(!Array.isArray(body) && typeof body.error?.message === 'string' && body.error.message.length > 0, r.text);
  assert.equal(body.error.type, 'rate_limit_error');
  await assert.rejects(o.chat.completions.create({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.message.includes(direct.json()[0].error.message));
  await assert.rejects(a.messages.create({ model: 'gemini/gemini-2.5-pro', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.RateLimitError && e.error?.type === 'error' && e.error?.error?.type === 'rate_limit_error' &&
      e.error.error.message === direct.json()[0].error.message);
  // a stream without include_usage: sluice asks upstream, and strips the usage it asked for
  const stream = await o.chat.completions.create({ model: 'ok/gemini-2.0-flash', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  let usageSeen = false;
  for await (const ch of stream) {
    text += ch.choices[0]?.delta?.content ?? '';
    if (ch.usage) usageSeen = true;
  }
  assert.ok(text.length > 0);
  assert.equal(usageSeen, false);
  const rec = findRecorded(await gmock.good.stats(), (b) => b?.model === 'gemini-2.0-flash' && b?.stream === true);
  assert.ok(rec, 'the mock saw the stream with the upstream model');
  assert.equal(rec.json.stream_options?.include_usage, true);
});

test('the response cache keeps the models a pattern serves apart', async () => {
  const o = new OpenAI({ apiKey: 'none', baseURL: `${narrow.url}/v1`, maxRetries: 0 });
  const ask = async (model) => {
    const { data, response } = await o.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'the same question' }] }).withResponse();
    return { text: data.choices[0].message.content, cache: response.headers.get('x-sluice-cache') };
  };
  const n0 = fake.requests.length;
  assert.deepEqual(await ask('openai/gpt-4o-mini'), { text: 'openai-format gpt-4o-mini', cache: 'miss' });
  assert.deepEqual(await ask('openai/gpt-4.1'), { text: 'openai-format gpt-4.1', cache: 'miss' });
  assert.deepEqual(await ask('openai/gpt-4o-mini'), { text: 'openai-format gpt-4o-mini', cache: 'hit' });
  assert.equal(fake.requests.length, n0 + 2);
});
