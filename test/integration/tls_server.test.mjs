// HTTPS for clients: sluice_settings.tls names a server certificate made here (test CA,
// SANs localhost + 127.0.0.1, openssl CLI). Clients that trust the CA (node https with
// `ca`, curl --cacert) get chat, streaming and keep-alive over TLS; a client that does not
// trust it fails the handshake; plain HTTP to the TLS port and a silent client are
// disconnected; none of it disturbs serving. SIGHUP with new files serves the new
// certificate; SIGHUP with a broken one fails the reload and keeps the old. The config
// loader rejects a tls mapping with a missing, unreadable or mismatched file, naming the key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import path from 'node:path';
import {
  startMock, startSluice, sluiceConfig, cleanup, mkTmpDir, rawConnect, runCommand, sseData,
  chatBody, HOST, SLUICE_BIN,
} from './lib.mjs';

let dir;
let mock;
let s;    // sluice with TLS
let ca;   // the test CA, PEM

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A server certificate signed by the test CA: NAME.crt, NAME.key. */
function makeServerCert(name, cn) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n'
    + 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
}

function makeCerts() {
  openssl('req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
    '-subj', '/CN=sluice test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  makeServerCert('first', 'sluice first');
  makeServerCert('second', 'sluice second');
  // the files sluice is configured with; replaced by the reload test
  fs.copyFileSync(path.join(dir, 'first.crt'), path.join(dir, 'server.crt'));
  fs.copyFileSync(path.join(dir, 'first.key'), path.join(dir, 'server.key'));
}

/** One HTTPS request. agent: false (a fresh connection) unless given. */
function httpsRequest(port, { method = 'POST', urlPath = '/v1/chat/completions', body, agent = false,
  trust = true, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({
      host: HOST, port, method, path: urlPath, agent,
      ...(trust ? { ca } : {}),
      ...(agent ? {} : { servername: 'localhost' }),
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'),
        reused: req.reusedSocket, localPort: req.socket?.localPort,
      }));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('socket timeout')));
    req.end(data);
  });
}

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The SHA-256 fingerprint of the certificate sluice presents now. */
function peerFingerprint(port) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: HOST, port, ca, servername: 'localhost' }, () => {
      const fp = sock.getPeerCertificate().fingerprint256;
      sock.destroy();
      resolve(fp);
    });
    sock.on('error', reject);
  });
}

function fingerprintOf(file) {
  return new crypto.X509Certificate(fs.readFileSync(path.join(dir, file))).fingerprint256;
}

function tlsSettings(extra = {}) {
  return {
    tls: { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') },
    header_timeout: '2s',
    ...extra,
  };
}

before(async () => {
  dir = mkTmpDir('sluice-tls-server-');
  makeCerts();
  ca = fs.readFileSync(path.join(dir, 'ca.crt'));
  mock = await startMock(['--tokens', '3']);
  s = await startSluice({
    yaml: sluiceConfig({ groups: { m: { port: mock.port } }, settings: tlsSettings() }),
    workers: 2,
  });
});

after(async () => {
  try {
    if (s) assert.equal(await s.stop(), 0);
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

test('HTTPS chat with a client that trusts the CA', async () => {
  const r = await httpsRequest(s.port, { body: chatBody('m') });
  assert.equal(r.status, 200, r.text);
  const j = JSON.parse(r.text);
  assert.equal(j.object, 'chat.completion');
  assert.ok(j.choices[0].message.content.length > 0);
  const h = await httpsRequest(s.port, { method: 'GET', urlPath: '/health/liveliness' });
  assert.equal(h.status, 200, h.text);
});

test('HTTPS streaming: every SSE event arrives, ending in [DONE]', async () => {
  const r = await httpsRequest(s.port, { body: chatBody('m', { stream: true }) });
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  const events = sseData(r.text);
  assert.equal(events.at(-1), '[DONE]', r.text);
  assert.ok(events.length >= 3, r.text);
});

test('keep-alive: two requests on one TLS connection', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca, servername: 'localhost' });
  try {
    const a = await httpsRequest(s.port, { body: chatBody('m'), agent });
    const b = await httpsRequest(s.port, { body: chatBody('m', { stream: true }), agent });
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(sseData(b.text).at(-1), '[DONE]');
    assert.equal(b.reused, true, 'the second request reused the connection');
    assert.equal(a.localPort, b.localPort);
  } finally {
    agent.destroy();
  }
});

test('large bodies over TLS: a ~1 MB answer, a long stream and a 1 MB request', async () => {
  const big = await httpsRequest(s.port, { body: chatBody('m', { mock: { tokens: 200000 } }) });
  assert.equal(big.status, 200, big.text.slice(0, 500));
  assert.equal(Buffer.byteLength(big.text), Number(big.headers['content-length']));
  const content = JSON.parse(big.text).choices[0].message.content;
  assert.ok(content.length > 600000, `answer of ${content.length} chars`);
  const st = await httpsRequest(s.port, { body: chatBody('m', { stream: true, mock: { tokens: 20000 } }) });
  assert.equal(st.status, 200);
  const events = sseData(st.text);
  assert.equal(events.at(-1), '[DONE]');
  assert.ok(events.length > 20000, `${events.length} events`);
  const longPrompt = chatBody('m');
  longPrompt.messages[0].content = 'x'.repeat(1 << 20);
  const up = await httpsRequest(s.port, { body: longPrompt });
  assert.equal(up.status, 200, up.text.slice(0, 500));
});

test('curl --cacert: chat and streaming; without the CA curl refuses the certificate', async () => {
  const url = `https://localhost:${s.port}/v1/chat/completions`;
  const body = JSON.stringify(chatBody('m'));
  const r = await curl(['--cacert', path.join(dir, 'ca.crt'), '-H', 'content-type: application/json',
    '-d', body, url]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).object, 'chat.completion');
  const st = await curl(['-N', '--cacert', path.join(dir, 'ca.crt'), '-H', 'content-type: application/json',
    '-d', JSON.stringify(chatBody('m', { stream: true })), url]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal(sseData(st.stdout).at(-1), '[DONE]', st.stdout);
  // two URLs on one command line: curl reuses the TLS connection
  const two = await curl(['-v', '--cacert', path.join(dir, 'ca.crt'), `https://127.0.0.1:${s.port}/health/liveliness`,
    `https://127.0.0.1:${s.port}/health/liveliness`]);
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stderr, /Re-using existing connection|Reusing existing/i, two.stderr);
  const untrusted = await curl(['-H', 'content-type: application/json', '-d', body, url]);
  assert.equal(untrusted.code, 60, `curl exit 60 (peer certificate cannot be authenticated): ${untrusted.stderr}`);
});

test('a client that does not trust the CA fails the handshake; sluice keeps serving', async () => {
  await assert.rejects(httpsRequest(s.port, { body: chatBody('m'), trust: false }),
    (e) => /self[- ]signed|unable to (get|verify)|SELF_SIGNED|UNABLE_TO/i.test(`${e.code} ${e.message}`));
  const r = await httpsRequest(s.port, { body: chatBody('m') });
  assert.equal(r.status, 200, r.text);
});

test('plain HTTP to the TLS port: the connection is closed with no HTTP answer; sluice keeps serving', async () => {
  for (let i = 0; i < 3; i++) {
    const c = await rawConnect(s.port);
    try {
      await c.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
        + 'Content-Length: 2\r\n\r\n{}');
      await c.waitClose(5000);
      assert.ok(!c.text.startsWith('HTTP/'), `no HTTP response on a TLS port: ${c.text.slice(0, 200)}`);
    } finally {
      c.close();
    }
  }
  // garbage that looks like a TLS record, and a handshake cut in the middle
  const c = await rawConnect(s.port);
  await c.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
  await c.waitClose(5000);
  c.close();
  const half = await rawConnect(s.port);
  await half.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  half.close();
  const r = await httpsRequest(s.port, { body: chatBody('m') });
  assert.equal(r.status, 200, r.text);
  assert.equal(s.exited, false);
});

test('a client that never starts the handshake is closed after header_timeout', async () => {
  const c = await rawConnect(s.port);
  const t0 = Date.now();
  try {
    await c.waitClose(6000);
    const ms = Date.now() - t0;
    assert.ok(ms >= 1500 && ms < 6000, `closed after ${ms} ms (header_timeout 2s)`);
  } finally {
    c.close();
  }
});

test('SIGHUP serves the replaced certificate; a broken one fails the reload and the old one stays', async () => {
  assert.equal(await peerFingerprint(s.port), fingerprintOf('first.crt'));
  fs.copyFileSync(path.join(dir, 'second.crt'), path.join(dir, 'server.crt'));
  fs.copyFileSync(path.join(dir, 'second.key'), path.join(dir, 'server.key'));
  s.proc.kill('SIGHUP');
  await s.waitLine((l) => l.msg === 'reloaded' && l.generation === 1, 10000, 'the "reloaded" line');
  assert.equal(await peerFingerprint(s.port), fingerprintOf('second.crt'));
  const r = await httpsRequest(s.port, { body: chatBody('m') });
  assert.equal(r.status, 200, r.text);

  // a key that does not belong to the certificate: the reload fails, nothing changes
  fs.copyFileSync(path.join(dir, 'first.key'), path.join(dir, 'server.key'));
  s.proc.kill('SIGHUP');
  const failed = await s.waitLine((l) => l.msg === 'reload failed', 10000, 'the "reload failed" line');
  assert.match(JSON.stringify(failed), /sluice_settings\.tls/);
  assert.equal(await peerFingerprint(s.port), fingerprintOf('second.crt'));
  fs.copyFileSync(path.join(dir, 'second.key'), path.join(dir, 'server.key'));
});

test('config: a missing, unreadable or mismatched tls file is an error naming the key', async () => {
  const cases = [
    [{ cert: path.join(dir, 'first.crt') }, /sluice_settings\.tls\.key.*required/],
    [{ key: path.join(dir, 'first.key') }, /sluice_settings\.tls\.cert.*required/],
    [{ cert: path.join(dir, 'nope.crt'), key: path.join(dir, 'first.key') }, /sluice_settings\.tls\.cert.*cannot read/],
    [{ cert: path.join(dir, 'first.crt'), key: path.join(dir, 'nope.key') }, /sluice_settings\.tls\.key.*cannot read/],
    [{ cert: path.join(dir, 'first.crt'), key: path.join(dir, 'second.key') }, /sluice_settings\.tls.*does not match/],
    [{ cert: path.join(dir, 'first.ext'), key: path.join(dir, 'first.key') }, /sluice_settings\.tls.*certificate/],
    [{ cert: path.join(dir, 'first.crt'), key: path.join(dir, 'first.key'), ciphers: 'x' }, /sluice_settings\.tls\.ciphers/],
  ];
  for (const [tlsCfg, re] of cases) {
    const f = path.join(dir, 'check.yaml');
    fs.writeFileSync(f, sluiceConfig({ groups: { m: { port: mock.port } }, settings: { tls: tlsCfg } }));
    const r = await runCommand(SLUICE_BIN, ['check', f]);
    assert.notEqual(r.code, 0, `sluice check accepted ${JSON.stringify(tlsCfg)}`);
    assert.match(r.stdout + r.stderr, re, JSON.stringify(tlsCfg));
  }
  const f = path.join(dir, 'check.yaml');
  fs.writeFileSync(f, sluiceConfig({ groups: { m: { port: mock.port } }, settings: tlsSettings() }));
  const ok = await runCommand(SLUICE_BIN, ['check', f]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
});
