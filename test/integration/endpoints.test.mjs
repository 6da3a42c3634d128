// The endpoints beyond chat (issue #14), through sluice to sluice-mock, with the official
// SDKs where they have them: POST /v1/messages/count_tokens (@anthropic-ai/sdk: forwarded
// to an Anthropic deployment, estimated and said so for an OpenAI-format one, never
// billed), /v1/moderations, /v1/images/generations, /v1/audio/speech (binary) and
// /v1/audio/transcriptions (multipart: `model` rewritten inside the form, the file passed
// byte for byte) through the `openai` SDK, /v1/rerank and /v2/rerank by fetch; each with
// the model rewritten to the deployment's, keys (a key limited to one model), cost headers
// where the provider reports usage, and clear errors for a malformed form.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  startMock, startSluice, cleanup, request, post, findRecorded, nonce, toYaml, HOST, assertOpenAIError,
} from './lib.mjs';
import { MASTER, MASTER_AUTH, newKey } from './keys_lib.mjs';

let mock;
let sluice;
let oai;
let anth;

before(async () => {
  mock = await startMock(['--seed', '5']);
  const base = `http://${HOST}:${mock.port}`;
  const dep = (name, model, api_base = `${base}/v1`) => ({
    model_name: name,
    litellm_params: { model, api_base, api_key: 'sk-mock-upstream' },
    model_info: { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 },
  });
  sluice = await startSluice({
    yaml: toYaml({
      model_list: [
        dep('claude', 'anthropic/claude-mock', base),
        dep('gpt', 'openai/gpt-mock'),
        dep('mod', 'openai/omni-moderation-mock'),
        dep('img', 'openai/gpt-image-mock'),
        dep('tts', 'openai/tts-mock'),
        dep('whisper', 'openai/whisper-mock'),
        dep('rerank', 'hosted_vllm/rerank-mock'),
      ],
      general_settings: { master_key: MASTER },
    }),
  });
  oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  anth = new Anthropic({ apiKey: MASTER, baseURL: sluice.url, maxRetries: 0 });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  if (mock) await mock.stop();
  await cleanup();
});

async function lastOn(path) {
  const st = await mock.stats();
  const rec = findRecorded(st, (b, r) => r.path === path);
  assert.ok(rec, `the mock received ${path}`);
  return rec;
}

test('count_tokens: forwarded to an Anthropic deployment, free', async () => {
  const m = nonce('ct');
  const { data: r, response } = await anth.messages
    .countTokens({ model: 'claude', messages: [{ role: 'user', content: `Count me ${m}` }] })
    .withResponse();
  assert.ok(r.input_tokens > 0);
  assert.equal(r.estimated, undefined);
  assert.equal(response.headers.get('x-sluice-token-count'), null);
  assert.equal(response.headers.get('x-sluice-cost'), '0.000000', 'count_tokens costs nothing');
  const rec = await lastOn('/v1/messages/count_tokens');
  assert.equal(rec.json.model, 'claude-mock');
  assert.ok(rec.rawBody.includes(m));
});

test('count_tokens: estimated for an OpenAI-format deployment, and said so', async () => {
  const before = (await mock.stats()).requests;
  const text = 'x'.repeat(400);
  const { data: r, response } = await anth.messages
    .countTokens({ model: 'gpt', system: 'sys', messages: [{ role: 'user', content: text }] })
    .withResponse();
  assert.equal(r.estimated, true);
  assert.ok(r.input_tokens >= 90 && r.input_tokens <= 120, `about 400/4 tokens: ${r.input_tokens}`);
  assert.equal(response.headers.get('x-sluice-token-count'), 'estimated');
  assert.equal((await mock.stats()).requests, before, 'nothing went upstream');
});

test('count_tokens: errors in the Anthropic shape (unknown model, a key without the model)', async () => {
  await assert.rejects(anth.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 400 && e.error?.type === 'error' && e.error?.error?.type === 'invalid_request_error');
  const k = await newKey(sluice.url, { models: ['gpt'] });
  const limited = new Anthropic({ apiKey: k.key, baseURL: sluice.url, maxRetries: 0 });
  await assert.rejects(limited.messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 403);
});

test('moderations through the openai SDK', async () => {
  const r = await oai.moderations.create({ model: 'mod', input: ['hello', 'world'] });
  assert.equal(r.results.length, 2);
  assert.equal(typeof r.results[0].flagged, 'boolean');
  const rec = await lastOn('/v1/moderations');
  assert.equal(rec.json.model, 'omni-moderation-mock');
});

test('images/generations through the openai SDK, with its usage priced', async () => {
  const { data: r, response } = await oai.images.generate({ model: 'img', prompt: `a lighthouse ${nonce('img')}` }).withResponse();
  assert.ok(r.data.length >= 1 && typeof r.data[0].b64_json === 'string');
  const rec = await lastOn('/v1/images/generations');
  assert.equal(rec.json.model, 'gpt-image-mock');
  assert.ok(Number(response.headers.get('x-sluice-cost')) > 0, 'the reported usage is priced');
});

test('audio/speech: a binary answer passed through', async () => {
  const res = await oai.audio.speech.create({ model: 'tts', voice: 'alloy', input: 'Hello there' });
  const buf = Buffer.from(await res.arrayBuffer());
  assert.ok(buf.length > 0);
  assert.match(res.headers.get('content-type'), /^audio\//);
  const rec = await lastOn('/v1/audio/speech');
  assert.equal(rec.json.model, 'tts-mock');
});

test('audio/transcriptions: multipart, model rewritten inside the form, the file byte for byte', async () => {
  const audio = crypto.randomBytes(4096);
  const r = await oai.audio.transcriptions.create({ model: 'whisper', file: await toFile(audio, 'clip.wav') });
  assert.ok(Number(/of (\d+) bytes/.exec(r.text)?.[1]) > 4096, r.text); /* the mock counts the whole form */
  const rec = await lastOn('/v1/audio/transcriptions');
  assert.ok(rec.rawBody.includes('whisper-mock'), 'the upstream model name in the form');
  assert.ok(!/name="model"\r\n\r\nwhisper\r\n/.test(rec.rawBody), 'the client model name replaced');
  const text = await oai.audio.transcriptions.create({ model: 'whisper', file: await toFile(audio, 'a.wav'), response_format: 'text' });
  assert.equal(typeof text, 'string');
});

test('audio/transcriptions: malformed forms are clear 400s, JSON is a 415', async () => {
  const ct = 'multipart/form-data; boundary=XyZ';
  let r = await post(`${sluice.url}/v1/audio/transcriptions`, '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper',
    { ...MASTER_AUTH, 'content-type': ct });
  assert.equal(r.status, 400);
  assertOpenAIError(r.json(), { messageIncludes: ['malformed'] });
  r = await post(`${sluice.url}/v1/audio/transcriptions`,
    '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nabc\r\n--XyZ--\r\n',
    { ...MASTER_AUTH, 'content-type': ct });
  assert.equal(r.status, 400);
  assertOpenAIError(r.json(), { messageIncludes: ['model'] });
  r = await post(`${sluice.url}/v1/audio/transcriptions`, { model: 'whisper' }, MASTER_AUTH);
  assert.equal(r.status, 415);
  assertOpenAIError(r.json(), { messageIncludes: ['multipart/form-data'] });
});

test('rerank on /v1/rerank and /v2/rerank', async () => {
  for (const p of ['/v1/rerank', '/v2/rerank']) {
    const r = await post(`${sluice.url}${p}`, { model: 'rerank', query: 'capital of France', documents: ['Paris', 'Berlin', 'Rome'], top_n: 2 }, MASTER_AUTH);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().results.length, 2);
    const rec = await lastOn('/v1/rerank');
    assert.equal(rec.json.model, 'rerank-mock');
  }
});

test('an endpoint a deployment does not serve is a clear 400', async () => {
  const r = await post(`${sluice.url}/v1/moderations`, { model: 'claude', input: 'x' }, MASTER_AUTH);
  assert.equal(r.status, 400, r.text);
  assertOpenAIError(r.json(), { messageIncludes: ['does not serve this endpoint'] });
});

test('GET /v1/models is filtered by the key, /v1/models/{id} too', async () => {
  const k = await newKey(sluice.url, { models: ['gpt', 'mod'] });
  const r = await request(`${sluice.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.deepEqual(r.json().data.map((d) => d.id).sort(), ['gpt', 'mod']);
  const one = await request(`${sluice.url}/v1/models/claude`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(one.status, 404);
});
