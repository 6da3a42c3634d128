// Helpers for the routing and reliability tests (routing, failover, hedging): configs
// with router_settings, mocks restarted on a fixed port with other flags, a bounded
// concurrent load runner over pooled keep-alive connections, tallies of the x-sluice-*
// decision headers, access-log lookups, and a scriptable node upstream for answers the
// mock cannot give per deployment (a 400 from one group while its fallback succeeds).
// Built on lib.mjs (which stays untouched); every wait has a deadline.
import http from 'node:http';
import assert from 'node:assert/strict';
import { startMock, sluiceConfig, HOST, delay, withDeadline, pollUntil } from './lib.mjs';

// ------------------------------------------------------------------ configs and mocks

/** sluiceConfig plus router_settings (LiteLLM) and litellm_settings. */
export function routerConfig({ groups, router, settings = {}, litellm, masterKey }) {
  const extra = {};
  if (router && Object.keys(router).length) extra.router_settings = router;
  if (litellm && Object.keys(litellm).length) extra.litellm_settings = litellm;
  return sluiceConfig({ groups, masterKey, settings, extra });
}

/** A mock on a given port (the later --port wins over lib's --port 0). Retries while the
 *  port is still held by a mock that is exiting (bounded). */
export async function startMockOn(port, args = [], { timeoutMs = 5000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      return await startMock([...args, '--port', String(port)]);
    } catch (e) {
      if (Date.now() >= deadline) throw new Error(`mock on port ${port}: ${e.message}`);
      await delay(Math.min(25 * (i + 1), 200)); // back-off between bind attempts
    }
  }
}

/** Stops a mock and starts another on the same port with other flags. */
export async function restartMock(mock, args = []) {
  const port = mock.port;
  await mock.stop();
  return startMockOn(port, args);
}

/** requests counter of each mock (in order). */
export async function counts(...mocks) {
  return Promise.all(mocks.map(async (m) => (await m.stats()).requests));
}

// ------------------------------------------------------------------ HTTP

/** A client with its own keep-alive pool (many requests without a connect each). */
export function makeClient(baseUrl, { maxSockets = 32, keepAlive = true } = {}) {
  const agent = new http.Agent({ keepAlive, maxSockets });
  const doRequest = (path, { method = 'POST', body, headers = {}, timeoutMs = 15000 } = {}) =>
    withDeadline(new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const h = { ...headers };
      if (data !== undefined) h['content-type'] = h['content-type'] ?? 'application/json';
      const t0 = performance.now();
      const req = http.request(`${baseUrl}${path}`, { method, headers: h, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode,
            headers: res.headers,
            text,
            ms: performance.now() - t0,
            json() { return JSON.parse(text); },
          });
        });
      });
      req.on('error', reject);
      req.setTimeout(timeoutMs, () => req.destroy(new Error('socket timeout')));
      req.end(data);
    }), timeoutMs + 1000, `${method} ${path}`);
  return {
    request: doRequest,
    chat: (body, headers = {}, o = {}) => doRequest('/v1/chat/completions', { body, headers, ...o }),
    close: () => agent.destroy(),
  };
}

/** Runs fn(i) for i in [0, n) with at most `concurrency` in flight; returns the results in
 *  order, each with `ms` (client-side latency) when fn did not set it. A thrown error is
 *  kept as {error} so one bad request does not hide the others. */
export async function runLoad(n, concurrency, fn) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t0 = performance.now();
      try {
        const r = await fn(i);
        if (r && typeof r === 'object' && r.ms === undefined) r.ms = performance.now() - t0;
        out[i] = r;
      } catch (e) {
        out[i] = { error: e, status: 0, headers: {}, text: String(e), ms: performance.now() - t0 };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

/** Tally of statuses, deployments, attempts, hedge values and fallbacks over results. */
export function tally(results) {
  const t = { n: results.length, status: {}, deployment: {}, attempts: {}, hedge: {}, fallback: {}, errors: [] };
  const bump = (o, k) => { o[k] = (o[k] ?? 0) + 1; };
  for (const r of results) {
    bump(t.status, r.status);
    if (r.status !== 200) t.errors.push(`${r.status} ${String(r.text).slice(0, 300)}`);
    bump(t.deployment, r.headers['x-sluice-deployment'] ?? '(none)');
    bump(t.attempts, r.headers['x-sluice-attempts'] ?? '(none)');
    bump(t.hedge, r.headers['x-sluice-hedge'] ?? '(none)');
    if (r.headers['x-sluice-fallback']) bump(t.fallback, r.headers['x-sluice-fallback']);
  }
  t.share = (dep) => (t.deployment[dep] ?? 0) / Math.max(1, t.n);
  t.toString = () => JSON.stringify({ status: t.status, deployment: t.deployment, attempts: t.attempts,
    hedge: t.hedge, fallback: t.fallback, errors: t.errors.slice(0, 5) });
  return t;
}

/** Asserts the decision headers every API response carries. */
export function assertDecisionHeaders(r, { group, deployment, attempts, hedge, fallback } = {}) {
  const h = r.headers;
  const ctx = `headers: ${JSON.stringify(h)}\nbody: ${String(r.text).slice(0, 500)}`;
  assert.ok(h['x-request-id'], `x-request-id missing\n${ctx}`);
  if (group !== undefined) assert.equal(h['x-sluice-model-group'], group, `x-sluice-model-group\n${ctx}`);
  if (deployment !== undefined) assert.equal(h['x-sluice-deployment'], deployment, `x-sluice-deployment\n${ctx}`);
  if (attempts !== undefined) assert.equal(h['x-sluice-attempts'], String(attempts), `x-sluice-attempts\n${ctx}`);
  if (hedge !== undefined) assert.equal(h['x-sluice-hedge'], hedge, `x-sluice-hedge\n${ctx}`);
  if (fallback !== undefined) {
    if (fallback === null) assert.equal(h['x-sluice-fallback'], undefined, `no x-sluice-fallback expected\n${ctx}`);
    else assert.equal(h['x-sluice-fallback'], fallback, `x-sluice-fallback\n${ctx}`);
  }
}

/** The access-log line of a response (by its x-request-id), waited for. */
export function accessLineOf(sluice, r, timeoutMs = 5000) {
  const id = r.headers['x-request-id'];
  assert.ok(id, 'response without x-request-id');
  return sluice.waitLine((l) => l.msg === 'access' && l.request_id === id, timeoutMs, `access line of ${id}`);
}

/** Polls a mock until its stats satisfy pred; returns those stats. */
export function waitStats(mock, pred, { timeoutMs = 3000, what = 'mock stats' } = {}) {
  return pollUntil(async () => {
    const s = await mock.stats();
    return pred(s) ? s : null;
  }, { timeoutMs, intervalMs: 20, what });
}

// ------------------------------------------------------------------ a scriptable upstream

/** An OpenAI chat.completion body, for the fake upstream. */
export function chatCompletion(model = 'fake-model', content = 'Hello from the fake upstream.') {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
  };
}

/** An OpenAI-shaped error body. */
export function openaiError(message, { type = 'invalid_request_error', code = null, param = null } = {}) {
  return { error: { message, type, param, code } };
}

/** A node HTTP server standing in for one provider deployment. handler(req) gets
 *  {method, path, headers, body, json} and returns {status, headers, body} (body: object
 *  -> JSON, string as is); default: 200 chat.completion. Records every request. */
export async function startFakeUpstream(handler = () => ({ status: 200, body: chatCompletion() })) {
  const requests = [];
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const rec = { method: req.method, path: req.url, headers: req.headers, body, json };
      requests.push(rec);
      let out;
      try {
        out = (await handler(rec)) ?? { status: 200, body: chatCompletion() };
      } catch (e) {
        out = { status: 500, body: openaiError(`fake upstream handler threw: ${e.message}`, { type: 'server_error' }) };
      }
      const data = typeof out.body === 'string' ? out.body : JSON.stringify(out.body ?? {});
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...(out.headers ?? {}) });
      res.end(data);
    });
  });
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  const { port } = srv.address();
  return {
    port,
    url: `http://${HOST}:${port}`,
    requests,
    get count() { return requests.length; },
    close: () => new Promise((res) => {
      for (const s of sockets) s.destroy();
      srv.close(() => res());
    }),
  };
}
