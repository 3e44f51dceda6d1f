/**
 * The embedded DNS server of one host, for the containers of its tasks and attachable containers.
 *
 * Where it listens: on each overlay's gateway address on this host's bridge (UDP and TCP 53). The
 * agent creates containers with that address as their DNS server; Docker's own resolver inside the
 * container (127.0.0.11 on user-defined networks) forwards every name it does not know itself to
 * it, from the container's own address. That source address says which container asks, hence on
 * which networks it may see names — no process and no rule inside the container's namespace.
 *
 * Messages are encoded and decoded with dns-packet; this file only decides what to answer.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Logger } from '../common/logging.js';
import type { DnsRecordSource } from './dns-records.js';
import type { Upstream } from './dns-upstream.js';

/** Short on purpose: answers must follow tasks within a second, and clients cache by TTL. */
export const ANSWER_TTL = 0;
const MAX_UDP_ANSWER = 512;
const MAX_TCP_MESSAGE = 65535;
const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export interface Listening {
  readonly address: string;
  readonly port: number;
}

export class DnsServer {
  private readonly listeners = new Map<string, { udp: dgram.Socket; tcp: net.Server; conns: Set<net.Socket> }>();
  /** Rotates multi-address answers so clients that take the first address spread out. */
  private rotation = 0;

  constructor(
    private readonly records: DnsRecordSource,
    private readonly upstream: Upstream,
    private readonly logger: Logger,
    /**
     * Awaited before a client's question is answered: a container that has just started may ask
     * before its VIP table is in its namespace (an attachable container's first `wget SERVICE`).
     */
    private readonly clientGate?: (clientIp: string) => Promise<void>,
  ) {}

  /** Answers one raw query from `clientIp` that arrived on `localAddress`; undefined: drop it. */
  async handle(
    query: Buffer,
    clientIp: string,
    localAddress: string | undefined,
    tcp: boolean,
  ): Promise<Buffer | undefined> {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return undefined;
    }
    if (packet.type !== 'query') return undefined;
    const question = packet.questions?.[0];
    if (!question) return this.reply(packet, RCODE_FORMERR, [], tcp);
    if (this.clientGate) await this.clientGate(clientIp);
    const networks = this.records.clientNetworks(clientIp, localAddress);
    const res = this.records.resolve(question.name, networks);
    switch (res.kind) {
      case 'forward': {
        const answer = await this.upstream.forward(query, tcp);
        return answer ?? this.reply(packet, RCODE_SERVFAIL, [], tcp);
      }
      case 'nxdomain':
        return this.reply(packet, RCODE_NXDOMAIN, [], tcp);
      case 'answer': {
        // Other record types of a known name: "no data", not NXDOMAIN (which would hide its A).
        if (question.type !== 'A') return this.reply(packet, 0, [], tcp);
        const ips = this.rotate(res.ips);
        const answers: dnsPacket.Answer[] = ips.map((ip) => ({
          type: 'A',
          class: 'IN',
          name: question.name,
          ttl: ANSWER_TTL,
          data: ip,
        }));
        return this.reply(packet, 0, answers, tcp);
      }
    }
  }

  private rotate(ips: readonly string[]): string[] {
    if (ips.length < 2) return [...ips];
    const k = this.rotation++ % ips.length;
    return [...ips.slice(k), ...ips.slice(0, k)];
  }

  private reply(q: dnsPacket.DecodedPacket, rcode: number, answers: dnsPacket.Answer[], tcp: boolean): Buffer {
    const flags =
      dnsPacket.AUTHORITATIVE_ANSWER |
      dnsPacket.RECURSION_AVAILABLE |
      ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
      rcode;
    const base = { type: 'response' as const, id: q.id ?? 0, questions: q.questions ?? [] };
    const out = dnsPacket.encode({ ...base, flags, answers });
    if (tcp || out.length <= MAX_UDP_ANSWER) return out;
    // Too big for plain UDP: say so (TC), and the client retries over TCP.
    return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
  }

  /** Starts answering on `address` (UDP and TCP); port 0 picks a free port (tests). */
  async listen(address: string, port = 53): Promise<Listening> {
    if (this.listeners.has(address)) throw new Error(`DNS already listening on ${address}`);
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      this.handle(msg, rinfo.address, address, false).then(
        (answer) => {
          if (answer) udp.send(answer, rinfo.port, rinfo.address);
        },
        (e: unknown) => this.logger.warn('dns query failed', { error: String(e) }),
      );
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, address, () => resolve());
    });
    const bound = udp.address().port;
    const conns = new Set<net.Socket>();
    const tcp = net.createServer((sock) => {
      conns.add(sock);
      sock.on('close', () => conns.delete(sock));
      this.serveTcp(sock, address);
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(bound, address, () => resolve());
    });
    this.listeners.set(address, { udp, tcp, conns });
    return { address, port: bound };
  }

  private serveTcp(sock: net.Socket, localAddress: string): void {
    let buf = Buffer.alloc(0);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > MAX_TCP_MESSAGE + 2) return void sock.destroy();
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        this.handle(msg, sock.remoteAddress?.replace(/^::ffff:/, '') ?? '', localAddress, true).then(
          (answer) => {
            if (!answer || sock.destroyed) return;
            const len = Buffer.alloc(2);
            len.writeUInt16BE(answer.length);
            sock.write(Buffer.concat([len, answer]));
          },
          (e: unknown) => this.logger.warn('dns query failed', { error: String(e) }),
        );
      }
    });
  }

  /** Stops answering on `address` (the network left this host); a no-op when not listening. */
  async close(address: string): Promise<void> {
    const l = this.listeners.get(address);
    if (!l) return;
    this.listeners.delete(address);
    l.udp.close();
    for (const c of l.conns) c.destroy();
    await new Promise<void>((resolve) => l.tcp.close(() => resolve()));
  }

  async closeAll(): Promise<void> {
    for (const a of [...this.listeners.keys()]) await this.close(a);
  }
}
