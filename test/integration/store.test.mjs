// The two stores (store/lmdb_env.h): a damaged response cache is rebuilt empty while the
// virtual keys and the spend ledger (DATA_DIR/tenancy/) stay; a damaged tenancy store
// stops sluice from starting with a message that says how to recover, and the documented
// recovery (restore a `sluice store backup` file) brings keys and spend back; a cache
// damaged while serving is moved aside by the master's check after a worker crash. Also the
// master's restart back-off: one worker killed again and again while a client makes
// requests costs no refused connection and no failed request beyond those the killed
// worker held.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  startSluice, cleanup, mkTmpDir, runCommand, SLUICE_BIN, HOST, liveChildPids, delay, pollUntil, request, sluiceConfig,
} from './lib.mjs';
import { startMock } from './lib.mjs';
import { pricedConfig, newKey, chat, ledgerSpend, settle, admin, MASTER_AUTH } from './keys_lib.mjs';

after(cleanup);

function cacheConfig(port) {
  return pricedConfig({ m: { port } }, { extra: { litellm_settings: { cache: true, cache_params: { type: 'local', ttl: 600 } } } });
}

async function cacheEntries(url) {
  const r = await request(`${url}/cache/stats`, { headers: MASTER_AUTH });
  assert.equal(r.status, 200, `GET /cache/stats: ${r.text}`);
  return r.json().entries;
}

/** Starts sluice on dataDir, makes a key, spends with it (and fills the cache), stops it
 *  (SIGTERM flushes the ledger). Returns {key, spent}. */
async function seed(yaml, dataDir) {
  const s = await startSluice({ yaml, args: ['--data-dir', dataDir] });
  const k = await newKey(s.url, { key_alias: 'tenant' });
  let cost = 0;
  for (let i = 0; i < 3; i++) {
    const r = await chat(s.url, k.key, 'm', { extra: { messages: [{ role: 'user', content: `hello ${i}` }] } });
    assert.equal(r.status, 200, r.text);
    cost += r.cost;
  }
  assert.ok(cost > 0, 'the calls cost something');
  await pollUntil(async () => (await cacheEntries(s.url)) >= 3, { timeoutMs: 10000, what: 'cache entries' });
  const spent = await settle(() => ledgerSpend(s.url, k.token), cost);
  assert.equal(spent, cost, 'the ledger holds the spend');
  assert.equal(await s.stop(), 0, s.output());
  return { key: k.key, token: k.token, spent };
}

async function assertTenancyIntact(s, key, token, spent) {
  const r = await chat(s.url, key, 'm', { extra: { messages: [{ role: 'user', content: 'after' }] } });
  assert.equal(r.status, 200, `the key still works: ${r.text}`);
  const list = await admin(s.url).list();
  assert.equal(list.status, 200, list.text);
  assert.ok(JSON.stringify(list.body).includes(token), `key/list still has the key: ${list.text}`);
  assert.ok((await ledgerSpend(s.url, token)) >= spent, 'the ledger still holds the spend');
}

const damages = {
  'garbage meta pages': (f) => {
    const fd = fs.openSync(f, 'r+');
    fs.writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
    fs.closeSync(fd);
  },
  'truncated tail': (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)),
};

for (const [name, damage] of Object.entries(damages)) {
  test(`a damaged cache (${name}) is rebuilt empty; keys and spend stay`, async () => {
    const mock = await startMock();
    const yaml = cacheConfig(mock.port);
    const dataDir = path.join(mkTmpDir('sluice-store-'), 'data');
    const { key, token, spent } = await seed(yaml, dataDir);
    assert.ok(fs.existsSync(path.join(dataDir, 'tenancy', 'data.mdb')), 'the tenancy store has its own file');
    assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700, 'data dir 0700');
    assert.equal(fs.statSync(path.join(dataDir, 'tenancy', 'data.mdb')).mode & 0o777, 0o600, 'files 0600');
    damage(path.join(dataDir, 'data.mdb'));
    const s = await startSluice({ yaml, args: ['--data-dir', dataDir] });
    assert.ok(fs.readdirSync(dataDir).some((f) => f.startsWith('data.mdb.corrupt-')), 'the cache was moved aside');
    assert.equal(await cacheEntries(s.url), 0, 'the cache starts empty');
    await assertTenancyIntact(s, key, token, spent);
    assert.equal(await s.stop(), 0);
  });
}

test('a cache damaged while serving is moved aside by the check after a worker crash; keys and spend stay', async () => {
  const mock = await startMock();
  const yaml = cacheConfig(mock.port);
  const dataDir = path.join(mkTmpDir('sluice-store-'), 'data');
  const { key, token, spent } = await seed(yaml, dataDir);
  // a sanitizer build would turn the SIGSEGV into a report and exit(1): let it be a crash
  const asan = [process.env.ASAN_OPTIONS, 'handle_segv=0:handle_sigbus=0'].filter(Boolean).join(':');
  const s = await startSluice({ yaml, args: ['--data-dir', dataDir], env: { ASAN_OPTIONS: asan } });
  // every page but the two meta pages turns to garbage under the running worker
  const f = path.join(dataDir, 'data.mdb');
  const size = fs.statSync(f).size;
  const fd = fs.openSync(f, 'r+');
  fs.writeSync(fd, Buffer.alloc(size - 8192, 0xa5), 0, size - 8192, 8192);
  fs.closeSync(fd);
  const [worker] = liveChildPids(s.pid);
  process.kill(worker, 'SIGSEGV'); // as a read of a garbage page would
  const line = await s.waitLine((l) => l.msg === 'cache store check' && /aside/.test(String(l.detail)), 20000,
    'the crash check moving the cache aside');
  assert.match(line.detail, /damaged/);
  assert.ok(fs.readdirSync(dataDir).some((x) => x.startsWith('data.mdb.corrupt-')));
  // the worker that was started meanwhile may still map the old file: a lookup there can
  // crash it once more, after which it opens the fresh one
  await pollUntil(async () => (await chat(s.url, key, 'm', { extra: { messages: [{ role: 'user', content: 'x' }] } })).status === 200,
    { timeoutMs: 20000, intervalMs: 200, what: 'the key to work again' });
  await assertTenancyIntact(s, key, token, spent);
  assert.ok(!s.lines.some((l) => l.msg === 'cache store check' && /tenancy/.test(String(l.detail))));
  assert.equal(await s.stop(), 0);
});

test('a damaged tenancy store refuses to start with a message; a backup restores keys and spend', async () => {
  const mock = await startMock();
  const yaml = cacheConfig(mock.port);
  const root = mkTmpDir('sluice-store-');
  const dataDir = path.join(root, 'data');
  const { key, token, spent } = await seed(yaml, dataDir);
  const backup = path.join(root, 'tenancy-backup.mdb');
  const b = await runCommand(SLUICE_BIN, ['store', 'backup', '--data-dir', dataDir, backup]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(fs.statSync(backup).mode & 0o777, 0o600);
  const okCheck = await runCommand(SLUICE_BIN, ['store', 'check', '--data-dir', dataDir]);
  assert.equal(okCheck.code, 0, okCheck.stdout + okCheck.stderr);

  const tdata = path.join(dataDir, 'tenancy', 'data.mdb');
  const before = fs.readFileSync(tdata);
  damages['garbage meta pages'](tdata);
  const cfg = path.join(root, 'config.yaml');
  fs.writeFileSync(cfg, yaml);
  const r = await runCommand(SLUICE_BIN, ['--config', cfg, '--host', HOST, '--port', '0', '--workers', '1',
    '--data-dir', dataDir], { timeoutMs: 20000 });
  assert.notEqual(r.code, 0, 'sluice refuses to start');
  assert.match(r.stderr, /tenancy store is damaged/);
  assert.match(r.stderr, /sluice store backup/);
  assert.ok(fs.existsSync(tdata) && !fs.readdirSync(path.join(dataDir, 'tenancy')).some((f) => f.includes('corrupt')),
    'the damaged file is left where it is');
  assert.equal(fs.readFileSync(tdata).subarray(8192).compare(before.subarray(8192)), 0, 'and untouched');
  const bad = await runCommand(SLUICE_BIN, ['store', 'check', '--data-dir', dataDir]);
  assert.equal(bad.code, 1, bad.stdout);
  assert.match(bad.stdout, /tenancy .*damaged/);

  // The documented recovery: move the damaged file aside, drop the lock file, restore.
  fs.renameSync(tdata, `${tdata}.damaged`);
  fs.rmSync(path.join(dataDir, 'tenancy', 'lock.mdb'), { force: true });
  fs.copyFileSync(backup, tdata);
  const s = await startSluice({ yaml, args: ['--data-dir', dataDir] });
  await assertTenancyIntact(s, key, token, spent);
  assert.equal(await s.stop(), 0);
});

/** The client-side ports of the TCP connections process pid holds (its socket fds,
 *  looked up in /proc/net/tcp): read while it is stopped, these are exactly the requests
 *  a kill takes down with it. */
function clientPortsHeld(pid) {
  const inodes = new Set();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports = [];
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && inodes.has(f[9])) ports.push(parseInt(f[2].split(':')[1], 16));
  }
  return ports;
}

/** An upstream that answers chat completions after `ms`. */
async function slowUpstream(ms) {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({
          id: 'x', object: 'chat.completion', created: 1, model: 'up',
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }));
      }, ms);
    });
  });
  await new Promise((r) => srv.listen(0, HOST, r));
  after(() => srv.close());
  return { port: srv.address().port };
}

/** Kills a worker with SIGKILL every 0.5 s for 10 s (at most 20 kills) while 6 clients
 *  make requests on fresh connections. mode 'slot': always the worker of one slot (it
 *  crash-loops); 'any': a random live worker (both slots back off, as in the report). */
async function crashLoop(t, mode) {
  const up = await slowUpstream(100);
  const yaml = sluiceConfig({ groups: { m: { port: up.port } } });
  const s = await startSluice({ yaml, workers: 2 });
  await pollUntil(() => liveChildPids(s.pid).length === 2, { timeoutMs: 10000, what: 'two workers' });
  let victim = liveChildPids(s.pid)[0];
  let before = new Set(liveChildPids(s.pid).filter((p) => p !== victim));
  let stop = false, kills = 0;
  const heldPorts = new Set(); // client ports of the connections the killed workers held
  const killer = (async () => {
    const end = Date.now() + 10000;
    while (Date.now() < end && kills < 20) {
      await delay(500);
      const live = liveChildPids(s.pid);
      if (mode === 'any') {
        if (!live.length) continue;
        victim = live[Math.floor(Math.random() * live.length)];
      } else if (!live.includes(victim)) {
        const fresh = live.filter((p) => p !== victim && !before.has(p));
        if (!fresh.length) continue; // its slot is backing off
        victim = fresh[0];
      }
      try {
        process.kill(victim, 'SIGSTOP'); // frozen: what it holds now is what the kill drops
        for (const port of clientPortsHeld(victim)) heldPorts.add(port);
        process.kill(victim, 'SIGKILL');
        kills++;
      } catch { /* gone */ }
      before = new Set(liveChildPids(s.pid).filter((p) => p !== victim));
    }
    stop = true;
  })();
  const failures = [];
  let ok = 0, n = 0, slowest = 0;
  const client = async (c) => {
    while (!stop && n < 4000) {
      const user = `c${c}-${n++}`;
      let port = 0;
      const t0 = Date.now();
      const r = await new Promise((resolve) => {
        const body = JSON.stringify({ model: 'm', user, messages: [{ role: 'user', content: 'hi' }] });
        const req = http.request(`${s.url}/v1/chat/completions`, {
          method: 'POST', agent: false,
          headers: { 'content-type': 'application/json' },
        }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode }));
          res.on('error', (e) => resolve({ error: e }));
        });
        req.on('socket', (sock) => sock.on('connect', () => { port = sock.localPort; }));
        req.on('error', (e) => resolve({ error: e }));
        req.setTimeout(15000, () => req.destroy(new Error('timeout')));
        req.end(body);
      });
      if (r.status === 200) { ok++; slowest = Math.max(slowest, Date.now() - t0); }
      else failures.push({ user, port, status: r.status, code: r.error?.code, msg: r.error?.message });
    }
  };
  await Promise.all([killer, ...Array.from({ length: 6 }, (_, c) => client(c))]);
  const refused = failures.filter((f) => f.code === 'ECONNREFUSED');
  const unexplained = failures.filter((f) => f.code !== 'ECONNREFUSED' && !heldPorts.has(f.port));
  const info = `kills ${kills}, ok ${ok} (slowest ${slowest} ms), failed ${failures.length} (${JSON.stringify(failures.slice(0, 5))})`;
  t.diagnostic(info);
  assert.ok(kills >= 5, `the worker was killed repeatedly: ${info}`);
  assert.ok(ok > 50, info);
  assert.equal(refused.length, 0, `refused connections: ${info}`);
  assert.equal(unexplained.length, 0, `failed requests the killed worker never held: ${JSON.stringify(unexplained.slice(0, 5))}; ${info}`);
  // and service is whole again right after
  const r = await request(`${s.url}/health/liveliness`);
  assert.equal(r.status, 200);
  assert.equal(await s.stop(), 0);
}

test('one worker killed every 0.5 s: no refused connection, no failed request it did not hold', (t) => crashLoop(t, 'slot'));
test('any worker killed every 0.5 s: no refused connection, no failed request it did not hold', (t) => crashLoop(t, 'any'));
