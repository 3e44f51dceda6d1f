/**
 * Raft messages between members over TCP (the static-peer bootstrap: ids and addresses known up
 * front, plaintext). One outbound connection per peer, reconnected with backoff; frames are
 * [u32 length][u32 crc32][json] (wire.ts, which checks every message read). A message that cannot be
 * sent now is dropped: Raft retries on its own (heartbeats, probes, snapshot resends), so queueing
 * for a dead peer would only waste memory.
 */
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { frame, HEADER } from '../common/record.js';
import type { Logger } from '../common/logging.js';
import type { Transport } from './node.js';
import type { MemberId, Message } from './types.js';
import { decodeMessage, encodeMessage, MAX_FRAME_BYTES } from './wire.js';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface TcpTransportOptions {
  id: MemberId;
  /** Where to listen; without it, connections are handed in through `accept` (the cluster port). */
  listen?: PeerAddress;
  /** Static peers (the bootstrap), or where a member is now (membership from the store). */
  peers: ReadonlyMap<MemberId, PeerAddress> | ((id: MemberId) => PeerAddress | undefined);
  /** Opens a connection to member `id` (plain TCP by default; TLS on the cluster port) and names its ready event. */
  dial?: (addr: PeerAddress, id: MemberId) => { socket: net.Socket; readyEvent: 'connect' | 'secureConnect' };
  logger: Logger;
}

const plainDial = (a: PeerAddress): { socket: net.Socket; readyEvent: 'connect' } => ({
  socket: net.connect({ host: a.host, port: a.port }),
  readyEvent: 'connect',
});

/** Above this many unsent bytes on a connection, further messages to that peer are dropped. */
const MAX_BUFFERED = 64 * 1024 * 1024;
const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 2000;

class Peer {
  private socket: net.Socket | undefined;
  private connecting = false;
  private backoff = RECONNECT_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly id: MemberId,
    private readonly addr: () => PeerAddress | undefined,
    private readonly dial: NonNullable<TcpTransportOptions['dial']>,
    private readonly logger: Logger,
  ) {}

  /**
   * Writes a batch of frames with one syscall, now: not deferred to the next tick, because the caller
   * (a leader about to write its WAL) may lose the CPU to the disk write's wake-up of a pool thread
   * on a busy machine, and its appends should be on their way to the followers by then.
   */
  send(bufs: readonly Buffer[]): void {
    const s = this.socket;
    if (!s) {
      this.connect();
      return;
    }
    if (s.writableLength > MAX_BUFFERED) return;
    if (bufs.length === 1) {
      s.write(bufs[0]!);
      return;
    }
    s.cork();
    for (const b of bufs) s.write(b);
    s.uncork();
  }

  backlog(): number {
    return this.socket?.writableLength ?? 0;
  }

  /** Resolves true once the queued bytes fall to `below` (on 'drain'), false on close or timeout. */
  whenDrained(below: number, timeoutMs: number): Promise<boolean> {
    const s = this.socket;
    if (!s || s.writableLength <= below) return Promise.resolve(s !== undefined);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        s.off('drain', onDrain);
        s.off('close', onClose);
        resolve(ok);
      };
      const onDrain = (): void => {
        if (s.writableLength <= below) done(true);
      };
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      s.on('drain', onDrain);
      s.once('close', onClose);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): void {
    if (this.connecting || this.closed || this.timer) return;
    const addr = this.addr();
    if (!addr) return;
    this.connecting = true;
    const { socket: s, readyEvent } = this.dial(addr, this.id);
    s.setNoDelay(true);
    s.on(readyEvent, () => {
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
    if (typeof o.peers !== 'function') for (const id of o.peers.keys()) this.peer(id);
  }

  async listen(): Promise<void> {
    if (!this.o.listen) return;
    const listen = this.o.listen;
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** One write per peer for all of its messages. */
  send(msgs: readonly Message[]): void {
    const byPeer = new Map<Peer, Buffer[]>();
    for (const m of msgs) {
      const p = this.peer(m.to);
      if (!p) continue;
      const bufs = byPeer.get(p);
      const f = frame(encodeMessage(m));
      if (bufs) bufs.push(f);
      else byPeer.set(p, [f]);
    }
    for (const [p, bufs] of byPeer) p.send(bufs);
  }

  onMessage(handler: (m: Message) => void): void {
    this.handler = handler;
  }

  backlog(to: MemberId): number {
    return this.peers.get(to)?.backlog() ?? 0;
  }

  whenDrained(to: MemberId, below: number, timeoutMs: number): Promise<boolean> {
    return this.peers.get(to)?.whenDrained(below, timeoutMs) ?? Promise.resolve(false);
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private peer(id: MemberId): Peer | undefined {
    if (id === this.o.id) return undefined;
    let p = this.peers.get(id);
    if (!p) {
      const peers = this.o.peers;
      const addr =
        typeof peers === 'function'
          ? (): PeerAddress | undefined => peers(id)
          : (): PeerAddress | undefined => peers.get(id);
      if (!addr()) return undefined;
      p = new Peer(id, addr, this.o.dial ?? plainDial, this.o.logger);
      this.peers.set(id, p);
    }
    return p;
  }

  /** Drops the connection to a member that left (and its reconnect timer). */
  forget(id: MemberId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  /**
   * Reads Raft frames from an inbound connection. `from`, when given (the certified peer on the
   * cluster port), is the only sender the connection may speak for.
   */
  accept(s: net.Socket, from?: MemberId): void {
    this.inbound.add(s);
    s.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let off = 0;
      while (buf.length - off >= HEADER) {
        const len = buf.readUInt32BE(off);
        if (len > MAX_FRAME_BYTES) {
          this.o.logger.warn('raft: a frame larger than any message; closing the connection', { bytes: len });
          s.destroy();
          return;
        }
        if (buf.length - off < HEADER + len) break;
        const payload = buf.subarray(off + HEADER, off + HEADER + len);
        const crc = buf.readUInt32BE(off + 4);
        off += HEADER + len;
        let m: Message;
        try {
          if (crc32(payload) >>> 0 !== crc) throw new Error('checksum mismatch');
          m = decodeMessage(payload);
        } catch (e) {
          this.o.logger.warn('raft: undecodable message; closing the connection', { error: String(e) });
          s.destroy();
          return;
        }
        if (from !== undefined && m.from !== from) {
          this.o.logger.warn("raft: a peer sent a message in another member's name; closing the connection", {
            peer: from,
            claimed: m.from,
          });
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
