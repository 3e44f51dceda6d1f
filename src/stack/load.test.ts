import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StackFileError } from './load.js';
import { container, seed, svc } from './testing.js';

describe('seed files', () => {
  it("seed 002's wordpress stack as printed is refused like docker: the secret is only in a comment", () => {
    assert.throws(
      () => seed('seed002-wordpress.yml'),
      (e: unknown) =>
        e instanceof StackFileError &&
        e.message.endsWith('seed002-wordpress.yml: services.mysql.secrets[0] refers to undefined secret "my-pw"'),
    );
  });

  it("seed 002's wordpress stack with its secrets block uncommented", () => {
    const s = seed('seed002-wordpress-secret.yml');
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(
      s.networks.map((n) => n.body),
      [{ Name: 'wp_my-network', Driver: 'overlay', Labels: { 'com.docker.stack.namespace': 'wp' } }],
    );
    assert.deepEqual(s.secrets, [
      {
        name: 'wp_my-pw',
        body: {
          Name: 'wp_my-pw',
          Labels: { 'com.docker.stack.namespace': 'wp' },
          Data: Buffer.from('s3cret\n').toString('base64'),
        },
      },
    ]);
    const secretRef = {
      File: { Name: 'my-pw', UID: '0', GID: '0', Mode: 0o444 },
      SecretID: '',
      SecretName: 'wp_my-pw',
    };
    assert.deepEqual(svc(s, 'mysql'), {
      Name: 'wp_mysql',
      Labels: { 'com.docker.stack.namespace': 'wp', 'com.docker.stack.image': 'mysql' },
      TaskTemplate: {
        ContainerSpec: {
          Image: 'mysql',
          Labels: { 'com.docker.stack.namespace': 'wp' },
          Env: ['MYSQL_DATABASE=wordpress', 'MYSQL_ROOT_PASSWORD_FILE=/run/secrets/my-pw'],
          Mounts: [
            {
              Type: 'volume',
              Source: 'wp_mysql-data',
              Target: '/var/lib/mysql',
              VolumeOptions: { Labels: { 'com.docker.stack.namespace': 'wp' } },
            },
          ],
          Secrets: [secretRef],
        },
        Resources: {},
        Placement: { Constraints: ['node.role == manager'] },
        Networks: [{ Target: 'wp_my-network', Aliases: ['mysql'] }],
      },
      Mode: { Global: {} },
      EndpointSpec: {},
    });
    const web = svc(s, 'web');
    assert.deepEqual(web.Mode, { Replicated: { Replicas: 3 } });
    assert.deepEqual(web.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3 });
    assert.deepEqual(web.UpdateConfig, { Parallelism: 1, Delay: 10e9, MaxFailureRatio: 0 });
    assert.deepEqual(web.EndpointSpec, {
      Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
    });
    assert.deepEqual(web.DependsOn, [{ Service: 'wp_mysql', Condition: 'service_started' }]);
    assert.deepEqual(web.TaskTemplate.ContainerSpec?.Secrets, [secretRef]);
  });

  it("seed 004's wordpress case: command list, healthcheck, volume, constraint", () => {
    const s = seed('seed004-wordpress.yml');
    assert.deepEqual(container(s, 'db').Args, [
      '--default_authentication_plugin=mysql_native_password',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
    ]);
    assert.deepEqual(container(s, 'wordpress').Healthcheck, {
      Test: ['CMD', 'wget', '-qO', '-', 'http://localhost'],
      Interval: 2e9,
      Timeout: 2e9,
      StartPeriod: 2e9,
      Retries: 3,
    });
    assert.deepEqual(svc(s, 'db').TaskTemplate.Placement, { Constraints: ['node.role == manager'] });
    assert.deepEqual(svc(s, 'wordpress').DependsOn, [{ Service: 'wp_db', Condition: 'service_started' }]);
    assert.deepEqual(
      s.networks.map((n) => n.name),
      ['wp_overlay'],
    );
  });

  it("seed 004's update, rollback and restart policies", () => {
    const web = svc(seed('seed004-healthcheck.yml'), 'web');
    assert.deepEqual(web.Mode, { Replicated: { Replicas: 7 } });
    assert.deepEqual(web.TaskTemplate.RestartPolicy, {
      Condition: 'on-failure',
      Delay: 10e9,
      MaxAttempts: 3,
      Window: 120e9,
    });
    assert.deepEqual(web.UpdateConfig, {
      Parallelism: 2,
      Delay: 10e9,
      FailureAction: 'pause',
      Monitor: 500e6,
      MaxFailureRatio: 0.5,
    });
    assert.deepEqual(web.RollbackConfig, { Parallelism: 1, Monitor: 500e6, MaxFailureRatio: 0 });
  });

  it("seed 004's deploy keys: endpoint modes, labels, placement, resources, global", () => {
    const s = seed('seed004-deploy.yml');
    assert.deepEqual(svc(s, 'wordpress').EndpointSpec?.Mode, 'vip');
    assert.deepEqual(svc(s, 'mysql').EndpointSpec, { Mode: 'dnsrr' });
    assert.deepEqual(svc(s, 'wordpress').Labels, {
      'com.example.description': 'This label will appear on the web service',
      'com.docker.stack.namespace': 'wp',
      'com.docker.stack.image': 'wordpress',
    });
    assert.deepEqual(container(s, 'mysql').Labels, {
      'com.example.description': 'This label will appear on all containers for the web service',
      'com.docker.stack.namespace': 'wp',
    });
    assert.deepEqual(svc(s, 'worker').TaskTemplate.Placement, { MaxReplicas: 1 });
    assert.deepEqual(svc(s, 'worker').TaskTemplate.Networks, [
      { Target: 'wp_backend', Aliases: ['worker'] },
      { Target: 'wp_frontend', Aliases: ['worker'] },
    ]);
    assert.deepEqual(svc(s, 'db').TaskTemplate.Placement, {
      Constraints: ['node.role==manager', 'engine.labels.operatingsystem==ubuntu 18.04'],
      Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }],
    });
    assert.deepEqual(svc(s, 'redis').TaskTemplate.Resources, {
      Limits: { NanoCPUs: 500_000_000, MemoryBytes: 50 * 1024 * 1024 },
      Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 20 * 1024 * 1024 },
    });
    assert.deepEqual(svc(s, 'redis').TaskTemplate.RestartPolicy, {
      Condition: 'on-failure',
      Delay: 5e9,
      MaxAttempts: 3,
      Window: 120e9,
    });
    assert.deepEqual(svc(s, 'global').Mode, { Global: {} });
    // db, redis and global name no network: they share NS_default, which is then created.
    assert.deepEqual(
      s.networks.map((n) => n.name),
      ['wp_backend', 'wp_default', 'wp_frontend', 'wp_overlay'],
    );
  });
});
