// The HTTP/1.1 server at its edges, over raw sockets: keep-alive, pipelining answered in
// order, chunked request bodies, Expect: 100-continue, and every error status with its
// OpenAI-shaped body (400 malformed / bad JSON / unknown model, 401, 404, 405, 408 slow
// headers and slow body, 413, 431). Errors on malformed, oversized or slow requests close
// the connection, and after each one sluice still answers a good request.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startMock, startSluice, sluiceConfig, raw, rawConnect, httpRequest, post, request,
  assertOpenAIError, findRecorded, nonce, chatBody, delay, stopSluiceAndMock, parseResponses } from './lib.mjs';

const MASTER = 'sk-edge';
const AUTH = { Authorization: `Bearer ${MASTER}` };
const MAX_BODY = 4096;
const MAX_HEADER = 2048;
let mock;
let sluice;

before(async () => {
  mock = await startMock(['--seed', '5', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1']);
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: { m: { port: mock.port, model: 'openai/mock-model', api_key: 'sk-up' } },
      masterKey: MASTER,
      settings: {
        max_body_bytes: MAX_BODY,
        max_header_bytes: MAX_HEADER,
        header_timeout: '1s',
        body_timeout: '1s',
        keepalive_timeout: '2s',
      },
    }),
    workers: 1,
  });
});

await stopSluiceAndMock(() => ({ sluice, mock }));

const chat = (extra = {}) => httpRequest('POST', '/v1/chat/completions', { headers: AUTH, body: chatBody('m', extra) });

async function assertServing() {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('m'), { authorization: `Bearer ${MASTER}` });
  assert.equal(r.status, 200, `sluice should keep serving: ${r.status} ${r.text}`);
}

/** Sends bytes, expects exactly one error response with status/code, then a close. */
async function expectErrorAndClose(bytes, status, code, { timeoutMs = 5000 } = {}) {
  const r = await raw(sluice.port, bytes, { timeoutMs });
  assert.ok(r.closed, `connection should be closed after ${status}; got:\n${r.text.slice(0, 2000)}`);
  assert.ok(r.responses.length >= 1, `a complete response; got:\n${r.text.slice(0, 2000)}`);
  const res = r.responses[0];
  assert.equal(res.status, status, r.text.slice(0, 2000));
  assertOpenAIError(res.body, { code });
  assert.match(res.headers['content-type'] ?? '', /application\/json/);
  return res;
}

test('keep-alive: several requests on one connection', async () => {
  const c = await rawConnect(sluice.port);
  try {
    for (let i = 1; i <= 3; i++) {
      await c.write(chat());
      const rs = await c.waitResponses(i);
      assert.equal(rs[i - 1].status, 200, rs[i - 1].body);
      assert.equal(rs[i - 1].json().object, 'chat.completion');
    }
    assert.ok(!c.closed, 'connection stays open');
  } finally {
    c.close();
  }
});

test('pipelining: requests sent at once are answered in order', async () => {
  const c = await rawConnect(sluice.port);
  try {
    await c.write(
      chat() +
      httpRequest('POST', '/v1/embeddings', { headers: AUTH, body: { model: 'm', input: 'x' } }) +
      httpRequest('GET', '/v1/models', { headers: AUTH }) +
      httpRequest('GET', '/health/liveliness') +
      httpRequest('POST', '/v1/completions', { headers: AUTH, body: { model: 'm', prompt: 'p' } }) +
      httpRequest('GET', '/nope', { headers: AUTH }));
    const rs = await c.waitResponses(6, 10000);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200, 404]);
    assert.equal(rs[0].json().object, 'chat.completion');
    assert.equal(rs[1].json().data[0].object, 'embedding');
    assert.equal(rs[2].json().data[0].object, 'model');
    assert.equal(rs[4].json().object, 'text_completion');
    assertOpenAIError(rs[5].body, { code: 'not_found' });
  } finally {
    c.close();
  }
});

// Answers made at once (no upstream) end as soon as the socket took them: the end of each
// starts the next pipelined request, whose answer ends at once too, and so on.
test('pipelining: 60 requests answered at once come back in order; Connection: close after the last', async () => {
  const kinds = [
    [httpRequest('GET', '/health/liveliness'), 200],
    [httpRequest('GET', '/nope', { headers: AUTH }), 404],
    [httpRequest('GET', '/v1/models', { headers: AUTH }), 200],
    [httpRequest('POST', '/health/liveliness', { body: {} }), 405],
    [httpRequest('GET', '/v1/models'), 401],
  ];
  const n = 60;
  const want = [];
  let bytes = '';
  for (let i = 0; i < n; i++) {
    const [req, st] = kinds[(i * 7) % kinds.length];
    bytes += req;
    want.push(st);
  }
  bytes += httpRequest('GET', '/health/liveliness', { headers: { Connection: 'close' } });
  want.push(200);
  bytes += httpRequest('GET', '/health/liveliness'); // after the close: never answered
  const c = await rawConnect(sluice.port);
  try {
    await c.write(bytes);
    const rs = await c.waitResponses(n + 1, 10000);
    await c.waitClose(5000);
    assert.equal(parseResponses(c.data).complete.length, n + 1, 'nothing answered after Connection: close');
    assert.deepEqual(rs.map((r) => r.status), want);
    for (let i = 0; i < n; i++) {
      if (want[i] === 404) assertOpenAIError(rs[i].body, { code: 'not_found' });
      if (want[i] === 405) assertOpenAIError(rs[i].body, { code: 'method_not_allowed' });
      if (want[i] === 401) assertOpenAIError(rs[i].body, { code: 'invalid_api_key' });
    }
    assert.match(rs[n].headers.connection ?? '', /close/i);
  } finally {
    c.close();
  }
  await assertServing();
});

test('chunked request body is reassembled and forwarded', async () => {
  const id = nonce('chunked');
  const body = JSON.stringify(chatBody('m', { user: id }));
  const parts = [body.slice(0, 7), body.slice(7, 30), body.slice(30)];
  const c = await rawConnect(sluice.port);
  try {
    await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
      'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const p of parts) {
      await c.write(`${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`);
    }
    await c.write('0\r\n\r\n');
    const [r] = await c.waitResponses(1);
    assert.equal(r.status, 200, r.body);
  } finally {
    c.close();
  }
  const rec = findRecorded(await mock.stats(), (b) => b?.user === id);
  assert.ok(rec, 'mock got the reassembled body');
  assert.equal(rec.json.model, 'mock-model');
});

test('Expect: 100-continue gets 100 Continue, then the response', async () => {
  const body = JSON.stringify(chatBody('m'));
  const c = await rawConnect(sluice.port);
  try {
    await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`);
    await c.waitFor((cc) => /^HTTP\/1\.1 100 /.test(cc.text) && cc.text.includes('\r\n\r\n'), 3000, '100 Continue');
    await c.write(body);
    const rs = await c.waitResponses(2);
    assert.equal(rs[0].status, 100);
    assert.equal(rs[1].status, 200, rs[1].body);
    assert.equal(rs[1].json().object, 'chat.completion');
  } finally {
    c.close();
  }
});

test('400 bad_request: malformed HTTP closes the connection', async () => {
  await expectErrorAndClose('GARBAGE\r\n\r\n', 400, 'bad_request');
  await expectErrorAndClose('GET / HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'bad_request');
  await expectErrorAndClose('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello', 400, 'bad_request');
  await expectErrorAndClose('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'bad_request');
  await assertServing();
});

test('400 invalid_json: a body that is not a JSON object', async () => {
  for (const body of ['{not json', '[1,2]', '"model"', '']) {
    const r = await post(`${sluice.url}/v1/chat/completions`, body, { authorization: `Bearer ${MASTER}` });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'invalid_json' });
  }
  await assertServing();
});

test('400 model_not_found names the model and the groups', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('zzz-unknown'), { authorization: `Bearer ${MASTER}` });
  assert.equal(r.status, 400, r.text);
  assertOpenAIError(r.text, { code: 'model_not_found', messageIncludes: ['zzz-unknown', 'm'] });
});

test('401 invalid_api_key: no key, wrong Bearer, wrong x-api-key', async () => {
  for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'nope' }, { authorization: 'Basic c2stZWRnZQ==' }]) {
    const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('m'), headers);
    assert.equal(r.status, 401, `${JSON.stringify(headers)}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'invalid_api_key', type: 'authentication_error' });
  }
});

test('404 not_found for unknown paths', async () => {
  for (const p of ['/nope', '/v1/nope', '/v2/chat/completions', '/v1/chat/completions/extra']) {
    const r = await request(`${sluice.url}${p}`, { headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(r.status, 404, `${p}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'not_found' });
  }
});

test('405 method_not_allowed with an Allow header', async () => {
  const cases = [['GET', '/v1/chat/completions', 'POST'], ['PUT', '/v1/embeddings', 'POST'],
    ['DELETE', '/v1/models', 'GET'], ['POST', '/health/liveliness', 'GET']];
  for (const [method, p, allow] of cases) {
    const r = await request(`${sluice.url}${p}`, { method, headers: { authorization: `Bearer ${MASTER}` } });
    assert.equal(r.status, 405, `${method} ${p}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'method_not_allowed' });
    assert.ok((r.headers.allow ?? '').split(/\s*,\s*/).includes(allow), `${method} ${p}: Allow: ${r.headers.allow}`);
  }
});

test('408 request_timeout: headers never completed', async () => {
  const t0 = Date.now();
  await expectErrorAndClose('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', 408, 'request_timeout');
  const dt = Date.now() - t0;
  assert.ok(dt >= 800, `not before header_timeout (${dt} ms)`);
  await assertServing();
});

test('408 request_timeout: slowloris, one header line every 300 ms', async () => {
  const c = await rawConnect(sluice.port);
  const t0 = Date.now();
  try {
    await c.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n');
    // header_timeout is 1 s for the whole head: dripping must not keep it open.
    for (let i = 0; i < 20 && !c.closed && Date.now() - t0 < 6000; i++) {
      await delay(300); // the drip itself is the test input, not synchronisation
      await c.write(`X-Drip-${i}: ${'a'.repeat(10)}\r\n`);
    }
    await c.waitClose(5000);
    const dt = Date.now() - t0;
    assert.ok(dt < 4000, `closed after ${dt} ms: the header timeout is not reset by each byte`);
    assert.match(c.text, /^HTTP\/1\.1 408 /);
  } finally {
    c.close();
  }
  await assertServing();
});

test('408 request_timeout: body stops arriving', async () => {
  const res = await (async () => {
    const c = await rawConnect(sluice.port);
    try {
      await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":');
      await c.waitClose(5000);
      return c;
    } finally {
      c.close();
    }
  })();
  assert.match(res.text, /^HTTP\/1\.1 408 /, res.text);
  const body = res.text.slice(res.text.indexOf('\r\n\r\n') + 4);
  assertOpenAIError(body, { code: 'request_timeout' });
  await assertServing();
});

test('413 request_too_large: declared Content-Length over max_body_bytes', async () => {
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`;
  await expectErrorAndClose(head, 413, 'request_too_large');
  await assertServing();
});

// Errors raised while reading a request (before any route ran) still come in the
// client's wire format: Anthropic clients of /v1/messages get Anthropic's error shape.
for (const path of ['/v1/messages', '/messages']) {
  test(`413 on ${path}: Anthropic-shaped, like every other error there`, async () => {
    const c = await rawConnect(sluice.port);
    try {
      await c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nx-api-key: ${MASTER}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`);
      await c.waitClose(5000);
    } finally {
      c.close();
    }
    assert.match(c.text, /^HTTP\/1\.1 413 /, c.text);
    const body = JSON.parse(c.text.slice(c.text.indexOf('\r\n\r\n') + 4));
    assert.equal(body.type, 'error', JSON.stringify(body));
    assert.equal(body.error.type, 'request_too_large', JSON.stringify(body));
    assert.ok(body.error.message.length > 0);
    await assertServing();
  });
}

test('413 request_too_large: chunked body growing over max_body_bytes', async () => {
  const chunk = 'a'.repeat(1000);
  let bytes = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
    'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let i = 0; i < 6; i++) bytes += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  await expectErrorAndClose(bytes, 413, 'request_too_large');
  await assertServing();
});

test('a body just under the limit is accepted', async () => {
  const pad = 'x'.repeat(MAX_BODY - 200);
  const body = JSON.stringify(chatBody('m', { user: pad }));
  assert.ok(Buffer.byteLength(body) <= MAX_BODY);
  const r = await post(`${sluice.url}/v1/chat/completions`, body, { authorization: `Bearer ${MASTER}` });
  assert.equal(r.status, 200, r.text);
});

test('431 request_header_fields_too_large: one huge header', async () => {
  await expectErrorAndClose(`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(MAX_HEADER + 100)}\r\n\r\n`,
    431, 'request_header_fields_too_large');
  await assertServing();
});

test('431 request_header_fields_too_large: too many headers', async () => {
  let h = '';
  for (let i = 0; i < 150; i++) h += `X-${i}: 1\r\n`;
  await expectErrorAndClose(`GET /v1/models HTTP/1.1\r\nHost: x\r\n${h}\r\n`, 431, 'request_header_fields_too_large');
  await assertServing();
});

test('idle keep-alive connections are closed after keepalive_timeout', async () => {
  const c = await rawConnect(sluice.port);
  try {
    await c.write(httpRequest('GET', '/health/liveliness'));
    await c.waitResponses(1);
    const t0 = Date.now();
    await c.waitClose(6000);
    assert.ok(Date.now() - t0 >= 1000, 'not closed long before keepalive_timeout (2 s)');
  } finally {
    c.close();
  }
});

test('HTTP/1.0 and Connection: close get one response, then close', async () => {
  for (const bytes of ['GET /health/liveliness HTTP/1.0\r\n\r\n',
    'GET /health/liveliness HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']) {
    const r = await raw(sluice.port, bytes);
    assert.ok(r.closed, `closed after: ${JSON.stringify(bytes)}`);
    assert.match(r.text, /^HTTP\/1\.[01] 200 /);
  }
});

test('a client that sends half a request and leaves does not disturb others', async () => {
  const c = await rawConnect(sluice.port);
  await c.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"mo');
  c.close();
  await assertServing();
});
