// Processes: the master forks the configured number of workers; a worker killed with
// SIGKILL under steady load is replaced and only requests in flight on it may fail;
// SIGTERM stops accepting, lets in-flight streams finish within drain_timeout, exits 0.
// Load loops here are bounded in request count and time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
  startMock, startSluice, sluiceConfig, cleanup, post, openStream, sseData, chatBody,
  liveChildPids, pollUntil, HOST,
} from './lib.mjs';

let mock;

before(async () => {
  mock = await startMock(['--seed', '11', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1', '--latency-ms', '15']);
});

after(async () => {
  try {
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

const config = (settings = {}) => sluiceConfig({
  groups: { m: { port: mock.port, model: 'openai/mock-model', api_key: 'sk-up' } },
  settings,
});

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('--workers N forks N workers, children of the master', async () => {
  const s = await startSluice({ yaml: config(), workers: 3 });
  try {
    assert.equal(s.workers, 3, `ready line: ${JSON.stringify(s.ready)}`);
    assert.equal(s.pid, s.proc.pid, 'the ready line comes from the master we started');
    const kids = await pollUntil(() => {
      const k = liveChildPids(s.pid);
      return k.length === 3 ? k : null;
    }, { timeoutMs: 5000, what: '3 worker processes' });
    for (const k of kids) assert.ok(alive(k));
    for (let i = 0; i < 6; i++) {
      const r = await post(`${s.url}/v1/chat/completions`, chatBody('m'));
      assert.equal(r.status, 200, r.text);
    }
  } finally {
    assert.equal(await s.stop(), 0, 'exit code after SIGTERM');
  }
});

test('sluice_settings.workers is used when --workers is not given', async () => {
  const s = await startSluice({ yaml: config({ workers: 2 }), workers: null });
  try {
    assert.equal(s.workers, 2);
    await pollUntil(() => liveChildPids(s.pid).length === 2, { timeoutMs: 5000, what: '2 workers' });
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

test('kill -9 of a worker under load: replaced, only in-flight requests fail', async (t) => {
  const s = await startSluice({ yaml: config(), workers: 2 });
  const CONCURRENCY = 4;
  const MAX_REQUESTS = 2000;
  const MAX_MS = 20000;
  const t0 = Date.now();
  const results = []; // {start, end, ok, status, err}
  let inflight = 0;
  let stop = false;
  let replacedAt = Infinity;

  async function client() {
    while (!stop && results.length + inflight < MAX_REQUESTS && Date.now() - t0 < MAX_MS) {
      const rec = { start: Date.now() };
      inflight++;
      try {
        const r = await post(`${s.url}/v1/chat/completions`, chatBody('m'), {}, { timeoutMs: 5000 });
        rec.ok = r.status === 200;
        rec.status = r.status;
        if (!rec.ok) rec.err = r.text.slice(0, 300);
      } catch (e) {
        rec.ok = false;
        rec.err = e.message;
      } finally {
        inflight--;
      }
      rec.end = Date.now();
      results.push(rec);
    }
  }

  try {
    const workers0 = await pollUntil(() => {
      const k = liveChildPids(s.pid);
      return k.length === 2 ? k : null;
    }, { timeoutMs: 5000, what: '2 workers' });
    const load = Promise.all(Array.from({ length: CONCURRENCY }, client));

    await pollUntil(() => results.filter((r) => r.ok).length >= 30, { timeoutMs: 10000, what: '30 successful requests before the kill' });
    const victim = workers0[0];
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');

    const replacement = await pollUntil(() => {
      const k = liveChildPids(s.pid);
      const fresh = k.filter((p) => !workers0.includes(p));
      return k.length === 2 && fresh.length === 1 ? fresh[0] : null;
    }, { timeoutMs: 10000, what: 'a replacement worker' });
    replacedAt = Date.now();
    assert.ok(!alive(victim), 'the killed worker is gone');
    assert.ok(alive(workers0[1]), 'the other worker kept running');
    assert.notEqual(replacement, victim);

    // Keep the load on until plenty of requests started after the replacement appeared.
    await pollUntil(() => results.filter((r) => r.start > replacedAt && r.ok).length >= 50 || stop,
      { timeoutMs: 10000, what: '50 successful requests after the replacement' });
    stop = true;
    await load;

    const failed = results.filter((r) => !r.ok);
    t.diagnostic(`${results.length} requests, ${failed.length} failed, replacement after ${replacedAt - killedAt} ms; failures (ms from kill): ${failed.map((f) => `${f.start - killedAt}..${f.end - killedAt} ${f.status ?? f.err}`).join("; ")}`);
    const failedAfter = failed.filter((r) => r.start > replacedAt);
    const detail = JSON.stringify(failed.slice(0, 10));
    assert.equal(failedAfter.length, 0, `requests started after the replacement failed: ${detail}`);
    // Each client has one request in flight at a time: at most CONCURRENCY were in flight
    // when the worker died.
    assert.ok(failed.length <= CONCURRENCY, `${failed.length} failures (> ${CONCURRENCY} in flight): ${detail}`);
    for (const f of failed) assert.ok(f.end >= killedAt, `a request failed before the kill: ${JSON.stringify(f)}`);
    assert.ok(results.length <= MAX_REQUESTS);
    assert.ok(!s.exited, 'the master survived');
  } finally {
    stop = true;
    assert.equal(await s.stop(), 0, 'exit code after SIGTERM');
  }
});

function connectRefused(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

test('SIGTERM: an in-flight stream finishes, new connections are refused, exit 0', async () => {
  const s = await startSluice({ yaml: config({ drain_timeout: '10s' }), workers: 2 });
  const stream = await openStream(`${s.url}/v1/chat/completions`, {
    body: chatBody('m', { stream: true, mock: { tokens: 10, ttft_ms: 0, itl_ms: 150 } }),
  });
  try {
    assert.equal(stream.status, 200);
    await stream.waitFor((t) => sseData(t).length >= 1, 5000, 'the first event');
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    await pollUntil(() => connectRefused(s.port), { timeoutMs: 3000, what: 'new connections to be refused while draining' });
    await stream.waitEnd(10000);
    const events = sseData(stream.text);
    assert.equal(events.at(-1), '[DONE]', `the stream completed:\n${stream.text}`);
    const content = events.slice(0, -1).map((e) => JSON.parse(e));
    assert.ok(content.length >= 10, `all tokens delivered (${content.length} chunks)`);
    const code = await s.stop({ signal: null, timeoutMs: 15000 });
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10000, 'exited once the stream was done, before drain_timeout');
  } finally {
    stream.destroy();
  }
});

test('SIGTERM: a stream longer than drain_timeout is cut, the master still exits 0', async () => {
  const s = await startSluice({ yaml: config({ drain_timeout: '1s' }), workers: 1 });
  const stream = await openStream(`${s.url}/v1/chat/completions`, {
    body: chatBody('m', { stream: true, mock: { tokens: 100, ttft_ms: 0, itl_ms: 100 } }),
  });
  try {
    await stream.waitFor((t) => sseData(t).length >= 1, 5000, 'the first event');
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const code = await s.stop({ signal: null, timeoutMs: 8000 });
    assert.equal(code, 0);
    const dt = Date.now() - t0;
    assert.ok(dt < 6000, `exited ${dt} ms after SIGTERM with drain_timeout 1s`);
    await stream.waitEnd(5000); // the client is not left hanging
    assert.ok(!sseData(stream.text).includes('[DONE]'), 'the stream did not complete');
  } finally {
    stream.destroy();
  }
});

test('SIGTERM with nothing in flight exits 0 promptly and takes the workers with it', async () => {
  const s = await startSluice({ yaml: config(), workers: 2 });
  const kids = await pollUntil(() => {
    const k = liveChildPids(s.pid);
    return k.length === 2 ? k : null;
  }, { timeoutMs: 5000, what: '2 workers' });
  const t0 = Date.now();
  assert.equal(await s.stop({ timeoutMs: 5000 }), 0);
  assert.ok(Date.now() - t0 < 3000);
  await pollUntil(() => kids.every((k) => !alive(k)), { timeoutMs: 3000, what: 'workers to exit' });
});
