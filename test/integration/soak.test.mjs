// Reload storm: SIGHUP every 100 ms for 5 s (50 reloads, each a new generation of workers
// on the shared sockets) while clients keep sending whole and streamed chat completions
// over keep-alive and fresh connections. Not one request may fail; afterwards sluice still
// runs with exactly its 2 workers (every old generation drained and exited). Counter
// continuity across reloads is tested elsewhere (metrics). The long soak (200k requests,
// RSS and fds) is bench/scripts/soak, kept out of the test run.
// Bounded: 50 signals, load for at most the storm plus 2 s, every wait with a deadline.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import {
  startMock, startSluice, cleanup, sluiceConfig, chatBody, liveChildPids, pollUntil,
  withDeadline, delay, assertNoSanitizerReports,
} from './lib.mjs';

after(cleanup);

const SIGNALS = 50;
const EVERY_MS = 100;

/** One request; resolves {ok, status, what} and never rejects. Streams must end in [DONE]. */
function one(url, { agent, stream, i }) {
  const body = JSON.stringify(chatBody('m', stream ? { stream: true } : { user: `u${i}` }));
  return withDeadline(new Promise((resolve) => {
    const req = http.request(`${url}/v1/chat/completions`, {
      method: 'POST', agent, headers: { 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('error', (e) => resolve({ ok: false, status: res.statusCode, what: `response error ${e.code ?? e.message}` }));
      res.on('end', () => {
        const complete = stream ? text.includes('data: [DONE]') : /"choices"/.test(text);
        resolve({ ok: res.statusCode === 200 && complete, status: res.statusCode, what: text.slice(-200) });
      });
    });
    req.on('error', (e) => resolve({ ok: false, status: 0, what: `request error ${e.code ?? e.message}` }));
    req.setTimeout(15000, () => req.destroy(new Error('socket timeout')));
    req.end(body);
  }), 20000, 'one request').catch((e) => ({ ok: false, status: 0, what: e.message }));
}

test(`SIGHUP every ${EVERY_MS} ms (${SIGNALS} reloads) under load: zero failed requests, 2 workers after`, async (t) => {
  const mock = await startMock(['--latency-ms', '5', '--ttft-ms', '5', '--itl-ms', '2']);
  const yaml = (n) => sluiceConfig({
    groups: { m: { port: mock.port }, [`extra${n % 2}`]: { port: mock.port } },
    settings: { drain_timeout: '10s' },
  });
  const s = await startSluice({ yaml: yaml(0), workers: 2 });
  const keep = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const results = [];
  let stop = false;
  const loops = [];
  for (let c = 0; c < 8; c++) {
    loops.push((async () => {
      for (let i = 0; !stop && i < 100000; i++) {
        const r = await one(s.url, { agent: c < 5 ? keep : false, stream: (i + c) % 3 === 0, i });
        results.push(r);
      }
    })());
  }
  try {
    await pollUntil(() => results.length >= 50, { timeoutMs: 10000, what: '50 requests before the storm' });
    const before = results.length;
    for (let n = 1; n <= SIGNALS; n++) {
      fs.writeFileSync(s.configPath, yaml(n)); // every reload changes something
      s.proc.kill('SIGHUP');
      await delay(EVERY_MS); // the storm's own rhythm, not a synchronisation
      assert.equal(s.exited, false, `the master exited during the storm:\n${s.stderr.slice(-3000)}`);
    }
    // a little more load after the last signal, then stop
    const mark = results.length;
    await pollUntil(() => results.length >= mark + 50, { timeoutMs: 10000, what: '50 requests after the storm' });
    stop = true;
    await withDeadline(Promise.all(loops), 30000, 'the load loops to finish');
    const failed = results.filter((r) => !r.ok);
    const byWhat = {};
    for (const f of failed) byWhat[`${f.status} ${f.what}`] = (byWhat[`${f.status} ${f.what}`] ?? 0) + 1;
    const reloads = s.lines.filter((l) => l.msg === 'reloaded').length;
    t.diagnostic(`${results.length} requests (${results.length - before} during and after the storm), ` +
      `${failed.length} failed, ${reloads} reloads completed`);
    assert.ok(reloads >= 5, `the storm did reload sluice (signals may coalesce while one runs): ${reloads}`);
    assert.ok(results.length - before >= 100, `the load kept going through the storm: ${results.length - before}`);
    assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(byWhat, null, 1).slice(0, 3000)}`);
    // every old generation drains and exits; two workers remain and answer
    await pollUntil(() => liveChildPids(s.pid).length === 2,
      { timeoutMs: 30000, what: 'exactly 2 workers after the storm' });
    const last = await one(s.url, { agent: false, stream: false, i: -1 });
    assert.ok(last.ok, `a request after the storm: ${last.status} ${last.what}`);
  } finally {
    stop = true;
    await Promise.allSettled(loops);
    keep.destroy();
    const code = await s.stop();
    assertNoSanitizerReports('sluice', s.stderr);
    assert.equal(code, 0, `sluice exit code after SIGTERM\n${s.stderr.slice(-3000)}`);
    await mock.stop();
  }
});
