// Proxy behaviour against a real sluice-mock: model rewrite and credential replacement,
// byte-for-byte forwarding, master key, unknown models, paths with and without /v1,
// health and models, streaming delivered as it is produced, client disconnects that
// cancel the upstream, upstream resets before/during a response, refused connections and
// upstream timeouts. Faults are driven per request with the mock's `"mock"` body field,
// which sluice forwards like any other unknown field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startMock, startSluice, sluiceConfig, cleanup, request, post, openStream, sseData,
  assertOpenAIError, findRecorded, recordedHeader, nonce, chatBody, freePort, pollUntil,
} from './lib.mjs';

const MASTER = 'sk-master-proxy';
const AUTH = { authorization: `Bearer ${MASTER}` };
let mock;
let sluice;
let garbage; // a TCP server that answers anything with bytes that are not HTTP

before(async () => {
  mock = await startMock(['--seed', '3', '--tokens', '6', '--ttft-ms', '5', '--itl-ms', '2']);
  const deadPort = await freePort();
  garbage = net.createServer((sock) => {
    sock.once('data', () => sock.end('SSH-2.0-OpenSSH_9.2 not http at all\r\n\r\n'));
    sock.on('error', () => {});
  });
  await new Promise((res, rej) => garbage.listen(0, '127.0.0.1', res).on('error', rej));
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: {
        'chat-a': { port: mock.port, model: 'openai/mock-model', api_key: 'sk-upstream-a', model_info: { id: 'dep-chat-a' } },
        'chat-env': { port: mock.port, model: 'openai/env-model', api_key: 'os.environ/SLUICE_TEST_UPSTREAM_KEY' },
        'no-prefix': { port: mock.port, model: 'plain-model', api_key: 'sk-upstream-b' },
        dead: { port: deadPort, model: 'openai/mock-model', api_key: 'sk-dead' },
        slow: { port: mock.port, model: 'openai/mock-model', api_key: 'sk-slow', timeout: 1 },
        garbage: { port: garbage.address().port, model: 'openai/mock-model', api_key: 'sk-g' },
      },
      masterKey: MASTER,
      settings: { connect_timeout: '1s' },
    }),
    env: { SLUICE_TEST_UPSTREAM_KEY: 'sk-from-env' },
    workers: 2,
  });
});

after(async () => {
  try {
    if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
    if (mock) await mock.stop();
  } finally {
    if (garbage) garbage.close();
    await cleanup();
  }
});

async function assertServing() {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-a'), AUTH);
  assert.equal(r.status, 200, `sluice should keep serving: ${r.status} ${r.text}`);
}

test('model is rewritten and the client key replaced by the deployment key', async () => {
  const id = nonce('rewrite');
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-a', { user: id }), AUTH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().object, 'chat.completion');
  assert.ok(r.headers['x-sluice-request-id'], 'x-sluice-request-id');
  assert.equal(r.headers['x-sluice-deployment'], 'dep-chat-a', 'x-sluice-deployment is model_info.id');
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.ok(rec, 'the mock received the request');
  assert.equal(rec.json.model, 'mock-model');
  assert.equal(recordedHeader(rec, 'authorization'), 'Bearer sk-upstream-a');
  assert.equal(rec.path, '/v1/chat/completions');
  assert.deepEqual(rec.json.messages, chatBody('chat-a').messages);
});

test('the body is forwarded byte for byte except the model value', async () => {
  const id = nonce('bytes');
  // Odd spacing, key order, escapes, unknown fields and numbers that a re-serialiser
  // would change.
  const sent = `{ "messages" : [ {"role":"user","content":"caf\\u00e9 \\"q\\" \\/"} ],\n  "model" :  "chat-a" ,` +
    ` "temperature": 1.50, "x_unknown": {"nested": [1, 2.0e1, null]}, "user": "${id}" }`;
  const r = await post(`${sluice.url}/v1/chat/completions`, sent, AUTH);
  assert.equal(r.status, 200, r.text);
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.ok(rec, 'the mock received the request');
  assert.equal(typeof rec.rawBody, 'string', 'the mock records raw bodies');
  assert.equal(rec.rawBody, sent.replace('"chat-a"', '"mock-model"'));
});

test('a duplicated "model" key cannot smuggle another model upstream', async () => {
  // sluice routes on one occurrence; most JSON parsers upstream (Python's, JS's) keep the
  // last. Either the request is refused, or what the upstream reads is the rewritten name.
  const id = nonce('dup');
  const sent = `{"model":"chat-a","messages":[{"role":"user","content":"x"}],"model":"gpt-4-expensive","user":"${id}"}`;
  const r = await post(`${sluice.url}/v1/chat/completions`, sent, AUTH);
  if (r.status === 400) {
    assertOpenAIError(r.text, {});
    return;
  }
  assert.equal(r.status, 200, r.text);
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.ok(rec, 'the mock received the request');
  assert.equal(JSON.parse(rec.rawBody).model, 'mock-model', `upstream reads: ${rec.rawBody}`);
});

test('api_key from os.environ/NAME is sent upstream', async () => {
  const id = nonce('env');
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-env', { user: id }), AUTH);
  assert.equal(r.status, 200, r.text);
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.equal(rec.json.model, 'env-model');
  assert.equal(recordedHeader(rec, 'authorization'), 'Bearer sk-from-env');
});

test('a model without provider prefix is sent as written', async () => {
  const id = nonce('plain');
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('no-prefix', { user: id }), AUTH);
  assert.equal(r.status, 200, r.text);
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.equal(rec.json.model, 'plain-model');
});

test('master key: x-api-key works too; missing or wrong key is 401', async () => {
  const ok = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-a'), { 'x-api-key': MASTER });
  assert.equal(ok.status, 200, ok.text);
  const before = (await mock.stats()).requests;
  for (const headers of [{}, { authorization: 'Bearer sk-wrong' }, { authorization: MASTER },
    { 'x-api-key': 'sk-wrong' }, { authorization: `Bearer ${MASTER}x` }]) {
    const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-a'), headers);
    assert.equal(r.status, 401, `${JSON.stringify(headers)}: ${r.status} ${r.text}`);
    assertOpenAIError(r.text, { code: 'invalid_api_key', type: 'authentication_error' });
  }
  const models = await request(`${sluice.url}/v1/models`);
  assert.equal(models.status, 401);
  assert.equal((await mock.stats()).requests, before + 0, 'rejected requests never reach the upstream');
});

test('unknown model: 400 naming the model and listing the groups', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('gpt-nope'), AUTH);
  assert.equal(r.status, 400, r.text);
  assertOpenAIError(r.text, { code: 'model_not_found', messageIncludes: ['gpt-nope', 'chat-a', 'slow'] });
});

test('paths without /v1 work the same', async () => {
  const c = await post(`${sluice.url}/chat/completions`, chatBody('chat-a'), AUTH);
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json().object, 'chat.completion');
  const t = await post(`${sluice.url}/completions`, { model: 'chat-a', prompt: 'hi' }, AUTH);
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json().object, 'text_completion');
  const e = await post(`${sluice.url}/embeddings`, { model: 'chat-a', input: 'hi' }, AUTH);
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json().object, 'list');
  const m = await request(`${sluice.url}/models`, { headers: AUTH });
  assert.equal(m.status, 200, m.text);
  const id = nonce('noprefix');
  await post(`${sluice.url}/embeddings`, { model: 'chat-a', input: 'hi', user: id }, AUTH);
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.equal(rec.path, '/v1/embeddings', 'forwarded under the api_base path');
});

test('models: the configured groups in OpenAI list shape', async () => {
  const r = await request(`${sluice.url}/v1/models`, { headers: AUTH });
  assert.equal(r.status, 200, r.text);
  const b = r.json();
  assert.equal(b.object, 'list');
  const ids = b.data.map((m) => m.id).sort();
  assert.deepEqual(ids, ['chat-a', 'chat-env', 'dead', 'garbage', 'no-prefix', 'slow']);
  for (const m of b.data) assert.equal(m.object, 'model');
});

test('health: liveliness and readiness answer 200 JSON without a key', async () => {
  for (const p of ['/health/liveliness', '/health/readiness']) {
    const r = await request(`${sluice.url}${p}`);
    assert.equal(r.status, 200, `${p}: ${r.text}`);
    assert.match(r.headers['content-type'] ?? '', /json/);
    r.json();
  }
});

test('streaming: the first event reaches the client while the upstream is still generating', async () => {
  const base = await mock.stats();
  const s = await openStream(`${sluice.url}/v1/chat/completions`, {
    body: chatBody('chat-a', { stream: true, mock: { tokens: 8, ttft_ms: 0, itl_ms: 250 } }),
    headers: AUTH,
  });
  try {
    assert.equal(s.status, 200);
    assert.match(s.headers['content-type'] ?? '', /text\/event-stream/);
    await s.waitFor((t) => sseData(t).length >= 1, 5000, 'the first SSE event');
    const mid = await mock.stats();
    assert.ok(mid.inflight >= 1, `mock still has the stream in flight (inflight=${mid.inflight})`);
    assert.equal(mid.streams_completed, base.streams_completed, 'the upstream stream has not finished yet');
    assert.ok(!s.text.includes('[DONE]'));
    await s.waitFor((t) => t.includes('data: [DONE]'), 10000, '[DONE]');
    await s.waitEnd(5000);
    const events = sseData(s.text);
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.ok(chunks.length >= 8, `got ${chunks.length} chunks`);
    for (const c of chunks) assert.equal(c.model, 'mock-model');
    // Delivered over time, not in one piece at the end.
    assert.ok(s.chunks.length >= 2, 'body arrived in several reads');
  } finally {
    s.destroy();
  }
});

test('streaming: a client that disconnects cancels the upstream stream', async () => {
  const base = await mock.stats();
  const s = await openStream(`${sluice.url}/v1/chat/completions`, {
    body: chatBody('chat-a', { stream: true, mock: { tokens: 200, ttft_ms: 0, itl_ms: 50 } }),
    headers: AUTH,
  });
  await s.waitFor((t) => sseData(t).length >= 2, 5000, 'two SSE events');
  s.destroy();
  // 200 tokens x 50 ms = 10 s if it ran to completion; the abort must show well before.
  const st = await pollUntil(async () => {
    const x = await mock.stats();
    return x.streams_aborted > base.streams_aborted ? x : null;
  }, { timeoutMs: 5000, what: 'mock streams_aborted to increase' });
  assert.equal(st.streams_completed, base.streams_completed);
  await pollUntil(async () => (await mock.stats()).inflight === 0, { timeoutMs: 5000, what: 'mock inflight 0' });
  await assertServing();
});

test('upstream reset before the response: 502 upstream_reset', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`,
    chatBody('chat-a', { mock: { fault: 'reset-before' } }), AUTH);
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { code: 'upstream_reset', type: 'upstream_error' });
  await assertServing();
});

test('upstream reset during a plain response: 502 upstream_reset', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`,
    chatBody('chat-a', { mock: { fault: 'reset-during' } }), AUTH);
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { code: 'upstream_reset', type: 'upstream_error' });
  await assertServing();
});

test('upstream reset during a stream: in-band error event, no [DONE], stream ends', async () => {
  const s = await openStream(`${sluice.url}/v1/chat/completions`, {
    body: chatBody('chat-a', { stream: true, mock: { fault: 'reset-during', tokens: 20, itl_ms: 5 } }),
    headers: AUTH,
  });
  try {
    assert.equal(s.status, 200);
    await s.waitEnd(10000);
    const events = sseData(s.text);
    assert.ok(!events.includes('[DONE]'), `no [DONE] after a reset:\n${s.text}`);
    const last = events.at(-1);
    assert.ok(last, `an error event ends the stream:\n${s.text}`);
    const e = assertOpenAIError(last, { code: 'upstream_reset' });
    assert.equal(e.type, 'upstream_error');
  } finally {
    s.destroy();
  }
  await assertServing();
});

test('upstream refuses the connection: 502 upstream_connect_error', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('dead'), AUTH);
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { code: 'upstream_connect_error', type: 'upstream_error' });
  const s = await post(`${sluice.url}/v1/chat/completions`, chatBody('dead', { stream: true }), AUTH);
  assert.equal(s.status, 502, `streaming request, nothing sent yet: ${s.text}`);
  assertOpenAIError(s.text, { code: 'upstream_connect_error' });
  await assertServing();
});

test('upstream that does not speak HTTP: 502 upstream_protocol_error', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('garbage'), AUTH);
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { code: 'upstream_protocol_error', type: 'upstream_error' });
  await assertServing();
});

test('upstream slower than the deployment timeout: 504 upstream_timeout', async () => {
  const t0 = Date.now();
  const r = await post(`${sluice.url}/v1/chat/completions`,
    chatBody('slow', { mock: { fault: 'stall', stall_ms: 8000 } }), AUTH, { timeoutMs: 8000 });
  assert.equal(r.status, 504, r.text);
  assertOpenAIError(r.text, { code: 'upstream_timeout' });
  assert.ok(Date.now() - t0 < 6000, 'answered near the 1 s timeout, not after the stall');
  await assertServing();
});

test('upstream error statuses are passed through with their body', async () => {
  for (const fault of ['429', '500', '503']) {
    const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('chat-a', { mock: { fault } }), AUTH);
    assert.equal(r.status, Number(fault), `${fault}: ${r.text}`);
    r.json();
  }
  await assertServing();
});
