/** `/nodes*` routes. */
import type { ClusterApi } from '../manager/controlapi/methods.js';
import type { NodeSpec } from '../store/types.js';
import { NODE_SPEC } from './engine-types.js';
import { writeJson } from './errors.js';
import { labelsMatch, matchAny, parseFilters } from './filters.js';
import { boolParam, parseVersionParam, type Router } from './router.js';
import { nodeWire } from './wire.js';

const NODE_FILTERS = ['id', 'label', 'node.label', 'membership', 'name', 'role'];

export function nodeRoutes(r: Router, control: ClusterApi): void {
  r.on('GET', '/nodes', async (c) => {
    const f = parseFilters(c.query.get('filters'), NODE_FILTERS);
    const nodes = (await control.listNodes()).filter(
      (n) =>
        matchAny(f, 'id', (v) => n.ID.startsWith(v)) &&
        matchAny(f, 'name', (v) => (n.Spec.Name || n.Description.Hostname).startsWith(v)) &&
        matchAny(f, 'role', (v) => n.Spec.Role === v) &&
        matchAny(f, 'membership', (v) => v === 'accepted') &&
        labelsMatch(f, 'label', n.Description.Engine.Labels) &&
        labelsMatch(f, 'node.label', n.Spec.Labels),
    );
    writeJson(
      c.res,
      200,
      nodes.map((n) => nodeWire(n)),
    );
  });
  r.on('GET', '/nodes/{id}', async (c) => {
    writeJson(c.res, 200, nodeWire(await control.getNode(c.params.id!)));
  });
  r.on('DELETE', '/nodes/{id}', async (c) => {
    await control.removeNode(c.params.id!, boolParam(c.query, 'force'));
    c.res.writeHead(200).end();
  });
  r.on('POST', '/nodes/{id}/update', async (c) => {
    const version = parseVersionParam(c.query, 'node');
    const node = await control.getNode(c.params.id!);
    await control.updateNode(node.ID, version, await c.json<NodeSpec>(NODE_SPEC));
    c.res.writeHead(200).end();
  });
}
