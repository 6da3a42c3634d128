// Spend accounting under crashes: 1,000 mixed requests (whole and streamed) while
// workers are killed with SIGKILL at random and sluice is restarted once (SIGTERM, then
// started again on the same data directory). Every answer that arrived complete with its
// cost (x-sluice-cost header, or trailer on a stream) must be in the ledger exactly once,
// and nothing else: the key's spend equals the sum of those costs. Bounded: 1,000
// requests, 16 at a time, a 75 s budget for the load.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { startMock, startSluice, cleanup, mkTmpDir, liveChildPids, delay, withDeadline } from './lib.mjs';
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
