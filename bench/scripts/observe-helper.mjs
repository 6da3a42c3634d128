// Helpers for bench/scripts/observe (issue 17's cost measurements), one process each:
//
//   node observe-helper.mjs sink STATUS_FILE
//     a local OTLP/HTTP receiver on 127.0.0.1 (ephemeral port): every POST is read to the
//     end and answered 200 {}; spans in JSON bodies (resourceSpans[].scopeSpans[].spans[])
//     are counted. Writes {"port":n} to STATUS_FILE once listening; GET /count answers
//     {"posts":n,"spans":n,"bytes":n}.
//   node observe-helper.mjs streams URL N AUTH STATUS_FILE
//     N dashboard pages' event streams: N fetch() requests to URL with
//     "Authorization: AUTH", read as they come. Rewrites STATUS_FILE (JSON) every 200 ms
//     with {"status":[http status of each], "open":n, "events":n, "bytes":n}; runs until
//     killed (SIGTERM).
// Both bounded: the sink and the streams end with the harness (it kills them on exit).
import http from 'node:http';
import fs from 'node:fs';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'sink') {
  const [statusFile] = args;
  let posts = 0, spans = 0, bytes = 0;
  const srv = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/count') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ posts, spans, bytes }));
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      posts++;
      const body = Buffer.concat(chunks);
      bytes += body.length;
      try {
        const j = JSON.parse(body.toString('utf8'));
        for (const rs of j.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += (ss.spans ?? []).length;
      } catch { /* not JSON: counted as a post only */ }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  srv.keepAliveTimeout = 60000;
  srv.listen(0, '127.0.0.1', () => fs.writeFileSync(statusFile, JSON.stringify({ port: srv.address().port })));
} else if (mode === 'streams') {
  const [url, nStr, auth, statusFile] = args;
  const n = Number(nStr);
  const st = { status: Array(n).fill(0), open: 0, events: 0, bytes: 0 };
  const write = () => fs.writeFileSync(statusFile, JSON.stringify(st));
  for (let i = 0; i < n; i++) {
    (async () => {
      try {
        const r = await fetch(url, { headers: { authorization: auth, accept: 'text/event-stream' } });
        st.status[i] = r.status;
        if (r.status !== 200 || !r.body) return;
        st.open++;
        const dec = new TextDecoder();
        for await (const chunk of r.body) {
          st.bytes += chunk.length;
          const s = dec.decode(chunk, { stream: true });
          st.events += (s.match(/^event:/gm) ?? []).length;
        }
        st.open--;
      } catch {
        st.status[i] = st.status[i] || -1;
      }
    })();
  }
  write();
  setInterval(write, 200);
  process.on('SIGTERM', () => { write(); process.exit(0); });
} else {
  console.error('usage: observe-helper.mjs sink STATUS_FILE | streams URL N AUTH STATUS_FILE');
  process.exit(2);
}
