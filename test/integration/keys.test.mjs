// Virtual keys through the admin API (LiteLLM's /key routes) and what they allow:
// generate -> use -> model permission (403) -> expiry, blocking, deletion (401) -> the
// same keys after a restart on the same data directory; bad admin input is a 400 that
// names the field; the daily spend report per model group and per key; the admin
// routes without a store (503); /config/reload; and a deployment with `rpm: 60` next to
// an unlimited one (traffic above the limit flows to the other, no client errors).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import http from 'node:http';
import {
  startMock, startSluice, cleanup, mkTmpDir, assertOpenAIError, sluiceConfig, pollUntil, rawConnect, httpRequest,
  delay,
} from './lib.mjs';
import { runLoad } from './routing_lib.mjs';
import {
  MASTER, MASTER_AUTH, PRICED, pricedConfig, admin, newKey, chat, call, keySpend, settle, micro, roomInMinute,
} from './keys_lib.mjs';

after(cleanup);

const today = () => new Date().toISOString().slice(0, 10);

test('keys: generate, use, model permission, info, update, list, expiry, blocking, deletion, restart', async () => {
  const mock = await startMock();
  const dataDir = path.join(mkTmpDir('sluice-keys-'), 'data');
  const yaml = pricedConfig({ 'gpt-a': { port: mock.port }, 'gpt-b': { port: mock.port } });
  let s = await startSluice({ yaml, workers: 2, args: ['--data-dir', dataDir] });
  const a = admin(s.url);
  let spentA = 0; // what k1 was charged, from the answers

  // the admin routes need the master key
  const noAuth = await call(s.url, '/key/generate', { body: {} });
  assert.equal(noAuth.status, 401, noAuth.text);
  assertOpenAIError(noAuth.text, { code: 'invalid_api_key' });

  const k1 = await newKey(s.url, {
    models: ['gpt-a'], key_alias: 'alice', metadata: { team: 'search', n: 1 }, max_budget: 10,
    budget_duration: '30d', rpm_limit: 1000, tpm_limit: 1000000, duration: '1h',
  });
  assert.equal(k1.key_alias, 'alice');
  assert.deepEqual(k1.models, ['gpt-a']);
  assert.equal(k1.rpm_limit, 1000);
  assert.equal(k1.tpm_limit, 1000000);
  assert.equal(k1.max_budget, 10);
  assert.equal(k1.budget_duration, '30d');
  assert.deepEqual(k1.metadata, { team: 'search', n: 1 });
  assert.match(k1.token, /^[0-9a-f]{64}$/);
  assert.match(k1.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const exp = Date.parse(k1.expires) - Date.now();
  assert.ok(exp > 3500e3 && exp < 3700e3, `expires in about an hour: ${k1.expires}`);
  assert.equal(k1.blocked, false);
  assert.ok(!JSON.stringify(await a.list({ return_full_object: 'true' })).includes(k1.key), 'the secret is never shown again');

  // use it
  for (const stream of [false, true]) {
    const r = await chat(s.url, k1.key, 'gpt-a', { stream });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.cost > 0, `a cost on ${stream ? 'the stream trailer' : 'the response'}: ${JSON.stringify(r.headers)}`);
    assert.equal(r.headers['x-ratelimit-limit-requests'], '1000');
    assert.equal(r.headers['x-ratelimit-limit-tokens'], '1000000');
    spentA += r.cost;
  }
  // a model it may not use
  const denied = await chat(s.url, k1.key, 'gpt-b');
  assert.equal(denied.status, 403, denied.text);
  assertOpenAIError(denied.text, { code: 'model_not_allowed', messageIncludes: 'gpt-b' });
  // a virtual key is not an admin key
  const asAdmin = await call(s.url, '/key/list', { method: 'GET', headers: { authorization: `Bearer ${k1.key}` } });
  assert.equal(asAdmin.status, 403, asAdmin.text);

  // info, by secret and by hashed token; spend from the ledger once flushed
  const byToken = await a.info(k1.token);
  assert.equal(byToken.status, 200, byToken.text);
  assert.equal(byToken.body.key, k1.token);
  const info = byToken.body.info;
  assert.equal(info.key_alias, 'alice');
  assert.match(info.key_name, /^sk-.{2}\.\.\..{4}$/);
  assert.deepEqual(info.models, ['gpt-a']);
  assert.equal(info.rpm_limit, 1000);
  assert.equal(info.expires, k1.expires);
  assert.deepEqual(info.metadata, { team: 'search', n: 1 });
  assert.ok(info.created_at && info.budget_reset_at, JSON.stringify(info));
  assert.equal(await settle(() => keySpend(s.url, k1.key), spentA), spentA, 'spend of k1 = sum of x-sluice-cost');

  // update: the changed fields only
  const up = await a.update({ key: k1.key, rpm_limit: 2000, key_alias: 'alice2', max_budget: null });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.rpm_limit, 2000, "LiteLLM's flat answer");
  assert.equal(up.body.key_alias, 'alice2');
  assert.equal(up.body.max_budget, 10, 'null leaves a field as it was');
  assert.deepEqual(up.body.models, ['gpt-a']);
  const r2 = await chat(s.url, k1.key, 'gpt-a');
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.headers['x-ratelimit-limit-requests'], '2000', 'the new limit applies at once');
  spentA += r2.cost;
  const upModels = await a.update({ key: k1.token, models: ['gpt-a', 'gpt-b'] });
  assert.equal(upModels.status, 200, upModels.text);
  const r3 = await chat(s.url, k1.key, 'gpt-b');
  assert.equal(r3.status, 200, r3.text);
  spentA += r3.cost;

  // bad input: a 400 that names the field; nothing is created
  const before = (await a.list()).body.total_count;
  for (const [body, field] of [
    [{ rpm_limit: -1 }, 'rpm_limit'], [{ tpm_limit: 1.5 }, 'tpm_limit'], [{ models: 'gpt-a' }, 'models'],
    [{ models: [''] }, 'models'], [{ max_budget: 'ten' }, 'max_budget'], [{ budget_duration: 'soon' }, 'budget_duration'],
    [{ duration: 5 }, 'duration'], [{ metadata: 'x' }, 'metadata'], [{ key: 'not-sk' }, 'key'],
    [{ key_alias: 7 }, 'key_alias'], [{ team_id: 7 }, 'team_id'], [{ blocked: 'yes' }, 'blocked'],
    [{ guardrails: ['pii'] }, 'guardrails'],
  ]) {
    const r = await a.generate(body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assertOpenAIError(r.body, { messageIncludes: `'${field}'` });
  }
  const badJson = await call(s.url, '/key/generate', { body: '{"models": [', headers: MASTER_AUTH });
  assert.equal(badJson.status, 400, badJson.text);
  assertOpenAIError(badJson.text, { code: 'invalid_json' });
  const dup = await call(s.url, '/key/generate', { body: '{"rpm_limit": 1, "rpm_limit": 2}', headers: MASTER_AUTH });
  assert.equal(dup.status, 400, dup.text);
  // LiteLLM clients send empty defaults for fields sluice does not have: accepted
  const lite = await a.generate({ team_id: null, user_id: '', aliases: {}, config: {}, permissions: {}, send_invite_email: false });
  assert.equal(lite.status, 200, lite.text);
  assert.equal((await a.list()).body.total_count, before + 1);
  assert.equal((await a.update({ key: k1.key, guardrails: ['x'] })).status, 400, 'a setting sluice lacks is refused');
  assert.equal((await a.update({ rpm_limit: 1 })).status, 400, 'update without key');
  assert.equal((await a.update({ key: 'sk-nobody-has-this', rpm_limit: 1 })).status, 404);
  const unknown = await a.info('sk-nobody-has-this');
  assert.equal(unknown.status, 404, unknown.text);
  assertOpenAIError(unknown.body, { code: 'key_not_found' });
  assert.equal((await call(s.url, '/key/info', { method: 'GET', headers: MASTER_AUTH })).status, 400);

  // custom secrets, duplicates
  const custom = await newKey(s.url, { key: 'sk-custom-secret-0001', key_alias: 'custom' });
  assert.equal(custom.key, 'sk-custom-secret-0001');
  const again = await a.generate({ key: 'sk-custom-secret-0001' });
  assert.equal(again.status, 400, again.text);
  assertOpenAIError(again.body, { code: 'key_exists' });
  assert.equal((await chat(s.url, custom.key, 'gpt-b')).status, 200, 'no models listed = every model');

  // list: hashes, full objects, alias filter, pages
  const list = await a.list();
  assert.equal(list.status, 200, list.text);
  assert.ok(list.body.keys.includes(k1.token) && list.body.keys.includes(custom.token), list.text);
  assert.equal(list.body.total_count, list.body.keys.length);
  const full = await a.list({ return_full_object: 'true', key_alias: 'custom' });
  assert.equal(full.body.keys.length, 1, full.text);
  assert.equal(full.body.keys[0].token, custom.token);
  assert.equal(full.body.keys[0].key_alias, 'custom');
  const page = await a.list({ size: 1, page: 2 });
  assert.equal(page.body.keys.length, 1, page.text);
  assert.equal(page.body.total_pages, list.body.total_count);

  // expiry
  const short = await newKey(s.url, { duration: '1s' });
  const expired = await pollUntil(async () => {
    const r = await chat(s.url, short.key, 'gpt-a');
    return r.status === 401 ? r : null;
  }, { timeoutMs: 5000, intervalMs: 100, what: 'the 1s key to expire' });
  assertOpenAIError(expired.text, { code: 'invalid_api_key', messageIncludes: 'expired' });

  // blocking
  assert.equal((await a.update({ key: custom.key, blocked: true })).body.blocked, true);
  const blocked = await chat(s.url, custom.key, 'gpt-a');
  assert.equal(blocked.status, 401, blocked.text);
  assertOpenAIError(blocked.text, { messageIncludes: 'blocked' });
  assert.equal((await a.update({ key: custom.key, blocked: false })).status, 200);
  assert.equal((await chat(s.url, custom.key, 'gpt-a')).status, 200);

  // deletion, by secret, by token and by alias
  const k3 = await newKey(s.url, { key_alias: 'gone-by-alias' });
  const del = await a.del({ keys: [custom.key, short.token] });
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(del.body.deleted_keys, [custom.key, short.token]);
  const delAlias = await a.del({ key_aliases: ['gone-by-alias'] });
  assert.equal(delAlias.status, 200, delAlias.text);
  for (const k of [custom.key, k3.key]) {
    const r = await chat(s.url, k, 'gpt-a');
    assert.equal(r.status, 401, r.text);
    assertOpenAIError(r.text, { code: 'invalid_api_key' });
  }
  const delAgain = await a.del({ keys: [custom.key] });
  assert.equal(delAgain.status, 404, delAgain.text);
  assert.equal((await a.del({ keys: [] })).status, 400);
  assert.equal((await a.del({ keys: [k1.key, 'sk-nobody-has-this'] })).status, 404, 'all or nothing');
  const r5 = await chat(s.url, k1.key, 'gpt-a');
  assert.equal(r5.status, 200, `k1 survived the refused delete: ${r5.text}`);
  spentA += r5.cost;
  assert.equal(await settle(() => keySpend(s.url, k1.key), spentA), spentA);
  const count = (await a.list()).body.total_count;

  // restart on the same data directory: keys, limits and spend are still there
  assert.equal(await s.stop(), 0);
  s = await startSluice({ yaml, workers: 2, args: ['--data-dir', dataDir] });
  const b = admin(s.url);
  assert.equal((await b.list()).body.total_count, count);
  const after1 = await b.info(k1.key);
  assert.equal(after1.status, 200, after1.text);
  assert.equal(micro(after1.body.info.spend), spentA, 'spend survives a restart');
  assert.equal(after1.body.info.rpm_limit, 2000);
  const r4 = await chat(s.url, k1.key, 'gpt-a', { stream: true });
  assert.equal(r4.status, 200, r4.text);
  assert.equal(r4.headers['x-ratelimit-limit-requests'], '2000');
  assert.equal((await chat(s.url, custom.key, 'gpt-a')).status, 401, 'deleted stays deleted');
  assert.equal(await settle(() => keySpend(s.url, k1.key), spentA + r4.cost), spentA + r4.cost);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('spend report: daily spend per model group and per key', async () => {
  const mock = await startMock();
  const yaml = pricedConfig({
    'rep-a': { port: mock.port },
    'rep-b': { port: mock.port, model_info: { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 } },
  });
  const s = await startSluice({ yaml, workers: 2 });
  const a = admin(s.url);
  const ka = await newKey(s.url, { key_alias: 'report-a' });
  const kb = await newKey(s.url);
  const want = { 'rep-a': 0, 'rep-b': 0 };
  const byKey = { [ka.token]: 0, [kb.token]: 0 };
  for (let i = 0; i < 12; i++) {
    const [k, model] = i % 3 ? [ka, 'rep-a'] : [kb, i % 2 ? 'rep-a' : 'rep-b'];
    const r = await chat(s.url, k.key, model, { stream: i % 4 === 1 });
    assert.equal(r.status, 200, r.text);
    want[model] += r.cost;
    byKey[k.token] += r.cost;
  }
  const master = await chat(s.url, MASTER, 'rep-b'); // the master key spends too (on the group)
  assert.equal(master.status, 200, master.text);
  want['rep-b'] += master.cost;

  const modelSpend = async () => {
    const r = await a.report({ group_by: 'model', start: today(), end: today() });
    assert.equal(r.status, 200, r.text);
    const m = {};
    for (const row of r.body.rows) {
      assert.equal(row.day, today());
      m[row.id] = micro(row.spend);
    }
    return m;
  };
  await pollUntil(async () => {
    const m = await modelSpend();
    return m['rep-a'] === want['rep-a'] && m['rep-b'] === want['rep-b'];
  }, { timeoutMs: 10000, intervalMs: 200, what: `model spend ${JSON.stringify(want)}` });
  const rm = await a.report({ group_by: 'model' }); // default: the last 30 days
  assert.equal(rm.body.group_by, 'model');
  assert.equal(rm.body.end, today());
  assert.equal(micro(rm.body.total_spend), want['rep-a'] + want['rep-b']);
  assert.deepEqual(rm.body.rows.map((x) => x.name).sort(), ['rep-a', 'rep-b']);

  const rk = await a.report({ group_by: 'key', start_date: today(), end_date: today() });
  assert.equal(rk.status, 200, rk.text);
  const rows = Object.fromEntries(rk.body.rows.map((x) => [x.id, x]));
  assert.equal(micro(rows[ka.token].spend), byKey[ka.token], rk.text);
  assert.equal(rows[ka.token].name, 'report-a');
  assert.equal(micro(rows[kb.token].spend), byKey[kb.token], rk.text);
  assert.match(rows[kb.token].name, /^sk-.{2}\.\.\./);

  // a window without spend, and bad parameters
  const past = await a.report({ group_by: 'model', start: '2020-01-01', end: '2020-01-31' });
  assert.equal(past.status, 200, past.text);
  assert.deepEqual(past.body.rows, []);
  for (const p of [{ group_by: 'team' }, { start: '2026-13-01' }, { end: 'yesterday' },
    { start: '2026-02-01', end: '2026-01-01' }]) {
    const r = await a.report(p);
    assert.equal(r.status, 400, `${JSON.stringify(p)}: ${r.text}`);
    assertOpenAIError(r.body);
  }
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('admin routes without the store answer 503; /config/reload reloads', async () => {
  const mock = await startMock();
  // no master key: no key store (and the routes are open, as every route is)
  const s0 = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } } }), workers: 1 });
  const g = await call(s0.url, '/key/generate', { body: {} });
  assert.equal(g.status, 503, g.text);
  assertOpenAIError(g.text, { code: 'store_unavailable', messageIncludes: ['master_key', 'data_dir'] });
  assert.equal((await call(s0.url, '/key/list', { method: 'GET' })).status, 503);
  assert.equal((await call(s0.url, '/spend/report', { method: 'GET' })).status, 503);
  assert.equal(await s0.stop(), 0);

  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 2 });
  const a = admin(s.url);
  const k = await newKey(s.url);
  fs.writeFileSync(s.configPath, pricedConfig({ m: { port: mock.port }, added: { port: mock.port } }));
  const ok = await a.reload();
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.status, 'reloaded');
  await pollUntil(async () => (await chat(s.url, k.key, 'added')).status === 200,
    { timeoutMs: 10000, what: 'the reloaded group to serve' });
  fs.writeFileSync(s.configPath, 'model_list: [oops\n');
  const bad = await a.reload();
  assert.equal(bad.status, 400, bad.text);
  assertOpenAIError(bad.body, { code: 'invalid_config' });
  assert.equal((await chat(s.url, k.key, 'added')).status, 200, 'a refused reload changes nothing');
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('a deployment with rpm: 60 next to one without a limit: the rest flows to the other, no errors', async () => {
  const limited = await startMock();
  const open = await startMock();
  const yaml = pricedConfig({ g: [{ port: limited.port, rpm: 60 }, { port: open.port }] });
  const s = await startSluice({ yaml, workers: 4 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  await roomInMinute(25);
  const results = await runLoad(150, 32, () => chat(s.url, MASTER, 'g', { agent }));
  agent.destroy();
  const bad = results.filter((r) => r.status !== 200);
  assert.equal(bad.length, 0, `client errors: ${bad.slice(0, 3).map((r) => `${r.status} ${r.text ?? r.error}`).join('\n')}`);
  const [l, o] = [(await limited.stats()).requests, (await open.stats()).requests];
  assert.ok(l <= 60, `the limited deployment got ${l} requests in the minute (limit 60)`);
  assert.equal(l + o, 150, `every request went to exactly one deployment: ${l} + ${o}`);
  assert.ok(o >= 90, `the unlimited deployment took the rest: ${o}`);
  assert.equal(await s.stop(), 0);
  await limited.stop();
  await open.stop();
});

test('clients that leave while admin jobs run: nothing leaks or crashes, the store stays consistent', async () => {
  const mock = await startMock();
  const s = await startSluice({ yaml: pricedConfig({ m: { port: mock.port } }), workers: 2 });
  const k = await newKey(s.url, { key_alias: 'stay' });
  const auth = { Authorization: `Bearer ${MASTER}` };
  const reqs = [
    httpRequest('POST', '/key/generate', { headers: auth, body: { key_alias: 'left' } }),
    httpRequest('GET', `/key/info?key=${k.key}`, { headers: auth }),
    httpRequest('GET', '/key/list?return_full_object=true', { headers: auth }),
    httpRequest('POST', '/key/update', { headers: auth, body: { key: k.key, rpm_limit: 7 } }),
    httpRequest('GET', '/spend/report?group_by=model', { headers: auth }),
  ];
  const socks = [];
  for (let i = 0; i < 150; i++) {
    const c = await rawConnect(s.port);
    await c.write(reqs[i % reqs.length]);
    if (i % 3) c.close(); // leave at once (the job may be queued or running)
    else socks.push(c);  // or after a moment
  }
  await delay(20);
  for (const c of socks) c.close();
  // still serving, and every write either happened or not at all
  const list = await admin(s.url).list({ return_full_object: 'true' });
  assert.equal(list.status, 200, list.text);
  for (const o of list.body.keys) assert.ok(o.key_alias === 'stay' || o.key_alias === 'left', JSON.stringify(o));
  const info = await admin(s.url).info(k.key);
  assert.equal(info.body.info.rpm_limit, 7);
  assert.equal((await chat(s.url, k.key, 'm')).status, 200);
  assert.equal(await s.stop(), 0); // and no sanitizer report (leaks included) at exit
  await mock.stop();
});
