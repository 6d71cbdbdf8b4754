import net from 'node:net';
import { Aedes } from 'aedes';

// The broker ceiling for bench/compare.ts: a bare aedes on a net server, no hooks (no
// authentication, no ingest gate, no trace), in its own process so its RSS is its own.
// argv: <port>. IPC: 'count' → { published } (publishes from clients).

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker();
let published = 0;
broker.on('publish', (_packet, client) => {
  if (client) published++;
});
const server = net.createServer((socket) => broker.handle(socket));
server.listen(port, '127.0.0.1', () => process.send?.({ ready: true }));
process.on('message', (m) => {
  if (m === 'count') process.send?.({ published });
});
const stop = () => broker.close(() => server.close(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
