// Attempts, retries and the request deadline (core/attempt*.c, policy/classify.c), against
// real sluice and sluice-mock processes and small node upstreams written here: the client's
// own timeout ending a stream (no use of a freed attempt), retries of a lone deployment,
// retry_after as a floor, a client-chosen timeout never cooling a deployment down, the
// provider's Retry-After passed through, garbage 200s (HTML, truncated JSON, gzip) failed
// over and never cached, no upstream address in client errors, tiny timeouts refused,
// streams without [DONE] and non-SSE answers to stream requests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import {
  startMock, startSluice, cleanup, post, openStream, sseData, assertOpenAIError, chatBody, nonce, HOST,
  stopAll,
} from './lib.mjs';
import { routerConfig, assertDecisionHeaders, waitStats, startFakeUpstream, chatCompletion, accessLineOf } from './routing_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';
const MSGS = '/v1/messages';

/** A node upstream answering with raw bytes: handler(req, res, n) writes what it wants
 *  (n = 1-based request number). Records requests. */
async function startRawUpstream(handler) {
  let n = 0;
  const requests = [];
  const sockets = new Set();
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      handler(req, res, ++n);
    });
  });
  srv.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  return {
    port: srv.address().port,
    requests,
    get count() { return requests.length; },
    close: () => new Promise((res) => { for (const s of sockets) s.destroy(); srv.close(() => res()); }),
  };
}

test('the client timeout ending a stream closes the upstream call (no use of the freed attempt)', async () => {
  const m = await startMock(['--tokens', '100', '--itl-ms', '50', '--ttft-ms', '5']);
  const s = await startSluice({ yaml: routerConfig({ groups: { ut: { port: m.port } }, router: { allowed_fails: 100 } }) });
  try {
    for (const [how, body, headers] of [
      ['header', chatBody('ut', { stream: true, user: nonce('h') }), { 'x-sluice-timeout': '0.5' }],
      ['body', chatBody('ut', { stream: true, timeout: 0.5, user: nonce('b') }), {}],
    ]) {
      const st = await openStream(`${s.url}${CHAT}`, { body, headers });
      await st.waitEnd(5000);
      assert.equal(st.status, 200, `${how}: ${st.text}`);
      const ev = sseData(st.text);
      assert.ok(!ev.includes('[DONE]'), `${how}: ${st.text}`);
      const err = JSON.parse(ev.at(-1));
      assert.equal(err.error?.code, 'upstream_timeout', `${how}: last event ${ev.at(-1)}`);
      // The provider's stream is closed at once, not left to deliver 5 s of tokens.
      await waitStats(m, (x) => x.inflight === 0, { timeoutMs: 1500, what: `${how}: the upstream stream to be closed` });
    }
    const r = await post(`${s.url}${CHAT}`, chatBody('ut', { mock: { tokens: 3 } }));
    assert.equal(r.status, 200, `the worker still serves: ${r.text}`);
  } finally {
    await stopAll(s, m);
  }
});

const err500 = { status: 500, body: { error: { message: 'transient', type: 'server_error', param: null, code: null } } };

test('num_retries: a lone deployment is retried after one transient 500; two deployments each failing once still answer', async () => {
  const lone = await startFakeUpstream((() => { let n = 0; return () => (++n === 1 ? err500 : { status: 200, body: chatCompletion() }); })());
  const twinA = await startFakeUpstream((() => { let n = 0; return () => (++n === 1 ? err500 : { status: 200, body: chatCompletion('a') }); })());
  const twinB = await startFakeUpstream((() => { let n = 0; return () => (++n === 1 ? err500 : { status: 200, body: chatCompletion('b') }); })());
  const dead = await startFakeUpstream(() => err500);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        lone: { port: lone.port, model_info: { id: 'lone-0' } },
        twins: [{ port: twinA.port, model_info: { id: 'tw-a' } }, { port: twinB.port, model_info: { id: 'tw-b' } }],
        dead: { port: dead.port, model_info: { id: 'dead-0' } },
      },
      router: { allowed_fails: 100 },
    }),
  });
  try {
    const t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('lone'));
    const ms = Date.now() - t0;
    assert.equal(r.status, 200, `retried: ${r.status} ${r.text}`);
    assertDecisionHeaders(r, { deployment: 'lone-0', attempts: 2 });
    assert.equal(lone.count, 2);
    assert.ok(ms >= 90, `the retry backed off (${ms} ms)`);
    const t = await post(`${s.url}${CHAT}`, chatBody('twins'));
    assert.equal(t.status, 200, `third attempt on a twin: ${t.status} ${t.text}`);
    assertDecisionHeaders(t, { attempts: 3 });
    assert.equal(twinA.count + twinB.count, 3);
    // num_retries 2 (default): 3 attempts, then the provider's error as it came.
    const d = await post(`${s.url}${CHAT}`, chatBody('dead'));
    assert.equal(d.status, 500, d.text);
    assertDecisionHeaders(d, { attempts: 3 });
    assert.equal(dead.count, 3);
    const line = await accessLineOf(s, d);
    assert.deepEqual(line.attempts.map((a) => a.deployment), ['dead-0', 'dead-0', 'dead-0']);
    assert.ok(line.attempts[1].start_ms > line.attempts[0].start_ms, 'a back-off between tries');
  } finally {
    await stopAll(s, lone, twinA, twinB, dead);
  }
});

test('retry_after is the least wait before a retry: one transient error costs one wait; no wait before giving up', async () => {
  const flaky = await startFakeUpstream((() => { let n = 0; return () => (++n === 1 ? err500 : { status: 200, body: chatCompletion() }); })());
  const dead = await startFakeUpstream(() => err500);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { fl: { port: flaky.port }, dd: { port: dead.port, max_retries: 0 } },
      router: { retry_after: 2, num_retries: 3, allowed_fails: 100 },
    }),
  });
  try {
    let t0 = Date.now();
    const r = await post(`${s.url}${CHAT}`, chatBody('fl'));
    let ms = Date.now() - t0;
    assert.equal(r.status, 200, `one transient error, then success: ${r.status} ${r.text}`);
    assertDecisionHeaders(r, { attempts: 2 });
    assert.ok(ms >= 1950 && ms < 5000, `one wait of retry_after (2 s), not more: ${ms} ms`);
    t0 = Date.now();
    const d = await post(`${s.url}${CHAT}`, chatBody('dd'));
    ms = Date.now() - t0;
    assert.equal(d.status, 500, d.text);
    assertDecisionHeaders(d, { attempts: 1 });
    assert.ok(ms < 1500, `no retry left: the error at once, not after retry_after (${ms} ms)`);
  } finally {
    await stopAll(s, flaky, dead);
  }
});

test('a timeout the client chose never counts against the deployments', async () => {
  const a = await startMock(['--latency-ms', '100']);
  const b = await startMock(['--latency-ms', '100']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { ct: [{ port: a.port }, { port: b.port }] },
      router: { allowed_fails: 1, cooldown_time: 30 },
    }),
  });
  try {
    for (let i = 0; i < 6; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('ct', { user: nonce('t') }), { 'x-sluice-timeout': '0.02' });
      assert.equal(r.status, 504, `tiny client timeout: ${r.status} ${r.text}`);
      assertOpenAIError(r.text, { code: 'upstream_timeout' });
    }
    for (let i = 0; i < 4; i++) {
      const r = await post(`${s.url}${CHAT}`, chatBody('ct', { user: nonce('o') }));
      assert.equal(r.status, 200, `an ordinary client after them: ${r.status} ${r.text}`);
      assertDecisionHeaders(r, { attempts: 1 });
    }
  } finally {
    await stopAll(s, a, b);
  }
});

test("the provider's Retry-After and retry-after-ms reach the client, on both wire formats", async () => {
  const oai = await startFakeUpstream(() => ({
    status: 429,
    headers: { 'retry-after': '7', 'retry-after-ms': '6500' },
    body: { error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } },
  }));
  const anth = await startFakeUpstream(() => ({
    status: 529,
    headers: { 'retry-after': '11' },
    body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
  }));
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        ro: { port: oai.port, max_retries: 0 },
        ra: { model: 'anthropic/claude-x', api_base: `http://${HOST}:${anth.port}`, api_key: 'k', max_retries: 0 },
      },
      router: { allowed_fails: 100 },
    }),
  });
  try {
    const anthBody = (model) => ({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    for (const [path, body, up, ra, ram, status] of [
      [CHAT, chatBody('ro'), 'oai', '7', '6500', 429],
      [MSGS, anthBody('ro'), 'oai', '7', '6500', 429],
      [CHAT, chatBody('ra'), 'anth', '11', undefined, 529],
      [MSGS, anthBody('ra'), 'anth', '11', undefined, 529],
    ]) {
      const r = await post(`${s.url}${path}`, body);
      assert.equal(r.status, status, `${path} (${up}): ${r.text}`);
      assert.equal(r.headers['retry-after'], ra, `${path} (${up}) Retry-After`);
      assert.equal(r.headers['retry-after-ms'], ram, `${path} (${up}) retry-after-ms`);
      const j = r.json();
      if (path === MSGS) assert.equal(j.type, 'error', r.text);
      else assert.equal(typeof j.error?.message, 'string', r.text);
    }
  } finally {
    await stopAll(s, oai, anth);
  }
});

test('client errors name the deployment and group, never the upstream address', async () => {
  const srv = await startRawUpstream((req, res) => { res.socket.destroy(); });
  const s = await startSluice({
    yaml: routerConfig({ groups: { ad: { port: srv.port, model_info: { id: 'ad-0' } } }, router: { allowed_fails: 100, num_retries: 0 } }),
  });
  try {
    const r = await post(`${s.url}${CHAT}`, chatBody('ad'));
    assert.ok(r.status === 502, `${r.status} ${r.text}`);
    const msg = r.json().error.message;
    assert.ok(!msg.includes('127.0.0.1') && !msg.includes(String(srv.port)), `address in: ${msg}`);
    assert.ok(msg.includes('ad-0') && msg.includes("'ad'"), msg);
  } finally {
    await stopAll(s, srv);
  }
});

test('garbage 200s (HTML, truncated JSON, gzip) are failed attempts: failed over, never cached; sluice asks for identity', async () => {
  const good = JSON.stringify(chatCompletion('raw'));
  const kinds = {
    html: (res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html><body>Sign in to the Wi-Fi</body></html>'); },
    truncated: (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(good.slice(0, good.length - 20)); },
    gzip: (res) => { res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }); res.end(zlib.gzipSync(good)); },
  };
  const raw = await startRawUpstream((req, res) => {
    const body = raw.requests.at(-1).body;
    (kinds[Object.keys(kinds).find((k) => body.includes(`kind-${k}`))] ?? kinds.html)(res);
  });
  const m = await startMock([]);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        gl: { port: raw.port, max_retries: 0, model_info: { id: 'gl-0' } },
        gt: [{ port: raw.port, order: 1, model_info: { id: 'gt-raw' } }, { port: m.port, order: 2, model_info: { id: 'gt-ok' } }],
      },
      router: { allowed_fails: 1000, num_retries: 1, cooldown_time: 0 },
      litellm: { cache: true, cache_params: { type: 'local', ttl: 3600 } },
    }),
  });
  try {
    for (const kind of Object.keys(kinds)) {
      for (let i = 0; i < 2; i++) { // the second ask is not a cache hit
        const n0 = raw.count;
        const r = await post(`${s.url}${CHAT}`, chatBody('gl', { messages: [{ role: 'user', content: `kind-${kind}` }] }));
        assert.equal(r.status, 502, `${kind} #${i + 1}: ${r.status} ${r.text}`);
        assertOpenAIError(r.text, { code: 'upstream_protocol_error' });
        assert.notEqual(r.headers['x-sluice-cache'], 'hit', `${kind} #${i + 1} served from the cache`);
        assert.equal(raw.count - n0, 1, `${kind} #${i + 1}: asked upstream`);
      }
      const t = await post(`${s.url}${CHAT}`, chatBody('gt', { messages: [{ role: 'user', content: `kind-${kind}` }] }));
      assert.equal(t.status, 200, `${kind}: failed over: ${t.text}`);
      assertDecisionHeaders(t, { deployment: 'gt-ok', attempts: 2 });
      assert.equal(t.json().object, 'chat.completion');
      assert.equal(t.headers['content-encoding'], undefined);
    }
    for (const rec of raw.requests) assert.equal(rec.headers['accept-encoding'], 'identity', JSON.stringify(rec.headers));
  } finally {
    await stopAll(s, raw, m);
  }
});

test('a sub-millisecond client timeout is refused (400), not a 503', async () => {
  const m = await startMock([]);
  const s = await startSluice({ yaml: routerConfig({ groups: { tt: { port: m.port } } }) });
  try {
    for (const [body, headers] of [[chatBody('tt', { timeout: 1e-300 }), {}], [chatBody('tt'), { 'x-sluice-timeout': '0.0000001' }]]) {
      const r = await post(`${s.url}${CHAT}`, body, headers);
      assert.equal(r.status, 400, r.text);
      assertOpenAIError(r.text, { code: 'invalid_request_error' });
    }
    assert.equal((await m.stats()).requests, 0);
  } finally {
    await stopAll(s, m);
  }
});

test('streams: an OpenAI stream without [DONE] ends with an in-band error; a JSON answer to a stream request is a failed attempt', async () => {
  const chunk = (t) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'x', choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })}\n\n`;
  const raw = await startRawUpstream((req, res) => {
    if (raw.requests.at(-1).body.includes('json-please')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(chatCompletion('raw')));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hello'));
    res.end(chunk(' world')); // no [DONE]
  });
  const m = await startMock(['--tokens', '3', '--itl-ms', '1']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        sd: { port: raw.port, max_retries: 0, model_info: { id: 'sd-0' } },
        sj: [{ port: raw.port, order: 1, model_info: { id: 'sj-raw' } }, { port: m.port, order: 2, model_info: { id: 'sj-ok' } }],
      },
      router: { allowed_fails: 1000, num_retries: 1, cooldown_time: 0 },
    }),
  });
  try {
    const st = await openStream(`${s.url}${CHAT}`, { body: chatBody('sd', { stream: true, user: 'nodone' }) });
    await st.waitEnd(5000);
    assert.equal(st.status, 200);
    const ev = sseData(st.text);
    assert.ok(!ev.includes('[DONE]'), st.text);
    assert.equal(JSON.parse(ev[0]).choices[0].delta.content, 'Hello');
    const err = JSON.parse(ev.at(-1));
    assert.equal(err.error?.code, 'upstream_protocol_error', `last event: ${ev.at(-1)}`);
    for (const path of [CHAT, MSGS]) {
      const messages = [{ role: 'user', content: 'json-please' }];
      const body = path === CHAT ? chatBody('sj', { stream: true, messages }) : { model: 'sj', max_tokens: 10, stream: true, messages };
      const j = await openStream(`${s.url}${path}`, { body });
      await j.waitEnd(5000);
      assert.equal(j.status, 200, j.text);
      assert.match(j.headers['content-type'] ?? '', /^text\/event-stream/, `${path}: ${j.text}`);
      assertDecisionHeaders(j, { deployment: 'sj-ok', attempts: 2 });
      if (path === CHAT) assert.equal(sseData(j.text).at(-1), '[DONE]', j.text);
      else assert.match(j.text, /event: message_stop/, j.text);
    }
  } finally {
    await stopAll(s, raw, m);
  }
});
