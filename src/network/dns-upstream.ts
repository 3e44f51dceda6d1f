/**
 * Names that are not the cluster's go to the host's own resolvers (from /etc/resolv.conf), with a
 * bounded wait per server so a dead upstream never hangs a container's lookup.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseIpv4 } from './cidr.js';

export const UPSTREAM_TIMEOUT_MS = 2000;
const MAX_TCP_MESSAGE = 65535;

/** The IPv4 `nameserver` lines of a resolv.conf. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m?.[1] && parseIpv4(m[1]) !== undefined && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

export interface Upstream {
  /** Forwards a raw query; the raw answer, or undefined when no server answered in time. */
  forward(query: Buffer, tcp: boolean): Promise<Buffer | undefined>;
}

export interface UpstreamServer {
  readonly address: string;
  readonly port: number;
}

export class UpstreamForwarder implements Upstream {
  constructor(
    private readonly servers: readonly UpstreamServer[],
    private readonly timeoutMs = UPSTREAM_TIMEOUT_MS,
  ) {}

  static fromResolvConf(text: string, timeoutMs?: number): UpstreamForwarder {
    return new UpstreamForwarder(
      parseResolvConf(text).map((address) => ({ address, port: 53 })),
      timeoutMs,
    );
  }

  async forward(query: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    for (const s of this.servers) {
      const answer = tcp ? await this.tcp(s, query) : await this.udp(s, query);
      if (answer) return answer;
    }
    return undefined;
  }

  private udp(s: UpstreamServer, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      // A fresh socket per query: a random source port, and no answer can reach the wrong asker.
      const sock = dgram.createSocket('udp4');
      const done = (b: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.close();
        resolve(b);
      };
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      sock.on('error', () => done(undefined));
      sock.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
      });
      sock.send(query, s.port, s.address);
    });
  }

  private tcp(s: UpstreamServer, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = net.connect({ host: s.address, port: s.port });
      let buf = Buffer.alloc(0);
      const done = (b: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.destroy();
        resolve(b);
      };
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      sock.on('error', () => done(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length > MAX_TCP_MESSAGE + 2) return done(undefined);
        if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
      sock.on('end', () => done(undefined));
    });
  }
}
