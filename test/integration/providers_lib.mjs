// Helpers for providers.test.mjs: a scriptable node upstream that can answer as OpenAI or
// as Anthropic, whole or as a server-sent event stream (the mock answers text only; tool
// calls, exact usage and provider errors need a script), and builders for the bodies and
// event sequences each provider sends. Every request the fake gets is recorded (method,
// path, headers, parsed body) so a test can assert what sluice sent upstream.
import http from 'node:http';
import { HOST } from './lib.mjs';

/** A node HTTP server standing in for a provider. handler(rec) gets {method, path,
 *  headers, body, json} and returns one of
 *    {status, headers, body}           body: object -> JSON, string as is
 *    {status, headers, sse: [...]}     events: {event?, data} (data: object -> JSON, string as is)
 *  Records every request in `requests`. */
export async function startScriptedUpstream(handler) {
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
        out = await handler(rec);
      } catch (e) {
        out = { status: 500, body: { error: { message: `fake upstream handler threw: ${e.message}`, type: 'server_error' } } };
      }
      if (!out) out = { status: 404, body: { error: { message: `no script for ${req.url}`, type: 'not_found' } } };
      if (out.sse) {
        res.writeHead(out.status ?? 200, { 'content-type': 'text/event-stream', ...(out.headers ?? {}) });
        for (const ev of out.sse) {
          const data = typeof ev.data === 'string' ? ev.data : JSON.stringify(ev.data);
          res.write(`${ev.event ? `event: ${ev.event}\n` : ''}data: ${data}\n\n`);
        }
        res.end();
        return;
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
    /** Requests whose path starts with prefix. */
    on(prefix) { return requests.filter((r) => r.path.startsWith(prefix)); },
    close: () => new Promise((res) => {
      for (const s of sockets) s.destroy();
      srv.close(() => res());
    }),
  };
}

// ------------------------------------------------------------------ Anthropic bodies

/** An Anthropic Messages response. content: array of blocks. */
export function anthMessage({ id = 'msg_fake', model = 'claude-fake', content, stop_reason = 'end_turn',
  usage = { input_tokens: 11, output_tokens: 7 } }) {
  return { id, type: 'message', role: 'assistant', model, content, stop_reason, stop_sequence: null, usage };
}

/** The Anthropic SSE sequence for content blocks (text and tool_use), as the API sends it:
 *  message_start, per block content_block_start / deltas / content_block_stop (tool input
 *  as input_json_delta pieces), a ping, message_delta with the stop reason and usage,
 *  message_stop. */
export function anthStream({ id = 'msg_fake_stream', model = 'claude-fake', blocks, stop_reason = 'end_turn',
  input_tokens = 13, output_tokens = 9, cache_read = 0 }) {
  const ev = (event, data) => ({ event, data: { type: event, ...data } });
  const out = [ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [],
    stop_reason: null, stop_sequence: null,
    usage: { input_tokens, output_tokens: 1, cache_read_input_tokens: cache_read, cache_creation_input_tokens: 0 } } })];
  out.push(ev('ping', {}));
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (const piece of b.pieces) out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }));
    } else {
      out.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      for (const piece of b.pieces) {
        out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }));
      }
    }
    out.push(ev('content_block_stop', { index }));
  });
  out.push(ev('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens } }));
  out.push(ev('message_stop', {}));
  return out;
}

// ------------------------------------------------------------------ OpenAI bodies

export function oaiCompletion({ model = 'gpt-fake', content = null, tool_calls, finish_reason = 'stop',
  usage = { prompt_tokens: 21, completion_tokens: 5, total_tokens: 26 } }) {
  const message = { role: 'assistant', content };
  if (tool_calls) message.tool_calls = tool_calls;
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1700000000,
    model,
    choices: [{ index: 0, message, finish_reason, logprobs: null }],
    usage,
  };
}

/** OpenAI chat.completion.chunk events: text pieces, then tool calls (each with its
 *  arguments split in pieces), a finish chunk, a usage chunk, [DONE]. */
export function oaiStream({ model = 'gpt-fake', text = [], tools = [], finish_reason = 'stop',
  usage = { prompt_tokens: 17, completion_tokens: 8, total_tokens: 25 } }) {
  const chunk = (delta, fr = null, extra = {}) => ({ data: {
    id: 'chatcmpl-fake-stream', object: 'chat.completion.chunk', created: 1700000000, model,
    choices: [{ index: 0, delta, finish_reason: fr, logprobs: null }], ...extra } });
  const out = [chunk({ role: 'assistant', content: '' })];
  for (const t of text) out.push(chunk({ content: t }));
  tools.forEach((tc, index) => {
    out.push(chunk({ tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.name, arguments: '' } }] }));
    for (const piece of tc.pieces) out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  out.push(chunk({}, finish_reason));
  if (usage) {
    out.push({ data: { id: 'chatcmpl-fake-stream', object: 'chat.completion.chunk', created: 1700000000, model,
      choices: [], usage } });
  }
  out.push({ data: '[DONE]' });
  return out;
}
