/** Properties of the pure placement function, over random clusters. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { NodeId, ServiceId, TaskId } from '../../common/ids.js';
import type { NodeObject, TaskObject } from '../../store/types.js';
import { constraintsHold, parseConstraints } from './constraint.js';
import { schedule } from './pipeline.js';

const node = (i: number, zone: string, role: 'manager' | 'worker'): NodeObject => ({
  ID: `n${i}` as NodeId,
  Version: { Index: 1 },
  CreatedAt: 0,
  UpdatedAt: 0,
  Spec: { Labels: { zone }, Role: role, Availability: 'active' },
  Description: {
    Hostname: `h${i}`,
    Platform: { Architecture: 'x86_64', OS: 'linux' },
    Resources: { NanoCPUs: 4e9, MemoryBytes: 8e9 },
    Engine: { EngineVersion: '', Plugins: [] },
  },
  Status: { State: 'ready', Addr: `10.0.0.${i + 1}` },
});

const task = (i: number, constraints: string[]): TaskObject => ({
  ID: `t${i}` as TaskId,
  Version: { Index: 1 },
  CreatedAt: i,
  UpdatedAt: i,
  ServiceID: 's' as ServiceId,
  Slot: i + 1,
  Spec: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: constraints } },
  SpecVersion: 1,
  ServiceAnnotations: { Name: 's', Labels: {} },
  Annotations: { Name: '' },
  Status: { Timestamp: 0, State: 'pending', Message: '' },
  DesiredState: 'running',
});

describe('placement properties', () => {
  it('never places a task where its constraints do not hold', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            zone: fc.constantFrom('a', 'b', 'c'),
            role: fc.constantFrom('manager' as const, 'worker' as const),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(
          fc.constantFrom(
            'node.labels.zone==a',
            'node.labels.zone!=b',
            'node.role==worker',
            'node.role!=manager',
            'node.hostname!=h0',
          ),
          { maxLength: 2 },
        ),
        fc.integer({ min: 1, max: 20 }),
        (specs, constraints, n) => {
          const nodes = specs.map((s, i) => node(i, s.zone, s.role));
          const tasks = Array.from({ length: n }, (_, i) => task(i, constraints));
          for (const d of schedule(nodes, [], tasks)) {
            if (d.kind !== 'assign') {
              assert.ok(
                nodes.every((x) => !constraintsHold(parseConstraints(constraints), x)),
                'pending only when no node fits',
              );
              continue;
            }
            assert.ok(
              constraintsHold(
                parseConstraints(constraints),
                nodes.find((x) => x.ID === d.nodeId)!,
              ),
            );
          }
        },
      ),
    );
  });

  it('spreads over equally eligible nodes within one task', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 60 }), (k, n) => {
        const nodes = Array.from({ length: k }, (_, i) => node(i, 'a', 'worker'));
        const counts = new Map<string, number>(nodes.map((x) => [x.ID, 0]));
        for (const d of schedule(
          nodes,
          [],
          Array.from({ length: n }, (_, i) => task(i, [])),
        )) {
          if (d.kind === 'assign') counts.set(d.nodeId, counts.get(d.nodeId)! + 1);
        }
        const values = [...counts.values()];
        assert.ok(Math.max(...values) - Math.min(...values) <= 1, values.join(','));
      }),
    );
  });
});
