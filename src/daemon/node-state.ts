/**
 * What a host remembers about its own membership across restarts: its node id, its cluster, its role
 * and addresses. Written atomically; its absence means the node is not in a swarm.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';

export interface NodeState {
  format: 1;
  nodeId: string;
  clusterId: string;
  role: 'manager' | 'worker';
  listenAddr: string;
  advertiseAddr: string;
  /** The manager that initialized the swarm: the Raft group started with it as its only voter. */
  bootstrap?: boolean;
  /** Managers this node knows, with their cluster addresses (where a worker finds a dispatcher). */
  managers?: { nodeId: string; addr: string }[];
}

const FILE = 'node-state.json';

export async function loadNodeState(dataRoot: string): Promise<NodeState | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dataRoot, FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const s = JSON.parse(text) as NodeState;
  if (s.format !== 1) throw new Error(`${FILE}: unsupported format ${String(s.format)}`);
  return s;
}

export async function saveNodeState(dataRoot: string, s: NodeState): Promise<void> {
  await mkdir(dataRoot, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path.join(dataRoot, FILE), JSON.stringify(s, null, 2));
}

/** Forgets the swarm: identity and cluster state (swarm leave). */
export async function wipeSwarmState(dataRoot: string): Promise<void> {
  await rm(path.join(dataRoot, FILE), { force: true });
  await rm(path.join(dataRoot, 'raft'), { recursive: true, force: true });
  await rm(path.join(dataRoot, 'worker'), { recursive: true, force: true });
  await rm(path.join(dataRoot, 'certificates'), { recursive: true, force: true });
}

/** Forgets this node's Raft data and its key (a demoted manager). */
export async function wipeRaftState(dataRoot: string): Promise<void> {
  await rm(path.join(dataRoot, 'raft'), { recursive: true, force: true });
  await rm(path.join(dataRoot, 'certificates', 'raft-dek.json'), { force: true });
}
