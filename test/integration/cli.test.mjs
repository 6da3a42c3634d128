// The command line: `sluice check FILE` exits 0 for a valid LiteLLM-style config and 2 for
// an invalid one, with a message naming the file, the YAML line and the key path; unknown
// keys under sluice_settings are errors (sluice's own namespace), unknown LiteLLM keys are
// warnings; `sluice --config` with an invalid config exits 2 without serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SLUICE_BIN, runCommand, cleanup, mkTmpDir } from './lib.mjs';

after(cleanup);

const dir = mkTmpDir('sluice-cli-');
function write(name, text) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}
const check = (file, env) => runCommand(SLUICE_BIN, ['check', file], { env });

const VALID = `# a LiteLLM proxy config
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:9/v1
      api_key: os.environ/SLUICE_CLI_TEST_KEY
      timeout: 30
      rpm: 100
      tpm: 100000
      max_retries: 2
    model_info:
      id: dep-a
      input_cost_per_token: 0.00000015
      output_cost_per_token: 0.0000006
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: https://api.example.com/v1
      api_key: sk-b
general_settings:
  master_key: sk-1234
sluice_settings:
  workers: 2
  max_body_bytes: 1048576
  max_header_bytes: 16384
  header_timeout: 1s
  body_timeout: 500ms
  keepalive_timeout: 75s
  drain_timeout: 2s
  connect_timeout: 1s
`;

/** Asserts exit 2 and a stderr message naming the key path and the line. */
async function assertInvalid(file, keyPath, line) {
  const r = await check(file);
  assert.equal(r.code, 2, `exit code for ${keyPath}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(r.stderr.includes(keyPath), `stderr names ${keyPath}:\n${r.stderr}`);
  if (line !== undefined) {
    assert.match(r.stderr, new RegExp(`${path.basename(file).replace('.', '\\.')}:${line}\\b`), `stderr names line ${line}:\n${r.stderr}`);
  }
  return r;
}

test('check: a valid config exits 0', async () => {
  const r = await check(write('valid.yaml', VALID), { SLUICE_CLI_TEST_KEY: 'sk-env' });
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
});

test('check: an invalid value exits 2 naming key path and line', async () => {
  const f = write('bad-rpm.yaml', `model_list:
  - model_name: demo
    litellm_params:
      model: openai/mock-model
      rpm: ten
`);
  const r = await assertInvalid(f, 'model_list[0].litellm_params.rpm', 5);
  assert.match(r.stderr, /ten/);
});

test('check: an unknown sluice_settings key exits 2', async () => {
  const f = write('unknown-key.yaml', `model_list:
  - model_name: demo
    litellm_params:
      model: openai/mock-model
      api_base: http://127.0.0.1:9/v1
sluice_settings:
  workers: 2
  max_body_byte: 100
`);
  await assertInvalid(f, 'sluice_settings.max_body_byte', 8);
});

test('check: a bad duration exits 2', async () => {
  const f = write('bad-duration.yaml', `model_list:
  - model_name: demo
    litellm_params: {model: openai/mock-model, api_base: "http://127.0.0.1:9/v1"}
sluice_settings:
  header_timeout: soon
`);
  await assertInvalid(f, 'sluice_settings.header_timeout', 5);
});

test('check: a negative worker count exits 2', async () => {
  const f = write('bad-workers.yaml', `model_list:
  - model_name: demo
    litellm_params: {model: openai/mock-model, api_base: "http://127.0.0.1:9/v1"}
sluice_settings:
  workers: -1
`);
  await assertInvalid(f, 'sluice_settings.workers', 5);
});

test('check: a deployment without model_name exits 2', async () => {
  const f = write('no-name.yaml', `model_list:
  - model_name: ok
    litellm_params: {model: openai/a, api_base: "http://127.0.0.1:9/v1"}
  - litellm_params: {model: openai/b, api_base: "http://127.0.0.1:9/v1"}
`);
  await assertInvalid(f, 'model_list[1]');
});

test('check: a YAML syntax error exits 2 naming the line', async () => {
  const f = write('syntax.yaml', 'model_list:\n  - model_name: demo\n    litellm_params: [unclosed\n');
  const r = await check(f);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /syntax\.yaml:\d+/);
});

test('check: a missing file fails naming the file', async () => {
  const r = await check(path.join(dir, 'does-not-exist.yaml'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does-not-exist\.yaml/);
});

test('check: unknown LiteLLM keys are warnings, not errors', async () => {
  const f = write('litellm-extra.yaml', `model_list:
  - model_name: demo
    litellm_params: {model: openai/mock-model, api_base: "http://127.0.0.1:9/v1"}
litellm_settings:
  some_future_setting: 3
`);
  const r = await check(f);
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /litellm_settings\.some_future_setting/);
});

test('serve: an invalid config stops startup with exit 2 before serving', async () => {
  const f = write('serve-bad.yaml', `model_list:
  - model_name: demo
    litellm_params:
      model: openai/mock-model
      rpm: ten
`);
  const r = await runCommand(SLUICE_BIN, ['--config', f, '--host', '127.0.0.1', '--port', '0', '--workers', '1']);
  assert.equal(r.code, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(!r.stdout.includes('"ready"'), 'never became ready');
  assert.match(r.stderr, /model_list\[0\]\.litellm_params\.rpm/);
});
