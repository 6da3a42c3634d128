// The cascade router (issue #15) against real processes: a cheap target on a sluice-mock
// that answers badly on purpose (--answer-mode: refusal, truncated, bad_json,
// bad_tool_args, low_logprob) and a strong target on a good mock. Asserted: a good cheap
// answer is served as it is (one attempt); each bad kind escalates exactly once, with the
// failed check in x-sluice-cascade-failed and in the access log's attempts trail, both
// steps billed; logprobs asked for the check are hidden from a client that did not ask; a
// streaming client's cheap step is asked whole, checked and replayed as a stream, while
// the last step streams as it comes; when the strong target cannot answer, the cheap
// answer is what the client gets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startSluice, cleanup, post, request, openStream, sseData, findRecorded, nonce, toYaml, HOST, freePort, pollUntil } from './lib.mjs';
import { accessLineOf } from './routing_lib.mjs';

const MASTER = 'sk-cascade-master-fake';
const AUTH = { authorization: `Bearer ${MASTER}` };
const MODES = ['refusal', 'truncated', 'bad_json', 'bad_tool_args', 'low_logprob'];
const PRICE = { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 };

let good;   // the cheap target that answers well
let judgeNo;  // a judge that rejects every answer
let judgeYes; // a judge that accepts every answer
let strong; // the strong target
const bad = {}; // mode -> mock
let sluice;
let oai;

before(async () => {
  good = await startMock(['--seed', '21']);
  judgeNo = await startMock(['--seed', '24', '--answer-mode', 'say_no']);
  judgeYes = await startMock(['--seed', '25', '--answer-mode', 'say_yes']);
  strong = await startMock(['--seed', '22']);
  for (const m of MODES) bad[m] = await startMock(['--seed', '23', '--answer-mode', m]);
  const deadPort = await freePort();
  const dep = (name, port) => ({
    model_name: name,
    litellm_params: { model: `openai/${name}-model`, api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock' },
    model_info: PRICE,
  });
  const cascade = (name, cheap, extra = {}) => ({
    model_name: name,
    litellm_params: { model: 'sluice_router/cascade', targets: [{ model: cheap }, { model: 'strong' }], ...extra },
  });
  const yaml = toYaml({
    model_list: [
      dep('cheap-good', good.port),
      dep('strong', strong.port),
      ...MODES.map((m) => dep(`cheap-${m}`, bad[m].port)),
      dep('strong-dead', deadPort),
      cascade('c-good', 'cheap-good'),
      ...MODES.map((m) => cascade(`c-${m}`, `cheap-${m}`,
        m === 'low_logprob' ? { checks: ['length', 'empty', 'refusal', 'logprob'], min_mean_logprob: -1.5 } : {})),
      cascade('e-good', 'cheap-good', { stream_checks: 'early', early_tokens: 3 }),
      cascade('e-refusal', 'cheap-refusal', { stream_checks: 'early', early_tokens: 3 }),
      cascade('l-refusal', 'cheap-refusal', { learning: 'online', max_shift_per_hour: 2 }),
      dep('judge-no', judgeNo.port),
      dep('judge-yes', judgeYes.port),
      cascade('j-no', 'cheap-good', { judge_model: 'judge-no' }),
      cascade('j-yes', 'cheap-good', { judge_model: 'judge-yes' }),
      cascade('j-broke', 'cheap-good', { judge_model: 'judge-no', judge_budget_usd_per_day: 0 }),
      { model_name: 'c-dead', litellm_params: { model: 'sluice_router/cascade', targets: [{ model: 'cheap-refusal' }, { model: 'strong-dead' }] } },
    ],
    general_settings: { master_key: MASTER },
    router_settings: { num_retries: 0, allowed_fails: 1000 },
  });
  sluice = await startSluice({ yaml });
  oai = new OpenAI({ apiKey: MASTER, baseURL: `${sluice.url}/v1`, maxRetries: 0 });
});

after(async () => {
  if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
  for (const m of [good, strong, judgeNo, judgeYes, ...Object.values(bad)]) if (m) await m.stop();
  await cleanup();
});

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: `Question ${nonce('q')}` }], ...extra });

async function strongGot(marker) {
  return findRecorded(await strong.stats(), (b, r) => typeof r.body === 'string' && r.body.includes(marker));
}

test('a good cheap answer is served as it is: one attempt, no escalation', async () => {
  const body = chat('c-good');
  const r = await post(`${sluice.url}/v1/chat/completions`, body, AUTH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-router'], 'c-good');
  assert.equal(r.headers['x-sluice-router-reason'], 'cascade');
  assert.equal(r.headers['x-sluice-model-group'], 'cheap-good');
  assert.equal(r.headers['x-sluice-attempts'], '1');
  assert.equal(r.headers['x-sluice-cascade-failed'], undefined);
  assert.equal(await strongGot(body.messages[0].content), undefined, 'the strong target was not asked');
});

const CASES = {
  refusal: { check: 'refusal', extra: {} },
  truncated: { check: 'length', extra: {} },
  bad_json: {
    check: 'json',
    extra: { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } } },
  },
  bad_tool_args: {
    check: 'tool_args',
    extra: { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }] },
  },
  low_logprob: { check: 'logprob', extra: {} },
};

for (const [mode, { check, extra }] of Object.entries(CASES)) {
  test(`a cheap answer that fails "${check}" escalates once to the strong target`, async () => {
    const body = chat(`c-${mode}`, extra);
    const r = await post(`${sluice.url}/v1/chat/completions`, body, AUTH);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-sluice-cascade-failed'], check);
    assert.equal(r.headers['x-sluice-model-group'], 'strong');
    assert.equal(r.headers['x-sluice-router-target'], 'strong');
    assert.equal(r.headers['x-sluice-attempts'], '2');
    const rec = await strongGot(body.messages[0].content);
    assert.ok(rec, 'the strong target was asked');
    if (mode === 'low_logprob') {
      const cheapRec = findRecorded(await bad[mode].stats(), (b, x) => x.body.includes(body.messages[0].content));
      assert.equal(cheapRec.json.logprobs, true, 'sluice asked the cheap step for logprobs');
      assert.equal(rec.json.logprobs, undefined, 'not the last step');
      assert.equal(r.json().choices[0].logprobs ?? null, null, 'the client did not ask: none shown');
    }
    const line = await accessLineOf(sluice, r);
    assert.equal(line.attempts[0].outcome, 'check_failed');
    assert.equal(line.attempts[0].check, check);
    assert.equal(line.attempts[1].outcome, 'ok');
    assert.equal(line.router_reason, 'cascade');
  });
}

test('both steps are billed', async () => {
  const one = await post(`${sluice.url}/v1/chat/completions`, chat('c-good'), AUTH);
  const two = await post(`${sluice.url}/v1/chat/completions`, chat('c-refusal'), AUTH);
  assert.ok(Number(two.headers['x-sluice-cost']) > Number(one.headers['x-sluice-cost']), `${two.headers['x-sluice-cost']} > ${one.headers['x-sluice-cost']}`);
});

test('streaming: the cheap step is asked whole, checked, replayed as a stream', async () => {
  const body = chat('c-good', { stream: true });
  const s = await openStream(`${sluice.url}/v1/chat/completions`, { body, headers: AUTH });
  assert.equal(s.status, 200);
  await s.waitEnd();
  const data = sseData(s.text);
  assert.equal(data[data.length - 1], '[DONE]');
  assert.ok(data.length >= 3, 'role, content, finish as chunks');
  const rec = findRecorded(await good.stats(), (b, r) => r.body.includes(body.messages[0].content));
  assert.equal(rec.json.stream, undefined, 'the checked step was asked for a whole answer');
  // through the SDK too
  const st = await oai.chat.completions.create({ ...chat('c-good'), stream: true });
  let text = '';
  for await (const c of st) text += c.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0);
});

test('streaming: a failed cheap step escalates and the last step streams as it comes', async () => {
  const body = chat('c-refusal', { stream: true });
  const s = await openStream(`${sluice.url}/v1/chat/completions`, { body, headers: AUTH });
  assert.equal(s.status, 200);
  assert.equal(s.headers['x-sluice-cascade-failed'], 'refusal');
  await s.waitEnd();
  assert.equal(sseData(s.text).pop(), '[DONE]');
  const rec = await strongGot(body.messages[0].content);
  assert.equal(rec.json.stream, true, 'the last step streams');
});

test('when the strong target cannot answer, the cheap answer is the client\'s', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chat('c-dead'), AUTH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-cascade-failed'], 'refusal');
  assert.ok(r.json().choices[0].message.content.length > 0);
});

test('stream_checks: early: the first tokens are checked, then the stream flows as it comes', async () => {
  const body = chat('e-good', { stream: true });
  const s = await openStream(`${sluice.url}/v1/chat/completions`, { body, headers: AUTH });
  assert.equal(s.status, 200);
  assert.equal(s.headers['x-sluice-model-group'], 'cheap-good');
  await s.waitEnd();
  assert.equal(sseData(s.text).pop(), '[DONE]');
  const rec = findRecorded(await good.stats(), (b, r) => r.body.includes(body.messages[0].content));
  assert.equal(rec.json.stream, true, 'the checked step streams');
  // the SDK reads it whole
  const st = await oai.chat.completions.create({ ...chat('e-good'), stream: true });
  let text = '';
  for await (const c of st) text += c.choices[0]?.delta?.content ?? '';
  assert.ok(text.length > 0);
});

test('stream_checks: early: a refusal in the first tokens escalates before the client sees any of it', async () => {
  const body = chat('e-refusal', { stream: true });
  const s = await openStream(`${sluice.url}/v1/chat/completions`, { body, headers: AUTH });
  assert.equal(s.status, 200);
  assert.equal(s.headers['x-sluice-model-group'], 'strong');
  assert.equal(s.headers['x-sluice-cascade-failed'], 'refusal');
  await s.waitEnd();
  assert.ok(!/sorry/i.test(s.text), 'no byte of the refusal reached the client');
  assert.equal(sseData(s.text).pop(), '[DONE]');
  const cheap = findRecorded(await bad.refusal.stats(), (b, r) => r.body.includes(body.messages[0].content));
  assert.equal(cheap.json.stream, true);
  assert.ok(await strongGot(body.messages[0].content));
});

test('learning: online: a cascade whose cheap step keeps failing a kind of prompt learns to skip it', async () => {
  const prompt = 'Summarise the quarterly revenue report for the board';
  const ask = async () => {
    const r = await post(`${sluice.url}/v1/chat/completions`, { model: 'l-refusal', messages: [{ role: 'user', content: prompt }] }, AUTH);
    assert.equal(r.status, 200, r.text);
    return r;
  };
  const first = await ask();
  assert.equal(first.headers['x-sluice-router-reason'], 'cascade');
  assert.equal(first.headers['x-sluice-cascade-failed'], 'refusal');
  for (let i = 0; i < 5; i++) await ask(); // each failed check is an outcome: the strong target was needed
  // the outcomes are applied in the background; workers re-read the learned state within a second
  const skipped = await pollUntil(async () => {
    const r = await ask();
    return r.headers['x-sluice-router-reason'] === 'cascade_skip' ? r : null;
  }, { timeoutMs: 8000, intervalMs: 100, what: 'the cascade to skip its cheap step' });
  assert.equal(skipped.headers['x-sluice-model-group'], 'strong');
  assert.equal(skipped.headers['x-sluice-attempts'], '1');
  assert.equal(skipped.headers['x-sluice-cascade-failed'], undefined);
});

test('a judge: "no" escalates, "yes" serves the cheap answer, a spent budget lets the answer through', async () => {
  const no = chat('j-no');
  let r = await post(`${sluice.url}/v1/chat/completions`, no, AUTH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-cascade-failed'], 'judge');
  assert.equal(r.headers['x-sluice-model-group'], 'strong');
  const asked = findRecorded(await judgeNo.stats(), (b, x) => x.body.includes(no.messages[0].content));
  assert.ok(asked, 'the judge saw the request');
  assert.equal(asked.json.model, 'judge-no-model');
  assert.match(asked.json.messages[1].content, /Is the answer correct and complete\?/);
  const line = await accessLineOf(sluice, r);
  assert.equal(line.attempts[0].check, 'judge');
  r = await post(`${sluice.url}/v1/chat/completions`, chat('j-yes'), AUTH);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['x-sluice-cascade-failed'], undefined);
  assert.equal(r.headers['x-sluice-model-group'], 'cheap-good');
  const before = (await judgeNo.stats()).requests;
  r = await post(`${sluice.url}/v1/chat/completions`, chat('j-broke'), AUTH);
  assert.equal(r.headers['x-sluice-model-group'], 'cheap-good', 'no budget: no judge, the answer passes');
  assert.equal((await judgeNo.stats()).requests, before);
});

test('/metrics counts the failed checks per cascade and check', async () => {
  await post(`${sluice.url}/v1/chat/completions`, chat('c-truncated'), AUTH);
  const m = await request(`${sluice.url}/metrics`);
  assert.equal(m.status, 200);
  const count = (router, check) => {
    const line = m.text.split('\n').find((l) => l.startsWith(`sluice_router_cascade_checks_failed_total{router="${router}",check="${check}"}`));
    return line ? Number(line.split(' ').pop()) : NaN;
  };
  assert.ok(count('c-refusal', 'refusal') >= 1, 'refusals counted');
  assert.ok(count('c-truncated', 'length') >= 1, 'truncations counted');
  assert.ok(count('j-no', 'judge') >= 1, 'judge verdicts counted');
  assert.equal(count('c-good', 'refusal'), 0, 'a cascade whose checks pass counts none');
});
