/**
 * Raft messages on the wire between members: JSON, with entry and snapshot bytes in base64. Every
 * message read from a peer is checked against a schema before the core sees it: a peer is another
 * manager, but a frame that is malformed (a bug, a version mismatch, a compromised member) must cost
 * that connection, not throw inside the core and take this member down.
 */
import { z } from 'zod';
import type { Entry, Message } from './types.js';

/** Largest frame a member accepts: 64 entries of a large store object, or one snapshot part. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const member = z.string().min(1).max(256);
const index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const bytes = z.string().max(MAX_FRAME_BYTES);
const members = z.array(member).max(1024);

const wireEntry = z.object({ t: index, i: index, y: z.enum(['normal', 'noop', 'conf']), d: bytes });
type WireEntry = z.infer<typeof wireEntry>;

const base = { from: member, to: member, term: index };

const wireMessage = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.enum(['preVote', 'vote']),
    lastIndex: index,
    lastTerm: index,
    transfer: z.boolean().optional(),
  }),
  z.object({ ...base, type: z.enum(['preVoteResp', 'voteResp']), reject: z.boolean() }),
  z.object({
    ...base,
    type: z.literal('append'),
    prevIndex: index,
    prevTerm: index,
    entries: z.array(wireEntry).max(100_000),
    commit: index,
  }),
  z.object({
    ...base,
    type: z.literal('appendResp'),
    reject: z.boolean(),
    index,
    hintIndex: index,
    hintTerm: index,
  }),
  z.object({ ...base, type: z.literal('heartbeat'), commit: index, ctx: z.number().int().safe() }),
  z.object({ ...base, type: z.literal('heartbeatResp'), ctx: z.number().int().safe() }),
  z.object({ ...base, type: z.enum(['timeoutNow', 'probe', 'removed']) }),
  z.object({
    ...base,
    type: z.literal('snapshot'),
    snapshot: z.object({ index, term: index, voters: members, learners: members, removed: members.optional() }),
    data: bytes.optional(),
    part: index.optional(),
    last: z.boolean().optional(),
  }),
]);

const b64 = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** The JSON payload of a frame (framing and checksum are the transport's). */
export function encodeMessage(m: Message): Buffer {
  const w: Record<string, unknown> = { ...m };
  if (m.type === 'append')
    w.entries = m.entries.map((e): WireEntry => ({ t: e.term, i: e.index, y: e.type, d: b64(e.data) }));
  if (m.type === 'snapshot' && m.data) w.data = b64(m.data);
  return Buffer.from(JSON.stringify(w));
}

/** Parses and checks a payload; throws (with what is wrong) on anything that is not a valid message. */
export function decodeMessage(payload: Buffer): Message {
  const parsed = wireMessage.safeParse(JSON.parse(payload.toString('utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `invalid raft message: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'bad shape'}`,
    );
  }
  const w = parsed.data;
  if (w.type === 'append') {
    const entries = w.entries.map((e): Entry => ({ term: e.t, index: e.i, type: e.y, data: unb64(e.d) }));
    return { ...w, entries };
  }
  if (w.type === 'snapshot') {
    const { data, ...rest } = w;
    return data === undefined ? rest : { ...rest, data: unb64(data) };
  }
  return w;
}
