// Hostile upstreams: a raw node `net` server that answers each request with whatever the
// case named in the request asks for (garbage bytes, truncated chunked bodies, wrong
// Content-Length, endless headers, 1xx before the real answer, a 10 MB SSE line, a stream
// without [DONE], an endless run of 1xx, a 20 MB SSE line, stalls and resets in the head
// and mid-stream), with and without the
// response cache. What a client must see: a clear error (status + OpenAI-shaped body, or
// an in-band SSE error event once the stream started), or a failover to the healthy
// fallback group; never a crash, a hang or a silently truncated answer; and sluice serves
// the next request after each case. Run it on the build-asan tree too: every sluice
// started here is checked for sanitizer reports.
//
// Add a case: a function in CASES (it gets the socket and the parsed request) plus a row
// in NONSTREAM / STREAM saying what the client must see.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  HOST, startMock, startSluice, cleanup, post, openStream, sseData, assertOpenAIError,
  assertNoSanitizerReports, withDeadline, chatBody,
} from './lib.mjs';
import { routerConfig } from './routing_lib.mjs';

after(cleanup);

const CHAT = '/v1/chat/completions';
const BIG = 10 * 1024 * 1024; // the 10 MB SSE line

// ------------------------------------------------------------------ the hostile server

function completionJson(content = 'hostile but fine') {
  return JSON.stringify({
    id: 'chatcmpl-hostile', object: 'chat.completion', created: 1, model: 'hostile-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
  });
}
function chunkEvent(content, finish = null) {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-hostile', object: 'chat.completion.chunk', created: 1, model: 'hostile-model',
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  })}\n\n`;
}
const chunked = (s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const SSE_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n';
const JSON_HEAD = (extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}`;

// Each case: (sock, req) => void. Sockets are destroyed by the server's close().
const CASES = {
  garbage(sock) {
    sock.end(Buffer.from('\x00\xff\x13garbage that is not HTTP at all\r\n\r\n\x7f\x00', 'latin1'));
  },
  garbage_after_status(sock) {
    sock.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\x00\x01\x02 broken header\r\n\r\n{}');
  },
  truncated_chunked(sock) {
    const body = completionJson();
    sock.end(`${JSON_HEAD('transfer-encoding: chunked\r\n\r\n')}${Buffer.byteLength(body).toString(16)}\r\n${body.slice(0, 20)}`);
  },
  bad_chunk_size(sock) {
    sock.end(`${JSON_HEAD('transfer-encoding: chunked\r\n\r\n')}zz\r\n${completionJson()}\r\n0\r\n\r\n`);
  },
  content_length_short(sock) { // says more than it sends, then closes
    const body = completionJson();
    sock.end(`${JSON_HEAD(`content-length: ${Buffer.byteLength(body) + 100}\r\n\r\n`)}${body}`);
  },
  content_length_long(sock) { // says less than it sends
    const body = completionJson();
    sock.end(`${JSON_HEAD('content-length: 20\r\n\r\n')}${body}`);
  },
  endless_headers(sock) { // bounded: at most 4 MB, stops when sluice hangs up
    sock.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n');
    let sent = 0;
    const line = `x-endless: ${'h'.repeat(1000)}\r\n`;
    const pump = () => {
      while (!sock.destroyed && sent < 4 << 20) {
        sent += line.length;
        if (!sock.write(line)) { sock.once('drain', pump); return; }
      }
      if (!sock.destroyed) sock.end();
    };
    pump();
  },
  endless_interim(sock) { // 103 Early Hints forever (bounded: 1 MB, stops when sluice hangs up)
    let sent = 0;
    const hint = 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n';
    const pump = () => {
      while (!sock.destroyed && sent < 1 << 20) {
        sent += hint.length;
        if (!sock.write(hint)) { sock.once('drain', pump); return; }
      }
      if (!sock.destroyed) sock.end();
    };
    pump();
  },
  sse_over_limit(sock) { // one 20 MB data line: over the 16 MiB bound of one event
    sock.write(SSE_HEAD);
    sock.write(chunked(chunkEvent('before ')));
    sock.write(chunked(`data: ${'y'.repeat(20 << 20)}\n\n`));
    sock.write(chunked('data: [DONE]\n\n'));
    sock.write('0\r\n\r\n');
  },
  interim(sock, req) { // 100 and 103 before the real answer
    const body = completionJson('after 100 and 103');
    const final = req.stream
      ? `${SSE_HEAD}${chunked(chunkEvent('after '))}${chunked(chunkEvent('interim', 'stop'))}${chunked('data: [DONE]\n\n')}0\r\n\r\n`
      : `${JSON_HEAD(`content-length: ${Buffer.byteLength(body)}\r\n\r\n`)}${body}`;
    sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
    sock.write(final);
  },
  huge_sse_line(sock) { // one 10 MB data line, then a normal end
    const ev = chunkEvent('x'.repeat(BIG), 'stop');
    sock.write(SSE_HEAD);
    sock.write(chunked(ev));
    sock.write(chunked('data: [DONE]\n\n'));
    sock.write('0\r\n\r\n');
  },
  no_done(sock) { // a stream whose HTTP body ends cleanly without finish_reason or [DONE]
    sock.write(`${SSE_HEAD}${chunked(chunkEvent('half an '))}${chunked(chunkEvent('answer'))}0\r\n\r\n`);
  },
  stall_headers(sock) { // half a head, then silence (sluice's timeout must end it)
    sock.write('HTTP/1.1 200 OK\r\ncontent-ty');
  },
  stall_body(sock) { // non-stream: head and half the body, then silence
    const body = completionJson();
    sock.write(`${JSON_HEAD(`content-length: ${Buffer.byteLength(body)}\r\n\r\n`)}${body.slice(0, 30)}`);
  },
  stall_stream(sock) {
    sock.write(`${SSE_HEAD}${chunked(chunkEvent('then silence'))}`);
  },
  reset_headers(sock) {
    sock.write('HTTP/1.1 200 OK\r\ncontent-type: applica', () => sock.resetAndDestroy());
  },
  reset_body(sock) {
    const body = completionJson();
    sock.write(`${JSON_HEAD(`content-length: ${Buffer.byteLength(body)}\r\n\r\n`)}${body.slice(0, 30)}`,
      () => setImmediate(() => sock.resetAndDestroy()));
  },
  reset_stream(sock) {
    sock.write(`${SSE_HEAD}${chunked(chunkEvent('then a reset'))}`, () => setImmediate(() => sock.resetAndDestroy()));
  },
  close_stream(sock) { // FIN in the middle of a chunked stream
    sock.end(`${SSE_HEAD}${chunked(chunkEvent('then a close'))}`);
  },
};

/** Reads HTTP/1.1 requests off each connection (Content-Length bodies) and answers each
 *  with CASES[<case>], the case being the text after "hostile:" in the first message. */
async function startHostile() {
  const sockets = new Set();
  const seen = []; // case names in arrival order
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        buf = buf.subarray(end + 4 + len);
        let req = {};
        try { req = JSON.parse(body); } catch { /* not JSON: no case */ }
        const text = String(req.messages?.[0]?.content ?? '');
        const name = /hostile:(\w+)/.exec(text)?.[1];
        seen.push(name);
        const fn = CASES[name];
        if (!fn) { sock.destroy(); return; }
        fn(sock, req);
      }
    });
  });
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  return {
    port: srv.address().port,
    seen,
    count: (name) => seen.filter((n) => n === name).length,
    close: () => new Promise((res) => { for (const s of sockets) s.destroy(); srv.close(() => res()); }),
  };
}

// ------------------------------------------------------------------ expectations

// Non-streaming: 'error' = 5xx with an OpenAI-shaped body on group h (no fallback) and the
// healthy fallback's 200 on group hf; 'ok' = the upstream's own answer, intact.
const NONSTREAM = {
  garbage: 'error',
  garbage_after_status: 'error',
  truncated_chunked: 'error',
  bad_chunk_size: 'error',
  content_length_short: 'error',
  content_length_long: 'error',
  endless_headers: 'error',
  endless_interim: 'error',
  interim: 'ok',
  stall_headers: 'error',
  stall_body: 'error',
  reset_headers: 'error',
  reset_body: 'error',
};
// Streaming: 'error' as above (nothing was sent yet, so a failover is still possible);
// 'inband' = 200 whose stream ends with an error event (never a silent end); 'ok' = the
// whole stream with [DONE].
const STREAM = {
  garbage: 'error',
  stall_headers: 'error',
  reset_headers: 'error',
  endless_interim: 'error',
  interim: 'ok',
  no_done: 'inband',
  stall_stream: 'inband',
  reset_stream: 'inband',
  close_stream: 'inband',
};
// The error code a client sees for each case (group h, and in-band events on streams).
const CODE = {
  garbage: 'upstream_protocol_error',
  garbage_after_status: 'upstream_protocol_error',
  truncated_chunked: 'upstream_reset',
  bad_chunk_size: 'upstream_protocol_error',
  content_length_short: 'upstream_reset',
  content_length_long: 'upstream_protocol_error',
  endless_headers: 'upstream_protocol_error',
  endless_interim: 'upstream_protocol_error',
  stall_headers: 'upstream_timeout',
  stall_body: 'upstream_timeout',
  reset_headers: 'upstream_reset',
  reset_body: 'upstream_reset',
  stall_stream: 'upstream_timeout',
  reset_stream: 'upstream_reset',
  close_stream: 'upstream_reset',
  no_done: 'upstream_protocol_error',
};

// ------------------------------------------------------------------ fixture

/** Stops one setup() fixture: sluice must exit 0 on SIGTERM with no sanitizer report. */
async function teardown({ hostile, good, s }) {
  const code = await s.stop();
  assertNoSanitizerReports('sluice', s.stderr);
  assert.equal(code, 0, `sluice exit code after SIGTERM\n${s.stderr.slice(-3000)}`);
  await good.stop();
  await hostile.close();
}

async function setup({ cache, idle = '1s' }) {
  const hostile = await startHostile();
  const good = await startMock(['--seed', '11']);
  const hostileDep = {
    port: hostile.port, model: 'openai/hostile-model', timeout: 3, stream_timeout: 3,
  };
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        h: [{ ...hostileDep, model_info: { id: 'hostile' } }],
        hf: [{ ...hostileDep, model_info: { id: 'hostile-f' } }],
        good: [{ port: good.port, model_info: { id: 'good' } }],
      },
      // no cooldowns and no retries: every request reaches the hostile upstream once
      router: { fallbacks: [{ hf: ['good'] }], allowed_fails: 100000, num_retries: 0 },
      settings: { stream_idle_timeout: idle },
      litellm: cache ? { cache: true, cache_params: { type: 'local', ttl: 600 } } : undefined,
    }),
    workers: 1,
  });
  return { hostile, good, s };
}

function body(group, name, extra = {}) {
  return chatBody(group, { messages: [{ role: 'user', content: `hostile:${name} ${group}` }], ...extra });
}

async function assertStillServing(s, what) {
  assert.equal(s.exited, false, `sluice exited after ${what}:\n${s.stderr.slice(-3000)}`);
  const r = await post(`${s.url}${CHAT}`, chatBody('good', { messages: [{ role: 'user', content: `after ${what} ${Math.random()}` }] }));
  assert.equal(r.status, 200, `a healthy request after ${what}: ${r.status} ${r.text}`);
  assertNoSanitizerReports('sluice', s.stderr);
}

async function nonStreamCase(s, hostile, name, want, cache) {
  for (const group of ['h', 'hf']) {
    const before = hostile.count(name);
    const r = await post(`${s.url}${CHAT}`, body(group, name), {}, { timeoutMs: 15000 });
    assert.ok(hostile.count(name) > before, `${name}/${group}: the hostile upstream was asked`);
    const ctx = `${name}/${group}: ${r.status} ${r.text.slice(0, 400)}`;
    if (want === 'ok') {
      assert.equal(r.status, 200, ctx);
      assert.equal(r.json().choices[0].message.content, 'after 100 and 103', ctx);
    } else if (group === 'hf') {
      assert.equal(r.status, 200, `failover to the healthy group: ${ctx}`);
      assert.equal(r.headers['x-sluice-deployment'], 'good', ctx);
      assert.ok(r.json().choices[0].message.content.length > 0, ctx);
    } else {
      assert.ok([502, 504].includes(r.status), `5xx for the client: ${ctx}`);
      assert.match(r.headers['content-type'] ?? '', /json/, ctx);
      const e = assertOpenAIError(r.text);
      assert.equal(e.code, CODE[name], ctx);
      assert.equal(r.status, CODE[name] === 'upstream_timeout' ? 504 : 502, ctx);
    }
    if (cache && want !== 'ok') {
      // a broken answer is never stored: the repeat asks the upstream again (on hf the
      // fallback's good answer may be stored and served: it must be that one, whole)
      const n = hostile.count(name);
      const r2 = await post(`${s.url}${CHAT}`, body(group, name), {}, { timeoutMs: 15000 });
      const ctx2 = `${name}/${group} repeat: ${r2.status} ${r2.headers['x-sluice-cache']} ${r2.text.slice(0, 300)}`;
      if (group === 'h') {
        assert.notEqual(r2.headers['x-sluice-cache'], 'hit', ctx2);
        assert.equal(hostile.count(name), n + 1, `the repeat reached the upstream again: ${ctx2}`);
        assert.ok([502, 504].includes(r2.status), ctx2);
      } else {
        assert.equal(r2.status, 200, ctx2);
        assert.equal(r2.json().model, 'mock-model', ctx2);
      }
    }
    await assertStillServing(s, `${name}/${group}`);
  }
}

async function streamCase(s, hostile, name, want, cache) {
  for (const group of ['h', 'hf']) {
    const before = hostile.count(name);
    const st = await openStream(`${s.url}${CHAT}`, { body: body(group, name, { stream: true }), timeoutMs: 15000 });
    await withDeadline(st.waitEnd(20000), 21000, `${name}/${group}: end of the stream`);
    assert.ok(hostile.count(name) > before, `${name}/${group}: the hostile upstream was asked`);
    const ctx = `${name}/${group}: ${st.status} ${st.text.slice(0, 300)} ... ${st.text.slice(-300)}`;
    const data = sseData(st.text);
    if (want === 'error' && group === 'hf') {
      assert.equal(st.status, 200, `failover: ${ctx}`);
      assert.equal(st.headers['x-sluice-deployment'], 'good', ctx);
      assert.equal(data.at(-1), '[DONE]', ctx);
    } else if (want === 'error') {
      assert.ok([502, 504].includes(st.status), `5xx before any byte was sent: ${ctx}`);
      assertOpenAIError(st.text, { code: CODE[name] });
    } else if (want === 'ok') {
      assert.equal(st.status, 200, ctx);
      assert.equal(data.at(-1), '[DONE]', ctx);
      const text = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
      if (name === 'huge_sse_line') assert.equal(text.length, BIG, `the 10 MB line arrives whole: ${text.length} bytes`);
      else assert.equal(text, 'after interim', ctx);
    } else { // inband: the stream started, so it must end with an error event, never silently
      assert.equal(st.status, 200, ctx);
      const last = data.at(-1);
      assert.ok(last !== undefined, `some event arrived: ${ctx}`);
      assert.notEqual(last, '[DONE]', `a broken stream must not end with [DONE]: ${ctx}`);
      let ev;
      try { ev = JSON.parse(last); } catch { assert.fail(`the last event is not JSON: ${ctx}`); }
      assert.ok(ev.error && typeof ev.error.message === 'string', `the last event is an error event: ${ctx}`);
      assert.equal(ev.error.code, CODE[name], ctx);
    }
    if (cache && want !== 'ok') {
      const n = hostile.count(name);
      const st2 = await openStream(`${s.url}${CHAT}`, { body: body(group, name, { stream: true }), timeoutMs: 15000 });
      await withDeadline(st2.waitEnd(20000), 21000, `${name}/${group}: end of the repeated stream`);
      const ctx2 = `${name}/${group} repeat: ${st2.status} ${st2.headers['x-sluice-cache']} ${st2.text.slice(-300)}`;
      if (group === 'h' || want === 'inband') {
        assert.notEqual(st2.headers['x-sluice-cache'], 'hit', `a broken stream was replayed from the cache: ${ctx2}`);
        assert.equal(hostile.count(name), n + 1, `the repeat reached the upstream again: ${ctx2}`);
      } else {
        assert.equal(st2.status, 200, ctx2);
        assert.equal(sseData(st2.text).at(-1), '[DONE]', ctx2);
      }
    }
    await assertStillServing(s, `stream ${name}/${group}`);
  }
}

for (const cache of [false, true]) {
  const label = cache ? 'with the cache' : 'without the cache';
  for (const [kind, table, run] of [['non-streaming', NONSTREAM, nonStreamCase], ['streaming', STREAM, streamCase]]) {
    test(`hostile upstreams, ${kind}, ${label}`, async (t) => {
      const { hostile, good, s } = await setup({ cache });
      try {
        for (const [name, want] of Object.entries(table)) {
          await t.test(`${name}: ${want}`, () => run(s, hostile, name, want, cache));
        }
      } finally {
        await teardown({ hostile, good, s });
      }
    });
  }
}

// The 10 MB line on its own sluice with the default-sized idle timeout: sluice holds the
// line while the client drains it, which (see the slow-client test below) must not count as upstream
// silence. The line must arrive whole, followed by [DONE].
test('hostile upstreams: a 10 MB SSE line arrives whole (stream_idle_timeout 30s)', async () => {
  const { hostile, good, s } = await setup({ cache: false, idle: '30s' });
  try {
    await streamCase(s, hostile, 'huge_sse_line', 'ok', false);
  } finally {
    await teardown({ hostile, good, s });
  }
});

// A single line over the 16 MiB bound of one parsed event: on a passthrough stream sluice
// forwards the bytes as they came (whole, never cut), then [DONE].
test('hostile upstreams: a 20 MB SSE line is passed through whole', async () => {
  const { hostile, good, s } = await setup({ cache: false, idle: '30s' });
  try {
    const st = await openStream(`${s.url}${CHAT}`, { body: body('h', 'sse_over_limit', { stream: true }), timeoutMs: 15000 });
    await withDeadline(st.waitEnd(30000), 31000, 'end of the stream');
    const data = sseData(st.text);
    assert.equal(st.status, 200);
    assert.equal(data.length, 3, `three events: ${data.map((d) => d.slice(0, 40))}`);
    assert.equal(data[1].length, 20 << 20, 'the 20 MB line arrives whole');
    assert.equal(data.at(-1), '[DONE]');
    await assertStillServing(s, 'a 20 MB SSE line');
  } finally {
    await teardown({ hostile, good, s });
  }
});

// While sluice has paused reading the upstream because the client is slow, the stream idle
// timer does not run (the client, not the provider, is waiting): a slow client must not
// turn into "Upstream stream went silent" although the upstream sent everything at once.
test('hostile upstreams: a slow client is not an upstream stall', async () => {
  const { hostile, good, s } = await setup({ cache: false, idle: '1s' });
  try {
    const st = await openStream(`${s.url}${CHAT}`, { body: body('h', 'huge_sse_line', { stream: true }), timeoutMs: 15000 });
    st.res.pause(); // the client reads nothing for 2.5 s, then everything
    await new Promise((r) => setTimeout(r, 2500)); // the slow client itself, not a synchronisation
    st.res.resume();
    await withDeadline(st.waitEnd(20000), 21000, 'end of the stream');
    assert.equal(sseData(st.text).at(-1), '[DONE]', st.text.slice(-300));
  } finally {
    await teardown({ hostile, good, s });
  }
});
