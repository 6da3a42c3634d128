// Operations: the systemd notify protocol against a fake NOTIFY_SOCKET (READY=1 only once
// every worker listens, RELOADING=1/READY=1 around a reload, STOPPING=1, WATCHDOG=1 only
// while the workers' loops answer), hot reload on SIGHUP under steady load (the new model
// is served, no request fails, streams opened before the reload finish), an invalid config
// on SIGHUP (nothing changes, the error is logged, secrets are not), graceful shutdown
// under load (streams finish, readiness turns 503 while draining, exit 0), log_file with
// SIGUSR1 reopening, and the shipped files: the systemd unit (systemd-analyze verify), the
// example config (sluice check) and the Kubernetes sidecar example (parsed and checked).
// Load loops here are bounded in request count and time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startMock, startSluice, sluiceConfig, cleanup, post, request, openStream, sseData, chatBody,
  liveChildPids, pollUntil, freePort, mkTmpDir, rawConnect, parseResponses, delay, runCommand,
  waitCondition, SLUICE_BIN, HOST,
} from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const DIST = path.join(ROOT, 'core', 'dist');

let mock;
const extraProcs = new Set();

before(async () => {
  mock = await startMock(['--seed', '7', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1', '--latency-ms', '5']);
});

after(async () => {
  for (const p of extraProcs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  try {
    if (mock) await mock.stop();
  } finally {
    await cleanup();
  }
});

const MASTER_KEY = 'sk-master-ops-test-0123456789';
const UPSTREAM_KEY = 'sk-upstream-secret-9876543210';

function config({ groups = ['m'], settings = {}, masterKey } = {}) {
  const g = {};
  for (const name of groups) g[name] = { port: mock.port, model: 'openai/mock-model', api_key: UPSTREAM_KEY };
  return sluiceConfig({ groups: g, settings, masterKey });
}

function alive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ fake NOTIFY_SOCKET

// Binds an AF_UNIX datagram socket (node has none) and prints one JSON line per datagram.
// On READY=1 it connects to the sluice port at once and reports whether that worked, so
// "READY only once the workers listen" is checked at the moment the message arrives.
const NOTIFY_PY = String.raw`
import json, socket, sys, time
path, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(('\0' + path[1:]) if path.startswith('@') else path)
print(json.dumps({"event": "bound"}), flush=True)
while True:
    data = s.recv(65536).decode()
    rec = {"t": time.monotonic(), "msg": data, "fields": dict(l.split("=", 1) for l in data.split("\n") if "=" in l)}
    if rec["fields"].get("READY") == "1" and port:
        c = socket.socket()
        c.settimeout(2)
        try:
            c.connect(("127.0.0.1", port))
            rec["connect"] = "ok"
        except Exception as e:
            rec["connect"] = repr(e)
        finally:
            c.close()
    print(json.dumps(rec), flush=True)
`;

async function startNotifyListener(port, { abstract = false } = {}) {
  const dir = mkTmpDir('sluice-notify-');
  const sock = abstract ? `@sluice-test-${process.pid}-${Date.now()}` : path.join(dir, 'notify.sock');
  const proc = spawn('python3', ['-c', NOTIFY_PY, sock, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  extraProcs.add(proc);
  proc.on('exit', () => extraProcs.delete(proc));
  const st = { sock, proc, msgs: [], waiters: new Set(), stderr: '' };
  let partial = '';
  const notify = () => { for (const w of [...st.waiters]) w(); };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    partial += d;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      if (line.trim()) st.msgs.push(JSON.parse(line));
    }
    notify();
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { st.stderr += d; });
  st.wait = (pred, ms = 10000, what = 'a notify message', from = 0) =>
    waitCondition(st.waiters, (ok) => {
      const m = st.msgs.slice(from).find(pred);
      if (m) ok(m);
    }, ms, what, () => `notify messages so far: ${JSON.stringify(st.msgs.filter((x) => x.msg !== 'WATCHDOG=1'))}\n${st.stderr}`);
  st.datagrams = () => st.msgs.filter((m) => m.msg !== undefined);
  st.stop = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
  await st.wait((m) => m.event === 'bound', 10000, 'the notify listener to bind');
  return st;
}

// ------------------------------------------------------------------ steady load

/** Closed-loop load: `concurrency` clients, each sending one request after the other on a
 *  keep-alive agent (or a fresh connection each time), bounded by maxRequests and maxMs. */
function startLoad(url, { concurrency = 4, maxRequests = 4000, maxMs = 30000, keepAlive = true, models = () => 'm', headers = {}, stopOnRefused = false } = {}) {
  const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: concurrency }) : false;
  const results = [];
  let stop = false;
  const t0 = Date.now();
  function one(model) {
    return new Promise((resolve) => {
      const body = JSON.stringify(chatBody(model));
      const rec = { start: Date.now(), model };
      const req = http.request(`${url}/v1/chat/completions`, {
        method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          rec.status = res.statusCode;
          rec.ok = res.statusCode === 200;
          if (!rec.ok) rec.err = text.slice(0, 300);
          else {
            try { rec.served = JSON.parse(text).model; } catch { rec.ok = false; rec.err = `bad JSON: ${text.slice(0, 200)}`; }
          }
          rec.end = Date.now();
          resolve(rec);
        });
        res.on('error', (e) => { rec.ok = false; rec.err = e.message; rec.end = Date.now(); resolve(rec); });
      });
      req.on('error', (e) => { rec.ok = false; rec.err = `${e.code ?? ''} ${e.message}`; rec.reused = req.reusedSocket; rec.end = Date.now(); resolve(rec); });
      req.setTimeout(10000, () => req.destroy(new Error('client timeout')));
      req.end(body);
    });
  }
  async function client(k) {
    while (!stop && results.length < maxRequests && Date.now() - t0 < maxMs) {
      const r = await one(models(k, results.length));
      results.push(r);
      if (stopOnRefused && /ECONNREFUSED/.test(r.err ?? '')) return; // the server is gone for new connections
    }
  }
  const done = Promise.all(Array.from({ length: concurrency }, (_, k) => client(k)));
  return {
    results,
    async stop() {
      stop = true;
      await done;
      if (agent) agent.destroy();
      return results;
    },
    okCount: () => results.filter((r) => r.ok).length,
  };
}

function describeFailures(results) {
  return JSON.stringify(results.filter((r) => !r.ok).slice(0, 8));
}

// ------------------------------------------------------------------ systemd notify

test('NOTIFY_SOCKET: READY=1 (with MAINPID) only once every worker listens; WATCHDOG=1 only while workers answer; STOPPING=1', async () => {
  const port = await freePort();
  const nl = await startNotifyListener(port);
  const s = await startSluice({
    yaml: config(), workers: 2, args: ['--port', String(port)],
    env: { NOTIFY_SOCKET: nl.sock, WATCHDOG_USEC: '1000000' },
  });
  try {
    const ready = await nl.wait((m) => m.fields?.READY === '1', 5000, 'READY=1');
    const first = nl.datagrams()[0];
    assert.equal(first, ready, `READY=1 is the first message: ${JSON.stringify(nl.datagrams())}`);
    assert.equal(ready.connect, 'ok', `the port accepts connections when READY=1 arrives: ${ready.connect}`);
    assert.equal(Number(ready.fields.MAINPID), s.pid, 'MAINPID is the master');
    assert.match(ready.fields.STATUS ?? '', /2 workers/);
    // The workers are the master's children and every one of them answers.
    assert.equal(liveChildPids(s.pid).length, 2);
    const r = await request(`${s.url}/health/readiness`);
    assert.equal(r.status, 200);

    // WATCHDOG_USEC=1s: a ping every 0.5 s.
    await pollUntil(() => nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length >= 3, { timeoutMs: 5000, what: '3 WATCHDOG=1 pings' });

    // A worker whose loop does not run (SIGSTOP) stops the pings; they resume with it.
    const [victim] = liveChildPids(s.pid);
    process.kill(victim, 'SIGSTOP');
    try {
      await s.waitLine((l) => /watchdog: a worker does not answer/.test(l.msg ?? ''), 8000, 'the watchdog stall line');
      const n0 = nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length;
      await delay(1500);
      const n1 = nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length;
      assert.equal(n1, n0, 'no WATCHDOG=1 while a worker is stopped');
    } finally {
      process.kill(victim, 'SIGCONT');
    }
    const n2 = nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length;
    await pollUntil(() => nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length > n2, { timeoutMs: 5000, what: 'pings to resume' });

    const before = nl.msgs.length;
    s.proc.kill('SIGTERM');
    await nl.wait((m) => m.fields?.STOPPING === '1', 5000, 'STOPPING=1', before);
    assert.equal(await s.stop({ signal: null }), 0);
  } finally {
    if (!s.exited) await s.stop();
    nl.stop();
  }
});

test('NOTIFY_SOCKET in the abstract namespace (@name) works too; no watchdog pings without WATCHDOG_USEC', async () => {
  const port = await freePort();
  const nl = await startNotifyListener(port, { abstract: true });
  const s = await startSluice({ yaml: config(), workers: 1, args: ['--port', String(port)], env: { NOTIFY_SOCKET: nl.sock } });
  try {
    const ready = await nl.wait((m) => m.fields?.READY === '1', 5000, 'READY=1');
    assert.equal(ready.connect, 'ok');
    await delay(1200);
    assert.equal(nl.msgs.filter((m) => m.msg === 'WATCHDOG=1').length, 0, 'no pings unless systemd asked for them');
  } finally {
    assert.equal(await s.stop(), 0);
    nl.stop();
  }
});

// ------------------------------------------------------------------ hot reload

test('SIGHUP under steady load, twice: each new model is served, no request fails, an open stream finishes, old workers exit', async (t) => {
  const port = await freePort();
  const nl = await startNotifyListener(port);
  const settings = { drain_timeout: '10s' };
  const s = await startSluice({
    yaml: config({ groups: ['m'], settings }), workers: 2,
    args: ['--port', String(port)], env: { NOTIFY_SOCKET: nl.sock },
  });
  const loads = [];
  let stream;
  try {
    await nl.wait((m) => m.fields?.READY === '1', 5000, 'READY=1');
    let workers = liveChildPids(s.pid);
    assert.equal(workers.length, 2);
    assert.deepEqual((await request(`${s.url}/v1/models`)).json().data.map((d) => d.id), ['m']);

    // A stream that outlives both reloads (12 chunks, 150 ms apart).
    stream = await openStream(`${s.url}/v1/chat/completions`, {
      body: chatBody('m', { stream: true, mock: { tokens: 12, ttft_ms: 0, itl_ms: 150 } }),
    });
    assert.equal(stream.status, 200);
    await stream.waitFor((x) => sseData(x).length >= 1, 5000, 'the first event');

    // Steady load: keep-alive clients and clients on a fresh connection per request; each
    // client asks for the models that exist, the newest included.
    let active = ['m'];
    const models = (k, n) => active[(k + n) % active.length];
    loads.push(startLoad(s.url, { concurrency: 3, models }));
    loads.push(startLoad(s.url, { concurrency: 2, keepAlive: false, models }));
    const okCount = () => loads.reduce((a, l) => a + l.okCount(), 0);
    const all = () => loads.flatMap((l) => l.results);
    await pollUntil(() => okCount() >= 100, { timeoutMs: 10000, what: '100 requests before the first reload' });

    const steps = [['m', 'm2'], ['m', 'm2', 'm3']];
    for (const [i, groups] of steps.entries()) {
      const newest = groups.at(-1);
      fs.writeFileSync(s.configPath, config({ groups, settings }));
      const mark = nl.msgs.length;
      s.proc.kill('SIGHUP');
      const reloading = await nl.wait((m) => m.fields?.RELOADING === '1', 5000, 'RELOADING=1', mark);
      assert.match(reloading.fields.MONOTONIC_USEC ?? '', /^\d+$/, 'RELOADING=1 carries MONOTONIC_USEC');
      const ready = await nl.wait((m) => m.fields?.READY === '1', 15000, 'READY=1 after the reload', mark);
      assert.equal(ready.connect, 'ok');
      const line = await s.waitLine((l) => l.msg === 'reloaded' && l.generation === i + 1, 5000, `the "reloaded" line of generation ${i + 1}`);
      assert.equal(line.deployments, groups.length);
      t.diagnostic(`reload ${i + 1} took ${line.ms} ms`);

      // Once the reload is announced, every new connection meets the new config.
      const ids = (await request(`${s.url}/v1/models`)).json().data.map((d) => d.id);
      assert.deepEqual(ids.sort(), [...groups].sort());
      const r = await post(`${s.url}/v1/chat/completions`, chatBody(newest));
      assert.equal(r.status, 200, r.text);
      active = groups;

      // The old generation drains and exits; two new workers serve.
      const old = workers;
      await pollUntil(() => old.every((p) => !alive(p)), { timeoutMs: 15000, what: 'the old workers to exit' });
      workers = liveChildPids(s.pid);
      assert.equal(workers.length, 2);
      assert.ok(workers.every((p) => !old.includes(p)), 'new worker pids');
      const since = Date.now();
      await pollUntil(() => all().filter((x) => x.start >= since && x.model === newest && x.ok).length >= 20,
        { timeoutMs: 10000, what: `20 requests for ${newest} after reload ${i + 1}` });
    }
    const results = (await Promise.all(loads.map((l) => l.stop()))).flat();
    const failed = results.filter((r) => !r.ok);
    t.diagnostic(`${results.length} requests across two reloads, ${failed.length} failed`);
    assert.equal(failed.length, 0, `failed requests during the reloads: ${describeFailures(results)}`);

    await stream.waitEnd(10000);
    const events = sseData(stream.text);
    assert.equal(events.at(-1), '[DONE]', `the stream opened before the reloads completed:\n${stream.text}`);
    assert.ok(!s.exited, 'the master kept running');
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    if (stream) stream.destroy();
    assert.equal(await s.stop(), 0);
    nl.stop();
  }
});

test('SIGHUP with an invalid config: nothing changes, the error is logged without secrets', async () => {
  const s = await startSluice({ yaml: config({ groups: ['m'], masterKey: MASTER_KEY }), workers: 2 });
  try {
    const auth = { authorization: `Bearer ${MASTER_KEY}` };
    const workers = liveChildPids(s.pid);
    // A YAML integer where a string belongs: the loader names the key; the value is a secret.
    const bad = config({ groups: ['m', 'm2'], masterKey: MASTER_KEY }).replace(JSON.stringify(UPSTREAM_KEY), '987654321012345');
    assert.ok(bad.includes('987654321012345'));
    fs.writeFileSync(s.configPath, bad);
    s.proc.kill('SIGHUP');
    const err = await s.waitLine((l) => l.msg === 'reload failed', 5000, 'the "reload failed" line');
    assert.equal(err.level, 'error');
    assert.match(err.error, /api_key/, `the error names the key: ${err.error}`);
    assert.match(err.error, /config\.yaml:\d+/, `the error names file and line: ${err.error}`);

    // An api_base with credentials in it: refused, and the password is not echoed either.
    fs.writeFileSync(s.configPath, config({ groups: ['m'], masterKey: MASTER_KEY })
      .replace(`http://${HOST}:${mock.port}/v1`, `http://user:hunter2-secret@${HOST}:${mock.port}/v1`));
    const n = s.lines.length;
    s.proc.kill('SIGHUP');
    await s.waitLine((l) => l.msg === 'reload failed' && s.lines.indexOf(l) >= n, 5000, 'the second "reload failed" line');

    // Still the old config, the same workers, all answering.
    const models = (await request(`${s.url}/v1/models`, { headers: auth })).json().data.map((d) => d.id);
    assert.deepEqual(models, ['m']);
    const r = await post(`${s.url}/v1/chat/completions`, chatBody('m'), auth);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(liveChildPids(s.pid), workers, 'no worker was replaced');

    // A good config afterwards is applied.
    fs.writeFileSync(s.configPath, config({ groups: ['m', 'm2'], masterKey: MASTER_KEY }));
    s.proc.kill('SIGHUP');
    await s.waitLine((l) => l.msg === 'reloaded', 10000, 'the "reloaded" line');
    const r2 = await post(`${s.url}/v1/chat/completions`, chatBody('m2'), auth);
    assert.equal(r2.status, 200, r2.text);

    for (const secret of [MASTER_KEY, UPSTREAM_KEY, '987654321012345', 'hunter2-secret']) {
      assert.ok(!s.stdout?.includes?.(secret), 'stdout');
      const all = s.lines.map((l) => JSON.stringify(l)).join('\n') + s.stderr;
      assert.ok(!all.includes(secret), `the secret ${secret} appears in the logs:\n${all.split('\n').filter((l) => l.includes(secret)).join('\n')}`);
    }
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

// The route is added in core/request.c; until then this test skips itself.
test('POST /config/reload: 401 without the master key, 200 when reloaded, 400 with the loader\'s message when invalid', async (t) => {
  const s = await startSluice({ yaml: config({ groups: ['m'], masterKey: MASTER_KEY }), workers: 2 });
  try {
    const auth = { authorization: `Bearer ${MASTER_KEY}` };
    fs.writeFileSync(s.configPath, config({ groups: ['m', 'm2'], masterKey: MASTER_KEY }));
    const ok = await post(`${s.url}/config/reload`, {}, auth, { timeoutMs: 25000 });
    if (ok.status === 404 || ok.status === 501) {
      t.skip('POST /config/reload is not served yet');
      return;
    }
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json().status, 'reloaded');
    const noKey = await post(`${s.url}/config/reload`, {}, {});
    assert.equal(noKey.status, 401, noKey.text);
    const r = await post(`${s.url}/v1/chat/completions`, chatBody('m2'), auth);
    assert.equal(r.status, 200, r.text);

    fs.writeFileSync(s.configPath, config({ groups: ['m'], masterKey: MASTER_KEY, settings: { workers: 'many' } }));
    const bad = await post(`${s.url}/config/reload`, {}, auth, { timeoutMs: 25000 });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json().error.message, /sluice_settings\.workers/);
    const r3 = await post(`${s.url}/v1/chat/completions`, chatBody('m2'), auth);
    assert.equal(r3.status, 200, 'the previous config still serves');
  } finally {
    assert.equal(await s.stop(), 0);
  }
});

// ------------------------------------------------------------------ graceful shutdown

test('SIGTERM under load with streams open: the streams finish, nothing in flight fails, readiness is 503 while draining, exit 0', async (t) => {
  const s = await startSluice({ yaml: config({ settings: { drain_timeout: '10s' } }), workers: 2 });
  let load;
  const streams = [];
  try {
    for (let i = 0; i < 4; i++) {
      const st = await openStream(`${s.url}/v1/chat/completions`, {
        body: chatBody('m', { stream: true, mock: { tokens: 12, ttft_ms: 0, itl_ms: 100 } }),
      });
      assert.equal(st.status, 200);
      streams.push(st);
    }
    for (const st of streams) await st.waitFor((x) => sseData(x).length >= 1, 5000, 'a first event');
    // A request head in progress on each worker keeps a connection that is not idle when
    // the drain starts; finishing it afterwards asks the draining worker for readiness.
    const probes = [];
    for (let i = 0; i < 6; i++) {
      const c = await rawConnect(s.port);
      await c.write(`GET /health/readiness HTTP/1.1\r\nHost: ${HOST}\r\n`);
      probes.push(c);
    }

    load = startLoad(s.url, { concurrency: 4, keepAlive: true, stopOnRefused: true });
    await pollUntil(() => load.okCount() >= 50, { timeoutMs: 10000, what: '50 requests before SIGTERM' });
    const tTerm = Date.now();
    s.proc.kill('SIGTERM');
    await s.waitLine((l) => l.msg === 'shutting down', 5000, 'the "shutting down" line');
    await pollUntil(() => s.lines.filter((l) => l.msg === 'worker draining').length >= 2, { timeoutMs: 5000, what: 'both workers draining' });

    for (const c of probes) await c.write('\r\n');
    const answers = [];
    for (const c of probes) {
      const [resp] = await c.waitResponses(1, 5000);
      answers.push(resp.status);
      assert.match(resp.headers.connection ?? '', /close/i, 'a draining worker closes the connection');
      c.close();
    }
    assert.ok(answers.every((x) => x === 503), `readiness while draining: ${answers}`);

    // The load runs on through the drain (each client stops at its first refused connection).
    for (const st of streams) {
      await st.waitEnd(10000);
      const ev = sseData(st.text);
      assert.equal(ev.at(-1), '[DONE]', `a stream open at SIGTERM completed:\n${st.text}`);
      assert.ok(ev.length >= 13);
    }
    const results = await load.stop();
    const code = await s.stop({ signal: null, timeoutMs: 15000 });
    assert.equal(code, 0);

    // Requests answered before SIGTERM all succeeded; afterwards a new connection is
    // refused (nothing listens any more), or reset while connecting (it was still in the
    // kernel's accept queue of a listener that closed: never accepted, as refused), but
    // nothing the server had begun to answer failed.
    const failed = results.filter((r) => !r.ok);
    const neverAccepted = (r) => r.status === undefined &&
      (/ECONNREFUSED/.test(r.err ?? '') || (r.reused === false && /^ECONNRESET connect /.test(r.err ?? '')));
    const cut = failed.filter((r) => !neverAccepted(r));
    const kinds = {};
    for (const r of results) { const k = r.ok ? 'ok' : (r.status ?? r.err); kinds[k] = (kinds[k] ?? 0) + 1; }
    t.diagnostic(`${results.length} requests (${results.filter((r) => r.start >= tTerm).length} after SIGTERM): ${JSON.stringify(kinds)}`);
    assert.equal(cut.length, 0, `requests failed other than by a refused connection: ${describeFailures(cut)}`);
    assert.ok(failed.every((r) => r.end >= tTerm), 'nothing failed before SIGTERM');
  } finally {
    if (load) await load.stop();
    for (const st of streams) st.destroy();
    if (!s.exited) await s.stop();
  }
});

// ------------------------------------------------------------------ log file

test('sluice_settings.log_file: JSON lines go to the file; after a rename, SIGUSR1 reopens it in every process', async () => {
  const dir = mkTmpDir('sluice-logfile-');
  const logPath = path.join(dir, 'sluice.log');
  const cfgPath = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfgPath, config({ settings: { log_file: logPath } }));
  const port = await freePort();
  const proc = spawn(SLUICE_BIN, ['--config', cfgPath, '--host', HOST, '--port', String(port), '--workers', '2',
    '--data-dir', path.join(dir, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
  extraProcs.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r(code ?? 128)));
  const readLines = (p) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
  try {
    await pollUntil(() => readLines(logPath).some((l) => l.msg === 'ready'), { timeoutMs: 10000, what: '"ready" in the log file' });
    const url = `http://${HOST}:${port}`;
    for (let i = 0; i < 4; i++) assert.equal((await post(`${url}/v1/chat/completions`, chatBody('m'))).status, 200);
    await pollUntil(() => readLines(logPath).filter((l) => l.msg === 'access').length >= 4, { timeoutMs: 5000, what: '4 access lines' });

    fs.renameSync(logPath, `${logPath}.1`);
    assert.equal((await post(`${url}/v1/chat/completions`, chatBody('m'))).status, 200);
    proc.kill('SIGUSR1');
    const workers = liveChildPids(proc.pid);
    assert.equal(workers.length, 2);
    await pollUntil(() => {
      const pids = new Set(readLines(logPath).filter((l) => l.msg === 'log reopened').map((l) => l.pid));
      return pids.has(proc.pid) && workers.every((w) => pids.has(w));
    }, { timeoutMs: 5000, what: 'every process to reopen the log' });
    const rotatedSize = fs.statSync(`${logPath}.1`).size;
    for (let i = 0; i < 6; i++) assert.equal((await post(`${url}/v1/chat/completions`, chatBody('m'))).status, 200);
    await pollUntil(() => readLines(logPath).filter((l) => l.msg === 'access').length >= 6, { timeoutMs: 5000, what: 'access lines in the new file' });
    assert.equal(fs.statSync(`${logPath}.1`).size, rotatedSize, 'nothing more is written to the rotated file');
    assert.ok(readLines(`${logPath}.1`).filter((l) => l.msg === 'access').length >= 5);
    assert.equal(stdout, '', 'nothing on stdout when log_file is set');
  } finally {
    proc.kill('SIGTERM');
    const code = await Promise.race([exited, delay(15000).then(() => 'timeout')]);
    assert.equal(code, 0, `exit after SIGTERM\n${stderr}`);
    assert.doesNotMatch(stderr, /AddressSanitizer|LeakSanitizer|runtime error:/);
  }
  assert.ok(readLines(logPath).some((l) => l.msg === 'stopped'), 'the master logged "stopped" into the reopened file');
});

test('an unwritable log_file fails startup with a message naming the key', async () => {
  const dir = mkTmpDir('sluice-logfile-');
  const cfgPath = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfgPath, config({ settings: { log_file: path.join(dir, 'no', 'such', 'dir', 'x.log') } }));
  const r = await runCommand(SLUICE_BIN, ['--config', cfgPath, '--port', '0', '--workers', '1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /log_file/);
});

// ------------------------------------------------------------------ sluice probe

test('`sluice probe URL` exits 0 on a 2xx answer, 1 on 503 while draining or when nothing listens', async () => {
  const s = await startSluice({ yaml: config({ settings: { drain_timeout: '10s' } }), workers: 1 });
  let stream;
  try {
    const ok = await runCommand(SLUICE_BIN, ['probe', `${s.url}/health/readiness`]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^200 /);
    assert.equal((await runCommand(SLUICE_BIN, ['probe', `${s.url}/health/liveliness`])).code, 0);
    assert.equal((await runCommand(SLUICE_BIN, ['probe', `${s.url}/no/such/path`])).code, 1);
    assert.equal((await runCommand(SLUICE_BIN, ['probe', 'ftp://x/'])).code, 2);

    // Draining: the listener is closed, so the probe (a new connection) fails too, which
    // is what readiness should say.
    stream = await openStream(`${s.url}/v1/chat/completions`, {
      body: chatBody('m', { stream: true, mock: { tokens: 10, ttft_ms: 0, itl_ms: 100 } }),
    });
    await stream.waitFor((x) => sseData(x).length >= 1, 5000, 'the first event');
    s.proc.kill('SIGTERM');
    await s.waitLine((l) => l.msg === 'worker draining', 5000, 'the drain');
    const draining = await runCommand(SLUICE_BIN, ['probe', `${s.url}/health/readiness`]);
    assert.equal(draining.code, 1, draining.stdout + draining.stderr);
    await stream.waitEnd(10000);
    assert.equal(await s.stop({ signal: null }), 0);
  } finally {
    if (stream) stream.destroy();
    if (!s.exited) await s.stop();
  }
  const gone = await runCommand(SLUICE_BIN, ['probe', `http://${HOST}:${await freePort()}/health/liveliness`]);
  assert.equal(gone.code, 1);
});

// ------------------------------------------------------------------ shipped files

function parseUnit(text) {
  const out = {};
  let section = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) { section = m[1]; out[section] ??= {}; continue; }
    const i = line.indexOf('=');
    assert.ok(i > 0 && section, `unit line: ${line}`);
    const k = line.slice(0, i).trim();
    (out[section][k] ??= []).push(line.slice(i + 1).trim());
  }
  return out;
}

function findSystemdAnalyze() {
  const which = () => spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' }).stdout.trim();
  let bin = which();
  if (!bin && process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0) {
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'systemd'], {
      stdio: 'ignore', timeout: 300000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    bin = which();
  }
  return bin;
}

test('core/dist/sluice.service: Type=notify, reload, hardening, watchdog; passes systemd-analyze verify', async (t) => {
  const text = fs.readFileSync(path.join(DIST, 'sluice.service'), 'utf8');
  const u = parseUnit(text);
  const sv = u.Service;
  const one = (k) => { assert.ok(sv[k], `[Service] ${k} is set`); return sv[k].at(-1); };
  assert.equal(one('Type'), 'notify');
  assert.match(one('ExecStart'), /^\/usr\/bin\/sluice --config \/etc\/sluice\/sluice\.yaml --data-dir \/var\/lib\/sluice$/);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('StateDirectory'), 'sluice');
  assert.equal(one('DynamicUser'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ProtectHome'), 'yes');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('PrivateTmp'), 'yes');
  assert.equal(one('CapabilityBoundingSet'), '');
  assert.deepEqual(one('RestrictAddressFamilies').split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX']);
  assert.equal(one('WatchdogSec'), '30');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('LimitNOFILE'), '65536');
  assert.equal(one('KillMode'), 'mixed');
  assert.equal(u.Install.WantedBy.at(-1), 'multi-user.target');

  const analyze = findSystemdAnalyze();
  if (!analyze) {
    t.skip('systemd-analyze is not available (and could not be installed)');
    return;
  }
  // verify checks that ExecStart's binary exists: point it at the one under test.
  const dir = mkTmpDir('sluice-unit-');
  const unit = path.join(dir, 'sluice.service');
  fs.writeFileSync(unit, text.replaceAll('/usr/bin/sluice', SLUICE_BIN));
  const r = spawnSync(analyze, ['verify', unit], { encoding: 'utf8', timeout: 60000 });
  const out = `${r.stdout}${r.stderr}`;
  // Only complaints about this unit count (the host's other units are not ours).
  const ours = out.split('\n').filter((l) => l.includes('sluice.service'));
  assert.equal(r.status, 0, `systemd-analyze verify failed:\n${out}`);
  assert.deepEqual(ours, [], `systemd-analyze verify:\n${out}`);
});

test('core/dist/sluice.yaml passes `sluice check` (keys from the environment)', async () => {
  const r = await runCommand(SLUICE_BIN, ['check', path.join(DIST, 'sluice.yaml')], {
    env: { OPENAI_API_KEY: 'sk-a', OPENROUTER_API_KEY: 'sk-b', SLUICE_MASTER_KEY: 'sk-c' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(3 deployments\)/);
  assert.doesNotMatch(r.stderr, /warning/);
});

test('core/dist/k8s-sidecar.yaml: sluice beside the app on 127.0.0.1:4000, config from a ConfigMap, keys from a Secret, probes on the health endpoints', async () => {
  const { parseAllDocuments } = await import('yaml');
  const docs = parseAllDocuments(fs.readFileSync(path.join(DIST, 'k8s-sidecar.yaml'), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], 'YAML errors');
  const objs = docs.map((d) => d.toJS()).filter(Boolean);
  const byKind = (k) => objs.filter((o) => o.kind === k);
  for (const o of objs) {
    assert.equal(typeof o.apiVersion, 'string', `apiVersion of ${o.kind}`);
    assert.equal(typeof o.metadata?.name, 'string', `metadata.name of ${o.kind}`);
  }
  const [cm] = byKind('ConfigMap');
  const [secret] = byKind('Secret');
  const [dep] = byKind('Deployment');
  assert.ok(cm && secret && dep, 'a ConfigMap, a Secret and a Deployment');
  assert.equal(dep.apiVersion, 'apps/v1');
  const spec = dep.spec.template.spec;
  assert.deepEqual(dep.spec.selector.matchLabels, Object.fromEntries(Object.entries(dep.spec.template.metadata.labels)
    .filter(([k]) => k in dep.spec.selector.matchLabels)), 'the selector matches the pod labels');

  // sluice: a native sidecar (an init container that keeps running) or a plain container.
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const sluice = all.find((c) => c.name === 'sluice');
  const app = (spec.containers ?? []).find((c) => c.name !== 'sluice');
  assert.ok(sluice, 'a container named sluice');
  assert.ok(app, 'an application container');
  if ((spec.initContainers ?? []).includes(sluice)) assert.equal(sluice.restartPolicy, 'Always', 'a native sidecar keeps running');

  const args = sluice.args ?? sluice.command ?? [];
  const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
  assert.equal(flag('--host'), '127.0.0.1', 'sluice listens on loopback only');
  assert.equal(flag('--port'), '4000');
  const configArg = flag('--config');
  assert.ok(configArg, '--config is passed');

  // The config file comes from the ConfigMap, through a volume mounted where --config points.
  const mount = sluice.volumeMounts.find((vm) => configArg.startsWith(`${vm.mountPath.replace(/\/$/, '')}/`));
  assert.ok(mount, `a volume is mounted at ${path.dirname(configArg)}`);
  const vol = spec.volumes.find((v) => v.name === mount.name);
  assert.ok(vol?.configMap, 'that volume is the ConfigMap');
  assert.equal(vol.configMap.name, cm.metadata.name);
  const key = path.basename(configArg);
  const items = vol.configMap.items;
  const cmKey = items ? items.find((it) => it.path === key)?.key : key;
  assert.ok(cmKey && typeof cm.data?.[cmKey] === 'string', `the ConfigMap has the key ${cmKey}`);

  // The embedded config is a valid sluice config whose keys come from the Secret via env.
  const cfgText = cm.data[cmKey];
  const envNames = [...cfgText.matchAll(/os\.environ\/([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
  assert.ok(envNames.length >= 1, 'the config reads keys with os.environ/');
  const secretKeys = new Set(Object.keys({ ...(secret.stringData ?? {}), ...(secret.data ?? {}) }));
  const env = {};
  for (const n of new Set(envNames)) {
    const e = (sluice.env ?? []).find((x) => x.name === n);
    const fromAll = (sluice.envFrom ?? []).some((x) => x.secretRef?.name === secret.metadata.name && secretKeys.has(n));
    assert.ok(e?.valueFrom?.secretKeyRef || fromAll, `${n} comes from the Secret`);
    if (e) {
      assert.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name);
      assert.ok(secretKeys.has(e.valueFrom.secretKeyRef.key), `the Secret has the key ${e.valueFrom.secretKeyRef.key}`);
    }
    env[n] = 'sk-test';
  }
  const dir = mkTmpDir('sluice-k8s-');
  fs.writeFileSync(path.join(dir, key), cfgText);
  const chk = await runCommand(SLUICE_BIN, ['check', path.join(dir, key)], { env });
  assert.equal(chk.code, 0, `the ConfigMap's config passes sluice check: ${chk.stderr}`);
  assert.match(cfgText, /master_key/, 'the sidecar requires a key even on loopback');

  // Probes on the health endpoints, on the port sluice listens on. sluice listens on
  // loopback, which a kubelet httpGet probe (sent to the pod IP) cannot reach, so they run
  // `sluice probe URL` in the container.
  const probe = (p, pathWanted) => {
    assert.ok(p?.exec?.command, `${pathWanted}: an exec probe (an httpGet probe would go to the pod IP)`);
    const [bin, sub, url] = p.exec.command;
    assert.match(bin, /(^|\/)sluice$/);
    assert.equal(sub, 'probe');
    assert.equal(url, `http://127.0.0.1:4000${pathWanted}`);
  };
  probe(sluice.readinessProbe, '/health/readiness');
  probe(sluice.livenessProbe, '/health/liveliness');
  if (sluice.startupProbe) probe(sluice.startupProbe, '/health/readiness');

  // Modest resources, requests and limits.
  assert.equal(sluice.resources.requests.cpu, '100m');
  assert.equal(sluice.resources.requests.memory, '64Mi');
  assert.ok(sluice.resources.limits?.memory, 'a memory limit');
  assert.equal(sluice.securityContext?.runAsNonRoot, true);
  assert.equal(sluice.securityContext?.readOnlyRootFilesystem, true);
  // --data-dir points at a writable volume.
  const dataDir = flag('--data-dir');
  assert.ok(dataDir && sluice.volumeMounts.some((vm) => dataDir.startsWith(vm.mountPath)), '--data-dir is on a mounted volume');

  // The app reaches sluice on loopback.
  const appEnv = Object.fromEntries((app.env ?? []).map((e) => [e.name, e.value]));
  assert.ok(Object.values(appEnv).some((v) => /^http:\/\/127\.0\.0\.1:4000(\/v1)?$/.test(v ?? '')), 'the app is pointed at http://127.0.0.1:4000');
});
