// The attacker of login-flood.test.ts, in its own process so that its 200 connections do not
// share the event loop with the server under test. argv[2] is JSON: ports, counts, source
// addresses. It opens every connection up to the point where the password is due (IMAP
// greeting; POP3 USER; SMTP EHLO), reports "ready" over IPC, and on "go" sends every wrong
// password at once; it reports each reply ("NO", "-ERR", "535") and exits.

import net from 'node:net';
import { LineReader } from '../integration/server-fixture.js';

interface FloodPlan {
  ports: { imap: number; pop3: number; submission: number };
  counts: { imap: number; pop3: number; smtp: number };
  addresses: string[];
  user: string;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as FloodPlan;
const TIMEOUT_MS = 240_000;

async function open(port: number, localAddress: string): Promise<{ socket: net.Socket; r: LineReader }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('error', () => {});
  return { socket, r: new LineReader(socket) };
}

async function until(r: LineReader, final: RegExp): Promise<string> {
  for (;;) {
    const line = await r.next(TIMEOUT_MS);
    if (final.test(line)) return line;
  }
}

/** An attempt made ready: `send` writes the wrong password and resolves with the reply's code. */
interface Armed {
  send(): Promise<string>;
}

async function armImap(from: string, i: number): Promise<Armed> {
  const { socket, r } = await open(plan.ports.imap, from);
  await until(r, /^\* OK/);
  return {
    async send() {
      socket.write(`a LOGIN ${plan.user} wrong-${i}\r\n`);
      const line = await until(r, /^a /);
      socket.destroy();
      return line.split(' ')[1]!;
    },
  };
}

async function armPop3(from: string, i: number): Promise<Armed> {
  const { socket, r } = await open(plan.ports.pop3, from);
  await until(r, /^\+OK/);
  socket.write(`USER ${plan.user}\r\n`);
  await until(r, /^\+OK/);
  return {
    async send() {
      socket.write(`PASS wrong-${i}\r\n`);
      const line = await until(r, /^[+-]/);
      socket.destroy();
      return line.split(' ')[0]!;
    },
  };
}

async function armSmtp(from: string, i: number): Promise<Armed> {
  const { socket, r } = await open(plan.ports.submission, from);
  await until(r, /^220 /);
  socket.write('EHLO flood.example\r\n');
  await until(r, /^250 /);
  return {
    async send() {
      socket.write(`AUTH PLAIN ${Buffer.from(`\0${plan.user}\0wrong-${i}`).toString('base64')}\r\n`);
      const line = await until(r, /^\d{3} /);
      socket.destroy();
      return line.slice(0, 3);
    },
  };
}

async function main(): Promise<void> {
  let n = 0;
  const from = (): string => plan.addresses[n++ % plan.addresses.length]!;
  const arming: Array<Promise<Armed>> = [];
  for (let i = 0; i < plan.counts.imap; i++) arming.push(armImap(from(), i));
  for (let i = 0; i < plan.counts.pop3; i++) arming.push(armPop3(from(), i));
  for (let i = 0; i < plan.counts.smtp; i++) arming.push(armSmtp(from(), i));
  const armed = await Promise.all(arming);
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send!({ type: 'ready' });
  await go;
  const replies = await Promise.all(armed.map((a) => a.send()));
  process.send!({ type: 'done', replies }, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) }, () =>
    process.exit(1),
  );
});
