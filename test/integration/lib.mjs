// Shared helpers for the integration tests: start real `sluice` and `sluice-mock`
// processes on 127.0.0.1 ephemeral ports, talk to them over raw sockets or node:http,
// and wait on conditions (never on fixed sleeps) with a deadline on every wait.
// Every process started here is tracked and killed by cleanup(), which each test file
// registers with after(), so a failing test never leaves processes behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const SLUICE_BIN = process.env.SLUICE_BIN;
export const MOCK_BIN = process.env.SLUICE_MOCK_BIN;
export const HOST = '127.0.0.1';

const tracked = new Set(); // live child processes
const tmpDirs = new Set();

// ------------------------------------------------------------------ small utilities

export function delay(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects with `what` (plus detail()) when p has not settled within ms. */
export function withDeadline(p, ms, what, detail = () => '') {
  let timer;
  const t = new Promise((_, rej) => {
    timer = setTimeout(() => {
      const d = detail();
      rej(new Error(`timed out after ${ms} ms waiting for ${what}${d ? `\n${d}` : ''}`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Registers check(resolve, reject) in waiters (a Set of functions called whenever
 *  something changes) until it settles or the deadline passes; always unregisters. */
export function waitCondition(waiters, check, ms, what, detail) {
  let w;
  const p = new Promise((resolve, reject) => {
    w = () => check(resolve, reject);
    waiters.add(w);
    w();
  });
  return withDeadline(p, ms, what, detail).finally(() => waiters.delete(w));
}

/** Polls fn (sync or async) until it returns a truthy value; returns that value.
 *  Errors thrown by fn count as "not yet". Bounded by timeoutMs. */
export async function pollUntil(fn, { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await delay(intervalMs);
  }
}

export function mkTmpDir(prefix = 'sluice-test-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}

/** A port that nothing listens on (bound then released). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((res, rej) => srv.listen(0, HOST, res).on('error', rej));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

/** Minimal YAML writer (block style) for configs built in tests. Strings are written as
 *  JSON strings, which YAML double-quoted scalars accept. */
export function toYaml(v, indent = 0) {
  const pad = ' '.repeat(indent);
  const scalar = (x) => (typeof x === 'string' ? JSON.stringify(x) : x === null ? 'null' : String(x));
  const isObj = (x) => x !== null && typeof x === 'object';
  if (Array.isArray(v)) {
    if (v.length === 0) return `${pad}[]\n`;
    return v.map((item) => {
      if (!isObj(item)) return `${pad}- ${scalar(item)}\n`;
      const body = toYaml(item, indent + 2);
      return `${pad}- ${body.slice(indent + 2)}`;
    }).join('');
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0) return `${pad}{}\n`;
    return keys.map((k) => {
      const x = v[k];
      if (isObj(x) && (Array.isArray(x) ? x.length : Object.keys(x).length)) {
        return `${pad}${k}:\n${toYaml(x, indent + 2)}`;
      }
      if (isObj(x)) return `${pad}${k}: ${Array.isArray(x) ? '[]' : '{}'}\n`;
      return `${pad}${k}: ${scalar(x)}\n`;
    }).join('');
  }
  return `${pad}${scalar(v)}\n`;
}

/** A config for sluice in front of mocks. groups: { name: dep | [dep...] } where dep is
 *  {port | api_base, model, api_key, model_info, ...other litellm_params} */
export function sluiceConfig({ groups, masterKey, settings = {}, extra = {} }) {
  const model_list = [];
  for (const [name, deps] of Object.entries(groups)) {
    for (const d of Array.isArray(deps) ? deps : [deps]) {
      const { port, api_base, model = 'openai/mock-model', api_key = 'sk-mock', model_info, ...rest } = d;
      model_list.push({
        model_name: name,
        litellm_params: {
          model,
          api_base: api_base ?? `http://${HOST}:${port}/v1`,
          ...(api_key === null ? {} : { api_key }),
          ...rest,
        },
        ...(model_info ? { model_info } : {}),
      });
    }
  }
  const cfg = { model_list, ...extra };
  if (masterKey) cfg.general_settings = { master_key: masterKey };
  if (Object.keys(settings).length) cfg.sluice_settings = settings;
  return toYaml(cfg);
}

// ------------------------------------------------------------------ processes

const SANITIZER_RE = /AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|MemorySanitizer/;

export function assertNoSanitizerReports(name, stderr) {
  const m = SANITIZER_RE.exec(stderr);
  if (m) {
    const from = Math.max(0, m.index - 2000);
    assert.fail(`${name}: sanitizer report on stderr:\n${stderr.slice(from, m.index + 6000)}`);
  }
}

function exitCodeOf(code, signal) {
  if (code !== null) return code;
  return 128 + (os.constants.signals[signal] ?? 0);
}

/** Spawns a tracked process whose stdout is read as lines (JSON parsed when possible). */
export function spawnTracked(name, bin, args, { env = {}, cwd } = {}) {
  if (!bin) throw new Error(`${name}: binary not set (SLUICE_BIN / SLUICE_MOCK_BIN; run through meson test)`);
  const proc = spawn(bin, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tracked.add(proc);
  const st = {
    name,
    proc,
    stdout: '',
    stderr: '',
    lines: [],   // every stdout line, parsed JSON or {raw: line}
    exited: false,
    exitCode: null,
    waiters: new Set(),
  };
  let partial = '';
  const notify = () => { for (const w of [...st.waiters]) w(); };
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    st.stdout += d;
    partial += d;
    let i;
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i).trim();
      partial = partial.slice(i + 1);
      if (!line) continue;
      let obj;
      try { obj = JSON.parse(line); } catch { obj = { raw: line }; }
      st.lines.push(obj);
    }
    notify();
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { st.stderr += d; notify(); });
  st.exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      st.exited = true;
      st.exitCode = exitCodeOf(code, signal);
      tracked.delete(proc);
      notify();
      resolve(st.exitCode);
    });
    proc.on('error', (e) => {
      st.stderr += `\n[spawn error: ${e.message}]`;
      st.exited = true;
      st.exitCode = -1;
      tracked.delete(proc);
      notify();
      resolve(-1);
    });
  });
  st.output = () => `--- ${name} stdout ---\n${st.stdout.slice(-6000)}\n--- ${name} stderr ---\n${st.stderr.slice(-6000)}`;
  /** Waits for a stdout line matching pred; rejects on exit or deadline. */
  st.waitLine = (pred, timeoutMs = 10000, what = 'log line') => {
    let from = 0;
    return waitCondition(st.waiters, (resolve, reject) => {
      for (; from < st.lines.length; from++) {
        if (pred(st.lines[from])) { resolve(st.lines[from]); return; }
      }
      if (st.exited) reject(new Error(`${name} exited (code ${st.exitCode}) before ${what}\n${st.output()}`));
    }, timeoutMs, `${name}: ${what}`, st.output);
  };
  /** Sends signal (none when null: the caller already did), waits for exit, asserts no
   *  sanitizer reports; returns the exit code. */
  st.stop = async ({ signal = 'SIGTERM', timeoutMs = 15000 } = {}) => {
    if (!st.exited && signal) proc.kill(signal);
    const code = await withDeadline(st.exitPromise, timeoutMs, `${name} to exit after ${signal}`, st.output);
    // Let the pipes drain so late sanitizer reports are seen.
    await Promise.all([
      new Promise((r) => (proc.stderr.closed ? r() : proc.stderr.once('close', r))),
      new Promise((r) => (proc.stdout.closed ? r() : proc.stdout.once('close', r))),
    ].map((p) => withDeadline(p, 5000, `${name} pipes to close`).catch(() => {})));
    assertNoSanitizerReports(name, st.stderr);
    return code;
  };
  return st;
}

/** Starts sluice-mock on an ephemeral port. */
export async function startMock(args = [], { timeoutMs = 10000, env } = {}) {
  const st = spawnTracked('sluice-mock', MOCK_BIN, ['--host', HOST, '--port', '0', ...args], { env });
  const ev = await st.waitLine((l) => l.event === 'listening', timeoutMs, 'the "listening" line');
  const port = ev.port;
  const url = `http://${HOST}:${port}`;
  return {
    port,
    url,
    proc: st.proc,
    lines: st.lines,
    output: st.output,
    get stderr() { return st.stderr; },
    async stats() {
      const r = await request(`${url}/mock/stats`);
      assert.equal(r.status, 200, `GET /mock/stats: ${r.text}`);
      return r.json();
    },
    async reset() {
      const r = await request(`${url}/mock/reset`, { method: 'POST' });
      assert.ok(r.status >= 200 && r.status < 300, `POST /mock/reset: ${r.status} ${r.text}`);
    },
    stop: (o) => st.stop(o),
    get exited() { return st.exited; },
  };
}

/** Starts sluice with the given YAML; resolves when the master logs "ready". */
export async function startSluice({ yaml, args = [], env = {}, workers = 1, timeoutMs = 20000 } = {}) {
  const dir = mkTmpDir('sluice-it-');
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, yaml);
  const argv = ['--config', cfg, '--host', HOST, '--port', '0', '--data-dir', path.join(dir, 'data')];
  if (workers != null) argv.push('--workers', String(workers));
  argv.push(...args);
  const st = spawnTracked('sluice', SLUICE_BIN, argv, { env, cwd: dir });
  const ready = await st.waitLine((l) => l.msg === 'ready', timeoutMs, 'the "ready" line');
  assert.equal(typeof ready.port, 'number', `ready line without port: ${JSON.stringify(ready)}`);
  const url = `http://${HOST}:${ready.port}`;
  return {
    port: ready.port,
    url,
    pid: ready.pid ?? st.proc.pid,
    workers: ready.workers,
    ready,
    dir,
    configPath: cfg,
    proc: st.proc,
    lines: st.lines,
    output: st.output,
    waitLine: st.waitLine,
    get stderr() { return st.stderr; },
    get exited() { return st.exited; },
    get exitCode() { return st.exitCode; },
    exitPromise: st.exitPromise,
    stop: (o) => st.stop(o),
  };
}

/** Runs a command to completion (e.g. `sluice check FILE`); returns {code, stdout, stderr}. */
export async function runCommand(bin, args, { timeoutMs = 15000, env = {}, cwd } = {}) {
  const st = spawnTracked(path.basename(bin), bin, args, { env, cwd });
  const code = await withDeadline(st.exitPromise, timeoutMs, `${bin} ${args.join(' ')}`, st.output);
  await Promise.all([st.proc.stdout, st.proc.stderr].map((s) =>
    withDeadline(new Promise((r) => (s.closed ? r() : s.once('close', r))), 5000, 'pipes').catch(() => {})));
  assertNoSanitizerReports(bin, st.stderr);
  return { code, stdout: st.stdout, stderr: st.stderr };
}

/** Kills every process still running and removes temp dirs. Register with after(). */
export async function cleanup() {
  const waits = [];
  for (const p of [...tracked]) {
    waits.push(new Promise((r) => { p.once('exit', r); }));
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  await withDeadline(Promise.all(waits), 5000, 'processes to die').catch(() => {});
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}
process.on('exit', () => {
  for (const p of tracked) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});

/** Pids of the direct children of pid (the workers of a sluice master). */
export function childPids(pid) {
  const out = new Set();
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const c of s.split(/\s+/)) if (c) out.add(Number(c));
    }
    return [...out].sort((a, b) => a - b);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan /proc/*/stat for the parent pid.
  }
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] = state, fields[1] = ppid; zombies are not live workers
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.add(Number(e));
    } catch { /* raced with exit */ }
  }
  return [...out].sort((a, b) => a - b);
}

/** Live (non-zombie) child pids. */
export function liveChildPids(pid) {
  return childPids(pid).filter((c) => {
    try {
      const stat = fs.readFileSync(`/proc/${c}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

// ------------------------------------------------------------------ HTTP over node:http

/** One request on a fresh connection (no pooling). Resolves {status, headers, text, json()}. */
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    const data = body === undefined ? undefined
      : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
    const req = http.request(url, { method, headers: h, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text,
          json() {
            try { return JSON.parse(text); } catch (e) { throw new Error(`not JSON (${e.message}): ${text.slice(0, 500)}`); }
          },
        });
      });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('socket timeout')));
    req.end(data);
  }), timeoutMs + 500, `${method} ${url}`);
}

export const post = (url, body, headers = {}, o = {}) => request(url, { method: 'POST', body, headers, ...o });

/** A streaming request: resolves once the status line arrived; the body is collected as it
 *  comes and can be awaited piecewise. */
export function openStream(url, { body, headers = {}, method = 'POST', timeoutMs = 10000 } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent: false,
      headers: { 'content-type': 'application/json', ...headers },
    }, (res) => {
      const s = {
        status: res.statusCode,
        headers: res.headers,
        text: '',
        chunks: [],        // {at: ms since open, text}
        ended: false,      // the body ended (cleanly or not)
        clean: false,      // ended with the terminating chunk / full length
        error: null,
        req,
        res,
      };
      const t0 = Date.now();
      const waiters = new Set();
      const notify = () => { for (const w of [...waiters]) w(); };
      res.setEncoding('utf8');
      res.on('data', (d) => { s.text += d; s.chunks.push({ at: Date.now() - t0, text: d }); notify(); });
      res.on('end', () => { s.ended = true; s.clean = true; notify(); });
      res.on('error', (e) => { s.error = e; s.ended = true; notify(); });
      res.on('close', () => { s.ended = true; notify(); });
      req.on('error', (e) => { s.error = s.error || e; s.ended = true; notify(); });
      /** Waits until pred(text) holds; rejects at the deadline (or when the body ends first). */
      s.waitFor = (pred, ms = 10000, what = 'stream data') => waitCondition(waiters, (ok, fail) => {
        if (pred(s.text)) ok(s.text);
        else if (s.ended) fail(new Error(`stream ended before ${what}; got:\n${s.text.slice(-3000)}`));
      }, ms, what, () => `got so far:\n${s.text.slice(-3000)}`);
      s.waitEnd = (ms = 10000) => waitCondition(waiters, (ok) => { if (s.ended) ok(s); },
        ms, 'the stream to end', () => `got so far:\n${s.text.slice(-3000)}`);
      s.destroy = () => { req.destroy(); res.destroy(); };
      resolve(s);
    });
    req.on('error', reject);
    req.end(data);
  }), timeoutMs, `response head of ${method} ${url}`);
}

/** data: payloads of server-sent events in text (complete events only). */
export function sseData(text) {
  const out = [];
  const events = text.replace(/\r\n/g, '\n').split('\n\n');
  events.pop(); // incomplete tail (or '' after the last separator)
  for (const ev of events) {
    const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
    if (data.length) out.push(data.join('\n'));
  }
  return out;
}

// ------------------------------------------------------------------ raw sockets

/** A raw TCP connection with bounded waits on what the server sends. */
export function rawConnect(port, { host = HOST, timeoutMs = 5000 } = {}) {
  return withDeadline(new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    const c = {
      sock,
      data: Buffer.alloc(0),
      closed: false,   // the server closed (or reset) the connection
      reset: false,
      get text() { return c.data.toString('latin1'); },
    };
    const waiters = new Set();
    const notify = () => { for (const w of [...waiters]) w(); };
    sock.on('data', (d) => { c.data = Buffer.concat([c.data, d]); notify(); });
    sock.on('end', () => { c.closed = true; notify(); });
    sock.on('close', () => { c.closed = true; notify(); });
    sock.on('error', (e) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') c.reset = true; c.error = e; c.closed = true; notify(); });
    c.write = (bytes) => new Promise((res) => {
      if (c.closed || sock.destroyed) { res(false); return; }
      sock.write(bytes, (err) => res(!err));
    });
    /** Waits until pred(c) holds. */
    c.waitFor = (pred, ms = 5000, what = 'server data') => waitCondition(waiters, (ok, fail) => {
      if (pred(c)) ok(c);
      else if (c.closed) fail(new Error(`connection closed before ${what}; got:\n${c.text.slice(0, 3000)}`));
    }, ms, what, () => `got so far:\n${c.text.slice(0, 3000)}`);
    /** Waits for n complete responses; returns them parsed. */
    c.waitResponses = async (n, ms = 5000) => {
      await c.waitFor((cc) => parseResponses(cc.data).complete.length >= n, ms, `${n} response(s)`);
      return parseResponses(c.data).complete;
    };
    c.waitClose = (ms = 5000) => waitCondition(waiters, (ok) => { if (c.closed) ok(c); },
      ms, 'the server to close the connection', () => `got so far:\n${c.text.slice(0, 3000)}`);
    c.close = () => sock.destroy();
    let connected = false;
    sock.once('connect', () => { connected = true; resolve(c); });
    sock.once('error', (e) => { if (!connected) reject(e); });
  }), timeoutMs, `connect to ${host}:${port}`);
}

/** Sends bytes on a new connection, collects until the server closes or the deadline.
 *  Resolves {data, text, closed, responses}. */
export async function raw(port, bytes, { timeoutMs = 5000 } = {}) {
  const c = await rawConnect(port);
  try {
    await c.write(bytes);
    await c.waitClose(timeoutMs).catch(() => {});
    const { complete } = parseResponses(c.data);
    return { data: c.data, text: c.text, closed: c.closed, responses: complete };
  } finally {
    c.close();
  }
}

/** Splits HTTP/1.1 responses out of a byte stream. Handles Content-Length, chunked and
 *  bodiless (1xx, 204, 304) responses; a response without length ends at EOF (only
 *  complete if it is the last). Returns {complete: [...], rest: Buffer}. */
export function parseResponses(buf) {
  const complete = [];
  let off = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) break;
    const head = buf.subarray(off, headEnd).toString('latin1');
    const [statusLine, ...hl] = head.split('\r\n');
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
    if (!m) break;
    const headers = {};
    for (const l of hl) {
      const i = l.indexOf(':');
      if (i < 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const status = Number(m[2]);
    let p = headEnd + 4;
    let body;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let ok = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const te = buf.indexOf('\r\n\r\n', le, 'latin1');
          // no trailers: "0\r\n\r\n"
          const end = buf.subarray(le, le + 4).toString('latin1') === '\r\n\r\n' ? le + 4 : te >= 0 ? te + 4 : -1;
          if (end < 0) break;
          p = end;
          ok = true;
          break;
        }
        if (le + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!ok) break;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (p + n > buf.length) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      break; // delimited by close: left in rest
    }
    const text = body.toString('utf8');
    complete.push({
      version: m[1],
      status,
      reason: m[3] ?? '',
      headers,
      body: text,
      json() {
        try { return JSON.parse(text); } catch (e) { throw new Error(`not JSON (${e.message}): ${text.slice(0, 500)}`); }
      },
    });
    off = p;
  }
  return { complete, rest: buf.subarray(off) };
}

/** Builds a raw HTTP/1.1 request. body: string or object (JSON). */
export function httpRequest(method, target, { headers = {}, body, host = HOST } = {}) {
  const data = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const h = { Host: host, ...headers };
  if (body !== undefined && !Object.keys(h).some((k) => /^(content-length|transfer-encoding)$/i.test(k))) {
    h['Content-Length'] = String(Buffer.byteLength(data));
  }
  if (body !== undefined && !Object.keys(h).some((k) => /^content-type$/i.test(k))) {
    h['Content-Type'] = 'application/json';
  }
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${data}`;
}

// ------------------------------------------------------------------ assertions

/** Asserts an OpenAI-shaped error body {"error":{"message","type","param":null,"code"}}. */
export function assertOpenAIError(body, { code, type, messageIncludes = [] } = {}) {
  const b = typeof body === 'string' ? JSON.parse(body) : body;
  assert.ok(b && typeof b.error === 'object' && b.error !== null, `no error object: ${JSON.stringify(b)}`);
  const e = b.error;
  assert.equal(typeof e.message, 'string', `error.message: ${JSON.stringify(b)}`);
  assert.ok(e.message.length > 0, 'error.message is empty');
  assert.equal(typeof e.type, 'string', `error.type: ${JSON.stringify(b)}`);
  assert.ok('param' in e, `error.param missing: ${JSON.stringify(b)}`);
  assert.equal(e.param, null);
  assert.ok('code' in e, `error.code missing: ${JSON.stringify(b)}`);
  if (code !== undefined) assert.equal(e.code, code, `error.code: ${JSON.stringify(b)}`);
  if (type !== undefined) assert.equal(e.type, type, `error.type: ${JSON.stringify(b)}`);
  for (const s of [].concat(messageIncludes)) {
    assert.ok(e.message.includes(s), `error.message ${JSON.stringify(e.message)} should mention ${JSON.stringify(s)}`);
  }
  return e;
}

/** The mock's record of a request (from /mock/stats last[]) whose body satisfies pred. */
export function findRecorded(stats, pred) {
  const last = stats.last ?? [];
  for (let i = last.length - 1; i >= 0; i--) {
    const r = last[i];
    let body = r.body;
    if (typeof body === 'string') { try { body = JSON.parse(body); } catch { /* not JSON */ } }
    if (pred(body, r)) return { ...r, json: body, rawBody: typeof r.body === 'string' ? r.body : undefined };
  }
  return undefined;
}

/** Header value from a recorded request (headers may be an object or [[name, value]]). */
export function recordedHeader(rec, name) {
  const h = rec.headers ?? {};
  const n = name.toLowerCase();
  if (Array.isArray(h)) {
    for (const e of h) {
      const [k, v] = Array.isArray(e) ? e : [e.name, e.value];
      if (String(k).toLowerCase() === n) return v;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === n) return v;
  return undefined;
}

/** A unique marker to find a request again in the mock's records. */
let nonceSeq = 0;
export function nonce(tag = 'n') {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${++nonceSeq}`;
}

export function chatBody(model, extra = {}) {
  return { model, messages: [{ role: 'user', content: 'Say hello.' }], ...extra };
}

/** Registers the after() hook shared by files that start one mock and one sluice: stop
 *  sluice (exit code 0 asserted), then the mock, then everything else tracked.
 *  get() returns { sluice, mock } as they stand when the hook runs. */
export async function stopSluiceAndMock(get) {
  const { after } = await import('node:test');
  after(async () => {
    const { sluice, mock } = get();
    try {
      if (sluice) assert.equal(await sluice.stop(), 0, 'sluice exit code');
      if (mock) await mock.stop();
    } finally {
      await cleanup();
    }
  });
}

/** Stops what a test started, in order: servers with close() (fake upstreams) are
 *  closed, processes stopped; a sluice that became ready must exit 0 on SIGTERM. */
export async function stopAll(...ps) {
  for (const p of ps) {
    if (!p) continue;
    if (typeof p.close === 'function' && !p.stop) { await p.close(); continue; }
    if (p.exited) continue;
    const code = await p.stop();
    if (p.ready) assert.equal(code, 0, 'sluice exit code after SIGTERM');
  }
}
