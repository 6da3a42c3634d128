// Request bodies are parsed bounded: a pre-scan counts JSON values and nesting depth before
// any tree is built (sluice_settings.max_json_values, default 500000 -> 413;
// sluice_settings.max_json_depth, default 64 -> 400), so a body of millions of tiny values
// cannot make a worker allocate hundreds of MB. Errors are OpenAI-shaped, Anthropic-shaped
// on /v1/messages, and the worker keeps serving.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startSluice, sluiceConfig, post, assertOpenAIError, chatBody, stopSluiceAndMock } from './lib.mjs';

const MASTER = 'sk-json';
const AUTH = { authorization: `Bearer ${MASTER}` };
let mock;
let sluice;

before(async () => {
  mock = await startMock(['--seed', '3', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1']);
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: { m: { port: mock.port, model: 'openai/mock-model', api_key: 'sk-up' } },
      masterKey: MASTER,
    }),
    workers: 1,
  });
});

await stopSluiceAndMock(() => ({ sluice, mock }));

/** A chat body with an extra field holding `n` zeros (n + 6 values in all). */
function zeros(n, model = 'm') {
  const head = JSON.stringify(chatBody(model)).slice(0, -1);
  return `${head},"x":[${'0,'.repeat(n - 1)}0]}`;
}
const nested = (depth) => {
  const head = JSON.stringify(chatBody('m')).slice(0, -1);
  return `${head},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
};

test('a body within the default limits is served', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, zeros(10000), AUTH);
  assert.equal(r.status, 200, r.text.slice(0, 500));
  const d = await post(`${sluice.url}/v1/chat/completions`, nested(62), AUTH); // 62 + the top object
  assert.equal(d.status, 200, d.text.slice(0, 500));
});

test('more than max_json_values values: 413 json_too_many_values', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, zeros(600000), AUTH, { timeoutMs: 20000 });
  assert.equal(r.status, 413, r.text.slice(0, 500));
  assertOpenAIError(r.text, { code: 'json_too_many_values', messageIncludes: ['500000', 'max_json_values'] });
});

test('deeper than max_json_depth: 400 json_too_deep', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, nested(64), AUTH);
  assert.equal(r.status, 400, r.text.slice(0, 500));
  assertOpenAIError(r.text, { code: 'json_too_deep', type: 'invalid_request_error', messageIncludes: ['64'] });
});

test('on /v1/messages the errors are Anthropic-shaped', async () => {
  const body = `{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"x":[${'0,'.repeat(599999)}0]}`;
  const r = await post(`${sluice.url}/v1/messages`, body, AUTH, { timeoutMs: 20000 });
  assert.equal(r.status, 413, r.text.slice(0, 500));
  const j = r.json();
  assert.equal(j.type, 'error', r.text);
  assert.equal(typeof j.error?.type, 'string', r.text);
  assert.match(j.error.message, /max_json_values/);
  const d = await post(`${sluice.url}/v1/messages`,
    `{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(70)}${']'.repeat(70)}}`,
    AUTH);
  assert.equal(d.status, 400, d.text.slice(0, 500));
  assert.equal(d.json().type, 'error');
  assert.match(d.json().error.message, /max_json_depth/);
});

test('the worker keeps serving after refused bodies', async () => {
  const r = await post(`${sluice.url}/v1/chat/completions`, chatBody('m'), AUTH);
  assert.equal(r.status, 200, r.text.slice(0, 500));
});
