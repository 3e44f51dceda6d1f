import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterObject } from '../../store/types.js';
import { networkViewFor } from './network-view.js';

const none = { tasks: [], services: [], networks: [], nodes: [] };

describe('networkViewFor', () => {
  it("carries the swarm's data path port to every node (4789 without a cluster object)", () => {
    const cluster = { DataPathPort: 5789 } as ClusterObject;
    const v = networkViewFor('n1', [], { ...none, clusters: [cluster] });
    assert.deepEqual(v, { networks: [], services: [], endpoints: [], dataPathPort: 5789 });
    assert.equal(networkViewFor('n1', [], none).dataPathPort, 4789);
  });
});
