/**
 * A simulated DNS server on loopback, answering one scenario's names over UDP and TCP (same port,
 * TCP messages carry a 2-byte length prefix). Probes query it with node:dns exactly as they would
 * query a real resolver. Addresses in answers are data only: nothing ever connects to them.
 *
 * Semantics of a scenario answer (names case-insensitive, trailing dot ignored):
 * - `{ cname: [c1, c2], a: [ip] }`: an A query on the name answers name->c1, c1->c2 and A records
 *   on c2; a CNAME query answers only name->c1; a query on c1 answers the rest of the chain.
 * - When a chain ends on a name that is itself a key (and the answer has no `a`), resolution
 *   continues with that key's answer.
 * - `rcode: NXDOMAIN` answers NXDOMAIN (after the CNAME chain, if any); `SERVFAIL` / `REFUSED`
 *   answer that rcode; `TIMEOUT` sends nothing; `MALFORMED` sends the query id followed by bytes
 *   that are not a DNS message; `TCP_RESET` answers truncated (TC) over UDP, so the client retries
 *   over TCP, and resets that TCP connection.
 * - `times: n` fails only the first n queries that reach the answer (for `TCP_RESET`: n TCP
 *   connections), then the name answers as if it had no rcode: a transient failure.
 * - Unknown names: NXDOMAIN. Other query types on known names (AAAA, TXT…): the chain, no data.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import type { ScenarioDnsAnswer } from './scenario.ts';

export interface DnsQueryRecord {
  name: string;
  type: string;
  /**
   * The rcode answered, or what was done instead: `TIMEOUT` (silent), `MALFORMED` (garbage sent),
   * `TRUNCATED` (TC over UDP for a `TCP_RESET` answer), `RESET` (TCP connection reset).
   */
  rcode: string;
  transport: 'udp' | 'tcp';
}

export interface SimDnsServer {
  host: string;
  port: number;
  /** `127.0.0.1:<port>` (or `[::1]:<port>`), ready for `Resolver.setServers`. */
  address: string;
  queries: DnsQueryRecord[];
  /** Replaces the answers (takes effect on the next query). */
  setAnswers(answers: Record<string, ScenarioDnsAnswer>): void;
  close(): Promise<void>;
}

export interface DnsServerOptions {
  answers: Record<string, ScenarioDnsAnswer>;
  /** Default '127.0.0.1'; anything that is not a loopback address is refused. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

type Rcode = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';

/** What the server says to one question; `undefined` = stay silent. */
export interface DnsReply {
  rcode: Rcode;
  answers: Answer[];
  /** Misbehave instead of sending this reply: garbage bytes, or TC over UDP and a reset over TCP. */
  fault?: 'MALFORMED' | 'TCP_RESET';
}

type Transport = DnsQueryRecord['transport'];

const TTL = 60;
const MAX_HOPS = 16;
const UDP_LIMIT = 512;
const RCODE_VALUE: Record<Rcode, number> = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

// ---------------------------------------------------------------------------------------------
// Pure helpers

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function isLoopback(host: string): boolean {
  return host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** One name's effective answer: its own entry, or the rest of a chain it appears in. */
interface Entry {
  cname: string[];
  a: string[];
  rcode?: ScenarioDnsAnswer['rcode'];
  /** Failures left before the rcode stops applying; shared by the key and its chain members. */
  budget: { left: number };
}

/** The entry's rcode if it still applies to this query (spending one of its `times`), else undefined. */
function activeRcode(entry: Entry, transport: Transport): ScenarioDnsAnswer['rcode'] {
  if (!entry.rcode || entry.budget.left <= 0) return undefined;
  // TCP_RESET fails on the TCP connection; the truncated UDP answer that leads there costs nothing.
  if (entry.rcode !== 'TCP_RESET' || transport === 'tcp') entry.budget.left -= 1;
  return entry.rcode;
}

/** Index of the scenario answers: keys first, then every chain element with its remainder. */
export class AnswerIndex {
  readonly #keys = new Map<string, Entry>();
  readonly #chainMembers = new Map<string, Entry>();

  constructor(answers: Record<string, ScenarioDnsAnswer>) {
    for (const [name, answer] of Object.entries(answers)) {
      const entry: Entry = {
        cname: (answer.cname ?? []).map(normalizeName),
        a: answer.a ?? [],
        ...(answer.rcode ? { rcode: answer.rcode } : {}),
        budget: { left: answer.times ?? Number.POSITIVE_INFINITY },
      };
      this.#keys.set(normalizeName(name), entry);
    }
    for (const entry of this.#keys.values()) {
      entry.cname.forEach((member, i) => {
        if (!this.#chainMembers.has(member)) this.#chainMembers.set(member, { ...entry, cname: entry.cname.slice(i + 1) });
      });
    }
  }

  isKey(name: string): boolean {
    return this.#keys.has(name);
  }

  find(name: string): Entry | undefined {
    return this.#keys.get(name) ?? this.#chainMembers.get(name);
  }

  /** The reply to one question, or undefined when the server must not answer at all. */
  reply(qname: string, qtype: string, transport: Transport = 'udp'): DnsReply | undefined {
    const answers: Answer[] = [];
    const seen = new Set<string>();
    let name = normalizeName(qname);
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      seen.add(name);
      const entry = this.find(name);
      if (!entry) return { rcode: 'NXDOMAIN', answers };
      const rcode = activeRcode(entry, transport);
      if (rcode === 'TIMEOUT') return undefined;
      if (rcode === 'SERVFAIL' || rcode === 'REFUSED') return { rcode, answers: [] };
      if (rcode === 'MALFORMED' || rcode === 'TCP_RESET') return { rcode: 'SERVFAIL', answers: [], fault: rcode };
      let owner = name;
      for (const target of entry.cname) {
        answers.push({ type: 'CNAME', name: owner, ttl: TTL, data: target });
        owner = target;
        if (qtype === 'CNAME') return { rcode: 'NOERROR', answers };
      }
      if (rcode === 'NXDOMAIN') return { rcode: 'NXDOMAIN', answers };
      if (entry.cname.length > 0 && entry.a.length === 0 && this.isKey(owner) && !seen.has(owner)) {
        name = owner;
        continue;
      }
      if (qtype === 'A') for (const ip of entry.a) answers.push({ type: 'A', name: owner, ttl: TTL, data: ip });
      return { rcode: 'NOERROR', answers };
    }
    return { rcode: 'SERVFAIL', answers: [] };
  }
}

/** Bytes that start like a response to `id` but are no DNS message (the header is cut short). */
function garbage(id: number): Buffer {
  const buf = Buffer.from([0, 0, 0x84, 0x00, 0xde, 0xad]);
  buf.writeUInt16BE(id & 0xffff, 0);
  return buf;
}

/** What was done for a reply, as the query log records it. */
function recordedRcode(reply: DnsReply | undefined, transport: Transport): string {
  if (!reply) return 'TIMEOUT';
  if (reply.fault === 'MALFORMED') return 'MALFORMED';
  if (reply.fault === 'TCP_RESET') return transport === 'tcp' ? 'RESET' : 'TRUNCATED';
  return reply.rcode;
}

/**
 * Encodes the response to `query`: the bytes to send, undefined to stay silent, or `reset` to
 * reset the (TCP) connection. `maxBytes` is the UDP limit; absent over TCP.
 */
function respond(index: AnswerIndex, query: DecodedPacket, queries: DnsQueryRecord[], transport: Transport, maxBytes?: number): Buffer | 'reset' | undefined {
  const question: Question | undefined = query.questions?.[0];
  if (!question) return undefined;
  const reply = index.reply(question.name, question.type, transport);
  queries.push({ name: normalizeName(question.name), type: question.type, rcode: recordedRcode(reply, transport), transport });
  if (!reply) return undefined;
  if (reply.fault === 'MALFORMED') return garbage(query.id ?? 0);
  if (reply.fault === 'TCP_RESET' && transport === 'tcp') return 'reset';
  const flags =
    dnsPacket.AUTHORITATIVE_ANSWER |
    dnsPacket.RECURSION_AVAILABLE |
    ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
    (reply.fault === 'TCP_RESET' ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    RCODE_VALUE[reply.rcode];
  const packet: Packet = { type: 'response', id: query.id ?? 0, flags, questions: [question], answers: reply.answers };
  const buf = dnsPacket.encode(packet);
  if (maxBytes !== undefined && buf.length > maxBytes) {
    // Too large for UDP: send the header with TC set, the client retries over TCP.
    return dnsPacket.encode({ ...packet, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }
  return buf;
}

function decode(buf: Buffer): DecodedPacket | undefined {
  try {
    const packet = dnsPacket.decode(buf);
    return packet.type === 'query' ? packet : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The server

function bindUdp(socket: dgram.Socket, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // never bound or already closed
    }
  });
}

function closeTcp(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Reads length-prefixed DNS messages from one TCP connection and answers each (or resets it). */
function serveTcpConnection(socket: net.Socket, answer: (query: DecodedPacket) => Buffer | 'reset' | undefined): void {
  let pending = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < length + 2) break;
      const message = pending.subarray(2, length + 2);
      pending = pending.subarray(length + 2);
      const query = decode(message);
      const response = query ? answer(query) : undefined;
      if (response === 'reset') {
        socket.resetAndDestroy();
        return;
      }
      if (!response) continue;
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(response.length);
      socket.write(Buffer.concat([prefix, response]));
    }
  });
}

export async function startDnsServer(options: DnsServerOptions): Promise<SimDnsServer> {
  const requested = options.host ?? '127.0.0.1';
  const host = requested === 'localhost' ? '127.0.0.1' : requested.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host)) throw new Error(`The simulated DNS server only listens on loopback addresses; refusing host '${requested}'.`);

  let index = new AnswerIndex(options.answers);
  const queries: DnsQueryRecord[] = [];
  const connections = new Set<net.Socket>();
  const family = host.includes(':') ? 'udp6' : 'udp4';

  // UDP picks the port, TCP takes the same one; with port 0 a clash on TCP is retried.
  let udp: dgram.Socket | undefined;
  let tcp: net.Server | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 10 && !tcp; attempt++) {
    const u = dgram.createSocket(family);
    const t = net.createServer();
    try {
      port = await bindUdp(u, host, options.port ?? 0);
      await listenTcp(t, host, port);
      udp = u;
      tcp = t;
    } catch (err) {
      await closeUdp(u);
      if (options.port || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  if (!udp || !tcp) throw new Error('The simulated DNS server found no port free for both UDP and TCP.');

  const udpSocket = udp;
  udpSocket.on('message', (msg, rinfo) => {
    const query = decode(msg);
    const response = query ? respond(index, query, queries, 'udp', UDP_LIMIT) : undefined;
    if (response instanceof Buffer) udpSocket.send(response, rinfo.port, rinfo.address);
  });
  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveTcpConnection(socket, (query) => respond(index, query, queries, 'tcp'));
  });

  const tcpServer = tcp;
  port = (tcpServer.address() as AddressInfo).port;
  return {
    host,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    queries,
    setAnswers(answers) {
      index = new AnswerIndex(answers);
    },
    async close() {
      for (const socket of connections) socket.destroy();
      await Promise.all([closeUdp(udpSocket), closeTcp(tcpServer)]);
    },
  };
}
