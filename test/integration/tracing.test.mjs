// OpenTelemetry traces (core/trace.c) against real processes: an OTLP/HTTP receiver in this
// file (a node http server collecting the POSTed ExportTraceServiceRequest JSON), sluice
// configured by OTEL_EXPORTER_OTLP_ENDPOINT. One routed (a rules router), retried (the
// first deployment answers 500), hedged (the second stalls; the third answers) request
// with a client traceparent gives a SERVER span under the client's span and one CLIENT
// span per attempt under it, with the GenAI and sluice.* attributes and outcomes; each
// upstream call carried a traceparent naming its own CLIENT span. No message content
// leaves without the opt-in. With tracing off a client's traceparent is passed on as it
// came; with the receiver down requests still succeed and the failed spans are counted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startMock, startSluice, cleanup, post, request, chatBody, findRecorded, recordedHeader, nonce, pollUntil, freePort,
  toYaml, HOST,
} from './lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';

/** An OTLP/HTTP JSON receiver: every POST body to /v1/traces, parsed. */
async function startReceiver() {
  const bodies = [];
  const headers = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        headers.push(req.headers);
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  await new Promise((r) => srv.listen(0, HOST, r));
  return {
    url: `http://${HOST}:${srv.address().port}`,
    bodies,
    headers,
    spans: () => bodies.flatMap((b) => b.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))),
    close: () => new Promise((r) => srv.close(r)),
  };
}

/** A span's attributes as a plain object. */
function attrs(span) {
  const o = {};
  for (const a of span.attributes ?? []) {
    const v = a.value;
    o[a.key] = 'stringValue' in v ? v.stringValue : 'intValue' in v ? Number(v.intValue) : 'doubleValue' in v
      ? Number(v.doubleValue) : 'boolValue' in v ? v.boolValue : v.arrayValue?.values?.map((x) => x.stringValue);
  }
  return o;
}

function config({ bad, stall, fast, settings = {}, litellm }) {
  const dep = (id, port, order) => ({
    model_name: 'h',
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock', order },
    model_info: { id },
  });
  const cfg = {
    model_list: [
      ...(bad ? [dep('h-bad', bad.port, 1)] : []),
      ...(stall ? [dep('h-stall', stall.port, 2)] : []),
      dep('h-fast', fast.port, 3),
      { model_name: 'auto', litellm_params: { model: 'sluice_router/rules', default_model: 'h',
        rules: [{ name: 'gold', if: { header: { 'x-tier': ['gold'] } }, then: 'h' }] } },
    ],
    router_settings: { num_retries: 2, allowed_fails: 1000 },
    sluice_settings: { hedging: { enabled: true, delay: '100ms', max_extra: 1, budget: 1, budget_burst: 100 }, ...settings },
  };
  if (litellm) cfg.litellm_settings = litellm;
  return toYaml(cfg);
}

async function metric(s, name) {
  const r = await request(`${s.url}/metrics`);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : undefined;
}

const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

test('a routed, retried, hedged request: SERVER span under the client span, CLIENT spans per attempt, traceparent upstream', async () => {
  const rx = await startReceiver();
  const bad = await startMock(['--p-500', '1']);
  const stall = await startMock(['--p-stall', '1', '--stall-ms', '3000']);
  const fast = await startMock(['--latency-ms', '5']);
  const s = await startSluice({
    yaml: config({ bad, stall, fast }),
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'sluice-it' },
  });
  try {
    const trace = hex(16), parent = hex(8), marker = nonce('SECRET-PROMPT');
    const r = await post(`${s.url}${CHAT}`, chatBody('auto', { messages: [{ role: 'user', content: marker }] }),
      { traceparent: `00-${trace}-${parent}-01`, tracestate: 'vendor=abc', 'x-tier': 'gold' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-sluice-attempts'], '3', JSON.stringify(r.headers));

    await pollUntil(() => rx.spans().filter((x) => x.traceId === trace).length >= 4,
      { timeoutMs: 5000, what: 'the request\'s 4 spans at the receiver' });
    const spans = rx.spans().filter((x) => x.traceId === trace);
    assert.equal(spans.length, 4, JSON.stringify(spans));
    const server = spans.find((x) => x.kind === 2);
    const clients = spans.filter((x) => x.kind === 3);
    assert.ok(server, 'a SERVER span');
    assert.equal(clients.length, 3);
    assert.equal(server.parentSpanId, parent, 'the SERVER span is a child of the client\'s span');
    assert.equal(server.traceState, 'vendor=abc');
    assert.equal(server.name, 'chat auto');
    const sa = attrs(server);
    assert.equal(sa['gen_ai.operation.name'], 'chat');
    assert.equal(sa['gen_ai.request.model'], 'auto');
    assert.equal(sa['gen_ai.provider.name'], 'openai');
    assert.equal(sa['gen_ai.response.model'], 'mock-model');
    assert.equal(typeof sa['gen_ai.response.id'], 'string');
    assert.deepEqual(sa['gen_ai.response.finish_reasons'], ['stop']);
    assert.ok(sa['gen_ai.usage.input_tokens'] > 0 && sa['gen_ai.usage.output_tokens'] > 0, JSON.stringify(sa));
    assert.equal(sa['http.response.status_code'], 200);
    assert.equal(sa['sluice.router'], 'auto');
    assert.equal(sa['sluice.router.reason'], 'rule:gold');
    assert.equal(sa['sluice.group'], 'h');
    assert.equal(sa['sluice.deployment'], 'h-fast');
    assert.equal(sa['sluice.attempts'], 3);
    assert.equal(sa['sluice.cache'], 'none');
    assert.equal(typeof sa['sluice.cost_usd'], 'number');
    assert.equal(server.status.code, 0);
    assert.ok(!('gen_ai.input.messages' in sa), 'no content without the opt-in');

    const byDep = Object.fromEntries(clients.map((c) => [attrs(c)['sluice.deployment'], c]));
    for (const c of clients) {
      assert.equal(c.parentSpanId, server.spanId, 'CLIENT spans are children of the SERVER span');
      assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(server.startTimeUnixNano), 'attempt starts inside the request');
      assert.ok(BigInt(c.endTimeUnixNano) <= BigInt(server.endTimeUnixNano), 'attempt ends inside the request');
      assert.equal(c.name, 'chat mock-model');
      const a = attrs(c);
      assert.equal(a['server.address'], HOST);
      assert.equal(typeof a['server.port'], 'number');
      assert.equal(a['gen_ai.provider.name'], 'openai');
    }
    const b = attrs(byDep['h-bad']), st = attrs(byDep['h-stall']), f = attrs(byDep['h-fast']);
    assert.equal(b['sluice.attempt.outcome'], 'http_500');
    assert.equal(b['error.type'], 'http_500');
    assert.equal(b['http.response.status_code'], 500);
    assert.equal(byDep['h-bad'].status.code, 2, 'a failed attempt has status ERROR');
    assert.equal(b['sluice.attempt.hedge'], false);
    assert.notEqual(st['sluice.attempt.outcome'], 'ok');
    assert.equal(st['sluice.attempt.hedge'], false);
    assert.equal(f['sluice.attempt.outcome'], 'ok');
    assert.equal(f['sluice.attempt.hedge'], true);
    assert.equal(f['sluice.attempt.winner'], true);
    assert.equal(byDep['h-fast'].status.code, 0);

    // the upstream calls carried traceparents naming their own CLIENT spans
    for (const [m, id] of [[bad, 'h-bad'], [fast, 'h-fast']]) {
      const rec = findRecorded(await m.stats(), (body) => body?.messages?.[0]?.content === marker);
      assert.ok(rec, `${id} recorded the request`);
      assert.equal(recordedHeader(rec, 'traceparent'), `00-${trace}-${byDep[id].spanId}-01`);
      assert.equal(recordedHeader(rec, 'tracestate'), 'vendor=abc');
    }
    const srec = findRecorded(await stall.stats(), (body) => body?.messages?.[0]?.content === marker);
    if (srec) assert.equal(recordedHeader(srec, 'traceparent'), `00-${trace}-${byDep['h-stall'].spanId}-01`);

    // resource and envelope; nothing of the prompt left sluice
    const res = attrs(rx.bodies[0].resourceSpans[0].resource);
    assert.equal(res['service.name'], 'sluice-it');
    assert.equal(rx.headers[0]['content-type'], 'application/json');
    assert.ok(!JSON.stringify(rx.bodies).includes(marker), 'the prompt is not exported');

    // a request without traceparent starts its own trace, and the exporter counts
    const r2 = await post(`${s.url}${CHAT}`, chatBody('h'));
    assert.equal(r2.status, 200);
    await pollUntil(async () => (await metric(s, 'sluice_trace_spans_exported_total')) >= 5,
      { timeoutMs: 5000, what: 'exported spans counted' });
    const roots = rx.spans().filter((x) => x.kind === 2 && !x.parentSpanId);
    assert.ok(roots.length >= 1 && roots[0].traceId !== trace && /^[0-9a-f]{32}$/.test(roots[0].traceId));
    assert.equal(await metric(s, 'sluice_trace_spans_dropped_total'), 0);
  } finally {
    await s.stop();
    await Promise.all([bad.stop(), stall.stop(), fast.stop()]);
    await rx.close();
  }
});

test('tracing off: a client traceparent passes through unchanged; none is added without one', async () => {
  const fast = await startMock(['--latency-ms', '1']);
  const s = await startSluice({ yaml: config({ fast }), env: { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' } });
  try {
    const tp = `00-${hex(16)}-${hex(8)}-00`;
    const m1 = nonce('a'), m2 = nonce('b');
    assert.equal((await post(`${s.url}${CHAT}`, chatBody('h', { messages: [{ role: 'user', content: m1 }] }), { traceparent: tp })).status, 200);
    assert.equal((await post(`${s.url}${CHAT}`, chatBody('h', { messages: [{ role: 'user', content: m2 }] }))).status, 200);
    const stats = await fast.stats();
    assert.equal(recordedHeader(findRecorded(stats, (b) => b?.messages?.[0]?.content === m1), 'traceparent'), tp);
    assert.equal(recordedHeader(findRecorded(stats, (b) => b?.messages?.[0]?.content === m2), 'traceparent'), undefined);
    assert.equal(await metric(s, 'sluice_trace_spans_exported_total'), undefined, 'no trace metrics when off');
  } finally {
    await s.stop();
    await fast.stop();
  }
});

test('receiver down: requests succeed, failed spans are counted; content is exported only when opted in', async () => {
  const fast = await startMock(['--latency-ms', '1']);
  const down = await freePort(); // nothing listens there
  const s = await startSluice({
    yaml: config({ fast, litellm: { callbacks: ['otel'] }, settings: { tracing: { capture_content: true } } }),
    env: { OTEL_EXPORTER: 'otlp_http', OTEL_ENDPOINT: `http://${HOST}:${down}`, OTEL_EXPORTER_OTLP_ENDPOINT: '' },
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await post(`${s.url}${CHAT}`, chatBody('h'))).status, 200);
    await pollUntil(async () => (await metric(s, 'sluice_trace_spans_failed_total')) >= 6,
      { timeoutMs: 8000, what: 'the failed batch (sent twice) counted' });
    assert.equal(await metric(s, 'sluice_trace_spans_exported_total'), 0);
  } finally {
    await s.stop();
  }
  // content opt-in: the prompt goes out as gen_ai.input.messages
  const rx = await startReceiver();
  const s2 = await startSluice({
    yaml: config({ fast, settings: { tracing: { enabled: true, endpoint: rx.url, capture_content: true, service_name: 'opt' } } }),
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: '' },
  });
  try {
    const marker = nonce('CONTENT');
    assert.equal((await post(`${s2.url}${CHAT}`, chatBody('h', { messages: [{ role: 'user', content: marker }] }))).status, 200);
    await pollUntil(() => rx.spans().some((x) => x.kind === 2), { timeoutMs: 5000, what: 'the SERVER span' });
    const sa = attrs(rx.spans().find((x) => x.kind === 2));
    assert.ok(sa['gen_ai.input.messages'].includes(marker), JSON.stringify(sa));
    assert.equal(typeof sa['gen_ai.output.messages'], 'string');
    assert.equal(attrs(rx.bodies[0].resourceSpans[0].resource)['service.name'], 'opt');
  } finally {
    await s2.stop();
    await fast.stop();
    await rx.close();
  }
});

test('a receiver that never answers: the queue stays bounded, overflow is dropped and counted, sluice stops promptly', async () => {
  const fast = await startMock(['--latency-ms', '1']);
  const held = [];
  const srv = http.createServer((req) => { held.push(req); }); // reads nothing, answers nothing
  await new Promise((r) => srv.listen(0, HOST, r));
  const s = await startSluice({
    yaml: config({ fast }),
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${HOST}:${srv.address().port}`,
      OTEL_BSP_MAX_QUEUE_SIZE: '2', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_EXPORT_TIMEOUT: '60000',
    },
  });
  try {
    // request 1: its 2 spans are one full batch, sent at once and never answered; then 2
    // spans fit the queue and the rest are dropped
    for (let i = 0; i < 4; i++) assert.equal((await post(`${s.url}${CHAT}`, chatBody('h'))).status, 200);
    await pollUntil(() => held.length >= 1, { timeoutMs: 5000, what: 'the export to arrive' });
    await pollUntil(async () => (await metric(s, 'sluice_trace_spans_dropped_total')) >= 4,
      { timeoutMs: 5000, what: 'the dropped spans counted' });
    assert.equal(await metric(s, 'sluice_trace_spans_dropped_total'), 4, 'exactly the overflow');
    assert.equal(await metric(s, 'sluice_trace_spans_exported_total'), 0);
  } finally {
    const t0 = Date.now();
    assert.equal(await s.stop(), 0, 'sluice exit code');
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms with an export hanging`);
    for (const r of held) r.socket.destroy();
    await new Promise((r) => srv.close(r));
    await fast.stop();
  }
});
