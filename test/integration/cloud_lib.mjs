// Independent (node:crypto) implementations of what Bedrock and Vertex clients do, for tests
// that check sluice's and sluice-mock's C code against them: AWS SigV4 signing, an AWS
// event-stream decoder (CRC-32 by zlib.crc32, node >= 20.15), an RS256 JWT signer and a
// throwaway GCP service account. Written from the public specifications, sharing no code with
// net/wire/sigv4.c or net/wire/eventstream.c, so a bug there cannot hide in both.
import crypto from 'node:crypto';
import http from 'node:http';
import zlib from 'node:zlib';

const sha256hex = (b) => crypto.createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

// RFC 3986 unreserved characters stay; everything else is %XX (upper case), as AWS wants.
function awsEncode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The SigV4 parts of a request (non-S3 rules: each path segment of the path as sent is
 *  encoded once more). url: the full URL as it will be sent (its path already percent-encoded
 *  once); headers: those to sign besides host and x-amz-date (names any case). Returns
 *  {headers: the headers to send (host, x-amz-date, x-amz-security-token?, authorization and
 *  the given ones), authorization, canonicalRequest, stringToSign, amzDate}. */
export function sigv4Sign({ method = 'POST', url, headers = {}, body = '', accessKeyId, secretAccessKey,
  sessionToken, region = 'us-east-1', service = 'bedrock', date = new Date() }) {
  const u = new URL(url);
  const amzDate = date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = String(v);
  h.host = h.host ?? u.host;
  h['x-amz-date'] = amzDate;
  if (sessionToken) h['x-amz-security-token'] = sessionToken;
  const names = Object.keys(h).sort();
  const canonHeaders = names.map((n) => `${n}:${h[n].trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const rawPath = u.pathname; // as sent: node's URL keeps %3A as it is
  const canonPath = rawPath.split('/').map((seg) => awsEncode(seg)).join('/');
  const params = [...u.searchParams].map(([k, v]) => [awsEncode(k), awsEncode(v)]);
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const canonQuery = params.map(([k, v]) => `${k}=${v}`).join('&');
  const canonicalRequest = [method, canonPath, canonQuery, canonHeaders, signedHeaders, sha256hex(body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secretAccessKey}`, day);
  const kSigning = hmac(hmac(hmac(kDate, region), service), 'aws4_request');
  const signature = crypto.createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  const authorization = `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers: { ...h, authorization }, authorization, canonicalRequest, stringToSign, amzDate };
}

/** Decodes AWS event-stream frames from a Buffer. Returns {frames, rest}: each frame
 *  {headers: {name: value}, payload: Buffer, json (payload parsed, or undefined), preludeCrcOk,
 *  messageCrcOk}; rest: the bytes of an incomplete last frame. Throws on a length that cannot
 *  be a frame (the stream cannot be resynchronised after it). */
export function decodeEventStream(buf) {
  const frames = [];
  let off = 0;
  while (buf.length - off >= 12) {
    const total = buf.readUInt32BE(off);
    const hlen = buf.readUInt32BE(off + 4);
    if (total < 16 || hlen > total - 16) throw new Error(`bad event-stream lengths at ${off}: total ${total}, headers ${hlen}`);
    if (buf.length - off < total) break;
    const preludeCrcOk = zlib.crc32(buf.subarray(off, off + 8)) === buf.readUInt32BE(off + 8);
    const messageCrcOk = zlib.crc32(buf.subarray(off, off + total - 4)) === buf.readUInt32BE(off + total - 4);
    const headers = {};
    let p = off + 12;
    const hend = p + hlen;
    while (p < hend) {
      const nl = buf[p];
      const name = buf.toString('utf8', p + 1, p + 1 + nl);
      p += 1 + nl;
      const type = buf[p++];
      let value;
      switch (type) {
        case 0: value = true; break;
        case 1: value = false; break;
        case 2: value = buf.readInt8(p); p += 1; break;
        case 3: value = buf.readInt16BE(p); p += 2; break;
        case 4: value = buf.readInt32BE(p); p += 4; break;
        case 5: case 8: value = buf.readBigInt64BE(p); p += 8; break;
        case 6: case 7: {
          const l = buf.readUInt16BE(p);
          value = type === 7 ? buf.toString('utf8', p + 2, p + 2 + l) : buf.subarray(p + 2, p + 2 + l);
          p += 2 + l;
          break;
        }
        case 9: value = buf.subarray(p, p + 16); p += 16; break;
        default: throw new Error(`bad header type ${type}`);
      }
      headers[name] = value;
    }
    const payload = buf.subarray(hend, off + total - 4);
    let json;
    try { json = JSON.parse(payload.toString('utf8')); } catch { json = undefined; }
    frames.push({ headers, payload, json, preludeCrcOk, messageCrcOk });
    off += total;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Encodes one frame with string headers (for tests that feed sluice hand-made streams). */
export function encodeEventStream(headers, payload, { badCrc = false } = {}) {
  const hs = [];
  for (const [k, v] of Object.entries(headers)) {
    const name = Buffer.from(k);
    const val = Buffer.from(String(v));
    const b = Buffer.alloc(1 + name.length + 1 + 2 + val.length);
    b[0] = name.length;
    name.copy(b, 1);
    b[1 + name.length] = 7;
    b.writeUInt16BE(val.length, 2 + name.length);
    val.copy(b, 4 + name.length);
    hs.push(b);
  }
  const hbuf = Buffer.concat(hs);
  const pbuf = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const total = 12 + hbuf.length + pbuf.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(hbuf.length, 4);
  out.writeUInt32BE(zlib.crc32(out.subarray(0, 8)), 8);
  hbuf.copy(out, 12);
  pbuf.copy(out, 12 + hbuf.length);
  out.writeUInt32BE((zlib.crc32(out.subarray(0, total - 4)) ^ (badCrc ? 1 : 0)) >>> 0, total - 4);
  return out;
}

const b64url = (b) => Buffer.from(b).toString('base64url');

/** An RS256 JWT of claims signed with privateKeyPem; header fields added to {alg, typ}. */
export function jwtRs256(claims, privateKeyPem, header = {}) {
  const h = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header }));
  const c = b64url(JSON.stringify(claims));
  const sig = crypto.sign('RSA-SHA256', Buffer.from(`${h}.${c}`), privateKeyPem);
  return `${h}.${c}.${b64url(sig)}`;
}

/** A throwaway service account: {json (the key file's text), publicKeyPem, privateKeyPem,
 *  clientEmail}. tokenUri: where the token exchange goes (a mock's /token). */
export function makeServiceAccount({ clientEmail = 'mock-sa@mock-project.iam.gserviceaccount.com',
  projectId = 'mock-project', tokenUri = 'https://oauth2.googleapis.com/token', bits = 2048 } = {}) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const json = JSON.stringify({
    type: 'service_account',
    project_id: projectId,
    private_key_id: crypto.randomBytes(20).toString('hex'),
    private_key: privateKeyPem,
    client_email: clientEmail,
    client_id: '100000000000000000001',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
  }, null, 2);
  return { json, publicKeyPem, privateKeyPem, clientEmail };
}

/** The claims of a token-exchange assertion as Google wants them (now: Unix seconds). */
export function gcpClaims({ clientEmail, tokenUri, now = Math.floor(Date.now() / 1000), ttl = 3600,
  scope = 'https://www.googleapis.com/auth/cloud-platform' }) {
  return { iss: clientEmail, scope, aud: tokenUri, iat: now, exp: now + ttl };
}

/** A request with a binary body answer: {status, headers, body (Buffer), text}. */
export function rawRequest(url, { method = 'POST', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8'),
          json() { return JSON.parse(b.toString('utf8')); } });
      });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('socket timeout')));
    req.end(body);
  });
}
