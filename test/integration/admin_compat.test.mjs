// Who may call which ops and admin route, in one table (route x credential {none, wrong,
// a virtual key, the key itself for /key/info, the master key} -> status), and LiteLLM's
// key API shapes: the fields /key/generate and /key/update accept (aliases, team_id,
// user_id, max_parallel_requests — enforced —, metadata, tags, duration, budget_duration,
// soft_budget, blocked), /key/update's flat answer, /key/block and /key/unblock, a key
// reading its own /key/info, and /v1/models listing only what a key may call.
// The upstream is a small node server that holds requests until the test lets them go,
// so "in flight" is a fact the test controls, not a timing guess.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, startSluice, cleanup, assertOpenAIError, pollUntil } from './lib.mjs';
import { MASTER, MASTER_AUTH, pricedConfig, admin, newKey, chat, call } from './keys_lib.mjs';

after(cleanup);

const bearer = (k) => ({ authorization: `Bearer ${k}` });

test('ops and admin routes: one table of route x credential -> status', async () => {
  const mock = await startMock();
  const yaml = pricedConfig({ 'gpt-a': { port: mock.port } }, { extra: { litellm_settings: { cache: true } } });
  const s = await startSluice({ yaml, workers: 2 });
  const a = admin(s.url);
  const own = await newKey(s.url, { key_alias: 'own' });
  const other = await newKey(s.url, { key_alias: 'other' });
  const throwaway = async () => (await newKey(s.url)).key;

  // a cached answer that a virtual key must not be able to flush
  const body = { model: 'gpt-a', messages: [{ role: 'user', content: 'cache me' }] };
  const fill = await call(s.url, '/v1/chat/completions', { body, headers: MASTER_AUTH });
  assert.equal(fill.status, 200, fill.text);
  await pollUntil(async () => {
    const st = await call(s.url, '/cache/stats', { method: 'GET', headers: MASTER_AUTH });
    return st.status === 200 && st.json().entries >= 1;
  }, { timeoutMs: 10000, intervalMs: 50, what: 'the cache entry to be committed' });

  const creds = {
    none: {},
    wrong: bearer('sk-wrong-key-nobody-has'),
    virtual: bearer(own.key),
    master: MASTER_AUTH,
  };
  // [method, path, body (or a function making one), expected per credential]
  const A = { none: 401, wrong: 401, virtual: 403, master: 200 };
  const rows = [
    ['GET', '/cache/stats', undefined, A],
    ['DELETE', '/cache', undefined, { ...A, master: null /* checked below, after the 403s */ }],
    ['POST', '/key/generate', {}, A],
    ['GET', `/key/info?key=${other.token}`, undefined, A],
    ['GET', `/key/info?key=${encodeURIComponent(own.key)}`, undefined, { ...A, virtual: 200 }],
    ['GET', '/key/info', undefined, { ...A, virtual: 200, master: 400 }],
    ['POST', '/key/update', { key: other.token, rpm_limit: 5 }, A],
    ['POST', '/key/delete', async () => ({ keys: [await throwaway()] }), A],
    ['POST', '/key/block', { key: other.token }, A],
    ['POST', '/key/unblock', { key: other.token }, A],
    ['GET', '/key/list', undefined, A],
    ['GET', '/spend/report', undefined, A],
    ['GET', '/v1/models', undefined, { ...A, virtual: 200 }],
    ['GET', '/metrics', undefined, { none: 200, wrong: 200, virtual: 200, master: 200 }],
    ['GET', '/health/liveliness', undefined, { none: 200, wrong: 200, virtual: 200, master: 200 }],
    ['GET', '/health/readiness', undefined, { none: 200, wrong: 200, virtual: 200, master: 200 }],
  ];
  const seen = [];
  for (const [method, path, mk, want] of rows) {
    for (const [who, headers] of Object.entries(creds)) {
      if (want[who] === null) continue;
      const b = typeof mk === 'function' ? await mk() : mk;
      const r = await call(s.url, path, { method, body: b, headers });
      seen.push(`${method} ${path} as ${who}: ${r.status}`);
      assert.equal(r.status, want[who], `${method} ${path} as ${who}: ${r.text}`);
      if (r.status === 401) assertOpenAIError(r.text, { code: 'invalid_api_key' });
      if (r.status === 403) assertOpenAIError(r.text, { code: 'admin_only', messageIncludes: 'master key' });
    }
  }
  // the virtual key's DELETE /cache was refused: the entry is still served
  const hit = await call(s.url, '/v1/chat/completions', { body, headers: MASTER_AUTH });
  assert.equal(hit.status, 200, hit.text);
  assert.equal(hit.headers['x-sluice-cache'], 'hit', 'the cache survived the virtual key');
  const flush = await call(s.url, '/cache', { method: 'DELETE', headers: MASTER_AUTH });
  assert.equal(flush.status, 200, flush.text);
  // /config/reload last: it replaces the workers
  for (const [who, want] of [['none', 401], ['wrong', 401], ['virtual', 403], ['master', 200]]) {
    const r = await call(s.url, '/config/reload', { method: 'POST', body: {}, headers: creds[who], timeoutMs: 60000 });
    assert.equal(r.status, want, `POST /config/reload as ${who}: ${r.text}`);
  }
  assert.ok(seen.length >= 60, `the table ran: ${seen.length} cells`);
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

/** An OpenAI-shaped upstream that holds every chat request until release() is called. */
async function holdingUpstream() {
  const held = [];
  let total = 0;
  const srv = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      total++;
      const model = (() => { try { return JSON.parse(data).model; } catch { return '?'; } })();
      held.push(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'chatcmpl-held', object: 'chat.completion', created: 1, model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
        }));
      });
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: srv.address().port,
    get held() { return held.length; },
    get total() { return total; },
    release() { while (held.length) held.shift()(); },
    close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
  };
}

test("LiteLLM's key fields: accepted, shown, enforced; flat /key/update; /key/block; own /key/info; /v1/models per key", async () => {
  const up = await holdingUpstream();
  const mock = await startMock();
  const yaml = pricedConfig({
    'gpt-a': { port: mock.port }, 'gpt-b': { port: mock.port }, 'gpt-held': { port: up.port },
  });
  const s = await startSluice({ yaml, workers: 2 });
  const a = admin(s.url);

  // /key/generate takes LiteLLM's fields instead of refusing them
  const k = await newKey(s.url, {
    models: ['gpt-a', 'gpt-held'], aliases: { fast: 'gpt-a' }, team_id: 'team-1', user_id: 'user-7',
    max_parallel_requests: 2, metadata: { app: 'x' }, tags: ['prod', 'search'], duration: '1h',
    budget_duration: '30d', max_budget: 100, soft_budget: 50, blocked: false,
  });
  assert.deepEqual(k.aliases, { fast: 'gpt-a' });
  assert.equal(k.team_id, 'team-1');
  assert.equal(k.user_id, 'user-7');
  assert.equal(k.max_parallel_requests, 2);
  assert.deepEqual(k.tags, ['prod', 'search']);
  assert.equal(k.soft_budget, 50);
  assert.equal(k.budget_duration, '30d');
  assert.deepEqual(k.metadata, { app: 'x' });
  assert.equal(k.blocked, false);
  const bad = await a.generate({ max_parallel_requests: -1 });
  assert.equal(bad.status, 400, bad.text);
  assertOpenAIError(bad.body, { messageIncludes: "'max_parallel_requests'" });
  assert.equal((await a.generate({ tags: 'prod' })).status, 400, 'tags must be a list');
  assert.equal((await a.generate({ aliases: { x: 1 } })).status, 400, 'aliases map names to names');
  assert.equal((await a.generate({ duration: '-1' })).status, 200, '"-1": never expires');

  // the key's aliases route a name to a group it may use
  const viaAlias = await chat(s.url, k.key, 'fast');
  assert.equal(viaAlias.status, 200, viaAlias.text);
  assert.equal(viaAlias.headers['x-sluice-model-group'], 'gpt-a');

  // /v1/models lists only what the key may call; the master key sees everything
  const ids = async (auth) => {
    const r = await call(s.url, '/v1/models', { method: 'GET', headers: auth });
    assert.equal(r.status, 200, r.text);
    return r.json().data.map((m) => m.id).sort();
  };
  assert.deepEqual(await ids(bearer(k.key)), ['gpt-a', 'gpt-held']);
  assert.deepEqual(await ids(MASTER_AUTH), ['gpt-a', 'gpt-b', 'gpt-held']);
  const open = await newKey(s.url, {});
  assert.deepEqual(await ids(bearer(open.key)), ['gpt-a', 'gpt-b', 'gpt-held'], 'no models list = every model');

  // GET /v1/models/{id}: the model object, or 404 model_not_found also for a model the key
  // may not use (as OpenAI answers); with and without /v1, %2F-encoded ids decoded
  const one = (id, auth, prefix = '/v1') => call(s.url, `${prefix}/models/${id}`, { method: 'GET', headers: auth });
  let m = await one('gpt-a', bearer(k.key));
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(m.json(), { id: 'gpt-a', object: 'model', created: 1677610602, owned_by: 'sluice' });
  assert.equal((await one('gpt-a', bearer(k.key), '')).status, 200, 'without /v1');
  m = await one('gpt-b', bearer(k.key));
  assert.equal(m.status, 404, m.text);
  assertOpenAIError(m.text, { code: 'model_not_found', messageIncludes: "'gpt-b' does not exist or you do not have access" });
  assert.equal((await one('gpt-b', MASTER_AUTH)).status, 200, 'the master key sees every model');
  m = await one('no-such-model', MASTER_AUTH);
  assert.equal(m.status, 404, m.text);
  assertOpenAIError(m.text, { code: 'model_not_found', messageIncludes: "'no-such-model'" });
  assert.equal((await one('gpt%2Da', MASTER_AUTH)).json().id, 'gpt-a', 'percent-decoded');
  assert.equal((await one('gpt%zz', MASTER_AUTH)).status, 404, 'a malformed escape is a 404, not a crash');
  assert.equal((await one('gpt-a', {})).status, 401, 'a key is needed as for /v1/models');

  // max_parallel_requests: 2 in flight, the third is a 429; once they end, it passes
  const inflight = [chat(s.url, k.key, 'gpt-held'), chat(s.url, k.key, 'gpt-held')];
  await pollUntil(() => up.held === 2, { timeoutMs: 10000, intervalMs: 20, what: 'two requests held upstream' });
  const third = await chat(s.url, k.key, 'gpt-held');
  assert.equal(third.status, 429, third.text);
  assertOpenAIError(third.text, { code: 'rate_limit_exceeded', messageIncludes: 'max_parallel_requests' });
  assert.equal(up.total, 2, 'the refused request never reached the upstream');
  const other = chat(s.url, open.key, 'gpt-held'); // another key is not limited by it
  await pollUntil(() => up.held === 3, { timeoutMs: 10000, intervalMs: 20, what: 'the other key held upstream' });
  up.release();
  for (const r of await Promise.all([...inflight, other])) assert.equal(r.status, 200, r.text);
  const later = chat(s.url, k.key, 'gpt-held');
  await pollUntil(() => up.held === 1, { timeoutMs: 10000, intervalMs: 20, what: 'the later request upstream' });
  up.release();
  assert.equal((await later).status, 200, 'the slots were given back');

  // /key/update answers LiteLLM's flat shape
  const u = await a.update({ key: k.key, team_id: 'team-2', max_parallel_requests: 5, tags: ['dev'] });
  assert.equal(u.status, 200, u.text);
  assert.equal(u.body.key, k.key);
  assert.equal(u.body.token, k.token);
  assert.equal(u.body.team_id, 'team-2');
  assert.equal(u.body.user_id, 'user-7', 'fields not named stay');
  assert.equal(u.body.max_parallel_requests, 5);
  assert.deepEqual(u.body.tags, ['dev']);
  assert.equal(u.body.info, undefined, 'flat: no nested info');

  // a key reads its own /key/info (with or without ?key=), not another's
  for (const path of ['/key/info', `/key/info?key=${encodeURIComponent(k.key)}`, `/key/info?key=${k.token}`]) {
    const r = await call(s.url, path, { method: 'GET', headers: bearer(k.key) });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    assert.equal(r.json().key, k.token);
    assert.equal(r.json().info.team_id, 'team-2');
  }
  const peek = await call(s.url, `/key/info?key=${open.token}`, { method: 'GET', headers: bearer(k.key) });
  assert.equal(peek.status, 403, peek.text);

  // /key/block and /key/unblock
  const blk = await call(s.url, '/key/block', { body: { key: k.key }, headers: MASTER_AUTH });
  assert.equal(blk.status, 200, blk.text);
  assert.equal(blk.json().blocked, true);
  assert.equal(blk.json().token, k.token);
  const refused = await chat(s.url, k.key, 'gpt-a');
  assert.equal(refused.status, 401, refused.text);
  assertOpenAIError(refused.text, { code: 'invalid_api_key', messageIncludes: 'Key is blocked' });
  const ub = await call(s.url, '/key/unblock', { body: { key: k.token }, headers: MASTER_AUTH });
  assert.equal(ub.status, 200, ub.text);
  assert.equal(ub.json().blocked, false);
  assert.equal((await chat(s.url, k.key, 'gpt-a')).status, 200);
  const nob = await call(s.url, '/key/block', { body: { key: 'sk-nobody-has-this' }, headers: MASTER_AUTH });
  assert.equal(nob.status, 404, nob.text);
  assert.equal((await call(s.url, '/key/block', { body: {}, headers: MASTER_AUTH })).status, 400);

  assert.equal(await s.stop(), 0);
  await mock.stop();
  await up.close();
});
