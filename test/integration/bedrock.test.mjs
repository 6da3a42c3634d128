// AWS Bedrock through sluice with the official SDKs as clients: sluice-mock plays Bedrock and
// checks every SigV4 signature (or the Bedrock API key) as AWS does; deployments
// bedrock/<anthropic model> (Converse / ConverseStream), bedrock/invoke/anthropic.* (the
// Anthropic body and its event-stream chunks), bedrock/amazon.titan-embed-text-v2:0 and
// bedrock/cohere.embed-english-v3 (embeddings). Credentials as LiteLLM users give them: aws_*
// keys in litellm_params, the AWS_* environment, a profile of AWS_SHARED_CREDENTIALS_FILE, a
// Bedrock API key (api_key, AWS_BEARER_TOKEN_BEDROCK). The `openai` client: chat plain,
// streaming (with and without include_usage), tools across turns, an image data URL, the
// Responses API, embeddings; `@anthropic-ai/sdk`: messages plain / stream / tools to both chat dialects.
// Failures: a wrong secret (the mock's 403 in the client's format, tried once), failover in
// one group between Bedrock and OpenAI deployments each failing in turn (5xx, throttling, a
// stream whose frame has a bad CRC), an exception frame mid-stream (an error event in the
// client's format). Each answer is also checked at the upstream: the SigV4 headers, recomputed
// with cloud_lib's independent signer, and the Converse body.
//
// The mock's per-request "mock" override does not survive the translation to Converse (unknown
// fields are dropped, as Bedrock would refuse them), so Converse faults come from the mock's
// CLI flags or from a node fake speaking hand-made event streams (cloud_lib.encodeEventStream).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, cleanup, sluiceConfig, mkTmpDir, HOST, post } from './lib.mjs';
import { sigv4Sign, encodeEventStream } from './cloud_lib.mjs';

const AK = 'AKIDEXAMPLE';
const SK = 'not-a-real-secret/TEST+ONLY+0000000000000'; // obviously fake
const REGION = 'us-east-1';
const API_KEY = 'bedrock-api-key-test-only';
const CLAUDE = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
const PRICE = { input_cost_per_token: 0.000003, output_cost_per_token: 0.000015 };
const FLAGS = ['--seed', '7', '--tokens', '6', '--ttft-ms', '0', '--itl-ms', '0', '--latency-ms', '0'];

let br;      // sluice-mock as Bedrock, SigV4 checked
let bk;      // sluice-mock as Bedrock, API key checked
let b500;    // Bedrock failing every call with 500
let b429;    // Bedrock throttling every call
let bcrc;    // Bedrock whose ConverseStream frames get a bad CRC
let bexc;    // Bedrock whose ConverseStream ends in a throttlingException frame
let o500;    // OpenAI failing every call with 500
let o429;    // OpenAI throttling every call
let oai;     // a healthy OpenAI mock
let fake;    // node fake Bedrock with hand-made event streams
let sluice;
let client;  // openai SDK -> sluice
let anth;    // @anthropic-ai/sdk -> sluice

// ------------------------------------------------------------------ the node fake

const frame = (type, payload, o) => encodeEventStream(
  { ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload, o);
const exceptionFrame = (type, message) => encodeEventStream(
  { ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, { message });

/** /model/<id>/converse-stream: "badcrc" models answer messageStart then a delta whose CRC is
 *  wrong; "midex" models answer some text, wait until the test releases them (the client saw
 *  the text), then send a throttlingException frame. Records each request. */
function startFake() {
  const f = { requests: [], release: null, gate: null };
  f.arm = () => { f.gate = new Promise((r) => { f.release = r; }); };
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      f.requests.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      if (req.url.includes('badcrc')) {
        res.end(Buffer.concat([frame('messageStart', { role: 'assistant' }),
          frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'garbage' } }, { badCrc: true }),
          frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' more' } })]));
        return;
      }
      if (req.url.endsWith('/invoke-with-response-stream')) { // Anthropic events in chunk frames
        const chunk = (ev) => frame('chunk', { bytes: Buffer.from(JSON.stringify(ev)).toString('base64') });
        res.write(Buffer.concat([
          chunk({ type: 'message_start', message: { id: 'msg_fake', type: 'message', role: 'assistant', model: 'anthropic.midex-v1',
            content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }),
          chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
          chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial' } })]));
      } else {
        res.write(Buffer.concat([frame('messageStart', { role: 'assistant' }),
          frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'partial' } })]));
      }
      await f.gate;
      res.end(exceptionFrame('throttlingException', 'Too many requests, please wait before trying again. (fake)'));
    });
  });
  return new Promise((resolve) => srv.listen(0, HOST, () => {
    f.port = srv.address().port;
    f.close = () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); });
    resolve(f);
  }));
}

// ------------------------------------------------------------------ setup

const aws = (mock, model, extra = {}) => ({
  model, api_base: mock.url ?? `http://${HOST}:${mock.port}`, api_key: null,
  aws_access_key_id: AK, aws_secret_access_key: SK, aws_region_name: REGION, model_info: PRICE, ...extra,
});
const openai = (mock, extra = {}) => ({ port: mock.port, model: 'openai/gpt-4o-mini', model_info: PRICE, ...extra });

before(async () => {
  const keys = ['--aws-access-key-id', AK, '--aws-secret-access-key', SK, '--aws-region', REGION];
  [br, bk, b500, b429, o500, o429, oai] = await Promise.all([
    startMock([...FLAGS, ...keys]),
    startMock([...FLAGS, '--bedrock-api-key', API_KEY]),
    startMock([...FLAGS, ...keys, '--p-500', '1']),
    startMock([...FLAGS, ...keys, '--p-429', '1', '--retry-after', '1']),
    startMock([...FLAGS, '--p-500', '1']),
    startMock([...FLAGS, '--p-429', '1', '--retry-after', '1']),
    startMock([...FLAGS, '--seed', '11']),
  ]);
  [bcrc, bexc] = await Promise.all([
    startMock([...FLAGS, ...keys, '--p-bad-crc', '1']),
    startMock([...FLAGS, ...keys, '--p-stream-exception', '1']),
  ]);
  fake = await startFake();
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: {
        converse: aws(br, `bedrock/${CLAUDE}`),
        converse2: aws(br, `bedrock/converse/us.${CLAUDE}`),
        invoke: aws(br, `bedrock/invoke/${CLAUDE}`),
        titan: aws(br, 'bedrock/amazon.titan-embed-text-v2:0'),
        cohere: aws(br, 'bedrock/cohere.embed-english-v3'),
        wrongsecret: aws(br, `bedrock/${CLAUDE}`, { aws_secret_access_key: `${SK}x` }),
        apikey: { model: `bedrock/${CLAUDE}`, api_base: bk.url, api_key: API_KEY, aws_region_name: REGION },
        // failover: the failing side first (order 1), the other second
        'br-500': [aws(b500, `bedrock/${CLAUDE}`, { order: 1 }), openai(oai, { order: 2 })],
        'br-429': [aws(b429, `bedrock/${CLAUDE}`, { order: 1 }), openai(oai, { order: 2 })],
        'br-crc': [aws({ port: fake.port }, 'bedrock/badcrc.model-v1', { order: 1 }), openai(oai, { order: 2 })],
        'br-mcrc': [aws(bcrc, `bedrock/${CLAUDE}`, { order: 1 }), openai(oai, { order: 2 })],
        'br-mexc': [aws(bexc, `bedrock/${CLAUDE}`, { order: 1 }), openai(oai, { order: 2 })],
        'oai-500': [openai(o500, { order: 1 }), aws(br, `bedrock/${CLAUDE}`, { order: 2 })],
        'oai-429': [openai(o429, { order: 1 }), aws(br, `bedrock/${CLAUDE}`, { order: 2 })],
        midex: aws({ port: fake.port }, 'bedrock/midex.model-v1'),
        midexinv: aws({ port: fake.port }, 'bedrock/invoke/anthropic.midex-v1'),
        'invoke-ex': aws(br, `bedrock/invoke/${CLAUDE}`),
      },
    }),
    workers: 1,
  });
  client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sluice.url}/v1`, maxRetries: 0, timeout: 10000 });
  anth = new Anthropic({ apiKey: 'sk-test', baseURL: sluice.url, maxRetries: 0, timeout: 10000 });
});

after(async () => {
  if (fake) fake.release?.(); // a stream still held open by the gate
  try {
    if (sluice && !sluice.exited) await sluice.stop(); // SIGTERM, then no sanitizer report
    for (const m of [br, bk, b500, b429, bcrc, bexc]) if (m && !m.exited) await m.stop();
  } finally {
    if (fake) await fake.close();
    await cleanup();
  }
});

// ------------------------------------------------------------------ helpers

const lastOf = async (mock, pred = () => true) => (await mock.stats()).last.filter(pred).at(-1);

/** The recorded request was signed as AWS wants: recompute the signature with cloud_lib's
 *  independent signer over the same date, headers and body. */
function assertSigV4(rec, mock) {
  const h = rec.headers;
  const auth = h.authorization ?? h.Authorization;
  assert.match(auth, new RegExp(`^AWS4-HMAC-SHA256 Credential=${AK}/\\d{8}/${REGION}/bedrock/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$`));
  const signed = /SignedHeaders=([a-z0-9;-]+)/.exec(auth)[1].split(';');
  assert.ok(signed.includes('host') && signed.includes('x-amz-date'), auth);
  const amz = h['x-amz-date'] ?? h['X-Amz-Date'];
  assert.match(amz, /^\d{8}T\d{6}Z$/);
  const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  const date = new Date(`${amz.slice(0, 4)}-${amz.slice(4, 6)}-${amz.slice(6, 8)}T${amz.slice(9, 11)}:${amz.slice(11, 13)}:${amz.slice(13, 15)}Z`);
  const extra = {};
  for (const n of signed) if (n !== 'host' && n !== 'x-amz-date') extra[n] = lower[n];
  const mine = sigv4Sign({ url: `${mock.url}${rec.url ?? rec.path}`, headers: { ...extra, host: lower.host }, body: rec.body,
    accessKeyId: AK, secretAccessKey: SK, region: REGION, date });
  assert.equal(auth, mine.authorization, 'the signature as an independent signer computes it');
}

const chatMsgs = [{ role: 'user', content: 'Hello Bedrock, say something' }];
const WEATHER = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const WEATHER_ANTH = { name: 'get_weather', description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
// a 1x1 PNG
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function assertCost(headers) {
  const c = Number(headers.get ? headers.get('x-sluice-cost') : headers['x-sluice-cost']);
  assert.ok(Number.isFinite(c) && c > 0, `x-sluice-cost ${c}`);
}

// ------------------------------------------------------------------ Converse via openai

test('openai SDK -> Converse: a plain chat is signed with SigV4 and sent as a Converse body; usage and cost come back', async () => {
  const { data, response } = await client.chat.completions.create({
    model: 'converse', messages: [{ role: 'system', content: 'Be brief.' }, ...chatMsgs], max_tokens: 64, temperature: 0.5,
  }).withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.model, CLAUDE);
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content.split(' ').length, 6);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.equal(data.usage.completion_tokens, 6);
  assert.ok(data.usage.prompt_tokens > 0);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + 6);
  assert.equal(response.headers.get('x-sluice-deployment'), 'converse-0');
  assertCost(response.headers);
  const rec = await lastOf(br);
  assert.equal(rec.path, `/model/${CLAUDE.replace(':', '%3A')}/converse`);
  assert.deepEqual(rec.cloud, { service: 'bedrock', operation: 'converse', model: CLAUDE });
  assertSigV4(rec, br);
  const body = JSON.parse(rec.body);
  assert.equal(body.modelId, undefined, 'the model id is in the path only');
  assert.deepEqual(body.system, [{ text: 'Be brief.' }]);
  assert.deepEqual(body.messages, [{ role: 'user', content: [{ text: chatMsgs[0].content }] }]);
  assert.equal(body.inferenceConfig.maxTokens, 64);
  assert.equal(body.inferenceConfig.temperature, 0.5);
});

test('openai SDK -> bedrock/converse/<cross-region profile id>: the id goes in the path as given', async () => {
  const r = await client.chat.completions.create({ model: 'converse2', messages: chatMsgs });
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  const rec = await lastOf(br);
  assert.equal(rec.path, `/model/us.${CLAUDE.replace(':', '%3A')}/converse`);
  assertSigV4(rec, br);
  // no max_tokens from the client: the model's own default (no maxTokens), not Anthropic's 4096
  assert.equal(JSON.parse(rec.body).inferenceConfig?.maxTokens, undefined);
});

test('openai SDK -> ConverseStream: chunks of the whole answer, [DONE]; usage only when asked', async () => {
  const whole = await client.chat.completions.create({ model: 'converse', messages: chatMsgs });
  for (const includeUsage of [false, true]) {
    const stream = await client.chat.completions.create({
      model: 'converse', messages: chatMsgs, stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    });
    let text = '';
    let finish = null;
    const usages = [];
    for await (const ch of stream) {
      assert.equal(ch.object, 'chat.completion.chunk');
      if (ch.usage) usages.push({ usage: ch.usage, nchoices: ch.choices.length });
      for (const c of ch.choices) {
        text += c.delta?.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(text, whole.choices[0].message.content, 'the same words as the plain answer');
    assert.equal(finish, 'stop');
    if (includeUsage) {
      assert.equal(usages.length, 1, JSON.stringify(usages));
      assert.equal(usages[0].nchoices, 0);
      assert.equal(usages[0].usage.completion_tokens, 6);
      assert.equal(usages[0].usage.prompt_tokens, whole.usage.prompt_tokens);
    } else {
      assert.equal(usages.length, 0, 'no usage chunk the client did not ask for');
    }
  }
  const rec = await lastOf(br);
  assert.equal(rec.path, `/model/${CLAUDE.replace(':', '%3A')}/converse-stream`);
  assert.equal(rec.headers.accept ?? rec.headers.Accept, 'application/vnd.amazon.eventstream');
  assertSigV4(rec, br);
  // the access log has the usage of the stream
  const line = await sluice.waitLine((l) => l.msg === 'access' && l.stream === true && l.model_group === 'converse');
  assert.equal(line.tokens_out, 6);
  assert.ok(line.cost_usd > 0);
});

test('openai SDK -> Converse tools: a tool call comes back, then the tool result turn ends it (plain and streamed)', async () => {
  const r = await client.chat.completions.create({ model: 'converse', messages: chatMsgs, tools: [WEATHER], tool_choice: 'auto' });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const tc = r.choices[0].message.tool_calls;
  assert.equal(tc.length, 1);
  assert.equal(tc[0].type, 'function');
  assert.equal(tc[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc[0].function.arguments), { city: 'text' });
  const sent = JSON.parse((await lastOf(br)).body);
  assert.equal(sent.toolConfig.tools[0].toolSpec.name, 'get_weather');
  assert.deepEqual(sent.toolConfig.tools[0].toolSpec.inputSchema.json, WEATHER.function.parameters);
  assert.deepEqual(sent.toolConfig.toolChoice, { auto: {} });

  const r2 = await client.chat.completions.create({ model: 'converse', tools: [WEATHER], messages: [
    ...chatMsgs, r.choices[0].message, { role: 'tool', tool_call_id: tc[0].id, content: 'sunny, 21 C' }] });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  assert.equal(typeof r2.choices[0].message.content, 'string');
  const sent2 = JSON.parse((await lastOf(br)).body);
  assert.deepEqual(sent2.messages[1].content[0].toolUse, { toolUseId: tc[0].id, name: 'get_weather', input: { city: 'text' } });
  assert.equal(sent2.messages[2].role, 'user');
  assert.equal(sent2.messages[2].content[0].toolResult.toolUseId, tc[0].id);
  assert.deepEqual(sent2.messages[2].content[0].toolResult.content, [{ text: 'sunny, 21 C' }]);

  const s = await client.chat.completions.create({ model: 'converse', messages: chatMsgs, tools: [WEATHER], stream: true });
  let args = '';
  let name = null;
  let id = null;
  let finish = null;
  for await (const ch of s) {
    for (const c of ch.choices) {
      for (const t of c.delta?.tool_calls ?? []) {
        name = t.function?.name ?? name;
        id = t.id ?? id;
        args += t.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(name, 'get_weather');
  assert.ok(id);
  assert.deepEqual(JSON.parse(args), { city: 'text' });
  assert.equal(finish, 'tool_calls');
});

test('openai SDK -> Converse with an image data URL: the image goes as bytes with its format', async () => {
  const r = await client.chat.completions.create({ model: 'converse', messages: [{ role: 'user', content: [
    { type: 'text', text: 'What is in this picture?' },
    { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_B64}` } }] }] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const sent = JSON.parse((await lastOf(br)).body);
  const parts = sent.messages[0].content;
  assert.deepEqual(parts[0], { text: 'What is in this picture?' });
  assert.deepEqual(parts[1], { image: { format: 'png', source: { bytes: PNG_B64 } } });
  // an http URL cannot be said to Bedrock: a clear 400 in OpenAI's shape, nothing sent
  const before = (await br.stats()).requests;
  await assert.rejects(client.chat.completions.create({ model: 'converse', messages: [{ role: 'user', content: [
    { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }), (e) => {
    assert.equal(e.status, 400, String(e));
    assert.match(e.message, /image|URL|url/);
    return true;
  });
  assert.equal((await br.stats()).requests, before);
});

test('openai SDK Responses API -> Converse and -> invoke: plain and streamed, usage in the response', async () => {
  for (const model of ['converse', 'invoke']) {
    const r = await client.responses.create({ model, input: 'Hello through the Responses API' });
    assert.equal(r.status, 'completed');
    assert.equal(r.output_text.split(' ').length, 6, `${model}: ${r.output_text}`);
    assert.equal(r.usage.output_tokens, 6);
    const s = await client.responses.create({ model, input: 'Hello through the Responses API', stream: true });
    let text = '';
    let done = null;
    for await (const ev of s) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    assert.equal(text.split(' ').length, 6, `${model}: ${text}`);
    assert.equal(done?.usage.output_tokens, 6);
    const rec = await lastOf(br);
    assert.match(rec.path, model === 'converse' ? /\/converse-stream$/ : /\/invoke-with-response-stream$/);
    assertSigV4(rec, br);
  }
});

// ------------------------------------------------------------------ embeddings

test('openai SDK -> Titan embeddings (one input) and Cohere (a list), float and the SDK\'s default base64', async () => {
  const t = await client.embeddings.create({ model: 'titan', input: 'hello world', dimensions: 256 });
  assert.equal(t.object, 'list');
  assert.equal(t.data.length, 1);
  assert.equal(t.data[0].embedding.length, 256);
  assert.ok(t.data[0].embedding.every((x) => Number.isFinite(x)));
  assert.ok(t.usage.prompt_tokens > 0);
  let rec = await lastOf(br);
  assert.equal(rec.path, '/model/amazon.titan-embed-text-v2%3A0/invoke');
  assertSigV4(rec, br);
  assert.deepEqual(JSON.parse(rec.body), { inputText: 'hello world', dimensions: 256 });
  const tf = await client.embeddings.create({ model: 'titan', input: 'hello world', dimensions: 256, encoding_format: 'float' });
  assert.deepEqual(tf.data[0].embedding.map((x) => Math.fround(x)), [...t.data[0].embedding]);

  const c = await client.embeddings.create({ model: 'cohere', input: ['first text', 'second text', 'third'], encoding_format: 'float' });
  assert.equal(c.data.length, 3);
  assert.deepEqual(c.data.map((d) => d.index), [0, 1, 2]);
  assert.ok(c.data.every((d) => d.embedding.length > 0));
  rec = await lastOf(br);
  assert.equal(rec.path, '/model/cohere.embed-english-v3/invoke');
  assertSigV4(rec, br);
  const cb = JSON.parse(rec.body);
  assert.deepEqual(cb.texts, ['first text', 'second text', 'third']);
  assert.equal(cb.input_type, 'search_document');
  // Titan takes one text: a list of two is a clear 400, not sent
  await assert.rejects(client.embeddings.create({ model: 'titan', input: ['a', 'b'] }), (e) => e.status === 400);
});

// ------------------------------------------------------------------ Anthropic SDK

test('@anthropic-ai/sdk -> Converse and -> invoke: messages plain, with the right bodies upstream', async () => {
  for (const model of ['converse', 'invoke']) {
    const { data: m, response } = await anth.messages.create({ model, max_tokens: 100, system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello Claude on Bedrock' }] }).withResponse();
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text.split(' ').length, 6);
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.usage.output_tokens, 6);
    assert.ok(m.usage.input_tokens > 0);
    assertCost(response.headers);
    const rec = await lastOf(br);
    assertSigV4(rec, br);
    const body = JSON.parse(rec.body);
    if (model === 'converse') {
      assert.equal(rec.path, `/model/${CLAUDE.replace(':', '%3A')}/converse`);
      assert.deepEqual(body.system, [{ text: 'Be brief.' }]);
      assert.equal(body.inferenceConfig.maxTokens, 100);
    } else {
      assert.equal(rec.path, `/model/${CLAUDE.replace(':', '%3A')}/invoke`);
      assert.equal(body.anthropic_version, 'bedrock-2023-05-31');
      assert.equal(body.model, undefined);
      assert.equal(body.stream, undefined);
      assert.equal(body.system, 'Be brief.');
      assert.equal(body.max_tokens, 100);
    }
  }
});

test('@anthropic-ai/sdk -> Converse and -> invoke: streams through the SDK helper end with the whole message', async () => {
  for (const model of ['converse', 'invoke']) {
    const stream = anth.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'Stream to me' }] });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const final = await stream.finalMessage();
    assert.equal(final.content[0].text, text);
    assert.equal(text.split(' ').length, 6);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 6);
    const rec = await lastOf(br);
    assert.equal(rec.path, `/model/${CLAUDE.replace(':', '%3A')}/${model === 'converse' ? 'converse-stream' : 'invoke-with-response-stream'}`);
    assertSigV4(rec, br);
  }
});

test('@anthropic-ai/sdk -> Converse and -> invoke: tool use, then the tool result turn', async () => {
  for (const model of ['converse', 'invoke']) {
    const m = await anth.messages.create({ model, max_tokens: 200, tools: [WEATHER_ANTH],
      messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    assert.equal(m.stop_reason, 'tool_use', `${model}: ${JSON.stringify(m)}`);
    const tu = m.content.find((c) => c.type === 'tool_use');
    assert.equal(tu.name, 'get_weather');
    assert.deepEqual(tu.input, { city: 'text' });
    const m2 = await anth.messages.create({ model, max_tokens: 200, tools: [WEATHER_ANTH], messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'sunny' }] }] });
    assert.equal(m2.stop_reason, 'end_turn');
    assert.equal(m2.content[0].type, 'text');
    const body = JSON.parse((await lastOf(br)).body);
    if (model === 'converse') assert.equal(body.messages[2].content[0].toolResult.toolUseId, tu.id);
    else assert.equal(body.messages[2].content[0].tool_use_id, tu.id);
    // streamed tool use
    const s = anth.messages.stream({ model, max_tokens: 200, tools: [WEATHER_ANTH], messages: [{ role: 'user', content: 'Weather?' }] });
    const f = await s.finalMessage();
    assert.equal(f.stop_reason, 'tool_use');
    assert.deepEqual(f.content.find((c) => c.type === 'tool_use').input, { city: 'text' });
  }
});

// ------------------------------------------------------------------ credentials

test('a wrong secret: the mock\'s 403 reaches each client in its own format, tried once', async () => {
  const before = (await br.stats()).auth_failures;
  await assert.rejects(client.chat.completions.create({ model: 'wrongsecret', messages: chatMsgs }), (e) => {
    assert.equal(e.status, 403, String(e));
    assert.match(e.message, /signature we calculated does not match/);
    assert.equal(e.headers['x-sluice-attempts'] ?? e.headers.get?.('x-sluice-attempts'), '1');
    return true;
  });
  await assert.rejects(anth.messages.create({ model: 'wrongsecret', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.equal(e.status, 403, String(e));
    assert.equal(e.error?.type, 'error');
    assert.match(e.error?.error?.message ?? '', /signature we calculated does not match/);
    return true;
  });
  const s = await client.chat.completions.create({ model: 'wrongsecret', messages: chatMsgs, stream: true }).catch((e) => e);
  assert.equal(s.status, 403, String(s));
  assert.equal((await br.stats()).auth_failures - before, 3, 'one upstream call per request');
});

test('a Bedrock API key (api_key) goes as a Bearer token, unsigned', async () => {
  const r = await client.chat.completions.create({ model: 'apikey', messages: chatMsgs });
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  const rec = await lastOf(bk);
  assert.equal(rec.headers.authorization ?? rec.headers.Authorization, `Bearer ${API_KEY}`);
  assert.equal(rec.headers['x-amz-date'] ?? rec.headers['X-Amz-Date'], undefined);
});

/** A sluice of one Bedrock Converse deployment without keys in its config, started with env. */
async function bareSluice(mock, env, extra = {}) {
  const s = await startSluice({
    yaml: sluiceConfig({ groups: { c: { model: `bedrock/${CLAUDE}`, api_base: mock.url, api_key: null, ...extra } } }),
    env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '',
      AWS_BEARER_TOKEN_BEDROCK: '', AWS_REGION: '', AWS_DEFAULT_REGION: '', ...env },
  });
  const c = new OpenAI({ apiKey: 'sk-test', baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 10000 });
  return { s, c };
}

test('credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION', async () => {
  const { s, c } = await bareSluice(br, { AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_REGION: REGION });
  const r = await c.chat.completions.create({ model: 'c', messages: chatMsgs, stream: true });
  let text = '';
  for await (const ch of r) text += ch.choices[0]?.delta?.content ?? '';
  assert.equal(text.split(' ').length, 6);
  assertSigV4(await lastOf(br), br);
  await s.stop();
});

test('credentials from a profile of AWS_SHARED_CREDENTIALS_FILE (AWS_PROFILE, and aws_profile_name), region from AWS_CONFIG_FILE', async () => {
  const dir = mkTmpDir('bedrock-profile-');
  const creds = path.join(dir, 'credentials');
  const conf = path.join(dir, 'config');
  fs.writeFileSync(creds, `# test credentials\n[default]\naws_access_key_id = AKIDWRONGDEFAULT\naws_secret_access_key = wrong\n\n[team]\naws_access_key_id = ${AK}\naws_secret_access_key = ${SK}\n`);
  fs.writeFileSync(conf, `[default]\nregion = eu-west-3\n[profile team]\nregion = ${REGION}\n`);
  const env = { AWS_SHARED_CREDENTIALS_FILE: creds, AWS_CONFIG_FILE: conf };
  for (const [e, extra] of [[{ AWS_PROFILE: 'team' }, {}], [{}, { aws_profile_name: 'team' }]]) {
    const { s, c } = await bareSluice(br, { ...env, ...e }, extra);
    const r = await c.chat.completions.create({ model: 'c', messages: chatMsgs });
    assert.equal(r.choices[0].message.content.split(' ').length, 6);
    assertSigV4(await lastOf(br), br);
    await s.stop();
  }
  // the default profile signs with its (wrong) key: the mock says so, in OpenAI's shape
  const { s, c } = await bareSluice(br, { ...env, AWS_REGION: REGION });
  await assert.rejects(c.chat.completions.create({ model: 'c', messages: chatMsgs }), (e) => e.status === 403);
  await s.stop();
});

test('temporary credentials: aws_session_token goes as X-Amz-Security-Token, signed; a wrong one is refused', async () => {
  const TOKEN = 'session-token-test-only';
  const m = await startMock([...FLAGS, '--aws-access-key-id', AK, '--aws-secret-access-key', SK, '--aws-session-token', TOKEN,
    '--aws-region', REGION]);
  const { s, c } = await bareSluice(m, {}, { aws_access_key_id: AK, aws_secret_access_key: SK, aws_session_token: TOKEN,
    aws_region_name: REGION });
  const r = await c.chat.completions.create({ model: 'c', messages: chatMsgs });
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  const rec = await lastOf(m);
  assert.equal(rec.headers['x-amz-security-token'] ?? rec.headers['X-Amz-Security-Token'], TOKEN);
  assert.match(rec.headers.authorization ?? rec.headers.Authorization, /SignedHeaders=[a-z;-]*x-amz-security-token/);
  await s.stop();
  const bad = await bareSluice(m, {}, { aws_access_key_id: AK, aws_secret_access_key: SK, aws_session_token: 'expired-token',
    aws_region_name: REGION });
  await assert.rejects(bad.c.chat.completions.create({ model: 'c', messages: chatMsgs }), (e) => e.status === 403);
  await bad.s.stop();
  await m.stop();
});

test('a Bedrock API key from AWS_BEARER_TOKEN_BEDROCK', async () => {
  const { s, c } = await bareSluice(bk, { AWS_BEARER_TOKEN_BEDROCK: API_KEY, AWS_REGION: REGION });
  const r = await c.chat.completions.create({ model: 'c', messages: chatMsgs });
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  assert.equal((await lastOf(bk)).headers.authorization, `Bearer ${API_KEY}`);
  await s.stop();
});

// ------------------------------------------------------------------ failover

async function chatBoth(model) {
  const { data: r, response } = await client.chat.completions.create({ model, messages: chatMsgs }).withResponse();
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.choices[0].message.content.length > 0);
  const s = await client.chat.completions.create({ model, messages: chatMsgs, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  for await (const ch of s) {
    text += ch.choices[0]?.delta?.content ?? '';
    finish = ch.choices[0]?.finish_reason ?? finish;
    usage = ch.usage ?? usage;
  }
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0);
  return { r, response, text };
}

test('failover Bedrock -> OpenAI in one group: Bedrock 500s, then throttling: the client gets OpenAI\'s clean answer', async () => {
  for (const [g, mock, fault] of [['br-500', b500, '500'], ['br-429', b429, '429']]) {
    const before = (await mock.stats()).faults[fault];
    const { r, response, text } = await chatBoth(g);
    assert.equal(response.headers.get('x-sluice-deployment'), `${g}-1`);
    assert.equal(response.headers.get('x-sluice-attempts'), '2');
    assert.equal(r.model, 'gpt-4o-mini');
    assert.ok(text.length > 0);
    assert.ok((await mock.stats()).faults[fault] > before, `${g}: the Bedrock mock did fail`);
  }
});

test('failover OpenAI -> Bedrock in one group: OpenAI 500s, then throttling: the client gets Bedrock\'s clean answer', async () => {
  for (const [g, mock, fault] of [['oai-500', o500, '500'], ['oai-429', o429, '429']]) {
    const before = (await mock.stats()).faults[fault];
    const { r, response, text } = await chatBoth(g);
    assert.equal(response.headers.get('x-sluice-deployment'), `${g}-1`);
    assert.equal(r.model, CLAUDE);
    assert.equal(text.split(' ').length, 6);
    assert.ok((await mock.stats()).faults[fault] > before, `${g}: the OpenAI mock did fail`);
  }
});

test('a ConverseStream frame with a bad CRC fails the attempt: the client gets OpenAI\'s whole answer, no garbage', async () => {
  const n = fake.requests.length;
  const s = await client.chat.completions.create({ model: 'br-crc', messages: chatMsgs, stream: true }).withResponse();
  let text = '';
  let finish = null;
  for await (const ch of s.data) {
    text += ch.choices[0]?.delta?.content ?? '';
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(fake.requests.length, n + 1, 'the fake Bedrock was tried');
  assert.ok(!text.includes('garbage'), text);
  assert.equal(finish, 'stop');
  assert.equal(text.split(' ').length, 6, `the other deployment's whole answer: ${text}`);
  assert.equal(s.response.headers.get('x-sluice-deployment'), 'br-crc-1');
  assert.equal(s.response.headers.get('x-sluice-attempts'), '2');
  const line = await sluice.waitLine((l) => l.msg === 'access' && l.request_id === s.response.headers.get('x-sluice-request-id'));
  assert.equal(line.status, 200);
  // the bad frame is a protocol error of the Bedrock attempt, then the OpenAI one answers
  assert.deepEqual(line.attempts.map((a) => [a.deployment, a.outcome]),
    [['br-crc-0', 'upstream_protocol_error'], ['br-crc-1', 'ok']], JSON.stringify(line.attempts));
  // the fake was signed too
  const rec = fake.requests.at(-1);
  assert.equal(rec.path, '/model/badcrc.model-v1/converse-stream');
  assert.match(rec.headers.authorization, /^AWS4-HMAC-SHA256 /);
});

test('the mock\'s ConverseStream faults (bad CRC, exception frame) in a group with OpenAI: a whole answer or an error event, never garbage', async () => {
  for (const [g, mock, fault] of [['br-mcrc', bcrc, 'bad_crc'], ['br-mexc', bexc, 'stream_exception']]) {
    const before = (await mock.stats()).faults[fault];
    const { data, response } = await client.chat.completions.create({ model: g, messages: chatMsgs, stream: true }).withResponse();
    let text = '';
    let finish = null;
    let err = null;
    try {
      for await (const ch of data) {
        text += ch.choices[0]?.delta?.content ?? '';
        finish = ch.choices[0]?.finish_reason ?? finish;
      }
    } catch (e) {
      err = e;
    }
    assert.equal((await mock.stats()).faults[fault], before + 1, `${g}: the Bedrock mock broke its stream`);
    if (err) { // some bytes had reached the client: an error event ends the stream
      assert.match(String(err.message), /malformed event-stream frame|throttlingException|Too many requests/, `${g}: ${err}`);
      assert.ok(text.split(' ').filter(Boolean).length < 6, `${g}: ${text}`);
    } else { // before any byte: failed over to the OpenAI deployment, whole answer
      assert.equal(response.headers.get('x-sluice-deployment'), `${g}-1`, g);
      assert.equal(finish, 'stop', g);
      assert.equal(text.split(' ').length, 6, `${g}: ${text}`);
    }
  }
});

// ------------------------------------------------------------------ errors mid-stream

test('an exception frame mid-stream: the openai SDK gets an error event after the text, never garbage', async () => {
  fake.arm();
  const stream = await client.chat.completions.create({ model: 'midex', messages: chatMsgs, stream: true });
  let text = '';
  const err = await (async () => {
    try {
      for await (const ch of stream) {
        const d = ch.choices[0]?.delta?.content ?? '';
        text += d;
        if (d) fake.release();
      }
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.equal(text, 'partial');
  assert.ok(err, 'the stream ended in an error');
  assert.match(String(err.message), /throttlingException|Too many requests/, String(err));
});

test('an exception frame mid-stream: the Anthropic SDK gets an error event after the text (Converse and invoke)', async () => {
  for (const model of ['midex', 'midexinv']) {
    fake.arm();
    const stream = anth.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    stream.on('text', (t) => {
      text += t;
      fake.release();
    });
    await assert.rejects(stream.finalMessage(), (e) => {
      assert.match(String(e.message), /throttlingException|Too many requests/, `${model}: ${e}`);
      return true;
    });
    assert.equal(text, 'partial', model);
  }
  assert.equal(fake.requests.at(-1).path, '/model/anthropic.midex-v1/invoke-with-response-stream');
});

test('an exception frame from the mock: the Anthropic SDK gets an error in its format, not a message; throttling is a 429, retried a bounded number of times', async () => {
  const before = (await br.stats()).faults.stream_exception;
  const stream = anth.messages.stream({ model: 'invoke-ex', max_tokens: 100,
    messages: [{ role: 'user', content: 'x' }], mock: { fault: 'stream_exception', fault_at: 3 } });
  let rid = null;
  stream.on('connect', () => { rid = stream.response?.headers.get('x-sluice-request-id') ?? null; });
  await assert.rejects(stream.finalMessage(), (e) => {
    // before any byte reached the client: the throttlingException as the 429 it means, in
    // Anthropic's shape with Bedrock's message; after: the error event
    if (e.status) {
      assert.equal(e.status, 429, String(e));
      assert.equal(e.error?.type, 'error', String(e));
      assert.equal(e.error?.error?.type, 'rate_limit_error', String(e));
      assert.match(e.error?.error?.message, /Too many requests.*mock stream_exception/, String(e));
      rid = e.headers?.get?.('x-sluice-request-id') ?? e.headers?.['x-sluice-request-id'] ?? rid;
    } else {
      assert.match(String(e.message), /throttlingException|Too many requests/, String(e));
    }
    return true;
  });
  assert.ok(rid, 'a request id');
  const line = await sluice.waitLine((l) => l.msg === 'access' && l.request_id === rid);
  assert.equal(line.status, 429);
  assert.ok(line.attempts.every((a) => a.outcome === 'http_429'), JSON.stringify(line));
  // retried within the retry budget (each attempt met the exception), then given up
  const n = (await br.stats()).faults.stream_exception - before;
  assert.equal(n, line.attempts.length, JSON.stringify(line));
  assert.ok(n >= 1 && n <= 3, `${n} attempts`);
});

test('the raw stream: a client without an SDK sees only SSE, each data line JSON', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, { model: 'converse', messages: chatMsgs, stream: true });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  const lines = r.text.split('\n').filter((l) => l.length);
  assert.ok(lines.every((l) => l.startsWith('data: ')), r.text);
  assert.equal(lines.at(-1), 'data: [DONE]');
  for (const l of lines.slice(0, -1)) JSON.parse(l.slice(6));
});
