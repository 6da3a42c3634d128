// `sluice router convert routellm --responses` and `sluice router eval --cascade`: rows keep
// the weak model's GSM8K answers, and the cascade (the weak answer always made, escalated by
// its answer checks) is evaluated next to the prompt router: on data where the weak model's
// wrong answers show it (no "####", arithmetic that does not hold) the checks recover the gap
// with few strong calls. Rows without the answers are refused with a clear message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SLUICE_BIN, runCommand, cleanup, mkTmpDir } from './lib.mjs';

after(cleanup);

const dir = mkTmpDir('sluice-cascade-');
const p = (name) => path.join(dir, name);
const router = (...args) => runCommand(SLUICE_BIN, ['router', ...args], { timeoutMs: 60000 });
const W = 'mistralai/Mixtral-8x7B-Instruct-v0.1', S = 'gpt-4-1106-preview';
const q = (s) => `"${s.replace(/"/g, '""')}"`;

function gsm8kDir() {
  const d = p('routellm');
  fs.mkdirSync(path.join(d, 'mmlu_responses'), { recursive: true });
  fs.writeFileSync(path.join(d, 'mmlu_responses', 'mmlu_algebra.csv'), `prompt,${W},${S}\n"What is 2+2?",True,True\n`);
  let csv = `prompt,${W},${S},${W}_response,${S}_response\n`;
  for (let i = 0; i < 40; i++) {
    const a = 10 + i, b = 3 + (i % 5);
    const right = i % 3 !== 0; // a third wrong, and those answers show it
    const answer = right
      ? `He has ${a} - ${b} = <<${a}-${b}=${a - b}>>${a - b} apples.\n#### ${a - b}`
      : (i % 2 ? `He has ${a} - ${b} = ${a - b + 1} apples.\n#### ${a - b + 1}` : `He has ${a} apples and gives some away, so he has`);
    csv += `${q(`Tom has ${a} apples and gives ${b} away. How many are left? (${i})`)},${right ? 'True' : 'False'},True,${q(answer)},${q(`${a - b}`)}\n`;
  }
  fs.writeFileSync(path.join(d, 'gsm8k_responses.csv'), csv);
  for (const b of ['mmlu', 'gsm8k', 'mt_bench']) fs.writeFileSync(path.join(d, `${b}_contaminated_prompts.jsonl`), '');
  fs.writeFileSync(path.join(d, 'mt_bench_question.jsonl'), '');
  fs.writeFileSync(path.join(d, 'mt_bench_judgements.jsonl'), '');
  return d;
}

test('convert --responses keeps the weak answers; eval --cascade ranks by the answer checks', async () => {
  const d = gsm8kDir();
  let r = await router('convert', 'routellm', d, '--split', 'none', '--responses', '-o', p('all.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  const rows = fs.readFileSync(p('all.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const g = rows.filter((o) => o.source === 'gsm8k');
  assert.equal(g.length, 40);
  assert.match(g[1].weak_response, /#### 7$/);
  assert.ok(!('weak_response' in rows.find((o) => o.source.startsWith('mmlu/')))); // MMLU has none
  // without --responses the rows are as before
  r = await router('convert', 'routellm', d, '--split', 'none', '-o', p('plain.jsonl'));
  assert.ok(!fs.readFileSync(p('plain.jsonl'), 'utf8').includes('weak_response'));

  r = await router('eval', 'builtin', p('all.jsonl'), '--source', 'gsm8k', '--cascade', '--with-prompt-score');
  assert.equal(r.code, 0, r.stderr);
  const line = (name) => r.stdout.split('\n').find((l) => l.split(/\s+/)[0] === name);
  const cascade = line('cascade').split(/\s+/), oracle = line('oracle').split(/\s+/);
  assert.ok(line('cascade+p') && line('model') && line('random'));
  // every wrong weak answer is caught, so the cascade is the oracle here
  assert.equal(cascade[1], oracle[1], r.stdout);
  assert.ok(parseFloat(cascade[1]) < 25, r.stdout);
  assert.match(r.stdout, /as pass\/fail.*: 14 of 40 escalated \(35\.0% strong\), quality 1\.0000, PGR 1\.000/);
});

test('eval --cascade refuses rows without the weak answers', async () => {
  const d = gsm8kDir();
  let r = await router('convert', 'routellm', d, '--split', 'none', '-o', p('noresp.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  r = await router('eval', 'builtin', p('noresp.jsonl'), '--cascade');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /without "weak_response".*--responses/);
  // the plain eval is unchanged
  r = await router('eval', 'builtin', p('noresp.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('cascade'));
});
