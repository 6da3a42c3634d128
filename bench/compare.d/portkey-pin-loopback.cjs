// Preloaded into the Portkey gateway by bench/compare (node --require THIS start-server.js):
// Portkey's start-server.js calls @hono/node-server's serve({fetch, port}) with no host, so it
// would listen on every interface, and it reads no HOST variable or flag. This shim rewrites
// every net.Server listen(port) / listen({port}) to bind 127.0.0.1 instead; it changes nothing
// else. bench/compare then checks the socket table to confirm the listener is loopback-only.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    if (typeof args[1] === 'string') args[1] = '127.0.0.1';
    else if (args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1'); // listen(port, backlog|callback)
  } else if (a0 && typeof a0 === 'object' && !Array.isArray(a0) && a0.port !== undefined) {
    args[0] = { ...a0, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
