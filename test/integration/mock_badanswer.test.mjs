// sluice-mock's --answer-mode, driven directly (no sluice): each mode makes chat completions
// bad in its own way, whole and streamed, so a cascade's answer checks can be tested against a
// cheap deployment that answers badly and a strong one that answers well; and "logprobs": true
// returns per-token logprobs (very low with low_logprob). Without the flag nothing changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, post, openStream, sseData, runCommand, cleanup } from './lib.mjs';

const MODES = ['normal', 'truncated', 'refusal', 'empty', 'bad_json', 'bad_tool_args', 'wrong_math', 'low_logprob'];
const mocks = {};
const base = ['--seed', '3', '--tokens', '8', '--ttft-ms', '0', '--itl-ms', '0', '--latency-ms', '0'];

before(async () => {
  mocks.plain = await startMock(base);
  for (const m of MODES) mocks[m] = await startMock([...base, '--answer-mode', m]);
});

after(async () => {
  for (const m of Object.values(mocks)) assert.equal(await m.stop(), 0);
  await cleanup();
});

const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

async function chat(mock, extra = {}) {
  const r = await post(`${mock.url}/v1/chat/completions`, { model: 'cheap', messages: [{ role: 'user', content: 'How many eggs?' }], ...extra });
  assert.equal(r.status, 200, r.text);
  return r.json();
}

// The streamed answer put together: content, tool-call arguments, finish_reason, logprobs.
async function chatStream(mock, extra = {}) {
  const s = await openStream(`${mock.url}/v1/chat/completions`, {
    body: { model: 'cheap', stream: true, messages: [{ role: 'user', content: 'How many eggs?' }], ...extra },
  });
  assert.equal(s.status, 200);
  await s.waitEnd();
  assert.ok(s.clean);
  const events = sseData(s.text);
  assert.equal(events.at(-1), '[DONE]');
  let content = '', args = '', finish = null;
  const logprobs = [];
  for (const e of events.slice(0, -1)) {
    const ch = JSON.parse(e).choices[0];
    if (!ch) continue;
    if (typeof ch.delta.content === 'string') content += ch.delta.content;
    for (const tc of ch.delta.tool_calls || []) args += tc.function.arguments || '';
    if (ch.finish_reason) finish = ch.finish_reason;
    for (const t of ch.logprobs?.content || []) logprobs.push(t.logprob);
  }
  return { content, args, finish, logprobs };
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;

test('without the flag (and with normal): a good answer, logprobs null unless asked', async () => {
  for (const m of [mocks.plain, mocks.normal]) {
    const r = await chat(m);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].message.content.split(' ').length, 8);
    assert.equal(r.choices[0].logprobs, null);
  }
  // the same request gets the same answer from both (the flag's default changes nothing)
  assert.deepEqual((await chat(mocks.plain)).choices, (await chat(mocks.normal)).choices);
  const s = await chatStream(mocks.plain);
  assert.equal(s.finish, 'stop');
  assert.equal(s.logprobs.length, 0);
});

test('logprobs: true returns one entry per token, mildly negative', async () => {
  const r = await chat(mocks.plain, { logprobs: true });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, 8);
  for (const t of lp) {
    assert.equal(typeof t.token, 'string');
    assert.ok(t.logprob < 0 && t.logprob > -0.5, `${t.logprob}`);
  }
  const s = await chatStream(mocks.plain, { logprobs: true });
  assert.equal(s.logprobs.length, 8);
  assert.ok(mean(s.logprobs) > -0.5);
});

test('low_logprob: the same words, very low logprobs (whole and streamed)', async () => {
  const r = await chat(mocks.low_logprob, { logprobs: true });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(mean(r.choices[0].logprobs.content.map((t) => t.logprob)) < -3);
  const s = await chatStream(mocks.low_logprob, { logprobs: true });
  assert.ok(mean(s.logprobs) < -3);
});

test('truncated: finish_reason length and a shorter text', async () => {
  const r = await chat(mocks.truncated);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.ok(r.choices[0].message.content.split(' ').length < 8);
  const s = await chatStream(mocks.truncated);
  assert.equal(s.finish, 'length');
  // a JSON answer is cut too
  const j = await chat(mocks.truncated, { response_format: { type: 'json_object' } });
  assert.equal(j.choices[0].finish_reason, 'length');
  assert.throws(() => JSON.parse(j.choices[0].message.content));
});

test('refusal: an apology-refusal text', async () => {
  const r = await chat(mocks.refusal);
  assert.match(r.choices[0].message.content, /^I'm sorry, but I can't/);
  assert.equal(r.choices[0].finish_reason, 'stop');
  const s = await chatStream(mocks.refusal);
  assert.equal(s.content, r.choices[0].message.content);
});

test('empty: content ""', async () => {
  const r = await chat(mocks.empty);
  assert.equal(r.choices[0].message.content, '');
  const s = await chatStream(mocks.empty);
  assert.equal(s.content, '');
  assert.equal(s.finish, 'stop');
});

test('bad_json: invalid JSON when response_format asks for JSON, else a normal answer', async () => {
  for (const rf of [{ type: 'json_object' }, { type: 'json_schema', json_schema: { name: 'p', schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } }]) {
    const r = await chat(mocks.bad_json, { response_format: rf });
    assert.throws(() => JSON.parse(r.choices[0].message.content), undefined, r.choices[0].message.content);
    const s = await chatStream(mocks.bad_json, { response_format: rf });
    assert.throws(() => JSON.parse(s.content));
  }
  const good = await chat(mocks.plain, { response_format: { type: 'json_object' } });
  assert.equal(typeof JSON.parse(good.choices[0].message.content), 'object');
  const n = await chat(mocks.bad_json);
  assert.equal(n.choices[0].message.content.split(' ').length, 8);
});

test('bad_tool_args: tool calls whose arguments are not valid JSON', async () => {
  const r = await chat(mocks.bad_tool_args, { tools });
  const tc = r.choices[0].message.tool_calls[0];
  assert.equal(tc.function.name, 'get_weather');
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.throws(() => JSON.parse(tc.function.arguments));
  const s = await chatStream(mocks.bad_tool_args, { tools });
  assert.ok(s.args.length > 0);
  assert.throws(() => JSON.parse(s.args));
  const good = await chat(mocks.plain, { tools });
  assert.equal(typeof JSON.parse(good.choices[0].message.tool_calls[0].function.arguments), 'object');
});

test('wrong_math: arithmetic that does not hold and no "####"', async () => {
  const r = await chat(mocks.wrong_math);
  const t = r.choices[0].message.content;
  assert.ok(!t.includes('####'));
  const m = t.match(/(\d+) - (\d+) = (\d+)/);
  assert.ok(m && Number(m[1]) - Number(m[2]) !== Number(m[3]), t);
  const s = await chatStream(mocks.wrong_math);
  assert.equal(s.content, t);
});

test('an unknown mode is refused at startup', async () => {
  const r = await runCommand(process.env.SLUICE_MOCK_BIN, ['--answer-mode', 'sloppy']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--answer-mode wants one of/);
});
