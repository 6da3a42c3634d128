// Translation that keeps meaning (issue #14): structured output and reasoning across the
// OpenAI <-> Anthropic boundary, and the provider's back-off advice on 429/503 in every
// client format. The `openai` SDK's chat.completions.parse (json_schema) and a streamed
// json_object against an Anthropic deployment (the forced json_response tool's input
// comes back as the message content); reasoning_effort -> thinking (budget table);
// @anthropic-ai/sdk with thinking and output_config against an OpenAI-format deployment
// (reasoning_effort, response_format), and an output_config member with no equivalent
// refused by name; Retry-After / retry-after-ms passed through on 429 and 503 to OpenAI,
// Anthropic and Responses clients. Asserted on what the SDKs return and on what the
// upstreams received.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, cleanup, post, findRecorded, nonce, toYaml, HOST } from './lib.mjs';
import { startScriptedUpstream } from './providers_lib.mjs';
import { MASTER, MASTER_AUTH } from './keys_lib.mjs';

let mock;
let fake;
let sluice;
let oai;
let anth;

before(async () => {
  mock = await startMock(['--seed', '3']);
  // a provider that is out of capacity: 429 or 503 with its back-off advice, in its own format
  fake = await startScriptedUpstream((rec) => {
    const status = rec.path.includes('/busy503') ? 503 : 429;
    const headers = { 'retry-after': '7', 'retry-after-ms': '7000' };
    if (rec.path.includes('/anth')) {
      return { status, headers, body: { type: 'error', error: { type: status === 429 ? 'rate_limit_error' : 'overloaded_error', message: 'slow down (fake)' } } };
    }
    return { status, headers, body: { error: { message: 'slow down (fake)', type: 'rate_limit_error', code: 'rate_limit_exceeded' } } };
  });
  const base = `http://${HOST}:${mock.port}`;
  const dep = (name, model, api_base, extra = {}) => ({ model_name: name, litellm_params: { model, api_base, api_key: 'sk-mock', ...extra } });
  sluice = await startSluice({
    yaml: toYaml({
      model_list: [
        dep('claude', 'anthropic/claude-mock', base),
        dep('gpt', 'openai/gpt-mock', `${base}/v1`),
        dep('busy-oai', 'openai/gpt-busy', `${fake.url}/oai/v1`, { max_retries: 0 }),
        dep('busy-anth', 'anthropic/claude-busy', `${fake.url}/anth`, { max_retries: 0 }),
        dep('busy503-oai', 'openai/gpt-busy', `${fake.url}/oai/busy503/v1`, { max_retries: 0 }),
        dep('busy503-anth', 'anthropic/claude-busy', `${fake.url}/anth/busy503`, { max_retries: 0 }),
      ],
      general_settings: { master_key: MASTER },
      router_settings: { num_retries: 0 },
    }),
  });
  oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  anth = new Anthropic({ apiKey: MASTER, baseURL: sluice.url, maxRetries: 0 });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  if (mock) await mock.stop();
  if (fake) await fake.close();
  await cleanup();
});

async function received(m) {
  const rec = findRecorded(await mock.stats(), (b, r) => typeof r.body === 'string' && r.body.includes(m));
  assert.ok(rec, `the mock received the request marked ${m}`);
  return rec;
}

const CITY = {
  type: 'json_schema',
  json_schema: {
    name: 'city',
    strict: true,
    schema: {
      type: 'object',
      properties: { name: { type: 'string' }, population: { type: 'integer' } },
      required: ['name', 'population'],
      additionalProperties: false,
    },
  },
};

test('chat.completions.parse against Claude: json_schema as a forced tool, the JSON as content', async () => {
  const m = nonce('parse');
  const r = await oai.chat.completions.parse({
    model: 'claude',
    messages: [{ role: 'user', content: `A city ${m}` }],
    response_format: CITY,
  });
  const msg = r.choices[0].message;
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(typeof msg.parsed.name, 'string');
  assert.equal(typeof msg.parsed.population, 'number');
  assert.equal(msg.tool_calls?.length ?? 0, 0, 'no tool call shown to the client');
  const rec = await received(m);
  const t = rec.json.tools.find((x) => x.name === 'json_response');
  assert.deepEqual(t.input_schema, CITY.json_schema.schema);
  assert.equal(rec.json.tool_choice.type, 'tool');
  assert.equal(rec.json.tool_choice.name, 'json_response');
});

test('a streamed json_object answer from Claude arrives as content deltas', async () => {
  const m = nonce('jsonobj');
  const stream = await oai.chat.completions.create({
    model: 'claude',
    stream: true,
    messages: [{ role: 'user', content: `Some JSON ${m}` }],
    response_format: { type: 'json_object' },
  });
  let text = '';
  let finish;
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    assert.equal(c.choices[0]?.delta?.tool_calls, undefined, 'no tool-call deltas');
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(typeof JSON.parse(text), 'object');
  assert.equal(finish, 'stop');
});

test('reasoning_effort becomes Anthropic thinking with the documented budget', async () => {
  for (const [effort, budget] of [['low', 1024], ['medium', 2048], ['high', 4096]]) {
    const m = nonce(`effort-${effort}`);
    const r = await oai.chat.completions.create({
      model: 'claude', reasoning_effort: effort, max_tokens: 512, temperature: 0.2,
      messages: [{ role: 'user', content: `Think ${m}` }],
    });
    assert.ok(r.choices[0].message.content.length > 0);
    const rec = await received(m);
    assert.deepEqual(rec.json.thinking, { type: 'enabled', budget_tokens: budget });
    assert.ok(rec.json.max_tokens > budget, 'max_tokens above the budget');
    assert.equal(rec.json.temperature, undefined, 'temperature not sent with thinking');
  }
});

test('Anthropic thinking and output_config to an OpenAI-format deployment', async () => {
  const m = nonce('think');
  const r = await anth.messages.create({
    model: 'gpt', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 5000 },
    messages: [{ role: 'user', content: `Think ${m}` }],
  });
  assert.equal(r.type, 'message');
  assert.equal((await received(m)).json.reasoning_effort, 'high');
  const m2 = nonce('outcfg');
  const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
  const r2 = await anth.messages.create({
    model: 'gpt', max_tokens: 100, output_config: { effort: 'low', format: { type: 'json_schema', schema } },
    messages: [{ role: 'user', content: `JSON ${m2}` }],
  });
  assert.equal(typeof JSON.parse(r2.content.find((b) => b.type === 'text').text).ok, 'boolean');
  const rec = await received(m2);
  assert.equal(rec.json.reasoning_effort, 'low');
  assert.equal(rec.json.response_format.type, 'json_schema');
  assert.deepEqual(rec.json.response_format.json_schema.schema, schema);
});

test('an output_config member with no OpenAI equivalent is a 400 that names it', async () => {
  await assert.rejects(anth.messages.create({
    model: 'gpt', max_tokens: 100, output_config: { task_budget: 5 }, messages: [{ role: 'user', content: 'x' }],
  }), (e) => e.status === 400 && /output_config\.task_budget/.test(e.message));
});

for (const status of [429, 503]) {
  const sfx = status === 503 ? 'busy503' : 'busy';
  test(`Retry-After and retry-after-ms on ${status}, to OpenAI, Anthropic and Responses clients, across formats`, async () => {
    const cases = [
      ['/v1/chat/completions', `${sfx}-anth`, { messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/chat/completions', `${sfx}-oai`, { messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/messages', `${sfx}-oai`, { max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/messages', `${sfx}-anth`, { max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }],
      ['/v1/responses', `${sfx}-anth`, { input: 'x' }],
      ['/v1/responses', `${sfx}-oai`, { input: 'x' }],
    ];
    for (const [path, model, body] of cases) {
      const r = await post(`${sluice.url}${path}`, { model, ...body }, MASTER_AUTH);
      assert.equal(r.status, status, `${path} ${model}: ${r.text}`);
      assert.equal(r.headers['retry-after'], '7', `${path} ${model} Retry-After`);
      assert.equal(r.headers['retry-after-ms'], '7000', `${path} ${model} retry-after-ms`);
      if (path === '/v1/messages') assert.equal(r.json().type, 'error', r.text);
      else assert.match(r.json().error.message, /slow down/, r.text);
    }
  });
}
