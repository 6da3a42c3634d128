// Compatibility: the official `openai` npm client (pinned in test/package-lock.json), with
// only its baseURL changed, gets the same answers through sluice as from the mock called
// directly: chat (plain and streaming), completions, embeddings; models lists sluice's
// groups; an unknown model raises the SDK's BadRequestError.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startSluice, sluiceConfig, stopSluiceAndMock } from './lib.mjs';

const MASTER = 'sk-sluice-master-compat';
const UPSTREAM_KEY = 'sk-mock-upstream';
let mock;
let sluice;
let direct;  // client -> mock
let proxied; // client -> sluice

// The group name differs from the upstream model, so the answers can only be identical if
// sluice rewrites `model` and forwards everything else untouched.
const GROUP = 'gpt-4o-mini';
const UPSTREAM_MODEL = 'mock-model';

before(async () => {
  mock = await startMock(['--seed', '7', '--tokens', '12', '--ttft-ms', '5', '--itl-ms', '2',
    '--latency-ms', '1', '--models', UPSTREAM_MODEL]);
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: {
        [GROUP]: { port: mock.port, model: `openai/${UPSTREAM_MODEL}`, api_key: UPSTREAM_KEY },
        'embed-group': { port: mock.port, model: 'openai/mock-embed', api_key: UPSTREAM_KEY },
      },
      masterKey: MASTER,
    }),
    workers: 2,
  });
  const common = { maxRetries: 0, timeout: 15000 };
  direct = new OpenAI({ ...common, apiKey: UPSTREAM_KEY, baseURL: `${mock.url}/v1` });
  proxied = new OpenAI({ ...common, apiKey: MASTER, baseURL: `${sluice.url}/v1` });
});

await stopSluiceAndMock(() => ({ sluice, mock }));

/** Wall-clock fields differ between two calls; everything else must not. */
function normalise(x) {
  return JSON.parse(JSON.stringify(x, (k, v) => (k === 'created' && typeof v === 'number' ? 0 : v)));
}

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three rivers, with "quotes" and unicode: \u00e9\u4e2d.' },
];

test('chat completion: same answer through sluice as direct', async () => {
  const viaSluice = await proxied.chat.completions.create({ model: GROUP, messages, temperature: 0.2 });
  const viaMock = await direct.chat.completions.create({ model: UPSTREAM_MODEL, messages, temperature: 0.2 });
  assert.equal(viaSluice.object, 'chat.completion');
  assert.ok(viaSluice.choices[0].message.content.length > 0, 'non-empty content');
  assert.deepEqual(normalise(viaSluice), normalise(viaMock));
});

test('chat completion with the raw response: sluice headers present', async () => {
  const { data, response } = await proxied.chat.completions
    .create({ model: GROUP, messages })
    .withResponse();
  assert.equal(response.status, 200);
  assert.ok(response.headers.get('x-sluice-request-id'), 'x-sluice-request-id header');
  assert.ok(response.headers.get('x-sluice-deployment'), 'x-sluice-deployment header');
  assert.equal(data.model, UPSTREAM_MODEL);
});

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

test('streaming chat: same chunk sequence and text through sluice as direct', async () => {
  const body = { messages, stream: true, stream_options: { include_usage: true } };
  const a = await collect(await proxied.chat.completions.create({ model: GROUP, ...body }));
  const b = await collect(await direct.chat.completions.create({ model: UPSTREAM_MODEL, ...body }));
  assert.ok(a.length >= 3, `expected several chunks, got ${a.length}`);
  assert.deepEqual(normalise(a), normalise(b));
  const text = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
  assert.ok(text(a).length > 0, 'streamed text is not empty');
  assert.equal(text(a), text(b));
  assert.ok(a.some((c) => c.choices?.[0]?.finish_reason), 'a chunk carries finish_reason');
});

test('streaming chat: the SDK stream helper assembles the same final message', async () => {
  const run = async (client, model) => {
    const s = client.chat.completions.stream({ model, messages });
    const final = await s.finalChatCompletion();
    return final.choices[0].message.content;
  };
  const a = await run(proxied, GROUP);
  const b = await run(direct, UPSTREAM_MODEL);
  assert.ok(a.length > 0);
  assert.equal(a, b);
});

test('legacy completions: same answer through sluice as direct', async () => {
  const a = await proxied.completions.create({ model: GROUP, prompt: 'Once upon a time', max_tokens: 8 });
  const b = await direct.completions.create({ model: UPSTREAM_MODEL, prompt: 'Once upon a time', max_tokens: 8 });
  assert.equal(a.object, 'text_completion');
  assert.ok(a.choices[0].text.length > 0);
  assert.deepEqual(normalise(a), normalise(b));
});

test('embeddings (SDK default base64 encoding): same vectors through sluice as direct', async () => {
  const input = ['the quick brown fox', 'jumps over'];
  const a = await proxied.embeddings.create({ model: 'embed-group', input });
  const b = await direct.embeddings.create({ model: 'mock-embed', input });
  assert.equal(a.data.length, 2);
  assert.ok(Array.isArray(a.data[0].embedding) && a.data[0].embedding.length > 0, 'decoded float vector');
  assert.ok(a.data[0].embedding.every((x) => Number.isFinite(x)));
  assert.deepEqual(normalise(a), normalise(b));
});

test('embeddings with encoding_format float: same vectors', async () => {
  const a = await proxied.embeddings.create({ model: 'embed-group', input: 'hello', encoding_format: 'float' });
  const b = await direct.embeddings.create({ model: 'mock-embed', input: 'hello', encoding_format: 'float' });
  assert.deepEqual(normalise(a), normalise(b));
});

test('models: sluice lists its groups', async () => {
  const ids = [];
  for await (const m of proxied.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.deepEqual(ids.sort(), ['embed-group', GROUP].sort());
});

test('models.retrieve: one model, and NotFoundError for an unknown one', async () => {
  const m = await proxied.models.retrieve(GROUP);
  assert.equal(m.id, GROUP);
  assert.equal(m.object, 'model');
  await assert.rejects(proxied.models.retrieve('no-such-model'), (err) => {
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    return true;
  });
});

test('unknown model: BadRequestError 400 naming the model', async () => {
  await assert.rejects(
    proxied.chat.completions.create({ model: 'no-such-model', messages }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'model_not_found');
      assert.match(err.message, /no-such-model/);
      return true;
    });
});

test('wrong API key: AuthenticationError 401', async () => {
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${sluice.url}/v1`, maxRetries: 0, timeout: 10000 });
  await assert.rejects(bad.models.list(), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `expected AuthenticationError, got ${err}`);
    assert.equal(err.status, 401);
    return true;
  });
});

test('the mock saw the upstream model name and key, never the master key', async () => {
  const stats = await mock.stats();
  const last = stats.last ?? [];
  assert.ok(last.length > 0, 'mock recorded requests');
  for (const r of last) {
    const auth = r.headers?.authorization ?? '';
    assert.ok(!auth.includes(MASTER), `master key leaked upstream: ${auth}`);
  }
});
