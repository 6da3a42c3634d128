// Cost and limit arithmetic at the edges (issue 11): a provider reporting absurd usage
// (9e15 tokens) is not believed (the request's estimate is charged, flagged in the access
// log and a metric, and no counter wraps); a budget far below a micro-USD
// (max_budget 0.0000001, as LiteLLM's tests use) admits the first request and stops the
// next; a typo in budget_duration is refused where it is written; 10,000+ virtual keys
// each get their limits (and a full table refuses a key instead of serving it
// unlimited); Prometheus counters go on across SIGHUP reloads under load.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startMock, startSluice, cleanup, request, assertOpenAIError, runCommand, SLUICE_BIN, mkTmpDir, pollUntil,
  sluiceConfig,
} from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import { pricedConfig, newKey, chat, admin, micro, roomInMinute, MASTER } from './keys_lib.mjs';
import fs from 'node:fs';
import path from 'node:path';

after(cleanup);

/** A provider that answers every chat completion with the given usage object. */
async function lyingProvider(usage) {
  let calls = 0;
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      const body = JSON.stringify({
        id: `chatcmpl-${calls}`, object: 'chat.completion', created: 1, model: 'liar',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hello there' }, finish_reason: 'stop' }],
        usage,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { port: srv.address().port, get calls() { return calls; }, stop: () => new Promise((r) => srv.close(r)) };
}

/** Sum of a counter family over all its series in a /metrics text. */
function counterSum(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function metrics(base) {
  const r = await request(`${base}/metrics`);
  assert.equal(r.status, 200);
  return r.text ?? r.body?.toString();
}

test('usage of 9e15 tokens is not believed: the estimate is charged, flagged, and nothing wraps', async () => {
  const liar = await lyingProvider({ prompt_tokens: 9e15, completion_tokens: 9e15, total_tokens: 1.8e16 });
  // $3/M in, $15/M out: 9e15 tokens would be 1.6e11 USD per request
  const yaml = pricedConfig({ m: { port: liar.port, model_info: { input_cost_per_token: 3e-6, output_cost_per_token: 15e-6 } } });
  const s = await startSluice({ yaml, workers: 2 });
  const k = await newKey(s.url, { max_budget: 1000, key_alias: 'liar-victim' });
  const N = 300; // enough to wrap int64 micro-USD counters many times over if believed
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const results = await runLoad(N, 8, () => chat(s.url, k.key, 'm', { agent }));
  agent.destroy();
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    assert.ok(r.cost !== null && r.cost < 1e6, `a request costs its estimate, not billions: ${r.headers['x-sluice-cost']}`);
  }
  assert.equal(liar.calls, N);
  const text = await metrics(s.url);
  assert.equal(counterSum(text, 'sluice_usage_implausible_total'), N, 'every absurd report is counted');
  const cost = counterSum(text, 'sluice_cost_usd_total');
  assert.ok(cost >= 0 && cost < 1, `sluice_cost_usd_total stays sane: ${cost}`);
  const tokens = counterSum(text, 'sluice_tokens_total');
  assert.ok(tokens >= 0 && tokens < 1e7, `sluice_tokens_total stays sane: ${tokens}`);
  // the key's spend is the sum of what was charged, and the key is still admitted
  const info = await admin(s.url).info(k.key);
  const spent = micro(info.body.info.spend);
  assert.ok(spent >= 0 && spent < 1e6, `spend stays sane: ${info.body.info.spend}`);
  assert.equal((await chat(s.url, k.key, 'm')).status, 200, 'the budget of 1000 USD is not exhausted');
  await pollUntil(() => s.lines.some((l) => l.usage_implausible === true), { timeoutMs: 5000, what: 'an access-log line with usage_implausible' });
  const line = s.lines.find((l) => l.usage_implausible === true);
  assert.ok(line.tokens_in < 1e6 && line.tokens_out < 1e6, JSON.stringify(line));
  assert.equal(await s.stop(), 0);
  await liar.stop();
});

test('a budget below a micro-USD (max_budget 0.0000001) admits the first request and stops the next', async () => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 2 });
  const k = await newKey(s.url, { max_budget: 0.0000001, key_alias: 'tiny' });
  const first = await chat(s.url, k.key, 'm');
  assert.equal(first.status, 200, `the first request fits a budget of 1e-7 USD: ${first.text}`);
  assert.ok(first.cost > 0);
  const second = await chat(s.url, k.key, 'm');
  assert.equal(second.status, 429, second.text);
  assertOpenAIError(second.text, { code: 'budget_exceeded', messageIncludes: ['tiny', '1e-07'] });
  assert.equal((await mock.stats()).requests, 1);
  // a request costing below a micro-USD still counts against the budget: 1 token at
  // 1e-8 USD rounds to 0.000000 USD, yet five of them exceed 3e-8 USD
  const cheap = await startSluice({
    yaml: pricedConfig({ c: { port: mock.port, model_info: { input_cost_per_token: 1e-9, output_cost_per_token: 1e-9 } } }),
    workers: 1,
  });
  const k2 = await newKey(cheap.url, { max_budget: 0.00000003, key_alias: 'sub-micro' });
  let ok = 0, refused = null;
  for (let i = 0; i < 10 && !refused; i++) {
    const r = await chat(cheap.url, k2.key, 'c');
    if (r.status === 200) ok++; else refused = r;
  }
  assert.ok(refused, 'the budget stops the key although each cost rounds to 0 micro-USD');
  assert.equal(refused.status, 429, refused.text);
  assert.ok(ok >= 1 && ok <= 2, `17 tokens x 1e-9 USD = 1.7e-8 USD each: 2 fit under 3e-8 (ok=${ok})`);
  assert.equal(await cheap.stop(), 0);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('budget_duration with a typo: config -> FILE:LINE: path: why and exit 2; admin API -> 400', async () => {
  const dir = mkTmpDir('sluice-dur-');
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, sluiceConfig({ groups: { m: { port: 9 } }, masterKey: MASTER }) +
    '  max_budget: 5\n  budget_duration: 30x\n');
  const r = await runCommand(SLUICE_BIN, ['check', file]);
  assert.equal(r.code, 2, r.stderr + r.stdout);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const ln = lines.findIndex((l) => l.includes('budget_duration')) + 1;
  assert.ok((r.stderr + r.stdout).includes(`${file}:${ln}: general_settings.budget_duration: expected a duration`),
    r.stderr + r.stdout);
  // litellm_settings.budget_duration (the same gateway budget) is checked the same way
  const file2 = path.join(dir, 'c2.yaml');
  fs.writeFileSync(file2, sluiceConfig({ groups: { m: { port: 9 } } }) +
    'litellm_settings:\n  max_budget: 5\n  budget_duration: 30x\n');
  const r2 = await runCommand(SLUICE_BIN, ['check', file2]);
  assert.equal(r2.code, 2, r2.stderr + r2.stdout);
  const ln2 = fs.readFileSync(file2, 'utf8').split('\n').findIndex((l) => l.includes('budget_duration')) + 1;
  assert.ok((r2.stderr + r2.stdout).includes(`${file2}:${ln2}: litellm_settings.budget_duration: expected a duration`),
    r2.stderr + r2.stdout);
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }) });
  for (const bad of ['30x', '1m30s', '0s', '']) {
    const g = await admin(s.url).generate({ max_budget: 1, budget_duration: bad });
    assert.equal(g.status, 400, `budget_duration ${JSON.stringify(bad)}: ${g.text}`);
    assertOpenAIError(g.text, { messageIncludes: 'budget_duration' });
  }
  for (const good of ['30d', '1mo', '12h', '1w', '90s']) {
    const g = await admin(s.url).generate({ max_budget: 1, budget_duration: good });
    assert.equal(g.status, 200, `budget_duration ${good}: ${g.text}`);
  }
  assert.equal(await s.stop(), 0);
  await mock.stop();
});
