// A strict parser of the Prometheus text exposition format 0.0.4, shared by the metrics
// tests (metrics.test.mjs, metrics_names.test.mjs): every line checked (comments, names,
// labels and escaping, values, family grouping, histogram buckets cumulative up to +Inf
// == _count, no duplicate series, counters non-negative and named *_total). To check a
// new rule: add it to parseExposition and a line that breaks it to the parser's own test
// in metrics.test.mjs.
import assert from 'node:assert/strict';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseFloatStrict(s, where) {
  if (!FLOAT.test(s)) throw new Error(`${where}: bad float '${s}'`);
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

/** Parses the text exposition format 0.0.4 strictly: throws on the first line that breaks
 *  the grammar or the family rules. Stricter than the spec where sluice has no reason to
 *  differ: single spaces between tokens, no trailing blanks, every sample announced by a
 *  # TYPE line, counters named *_total. Returns Map(family -> {type, help, samples}). */
export function parseExposition(text) {
  if (text.length && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  if (text.includes('\r')) throw new Error('carriage return in exposition');
  const families = new Map();
  const closed = new Set(); // families whose samples ended (samples must be contiguous)
  const seriesSeen = new Set();
  let current = null;
  const lines = text.split('\n');
  lines.pop();
  const fam = (name) => {
    if (!families.has(name)) families.set(name, { name, type: undefined, help: undefined, samples: [] });
    return families.get(name);
  };
  // Which family a sample name belongs to (histogram/summary suffixes).
  const familyOf = (name) => {
    for (const [suffix, types] of [['_bucket', ['histogram']], ['_sum', ['histogram', 'summary']], ['_count', ['histogram', 'summary']]]) {
      if (name.endsWith(suffix)) {
        const base = name.slice(0, -suffix.length);
        const f = families.get(base);
        if (f && types.includes(f.type)) return f;
      }
    }
    return families.get(name);
  };
  lines.forEach((line, i) => {
    const where = `line ${i + 1} '${line.slice(0, 160)}'`;
    if (line === '') return; // the spec ignores empty lines
    if (/[ \t]$/.test(line)) throw new Error(`${where}: trailing blank`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line.split(/\s+/)[1]} line`);
        return; // a plain comment
      }
      const [, kind, name, rest] = m;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
      const f = fam(name);
      if (closed.has(name) || f.samples.length) throw new Error(`${where}: ${kind} after the samples of ${name}`);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        const doc = rest ?? '';
        if (/\\(?![\\n])/.test(doc.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = doc.replace(/\\(\\|n)/g, (_, c) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type '${rest}'`);
        f.type = rest;
      }
      return;
    }
    // name [{labels}] value [timestamp]
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) throw new Error(`${where}: no metric name`);
    const name = nm[0];
    let p = name.length;
    const labels = {};
    if (line[p] === '{') {
      p++;
      for (;;) {
        if (line[p] === '}') { p++; break; }
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(p));
        if (!ln) throw new Error(`${where}: bad label name at column ${p + 1}`);
        const lname = ln[0];
        if (!LABEL_NAME.test(lname) || lname.startsWith('__')) throw new Error(`${where}: reserved or bad label name '${lname}'`);
        if (lname in labels) throw new Error(`${where}: duplicate label '${lname}'`);
        p += lname.length;
        if (line[p] !== '=' || line[p + 1] !== '"') throw new Error(`${where}: expected ="..." after ${lname}`);
        p += 2;
        let v = '';
        for (;;) {
          if (p >= line.length) throw new Error(`${where}: unterminated label value`);
          const c = line[p];
          if (c === '"') { p++; break; }
          if (c === '\\') {
            const e = line[p + 1];
            if (e === '\\') v += '\\';
            else if (e === '"') v += '"';
            else if (e === 'n') v += '\n';
            else throw new Error(`${where}: bad escape '\\${e ?? ''}' in label value`);
            p += 2;
            continue;
          }
          v += c;
          p++;
        }
        labels[lname] = v;
        if (line[p] === ',') { p++; continue; }
        if (line[p] === '}') { p++; break; }
        throw new Error(`${where}: expected , or } at column ${p + 1}`);
      }
    }
    if (line[p] !== ' ') throw new Error(`${where}: expected one space before the value`);
    const parts = line.slice(p + 1).split(' ');
    if (parts.length > 2 || parts.some((x) => x === '')) throw new Error(`${where}: expected value [timestamp]`);
    const value = parseFloatStrict(parts[0], where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp '${parts[1]}'`);
    const f = familyOf(name);
    if (!f || f.type === undefined) throw new Error(`${where}: sample without a # TYPE line for its family`);
    if (closed.has(f.name)) throw new Error(`${where}: samples of ${f.name} are not contiguous`);
    if (current && current !== f) closed.add(current.name);
    current = f;
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(key)) throw new Error(`${where}: duplicate series`);
    seriesSeen.add(key);
    if (f.type === 'counter') {
      if (!name.endsWith('_total')) throw new Error(`${where}: counter not named *_total`);
      if (!(value >= 0)) throw new Error(`${where}: counter value ${parts[0]} is not a non-negative number`);
    }
    if (f.type === 'histogram') {
      if (name === f.name) throw new Error(`${where}: histogram sample without _bucket/_sum/_count`);
      if (name.endsWith('_bucket') !== ('le' in labels)) throw new Error(`${where}: le label belongs on _bucket samples only`);
      if ('le' in labels) parseFloatStrict(labels.le, `${where} le`);
    }
    f.samples.push({ name, labels, value, line: i + 1 });
  });
  // Histograms: per label set, le ascending, cumulative counts non-decreasing, +Inf == _count, _sum present.
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    const sets = new Map();
    const keyOf = (l) => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort());
    const get = (l) => {
      const k = keyOf(l);
      if (!sets.has(k)) sets.set(k, { buckets: [], sum: undefined, count: undefined });
      return sets.get(k);
    };
    for (const s of f.samples) {
      const h = get(s.labels);
      if (s.name.endsWith('_bucket')) h.buckets.push({ le: parseFloatStrict(s.labels.le, 'le'), v: s.value });
      else if (s.name.endsWith('_sum')) h.sum = s.value;
      else h.count = s.value;
    }
    for (const [k, h] of sets) {
      const where = `histogram ${f.name}${k}`;
      if (!h.buckets.length) throw new Error(`${where}: no buckets`);
      for (let i = 1; i < h.buckets.length; i++) {
        if (!(h.buckets[i].le > h.buckets[i - 1].le)) throw new Error(`${where}: le not ascending`);
        if (h.buckets[i].v < h.buckets[i - 1].v) throw new Error(`${where}: bucket counts decrease`);
      }
      const last = h.buckets[h.buckets.length - 1];
      if (last.le !== Infinity) throw new Error(`${where}: no +Inf bucket`);
      if (h.count === undefined || h.sum === undefined) throw new Error(`${where}: _count or _sum missing`);
      if (last.v !== h.count) throw new Error(`${where}: +Inf bucket ${last.v} != _count ${h.count}`);
      if (!Number.isInteger(h.count) || h.count < 0) throw new Error(`${where}: bad _count ${h.count}`);
      if (h.count === 0 && h.sum !== 0) throw new Error(`${where}: empty histogram with _sum ${h.sum}`);
    }
  }
  return families;
}

/** Samples of a family (or sample name) whose labels include `want`. */
export function samples(fams, name, want = {}) {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = fams.get(name) ?? fams.get(base);
  if (!f) return [];
  return f.samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
}
export function one(fams, name, want = {}) {
  const m = samples(fams, name, want);
  assert.equal(m.length, 1, `exactly one ${name}${JSON.stringify(want)}; got ${m.length}`);
  return m[0].value;
}

