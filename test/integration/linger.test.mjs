// Lingering close: a client still sending a body when sluice answers early (413 for a
// declared or chunked body over max_body_bytes, 431 for a head over max_header_bytes)
// must read that answer instead of a reset. sluice answers, half-closes (shutdown of
// its write side), and reads and discards what the client still sends, bounded in time
// and bytes, before closing. Real clients (node:http and curl) and 200 tries each way.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import https from 'node:https';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startMock, startSluice, sluiceConfig, mkTmpDir, withDeadline, post, chatBody, HOST, stopSluiceAndMock } from './lib.mjs';

const MASTER = 'sk-linger';
const MAX_BODY = 64 * 1024;
const BIG = 3 * 1024 * 1024; // far over the limit and over loopback socket buffers
let mock;
let sluice;
let bigFile;
const bigBody = Buffer.alloc(BIG, 0x61);

before(async () => {
  mock = await startMock(['--seed', '9', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1']);
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: { m: { port: mock.port } },
      masterKey: MASTER,
      settings: { max_body_bytes: MAX_BODY, max_header_bytes: 4096 },
    }),
    workers: 1,
  });
  bigFile = path.join(mkTmpDir('sluice-linger-'), 'big.bin');
  fs.writeFileSync(bigFile, bigBody);
});

await stopSluiceAndMock(() => ({ sluice, mock }));

/** POSTs a big body with node:http; resolves {status, body} once the response was read,
 *  or {error} when the connection failed before that. Never rejects. */
function nodePost({ chunked = false, headers = {} } = {}) {
  return withDeadline(new Promise((resolve) => {
    let done = false;
    const finish = (v) => { if (!done) { done = true; resolve(v); } };
    const h = { 'content-type': 'application/json', authorization: `Bearer ${MASTER}`, ...headers };
    if (!chunked) h['content-length'] = String(BIG);
    const req = http.request({ host: HOST, port: sluice.port, method: 'POST', path: '/v1/chat/completions',
      headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => finish({ error: e.code || e.message }));
    });
    req.on('error', (e) => finish({ error: e.code || e.message }));
    if (chunked) {
      for (let off = 0; off < BIG; off += 256 * 1024) req.write(bigBody.subarray(off, off + 256 * 1024));
      req.end();
    } else {
      req.end(bigBody);
    }
  }), 20000, 'an oversized POST to finish');
}

function curlPost(extraArgs = []) {
  return withDeadline(new Promise((resolve) => {
    const p = spawn('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'content-type: application/json',
      '-H', `authorization: Bearer ${MASTER}`, ...extraArgs, '--data-binary', `@${bigFile}`,
      `http://${HOST}:${sluice.port}/v1/chat/completions`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => {
      const i = out.lastIndexOf('\n');
      resolve({ code, status: Number(out.slice(i + 1)), body: out.slice(0, i), err });
    });
  }), 20000, 'curl to finish');
}

async function tries(n, conc, one) {
  const results = [];
  let next = 0;
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) {
      next++;
      results.push(await one());
    }
  }));
  return results;
}

function assertAll413(results, what) {
  const bad = results.filter((r) => r.error || r.status !== 413 || r.code);
  assert.equal(bad.length, 0,
    `${what}: ${bad.length} of ${results.length} clients did not read their 413: ${JSON.stringify(bad.slice(0, 3))}`);
  for (const r of results) assert.match(r.body, /request_too_large/);
}

test('node:http, declared Content-Length over the limit: 413 read, 0 resets in 200 tries', async () => {
  assertAll413(await tries(200, 4, () => nodePost()), 'content-length');
});

test('node:http, chunked body growing over the limit: 413 read in 100 tries', async () => {
  assertAll413(await tries(100, 4, () => nodePost({ chunked: true })), 'chunked');
});

test('curl without Expect (body sent at once): 413 read, 0 resets in 200 tries', async () => {
  const rs = await tries(200, 8, () => curlPost(['-H', 'Expect:']));
  assertAll413(rs, 'curl');
});

test('a head over max_header_bytes with a body behind it: 431 read', async () => {
  const rs = await tries(50, 4, () => nodePost({ headers: { 'x-pad': 'p'.repeat(8000) } }));
  const bad = rs.filter((r) => r.error || r.status !== 431);
  assert.equal(bad.length, 0, `${bad.length} of ${rs.length}: ${JSON.stringify(bad.slice(0, 3))}`);
});

test('over TLS: an oversized body gets its 413 read, 0 resets in 50 tries', async () => {
  const dir = mkTmpDir('sluice-linger-tls-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  const ca = fs.readFileSync(path.join(dir, 'c.pem'));
  const t = await startSluice({
    yaml: sluiceConfig({ groups: { m: { port: mock.port } }, masterKey: MASTER,
      settings: { max_body_bytes: MAX_BODY, tls: { cert: path.join(dir, 'c.pem'), key: path.join(dir, 'k.pem') } } }),
    workers: 1,
  });
  try {
    const one = () => withDeadline(new Promise((resolve) => {
      let done = false;
      const fin = (v) => { if (!done) { done = true; resolve(v); } };
      const req = https.request({ host: HOST, port: t.port, method: 'POST', path: '/v1/chat/completions', agent: false, ca,
        servername: 'localhost', headers: { 'content-type': 'application/json', authorization: `Bearer ${MASTER}`,
          'content-length': String(BIG) } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => fin({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on('error', (e) => fin({ error: e.code || e.message }));
      });
      req.on('error', (e) => fin({ error: e.code || e.message }));
      req.end(bigBody);
    }), 20000, 'an oversized HTTPS POST');
    assertAll413(await tries(50, 4, one), 'tls');
  } finally {
    assert.equal(await t.stop(), 0);
  }
});

test('sluice still serves after all of that', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('m'), { authorization: `Bearer ${MASTER}` });
  assert.equal(r.status, 200, r.text);
});
