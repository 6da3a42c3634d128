// Issue 18's "done when": a LiteLLM config, written as LiteLLM users write it (credentials
// through os.environ/, router_settings, litellm_settings keys sluice ignores), with a Bedrock
// deployment, a Vertex AI deployment and an `openai/*` wildcard next to each other and a group
// that fails over from Bedrock to OpenAI. `sluice check` accepts it; sluice starts with it and
// serves every name through the official `openai` and `@anthropic-ai/sdk` clients, streaming
// included. sluice-mock plays Bedrock (SigV4 checked), Vertex (JWT-checked token exchange,
// Bearer-checked routes) and OpenAI on one port each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, cleanup, mkTmpDir, runCommand, SLUICE_BIN } from './lib.mjs';
import { makeServiceAccount } from './cloud_lib.mjs';

const AK = 'AKIDLITELLMEXAMPLE';
const SK = 'litellm-test-secret-not-real';
const FLAGS = ['--seed', '18', '--tokens', '5', '--ttft-ms', '0', '--itl-ms', '0', '--latency-ms', '0'];
let dir, cfgFile, env, br, vx, oai, down, sluice, client, anth;

before(async () => {
  dir = mkTmpDir('cloud-litellm-');
  const sa = makeServiceAccount({ clientEmail: 'router@litellm-proj.iam.gserviceaccount.com', projectId: 'litellm-proj' });
  const pub = path.join(dir, 'sa.pub.pem');
  fs.writeFileSync(pub, sa.publicKeyPem);
  [br, vx, oai, down] = await Promise.all([
    startMock([...FLAGS, '--aws-access-key-id', AK, '--aws-secret-access-key', SK, '--aws-region', 'us-west-2']),
    startMock([...FLAGS, '--gcp-public-key', pub, '--gcp-client-email', sa.clientEmail]),
    startMock(FLAGS),
    startMock([...FLAGS, '--aws-access-key-id', AK, '--aws-secret-access-key', SK, '--p-500', '1']),
  ]);
  const keyFile = path.join(dir, 'vertex-sa.json');
  fs.writeFileSync(keyFile, JSON.stringify({ ...JSON.parse(sa.json), token_uri: `${vx.url}/token` }));
  env = {
    AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_REGION_NAME: 'us-west-2',
    VERTEX_PROJECT: 'litellm-proj', VERTEX_CREDS: keyFile, OPENAI_API_KEY: 'sk-openai-fake',
  };
  cfgFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfgFile, `# a LiteLLM proxy config
model_list:
  - model_name: claude-3-5-sonnet
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/AWS_REGION_NAME
      api_base: ${br.url}
  - model_name: gemini-2.0-flash
    litellm_params:
      model: vertex_ai/gemini-2.0-flash
      vertex_project: os.environ/VERTEX_PROJECT
      vertex_location: us-central1
      vertex_credentials: os.environ/VERTEX_CREDS
      api_base: ${vx.url}
  - model_name: "openai/*"
    litellm_params:
      model: "openai/*"
      api_key: os.environ/OPENAI_API_KEY
      api_base: ${oai.url}/v1
  - model_name: resilient
    litellm_params:
      model: bedrock/converse/meta.llama3-1-70b-instruct-v1:0
      aws_region_name: us-west-2
      api_base: ${down.url}
      order: 1
  - model_name: resilient
    litellm_params:
      model: openai/gpt-4o-mini
      api_key: os.environ/OPENAI_API_KEY
      api_base: ${oai.url}/v1
      order: 2
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 1
  allowed_fails: 100
litellm_settings:
  drop_params: true
  set_verbose: false
general_settings:
  master_key: sk-1234
`);
  sluice = await startSluice({ yaml: fs.readFileSync(cfgFile, 'utf8'), env, workers: 2 });
  client = new OpenAI({ apiKey: 'sk-1234', baseURL: `${sluice.url}/v1`, maxRetries: 0, timeout: 15000 });
  anth = new Anthropic({ apiKey: 'sk-1234', baseURL: sluice.url, maxRetries: 0, timeout: 15000 });
});

after(async () => {
  try {
    if (sluice && !sluice.exited) await sluice.stop();
    for (const m of [br, vx, oai, down]) if (m && !m.exited) await m.stop();
  } finally {
    await cleanup();
  }
});

const msgs = [{ role: 'user', content: 'Say five words' }];

async function oaiStream(model) {
  const s = await client.chat.completions.create({ model, messages: msgs, stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const ch of s) {
    text += ch.choices[0]?.delta?.content ?? '';
    finish = ch.choices[0]?.finish_reason ?? finish;
    usage = ch.usage ?? usage;
  }
  return { text, finish, usage };
}

test('sluice check accepts the LiteLLM config (Bedrock, Vertex AI, a wildcard, a failover group)', async () => {
  const r = await runCommand(SLUICE_BIN, ['check', cfgFile], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(5 deployments\)/);
});

test('the openai SDK, plain and streaming, to every kind of deployment', async () => {
  for (const model of ['claude-3-5-sonnet', 'gemini-2.0-flash', 'openai/gpt-4o-mini']) {
    const r = await client.chat.completions.create({ model, messages: msgs });
    assert.equal(r.choices[0].message.content.split(' ').length, 5, model);
    assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens === 5, `${model}: ${JSON.stringify(r.usage)}`);
    const s = await oaiStream(model);
    assert.equal(s.text.split(' ').length, 5, model);
    assert.equal(s.finish, 'stop', model);
    assert.equal(s.usage?.completion_tokens, 5, model);
  }
  // each provider saw its own protocol
  const b = (await br.stats()).last.map((e) => e.path);
  assert.ok(b.includes('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse'), JSON.stringify(b));
  assert.ok(b.includes('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream'), JSON.stringify(b));
  const v = (await vx.stats()).last.map((e) => e.path);
  assert.ok(v.includes('/token') && v.includes('/v1/projects/litellm-proj/locations/us-central1/endpoints/openapi/chat/completions'),
    JSON.stringify(v));
  const o = (await oai.stats()).last.map((e) => JSON.parse(e.body || '{}').model);
  assert.ok(o.includes('gpt-4o-mini'), JSON.stringify(o)); // the wildcard's part after openai/
});

test('the Anthropic SDK, plain and streaming, to Bedrock and to the wildcard', async () => {
  for (const model of ['claude-3-5-sonnet', 'openai/gpt-4o-mini']) {
    const m = await anth.messages.create({ model, max_tokens: 64, messages: msgs });
    assert.equal(m.type, 'message', model);
    assert.equal(m.content[0].text.split(' ').length, 5, model);
    assert.equal(m.stop_reason, 'end_turn', model);
    const stream = anth.messages.stream({ model, max_tokens: 64, messages: msgs });
    let text = '';
    stream.on('text', (t) => { text += t; });
    const fin = await stream.finalMessage();
    assert.equal(text.split(' ').length, 5, model);
    assert.equal(fin.usage.output_tokens, 5, model);
  }
});

test('a group that fails over from a failing Bedrock deployment to OpenAI, streaming', async () => {
  const before = (await down.stats()).requests;
  const s = await oaiStream('resilient');
  assert.equal(s.text.split(' ').length, 5);
  assert.equal(s.finish, 'stop');
  assert.ok((await down.stats()).requests > before, 'the Bedrock deployment was tried first (order 1)');
});

test('/v1/models lists the concrete groups and the wildcard', async () => {
  const ids = (await client.models.list()).data.map((m) => m.id);
  for (const id of ['claude-3-5-sonnet', 'gemini-2.0-flash', 'resilient']) assert.ok(ids.includes(id), JSON.stringify(ids));
  assert.ok(ids.some((id) => id.startsWith('openai/')), JSON.stringify(ids));
});
