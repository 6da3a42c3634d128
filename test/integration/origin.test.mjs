// Origin checks at route dispatch (a web page must not be able to use a sluice on the
// user's machine): without a master key only Host values naming this server (localhost,
// 127.0.0.1, [::1], the listen address, sluice_settings.allowed_hosts) are served, 421
// otherwise; request bodies must be declared application/json, 415 otherwise (OpenAI-
// shaped, Anthropic-shaped on /v1/messages). Health and metrics answer any Host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, sluiceConfig, cleanup, rawConnect, httpRequest, chatBody, assertOpenAIError,
} from './lib.mjs';

let mock;
let open;   // no master key
let keyed;  // with a master key
const MASTER = 'sk-origin';

before(async () => {
  mock = await startMock(['--seed', '4', '--tokens', '3', '--ttft-ms', '1', '--itl-ms', '1']);
  open = await startSluice({
    yaml: sluiceConfig({ groups: { m: { port: mock.port } }, settings: { allowed_hosts: ['api.internal.example'] } }),
    workers: 1,
  });
  keyed = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } }, masterKey: MASTER }), workers: 1 });
});

after(async () => {
  try {
    for (const s of [open, keyed]) if (s) assert.equal(await s.stop(), 0);
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

async function send(s, method, path, { host, headers = {}, body } = {}) {
  const c = await rawConnect(s.port);
  try {
    await c.write(httpRequest(method, path, { host, headers: { Connection: 'close', ...headers }, body }));
    const [r] = await c.waitResponses(1, 10000);
    return r;
  } finally {
    c.close();
  }
}

test('no master key: Host values that name this server are served', async () => {
  for (const host of [`localhost:${open.port}`, `127.0.0.1:${open.port}`, `[::1]:${open.port}`, 'localhost',
    `LOCALHOST:${open.port}`, 'api.internal.example', 'api.internal.example:443']) {
    const r = await send(open, 'POST', '/v1/chat/completions', { host, body: chatBody('m') });
    assert.equal(r.status, 200, `${host}: ${r.body}`);
  }
});

test('no master key: other Host values get 421 (DNS rebinding), also on GET /v1/models', async () => {
  for (const host of [`evil.example:${open.port}`, 'evil.example', `localhost:${open.port + 1}`,
    `127.0.0.1.evil.example:${open.port}`, `localhost:${open.port}x`, `api.internal.example.evil:${open.port}`]) {
    const r = await send(open, 'POST', '/v1/chat/completions', { host, body: chatBody('m') });
    assert.equal(r.status, 421, `${host}: ${r.body}`);
    assertOpenAIError(r.body, { code: 'misdirected_request' });
  }
  const r = await send(open, 'GET', '/v1/models', { host: 'evil.example' });
  assert.equal(r.status, 421, r.body);
});

test('health and metrics answer any Host', async () => {
  for (const p of ['/health/liveliness', '/health/readiness', '/metrics']) {
    const r = await send(open, 'GET', p, { host: 'sluice.default.svc:4000' });
    assert.equal(r.status, 200, `${p}: ${r.body}`);
  }
});

test('with a master key any Host is served (the key is the guard)', async () => {
  const r = await send(keyed, 'POST', '/v1/chat/completions', {
    host: 'evil.example', headers: { Authorization: `Bearer ${MASTER}` }, body: chatBody('m') });
  assert.equal(r.status, 200, r.body);
});

test('bodies must be application/json: 415 otherwise, with or without a master key', async () => {
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
    'application/jsonx', 'text/plain; a=application/json']) {
    for (const s of [open, keyed]) {
      const r = await send(s, 'POST', '/v1/chat/completions', {
        host: `127.0.0.1:${s.port}`, headers: { 'Content-Type': ct, Authorization: `Bearer ${MASTER}` },
        body: JSON.stringify(chatBody('m')) });
      assert.equal(r.status, 415, `${ct}: ${r.body}`);
      assertOpenAIError(r.body, { code: 'unsupported_media_type' });
    }
  }
  const r = await send(open, 'POST', '/v1/chat/completions', {
    host: `127.0.0.1:${open.port}`, headers: { 'Content-Type': 'Application/JSON; charset=utf-8' }, body: chatBody('m') });
  assert.equal(r.status, 200, r.body);
});

test('/v1/messages with text/plain: 415 in Anthropic shape', async () => {
  const r = await send(open, 'POST', '/v1/messages', {
    host: `localhost:${open.port}`, headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }) });
  assert.equal(r.status, 415, r.body);
  const b = JSON.parse(r.body);
  assert.equal(b.type, 'error', r.body);
  assert.equal(typeof b.error?.type, 'string', r.body);
});
