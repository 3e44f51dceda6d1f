/** `/swarm*` routes: init, join, leave, inspect, update, unlock key. */
import type { InitRequest, JoinRequest } from '../manager/controlapi/api.js';
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeApi } from '../manager/controlapi/node-api.js';
import type { ClusterSpec } from '../store/types.js';
import { CLUSTER_SPEC, INIT_REQUEST, JOIN_REQUEST, UNLOCK_REQUEST } from './engine-types.js';
import { writeJson } from './errors.js';
import { boolParam, parseVersionParam, type Router } from './router.js';
import { clusterWire } from './wire.js';

export function swarmRoutes(r: Router, node: NodeApi, cluster: ClusterApi): void {
  r.on('POST', '/swarm/init', async (c) => {
    const id = await node.swarmInit(await c.json<InitRequest>(INIT_REQUEST));
    writeJson(c.res, 200, id);
  });
  r.on('POST', '/swarm/join', async (c) => {
    await node.swarmJoin(await c.json<JoinRequest>(JOIN_REQUEST));
    c.res.writeHead(200).end();
  });
  r.on('POST', '/swarm/leave', async (c) => {
    await node.swarmLeave(boolParam(c.query, 'force'));
    c.res.writeHead(200).end();
  });
  r.on('GET', '/swarm', async (c) => {
    writeJson(c.res, 200, clusterWire(await cluster.getCluster(), true));
  });
  r.on('POST', '/swarm/update', async (c) => {
    const version = parseVersionParam(c.query, 'swarm');
    const spec = await c.json<ClusterSpec>(CLUSTER_SPEC);
    await cluster.updateCluster(version, spec, {
      rotateWorkerToken: boolParam(c.query, 'rotateWorkerToken'),
      rotateManagerToken: boolParam(c.query, 'rotateManagerToken'),
      rotateManagerUnlockKey: boolParam(c.query, 'rotateManagerUnlockKey'),
    });
    c.res.writeHead(200).end();
  });
  r.on('GET', '/swarm/unlockkey', async (c) => {
    writeJson(c.res, 200, await cluster.getUnlockKey());
  });
  r.on('POST', '/swarm/unlock', async (c) => {
    const body = await c.json<{ UnlockKey?: string }>(UNLOCK_REQUEST);
    await node.swarmUnlock(body.UnlockKey ?? '');
    c.res.writeHead(200).end();
  });
}
