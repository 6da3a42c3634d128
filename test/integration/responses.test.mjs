// The OpenAI Responses API through sluice (issue #14), with the official `openai` SDK as
// the client (only its base URL points at sluice), over three kinds of deployment on one
// sluice-mock: `native` (openai/, served /v1/responses natively: passed through),
// `chat` (hosted_vllm/, a chat-completions server: translated to chat) and `claude`
// (anthropic/: translated to Anthropic Messages). For each: responses.create and
// responses.stream (the event sequence and sequence numbers), function tools over two
// turns, text.format json_schema, previous_response_id (stored by sluice, so a follow-up
// continues on any deployment), GET / DELETE /v1/responses/{id} and input_items, store:
// false, a Codex-CLI-shaped streaming request; the ids and owners of stored responses
// (another key sees nothing); unknown ids as clear errors; the cache serving a whole
// response under a new id. Every test also asserts what the mock received, so a
// translation that only "works" because the mock is lenient fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startMock, startSluice, cleanup, request, post, openStream, sseData, findRecorded, nonce, toYaml, HOST,
  assertOpenAIError, pollUntil,
} from './lib.mjs';
import { MASTER, MASTER_AUTH, newKey } from './keys_lib.mjs';

let mock;
let broken; // a mock that resets every stream midway
let sluice;
let oai;

const KINDS = [
  { group: 'native', path: '/v1/responses' },
  { group: 'chat', path: '/v1/chat/completions' },
  { group: 'claude', path: '/v1/messages' },
];

const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

const PERSON = {
  type: 'json_schema',
  name: 'person',
  strict: true,
  schema: {
    type: 'object',
    properties: { name: { type: 'string' }, age: { type: 'integer' } },
    required: ['name', 'age'],
    additionalProperties: false,
  },
};

before(async () => {
  mock = await startMock(['--seed', '7']);
  broken = await startMock(['--seed', '8', '--p-reset-during', '1']);
  const base = `http://${HOST}:${mock.port}`;
  const dep = (name, model, api_base, info) => ({
    model_name: name,
    litellm_params: { model, api_base, api_key: 'sk-mock-upstream' },
    model_info: { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002, ...info },
  });
  const yaml = toYaml({
    model_list: [
      dep('native', 'openai/gpt-native', `${base}/v1`),
      dep('chat', 'hosted_vllm/chat-model', `${base}/v1`),
      dep('claude', 'anthropic/claude-mock', base),
      dep('forced-chat', 'openai/gpt-forced', `${base}/v1`, { responses_api: 'translate' }),
      dep('cached', 'hosted_vllm/cached-model', `${base}/v1`),
      dep('flaky', 'openai/gpt-flaky', `${base}/v1`),
      dep('broken-chat', 'hosted_vllm/broken', `http://${HOST}:${broken.port}/v1`),
      dep('broken-native', 'openai/broken', `http://${HOST}:${broken.port}/v1`),
      { model_name: 'auto', litellm_params: { model: 'sluice_router/learned', strong_model: 'chat', weak_model: 'claude', threshold: 1 } },
    ],
    general_settings: { master_key: MASTER },
    litellm_settings: { cache: true },
    router_settings: { fallbacks: [{ flaky: ['claude'] }], num_retries: 0, allowed_fails: 1000 },
  });
  sluice = await startSluice({ yaml, workers: 2 });
  oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  if (mock) await mock.stop();
  if (broken) await broken.stop();
  await cleanup();
});

/** The mock's record of the request that carried marker m. */
async function received(m) {
  const rec = findRecorded(await mock.stats(), (b, r) => typeof r.body === 'string' && r.body.includes(m));
  assert.ok(rec, `the mock received the request marked ${m}`);
  return rec;
}

for (const { group, path } of KINDS) {
  test(`${group}: responses.create answers a response object, translated or passed through`, async () => {
    const m = nonce('create');
    const { data: r, response } = await oai.responses
      .create({ model: group, input: `Say hello ${m}`, instructions: 'Be brief.', max_output_tokens: 64 })
      .withResponse();
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.status, 'completed');
    assert.ok(r.output_text.length > 0, 'output_text');
    assert.equal(r.output[r.output.length - 1].type, 'message');
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.equal(r.instructions, 'Be brief.');
    assert.equal(response.headers.get('x-sluice-model-group'), group);
    assert.match(response.headers.get('x-sluice-cost') ?? '', /^\d+\.\d+$/);
    const rec = await received(m);
    assert.equal(rec.path, path);
    if (group === 'native') {
      assert.equal(rec.json.model, 'gpt-native');
      assert.equal(rec.json.input, `Say hello ${m}`);
    } else if (group === 'chat') {
      assert.equal(rec.json.model, 'chat-model');
      assert.deepEqual(rec.json.messages[0], { role: 'system', content: 'Be brief.' });
      assert.equal(rec.json.messages[1].role, 'user');
      assert.equal(rec.json.max_tokens, 64);
    } else {
      assert.equal(rec.json.model, 'claude-mock');
      assert.equal(rec.json.system, 'Be brief.');
      assert.equal(rec.json.max_tokens, 64);
    }
  });

  test(`${group}: responses.stream gives the Responses event sequence with sequence numbers`, async () => {
    const m = nonce('stream');
    const stream = oai.responses.stream({ model: group, input: `Stream a few words ${m}` });
    const types = [];
    const seqs = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, text);
    assert.ok(text.length > 0);
    assert.ok(final.usage.output_tokens > 0, 'usage in response.completed');
    for (const t of ['response.created', 'response.in_progress', 'response.output_item.added',
      'response.content_part.added', 'response.output_text.delta', 'response.output_text.done',
      'response.content_part.done', 'response.output_item.done', 'response.completed']) {
      assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    }
    assert.equal(types[0], 'response.created');
    assert.equal(types[types.length - 1], 'response.completed');
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `sequence numbers increase: ${seqs}`);
    const rec = await received(m);
    assert.equal(rec.path, path);
    assert.equal(rec.json.stream, true);
  });

  test(`${group}: function tools over two turns`, async () => {
    const m = nonce('tools');
    const first = await oai.responses.create({ model: group, input: `Weather in Paris? ${m}`, tools: [WEATHER] });
    const call = first.output.find((o) => o.type === 'function_call');
    assert.ok(call, `a function_call item: ${JSON.stringify(first.output)}`);
    assert.equal(call.name, 'get_weather');
    assert.equal(typeof JSON.parse(call.arguments).city, 'string');
    const rec1 = await received(m);
    if (group === 'chat') assert.equal(rec1.json.tools[0].function.name, 'get_weather');
    if (group === 'claude') assert.equal(rec1.json.tools[0].name, 'get_weather');
    // turn two: the client replays the call and gives its output (no stored state)
    const m2 = nonce('tools2');
    const second = await oai.responses.create({
      model: group,
      store: false,
      tools: [WEATHER],
      input: [
        { role: 'user', content: `Weather in Paris? ${m2}` },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":21}' },
      ],
    });
    assert.ok(second.output_text.length > 0, 'a text answer after the tool result');
    const rec2 = await received(m2);
    if (group === 'chat') {
      const msgs = rec2.json.messages;
      assert.equal(msgs[1].role, 'assistant');
      assert.equal(msgs[1].tool_calls[0].id, call.call_id);
      assert.deepEqual(msgs[2], { role: 'tool', tool_call_id: call.call_id, content: '{"temp_c":21}' });
    } else if (group === 'claude') {
      const msgs = rec2.json.messages;
      assert.equal(msgs[1].content.find((b) => b.type === 'tool_use').id, call.call_id);
      assert.equal(msgs[2].content[0].type, 'tool_result');
      assert.equal(msgs[2].content[0].tool_use_id, call.call_id);
    } else {
      assert.equal(rec2.json.input[2].type, 'function_call_output');
    }
  });

  test(`${group}: text.format json_schema answers JSON of the schema`, async () => {
    const m = nonce('schema');
    const r = await oai.responses.create({ model: group, input: `A person ${m}`, text: { format: PERSON } });
    const v = JSON.parse(r.output_text);
    assert.equal(typeof v.name, 'string');
    assert.equal(typeof v.age, 'number');
    assert.equal(r.text.format.type, 'json_schema');
    const rec = await received(m);
    if (group === 'chat') assert.equal(rec.json.response_format.type, 'json_schema');
    if (group === 'claude') {
      assert.ok(rec.json.tools.some((t) => t.name === 'json_response'), 'the forced JSON tool');
      assert.equal(rec.json.tool_choice.type, 'tool');
      assert.equal(rec.json.tool_choice.name, 'json_response');
    }
  });

  test(`${group}: previous_response_id continues the conversation from sluice's store`, async () => {
    const m = nonce('prev');
    const first = await oai.responses.create({ model: group, input: `My name is Ada ${m}` });
    const m2 = nonce('prev2');
    const second = await oai.responses.create({ model: group, input: `What is my name? ${m2}`, previous_response_id: first.id });
    assert.notEqual(second.id, first.id);
    assert.equal(second.previous_response_id, first.id);
    const rec = await received(m2);
    const body = rec.rawBody;
    assert.ok(body.includes(`My name is Ada ${m}`), 'the first turn was sent again');
    assert.ok(body.includes(first.output_text.slice(0, 20)), 'the first answer was sent again');
    assert.ok(!body.includes('previous_response_id'), 'expanded by sluice, not passed on');
    // a third turn chains through both
    const m3 = nonce('prev3');
    await oai.responses.create({ model: group, input: `And again ${m3}`, previous_response_id: second.id });
    const rec3 = await received(m3);
    assert.ok(rec3.rawBody.includes(`My name is Ada ${m}`) && rec3.rawBody.includes(`What is my name? ${m2}`));
  });

  test(`${group}: a streamed answer is stored before its last event (an immediate follow-up finds it)`, async () => {
    const stream = oai.responses.stream({ model: group, input: `Count to three ${nonce('sprev')}` });
    const final = await stream.finalResponse();
    const m = nonce('sprev2');
    const next = await oai.responses.create({ model: group, input: `Go on ${m}`, previous_response_id: final.id });
    assert.equal(next.status, 'completed');
    const got = await oai.responses.retrieve(final.id);
    assert.equal(got.id, final.id);
    assert.equal(got.output_text, final.output_text);
  });

  test(`${group}: a Codex-CLI-shaped streaming request`, async () => {
    const m = nonce('codex');
    const body = {
      model: group,
      instructions: 'You are a coding agent running in a terminal.',
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: '<environment_context>cwd=/tmp</environment_context>' }] },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: `list the files ${m}` }] },
      ],
      tools: [{
        type: 'function',
        name: 'shell',
        description: 'Runs a shell command',
        strict: false,
        parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } }, required: ['command'] },
      }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning: { effort: 'medium', summary: 'auto' },
      store: false,
      stream: true,
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: `codex-${m}`,
    };
    const s = await openStream(`${sluice.url}/v1/responses`, { body, headers: MASTER_AUTH });
    assert.equal(s.status, 200, s.text);
    await s.waitEnd();
    const text = s.text;
    const events = sseData(text).map((d) => JSON.parse(d));
    const last = events[events.length - 1];
    assert.equal(last.type, 'response.completed', text.slice(-400));
    const call = last.response.output.find((o) => o.type === 'function_call');
    assert.ok(call, 'the agent got a shell call');
    assert.ok(Array.isArray(JSON.parse(call.arguments).command));
    const rec = await received(m);
    assert.equal(rec.path, path);
    if (group === 'chat') {
      assert.equal(rec.json.reasoning_effort, 'medium');
      assert.equal(rec.json.parallel_tool_calls, false);
      assert.equal(rec.json.messages[0].role, 'system');
    }
    if (group === 'claude') assert.equal(rec.json.thinking?.type, 'enabled', 'reasoning.effort -> thinking');
  });
}

test('stored responses: GET, input_items, DELETE, then 404; store:false keeps nothing', async () => {
  const r = await oai.responses.create({ model: 'chat', input: `Keep me ${nonce('keep')}` });
  const got = await oai.responses.retrieve(r.id);
  assert.deepEqual(got.output, r.output);
  const items = await request(`${sluice.url}/v1/responses/${r.id}/input_items`, { headers: MASTER_AUTH });
  assert.equal(items.status, 200, items.text);
  assert.equal(items.json().object, 'list');
  assert.ok(items.json().data.some((i) => JSON.stringify(i).includes('Keep me')));
  const del = await oai.responses.delete(r.id).withResponse();
  assert.equal(del.response.status, 200);
  const again = await request(`${sluice.url}/v1/responses/${r.id}`, { headers: MASTER_AUTH });
  assert.equal(again.status, 404);
  assertOpenAIError(again.json(), { code: 'response_not_found', messageIncludes: [r.id] });
  const off = await oai.responses.create({ model: 'chat', input: `Forget me ${nonce('nostore')}`, store: false });
  const none = await request(`${sluice.url}/v1/responses/${off.id}`, { headers: MASTER_AUTH });
  assert.equal(none.status, 404);
});

test('stored responses belong to their key: another key sees 404 and cannot continue them', async () => {
  const a = await newKey(sluice.url, {});
  const b = await newKey(sluice.url, {});
  const ca = new OpenAI({ apiKey: a.key, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  const cb = new OpenAI({ apiKey: b.key, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
  const r = await ca.responses.create({ model: 'chat', input: `Mine ${nonce('own')}` });
  assert.equal((await ca.responses.retrieve(r.id)).id, r.id);
  await assert.rejects(cb.responses.retrieve(r.id), (e) => e.status === 404);
  await assert.rejects(cb.responses.delete(r.id), (e) => e.status === 404);
  await assert.rejects(cb.responses.create({ model: 'chat', input: 'x', previous_response_id: r.id }),
    (e) => e.status === 400 && e.code === 'previous_response_not_found');
  assert.equal((await ca.responses.retrieve(r.id)).id, r.id, 'still there for its owner');
});

test('an unknown previous_response_id is a 400 for translated groups', async () => {
  await assert.rejects(oai.responses.create({ model: 'claude', input: 'x', previous_response_id: 'resp_nope' }),
    (e) => e.status === 400 && e.code === 'previous_response_not_found' && /resp_nope/.test(e.message));
  const r = await post(`${sluice.url}/v1/responses`, { model: 'chat', input: 'x', store: 'yes' }, MASTER_AUTH);
  assert.equal(r.status, 400);
  assertOpenAIError(r.json(), { messageIncludes: ['store'] });
});

test('built-in tools are refused by name for translated deployments', async () => {
  const r = await post(`${sluice.url}/v1/responses`,
    { model: 'chat', input: 'search', tools: [{ type: 'web_search' }] }, MASTER_AUTH);
  assert.equal(r.status, 400, r.text);
  assertOpenAIError(r.json(), { messageIncludes: ['web_search'] });
});

test('model_info.responses_api: translate sends an openai/ deployment chat completions', async () => {
  const m = nonce('forced');
  const r = await oai.responses.create({ model: 'forced-chat', input: `Hi ${m}` });
  assert.equal(r.status, 'completed');
  assert.equal((await received(m)).path, '/v1/chat/completions');
});

test('the cache serves a whole response again under a new id', async () => {
  const body = { model: 'cached', input: `Cache me ${nonce('cache')}`, temperature: 0 };
  const entries = async () => (await request(`${sluice.url}/cache/stats`, { headers: MASTER_AUTH })).json().entries;
  const before = await entries();
  const a = await post(`${sluice.url}/v1/responses`, body, MASTER_AUTH);
  assert.equal(a.status, 200, a.text);
  await pollUntil(async () => (await entries()) > before, { what: 'the answer committed to the cache' });
  const b = await post(`${sluice.url}/v1/responses`, body, MASTER_AUTH);
  assert.equal(b.status, 200, b.text);
  assert.equal(b.headers['x-sluice-cache'], 'hit');
  assert.notEqual(b.json().id, a.json().id);
  assert.deepEqual(b.json().output, a.json().output);
  const got = await request(`${sluice.url}/v1/responses/${b.json().id}`, { headers: MASTER_AUTH });
  assert.equal(got.status, 200, 'a hit is stored under its own id');
});

test('a streamed response fills the cache; hits are replayed as whole responses and as event streams', async () => {
  const body = { model: 'cached', input: `Cache my stream ${nonce('cstream')}` };
  const entries = async () => (await request(`${sluice.url}/cache/stats`, { headers: MASTER_AUTH })).json().entries;
  const before = await entries();
  const s = await openStream(`${sluice.url}/v1/responses`, { body: { ...body, stream: true }, headers: MASTER_AUTH });
  await s.waitEnd();
  const first = sseData(s.text).map((d) => JSON.parse(d)).pop();
  assert.equal(first.type, 'response.completed');
  await pollUntil(async () => (await entries()) > before, { what: 'the streamed answer committed to the cache' });
  const whole = await post(`${sluice.url}/v1/responses`, body, MASTER_AUTH);
  assert.equal(whole.headers['x-sluice-cache'], 'hit');
  assert.deepEqual(whole.json().output.map((o) => o.content?.[0]?.text), first.response.output.map((o) => o.content?.[0]?.text));
  const again = oai.responses.stream({ ...body });
  const types = [];
  for await (const ev of again) types.push(ev.type);
  const fin = await again.finalResponse();
  assert.equal(types[0], 'response.created');
  assert.equal(types[types.length - 1], 'response.completed');
  assert.equal(fin.output_text, first.response.output.find((o) => o.type === 'message').content[0].text);
  assert.notEqual(fin.id, first.response.id);
  assert.notEqual(fin.id, whole.json().id);
});

test('a router in front of /v1/responses: the routed group answers, the decision in the headers', async () => {
  const m = nonce('routed');
  const { data: r, response } = await oai.responses.create({ model: 'auto', input: `Route me ${m}` }).withResponse();
  assert.equal(r.status, 'completed');
  assert.equal(response.headers.get('x-sluice-router'), 'auto');
  assert.equal(response.headers.get('x-sluice-router-target'), 'claude', 'threshold 1: always the weak model');
  assert.equal((await received(m)).path, '/v1/messages');
});

test('a native deployment that fails falls back to an Anthropic group, whole and streamed', async () => {
  // the mock fails requests that carry {"mock": {"fault": ...}}; the Anthropic translation
  // does not carry that field, so only the native attempt fails
  for (const stream of [false, true]) {
    const m = nonce(`fb-${stream}`);
    const body = { model: 'flaky', input: `Fall back ${m}`, stream, mock: { fault: '500' } };
    if (!stream) {
      const r = await post(`${sluice.url}/v1/responses`, body, MASTER_AUTH);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-sluice-fallback'], 'claude');
      assert.equal(r.json().status, 'completed');
    } else {
      const s = await openStream(`${sluice.url}/v1/responses`, { body, headers: MASTER_AUTH });
      assert.equal(s.status, 200);
      assert.equal(s.headers['x-sluice-fallback'], 'claude');
      await s.waitEnd();
      assert.equal(sseData(s.text).map((d) => JSON.parse(d)).pop().type, 'response.completed');
    }
    const st = await mock.stats();
    assert.ok(findRecorded(st, (b, r) => r.path === '/v1/responses' && r.body.includes(m)), 'the native attempt was made');
    assert.ok(findRecorded(st, (b, r) => r.path === '/v1/messages' && r.body.includes(m)), 'then the fallback');
  }
});

test('hostile Responses bodies get clear 4xx errors from translated groups, never a crash or a 5xx', async () => {
  const bodies = [
    { input: 42 },
    { input: [42] },
    { input: [{ type: 'message', role: 'wizard', content: 'x' }] },
    { input: [{ type: 'message', role: 'user', content: 7 }] },
    { input: [{ type: 'message', role: 'user', content: [{ type: 'input_image' }] }] },
    { input: [{ type: 'function_call', name: 'x' }] },
    { input: [{ type: 'function_call_output', call_id: 5, output: {} }] },
    { input: [{ type: 'item_reference', id: 'msg_1' }] },
    { input: 'x', tools: 'all' },
    { input: 'x', tools: [{ type: 'function' }] },
    { input: 'x', tool_choice: { type: 'mcp' }, tools: [WEATHER] },
    { input: 'x', text: { format: { type: 'json_schema' } } },
    { input: 'x', text: { format: 'json' } },
    { input: 'x', max_output_tokens: -1 },
    { input: 'x', previous_response_id: { id: 1 } },
    { input: 'x', previous_response_id: 'r'.repeat(300) },
    { input: 'x', background: true },
    { input: 'x', conversation: 'conv_1' },
    { instructions: 'only instructions' },
  ];
  const bad = [];
  for (const group of ['chat', 'claude']) {
    for (const b of bodies) {
      for (const stream of [false, true]) {
        const r = await post(`${sluice.url}/v1/responses`, { model: group, stream, ...b }, MASTER_AUTH);
        if (!(r.status >= 400 && r.status < 500)) bad.push(`${group} ${stream} ${JSON.stringify(b)}: ${r.status} ${r.text.slice(0, 200)}`);
        else assert.equal(typeof r.json().error.message, 'string');
      }
    }
  }
  assert.deepEqual(bad, []);
  // an effort a chat server may know is passed on; Anthropic's budget table refuses it by name
  const r = await post(`${sluice.url}/v1/responses`, { model: 'claude', input: 'x', reasoning: { effort: 'galactic' } }, MASTER_AUTH);
  assert.equal(r.status, 400);
  assert.match(r.json().error.message, /reasoning_effort|galactic/);
  for (const id of ['%00', '%2F..%2F', 'x'.repeat(4000), '%ZZ']) {
    const r = await request(`${sluice.url}/v1/responses/${id}`, { headers: MASTER_AUTH });
    assert.equal(r.status, 404, `${id.slice(0, 20)}: ${r.text}`);
  }
  assert.equal((await mock.stats()).requests > 0, true);
});

test('a stream the provider cuts midway ends in band: error, then response.failed; the SDK raises', async () => {
  for (const group of ['broken-chat', 'broken-native']) {
    const s = await openStream(`${sluice.url}/v1/responses`, { body: { model: group, input: 'x', stream: true }, headers: MASTER_AUTH });
    assert.equal(s.status, 200);
    await s.waitEnd();
    const evs = sseData(s.text).map((d) => JSON.parse(d));
    assert.equal(evs[0].type, 'response.created', s.text.slice(0, 300));
    assert.ok(evs.some((e) => e.type === 'error'), `an error event: ${s.text.slice(-400)}`);
    if (group === 'broken-chat') {
      assert.equal(evs[evs.length - 1].type, 'response.failed');
      for (let i = 1; i < evs.length; i++) assert.ok(evs[i].sequence_number > evs[i - 1].sequence_number);
    }
    await assert.rejects((async () => {
      const st = oai.responses.stream({ model: group, input: 'y' });
      for await (const _ of st) { /* drain */ }
      await st.finalResponse();
    })(), `${group}: the SDK raises`);
  }
});
