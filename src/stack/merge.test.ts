import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { container, load, svc } from './testing.js';

const BASE = `
version: "3.8"
services:
  web:
    image: app:1
    command: ["serve", "--port=80"]
    environment: {A: "1", B: "1"}
    labels: {l1: a}
    ports: ["80:80", "443:443", "9000"]
    volumes: ["data:/data", "./logs:/logs"]
    secrets: [s1, {source: s2, target: two}]
    dns: [1.1.1.1]
    networks: {front: {aliases: [w]}}
    logging: {driver: json-file, options: {max-size: 1m}}
    ulimits: {nofile: {soft: 1, hard: 2}}
    healthcheck: {test: [CMD, a], interval: 5s}
    deploy:
      replicas: 2
      labels: {d1: a}
      resources: {limits: {memory: 1G}}
      update_config: {parallelism: 2}
  db:
    image: db
volumes:
  data: {driver: local}
networks:
  front: {labels: {v: "1"}}
secrets:
  s1: {file: s1}
  s2: {file: s2}
`;

const OVERRIDE = `
services:
  web:
    image: app:2
    command: serve
    environment: {B: "2", C: "2"}
    labels: {l2: b}
    ports: [{target: 8080, published: 80}, "9000"]
    volumes: [{type: volume, source: data, target: /data, read_only: true}]
    secrets: [{source: s2, target: deux}]
    dns: [8.8.8.8]
    networks: {front: {aliases: [v]}}
    logging: {options: {max-file: "3"}}
    ulimits: {nofile: 5}
    healthcheck: {test: [CMD, b]}
    deploy:
      labels: {d2: b}
      resources: {limits: {cpus: "0.5"}}
  cache:
    image: redis
volumes:
  data: {}
networks:
  front: {labels: {w: "2"}}
`;

describe('override files', () => {
  const s = load([BASE, OVERRIDE], {}, { '/app/s1': '1', '/app/s2': '2' });
  const web = svc(s, 'web');
  const c = container(s, 'web');

  it('scalars and command are replaced, maps merge', () => {
    assert.equal(c.Image, 'app:2');
    assert.deepEqual(c.Args, ['serve']);
    assert.deepEqual(c.Env, ['A=1', 'B=2', 'C=2']);
    assert.deepEqual(c.Labels, { l1: 'a', l2: 'b', 'com.docker.stack.namespace': 'ns' });
    assert.deepEqual(web.Labels, {
      d1: 'a',
      d2: 'b',
      'com.docker.stack.namespace': 'ns',
      'com.docker.stack.image': 'app:2',
    });
    assert.deepEqual(web.Mode, { Replicated: { Replicas: 2 } });
    assert.deepEqual(web.UpdateConfig, { Parallelism: 2, MaxFailureRatio: 0 });
    assert.deepEqual(web.TaskTemplate.Resources, { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 1024 ** 3 } });
    assert.deepEqual(c.Healthcheck, { Test: ['CMD', 'b'], Interval: 5e9 });
  });

  it('ports merge by published port, volumes by target, secrets by source; other lists append', () => {
    assert.deepEqual(web.EndpointSpec?.Ports, [
      { Protocol: 'tcp', TargetPort: 9000, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 8080, PublishedPort: 80, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 443, PublishedPort: 443, PublishMode: 'ingress' },
    ]);
    assert.deepEqual(
      c.Mounts?.map((m) => [m.Target, m.Source, m.ReadOnly ?? false]),
      [
        ['/data', 'ns_data', true],
        ['/logs', '/app/logs', false],
      ],
    );
    assert.deepEqual(
      c.Secrets?.map((x) => [x.SecretName, x.File.Name]),
      [
        ['ns_s1', 's1'],
        ['ns_s2', 'deux'],
      ],
    );
    assert.deepEqual(c.DNSConfig, { Nameservers: ['1.1.1.1', '8.8.8.8'] });
  });

  it('logging with the same driver merges options; ulimits and network aliases are replaced', () => {
    assert.deepEqual(web.TaskTemplate.LogDriver, { Name: 'json-file', Options: { 'max-size': '1m', 'max-file': '3' } });
    assert.deepEqual(c['Ulimits'], [{ Name: 'nofile', Soft: 5, Hard: 5 }]);
    assert.deepEqual(web.TaskTemplate.Networks, [{ Target: 'ns_front', Aliases: ['v', 'web'] }]);
  });

  it('new services are added; top-level definitions are replaced per name', () => {
    assert.deepEqual(
      s.services.map((x) => x.name),
      ['ns_cache', 'ns_db', 'ns_web'],
    );
    assert.deepEqual(c.Mounts?.[0]?.VolumeOptions, { Labels: { 'com.docker.stack.namespace': 'ns' } });
    assert.deepEqual(s.networks.find((n) => n.name === 'ns_front')?.body.Labels, {
      w: '2',
      'com.docker.stack.namespace': 'ns',
    });
  });

  it('a logging driver change replaces the options', () => {
    const t = load(
      [BASE, 'services:\n  web:\n    logging: {driver: syslog}\n'],
      {},
      { '/app/s1': '1', '/app/s2': '2' },
    );
    assert.deepEqual(svc(t, 'web').TaskTemplate.LogDriver, { Name: 'syslog' });
  });
});
