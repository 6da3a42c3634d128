// HTTPS to providers: a test CA and server certificates made here with the openssl CLI, a
// node https server on 127.0.0.1 standing in for the provider. With
// sluice_settings.ca_file naming the test CA, requests succeed (SNI sent, certificate and
// host name verified); without it, or with a certificate for another name, or with a
// plain-HTTP peer, the answer is 502 upstream_tls_error, never a silent accept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import {
  startMock, startSluice, sluiceConfig, cleanup, mkTmpDir, post, request, openStream, sseData,
  assertOpenAIError, chatBody, HOST,
} from './lib.mjs';

let dir;
let good;  // https server, cert for localhost + 127.0.0.1
let wrong; // https server, cert for wrong.example only
let mock;  // plain HTTP peer
let withCa;
let withoutCa;

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

function makeCerts() {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
    '-subj', '/CN=sluice test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  for (const [name, san] of [['good', 'DNS:localhost,IP:127.0.0.1'], ['wrong', 'DNS:wrong.example']]) {
    fs.writeFileSync(path.join(dir, `${name}.ext`),
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${san.split(',')[0].slice(4)}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

/** A tiny OpenAI-ish provider over TLS that records what it received. */
async function startHttpsProvider(name) {
  const seen = [];
  const srv = https.createServer({
    key: fs.readFileSync(path.join(dir, `${name}.key`)),
    cert: fs.readFileSync(path.join(dir, `${name}.crt`)),
  }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json = {};
      try { json = JSON.parse(body); } catch { /* recorded as is */ }
      seen.push({ method: req.method, url: req.url, headers: req.headers, servername: req.socket.servername, json });
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
        return;
      }
      const base = { id: 'chatcmpl-tls', created: 1, model: json.model };
      if (json.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const word of ['secure', ' hello', ' world']) {
          res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: word }, finish_reason: null }] })}\n\n`);
        }
        res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'secure hello' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      }));
    });
  });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  return { srv, port: srv.address().port, seen };
}

function groups() {
  return {
    'tls-host': { api_base: `https://localhost:${good.port}/v1`, model: 'openai/tls-model', api_key: 'sk-tls' },
    'tls-ip': { api_base: `https://127.0.0.1:${good.port}/v1`, model: 'openai/tls-model', api_key: 'sk-tls' },
    'tls-wrong-name': { api_base: `https://localhost:${wrong.port}/v1`, model: 'openai/tls-model', api_key: 'sk-tls' },
    'tls-to-plain': { api_base: `https://127.0.0.1:${mock.port}/v1`, model: 'openai/mock-model', api_key: 'sk-tls' },
  };
}

before(async () => {
  dir = mkTmpDir('sluice-tls-');
  makeCerts();
  good = await startHttpsProvider('good');
  wrong = await startHttpsProvider('wrong');
  mock = await startMock(['--tokens', '3']);
  withCa = await startSluice({
    yaml: sluiceConfig({ groups: groups(), settings: { ca_file: path.join(dir, 'ca.crt'), connect_timeout: '2s' } }),
  });
  withoutCa = await startSluice({ yaml: sluiceConfig({ groups: groups(), settings: { connect_timeout: '2s' } }) });
});

after(async () => {
  try {
    if (withCa) assert.equal(await withCa.stop(), 0);
    if (withoutCa) assert.equal(await withoutCa.stop(), 0);
    if (mock) await mock.stop();
  } finally {
    for (const s of [good, wrong]) if (s) { s.srv.closeAllConnections(); s.srv.close(); }
    await cleanup();
  }
});

test('with ca_file: HTTPS by host name succeeds, with SNI and the deployment key', async () => {
  const before = good.seen.length;
  const r = await post(`${withCa.url}/v1/chat/completions`, chatBody('tls-host'));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().choices[0].message.content, 'secure hello');
  const got = good.seen[before];
  assert.ok(got, 'the provider received the request');
  assert.equal(got.servername, 'localhost', 'SNI names the host');
  assert.equal(got.headers.authorization, 'Bearer sk-tls');
  assert.equal(got.json.model, 'tls-model');
  assert.equal(got.url, '/v1/chat/completions');
});

test('with ca_file: HTTPS to an IP literal with an IP SAN succeeds', async () => {
  const r = await post(`${withCa.url}/v1/chat/completions`, chatBody('tls-ip'));
  assert.equal(r.status, 200, r.text);
});

test('with ca_file: streaming over TLS is passed through', async () => {
  const s = await openStream(`${withCa.url}/v1/chat/completions`, { body: chatBody('tls-host', { stream: true }) });
  try {
    assert.equal(s.status, 200);
    await s.waitEnd(10000);
    const events = sseData(s.text);
    assert.equal(events.at(-1), '[DONE]', s.text);
    const text = events.slice(0, -1).map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('');
    assert.equal(text, 'secure hello world');
  } finally {
    s.destroy();
  }
});

test('with ca_file: a certificate for another name is rejected (502 upstream_tls_error)', async () => {
  const before = wrong.seen.length;
  const r = await post(`${withCa.url}/v1/chat/completions`, chatBody('tls-wrong-name'));
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { code: 'upstream_tls_error', type: 'upstream_error' });
  assert.equal(wrong.seen.length, before, 'no request was sent over the unverified connection');
});

test('HTTPS to a plain-HTTP peer: 502 upstream_tls_error', async () => {
  const r = await post(`${withCa.url}/v1/chat/completions`, chatBody('tls-to-plain'));
  assert.equal(r.status, 502, r.text);
  assertOpenAIError(r.text, { type: 'upstream_error' });
  assert.ok(['upstream_tls_error', 'upstream_protocol_error', 'upstream_reset'].includes(JSON.parse(r.text).error.code), r.text);
});

test('without ca_file: the test CA is unknown, 502 upstream_tls_error', async () => {
  const before = good.seen.length;
  for (const g of ['tls-host', 'tls-ip']) {
    const r = await post(`${withoutCa.url}/v1/chat/completions`, chatBody(g));
    assert.equal(r.status, 502, `${g}: ${r.text}`);
    assertOpenAIError(r.text, { code: 'upstream_tls_error', type: 'upstream_error' });
  }
  assert.equal(good.seen.length, before, 'nothing was sent over an unverified connection');
});

test('sluice still serves after TLS failures', async () => {
  const r = await request(`${withoutCa.url}/health/liveliness`);
  assert.equal(r.status, 200, r.text);
  const ok = await post(`${withCa.url}/v1/chat/completions`, chatBody('tls-host'));
  assert.equal(ok.status, 200, ok.text);
});
