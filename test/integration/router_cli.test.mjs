// `sluice router`: the learned router's commands, run for real. convert (RouteLLM files and
// pairwise preferences) -> train twice with the same seed gives identical bytes -> eval
// prints CPT(50%), CPT(80%) and APGR for the model, random and oracle, and the model beats
// random on data with a learnable signal -> calibrate prints the threshold for a share; a
// corrupt or truncated model file makes eval exit non-zero with a clear message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SLUICE_BIN, runCommand, cleanup, mkTmpDir } from './lib.mjs';

after(cleanup);

const dir = mkTmpDir('sluice-router-');
const p = (name) => path.join(dir, name);
const router = (...args) => runCommand(SLUICE_BIN, ['router', ...args], { timeoutMs: 60000 });

// A seeded data set with a signal: arithmetic prompts are where the weak model fails more.
function lcg(seed) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 4294967296);
}
function dataset(n, seed) {
  const r = lcg(seed);
  const nouns = ['river', 'castle', 'poem', 'planet', 'violin', 'garden', 'novel', 'bridge'];
  const rows = [];
  for (let i = 0; i < n; i++) {
    const maths = r() < 0.4;
    let prompt;
    if (maths) {
      const a = Math.floor(r() * 900), b = Math.floor(r() * 90);
      prompt = `A shop sells ${a} apples and buys ${b} more. If each costs $${b % 7 + 1}, how much money in dollars does it make? Compute ${a} * ${b} + ${a}.`;
    } else {
      prompt = `Which ${nouns[i % nouns.length]} is the most famous one?\nA. the first\nB. the second\nC. the third\nD. the fourth\nAnswer:`;
    }
    const strong = r() < (maths ? 0.9 : 0.85) ? 1 : 0;
    const weak = r() < (maths ? 0.3 : 0.8) ? 1 : 0;
    rows.push({ prompt, weak, strong });
  }
  return rows.map((o) => JSON.stringify(o)).join('\n') + '\n';
}

fs.writeFileSync(p('train.jsonl'), dataset(600, 1));
fs.writeFileSync(p('test.jsonl'), dataset(300, 2));

test('train is deterministic for a seed and eval prints the metrics', async () => {
  let r = await router('train', p('train.jsonl'), '-o', p('a.slrt'), '--seed', '7', '--hash-bits', '12');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cross-validated \(5 folds, 600 rows\): CPT\(50%\) [\d.]+%/);
  r = await router('train', p('train.jsonl'), '-o', p('b.slrt'), '--seed', '7', '--hash-bits', '12');
  assert.equal(r.code, 0, r.stderr);
  const a = fs.readFileSync(p('a.slrt')), b = fs.readFileSync(p('b.slrt'));
  assert.ok(a.length > 4096 * 8 && a.length < 2 * 1024 * 1024);
  assert.ok(a.equals(b), 'same data and seed: identical model files');

  r = await router('eval', p('a.slrt'), p('test.jsonl'), '--svg', p('curve.svg'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /CPT\(50%\)\s+CPT\(80%\)\s+APGR/);
  const line = (name) => r.stdout.split('\n').find((l) => new RegExp(`^${name}\\s+[\\d.]+%`).test(l));
  const cols = (l) => l.trim().split(/\s+/);
  const model = cols(line('model')), random = cols(line('random')), oracle = cols(line('oracle'));
  assert.deepEqual(random.slice(1), ['50.0%', '80.0%', '0.500']);
  const apgr = Number(model[3]);
  assert.ok(apgr > 0.6, `the model beats random on a learnable signal (APGR ${apgr})`);
  assert.ok(parseFloat(model[1]) < 40, `CPT(50%) ${model[1]}`);
  assert.ok(Number(oracle[3]) >= apgr);
  assert.match(r.stdout, /cost-quality curve/);
  assert.match(r.stdout, /\n\s+100% /);
  assert.match(fs.readFileSync(p('curve.svg'), 'utf8'), /^<svg [^]*<polyline[^]*<\/svg>\n$/);

  r = await router('info', p('a.slrt'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"cv":\{"folds":5,"n":600/);
});

test('calibrate prints the threshold that sends the share to strong', async () => {
  const prompts = ['What is 2 + 2?', 'Compute 345 * 12 + 7.', 'Name a famous castle.', 'Who wrote Hamlet?',
    'If a train goes 60 miles in 1.5 hours, what is its speed?', 'Which planet is red?',
    'Solve 3x + 5 = 20.', 'Translate hello into French.', 'A shop sells 40 apples for $3 each: revenue?',
    'Say hi.'];
  fs.writeFileSync(p('sample.txt'), prompts.join('\n') + '\n');
  const r = await router('calibrate', p('a.slrt'), '--prompts', p('sample.txt'), '--strong-share', '0.3');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^-?\d+\.\d{6}\n$/);
  assert.match(r.stderr, /sends 3 of 10 prompts \(30\.0%\) to strong/);
  const bad = await router('calibrate', p('a.slrt'), '--prompts', p('sample.txt'), '--strong-share', '1.5');
  assert.equal(bad.code, 2);
});

test('a corrupt or truncated model file: eval exits non-zero and says why', async () => {
  const good = fs.readFileSync(p('a.slrt'));
  const flipped = Buffer.from(good);
  flipped[1000] ^= 0x10;
  fs.writeFileSync(p('flipped.slrt'), flipped);
  let r = await router('eval', p('flipped.slrt'), p('test.jsonl'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /flipped\.slrt: router model: checksum mismatch/);
  fs.writeFileSync(p('short.slrt'), good.subarray(0, 30));
  r = await router('eval', p('short.slrt'), p('test.jsonl'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /too short for a model file/);
  fs.writeFileSync(p('text.slrt'), 'not a model at all, just some words in a file\n');
  r = await router('eval', p('text.slrt'), p('test.jsonl'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /router model: /);
  assert.equal(r.stdout, '');
});

test('bad training rows are refused with the line', async () => {
  fs.writeFileSync(p('bad.jsonl'), '{"prompt":"a","weak":0,"strong":1}\n{"prompt":"b","weak":2,"strong":1}\n');
  const r = await router('train', p('bad.jsonl'), '-o', p('bad.slrt'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.jsonl:2: "weak" and "strong" must be numbers in \[0, 1\]/);
  assert.ok(!fs.existsSync(p('bad.slrt')));
});

test('the built-in model evaluates', async () => {
  const r = await router('eval', 'builtin', p('test.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^model [0-9a-f]{12} on test\.jsonl: 300 rows/);
});

test('convert pairwise: wins and ties into qualities', async () => {
  fs.writeFileSync(p('pairs.jsonl'), [
    { prompt: 'p1', winner: 'strong' }, { prompt: 'p2', winner: 'weak' }, { prompt: 'p3', winner: 'tie' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  let r = await router('convert', 'pairwise', p('pairs.jsonl'), '-o', p('pairs_q.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  const rows = fs.readFileSync(p('pairs_q.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows, [
    { prompt: 'p1', weak: 0, strong: 1 }, { prompt: 'p2', weak: 1, strong: 0 }, { prompt: 'p3', weak: 0.5, strong: 0.5 },
  ]);
  fs.writeFileSync(p('pairs_bad.jsonl'), '{"prompt":"x","winner":"both"}\n');
  r = await router('convert', 'pairwise', p('pairs_bad.jsonl'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /pairs_bad\.jsonl:1: need "prompt" and "winner"/);
});

test('convert routellm: CSV with multi-line fields, contaminated prompts excluded, splits disjoint', async () => {
  const d = p('routellm');
  fs.mkdirSync(path.join(d, 'mmlu_responses'), { recursive: true });
  const W = 'mistralai/Mixtral-8x7B-Instruct-v0.1', S = 'gpt-4-1106-preview';
  for (const subj of ['algebra', 'history', 'law', 'music']) {
    let csv = `prompt,${W},${S}\n`;
    for (let i = 0; i < 5; i++)
      csv += `"${subj} question ${i} with ""quotes"", commas\nA. one\nB. two\nAnswer:",${i % 2 ? 'True' : 'False'},True\n`;
    fs.writeFileSync(path.join(d, 'mmlu_responses', `mmlu_${subj}.csv`), csv);
  }
  fs.writeFileSync(path.join(d, 'gsm8k_responses.csv'),
    `prompt,${W},${S},${W}_response,${S}_response\n` +
    `Tom has 3 apples.,True,True,"He has\n3.","3"\nAnn has 5 pears.,False,True,"x","5"\n`);
  fs.writeFileSync(path.join(d, 'mt_bench_question.jsonl'),
    JSON.stringify({ question_id: 81, category: 'writing', turns: ['Write a poem.', 'Shorter.'] }) + '\n');
  fs.writeFileSync(path.join(d, 'mt_bench_judgements.jsonl'), [
    { question_id: '81', model: W, score: '6', turn: '1' }, { question_id: '81', model: W, score: '8', turn: '2' },
    { question_id: '81', model: S, score: '9', turn: '1' }, { question_id: '81', model: S, score: '-1', turn: '2' },
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  const contaminated = (t) => JSON.stringify({ train_prompt: t, eval_prompt: t, train_idx: '1', eval_idx: '0' }) + '\n';
  fs.writeFileSync(path.join(d, 'mmlu_contaminated_prompts.jsonl'),
    contaminated('law question 2 with "quotes", commas\nA. one\nB. two\nAnswer:'));
  fs.writeFileSync(path.join(d, 'gsm8k_contaminated_prompts.jsonl'), contaminated('Ann has 5 pears.'));
  fs.writeFileSync(path.join(d, 'mt_bench_contaminated_prompts.jsonl'), contaminated('nothing like it'));

  let r = await router('convert', 'routellm', d, '--split', 'none', '-o', p('all.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /21 rows \(2 contaminated prompts excluded\)/);
  const all = fs.readFileSync(p('all.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(all.length, 21);
  assert.deepEqual(all[0], { prompt: 'algebra question 0 with "quotes", commas\nA. one\nB. two\nAnswer:',
    weak: 0, strong: 1, source: 'mmlu/algebra' });
  assert.ok(!all.some((o) => o.prompt.startsWith('law question 2') || o.prompt === 'Ann has 5 pears.'));
  assert.deepEqual(all.find((o) => o.source === 'gsm8k'), { prompt: 'Tom has 3 apples.', weak: 1, strong: 1, source: 'gsm8k' });
  assert.deepEqual(all.find((o) => o.source === 'mt_bench/writing'),
    { prompt: 'Write a poem.', weak: 0.7, strong: 0.9, source: 'mt_bench/writing' });

  for (const split of ['random', 'subjects', 'cross', 'cross-gsm8k']) {
    r = await router('convert', 'routellm', d, '--split', split, '--seed', '3', '-o', p('tr.jsonl'), '--test', p('te.jsonl'));
    assert.equal(r.code, 0, r.stderr);
    const tr = fs.readFileSync(p('tr.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const te = fs.readFileSync(p('te.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const trp = new Set(tr.map((o) => o.prompt));
    assert.ok(te.length > 0 && !te.some((o) => trp.has(o.prompt)), `${split}: disjoint`);
    if (split === 'subjects') {
      const trs = new Set(tr.map((o) => o.source));
      assert.ok(te.every((o) => o.source.startsWith('mmlu/') && !trs.has(o.source)));
    }
    if (split === 'cross') assert.ok(tr.every((o) => o.source.startsWith('mmlu/')) && te.every((o) => o.source === 'gsm8k'));
    if (split === 'cross-gsm8k') assert.ok(tr.every((o) => o.source === 'gsm8k') && te.every((o) => o.source.startsWith('mmlu/')));
  }
});

test('eval on logged decisions: rows with a score and no prompt (shadow mode) are scored as logged', async () => {
  // 200 logged decisions: the strong model is right where the logged score is high, the
  // weak one everywhere but there; so routing by the logged score recovers the gap at once
  // and the reversed scores do worst. The model file is not consulted for such rows.
  const good = [], reversed = [];
  for (let i = 0; i < 200; i++) {
    const hard = i % 4 === 0;
    const score = hard ? 0.5 + i / 1000 : -0.5 + i / 1000;
    good.push(JSON.stringify({ score, weak: hard ? 0 : 1, strong: 1 }));
    reversed.push(JSON.stringify({ score: -score, weak: hard ? 0 : 1, strong: 1 }));
  }
  fs.writeFileSync(p('logged.jsonl'), good.join('\n') + '\n');
  fs.writeFileSync(p('logged_rev.jsonl'), reversed.join('\n') + '\n');
  const cpt = (out) => parseFloat(out.split('\n').find((l) => /^model\s+[\d.]+%/.test(l)).trim().split(/\s+/)[1]);
  let r = await router('eval', 'builtin', p('logged.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(cpt(r.stdout) <= 25, `logged scores route the hard quarter first: ${r.stdout}`);
  r = await router('eval', 'builtin', p('logged_rev.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(cpt(r.stdout) >= 75, `reversed scores route them last: ${r.stdout}`);
  // training needs the prompts
  r = await router('train', p('logged.jsonl'), '-o', p('x.slrt'));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /has a score and no prompt: training needs the prompts/);
});
