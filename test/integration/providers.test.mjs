// Providers through sluice, with the official SDKs as clients (only their base URL points
// at sluice): the `openai` client in front of Anthropic deployments (plain, streaming with
// and without usage, the stream helper, tool calls across turns), the `@anthropic-ai/sdk`
// client at /v1/messages in front of OpenAI-format deployments (create, stream helpers,
// tool use, upstream errors as the SDK's error classes), Anthropic -> Anthropic
// passthrough, Azure's path and key, sluice's own errors in the Anthropic shape, and a
// group of one OpenAI-format and one Anthropic-format deployment losing either one while
// both kinds of client keep being served.
//
// Text answers come from sluice-mock (it speaks /v1/chat/completions and /v1/messages);
// what the mock cannot say (tool calls, exact usage, provider errors, Azure's path) comes
// from a scripted node upstream (providers_lib.mjs). Each test also asserts what the
// upstream received, so a translation that "works" only because the fake is lenient fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  startMock, startSluice, cleanup, post, findRecorded, recordedHeader, nonce, sseData, pollUntil,
  openStream,
} from './lib.mjs';
import { routerConfig, startMockOn } from './routing_lib.mjs';
import { startScriptedUpstream, anthMessage, anthStream, oaiCompletion, oaiStream } from './providers_lib.mjs';

const MASTER = 'sk-sluice-providers-master';
const ANTH_KEY = 'sk-ant-upstream-key';
const OAI_KEY = 'sk-openai-upstream-key';
const AZURE_KEY = 'azure-upstream-key';
const AZURE_VERSION = '2024-06-01';

let mock;      // sluice-mock: text answers in both formats
let anthFake;  // scripted Anthropic upstream
let oaiFake;   // scripted OpenAI upstream
let azureFake; // scripted Azure OpenAI upstream
let sluice;
let oai;       // openai SDK -> sluice
let anth;      // @anthropic-ai/sdk -> sluice

const WEATHER_TOOL_OAI = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const WEATHER_TOOL_ANTH = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

// ------------------------------------------------------------------ scripts of the fakes

/** Anthropic fake: /tools (OpenAI client with tools), /pass (Anthropic passthrough), /busy (529),
 *  /midfail (an error event in the middle of a stream). */
function anthScript(rec) {
  const b = rec.json ?? {};
  if (rec.path.startsWith('/busy/')) {
    return { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded (fake)' } } };
  }
  if (rec.path.startsWith('/midfail/')) { // some text, then an in-band error event
    const ev = anthStream({ id: 'msg_midfail', model: b.model, blocks: [{ type: 'text', pieces: ['partial ', 'answer'] }] });
    return { sse: [...ev.slice(0, 5), { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded mid-stream (fake)' } } }] };
  }
  if (rec.path.startsWith('/pass/')) {
    if (b.stream) {
      return { sse: anthStream({ id: 'msg_pass_stream', model: b.model, blocks: [{ type: 'text', pieces: ['pass', 'ed ', 'through'] }],
        input_tokens: 5, output_tokens: 3 }) };
    }
    return { body: anthMessage({ id: 'msg_pass', model: b.model, content: [{ type: 'text', text: 'passed through' }],
      usage: { input_tokens: 5, output_tokens: 3, cache_read_input_tokens: 2, cache_creation_input_tokens: 0 } }) };
  }
  if (rec.path.startsWith('/tools/')) {
    const last = b.messages?.at(-1);
    const hasResults = Array.isArray(last?.content) && last.content.some((c) => c.type === 'tool_result');
    if (b.stream) {
      return { sse: anthStream({ id: 'msg_tools_stream', model: b.model, stop_reason: 'tool_use', input_tokens: 40, output_tokens: 12,
        cache_read: 4,
        blocks: [
          { type: 'text', pieces: ['Checking ', 'Oslo.'] },
          { type: 'tool_use', id: 'toolu_oslo', name: 'get_weather', pieces: ['{"ci', 'ty": "Os', 'lo"}'] },
        ] }) };
    }
    if (hasResults) {
      return { body: anthMessage({ id: 'msg_final', model: b.model, content: [{ type: 'text', text: 'Paris is 18C, Tokyo is 22C.' }],
        usage: { input_tokens: 80, output_tokens: 10 } }) };
    }
    return { body: anthMessage({ id: 'msg_tools', model: b.model, stop_reason: 'tool_use',
      content: [
        { type: 'text', text: 'Let me check.' },
        { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { city: 'Tokyo', units: { c: true } } },
      ],
      usage: { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 30, cache_creation_input_tokens: 6 } }) };
  }
  return undefined;
}

/** OpenAI fake: /tools (Anthropic client with tools), /r429, /r529, /r503, /cut (a stream cut short). */
function oaiScript(rec) {
  const b = rec.json ?? {};
  if (rec.path.startsWith('/r429/')) {
    return { status: 429, headers: { 'retry-after': '0' },
      body: { error: { message: 'Rate limit reached for fake (429)', type: 'requests', param: null, code: 'rate_limit_exceeded' } } };
  }
  if (rec.path.startsWith('/r529/')) {
    return { status: 529, body: { error: { message: 'The server is overloaded (fake 529)', type: 'server_error', param: null, code: null } } };
  }
  if (rec.path.startsWith('/r503/')) {
    return { status: 503, body: { error: { message: 'The engine is currently overloaded (fake 503)', type: 'server_error', param: null, code: null } } };
  }
  if (rec.path.startsWith('/cut/')) { // text chunks, then the body ends: no finish_reason, no [DONE]
    return { sse: oaiStream({ model: b.model, text: ['cut ', 'short'] }).slice(0, 3) };
  }
  if (rec.path.startsWith('/tools/')) {
    const hasResults = b.messages?.some((m) => m.role === 'tool');
    if (b.stream) {
      return { sse: oaiStream({ model: b.model, text: ['Checking ', 'Oslo.'], finish_reason: 'tool_calls',
        tools: [{ id: 'call_oslo', name: 'get_weather', pieces: ['{"ci', 'ty": "Os', 'lo"}'] }],
        usage: { prompt_tokens: 33, completion_tokens: 11, total_tokens: 44 } }) };
    }
    if (hasResults) {
      return { body: oaiCompletion({ model: b.model, content: 'Paris is 18C.', usage: { prompt_tokens: 70, completion_tokens: 6, total_tokens: 76 } }) };
    }
    return { body: oaiCompletion({ model: b.model, content: null, finish_reason: 'tool_calls',
      tool_calls: [{ id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      usage: { prompt_tokens: 44, completion_tokens: 9, total_tokens: 53 } }) };
  }
  return undefined;
}

/** Azure fake: only its own path shape answers. */
function azureScript(rec) {
  if (!rec.path.startsWith('/openai/deployments/')) return undefined;
  const b = rec.json ?? {};
  if (b.stream) {
    return { sse: oaiStream({ model: 'gpt-4o-azure', text: ['from ', 'azure'], usage: b.stream_options?.include_usage
      ? { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } : null }) };
  }
  return { body: oaiCompletion({ model: 'gpt-4o-azure', content: 'hello from azure',
    usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } }) };
}

// ------------------------------------------------------------------ setup

before(async () => {
  [mock, anthFake, oaiFake, azureFake] = await Promise.all([
    startMock(['--seed', '11', '--tokens', '9', '--ttft-ms', '2', '--itl-ms', '1', '--latency-ms', '1']),
    startScriptedUpstream(anthScript),
    startScriptedUpstream(oaiScript),
    startScriptedUpstream(azureScript),
  ]);
  const mk = (id, model, api_base, api_key, rest = {}) => ({ api_base, model, api_key, model_info: { id }, ...rest });
  sluice = await startSluice({
    yaml: routerConfig({
      groups: {
        'claude-mock': mk('claude-mock', 'anthropic/claude-3-5-haiku-mock', mock.url, ANTH_KEY),
        'claude-tools': mk('claude-tools', 'anthropic/claude-tools-upstream', `${anthFake.url}/tools`, ANTH_KEY),
        'claude-pass': mk('claude-pass', 'anthropic/claude-pass-upstream', `${anthFake.url}/pass`, ANTH_KEY),
        'claude-busy': mk('claude-busy', 'anthropic/claude-busy', `${anthFake.url}/busy`, ANTH_KEY),
        'claude-midfail': mk('claude-midfail', 'anthropic/claude-midfail', `${anthFake.url}/midfail`, ANTH_KEY),
        'gpt-mock': mk('gpt-mock', 'openai/mock-model', `${mock.url}/v1`, OAI_KEY),
        'gpt-tools': mk('gpt-tools', 'openai/gpt-tools-upstream', `${oaiFake.url}/tools/v1`, OAI_KEY),
        'gpt-429': mk('gpt-429', 'openai/gpt-limited', `${oaiFake.url}/r429/v1`, OAI_KEY),
        'gpt-529': mk('gpt-529', 'openai/gpt-overloaded', `${oaiFake.url}/r529/v1`, OAI_KEY),
        'gpt-503': mk('gpt-503', 'openai/gpt-unavailable', `${oaiFake.url}/r503/v1`, OAI_KEY),
        'gpt-cut': mk('gpt-cut', 'openai/gpt-cut', `${oaiFake.url}/cut/v1`, OAI_KEY),
        'azure-gpt': mk('azure-gpt', 'azure/my-deployment', azureFake.url, AZURE_KEY, { api_version: AZURE_VERSION }),
      },
      // One deployment per group: a retry could only go back to the same script.
      router: { num_retries: 0 },
      masterKey: MASTER,
    }),
    workers: 1,
  });
  oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0, timeout: 10000 });
  anth = new Anthropic({ apiKey: MASTER, baseURL: sluice.url, maxRetries: 0, timeout: 10000 });
});

after(async () => {
  try {
    if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
    if (mock && !mock.exited) await mock.stop();
    for (const f of [anthFake, oaiFake, azureFake]) if (f) await f.close();
  } finally {
    await cleanup();
  }
});

// ------------------------------------------------------------------ small helpers

/** The mock's record of the request whose body contains marker (the newest). */
async function recordedByMarker(m, marker) {
  const st = await m.stats();
  const r = findRecorded(st, (_b, rec) => typeof rec.body === 'string' && rec.body.includes(marker));
  assert.ok(r, `the mock recorded no request with ${marker}: ${JSON.stringify(st.last?.map((x) => x.path))}`);
  return r;
}

/** Upstream headers that must never carry the client's sluice key. */
function assertNoClientKey(headers) {
  for (const [k, v] of Object.entries(headers)) {
    assert.ok(!String(v).includes(MASTER), `the sluice key leaked upstream in header ${k}: ${v}`);
  }
}

/** The text of an Anthropic system field (string or text blocks). */
function systemTexts(system) {
  if (typeof system === 'string') return [system];
  assert.ok(Array.isArray(system), `system: ${JSON.stringify(system)}`);
  return system.map((b) => { assert.equal(b.type, 'text'); return b.text; });
}

/** Text and usage of an Anthropic SSE body. */
function anthStreamText(text) {
  let out = '';
  let usage = {};
  for (const d of sseData(text)) {
    const e = JSON.parse(d);
    if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') out += e.delta.text;
    if (e.type === 'message_start') usage = { ...usage, ...e.message.usage };
    if (e.type === 'message_delta') usage = { ...usage, ...e.usage };
  }
  return { text: out, usage };
}

// ================================================================== openai client -> Anthropic

test('openai client -> Anthropic deployment (mock): plain chat; system and developer lifted, defaults, headers; answer equals the mock\'s', async () => {
  const marker = nonce('oa-plain');
  const { data: r, response } = await oai.chat.completions.create({
    model: 'claude-mock',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'developer', content: 'Answer in English.' },
      { role: 'user', content: `Name a river. ${marker}` },
    ],
    stop: ['END'],
    temperature: 1.5,
    seed: 7,
  }).withResponse();
  assert.equal(response.headers.get('x-sluice-deployment'), 'claude-mock');
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  const ch = r.choices[0];
  assert.equal(ch.index, 0);
  assert.equal(ch.message.role, 'assistant');
  assert.equal(typeof ch.message.content, 'string');
  assert.ok(ch.message.content.length > 0, 'non-empty content');
  assert.equal(ch.finish_reason, 'stop', 'end_turn -> stop');
  assert.equal(typeof r.created, 'number');
  assert.ok(Math.abs(r.created - Date.now() / 1000) < 120, `created is a current unix time: ${r.created}`);

  const rec = await recordedByMarker(mock, marker);
  assert.equal(rec.path, '/v1/messages');
  assert.equal(recordedHeader(rec, 'x-api-key'), ANTH_KEY);
  assert.equal(recordedHeader(rec, 'anthropic-version'), '2023-06-01');
  assert.equal(recordedHeader(rec, 'authorization'), undefined, 'no Bearer header to Anthropic');
  assertNoClientKey(rec.headers);
  const up = rec.json;
  assert.equal(up.model, 'claude-3-5-haiku-mock');
  assert.deepEqual(systemTexts(up.system), ['You are terse.', 'Answer in English.']);
  assert.deepEqual(up.messages, [{ role: 'user', content: `Name a river. ${marker}` }], 'only the user turn stays in messages');
  assert.equal(up.max_tokens, 4096, 'max_tokens defaulted');
  assert.deepEqual(up.stop_sequences, ['END']);
  assert.equal(up.temperature, 1, 'temperature clamped to Anthropic\'s [0, 1]');
  assert.equal(up.seed, undefined, 'seed dropped');
  assert.equal(up.stop, undefined);

  // The mock answers deterministically from the body: the same bytes sent to it directly
  // give the Anthropic answer this one was translated from.
  const direct = await post(`${mock.url}/v1/messages`, rec.rawBody, { 'x-api-key': ANTH_KEY, 'anthropic-version': '2023-06-01' });
  assert.equal(direct.status, 200, direct.text);
  const d = direct.json();
  assert.equal(ch.message.content, d.content.map((c) => c.text).join(''));
  assert.equal(r.id, d.id, 'the message id is kept');
  assert.equal(r.model, d.model);
  assert.equal(r.usage.prompt_tokens, d.usage.input_tokens);
  assert.equal(r.usage.completion_tokens, d.usage.output_tokens);
  assert.equal(r.usage.total_tokens, d.usage.input_tokens + d.usage.output_tokens);
});

test('openai client -> Anthropic deployment (mock): stream without usage, then with stream_options.include_usage', async () => {
  for (const includeUsage of [false, true]) {
    const marker = nonce(`oa-stream-${includeUsage}`);
    const params = {
      model: 'claude-mock',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Stream please ${marker}` }],
      max_tokens: 64,
      stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
    };
    const stream = await oai.chat.completions.create(params);
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const what = `include_usage=${includeUsage}: ${JSON.stringify(chunks).slice(0, 3000)}`;
    assert.ok(chunks.length >= 3, what);
    for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk', what);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, `one id for the whole stream: ${what}`);
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoices[0].choices[0].delta.role, 'assistant', what);
    const text = withChoices.map((c) => c.choices[0].delta.content ?? '').join('');
    assert.ok(text.length > 0, what);
    const finishes = withChoices.filter((c) => c.choices[0].finish_reason);
    assert.equal(finishes.length, 1, `exactly one finish_reason: ${what}`);
    assert.equal(finishes[0].choices[0].finish_reason, 'stop', what);
    const usageChunks = chunks.filter((c) => c.usage);

    const rec = await recordedByMarker(mock, marker);
    assert.equal(rec.path, '/v1/messages');
    assert.equal(rec.json.stream, true);
    assert.equal(rec.json.max_tokens, 64);
    assert.equal(rec.json.stream_options, undefined, 'stream_options is not an Anthropic field');
    assert.equal(recordedHeader(rec, 'x-api-key'), ANTH_KEY);
    // Same bytes straight to the mock: the text and the token counts the stream carried.
    const direct = await post(`${mock.url}/v1/messages`, rec.rawBody, { 'x-api-key': ANTH_KEY, 'anthropic-version': '2023-06-01' });
    assert.equal(direct.status, 200);
    const d = anthStreamText(direct.text);
    assert.equal(text, d.text, 'the streamed text is the Anthropic text');
    if (!includeUsage) {
      assert.equal(usageChunks.length, 0, `no usage chunk unless asked: ${what}`);
    } else {
      assert.equal(usageChunks.length, 1, `one usage chunk: ${what}`);
      const u = usageChunks[0];
      assert.equal(u, chunks.at(-1), 'the usage chunk is the last one');
      assert.deepEqual(u.choices, []);
      assert.equal(u.usage.prompt_tokens, d.usage.input_tokens);
      assert.equal(u.usage.completion_tokens, d.usage.output_tokens);
      assert.equal(u.usage.total_tokens, d.usage.input_tokens + d.usage.output_tokens);
    }
  }
  // On the wire: the stream ends with [DONE] (the SDK hides it).
  const raw = await openStream(`${sluice.url}/v1/chat/completions`, {
    headers: { authorization: `Bearer ${MASTER}` },
    body: { model: 'claude-mock', messages: [{ role: 'user', content: 'raw' }], stream: true },
  });
  await raw.waitEnd(10000);
  assert.equal(raw.status, 200);
  assert.match(raw.headers['content-type'], /^text\/event-stream/);
  const data = sseData(raw.text);
  assert.equal(data.at(-1), '[DONE]', raw.text.slice(-500));
  assert.ok(!/^event:/m.test(raw.text), 'no Anthropic event names leak into the OpenAI stream');
});

test('openai client -> Anthropic deployment: chat.completions.stream() helper assembles the final message', async () => {
  const marker = nonce('oa-helper');
  const stream = oai.chat.completions.stream({
    model: 'claude-mock',
    messages: [{ role: 'user', content: `helper ${marker}` }],
    stream_options: { include_usage: true },
  });
  let deltas = '';
  stream.on('content', (delta) => { deltas += delta; });
  const final = await stream.finalChatCompletion();
  const content = await stream.finalContent();
  assert.equal(final.choices[0].message.role, 'assistant');
  assert.equal(final.choices[0].message.content, deltas);
  assert.equal(content, deltas);
  assert.ok(deltas.length > 0);
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.ok(final.usage && final.usage.completion_tokens > 0, `usage: ${JSON.stringify(final.usage)}`);
  const rec = await recordedByMarker(mock, marker);
  assert.equal(rec.path, '/v1/messages');
});

test('openai client -> Anthropic deployment: tool calls across turns (tools, tool_choice, tool_calls, tool results, final answer)', async () => {
  const before = anthFake.on('/tools/').length;
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const messages = [
    { role: 'system', content: 'You can call tools.' },
    { role: 'user', content: [
      { type: 'text', text: 'Weather in Paris and Tokyo? Also look at these.' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ] },
  ];
  // Turn 1: the model calls two tools.
  const r1 = await oai.chat.completions.create({
    model: 'claude-tools', messages, tools: [WEATHER_TOOL_OAI], tool_choice: 'required', max_tokens: 300,
  });
  const c1 = r1.choices[0];
  assert.equal(c1.finish_reason, 'tool_calls', JSON.stringify(r1));
  assert.equal(c1.message.content, 'Let me check.');
  assert.equal(c1.message.tool_calls.length, 2, JSON.stringify(r1));
  assert.deepEqual(c1.message.tool_calls.map((t) => [t.id, t.type, t.function.name]),
    [['toolu_paris', 'function', 'get_weather'], ['toolu_tokyo', 'function', 'get_weather']]);
  for (const t of c1.message.tool_calls) assert.equal(typeof t.function.arguments, 'string', 'arguments are a JSON string');
  assert.deepEqual(JSON.parse(c1.message.tool_calls[0].function.arguments), { city: 'Paris' });
  assert.deepEqual(JSON.parse(c1.message.tool_calls[1].function.arguments), { city: 'Tokyo', units: { c: true } });
  // usage: prompt = input + cache read + cache creation; cached = cache read
  assert.equal(r1.usage.prompt_tokens, 50 + 30 + 6);
  assert.equal(r1.usage.completion_tokens, 20);
  assert.equal(r1.usage.total_tokens, 86 + 20);
  assert.equal(r1.usage.prompt_tokens_details?.cached_tokens, 30);
  assert.equal(r1.id, 'msg_tools');

  let ups = anthFake.on('/tools/').slice(before);
  assert.equal(ups.length, 1);
  let up = ups[0];
  assert.equal(up.path, '/tools/v1/messages');
  assert.equal(up.headers['x-api-key'], ANTH_KEY);
  assert.equal(up.headers['anthropic-version'], '2023-06-01');
  assert.equal(up.headers.authorization, undefined);
  assertNoClientKey(up.headers);
  assert.equal(up.json.model, 'claude-tools-upstream');
  assert.equal(up.json.system, 'You can call tools.');
  assert.equal(up.json.max_tokens, 300);
  assert.deepEqual(up.json.tools, [WEATHER_TOOL_ANTH]);
  assert.deepEqual(up.json.tool_choice, { type: 'any' }, 'required -> any');
  assert.deepEqual(up.json.messages, [{ role: 'user', content: [
    { type: 'text', text: 'Weather in Paris and Tokyo? Also look at these.' },
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
    { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
  ] }]);

  // Turn 2: the assistant's tool calls and both results go back; a named tool_choice.
  messages.push(c1.message);
  messages.push({ role: 'tool', tool_call_id: 'toolu_paris', content: '18C' });
  messages.push({ role: 'tool', tool_call_id: 'toolu_tokyo', content: [{ type: 'text', text: '22C' }] });
  const r2 = await oai.chat.completions.create({
    model: 'claude-tools', messages, tools: [WEATHER_TOOL_OAI],
    tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false,
  });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  assert.equal(r2.choices[0].message.content, 'Paris is 18C, Tokyo is 22C.');
  assert.equal(r2.choices[0].message.tool_calls, undefined, `no tool_calls on a text answer: ${JSON.stringify(r2)}`);
  assert.equal(r2.usage.prompt_tokens, 80);
  assert.equal(r2.usage.completion_tokens, 10);

  ups = anthFake.on('/tools/').slice(before);
  assert.equal(ups.length, 2);
  up = ups[1].json;
  assert.deepEqual(up.tool_choice, { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
    'named function -> tool; parallel_tool_calls false -> disable_parallel_tool_use');
  assert.equal(up.messages.length, 3, JSON.stringify(up.messages));
  assert.equal(up.messages[0].role, 'user');
  assert.deepEqual(up.messages[1], { role: 'assistant', content: [
    { type: 'text', text: 'Let me check.' },
    { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
    { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { city: 'Tokyo', units: { c: true } } },
  ] }, 'tool_calls -> tool_use with arguments parsed into input');
  assert.equal(up.messages[2].role, 'user', 'the tool results are one user message');
  const results = up.messages[2].content;
  assert.equal(results.length, 2, JSON.stringify(results));
  assert.deepEqual(results.map((x) => [x.type, x.tool_use_id]), [['tool_result', 'toolu_paris'], ['tool_result', 'toolu_tokyo']]);
  const resultText = (c) => (typeof c === 'string' ? c : c.map((x) => x.text).join(''));
  assert.equal(resultText(results[0].content), '18C');
  assert.equal(resultText(results[1].content), '22C');
});

test('openai client -> Anthropic deployment: streamed tool call (input_json_delta) through the stream helper and raw chunks', async () => {
  const before = anthFake.on('/tools/').length;
  const body = {
    model: 'claude-tools',
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    tools: [WEATHER_TOOL_OAI],
    tool_choice: 'auto',
    stream_options: { include_usage: true },
  };
  const stream = oai.chat.completions.stream(body);
  const final = await stream.finalChatCompletion();
  const ch = final.choices[0];
  assert.equal(ch.finish_reason, 'tool_calls', JSON.stringify(final));
  assert.equal(ch.message.content, 'Checking Oslo.');
  assert.equal(ch.message.tool_calls.length, 1);
  assert.equal(ch.message.tool_calls[0].id, 'toolu_oslo');
  assert.equal(ch.message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(ch.message.tool_calls[0].function.arguments), { city: 'Oslo' });
  assert.equal(final.usage.prompt_tokens, 40 + 4);
  assert.equal(final.usage.completion_tokens, 12);
  const up = anthFake.on('/tools/').slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0].json.stream, true);
  assert.deepEqual(up[0].json.tool_choice, { type: 'auto' });

  // The raw chunks: the first tool chunk names the call, later ones carry argument pieces.
  const raw = await oai.chat.completions.create({ ...body, stream: true });
  const toolDeltas = [];
  for await (const c of raw) for (const t of c.choices[0]?.delta?.tool_calls ?? []) toolDeltas.push(t);
  assert.ok(toolDeltas.length >= 2, JSON.stringify(toolDeltas));
  assert.equal(toolDeltas[0].id, 'toolu_oslo');
  assert.equal(toolDeltas[0].type, 'function');
  assert.equal(toolDeltas[0].function.name, 'get_weather');
  for (const t of toolDeltas) assert.equal(t.index, 0);
  assert.deepEqual(JSON.parse(toolDeltas.map((t) => t.function?.arguments ?? '').join('')), { city: 'Oslo' });
});

test('openai client -> Anthropic 529 overloaded_error: an OpenAI-shaped error with the status kept', async () => {
  await assert.rejects(
    oai.chat.completions.create({ model: 'claude-busy', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => {
      assert.ok(e instanceof OpenAI.APIError, `${e}`);
      assert.equal(e.status, 529, `${e}`);
      assert.equal(typeof e.error?.message, 'string', JSON.stringify(e.error));
      assert.match(e.error.message, /Overloaded \(fake\)/);
      assert.equal(e.error.type, 'service_unavailable', JSON.stringify(e.error));
      return true;
    });
  assert.ok(anthFake.on('/busy/').length >= 1);
});

test('openai client -> Anthropic deployment: an error event mid-stream reaches the SDK as an in-band error', async () => {
  const stream = await oai.chat.completions.create({
    model: 'claude-midfail', messages: [{ role: 'user', content: 'fail midway' }], stream: true,
  });
  let text = '';
  await assert.rejects((async () => {
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
  })(), (e) => {
    assert.ok(e instanceof OpenAI.APIError, `${e?.constructor?.name}: ${e}`);
    assert.match(String(e.message), /Overloaded mid-stream \(fake\)/);
    assert.equal(e.error?.type, 'service_unavailable', JSON.stringify(e.error));
    return true;
  });
  assert.equal(text, 'partial answer', 'the text before the error was delivered');
});

// ================================================================== anthropic client -> OpenAI

test('anthropic client -> OpenAI deployment (mock): messages.create; system, stop_sequences, Bearer key upstream; answer equals the mock\'s', async () => {
  const marker = nonce('an-plain');
  const { data: m, response } = await anth.messages.create({
    model: 'gpt-mock',
    system: 'You are terse.',
    max_tokens: 100,
    stop_sequences: ['END'],
    temperature: 0.5,
    messages: [{ role: 'user', content: `Name a mountain. ${marker}` }],
  }).withResponse();
  assert.equal(response.headers.get('x-sluice-deployment'), 'gpt-mock');
  assert.equal(response.headers.get('x-sluice-model-group'), 'gpt-mock');
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.content.length, 1, JSON.stringify(m));
  assert.equal(m.content[0].type, 'text');
  assert.ok(m.content[0].text.length > 0);
  assert.equal(m.stop_reason, 'end_turn', 'stop -> end_turn');

  const rec = await recordedByMarker(mock, marker);
  assert.equal(rec.path, '/v1/chat/completions');
  assert.equal(recordedHeader(rec, 'authorization'), `Bearer ${OAI_KEY}`);
  assert.equal(recordedHeader(rec, 'x-api-key'), undefined, 'the client\'s x-api-key is not forwarded');
  assert.equal(recordedHeader(rec, 'anthropic-version'), undefined);
  assertNoClientKey(rec.headers);
  const up = rec.json;
  assert.equal(up.model, 'mock-model');
  assert.deepEqual(up.messages, [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: `Name a mountain. ${marker}` },
  ]);
  assert.equal(up.max_tokens, 100);
  assert.deepEqual(up.stop, ['END']);
  assert.equal(up.temperature, 0.5);
  assert.equal(up.stop_sequences, undefined);
  assert.equal(up.system, undefined);

  const direct = await post(`${mock.url}/v1/chat/completions`, rec.rawBody, { authorization: `Bearer ${OAI_KEY}` });
  assert.equal(direct.status, 200);
  const d = direct.json();
  assert.equal(m.content[0].text, d.choices[0].message.content);
  assert.equal(m.usage.input_tokens, d.usage.prompt_tokens);
  assert.equal(m.usage.output_tokens, d.usage.completion_tokens);
});

test('anthropic client -> OpenAI deployment (mock): messages.stream() events, finalMessage() and finalText()', async () => {
  const marker = nonce('an-stream');
  const stream = anth.messages.stream({
    model: 'gpt-mock',
    max_tokens: 64,
    system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Be kind.' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: `Stream ${marker}` }] }],
  });
  const events = [];
  stream.on('streamEvent', (e) => events.push(e));
  const final = await stream.finalMessage();
  const text = await stream.finalText();
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'message_start', types.join(','));
  assert.equal(types.at(-1), 'message_stop', types.join(','));
  assert.equal(types.at(-2), 'message_delta', types.join(','));
  assert.ok(types.includes('content_block_start') && types.includes('content_block_stop'), types.join(','));
  const deltas = events.filter((e) => e.type === 'content_block_delta');
  assert.ok(deltas.length >= 1);
  assert.equal(deltas.map((e) => e.delta.text).join(''), text);
  assert.equal(final.type, 'message');
  assert.equal(final.role, 'assistant');
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.content.length, 1);
  assert.equal(final.content[0].text, text);
  assert.ok(text.length > 0);

  const rec = await recordedByMarker(mock, marker);
  assert.equal(rec.path, '/v1/chat/completions');
  assert.equal(rec.json.stream, true);
  assert.deepEqual(rec.json.stream_options, { include_usage: true }, 'usage asked for so message_delta can carry it');
  assert.deepEqual(rec.json.messages[0], { role: 'system', content: 'Be brief.\n\nBe kind.' });
  const direct = await post(`${mock.url}/v1/chat/completions`, rec.rawBody, { authorization: `Bearer ${OAI_KEY}` });
  const chunks = sseData(direct.text).filter((x) => x !== '[DONE]').map((x) => JSON.parse(x));
  assert.equal(text, chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''));
  const u = chunks.find((c) => c.usage).usage;
  assert.equal(final.usage.output_tokens, u.completion_tokens);
  assert.equal(final.usage.input_tokens, u.prompt_tokens, 'input tokens from message_delta');
});

test('anthropic client -> OpenAI deployment: tool use across turns (tool_use -> tool_calls, tool_result -> tool messages)', async () => {
  const before = oaiFake.on('/tools/').length;
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const m1 = await anth.messages.create({
    model: 'gpt-tools', max_tokens: 200, system: 'Use tools.', messages,
    tools: [WEATHER_TOOL_ANTH], tool_choice: { type: 'any' },
  });
  assert.equal(m1.stop_reason, 'tool_use', JSON.stringify(m1));
  const uses = m1.content.filter((b) => b.type === 'tool_use');
  assert.equal(uses.length, 1, JSON.stringify(m1));
  assert.deepEqual({ id: uses[0].id, name: uses[0].name, input: uses[0].input },
    { id: 'call_paris', name: 'get_weather', input: { city: 'Paris' } });
  assert.ok(!m1.content.some((b) => b.type === 'text' && b.text === ''), `no empty text block before the tool use: ${JSON.stringify(m1.content)}`);
  assert.equal(m1.usage.input_tokens, 44);
  assert.equal(m1.usage.output_tokens, 9);

  let ups = oaiFake.on('/tools/').slice(before);
  assert.equal(ups.length, 1);
  let up = ups[0];
  assert.equal(up.path, '/tools/v1/chat/completions');
  assert.equal(up.headers.authorization, `Bearer ${OAI_KEY}`);
  assertNoClientKey(up.headers);
  assert.equal(up.json.model, 'gpt-tools-upstream');
  assert.deepEqual(up.json.messages, [{ role: 'system', content: 'Use tools.' }, { role: 'user', content: 'Weather in Paris?' }]);
  assert.deepEqual(up.json.tools, [{ type: 'function', function: {
    name: 'get_weather', description: 'Current weather for a city', parameters: WEATHER_TOOL_ANTH.input_schema } }]);
  assert.equal(up.json.tool_choice, 'required', 'any -> required');

  // Turn 2: the assistant turn as the SDK returned it, the tool result as the user's.
  messages.push({ role: 'assistant', content: m1.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_paris', content: '18C' }] });
  const m2 = await anth.messages.create({
    model: 'gpt-tools', max_tokens: 200, system: 'Use tools.', messages,
    tools: [WEATHER_TOOL_ANTH], tool_choice: { type: 'tool', name: 'get_weather' },
  });
  assert.equal(m2.stop_reason, 'end_turn');
  assert.deepEqual(m2.content.map((b) => [b.type, b.text]), [['text', 'Paris is 18C.']]);

  ups = oaiFake.on('/tools/').slice(before);
  assert.equal(ups.length, 2);
  up = ups[1].json;
  assert.deepEqual(up.tool_choice, { type: 'function', function: { name: 'get_weather' } }, 'tool -> named function');
  const asst = up.messages.find((x) => x.role === 'assistant');
  assert.ok(asst, JSON.stringify(up.messages));
  assert.equal(asst.tool_calls.length, 1);
  assert.equal(asst.tool_calls[0].id, 'call_paris');
  assert.equal(asst.tool_calls[0].type, 'function');
  assert.equal(asst.tool_calls[0].function.name, 'get_weather');
  assert.equal(typeof asst.tool_calls[0].function.arguments, 'string');
  assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'Paris' });
  const tool = up.messages.filter((x) => x.role === 'tool');
  assert.deepEqual(tool, [{ role: 'tool', tool_call_id: 'call_paris', content: '18C' }]);
  assert.deepEqual(up.messages.map((x) => x.role), ['system', 'user', 'assistant', 'tool'],
    'no empty user message after the tool results');
});

test('anthropic client -> OpenAI deployment: streamed tool call; finalMessage() has the parsed input', async () => {
  const before = oaiFake.on('/tools/').length;
  const stream = anth.messages.stream({
    model: 'gpt-tools', max_tokens: 200,
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    tools: [WEATHER_TOOL_ANTH],
  });
  const json = [];
  stream.on('inputJson', (partial) => json.push(partial));
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use', JSON.stringify(final));
  assert.deepEqual(final.content.map((b) => b.type), ['text', 'tool_use'], JSON.stringify(final.content));
  assert.equal(final.content[0].text, 'Checking Oslo.');
  assert.equal(final.content[1].id, 'call_oslo');
  assert.equal(final.content[1].name, 'get_weather');
  assert.deepEqual(final.content[1].input, { city: 'Oslo' });
  assert.equal(json.join(''), '{"city": "Oslo"}', 'input_json_delta pieces in order');
  assert.equal(final.usage.input_tokens, 33);
  assert.equal(final.usage.output_tokens, 11);
  const up = oaiFake.on('/tools/').slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0].json.stream, true);
  assert.deepEqual(up[0].json.stream_options, { include_usage: true });
});

const UPSTREAM_ERRORS = [
  { model: 'gpt-429', status: 429, cls: 'RateLimitError', type: 'rate_limit_error', msg: /Rate limit reached for fake/ },
  { model: 'gpt-529', status: 529, cls: 'OverloadedError', type: 'overloaded_error', msg: /overloaded \(fake 529\)/ },
  { model: 'gpt-503', status: 503, cls: 'ServiceUnavailableError', type: 'overloaded_error', msg: /overloaded \(fake 503\)/ },
];
for (const c of UPSTREAM_ERRORS) {
  test(`anthropic client -> OpenAI deployment: upstream ${c.status} becomes the SDK's ${c.cls} with an Anthropic ${c.type} body`, async () => {
    const check = (e) => {
      assert.ok(e instanceof Anthropic[c.cls], `${c.model}: ${e?.constructor?.name}: ${e}`);
      assert.ok(e instanceof Anthropic.APIError);
      assert.equal(e.status, c.status, `${c.model}: ${e}`);
      assert.equal(e.error?.type, 'error', `${c.model}: Anthropic error envelope: ${JSON.stringify(e.error)}`);
      assert.match(e.error.error.message, c.msg);
      assert.equal(e.error?.error?.type, c.type, `${c.model}: ${JSON.stringify(e.error)}`);
      return true;
    };
    const params = { model: c.model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    await assert.rejects(anth.messages.create(params), check);
    // The stream helper fails the same way (the status comes before any event).
    const s = anth.messages.stream(params);
    s.on('error', () => {}); // finalMessage() rejects with it
    await assert.rejects(s.finalMessage(), check);
  });
}

test('anthropic client -> OpenAI deployment: a stream cut short (no finish, no [DONE]) ends in an error event, not a silent truncation', async () => {
  const stream = anth.messages.stream({ model: 'gpt-cut', max_tokens: 10, messages: [{ role: 'user', content: 'cut' }] });
  let text = '';
  stream.on('text', (t) => { text += t; });
  stream.on('error', () => {});
  await assert.rejects(stream.finalMessage(), (e) => {
    assert.ok(e instanceof Anthropic.APIError, `${e?.constructor?.name}: ${e}`);
    assert.equal(e.error?.type, 'error', JSON.stringify(e.error));
    assert.equal(typeof e.error?.error?.type, 'string', JSON.stringify(e.error));
    return true;
  });
  assert.equal(text, 'cut short', 'the text before the cut was delivered');
  // On the wire: the last event is an Anthropic error event, never message_stop.
  const raw = await openStream(`${sluice.url}/v1/messages`, {
    headers: { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' },
    body: { model: 'gpt-cut', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'cut' }] },
  });
  await raw.waitEnd(10000);
  assert.equal(raw.status, 200);
  const events = raw.text.replace(/\r\n/g, '\n').split('\n\n').filter(Boolean);
  assert.match(events.at(-1), /^event: error\ndata: \{"type":"error"/, raw.text.slice(-600));
  assert.ok(!/event: message_stop/.test(raw.text), raw.text.slice(-600));
});

// ================================================================== anthropic client -> Anthropic

test('anthropic client -> Anthropic deployment: passed through (model rewritten, anthropic-beta forwarded, upstream key)', async () => {
  const BETA = 'prompt-caching-2024-07-31,token-efficient-tools-2025-02-19';
  const client = new Anthropic({ apiKey: MASTER, baseURL: sluice.url, maxRetries: 0, timeout: 10000,
    defaultHeaders: { 'anthropic-beta': BETA } });
  const before = anthFake.on('/pass/').length;
  const params = {
    model: 'claude-pass',
    max_tokens: 50,
    top_k: 5,
    system: [{ type: 'text', text: 'cached system', cache_control: { type: 'ephemeral' } }],
    metadata: { user_id: 'u-1' },
    messages: [{ role: 'user', content: 'Pass me through.' }],
  };
  const m = await client.messages.create(params);
  assert.deepEqual(m, anthMessage({ id: 'msg_pass', model: 'claude-pass-upstream', content: [{ type: 'text', text: 'passed through' }],
    usage: { input_tokens: 5, output_tokens: 3, cache_read_input_tokens: 2, cache_creation_input_tokens: 0 } }),
  'the upstream\'s message reaches the client as it is');
  const ups = anthFake.on('/pass/').slice(before);
  assert.equal(ups.length, 1);
  const up = ups[0];
  assert.equal(up.path, '/pass/v1/messages');
  assert.deepEqual(up.json, { ...params, model: 'claude-pass-upstream' }, 'only the model is rewritten');
  assert.equal(up.headers['anthropic-beta'], BETA);
  assert.equal(up.headers['x-api-key'], ANTH_KEY);
  assert.equal(up.headers['anthropic-version'], '2023-06-01');
  assert.equal(up.headers.authorization, undefined);
  assertNoClientKey(up.headers);

  // Streaming passes through too; the helper assembles the upstream's events.
  const s = client.messages.stream({ ...params, model: 'claude-pass' });
  const final = await s.finalMessage();
  assert.equal(await s.finalText(), 'passed through');
  assert.equal(final.id, 'msg_pass_stream');
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, 3);
  const sup = anthFake.on('/pass/').slice(before)[1];
  assert.equal(sup.json.stream, true);
  assert.equal(sup.json.stream_options, undefined, 'nothing OpenAI-specific is injected into an Anthropic stream');
  assert.equal(sup.headers['anthropic-beta'], BETA);
});

// ================================================================== Azure

test('azure deployment: /openai/deployments/{name}/chat/completions?api-version=, api-key header; the openai client gets the answer', async () => {
  const before = azureFake.requests.length;
  const { data: r, response } = await oai.chat.completions.create({
    model: 'azure-gpt', messages: [{ role: 'user', content: 'hello azure' }],
  }).withResponse();
  assert.equal(response.headers.get('x-sluice-deployment'), 'azure-gpt');
  assert.equal(r.choices[0].message.content, 'hello from azure');
  assert.equal(r.usage.total_tokens, 12);
  const stream = oai.chat.completions.stream({ model: 'azure-gpt', messages: [{ role: 'user', content: 'stream azure' }] });
  assert.equal(await stream.finalContent(), 'from azure');
  const ups = azureFake.requests.slice(before);
  assert.equal(ups.length, 2, JSON.stringify(ups.map((u) => u.path)));
  for (const up of ups) {
    assert.equal(up.path, `/openai/deployments/my-deployment/chat/completions?api-version=${AZURE_VERSION}`);
    assert.equal(up.headers['api-key'], AZURE_KEY);
    assert.equal(up.headers.authorization, undefined, 'Azure takes api-key, not a Bearer token');
    assertNoClientKey(up.headers);
  }
  assert.equal(ups[0].json.messages[0].content, 'hello azure');
  assert.equal(ups[1].json.stream, true);
});

// ================================================================== sluice's own errors at /v1/messages

test('/v1/messages: the decision headers (x-sluice-attempts, x-sluice-hedge) are sent as on /v1/chat/completions', async () => {
  const body = { model: 'gpt-mock', max_tokens: 10, messages: [{ role: 'user', content: 'headers?' }] };
  const r = await post(`${sluice.url}/v1/messages`, body, { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-deployment'], 'gpt-mock');
  assert.equal(r.headers['x-sluice-attempts'], '1', `headers: ${JSON.stringify(r.headers)}`);
  assert.equal(r.headers['x-sluice-hedge'], 'none', `headers: ${JSON.stringify(r.headers)}`);
});

test('/v1/messages: sluice\'s own errors are Anthropic-shaped (unknown model, bad JSON, no key, missing model)', async () => {
  const H = { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' };
  const shape = (r, status, type, re) => {
    assert.equal(r.status, status, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    const b = r.json();
    assert.equal(b.type, 'error', r.text);
    assert.equal(typeof b.error, 'object', r.text);
    assert.equal(b.error.type, type, r.text);
    assert.equal(typeof b.error.message, 'string', r.text);
    assert.match(b.error.message, re);
    assert.equal(b.choices, undefined);
  };
  shape(await post(`${sluice.url}/v1/messages`, { model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, H),
    400, 'invalid_request_error', /no-such-model/);
  shape(await post(`${sluice.url}/v1/messages`, '{"model": "claude-mock", "messages": [', H), 400, 'invalid_request_error', /JSON/);
  shape(await post(`${sluice.url}/v1/messages`, { max_tokens: 5, messages: [] }, H), 400, 'invalid_request_error', /model/);
  shape(await post(`${sluice.url}/messages`, { model: 'no-such-model', max_tokens: 5, messages: [] }, H),
    400, 'invalid_request_error', /no-such-model/);
  shape(await post(`${sluice.url}/v1/messages`, { model: 'claude-mock', max_tokens: 5, messages: [] }, { 'anthropic-version': '2023-06-01' }),
    401, 'authentication_error', /./);
  // The same path on the OpenAI side keeps the OpenAI shape.
  const o = await post(`${sluice.url}/v1/chat/completions`, { model: 'no-such-model', messages: [] }, { authorization: `Bearer ${MASTER}` });
  assert.equal(o.status, 400);
  assert.equal(o.json().type, undefined);
  assert.equal(typeof o.json().error.message, 'string');
  // Through the SDK: a BadRequestError whose body is the Anthropic error.
  await assert.rejects(anth.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError, `${e}`);
      assert.equal(e.status, 400);
      assert.equal(e.error?.error?.type, 'invalid_request_error', JSON.stringify(e.error));
      return true;
    });
  // A request the translator refuses (n > 1 has no Anthropic equivalent) is the client's 400.
  await assert.rejects(oai.chat.completions.create({ model: 'claude-mock', n: 2, messages: [{ role: 'user', content: 'x' }] }),
    (e) => { assert.equal(e.status, 400, `${e}`); assert.equal(e.error?.type, 'invalid_request_error', JSON.stringify(e.error)); return true; });
});

// ================================================================== cross-provider failover

test('cross-provider failover: one OpenAI-format and one Anthropic-format deployment; killing either keeps both kinds of client served, each in its own format', async () => {
  const mockArgs = ['--tokens', '6', '--ttft-ms', '1', '--itl-ms', '0', '--latency-ms', '1'];
  let mo = await startMock(['--seed', '21', ...mockArgs]); // the OpenAI-format server
  let ma = await startMock(['--seed', '22', ...mockArgs]); // the Anthropic-format server
  const oaiDep = (id, extra = {}) => ({ api_base: `${mo.url}/v1`, model: 'openai/mock-model', api_key: OAI_KEY, model_info: { id }, ...extra });
  const anthDep = (id, extra = {}) => ({ api_base: ma.url, model: 'anthropic/claude-mock', api_key: ANTH_KEY, model_info: { id }, ...extra });
  // `mixed` picks at random; the ordered twins always try one format first, so every
  // request to them while that server is down is a failover into the other format.
  // allowed_fails is high so a dead deployment is never cooled down and keeps being tried.
  const s = await startSluice({
    yaml: routerConfig({
      groups: {
        mixed: [oaiDep('mixed-oai'), anthDep('mixed-anth')],
        'oai-first': [oaiDep('of-oai', { order: 1 }), anthDep('of-anth', { order: 2 })],
        'anth-first': [anthDep('af-anth', { order: 1 }), oaiDep('af-oai', { order: 2 })],
      },
      router: { allowed_fails: 1000, num_retries: 2 },
      masterKey: MASTER,
    }),
    workers: 2,
  });
  const o = new OpenAI({ apiKey: MASTER, baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 10000 });
  const a = new Anthropic({ apiKey: MASTER, baseURL: s.url, maxRetries: 0, timeout: 10000 });
  const ask = { messages: [{ role: 'user', content: 'failover?' }] };

  // n rounds of both clients against `model`, plain and streamed; every answer must be in
  // the client's own format. Returns [client, deployment, request id] of each plain answer.
  const round = async (model, n) => {
    const served = [];
    for (let i = 0; i < n; i++) {
      const { data: r, response: h1 } = await o.chat.completions.create({ model, ...ask }).withResponse();
      assert.equal(r.object, 'chat.completion', JSON.stringify(r));
      assert.equal(r.choices[0].message.role, 'assistant');
      assert.ok(r.choices[0].message.content.length > 0);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.ok(r.usage.completion_tokens > 0);
      served.push(['openai', h1.headers.get('x-sluice-deployment'), h1.headers.get('x-request-id')]);

      const { data: m, response: h2 } = await a.messages.create({ model, max_tokens: 32, ...ask }).withResponse();
      assert.equal(m.type, 'message', JSON.stringify(m));
      assert.equal(m.role, 'assistant');
      assert.equal(m.content[0].type, 'text');
      assert.ok(m.content[0].text.length > 0);
      assert.equal(m.stop_reason, 'end_turn');
      assert.ok(m.usage.output_tokens > 0);
      served.push(['anthropic', h2.headers.get('x-sluice-deployment'), h2.headers.get('x-request-id')]);

      if (i % 2 === 0) { // streams: nothing was sent before the failover, so it is invisible
        const so = o.chat.completions.stream({ model, ...ask, stream_options: { include_usage: true } });
        const fo = await so.finalChatCompletion();
        assert.ok(fo.choices[0].message.content.length > 0);
        assert.equal(fo.choices[0].finish_reason, 'stop');
        assert.ok(fo.usage?.completion_tokens > 0, JSON.stringify(fo.usage));
        const sa = a.messages.stream({ model, max_tokens: 32, ...ask });
        const fa = await sa.finalMessage();
        assert.ok((await sa.finalText()).length > 0);
        assert.equal(fa.stop_reason, 'end_turn');
        assert.ok(fa.usage.output_tokens > 0);
      }
    }
    return served;
  };
  const deps = (xs) => [...new Set(xs.map((x) => x[1]))].sort();
  // The access-log trail of each request: [deployment, outcome] per attempt.
  const trails = (xs) => Promise.all(xs.map(async ([client, , id]) => {
    const l = await s.waitLine((x) => x.msg === 'access' && x.request_id === id, 5000, `access line of ${id}`);
    return [client, l.attempts.map((at) => `${at.deployment}:${at.outcome}`)];
  }));
  try {
    const both = await round('mixed', 10);
    assert.deepEqual(deps(both), ['mixed-anth', 'mixed-oai'], `both deployments serve while healthy: ${JSON.stringify(both)}`);
    assert.deepEqual(deps(await round('oai-first', 2)), ['of-oai']);
    assert.deepEqual(deps(await round('anth-first', 2)), ['af-anth']);

    // Kill the OpenAI-format server: everything is answered by the Anthropic one; each
    // request to oai-first went there first and failed over into the other format.
    await mo.stop({ signal: 'SIGKILL' });
    const mixed1 = await round('mixed', 6);
    assert.deepEqual(deps(mixed1), ['mixed-anth'], JSON.stringify(mixed1));
    const of1 = await round('oai-first', 4);
    assert.deepEqual(deps(of1), ['of-anth'], JSON.stringify(of1));
    for (const [client, t] of await trails(of1)) {
      assert.equal(t.length, 2, `${client}: dead one first, then the other format: ${t}`);
      assert.match(t[0], /^of-oai:/);
      assert.equal(t[1], 'of-anth:ok', `${client}: ${t}`);
    }

    // Bring it back and wait until it serves again, then kill the Anthropic-format one.
    mo = await startMockOn(mo.port, ['--seed', '21', ...mockArgs]);
    await pollUntil(async () => deps(await round('oai-first', 1)).join() === 'of-oai',
      { timeoutMs: 10000, intervalMs: 50, what: 'the restarted OpenAI-format deployment to serve again' });
    await ma.stop({ signal: 'SIGKILL' });
    const mixed2 = await round('mixed', 6);
    assert.deepEqual(deps(mixed2), ['mixed-oai'], JSON.stringify(mixed2));
    const af2 = await round('anth-first', 4);
    assert.deepEqual(deps(af2), ['af-oai'], JSON.stringify(af2));
    for (const [client, t] of await trails(af2)) {
      assert.equal(t.length, 2, `${client}: dead one first, then the other format: ${t}`);
      assert.match(t[0], /^af-anth:/);
      assert.equal(t[1], 'af-oai:ok', `${client}: ${t}`);
    }
  } finally {
    assert.equal(await s.stop(), 0, 'sluice exit code');
    for (const m of [mo, ma]) if (!m.exited) await m.stop();
  }
});
