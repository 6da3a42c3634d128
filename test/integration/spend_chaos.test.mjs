// Spend accounting under crashes: 1,000 mixed requests (whole and streamed) while
// workers are killed with SIGKILL at random and sluice is restarted once (SIGTERM, then
// started again on the same data directory). Every answer that arrived complete with its
// cost (x-sluice-cost header, or trailer on a stream) must be in the ledger exactly once,
// and nothing else: the key's spend equals the sum of those costs. Bounded: 1,000
// requests, 16 at a time, a 75 s budget for the load.
// The second test is a kill -9 storm: every worker at once, again and again (exact), then
// the whole sluice (master and workers, SIGKILL, no drain) restarted on the same data dir:
// that loses at most what was answered in the last flush interval (README: like a power
// loss), and never counts anything twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import {
  startMock, startSluice, cleanup, mkTmpDir, liveChildPids, delay, withDeadline, pollUntil,
} from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import { pricedConfig, newKey, chat, keySpend, ledgerSpend, settle, admin, micro } from './keys_lib.mjs';

after(cleanup);

const N = 1000;
const CONCURRENCY = 16;
const WORKERS = 4;

test('spend is exact after 1,000 mixed requests with workers killed at random and a restart', async () => {
  // slow enough that kills land on requests in flight (whole ~30 ms, streams ~70 ms)
  const mock = await startMock(['--latency-ms', '30', '--ttft-ms', '20', '--itl-ms', '3']);
  const dataDir = path.join(mkTmpDir('sluice-chaos-'), 'data');
  const yaml = pricedConfig({ m: { port: mock.port } });
  const start = () => startSluice({ yaml, workers: WORKERS, args: ['--data-dir', dataDir] });
  let s = await start();
  const k = await newKey(s.url, { key_alias: 'chaos' });

  let agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let restarting = null; // a promise while sluice restarts
  let stopChaos = false;
  let sum = 0, answered = 0, lost = 0, kills = 0, restarts = 0;
  const statuses = {};

  const chaos = (async () => {
    while (!stopChaos) {
      await delay(150 + Math.random() * 250);
      if (stopChaos || restarting) continue;
      const pids = liveChildPids(s.pid);
      if (pids.length < 2) continue; // keep something serving
      try {
        process.kill(pids[Math.floor(Math.random() * pids.length)], 'SIGKILL');
        kills++;
      } catch { /* already gone */ }
    }
  })();

  const restart = async () => {
    const old = s;
    const code = await old.stop(); // SIGTERM: drain, final flush
    assert.equal(code, 0, `sluice exit code after SIGTERM\n${old.output()}`);
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    s = await start();
    restarts++;
  };

  const load = runLoad(N, CONCURRENCY, async (i) => {
    if (i === N / 2 && !restarting) {
      restarting = restart().finally(() => { restarting = null; });
    }
    while (restarting) await restarting.catch(() => {});
    const r = await chat(s.url, k.key, 'm', { agent, stream: i % 2 === 1, timeoutMs: 20000 });
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.cost !== null) {
      sum += r.cost;
      answered++;
    } else {
      lost++;
    }
    return r;
  });
  const results = await withDeadline(load, 75000, `${N} requests`, () =>
    `answered ${answered}, lost ${lost}, kills ${kills}, restarts ${restarts}\n${s.output()}`);
  stopChaos = true;
  await chaos;
  agent.destroy();

  const summary = `answered ${answered}, lost ${lost}, kills ${kills}, restarts ${restarts}, statuses ${JSON.stringify(statuses)}`;
  assert.equal(results.length, N);
  assert.equal(restarts, 1, summary);
  assert.ok(kills >= 3, `workers were killed: ${summary}`);
  assert.ok(answered >= N / 2, `most requests were answered: ${summary}`);
  for (const r of results) {
    // a killed worker resets its connections (status 0); nothing else may fail
    assert.ok(r.status === 200 || r.status === 0, `${r.status} ${r.text}\n${summary}`);
  }

  const got = await settle(() => keySpend(s.url, k.key), sum, { stableMs: 4000, timeoutMs: 30000 });
  assert.equal(got, sum, `/key/info spend = sum of x-sluice-cost over complete answers (${summary})`);
  const ledger = await settle(() => ledgerSpend(s.url, k.token), sum, { stableMs: 4000, timeoutMs: 30000 });
  assert.equal(ledger, sum, `ledger spend (/spend/report) = the same sum (${summary})`);
  const groupSpend = async () => {
    const r = await admin(s.url).report({ group_by: 'model' });
    return r.body.rows.filter((x) => x.id === 'm').reduce((a, x) => a + micro(x.spend), 0);
  };
  assert.equal(await settle(groupSpend, sum), sum, `the model group's ledger holds the same spend (${summary})`);

  // and a clean restart keeps it
  assert.equal(await s.stop(), 0);
  s = await start();
  assert.equal(await keySpend(s.url, k.key), sum, 'after a clean restart');
  assert.equal(await s.stop(), 0);
  await mock.stop();
  console.log(`# spend_chaos: ${summary}, spend ${sum} micro-USD`);
});

test('kill -9 storms: every worker at once, repeatedly (spend exact); then the whole sluice (at most the last second lost)', async () => {
  const STORMS = 6;
  const N1 = 600, N2 = 1200;
  const mock = await startMock(['--latency-ms', '30', '--ttft-ms', '20', '--itl-ms', '3']);
  const dataDir = path.join(mkTmpDir('sluice-storm-'), 'data');
  const yaml = pricedConfig({ m: { port: mock.port } });
  const start = () => startSluice({ yaml, workers: WORKERS, args: ['--data-dir', dataDir] });
  let s = await start();
  const k = await newKey(s.url, { key_alias: 'storm' });
  let agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let sum = 0, answered = 0, lost = 0, storms = 0, killed = 0;
  const answers = []; // {at: ms, cost}
  const statuses = {};
  const allUp = (what) => pollUntil(() => liveChildPids(s.pid).length === WORKERS,
    { timeoutMs: 20000, intervalMs: 20, what });
  const summary = () => `answered ${answered}, lost ${lost}, storms ${storms}, workers killed ${killed}, ` +
    `statuses ${JSON.stringify(statuses)}`;
  let down = null; // a promise while the whole sluice is down
  const one = async (i) => {
    while (down) await down.catch(() => {});
    const r = await chat(s.url, k.key, 'm', { agent, stream: i % 2 === 1, timeoutMs: 20000 });
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.cost !== null) { sum += r.cost; answered++; answers.push({ at: Date.now(), cost: r.cost }); } else { lost++; }
    // nothing listens while workers restart: wait for them rather than burn the budget
    if (r.status === 0 && !down) await allUp('workers to come back after a storm').catch(() => {});
    return r;
  };

  // Phase 1: storms of worker kills; shared memory survives them, so spend stays exact.
  let stop = false;
  const chaos = (async () => {
    while (!stop && storms < STORMS) {
      await allUp('every worker back before the next storm');
      await delay(200 + Math.random() * 300); // let requests get in flight
      if (stop) break;
      for (const pid of liveChildPids(s.pid)) { try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ } }
      storms++;
    }
  })();
  const res1 = await withDeadline(runLoad(N1, CONCURRENCY, one), 90000, `${N1} requests`, summary);
  stop = true;
  await withDeadline(chaos, 30000, 'the storm loop to end', summary);
  assert.equal(res1.length, N1);
  assert.ok(storms >= 2, `storms happened: ${summary()}`);
  assert.ok(answered >= N1 / 4, `many requests were answered: ${summary()}`);
  for (const r of res1) assert.ok(r.status === 200 || r.status === 0, `${r.status} ${r.text}\n${summary()}`);
  assert.equal(await settle(() => keySpend(s.url, k.key), sum, { stableMs: 4000, timeoutMs: 30000 }), sum,
    `/key/info spend = sum of x-sluice-cost over complete answers after the storms (${summary()})`);
  assert.equal(await settle(() => ledgerSpend(s.url, k.token), sum, { stableMs: 4000, timeoutMs: 30000 }), sum,
    `ledger spend (/spend/report) = the same sum (${summary()})`);
  const sum1 = sum;

  // Phase 2: kill -9 the workers and the master in the same tick, mid-load; restart.
  let crashAt = 0;
  const crash = async () => {
    const old = s;
    crashAt = Date.now();
    for (const pid of liveChildPids(old.pid)) { try { process.kill(pid, 'SIGKILL'); killed++; } catch { /* gone */ } }
    old.proc.kill('SIGKILL');
    await withDeadline(old.exitPromise, 10000, 'the killed master to exit');
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    s = await start();
  };
  const t2 = Date.now();
  const res2 = await withDeadline(runLoad(N2, CONCURRENCY, async (i) => {
    // 3 s into the phase (longer than the loss window, so the bound below means something)
    if (!crashAt && !down && (Date.now() - t2 >= 3000 || i === N2 - CONCURRENCY)) {
      down = crash().finally(() => { down = null; });
    }
    return one(i);
  }), 90000, `${N2} more requests`, summary);
  assert.ok(crashAt > 0, 'the whole sluice was killed');
  for (const r of res2) assert.ok(r.status === 200 || r.status === 0, `${r.status} ${r.text}\n${summary()}`);
  // What may be lost: answers that completed within the flush interval (1 s, plus slack for
  // a loaded machine) before the kill. Nothing may be counted twice.
  const mayLose = answers.filter((a) => a.at >= crashAt - 2000 && a.at <= crashAt + 100).reduce((x, a) => x + a.cost, 0);
  const ledger = await settle(() => ledgerSpend(s.url, k.token), sum, { stableMs: 4000, timeoutMs: 30000 });
  const info = await keySpend(s.url, k.key);
  const detail = `ledger ${ledger}, key spend ${info}, sum ${sum}, may lose ${mayLose}, phase 1 ${sum1} (${summary()})`;
  assert.ok(ledger <= sum, `never counted twice: ${detail}`);
  assert.ok(ledger >= sum - mayLose, `at most the last flush interval lost: ${detail}`);
  assert.ok(ledger >= sum1, `nothing flushed before the crash is lost: ${detail}`);
  assert.ok(mayLose < sum - sum1, `the loss window is narrower than the phase: ${detail}`);
  assert.equal(info, ledger, `the key's spend and the ledger agree after the restart: ${detail}`);
  assert.equal(await s.stop(), 0);
  agent.destroy();
  await mock.stop();
  console.log(`# spend_chaos storm: ${detail}`);
});
