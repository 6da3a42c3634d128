// File-descriptor exhaustion. A worker started under a low soft limit raises it to the
// hard limit. A worker whose descriptors are used up (here its limit is lowered to 128
// with prlimit, then 300 idle connections arrive) does not spin on accept errors, logs
// them once per interval, and serves ordinary requests again once descriptors free up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  startMock, startSluice, sluiceConfig, cleanup, request, liveChildPids, pollUntil, mkTmpDir, delay,
  SLUICE_BIN, HOST,
} from './lib.mjs';
// Sanitizer builds keep freed memory in quarantine: RSS figures are not the product's.
const SANITIZED = fs.readFileSync(process.env.SLUICE_BIN).includes('__asan_init');

let mock;
const procs = [];
after(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  if (mock) await mock.stop();
  await cleanup();
});

function nofile(pid) {
  const l = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((x) => x.startsWith('Max open files'));
  const [soft, hard] = l.replace('Max open files', '').trim().split(/\s+/);
  return { soft: Number(soft), hard: Number(hard) };
}

function cpuTicks(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

test('a worker raises its soft open-file limit to the hard limit', async () => {
  mock ??= await startMock(['--seed', '1', '--tokens', '2', '--ttft-ms', '1', '--itl-ms', '1']);
  const dir = mkTmpDir('sluice-fd-');
  const cfg = path.join(dir, 'c.yaml');
  fs.writeFileSync(cfg, sluiceConfig({ groups: { m: { port: mock.port } } }));
  const p = spawn('sh', ['-c', 'ulimit -Sn 256 && ulimit -Hn 4096 && exec "$0" "$@"', SLUICE_BIN,
    '--config', cfg, '--host', HOST, '--port', '0', '--workers', '1', '--data-dir', path.join(dir, 'd')],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  await pollUntil(() => /"msg":"ready"/.test(out), { timeoutMs: 20000, what: 'ready' });
  const [w] = liveChildPids(p.pid);
  assert.deepEqual(nofile(w), { soft: 4096, hard: 4096 }, out);
  p.kill('SIGTERM');
  await new Promise((r) => (p.exitCode !== null ? r() : p.on('exit', r)));
});

test('descriptors used up: no accept spin, one log line per interval, served again afterwards', async () => {
  mock ??= await startMock(['--seed', '1', '--tokens', '2', '--ttft-ms', '1', '--itl-ms', '1']);
  const s = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } } }), workers: 1 });
  const idle = [];
  try {
    const [w] = liveChildPids(s.pid);
    execFileSync('prlimit', ['--pid', String(w), '--nofile=128:128']);
    for (let i = 0; i < 300; i++) {
      const c = net.connect({ host: HOST, port: s.port });
      c.on('error', () => {});
      idle.push(c);
    }
    await pollUntil(() => idle.every((c) => c.readyState !== 'opening'), { timeoutMs: 10000, what: 'connects' });
    await s.waitLine((l) => /descriptor|accept/i.test(l.msg ?? ''), 10000, 'the accept-error log line');
    const t0 = cpuTicks(w);
    const started = Date.now();
    // Keep knocking while out of descriptors (each attempt is refused or waits).
    for (let i = 0; i < 20; i++) {
      const c = net.connect({ host: HOST, port: s.port });
      c.on('error', () => {});
      idle.push(c);
      await delay(100);
    }
    const ticks = cpuTicks(w) - t0;
    const secs = (Date.now() - started) / 1000;
    const hz = 100;
    console.log(`# out of descriptors: worker CPU ${(100 * ticks / hz / secs).toFixed(1)}% over ${secs.toFixed(1)} s`);
    assert.ok(ticks / hz / secs < 0.3, `worker used ${ticks} ticks in ${secs.toFixed(1)} s while out of descriptors`);
    const logs = s.lines.filter((l) => /descriptor|accept/i.test(l.msg ?? ''));
    assert.ok(logs.length <= 3, `accept errors logged once per interval, got ${logs.length} lines`);
    for (const c of idle) c.destroy();
    await pollUntil(async () => (await request(`${s.url}/v1/models`, { timeoutMs: 2000 })).status === 200,
      { timeoutMs: 15000, what: 'service again after the idle connections left' });
  } finally {
    for (const c of idle) c.destroy();
    assert.equal(await s.stop(), 0);
  }
});

test('idle and slowloris connections are closed within header_timeout, not keepalive_timeout', async () => {
  mock ??= await startMock(['--seed', '1', '--tokens', '2', '--ttft-ms', '1', '--itl-ms', '1']);
  const s = await startSluice({
    yaml: sluiceConfig({ groups: { m: { port: mock.port } }, settings: { header_timeout: '1s', keepalive_timeout: '60s' } }),
    workers: 1,
  });
  const socks = [];
  try {
    const closed = new Set();
    const answered = new Set();
    const t0 = Date.now();
    for (let i = 0; i < 400; i++) {
      const c = net.connect({ host: HOST, port: s.port });
      c.on('error', () => {});
      c.on('data', (d) => { if (/^HTTP\/1\.1 408 /.test(d.toString('latin1'))) answered.add(c); });
      c.on('close', () => closed.add(c));
      socks.push(c);
    }
    // Half of them trickle a request head, a byte every 200 ms (slowloris); half stay silent.
    const head = 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'x'.repeat(200);
    for (let i = 0; i < 30 && closed.size < socks.length; i++) {
      for (let k = 0; k < socks.length; k += 2) if (!socks[k].destroyed) socks[k].write(head[i]);
      await delay(200);
    }
    await pollUntil(() => closed.size === socks.length, { timeoutMs: 15000, what: `all closed (${closed.size})` });
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs < 12, `closed after ${secs} s`);
    assert.equal(answered.size, 200, 'every slowloris client read its 408');
    const r = await request(`${s.url}/v1/models`);
    assert.equal(r.status, 200);
  } finally {
    for (const c of socks) c.destroy();
    assert.equal(await s.stop(), 0);
  }
});

test('an idle connection costs the worker under 2 KiB (2,000 idle connections)', { skip: SANITIZED && 'heap sizes mean nothing under ASan (own allocator, quarantine)' }, async () => {
  mock ??= await startMock(['--seed', '1', '--tokens', '2', '--ttft-ms', '1', '--itl-ms', '1']);
  const s = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } } }), workers: 1 });
  const socks = [];
  try {
    const [w] = liveChildPids(s.pid);
    // One request first, so per-process one-time allocations are not counted.
    assert.equal((await request(`${s.url}/v1/models`)).status, 200);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${w}/status`, 'utf8'))[1]);
    const before = rss();
    for (let i = 0; i < 2000; i++) {
      const c = net.connect({ host: HOST, port: s.port });
      c.on('error', () => {});
      socks.push(c);
    }
    await pollUntil(() => socks.every((c) => c.readyState === 'open'), { timeoutMs: 15000, what: 'connects' });
    // Half of them have made a request and now idle on keep-alive.
    await Promise.all(socks.slice(0, 1000).map((c) => new Promise((res) => {
      c.once('data', res);
      c.write('GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    })));
    await pollUntil(async () => (await request(`${s.url}/v1/models`)).status === 200, { what: 'served' });
    // Freed parsers go back to the system on the worker's next heartbeat (1 s).
    let per = 0;
    await pollUntil(() => (per = (rss() - before) / 2000) < 2, { timeoutMs: 5000, what: 'RSS per idle connection < 2 KiB' })
      .catch((e) => assert.fail(`${per.toFixed(2)} KiB per idle connection: ${e.message}`));
    console.log(`# ${per.toFixed(2)} KiB per idle connection`);
  } finally {
    for (const c of socks) c.destroy();
    assert.equal(await s.stop(), 0);
  }
});
