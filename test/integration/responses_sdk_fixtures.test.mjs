// Compatibility of the Responses API translators' output (net/wire/xlate_resp_*.c) with
// the official clients, without sluice: the golden outputs in test/fixtures/xlate_resp
// (the unit test test_xlate_resp_out checks that the translators write exactly them) are
// served by a tiny local HTTP server to the `openai` npm client (responses.stream,
// responses.create) and to the Vercel AI SDK's OpenAI Responses provider (streamText,
// generateText), which validate every event with their zod schemas. Each SDK must
// assemble the same text, tool calls, finish and usage, and raise on the failed streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { streamText, generateText, jsonSchema, tool } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

const FX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'xlate_resp');
let server;
let served = null; // [file, content-type]
let base;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': served[1] });
      res.end(fs.readFileSync(path.join(FX, served[0])));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}/v1`;
});

after(() => server.close());

const tools = {
  get_weather: tool({ description: 'w', inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } } }) }),
};

async function aiStream(file) {
  served = [file, 'text/event-stream'];
  const errors = [];
  const r = streamText({ model: createOpenAI({ baseURL: base, apiKey: 'x' }).responses('m'), prompt: 'hi', tools, maxRetries: 0,
    onError: () => {} });
  let text = '';
  for await (const p of r.fullStream) {
    if (p.type === 'text-delta') text += p.text;
    if (p.type === 'error') errors.push(p.error);
  }
  if (errors.length) return { errors };
  return { text, reasoning: await r.reasoningText, calls: (await r.toolCalls).map((c) => [c.toolName, c.input]),
    finish: await r.finishReason, usage: await r.usage, errors };
}

async function nodeStream(file) {
  served = [file, 'text/event-stream'];
  const client = new OpenAI({ baseURL: base, apiKey: 'x' });
  const st = client.responses.stream({ model: 'm', input: 'hi' });
  const types = [];
  for await (const ev of st) types.push(ev.type);
  return { types, final: await st.finalResponse() };
}

const ok = [
  { f: 'stream_oai_text', text: 'Why did the chicken cross?', finish: 'stop', input: 20, cached: 8, output: 9 },
  { f: 'stream_oai_tools', text: '', finish: 'tool-calls', input: 50, output: 30,
    calls: [['get_weather', { city: 'Paris' }], ['get_weather', { city: 'Rome' }]] },
  { f: 'stream_oai_reasoning', text: '42', reasoning: 'Let me think.', finish: 'stop', input: 3, output: 4 },
  { f: 'stream_anth_text_tool', text: 'Checking the weather.', finish: 'tool-calls', input: 112, cached: 100,
    output: 40, calls: [['get_weather', { city: 'Paris' }]] },
  { f: 'stream_oai_length', text: 'Once upon', finish: 'length', status: 'incomplete' },
];

for (const c of ok) {
  test(`AI SDK streamText assembles ${c.f}`, async () => {
    const r = await aiStream(`${c.f}.out.txt`);
    assert.deepEqual(r.errors, []);
    assert.equal(r.text, c.text);
    assert.equal(r.finish, c.finish);
    if (c.reasoning) assert.equal(r.reasoning, c.reasoning);
    assert.deepEqual(r.calls, c.calls || []);
    if (c.input !== undefined) {
      assert.equal(r.usage.inputTokens, c.input);
      assert.equal(r.usage.outputTokens, c.output);
      assert.equal(r.usage.inputTokenDetails.cacheReadTokens, c.cached || 0);
    }
  });
  test(`openai responses.stream assembles ${c.f}`, async () => {
    const { types, final } = await nodeStream(`${c.f}.out.txt`);
    assert.equal(types[0], 'response.created');
    assert.equal(final.status, c.status || 'completed');
    assert.equal(final.output_text, c.text);
    if (c.input !== undefined) assert.equal(final.usage.input_tokens, c.input);
    const calls = final.output.filter((o) => o.type === 'function_call').map((o) => [o.name, JSON.parse(o.arguments)]);
    assert.deepEqual(calls, c.calls || []);
  });
}

for (const [f, message] of [['stream_oai_error', 'The server had an error'], ['stream_anth_overloaded', 'Overloaded']]) {
  test(`both SDKs raise on ${f}`, async () => {
    await assert.rejects(nodeStream(`${f}.out.txt`), (e) => e instanceof OpenAI.APIError && e.message.includes(message));
    let raised;
    try {
      const r = await aiStream(`${f}.out.txt`);
      raised = r.errors[0];
    } catch (e) {
      raised = e;
    }
    assert.ok(raised, 'AI SDK raised');
    assert.match(String(raised.message || raised), new RegExp(message));
  });
}

test('a replayed native response streams in both SDKs', async () => {
  const { final } = await nodeStream('replay_native.out.json');
  assert.equal(final.output_text, "Today's news...");
  const r = await aiStream('replay_native.out.json');
  assert.equal(r.text, "Today's news...");
  assert.equal(r.usage.inputTokens, 328);
});

for (const [f, text, finish, calls] of [
  ['resp_text', 'Why did the chicken cross the road?', 'stop', []],
  ['resp_tools_reasoning', '', 'tool-calls', [['get_weather', { city: 'Paris' }], ['get_weather', { city: 'Rome' }]]],
  ['resp_length', 'Once upon a', 'length', []],
]) {
  test(`whole response ${f} in both SDKs`, async () => {
    served = [`${f}.out.json`, 'application/json'];
    const r = await generateText({ model: createOpenAI({ baseURL: base, apiKey: 'x' }).responses('m'), prompt: 'hi', tools });
    assert.equal(r.text, text);
    assert.equal(r.finishReason, finish);
    assert.deepEqual(r.toolCalls.map((c) => [c.toolName, c.input]), calls);
    const o = await new OpenAI({ baseURL: base, apiKey: 'x' }).responses.create({ model: 'm', input: 'hi' });
    assert.equal(o.output_text, text);
  });
}
