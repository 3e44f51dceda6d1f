import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goDuration, humanDuration } from './format/humanize.js';
import { renderTable } from './format/table.js';
import { formatList, renderTemplate } from './format/template.js';
import { parseDuration, parseMemory, parseMount, parsePublish, parseUint } from './opts.js';
import { slotStates, waitForConvergence, type ProgressIo } from './progress.js';
import { applyUpdateFlags } from './commands/service.js';
import { specFromCreateFlags } from './commands/service-spec.js';
import type { ApiClient } from './client.js';

describe('flag parsing', () => {
  it('parses durations, memory and ports like docker', () => {
    assert.equal(parseDuration('1m30s'), 90e9);
    assert.equal(parseDuration('500ms'), 5e8);
    assert.throws(() => parseDuration('10'), /invalid duration/);
    assert.equal(parseUint('--snapshot-interval', '40'), 40);
    for (const bad of ['abc', '-1', '1.5', ''])
      assert.throws(
        () => parseUint('--snapshot-interval', bad),
        new RegExp(`invalid argument "${bad}" for "--snapshot-interval" flag: strconv.ParseUint`),
      );
    assert.equal(parseMemory('64M'), 64 * 1024 * 1024);
    assert.equal(parseMemory('1g'), 1024 ** 3);
    assert.deepEqual(parsePublish('8080:80'), {
      Protocol: 'tcp',
      TargetPort: 80,
      PublishedPort: 8080,
      PublishMode: 'ingress',
    });
    assert.deepEqual(parsePublish('published=8080,target=80,mode=host'), {
      Protocol: 'tcp',
      TargetPort: 80,
      PublishedPort: 8080,
      PublishMode: 'host',
    });
    assert.deepEqual(parseMount('type=bind,src=/a,dst=/b,readonly'), {
      Type: 'bind',
      Source: '/a',
      Target: '/b',
      ReadOnly: true,
    });
  });

  it('builds the create body docker sends', () => {
    const spec = specFromCreateFlags({ name: 'web', replicas: '3', label: ['a=b'], publish: ['18080:80'] }, 'busybox', [
      'sleep',
      '3600',
    ]);
    assert.deepEqual(spec.Mode, { Replicated: { Replicas: 3 } });
    assert.deepEqual(spec.TaskTemplate.ContainerSpec?.Args, ['sleep', '3600']);
    assert.deepEqual(spec.Labels, { a: 'b' });
    assert.equal(spec.EndpointSpec?.Ports?.[0]?.PublishedPort, 18080);
  });

  it('applies update flags on top of the current spec', () => {
    const base = specFromCreateFlags({ name: 'web', env: ['A=1', 'B=2'] }, 'img:1', []);
    const next = applyUpdateFlags(structuredClone(base), {
      image: 'img:2',
      force: true,
      envAdd: ['A=9'],
      envRm: ['B'],
      labelAdd: [],
      labelRm: [],
      containerLabelAdd: [],
      containerLabelRm: [],
      constraintAdd: ['node.role==worker'],
      constraintRm: [],
      placementPrefAdd: [],
      placementPrefRm: [],
      mountAdd: [],
      mountRm: [],
      publishAdd: [],
      publishRm: [],
      updateParallelism: '2',
      updateOrder: 'start-first',
    });
    assert.equal(next.TaskTemplate.ContainerSpec?.Image, 'img:2');
    assert.equal(next.TaskTemplate.ForceUpdate, 1);
    assert.deepEqual(next.TaskTemplate.ContainerSpec?.Env, ['A=9']);
    assert.deepEqual(next.TaskTemplate.Placement?.Constraints, ['node.role==worker']);
    assert.deepEqual(next.UpdateConfig, { Parallelism: 2, Order: 'start-first' });
  });
});

describe('output formatting', () => {
  it('words durations like docker', () => {
    assert.equal(humanDuration(300), 'Less than a second');
    assert.equal(humanDuration(5_000), '5 seconds');
    assert.equal(humanDuration(70_000), 'About a minute');
    assert.equal(humanDuration(3 * 3_600_000), '3 hours');
    assert.equal(goDuration(5e9), '5s');
    assert.equal(goDuration(90e9), '1m30s');
    assert.equal(goDuration(7.776e15), '2160h0m0s');
  });

  it("aligns tables like Go's tabwriter (min width 10, padding 3)", () => {
    assert.equal(
      renderTable([
        ['ID', 'NAME'],
        ['abc', 'web'],
      ]),
      'ID        NAME\nabc       web\n',
    );
    // An empty last cell still pads the one before it, as docker's tabwriter does.
    assert.equal(
      renderTable([
        ['ID', 'PORTS'],
        ['abc', ''],
      ]),
      'ID        PORTS\nabc       \n',
    );
  });

  it('evaluates --format templates', () => {
    assert.equal(
      renderTemplate('{{.Spec.Name}} {{json .Spec.Labels}}', { Spec: { Name: 'web', Labels: { a: 'b' } } }),
      'web {"a":"b"}',
    );
    assert.equal(
      formatList('table {{.Name}}\t{{.Replicas}}', [{ Name: 'web', Replicas: '3/3' }], {
        Name: 'NAME',
        Replicas: 'REPLICAS',
      }),
      'NAME      REPLICAS\nweb       3/3\n',
    );
  });
});

describe('progress', () => {
  it('picks per slot the task with the lowest desired state, then the highest state', () => {
    const svc = { ID: 's', Spec: { Name: 'web', Mode: { Replicated: { Replicas: 2 } } } };
    const nodes = [{ ID: 'n1', Status: { State: 'ready' } }];
    const tasks = [
      { ID: 'a', Slot: 1, NodeID: 'n1', DesiredState: 'shutdown', Status: { State: 'running' } },
      { ID: 'b', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'preparing' } },
      { ID: 'c', Slot: 2, NodeID: 'n1', DesiredState: 'running', Status: { State: 'running' } },
    ];
    assert.deepEqual(
      slotStates(svc, tasks, nodes).map((s) => `${s.key}:${s.state}`),
      ['1:preparing', '2:running'],
    );
  });

  it('shows overall progress until converged, then verifies for the monitor period', async () => {
    let t = 0;
    const steps = [
      [{ ID: 'a', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'starting' } }],
      [{ ID: 'a', Slot: 1, NodeID: 'n1', DesiredState: 'running', Status: { State: 'running' } }],
    ];
    let call = 0;
    const api = {
      get: async (path: string) => {
        if (path.startsWith('/services/'))
          return {
            ID: 's',
            Spec: { Name: 'web', Mode: { Replicated: { Replicas: 1 } }, UpdateConfig: { Monitor: 1e9 } },
          };
        if (path.startsWith('/tasks')) return steps[Math.min(call++, steps.length - 1)];
        return [{ ID: 'n1', Status: { State: 'ready' } }];
      },
    } as unknown as ApiClient;
    let text = '';
    const io: ProgressIo = {
      write: (s) => (text += s),
      isTTY: false,
      sleep: async (ms) => void (t += ms),
      now: () => t,
    };
    await waitForConvergence(api, 's', 'web', io);
    assert.match(text, /overall progress: 0 out of 1 tasks/);
    assert.match(text, /overall progress: 1 out of 1 tasks/);
    assert.match(text, /verify: Waiting 1 seconds to verify that tasks are stable\.\.\./);
    assert.match(text, /verify: Service web converged\n$/);
  });
});
