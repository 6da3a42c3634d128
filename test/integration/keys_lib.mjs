// Helpers for the virtual-key, limit, budget and spend tests (keys, keys_limits,
// spend_chaos): a config with prices and a master key, an admin client for the /key and
// /spend routes, chat calls that read the request's cost from the x-sluice-cost header
// (whole responses) or HTTP trailer (streams), exact micro-USD arithmetic, and waits on
// the wall-clock minute (rate-limit windows are unix minutes). Built on lib.mjs.
import http from 'node:http';
import assert from 'node:assert/strict';
import { sluiceConfig, withDeadline, delay, pollUntil } from './lib.mjs';

export const MASTER = 'sk-test-master-fake';
export const MASTER_AUTH = { authorization: `Bearer ${MASTER}` };
/** Prices that make every mock answer cost something (the mock reports usage). */
export const PRICED = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 };

/** A config with the master key and priced deployments. groups as in sluiceConfig; a
 *  dep without model_info gets PRICED. */
export function pricedConfig(groups, { settings = {}, extra = {}, masterKey = MASTER } = {}) {
  const g = {};
  for (const [name, deps] of Object.entries(groups)) {
    g[name] = (Array.isArray(deps) ? deps : [deps]).map((d) => ({ model_info: PRICED, ...d }));
  }
  return sluiceConfig({ groups: g, masterKey, settings, extra });
}

/** "0.000123" -> 123 (micro-USD, exact). */
export function micro(s) {
  assert.match(String(s), /^\d+(\.\d{1,6})?$/, `a cost in USD: ${s}`);
  const [a, b = ''] = String(s).split('.');
  return Number(a) * 1e6 + Number((b + '000000').slice(0, 6));
}

/** One HTTP call; resolves {status, headers, trailers, text, json(), complete} where
 *  complete means the body ended cleanly. Never rejects for transport errors: they come
 *  back as {status: 0, error}. */
export function call(base, path, { method = 'POST', body, headers = {}, agent = false, timeoutMs = 15000 } = {}) {
  return withDeadline(new Promise((resolve) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) h['content-type'] = 'application/json';
    let done = false;
    const finish = (r) => { if (!done) { done = true; resolve(r); } };
    const req = http.request(`${base}${path}`, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => finish({ status: 0, error: e, headers: res.headers, trailers: {}, text: '' }));
      res.on('aborted', () => finish({ status: 0, error: new Error('aborted'), headers: res.headers, trailers: {}, text: '' }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        finish({
          status: res.statusCode,
          headers: res.headers,
          trailers: res.trailers ?? {},
          text,
          complete: res.complete,
          json() {
            try { return JSON.parse(text); } catch (e) { throw new Error(`not JSON (${e.message}): ${text.slice(0, 500)}`); }
          },
        });
      });
    });
    req.on('error', (e) => finish({ status: 0, error: e, headers: {}, trailers: {}, text: '' }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error('socket timeout')));
    req.end(data);
  }), timeoutMs + 2000, `${method} ${path}`);
}

/** A chat completion with a virtual key (or any bearer). stream: read the cost trailer.
 *  Resolves call()'s result plus cost (micro-USD, or null when the answer carried none). */
export async function chat(base, key, model, { stream = false, agent = false, extra = {}, timeoutMs } = {}) {
  const body = { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra };
  if (stream) body.stream = true;
  const r = await call(base, '/v1/chat/completions', {
    body, headers: { authorization: `Bearer ${key}` }, agent, timeoutMs,
  });
  const c = stream ? r.trailers?.['x-sluice-cost'] : r.headers?.['x-sluice-cost'];
  r.cost = r.status === 200 && r.complete && c !== undefined ? micro(c) : null;
  if (stream && r.status === 200 && r.cost !== null) {
    assert.ok(r.text.includes('data: [DONE]'), `a stream with a cost trailer ends with [DONE]: ${r.text.slice(-300)}`);
  }
  return r;
}

/** The admin API of a sluice at base, with the master key. Each call resolves
 *  {status, body (parsed JSON or text)}. */
export function admin(base, auth = MASTER_AUTH) {
  const go = async (method, path, body) => {
    const r = await call(base, path, { method, body, headers: auth });
    let b = r.text;
    try { b = JSON.parse(r.text); } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, body: b, text: r.text };
  };
  const q = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined)).toString();
  return {
    generate: (body = {}) => go('POST', '/key/generate', body),
    info: (key) => go('GET', `/key/info?${q({ key })}`),
    update: (body) => go('POST', '/key/update', body),
    del: (body) => go('POST', '/key/delete', body),
    list: (params = {}) => go('GET', `/key/list?${q(params)}`),
    report: (params = {}) => go('GET', `/spend/report?${q(params)}`),
    reload: () => go('POST', '/config/reload', {}),
  };
}

/** Generates a key and asserts 200; returns the body. */
export async function newKey(base, body = {}) {
  const r = await admin(base).generate(body);
  assert.equal(r.status, 200, `POST /key/generate: ${r.text}`);
  assert.match(r.body.key, /^sk-/);
  return r.body;
}

/** The key's spend from /key/info, in micro-USD. */
export async function keySpend(base, key) {
  const r = await admin(base).info(key);
  assert.equal(r.status, 200, `GET /key/info: ${r.text}`);
  return micro(r.body.info.spend);
}

/** The key's spend in the ledger alone (the flushed part): the sum of its rows in
 *  /spend/report?group_by=key over the default window (the last 30 days). */
export async function ledgerSpend(base, token) {
  const r = await admin(base).report({ group_by: 'key' });
  assert.equal(r.status, 200, `GET /spend/report: ${r.text}`);
  return r.body.rows.filter((x) => x.id === token).reduce((a, x) => a + micro(x.spend), 0);
}

/** Polls read() (micro-USD) until it equals want, or until it has not changed for
 *  stableMs (then returns the last value for the caller to assert on). */
export async function settle(read, want, { stableMs = 3000, timeoutMs = 20000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last, since = Date.now();
  for (;;) {
    const v = await read();
    if (v === want) return v;
    if (v !== last) { last = v; since = Date.now(); }
    if (Date.now() - since >= stableMs || Date.now() >= deadline) return v;
    await delay(intervalMs);
  }
}

/** Rate-limit windows are unix minutes: waits until at least needSec seconds are left in
 *  the current minute, so a burst that lasts less than that stays in one window. */
export async function roomInMinute(needSec) {
  const left = () => 60 - (Date.now() % 60000) / 1000;
  if (left() >= needSec) return;
  await delay(Math.ceil(left() * 1000) + 100);
}

export { pollUntil };
