// LiteLLM config keys that used to be ignored and now mean what they mean in LiteLLM
// (router_settings.stream_timeout, litellm_settings.max_budget), a provider key variable
// taken for a deployment with its own api_base (ANTHROPIC_API_KEY), the warning that
// names a missing key variable, no secret in what `sluice check` prints, and a data
// directory that only its owner can read (it holds cached prompts and answers).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  SLUICE_BIN, runCommand, startMock, startSluice, cleanup, mkTmpDir, sluiceConfig, assertOpenAIError, pollUntil,
} from './lib.mjs';
import { startScriptedUpstream, anthMessage } from './providers_lib.mjs';
import { MASTER, pricedConfig, chat, call } from './keys_lib.mjs';

after(cleanup);

const dir = mkTmpDir('sluice-cfgcompat-');
const write = (name, text) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

test('check: LiteLLM keys are read, a missing key variable is named, no secret is printed', async () => {
  const secret = 'AIzaSECRET-query-value-0123';
  const ok = write('ok.yaml', `model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-haiku
      api_base: http://127.0.0.1:9
router_settings:
  stream_timeout: 30
litellm_settings:
  max_budget: 100
  budget_duration: 30d
`);
  const env = { ANTHROPIC_API_KEY: '' };
  const r = await runCommand(SLUICE_BIN, ['check', ok], { env });
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, out);
  for (const k of ['stream_timeout', 'max_budget', 'budget_duration'])
    assert.ok(!new RegExp(`${k}[^\\n]*ignored`).test(out), `${k} is not ignored:\n${out}`);
  assert.match(out, /model_list\[0\]\.litellm_params\.api_key: not set and ANTHROPIC_API_KEY is not set/, out);
  const withKey = await runCommand(SLUICE_BIN, ['check', ok], { env: { ANTHROPIC_API_KEY: 'sk-ant-x' } });
  assert.ok(!(withKey.stdout + withKey.stderr).includes('ANTHROPIC_API_KEY'), withKey.stderr);

  const leaky = write('leaky.yaml', `model_list:
  - model_name: g
    litellm_params:
      model: gemini/gemini-2.0-flash
      api_base: "https://generativelanguage.googleapis.com/v1beta/openai?key=${secret}&alt=sse"
      api_key: sk-whatever
`);
  const l = await runCommand(SLUICE_BIN, ['check', leaky]);
  const lout = l.stdout + l.stderr;
  assert.equal(l.code, 2, lout);
  assert.ok(lout.includes('model_list[0].litellm_params.api_base'), lout);
  assert.ok(!lout.includes(secret), `the query secret is not printed:\n${lout}`);
  assert.ok(lout.includes('key=REDACTED'), lout);

  const both = write('both.yaml', `model_list:
  - model_name: m
    litellm_params: {model: openai/x, api_base: "http://127.0.0.1:9/v1", api_key: k}
general_settings: {max_budget: 5}
litellm_settings: {max_budget: 6}
`);
  const b = await runCommand(SLUICE_BIN, ['check', both]);
  assert.equal(b.code, 2, b.stdout + b.stderr);
  assert.match(b.stderr, /litellm_settings\.max_budget: also set in general_settings\.max_budget/);
});

test('a custom api_base for anthropic takes ANTHROPIC_API_KEY when api_key is absent', async () => {
  const up = await startScriptedUpstream(() => ({ body: anthMessage({ content: [{ type: 'text', text: 'hi' }] }) }));
  const yaml = sluiceConfig({ groups: { claude: { api_base: up.url, model: 'anthropic/claude-x', api_key: null } } });
  const s = await startSluice({ yaml, env: { ANTHROPIC_API_KEY: 'sk-ant-from-env-42' } });
  const r = await call(s.url, '/v1/chat/completions', { body: { model: 'claude', messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal(r.status, 200, r.text);
  const rec = up.on('/v1/messages');
  assert.equal(rec.length, 1, JSON.stringify(up.requests.map((x) => x.path)));
  assert.equal(rec[0].headers['x-api-key'], 'sk-ant-from-env-42');
  assert.equal(await s.stop(), 0);
  await up.close();
});

test('router_settings.stream_timeout ends a stream whose upstream never answers', async () => {
  const held = [];
  const up = await startScriptedUpstream((rec) => new Promise((resolve) => {
    if (rec.json?.stream) { held.push(resolve); return; } // never answered (until the end)
    resolve({ body: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] } });
  }));
  const yaml = sluiceConfig({
    groups: { m: { api_base: `${up.url}/v1` } },
    extra: { router_settings: { stream_timeout: 1, num_retries: 0 } },
  });
  const s = await startSluice({ yaml });
  const t0 = Date.now();
  const r = await call(s.url, '/v1/chat/completions', {
    body: { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }, timeoutMs: 20000,
  });
  assert.equal(r.status, 504, `a timeout, not a hang: ${r.status} ${r.text}`);
  assertOpenAIError(r.text, { code: 'upstream_timeout' });
  assert.ok(Date.now() - t0 < 15000, `ended by stream_timeout (1s), not by the 600s timeout: ${Date.now() - t0}ms`);
  const whole = await call(s.url, '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
  assert.equal(whole.status, 200, `a non-stream request is not bound by stream_timeout: ${whole.text}`);
  for (const h of held) h({ status: 500, body: {} });
  assert.equal(await s.stop(), 0);
  await up.close();
});

test('litellm_settings.max_budget caps the whole gateway', async () => {
  const mock = await startMock();
  const yaml = pricedConfig({ m: { port: mock.port } }, { extra: { litellm_settings: { max_budget: 0.000001 } } });
  const s = await startSluice({ yaml });
  const first = await chat(s.url, MASTER, 'm');
  assert.equal(first.status, 200, first.text);
  assert.ok(first.cost > 1, `the first request costs more than the budget: ${first.cost}`);
  const second = await pollUntil(async () => {
    const r = await chat(s.url, MASTER, 'm');
    return r.status === 429 ? r : null;
  }, { timeoutMs: 5000, intervalMs: 50, what: 'the gateway budget to refuse' });
  assertOpenAIError(second.text, { code: 'budget_exceeded', messageIncludes: 'the gateway' });
  assert.equal(await s.stop(), 0);
  await mock.stop();
});

test('the data directory is 0700 and its files 0600', async () => {
  const mock = await startMock();
  const yaml = pricedConfig({ m: { port: mock.port } }, { extra: { litellm_settings: { cache: true } } });
  const s = await startSluice({ yaml });
  const r = await chat(s.url, MASTER, 'm');
  assert.equal(r.status, 200, r.text);
  const data = path.join(s.dir, 'data');
  await pollUntil(() => fs.existsSync(path.join(data, 'data.mdb')), { timeoutMs: 5000, what: 'data.mdb' });
  assert.equal(fs.statSync(data).mode & 0o777, 0o700, 'the data directory');
  for (const f of fs.readdirSync(data)) {
    const st = fs.statSync(path.join(data, f));
    if (st.isFile()) assert.equal(st.mode & 0o077, 0, `${f} is not readable by others: ${(st.mode & 0o777).toString(8)}`);
  }
  assert.equal(await s.stop(), 0);
  await mock.stop();
});
