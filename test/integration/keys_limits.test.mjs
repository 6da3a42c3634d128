// A key's limits across worker processes: an RPM limit is exact with 4 workers (the
// window is in shared memory), and a max_budget stops admitting once spent, with the
// recorded spend equal to the sum of the x-sluice-cost of the answers (header on whole
// responses, HTTP trailer on streams).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startSluice, cleanup, assertOpenAIError } from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import {
  pricedConfig, newKey, chat, keySpend, ledgerSpend, settle, roomInMinute, admin, micro, MASTER,
} from './keys_lib.mjs';

after(cleanup);

test('4 workers, rpm_limit 120, 400 requests at once from many connections: exactly 120 pass, the rest 429', async () => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 4 });
  const k = await newKey(s.url, { rpm_limit: 120, key_alias: 'rpm-120' });
  // one window: the burst must not straddle a minute boundary
  await roomInMinute(30);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const t0 = Date.now();
  const results = await runLoad(400, 64, (i) => chat(s.url, k.key, 'm', { agent, stream: i % 5 === 0 }));
  const ms = Date.now() - t0;
  agent.destroy();
  const ok = results.filter((r) => r.status === 200);
  const limited = results.filter((r) => r.status === 429);
  const other = results.filter((r) => r.status !== 200 && r.status !== 429);
  assert.equal(other.length, 0, `unexpected answers: ${other.slice(0, 3).map((r) => `${r.status} ${r.text ?? r.error}`)}`);
  assert.equal(ok.length, 120, `admitted in one window (burst took ${ms} ms): ${ok.length}`);
  assert.equal(limited.length, 280);
  for (const r of ok) {
    assert.equal(r.headers['x-ratelimit-limit-requests'], '120');
    assert.ok(r.cost > 0, 'answered and costed');
  }
  for (const r of limited) {
    assertOpenAIError(r.text, { code: 'rate_limit_exceeded', type: 'rate_limit_error', messageIncludes: 'rpm_limit' });
    const ra = Number(r.headers['retry-after']);
    assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 120, `Retry-After: ${r.headers['retry-after']}`);
    assert.equal(r.headers['x-ratelimit-limit-requests'], '120');
    assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
    assert.ok(r.headers['x-ratelimit-reset-requests'], 'x-ratelimit-reset-requests');
  }
  assert.equal((await mock.stats()).requests, 120, 'only admitted requests reached the provider');
  // the limit is per key: another key is not affected
  const other2 = await newKey(s.url, { rpm_limit: 120 });
  assert.equal((await chat(s.url, other2.key, 'm')).status, 200);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('max_budget: admission stops once spent; recorded spend = sum of x-sluice-cost, streams included', async () => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 4 });
  // each answer costs 33 micro-USD (1 prompt token, 16 completion tokens): ~15 fit
  const k = await newKey(s.url, { max_budget: 0.0005, key_alias: 'small-budget' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let sum = 0, answered = 0, streams = 0, refused = null;
  for (let round = 0; round < 100 && !refused; round++) {
    const batch = await Promise.all([0, 1, 2, 3].map((i) => chat(s.url, k.key, 'm', { agent, stream: (round + i) % 2 === 1 })));
    for (const r of batch) {
      if (r.status === 200) {
        assert.ok(r.cost !== null && r.cost > 0, `an answer without its cost: ${JSON.stringify(r.headers)} ${JSON.stringify(r.trailers)}`);
        sum += r.cost;
        answered++;
        if (r.headers['content-type']?.startsWith('text/event-stream')) streams++;
      } else {
        assert.equal(r.status, 429, r.text);
        assertOpenAIError(r.text, { code: 'budget_exceeded', messageIncludes: 'small-budget' });
        refused = r;
      }
    }
  }
  agent.destroy();
  assert.ok(refused, 'the budget ran out');
  assert.ok(answered >= 15 && streams > 0 && answered > streams, `answered ${answered} (${streams} streams)`);
  assert.ok(sum >= 500, `admitted until spent: ${sum} micro-USD of 500`);
  // once spent, it stays refused (whichever worker answers)
  for (let i = 0; i < 8; i++) {
    const r = await chat(s.url, k.key, 'm', { stream: i % 2 === 1 });
    assert.equal(r.status, 429, r.text);
    assertOpenAIError(r.text, { code: 'budget_exceeded' });
  }
  assert.equal(await settle(() => keySpend(s.url, k.key), sum), sum, '/key/info spend = sum of x-sluice-cost');
  // /key/info adds what shared memory still holds; the report reads the ledger alone
  assert.equal(await settle(() => ledgerSpend(s.url, k.token), sum), sum, 'the ledger holds it once flushed');
  // raising the budget admits again
  const up = await admin(s.url).update({ key: k.key, max_budget: 1 });
  assert.equal(up.status, 200, up.text);
  assert.equal(micro(up.body.spend), sum);
  const again = await chat(s.url, k.key, 'm', { stream: true });
  assert.equal(again.status, 200, again.text);
  assert.equal(await settle(() => keySpend(s.url, k.key), sum + again.cost), sum + again.cost);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

// A reload is not a restart for limits: a key's RPM window and a deployment's rpm window
// go on in the new generation (they used to start empty, so each SIGHUP reopened them).
test('rpm limits of a key and of a deployment go on across a SIGHUP reload', async () => {
  const mock = await startMock();
  const yaml = pricedConfig({ m: { port: mock.port }, d: { port: mock.port, rpm: 3 } });
  const s = await startSluice({ yaml, workers: 2 });
  const k = await newKey(s.url, { rpm_limit: 3, key_alias: 'rpm-3' });
  await roomInMinute(30);
  const before = [await chat(s.url, k.key, 'm'), await chat(s.url, k.key, 'm'), await chat(s.url, MASTER, 'd'), await chat(s.url, MASTER, 'd')];
  assert.deepEqual(before.map((r) => r.status), [200, 200, 200, 200], before.map((r) => r.text).join('\n'));
  const mark = s.lines.length;
  s.proc.kill('SIGHUP');
  await s.waitLine((l) => l.msg === 'reloaded' && s.lines.indexOf(l) >= mark, 15000, 'the reload');
  const key = [await chat(s.url, k.key, 'm'), await chat(s.url, k.key, 'm')];
  assert.deepEqual(key.map((r) => r.status), [200, 429], key.map((r) => r.text).join('\n'));
  assertOpenAIError(key[1].text, { code: 'rate_limit_exceeded', messageIncludes: 'rpm_limit' });
  const dep = [await chat(s.url, MASTER, 'd'), await chat(s.url, MASTER, 'd')];
  assert.deepEqual(dep.map((r) => r.status), [200, 429], dep.map((r) => r.text).join('\n'));
  assert.equal(await s.stop(), 0);
  await mock.stop();
});
