import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NodeId } from '../../common/ids.js';
import { Harness } from '../testing/harness.js';
import { MAX_ATTACHMENTS_PER_NODE } from './network-attachment.js';

let h: Harness;
beforeEach(async () => {
  h = new Harness();
  await h.start();
});
afterEach(() => h.stop());

describe('network attachments (attachable overlays)', () => {
  it('gives a node an address on an attachable network, refuses others, releases, and caps a node', async () => {
    const node = (await h.addNode({ hostname: 'w1' })) as NodeId;
    await h.control.createNetwork({
      Name: 'att',
      Driver: 'overlay',
      Attachable: true,
      IPAM: { Config: [{ Subnet: '10.20.0.0/20' }] },
    });
    await h.control.createNetwork({ Name: 'plain', Driver: 'overlay' });
    const a = await h.control.attachNetwork({ NodeID: node, Target: 'att', AttachmentID: 'a1', ContainerID: 'c1' });
    assert.equal(a.Name, 'att');
    assert.match(a.Address, /^10\.20\.0\.\d+\/20$/);
    const again = await h.control.attachNetwork({ NodeID: node, Target: 'att', AttachmentID: 'a1' });
    assert.equal(again.Address, a.Address, 'the same attachment id is the same address');
    await assert.rejects(
      h.control.attachNetwork({ NodeID: node, Target: 'plain', AttachmentID: 'a2' }),
      /PermissionDenied desc = network plain not manually attachable/,
    );
    await h.control.detachNetwork({ NodeID: node, ContainerID: 'c1' });
    assert.deepEqual((await h.control.getNode(node)).ContainerAttachments ?? [], []);

    for (let i = 0; i < MAX_ATTACHMENTS_PER_NODE; i++)
      await h.control.attachNetwork({ NodeID: node, Target: 'att', AttachmentID: `x${i}` });
    await assert.rejects(
      h.control.attachNetwork({ NodeID: node, Target: 'att', AttachmentID: 'onemore' }),
      new RegExp(
        `FailedPrecondition desc = node ${node} already holds ${MAX_ATTACHMENTS_PER_NODE} network attachments`,
      ),
    );
  });
});
