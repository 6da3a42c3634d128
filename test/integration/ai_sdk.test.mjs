// The Vercel AI SDK (`ai` 6 with `@ai-sdk/openai` 3) through sluice, unchanged but for its
// base URL: its default OpenAI provider, `openai(model)`, speaks the Responses API, so
// every call here is a POST /v1/responses. generateText, streamText, generateObject and a
// tool loop (generateText with a tool and two steps), each against a native deployment
// (passed through), a chat-completions deployment and an Anthropic deployment (both
// translated), on one sluice-mock. Asserted: what the SDK returns (text, object, usage,
// tool calls) and what the mock received (the path and the translated shape).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, generateObject, tool, stepCountIs, jsonSchema } from 'ai';
import { startMock, startSluice, cleanup, findRecorded, nonce, toYaml, HOST } from './lib.mjs';

const MASTER = 'sk-ai-sdk-master-fake';
let mock;
let sluice;
let provider;

const KINDS = [
  { group: 'native', path: '/v1/responses' },
  { group: 'chat', path: '/v1/chat/completions' },
  { group: 'claude', path: '/v1/messages' },
];

before(async () => {
  mock = await startMock(['--seed', '11']);
  const base = `http://${HOST}:${mock.port}`;
  const dep = (name, model, api_base) => ({ model_name: name, litellm_params: { model, api_base, api_key: 'sk-mock' } });
  sluice = await startSluice({
    yaml: toYaml({
      model_list: [
        dep('native', 'openai/gpt-native', `${base}/v1`),
        dep('chat', 'hosted_vllm/chat-model', `${base}/v1`),
        dep('claude', 'anthropic/claude-mock', base),
      ],
      general_settings: { master_key: MASTER },
    }),
  });
  provider = createOpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1` });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  if (mock) await mock.stop();
  await cleanup();
});

async function received(m) {
  const rec = findRecorded(await mock.stats(), (b, r) => typeof r.body === 'string' && r.body.includes(m));
  assert.ok(rec, `the mock received the request marked ${m}`);
  return rec;
}

const PERSON = jsonSchema({
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'number' } },
  required: ['name', 'age'],
  additionalProperties: false,
});

for (const { group, path } of KINDS) {
  test(`${group}: generateText`, async () => {
    const m = nonce('gt');
    const r = await generateText({ model: provider(group), prompt: `Say hello ${m}`, maxRetries: 0 });
    assert.ok(r.text.length > 0);
    assert.equal(r.finishReason, 'stop');
    assert.ok(r.usage.inputTokens > 0 && r.usage.outputTokens > 0, JSON.stringify(r.usage));
    assert.equal((await received(m)).path, path);
  });

  test(`${group}: streamText`, async () => {
    const m = nonce('st');
    const r = streamText({ model: provider(group), prompt: `Stream ${m}`, maxRetries: 0, onError: () => {} });
    let text = '';
    for await (const t of r.textStream) text += t;
    assert.ok(text.length > 0);
    assert.equal(await r.text, text);
    const usage = await r.usage;
    assert.ok(usage.outputTokens > 0, JSON.stringify(usage));
    assert.equal(await r.finishReason, 'stop');
    const rec = await received(m);
    assert.equal(rec.path, path);
    assert.equal(rec.json.stream, true);
  });

  test(`${group}: generateObject`, async () => {
    const m = nonce('go');
    const r = await generateObject({ model: provider(group), schema: PERSON, prompt: `A person ${m}`, maxRetries: 0 });
    assert.equal(typeof r.object.name, 'string');
    assert.equal(typeof r.object.age, 'number');
    const rec = await received(m);
    if (group === 'claude') assert.ok(rec.json.tools.some((t) => t.name === 'json_response'));
    if (group === 'chat') assert.equal(rec.json.response_format.type, 'json_schema');
  });

  test(`${group}: tools over two steps`, async () => {
    const m = nonce('tl');
    const calls = [];
    const r = await generateText({
      model: provider(group),
      prompt: `What is the weather in Paris? ${m}`,
      maxRetries: 0,
      tools: {
        weather: tool({
          description: 'Current weather for a city',
          inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async ({ city }) => { calls.push(city); return { city, temp_c: 21 }; },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    assert.equal(calls.length, 1, 'the tool ran once');
    assert.equal(r.steps[0].toolCalls[0].toolName, 'weather');
    assert.ok(r.text.length > 0, 'a final text after the tool result');
    assert.ok(r.steps.length >= 2);
  });
}
