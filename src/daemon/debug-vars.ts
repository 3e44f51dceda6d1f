/**
 * GET /debug/vars on the Engine API socket: what this node holds in memory, for operators and the
 * security tests (a secret never reaches a node without a task using it), and the Raft member's state.
 */
import type { NodeHost } from './host.js';

export function debugVars(host: NodeHost): Record<string, unknown> {
  const rt = host.runtime;
  const agent = rt ? { agent: { payloads: rt.agent.heldPayloads() } } : {};
  const raft = rt?.mgr?.raft;
  if (!raft) return agent;
  const { role, term, commit, applied } = raft.debugState();
  // The last minute of tick lateness: a blocked event loop shows here before an election does.
  const since = Date.now() - 60_000;
  return {
    ...agent,
    raft: { role, term, leader: raft.leader, commit, applied, tickLagMs: raft.ticks.summary(since) },
    raftTicks: raft.ticks.samples(since),
  };
}
