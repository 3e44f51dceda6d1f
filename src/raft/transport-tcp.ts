/**
 * Raft messages between members over TCP (the static-peer bootstrap: ids and addresses known up
 * front, plaintext). One outbound connection per peer, reconnected with backoff; frames are
 * [u32 length][u32 crc32][json]. A message that cannot be sent now is dropped: Raft retries on its
 * own (heartbeats, probes, snapshot resends), so queueing for a dead peer would only waste memory.
 */
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { frame, HEADER } from '../common/record.js';
import type { Logger } from '../common/logging.js';
import type { Transport } from './node.js';
import type { Entry, MemberId, Message } from './types.js';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface TcpTransportOptions {
  id: MemberId;
  listen: PeerAddress;
  peers: ReadonlyMap<MemberId, PeerAddress>;
  logger: Logger;
}

/** Above this many unsent bytes on a connection, further messages to that peer are dropped. */
const MAX_BUFFERED = 64 * 1024 * 1024;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

interface WireEntry {
  t: number;
  i: number;
  y: Entry['type'];
  d: string;
}

type WireMessage = Omit<Message, 'entries' | 'data'> & { entries?: WireEntry[]; data?: string };

const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

export function encodeMessage(m: Message): Buffer {
  const w: Record<string, unknown> = { ...m };
  if (m.type === 'append') w.entries = m.entries.map((e): WireEntry => ({ t: e.term, i: e.index, y: e.type, d: b64(e.data) }));
  if (m.type === 'snapshot' && m.data) w.data = b64(m.data);
  return frame(Buffer.from(JSON.stringify(w)));
}

export function decodeMessage(payload: Buffer): Message {
  const w = JSON.parse(payload.toString('utf8')) as WireMessage;
  if (w.type === 'append') {
    const entries = (w.entries ?? []).map((e): Entry => ({ term: e.t, index: e.i, type: e.y, data: unb64(e.d) }));
    return { ...w, entries } as Message;
  }
  if (w.type === 'snapshot' && typeof w.data === 'string') return { ...w, data: unb64(w.data) } as Message;
  return w as Message;
}

class Peer {
  private socket: net.Socket | undefined;
  private connecting = false;
  private backoff = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private corked = false;

  constructor(
    private readonly id: MemberId,
    private readonly addr: PeerAddress,
    private readonly logger: Logger,
  ) {}

  send(buf: Buffer): void {
    const s = this.socket;
    if (!s) {
      this.connect();
      return;
    }
    if (s.writableLength > MAX_BUFFERED) return;
    // Coalesce everything sent in this tick into one write (many small appends and answers would
    // otherwise cost a syscall each).
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(buf);
  }

  backlog(): number {
    return this.socket?.writableLength ?? 0;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): void {
    if (this.connecting || this.closed || this.timer) return;
    this.connecting = true;
    const s = net.connect({ host: this.addr.host, port: this.addr.port });
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connecting = false;
      this.backoff = RECONNECT_MIN_MS;
      this.socket = s;
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      this.connecting = false;
      if (this.closed) return;
      // Try again after a while; messages meanwhile are dropped.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.connect();
      }, this.backoff);
      this.timer.unref();
      this.backoff = Math.min(this.backoff * 2, RECONNECT_MAX_MS);
      this.logger.debug('raft peer connection closed', { peer: this.id });
    });
  }
}

export class TcpTransport implements Transport {
  private server: net.Server | undefined;
  private peers = new Map<MemberId, Peer>();
  private inbound = new Set<net.Socket>();
  private handler: ((m: Message) => void) | undefined;

  constructor(private readonly o: TcpTransportOptions) {
    for (const [id, addr] of o.peers) if (id !== o.id) this.peers.set(id, new Peer(id, addr, o.logger));
  }

  async listen(): Promise<void> {
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.listen.port, this.o.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  send(msgs: readonly Message[]): void {
    for (const m of msgs) this.peers.get(m.to)?.send(encodeMessage(m));
  }

  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
  }

  backlog(to: MemberId): number {
    return this.peers.get(to)?.backlog() ?? 0;
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(s: net.Socket): void {
    this.inbound.add(s);
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let off = 0;
      while (buf.length - off >= HEADER) {
        const len = buf.readUInt32BE(off);
        if (buf.length - off < HEADER + len) break;
        const payload = buf.subarray(off + HEADER, off + HEADER + len);
        const crc = buf.readUInt32BE(off + 4);
        off += HEADER + len;
        let m: Message;
        try {
          if ((crc32(payload) >>> 0) !== crc) throw new Error('checksum mismatch');
          m = decodeMessage(payload);
        } catch (e) {
          this.o.logger.warn('raft: undecodable message; closing the connection', { error: String(e) });
          s.destroy();
          return;
        }
        if (m.to === this.o.id) this.handler?.(m);
      }
      buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
    });
    s.on('error', () => undefined);
    s.on('close', () => this.inbound.delete(s));
  }
}
