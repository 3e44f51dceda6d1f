import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkViewSchema } from './messages.js';

describe('NetworkViewSchema', () => {
  it("keeps the swarm's data path port for the agent, and refuses one out of Docker's range", () => {
    const v = { networks: [], services: [], endpoints: [], dataPathPort: 5789 };
    const parsed = NetworkViewSchema.safeParse(JSON.parse(JSON.stringify(v)));
    assert.ok(parsed.success);
    assert.equal(parsed.data.dataPathPort, 5789);
    assert.equal(NetworkViewSchema.safeParse({ ...v, dataPathPort: 80 }).success, false);
    assert.equal(NetworkViewSchema.safeParse({ networks: [], services: [], endpoints: [] }).success, true, 'optional');
  });
});
