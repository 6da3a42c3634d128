// sluice-mock as a provider for the official SDKs, called directly (no sluice): tool calls
// and structured output on chat completions, the Responses API (whole and streamed, with
// function calls), Anthropic tool_use, thinking and count_tokens, and the other endpoints
// (moderations, rerank, images, speech, transcriptions over multipart/form-data). The SDKs'
// own parsers (openai 6, @anthropic-ai/sdk, ai 6 + @ai-sdk/openai 3 with their zod schemas)
// are the judges of the shapes; fault injection through the "mock" override reaches the new
// endpoints too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { generateText, streamText, tool, stepCountIs, Output } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { z } from 'zod';
import { startMock, post, request, cleanup } from './lib.mjs';

let mock;
let oai;
let anth;
let aisdk;

before(async () => {
  mock = await startMock(['--seed', '3', '--tokens', '6', '--ttft-ms', '0', '--itl-ms', '0',
    '--latency-ms', '0', '--models', 'mock-model']);
  oai = new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  anth = new Anthropic({ apiKey: 'sk-mock', baseURL: mock.url, maxRetries: 0 });
  aisdk = createOpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1` });
});

after(async () => {
  if (mock) assert.equal(await mock.stop(), 0);
  await cleanup();
});

const weatherParams = {
  type: 'object',
  properties: {
    city: { type: 'string' },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    days: { type: 'integer', minimum: 3 },
    where: { $ref: '#/$defs/Point' },
    note: { anyOf: [{ type: 'null' }, { type: 'string', format: 'date' }] },
    tags: { type: 'array', items: { type: 'boolean' } },
  },
  required: ['city'],
  $defs: { Point: { type: 'object', properties: { lat: { type: 'number', minimum: 10.5 } } } },
};
const weatherValue = { city: 'text', unit: 'celsius', days: 3, where: { lat: 10.5 }, note: '2026-01-01', tags: [true] };
const chatTools = [
  { type: 'function', function: { name: 'get_weather', parameters: weatherParams } },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } },
];

// ------------------------------------------------------------------ chat completions

test('chat: tools -> a tool call to the first tool with schema-valued arguments', async () => {
  const r = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools: chatTools });
  const ch = r.choices[0];
  assert.equal(ch.finish_reason, 'tool_calls');
  assert.equal(ch.message.content, null);
  assert.equal(ch.message.tool_calls.length, 1);
  const tc = ch.message.tool_calls[0];
  assert.match(tc.id, /^call_/);
  assert.equal(tc.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc.function.arguments), weatherValue);
});

test('chat: tool_choice names the tool; "none" and a last tool message give text', async () => {
  const named = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: chatTools,
    tool_choice: { type: 'function', function: { name: 'get_time' } } });
  assert.equal(named.choices[0].message.tool_calls[0].function.name, 'get_time');
  assert.deepEqual(JSON.parse(named.choices[0].message.tool_calls[0].function.arguments), { tz: 'text' });
  const none = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: chatTools, tool_choice: 'none' });
  assert.equal(none.choices[0].finish_reason, 'stop');
  assert.equal(none.choices[0].message.content.split(' ').length, 6);
  const after = await oai.chat.completions.create({ model: 'm', tools: chatTools, messages: [
    { role: 'user', content: 'x' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' }] });
  assert.equal(after.choices[0].finish_reason, 'stop');
  assert.equal(typeof after.choices[0].message.content, 'string');
  assert.equal(after.choices[0].message.tool_calls, undefined);
});

test('chat: a streamed tool call is id+name first, then the arguments in pieces', async () => {
  const stream = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools: chatTools, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const deltas = chunks.map((c) => c.choices[0]?.delta?.tool_calls?.[0]).filter(Boolean);
  assert.equal(deltas[0].id, chunks[0].choices[0].delta.tool_calls[0].id);
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.equal(deltas[0].function.arguments, '');
  const pieces = deltas.slice(1).map((d) => d.function.arguments);
  assert.ok(pieces.length >= 2, `pieces: ${pieces}`);
  assert.ok(deltas.slice(1).every((d) => d.id === undefined && d.function.name === undefined));
  assert.deepEqual(JSON.parse(pieces.join('')), weatherValue);
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
});

test('chat: response_format json_schema and json_object give JSON content', async () => {
  const js = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'w', schema: weatherParams } } });
  assert.deepEqual(JSON.parse(js.choices[0].message.content), weatherValue);
  const jo = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
  assert.deepEqual(JSON.parse(jo.choices[0].message.content), { result: 'text' });
  const st = await oai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'w', schema: weatherParams } } });
  let text = '';
  let n = 0;
  for await (const c of st) { const d = c.choices[0]?.delta?.content; if (d) { text += d; n++; } }
  assert.ok(n >= 2);
  assert.deepEqual(JSON.parse(text), weatherValue);
});

test('AI SDK chat model: a tool round trip (call, execute, answer) and streamText', async () => {
  const calls = [];
  const tools = { get_weather: tool({ description: 'weather', inputSchema: z.object({ city: z.string(), days: z.number().int().min(3) }),
    execute: async (input) => { calls.push(input); return { temp: 20 }; } }) };
  const r = await generateText({ model: aisdk.chat('mock-model'), prompt: 'weather?', tools, stopWhen: stepCountIs(3) });
  assert.deepEqual(calls, [{ city: 'text', days: 3 }]);
  assert.equal(r.steps.length, 2);
  assert.equal(r.steps[0].finishReason, 'tool-calls');
  assert.equal(r.finishReason, 'stop');
  assert.ok(r.text.length > 0);
  const s = streamText({ model: aisdk.chat('mock-model'), prompt: 'weather?', tools, stopWhen: stepCountIs(3) });
  assert.ok((await s.text).length > 0);
  assert.equal((await s.steps).length, 2);
});

// ------------------------------------------------------------------ Responses API

test('responses: a whole response object, parsed by the openai SDK', async () => {
  const r = await oai.responses.create({ model: 'gpt-5', input: 'hello', instructions: 'be brief', temperature: 0.5 });
  assert.match(r.id, /^resp_mock_\d+$/);
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.model, 'gpt-5');
  assert.equal(r.instructions, 'be brief');
  assert.equal(r.temperature, 0.5);
  assert.equal(r.previous_response_id, null);
  assert.equal(r.output.length, 1);
  const msg = r.output[0];
  assert.equal(msg.type, 'message');
  assert.deepEqual(msg.content[0].annotations, []);
  assert.equal(r.output_text.split(' ').length, 6);
  assert.equal(r.usage.output_tokens, 6);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + 6);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 0);
  assert.equal(r.usage.output_tokens_details.reasoning_tokens, 0);
  const again = await post(`${mock.url}/responses`, JSON.stringify({ model: 'gpt-5', input: 'hello', previous_response_id: r.id }),
    { 'content-type': 'application/json' });
  assert.equal(again.status, 200);
  assert.equal(again.json().previous_response_id, r.id);
  assert.notEqual(again.json().id, r.id);
});

test('responses: the stream is the full event sequence with increasing sequence numbers', async () => {
  const stream = await oai.responses.create({ model: 'gpt-5', input: [{ role: 'user', content: 'hello' }], stream: true });
  const evs = [];
  for await (const e of stream) evs.push(e);
  const types = evs.map((e) => e.type);
  assert.deepEqual(types, ['response.created', 'response.in_progress', 'response.output_item.added',
    'response.content_part.added', ...Array(6).fill('response.output_text.delta'), 'response.output_text.done',
    'response.content_part.done', 'response.output_item.done', 'response.completed']);
  assert.deepEqual(evs.map((e) => e.sequence_number), evs.map((_, i) => i));
  const text = evs.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
  assert.equal(evs.find((e) => e.type === 'response.output_text.done').text, text);
  const done = evs.at(-1).response;
  assert.equal(done.status, 'completed');
  assert.equal(done.output[0].content[0].text, text);
  assert.equal(done.usage.output_tokens, 6);
});

test('responses: function calls (whole and streamed), tool results, text.format json_schema', async () => {
  const tools = [{ type: 'function', name: 'get_weather', parameters: weatherParams, strict: false }];
  const r = await oai.responses.create({ model: 'gpt-5', input: 'weather?', tools });
  const fc = r.output[0];
  assert.equal(fc.type, 'function_call');
  assert.match(fc.id, /^fc_/);
  assert.match(fc.call_id, /^call_/);
  assert.equal(fc.name, 'get_weather');
  assert.equal(fc.status, 'completed');
  assert.deepEqual(JSON.parse(fc.arguments), weatherValue);
  assert.deepEqual(r.tools, tools);

  const st = await oai.responses.create({ model: 'gpt-5', input: 'weather?', tools, stream: true });
  const evs = [];
  for await (const e of st) evs.push(e);
  const deltas = evs.filter((e) => e.type === 'response.function_call_arguments.delta');
  assert.ok(deltas.length >= 2);
  assert.equal(evs.find((e) => e.type === 'response.function_call_arguments.done').arguments, deltas.map((d) => d.delta).join(''));
  assert.equal(evs.find((e) => e.type === 'response.output_item.added').item.type, 'function_call');

  const next = await oai.responses.create({ model: 'gpt-5', tools, input: [
    { role: 'user', content: 'weather?' },
    { type: 'function_call', call_id: fc.call_id, name: fc.name, arguments: fc.arguments },
    { type: 'function_call_output', call_id: fc.call_id, output: 'sunny' }] });
  assert.equal(next.output[0].type, 'message');

  const js = await oai.responses.create({ model: 'gpt-5', input: 'x',
    text: { format: { type: 'json_schema', name: 'w', schema: weatherParams, strict: false } } });
  assert.deepEqual(JSON.parse(js.output_text), weatherValue);
});

test('SDK stream helpers assemble the mock\'s events: responses.stream, chat.completions.stream', async () => {
  const rs = oai.responses.stream({ model: 'gpt-5', input: 'hello', tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: { a: { type: 'integer' } } }, strict: false }] });
  const fin = await rs.finalResponse();
  assert.equal(fin.output[0].type, 'function_call');
  assert.equal(fin.output[0].arguments, '{"a":1}');
  const ts = oai.responses.stream({ model: 'gpt-5', input: 'hello' });
  const tfin = await ts.finalResponse();
  assert.equal(tfin.output_text.split(' ').length, 6);
  const cs = oai.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: chatTools });
  const cfin = await cs.finalChatCompletion();
  assert.equal(cfin.choices[0].message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(cfin.choices[0].message.tool_calls[0].function.arguments), weatherValue);
});

test('responses: max_output_tokens cuts the answer: status incomplete', async () => {
  const r = await post(`${mock.url}/v1/responses`, JSON.stringify({ model: 'gpt-5', input: 'x', max_output_tokens: 16, mock: { tokens: 20 } }),
    { 'content-type': 'application/json' });
  const b = r.json();
  assert.equal(b.status, 'incomplete');
  assert.deepEqual(b.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(b.usage.output_tokens, 16);
});

test('AI SDK responses model: tool round trip, streamText and structured output', async () => {
  const calls = [];
  const tools = { get_weather: tool({ description: 'weather', inputSchema: z.object({ city: z.string() }),
    execute: async (input) => { calls.push(input); return 'sunny'; } }) };
  const r = await generateText({ model: aisdk.responses('gpt-5'), prompt: 'weather?', tools, stopWhen: stepCountIs(3) });
  assert.deepEqual(calls, [{ city: 'text' }]);
  assert.equal(r.steps.length, 2);
  assert.ok(r.text.length > 0);
  assert.equal(r.usage.outputTokens, 6);
  const s = streamText({ model: aisdk.responses('gpt-5'), prompt: 'hello' });
  assert.equal((await s.text).split(' ').length, 6);
  assert.equal((await s.finishReason), 'stop');
  const o = await generateText({ model: aisdk.responses('gpt-5'), prompt: 'x',
    output: Output.object({ schema: z.object({ name: z.string(), n: z.number().int().min(2), ok: z.boolean() }) }) });
  assert.deepEqual(o.output, { name: 'text', n: 2, ok: true });
});

test('faults apply to the new endpoints: a 429 with Retry-After, a reset', async () => {
  await assert.rejects(oai.responses.create({ model: 'gpt-5', input: 'x', mock: { fault: '429', retry_after: 2 } }),
    (e) => e.status === 429 && e.headers.get('retry-after') === '2');
  await assert.rejects(oai.moderations.create({ input: 'x', mock: { status: 503 } }), (e) => e.status === 503);
  await assert.rejects(oai.responses.create({ model: 'gpt-5', input: 'x', stream: true, mock: { fault: 'reset-before' } }));
});

// ------------------------------------------------------------------ Anthropic

const anthTools = [{ name: 'get_weather', description: 'weather', input_schema: weatherParams }];

test('anthropic: tool_use, thinking first, and text after a tool_result', async () => {
  const m = await anth.messages.create({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'weather?' }],
    tools: anthTools, thinking: { type: 'enabled', budget_tokens: 1024 } });
  assert.equal(m.stop_reason, 'tool_use');
  assert.equal(m.content[0].type, 'thinking');
  assert.equal(m.content[0].signature, 'sig-mock');
  assert.equal(m.content[1].type, 'tool_use');
  assert.match(m.content[1].id, /^toolu_/);
  assert.deepEqual(m.content[1].input, weatherValue);
  const after = await anth.messages.create({ model: 'claude', max_tokens: 100, tools: anthTools, messages: [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: m.content[1].id, name: 'get_weather', input: {} }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: m.content[1].id, content: 'sunny' }] }] });
  assert.equal(after.stop_reason, 'end_turn');
  assert.equal(after.content[0].type, 'text');
  const forced = await anth.messages.create({ model: 'claude', max_tokens: 100, tools: anthTools, tool_choice: { type: 'any' },
    messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }] }] });
  assert.equal(forced.stop_reason, 'tool_use');
});

test('anthropic: the streamed tool_use and thinking blocks assemble in the SDK', async () => {
  const s = anth.messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'weather?' }],
    tools: anthTools, thinking: { type: 'enabled', budget_tokens: 1024 } });
  let jsonDeltas = 0;
  s.on('inputJson', () => { jsonDeltas++; });
  const m = await s.finalMessage();
  assert.ok(jsonDeltas >= 2);
  assert.equal(m.content[0].thinking, 'The mock considers the request.');
  assert.equal(m.content[0].signature, 'sig-mock');
  assert.deepEqual(m.content[1].input, weatherValue);
  assert.equal(m.stop_reason, 'tool_use');
});

test('anthropic: count_tokens is ceil(bytes of the JSON of system+messages+tools / 4), recorded', async () => {
  const body = { model: 'claude', system: 'sys', messages: [{ role: 'user', content: 'hello there' }], tools: anthTools };
  const r = await anth.messages.countTokens(body);
  const bytes = ['system', 'messages', 'tools'].reduce((n, k) => n + Buffer.byteLength(JSON.stringify(body[k])), 0);
  assert.equal(r.input_tokens, Math.ceil(bytes / 4));
  const st = await mock.stats();
  assert.ok(st.last.some((e) => e.path === '/v1/messages/count_tokens' && JSON.parse(e.body).system === 'sys'));
});

// ------------------------------------------------------------------ other endpoints

test('moderations: one result per input string', async () => {
  const r = await oai.moderations.create({ input: ['a', 'b', 'c'] });
  assert.equal(r.results.length, 3);
  assert.equal(r.model, 'omni-moderation-latest');
  assert.equal(r.results[0].flagged, false);
  assert.equal(r.results[0].categories.violence, false);
  assert.equal(typeof r.results[0].category_scores.hate, 'number');
});

test('rerank: documents ranked by a deterministic score, top_n honoured', async () => {
  const body = { model: 'rr', query: 'q', documents: ['a', { text: 'b' }, 'c', 'd'], top_n: 3, return_documents: true };
  const r1 = (await post(`${mock.url}/v1/rerank`, JSON.stringify(body), { 'content-type': 'application/json' })).json();
  const r2 = (await post(`${mock.url}/rerank`, JSON.stringify(body), { 'content-type': 'application/json' })).json();
  assert.equal(r1.results.length, 3);
  assert.deepEqual(r1.results, r2.results);
  for (let i = 1; i < 3; i++) assert.ok(r1.results[i - 1].relevance_score >= r1.results[i].relevance_score);
  assert.equal(r1.results[0].document.text, ['a', 'b', 'c', 'd'][r1.results[0].index]);
  assert.ok(r1.usage.total_tokens >= 1);
  const bad = await post(`${mock.url}/v1/rerank`, JSON.stringify({ query: 'q' }), { 'content-type': 'application/json' });
  assert.equal(bad.status, 400);
});

test('images, speech: gpt-image-1 shape and 256 bytes of audio/mpeg', async () => {
  const img = await oai.images.generate({ model: 'gpt-image-1', prompt: 'a cat', n: 2 });
  assert.equal(img.data.length, 2);
  assert.equal(Buffer.from(img.data[0].b64_json, 'base64').subarray(1, 4).toString(), 'PNG');
  assert.equal(img.usage.output_tokens, 544);
  assert.equal(img.usage.total_tokens, img.usage.input_tokens + 544);
  assert.equal(img.usage.input_tokens_details.text_tokens, img.usage.input_tokens);
  const sp = await oai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hello' });
  assert.equal(sp.headers.get('content-type'), 'audio/mpeg');
  const bytes = Buffer.from(await sp.arrayBuffer());
  assert.equal(bytes.length, 256);
  const sp2 = Buffer.from(await (await oai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hello' })).arrayBuffer());
  assert.deepEqual(sp2, bytes);
});

test('transcriptions: multipart fields read, json and text answers, malformed -> 400, raw body recorded', async () => {
  const file = await toFile(Buffer.from('RIFF\r\n--not-a-boundary\r\n\0\x01'), 'a.wav', { type: 'audio/wav' });
  const r = await oai.audio.transcriptions.create({ model: 'gpt-4o-transcribe', file });
  assert.match(r.text, /^mock transcription of \d+ bytes$/);
  assert.equal(r.usage.type, 'tokens');
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  const t = await oai.audio.transcriptions.create({ model: 'whisper-1', file, response_format: 'text' });
  assert.match(t, /^mock transcription of \d+ bytes$/);
  const st = await mock.stats();
  const rec = st.last.findLast((e) => e.path === '/v1/audio/transcriptions');
  assert.match(rec.body, /name="response_format"\r\n\r\ntext\r\n/);

  const hdr = { 'content-type': 'multipart/form-data; boundary=XyZ' };
  const noClose = await post(`${mock.url}/v1/audio/transcriptions`, '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n', hdr);
  assert.equal(noClose.status, 400);
  assert.equal(noClose.json().error.type, 'invalid_request_error');
  const dup = await post(`${mock.url}/v1/audio/transcriptions`,
    '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\na\r\n--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nb\r\n--XyZ--\r\n', hdr);
  assert.equal(dup.status, 400);
  const notMultipart = await post(`${mock.url}/v1/audio/transcriptions`, '{}', { 'content-type': 'application/json' });
  assert.equal(notMultipart.status, 400);
  const faulted = await post(`${mock.url}/v1/audio/transcriptions`,
    '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nw\r\n--XyZ\r\nContent-Disposition: form-data; name="mock"\r\n\r\n{"status":500}\r\n--XyZ--\r\n', hdr);
  assert.equal(faulted.status, 500);
});

test('plain chat without tools is unchanged (words, finish stop)', async () => {
  const r = await request(`${mock.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
  const b = r.json();
  assert.deepEqual(Object.keys(b.choices[0].message), ['role', 'content']);
  assert.equal(b.choices[0].finish_reason, 'stop');
});
