// Memory that request bodies take from a worker: a per-worker budget for buffered bodies
// (a body that would overspend it gets 503 with Retry-After, read by the client thanks to
// the lingering close), a minimum body rate and an absolute body deadline (408), and a
// bound on worker RSS while many clients hold large, slowly finishing bodies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  startMock, startSluice, sluiceConfig, cleanup, rawConnect, post, chatBody, liveChildPids, assertOpenAIError,
  parseResponses, pollUntil,
} from './lib.mjs';
// Sanitizer builds keep freed memory in quarantine: RSS figures are not the product's.
const SANITIZED = fs.readFileSync(process.env.SLUICE_BIN).includes('__asan_init');

const MASTER = 'sk-budget';
after(cleanup);

let mock;
async function start(settings) {
  mock ??= await startMock(['--seed', '3', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1']);
  return startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } }, masterKey: MASTER, settings }), workers: 1 });
}

/** A chat request head announcing `len` body bytes; the body is a JSON document padded to len. */
function bigChat(len) {
  const base = JSON.stringify(chatBody('m', { user: '' }));
  const body = base.replace('"user":""', `"user":"${'u'.repeat(len - base.length)}"`);
  assert.equal(body.length, len);
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${MASTER}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
  return { head, body };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

test('budget: a second large body while one is buffered gets 503 + Retry-After; the first completes', async () => {
  const s = await start({ max_body_bytes: '1MiB', body_memory_budget: '1MiB' });
  try {
    const LEN = 700 * 1024;
    const a = bigChat(LEN);
    const ca = await rawConnect(s.port);
    await ca.write(a.head + a.body.slice(0, LEN / 2)); // holds 700 KiB of the budget
    // Wait until the worker has seen that body (its head is parsed once the bytes arrived).
    const b = bigChat(LEN);
    let res;
    await pollUntil(async () => {
      const cb = await rawConnect(s.port);
      try {
        await cb.write(b.head + b.body.slice(0, 64 * 1024));
        await cb.waitResponses(1, 5000);
        res = parseResponses(cb.data).complete[0];
        return true;
      } finally { cb.close(); }
    }, { timeoutMs: 10000, what: 'an answer to the second body' });
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers['retry-after'], '1');
    assertOpenAIError(res.body, { code: 'server_busy' });
    await ca.write(a.body.slice(LEN / 2));
    const [ra] = await ca.waitResponses(1, 10000);
    assert.equal(ra.status, 200, ra.body);
    ca.close();
    // The budget is given back: the same large body goes through now.
    const r = await post(`${s.url}/v1/chat/completions`, b.body, { authorization: `Bearer ${MASTER}` });
    assert.equal(r.status, 200, r.text);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('body_deadline: a body trickled under body_timeout still ends with 408 at the deadline', async () => {
  const s = await start({ body_timeout: '1s', body_deadline: '1500ms', body_min_rate: 0 });
  try {
    const a = bigChat(4096);
    const c = await rawConnect(s.port);
    await c.write(a.head);
    const t0 = Date.now();
    for (let i = 0; i < 40 && !c.closed && parseResponses(c.data).complete.length === 0; i++) {
      await c.write(a.body.slice(i, i + 1));
      await c.waitFor((x) => parseResponses(x.data).complete.length > 0, 300).catch(() => {});
    }
    const [r] = await c.waitResponses(1, 5000);
    assert.equal(r.status, 408, r.body);
    assertOpenAIError(r.body, { code: 'request_timeout', messageIncludes: ['deadline'] });
    assert.ok(Date.now() - t0 < 8000, 'answered near the deadline, not after the whole trickle');
    c.close();
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('body_min_rate: 1 byte every 2 s is refused after the 10 s window', async () => {
  const s = await start({ body_timeout: '5s', body_min_rate: 100 });
  try {
    const a = bigChat(4096);
    const c = await rawConnect(s.port);
    await c.write(a.head + a.body.slice(0, 10));
    for (let i = 10; i < 20 && parseResponses(c.data).complete.length === 0; i++) {
      await c.waitFor((x) => parseResponses(x.data).complete.length > 0, 2000).catch(() => {});
      if (!c.closed) await c.write(a.body.slice(i, i + 1));
    }
    const [r] = await c.waitResponses(1, 5000);
    assert.equal(r.status, 408, r.body);
    assertOpenAIError(r.body, { code: 'request_timeout', messageIncludes: ['too slowly'] });
    c.close();
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('RSS stays under 64 MiB + 2x max_body_bytes with 16 clients holding nearly whole 8 MiB bodies', async () => {
  const MAXB = 8 << 20;
  const s = await start({ max_body_bytes: '8MiB' });
  const conns = [];
  try {
    const [wpid] = liveChildPids(s.pid);
    assert.ok(wpid, 'worker pid');
    const a = bigChat(MAXB);
    const almost = a.head + a.body.slice(0, MAXB - 1);
    let peak = 0;
    for (let i = 0; i < 16; i++) {
      const c = await rawConnect(s.port);
      conns.push(c);
      await c.write(almost);
      peak = Math.max(peak, rssKiB(wpid));
    }
    // Every client has either been refused (503, read) or is being buffered; let the reads land.
    await pollUntil(() => conns.filter((c) => parseResponses(c.data).complete.length > 0).length >= 14,
      { timeoutMs: 20000, what: '14 clients refused (the default budget, 16 MiB, holds two)' });
    for (let i = 0; i < 10; i++) peak = Math.max(peak, rssKiB(wpid));
    const limitKiB = (64 << 10) + 2 * (MAXB >> 10);
    console.log(`# worker peak RSS ${peak} KiB (bound ${limitKiB} KiB)`);
    assert.ok(peak <= limitKiB, `worker peak RSS ${peak} KiB > ${limitKiB} KiB`);
    for (const c of conns) {
      const [r] = parseResponses(c.data).complete;
      if (r) assert.equal(r.status, 503, r.body);
    }
  } finally {
    for (const c of conns) c.close();
    assert.equal(await s.stop(), 0);
  }
});

test('memory goes back to the system after a large [0,0,...] body', { skip: SANITIZED && 'heap sizes mean nothing under ASan (own allocator, quarantine)' }, async () => {
  const s = await start({ max_body_bytes: '16MiB' });
  try {
    const [wpid] = liveChildPids(s.pid);
    const n = 2 << 20;
    const body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"pad":[${'0,'.repeat(n - 1)}0]}`;
    const r = await post(`${s.url}/v1/chat/completions`, body, { authorization: `Bearer ${MASTER}` }, { timeoutMs: 30000 });
    assert.ok(r.status < 600, r.text);
    const peak = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${wpid}/status`, 'utf8'))[1]);
    let now = 0;
    await pollUntil(() => (now = rssKiB(wpid)) < 32 << 10,
      { timeoutMs: 10000, what: `worker RSS under 32 MiB after the request (peak ${peak} KiB)` });
    console.log(`# 4 MiB [0,...] body: peak ${peak} KiB, after ${now} KiB`);
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('pipelined bytes behind a slow request are not buffered without bound (100 connections x 1 MiB)',
  { skip: SANITIZED && 'heap sizes mean nothing under ASan (own allocator, quarantine)' }, async () => {
  const slow = await startMock(['--seed', '3', '--tokens', '2', '--p-stall', '1', '--stall-ms', '8000']);
  const s = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: slow.port } } }), workers: 1 });
  const conns = [];
  try {
    const [wpid] = liveChildPids(s.pid);
    const before = rssKiB(wpid);
    const b = JSON.stringify(chatBody('m'));
    const req = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${b.length}\r\n\r\n${b}`;
    for (let i = 0; i < 100; i++) {
      const c = await rawConnect(s.port);
      conns.push(c);
      c.sock.write(req);
      c.sock.write(Buffer.alloc(1 << 20, 0x41));
    }
    let peak = 0;
    for (let i = 0; i < 10; i++) { // the requests stall for 8 s: sample while they are held
      peak = Math.max(peak, rssKiB(wpid));
      await new Promise((r) => setTimeout(r, 200));
    }
    const grew = peak - before;
    console.log(`# 100 x 1 MiB pipelined behind stalled requests: worker RSS +${grew} KiB`);
    assert.ok(grew < 32 << 10, `worker RSS grew by ${grew} KiB`);
  } finally {
    for (const c of conns) c.close();
    assert.equal(await s.stop(), 0);
    await slow.stop();
  }
});

test.after(async () => { if (mock) await mock.stop(); });
