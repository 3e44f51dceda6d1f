import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NS, container, load, svc } from './testing.js';

describe('service keys', () => {
  it('a minimal compose-spec file without version: names, labels, default network', () => {
    const s = load('services:\n  web:\n    image: nginx\n');
    assert.deepEqual(s.services, [
      {
        name: 'ns_web',
        spec: {
          Name: 'ns_web',
          Labels: { ...NS, 'com.docker.stack.image': 'nginx' },
          TaskTemplate: {
            ContainerSpec: { Image: 'nginx', Labels: NS },
            Resources: {},
            Placement: {},
            Networks: [{ Target: 'ns_default', Aliases: ['web'] }],
          },
          Mode: { Replicated: {} },
          EndpointSpec: {},
        },
      },
    ]);
    assert.deepEqual(s.networks, [{ name: 'ns_default', body: { Name: 'ns_default', Driver: 'overlay', Labels: NS } }]);
    assert.deepEqual(s.warnings, []);
  });

  it('command and entrypoint: a string is shell-split, a list is kept', () => {
    const s = load(String.raw`
services:
  a:
    image: x
    command: >-
      sh -c 'echo "hi there" # not a comment' --flag=a\ b # comment
    entrypoint: ["/bin/tini", "--"]
  b:
    image: x
    command: ["echo", "$$HOME"]
`);
    assert.deepEqual(container(s, 'a').Args, ['sh', '-c', 'echo "hi there" # not a comment', '--flag=a b']);
    assert.deepEqual(container(s, 'a').Command, ['/bin/tini', '--']);
    assert.deepEqual(container(s, 'b').Args, ['echo', '$HOME']);
  });

  it('environment as list and map, env_file, values from the variables for bare names', () => {
    const s = load(
      `
services:
  a:
    image: x
    env_file: [common.env, {path: missing.env, required: false}]
    environment:
      - A=1
      - FROM_ENV
      - UNSET
      - EMPTY=
  b:
    image: x
    environment:
      N: 3
      T: true
      NIL:
`,
      { FROM_ENV: 'yes', EMPTY: 'filled' },
      { '/app/common.env': '# comment\nA=0\nB="quoted stays"\nexport C=3\n\n' },
    );
    assert.deepEqual(container(s, 'a').Env, [
      'A=1',
      'B="quoted stays"',
      'C=3',
      'EMPTY=filled',
      'FROM_ENV=yes',
      'UNSET',
    ]);
    assert.deepEqual(container(s, 'b').Env, ['N=3', 'NIL', 'T=true']);
  });

  it('labels: deploy.labels on the service, labels on containers (list form too)', () => {
    const s = load(`
services:
  a:
    image: x
    labels: ["c.one=1", "c.two"]
    deploy:
      labels: {s.one: "1"}
`);
    assert.deepEqual(svc(s, 'a').Labels, { 's.one': '1', ...NS, 'com.docker.stack.image': 'x' });
    assert.deepEqual(container(s, 'a').Labels, { 'c.one': '1', 'c.two': '', ...NS });
  });

  it('healthcheck: string, CMD, NONE, disable', () => {
    const s = load(`
services:
  a: {image: x, healthcheck: {test: curl -f http://localhost, interval: 1m30s, timeout: 10s, retries: 5, start_period: 40s}}
  b: {image: x, healthcheck: {test: [CMD, 'true']}}
  c: {image: x, healthcheck: {test: [NONE]}}
  d: {image: x, healthcheck: {disable: true}}
`);
    assert.deepEqual(container(s, 'a').Healthcheck, {
      Test: ['CMD-SHELL', 'curl -f http://localhost'],
      Interval: 90e9,
      Timeout: 10e9,
      StartPeriod: 40e9,
      Retries: 5,
    });
    assert.deepEqual(container(s, 'b').Healthcheck, { Test: ['CMD', 'true'] });
    assert.deepEqual(container(s, 'c').Healthcheck, { Test: ['NONE'] });
    assert.deepEqual(container(s, 'd').Healthcheck, { Test: ['NONE'] });
  });

  it('ports: short syntax, ranges, udp, host IP, long syntax with host mode', () => {
    const s = load(`
services:
  a:
    image: x
    ports:
      - 3000
      - "8000-8001:80-81"
      - "127.0.0.1:53:53/udp"
      - "[::1]:9000:90"
      - target: 443
        published: 8443
        mode: host
      - {target: 5000, protocol: udp}
`);
    const p = (TargetPort: number, PublishedPort?: number, Protocol = 'tcp', PublishMode = 'ingress') => ({
      Protocol,
      TargetPort,
      PublishMode,
      ...(PublishedPort !== undefined ? { PublishedPort } : {}),
    });
    assert.deepEqual(svc(s, 'a').EndpointSpec, {
      Ports: [
        p(3000),
        p(5000, undefined, 'udp'),
        p(53, 53, 'udp'),
        p(80, 8000),
        p(81, 8001),
        p(443, 8443, 'tcp', 'host'),
        p(90, 9000),
      ],
    });
  });

  it('networks: list and map with aliases, external (bool, name:, external.name), name:, options', () => {
    const s = load(`
services:
  a:
    image: x
    networks:
      front: {aliases: [api, www]}
      outside:
      legacy:
      named:
networks:
  front:
    driver_opts: {encrypted: ""}
    attachable: true
    labels: [team=a]
    ipam: {config: [{subnet: 10.9.0.0/24, gateway: 10.9.0.1}]}
  outside: {external: true, name: host-net}
  legacy: {external: {name: old-net}}
  named: {name: custom}
  unused: {}
`);
    assert.deepEqual(svc(s, 'a').TaskTemplate.Networks, [
      { Target: 'custom', Aliases: ['a'] },
      { Target: 'host-net', Aliases: ['a'] },
      { Target: 'ns_front', Aliases: ['api', 'www', 'a'] },
      { Target: 'old-net', Aliases: ['a'] },
    ]);
    assert.deepEqual(s.externalNetworks, ['old-net', 'host-net']);
    assert.deepEqual(s.networks, [
      {
        name: 'ns_front',
        body: {
          Name: 'ns_front',
          Driver: 'overlay',
          Labels: { team: 'a', ...NS },
          Attachable: true,
          Options: { encrypted: '' },
          IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] },
        },
      },
      { name: 'custom', body: { Name: 'custom', Driver: 'overlay', Labels: NS } },
    ]);
  });

  it('volumes: named with driver and labels, external, anonymous, bind (relative, ~), tmpfs, long syntax', () => {
    const s = load(
      `
services:
  a:
    image: x
    volumes:
      - data:/data:ro
      - ext:/ext
      - /anon
      - ./conf:/etc/conf:ro,rshared
      - ~/cache:/cache
      - {type: tmpfs, target: /tmp, tmpfs: {size: 64M}}
      - {type: volume, source: data, target: /nocopy, volume: {nocopy: true}, read_only: true}
      - {type: bind, source: ../shared, target: /shared}
volumes:
  data:
    driver: local
    driver_opts: {type: nfs, o: "addr=10.0.0.1"}
    labels: {backup: "yes"}
  ext: {external: true}
`,
      { HOME: '/home/me' },
    );
    assert.deepEqual(container(s, 'a').Mounts, [
      {
        Type: 'volume',
        Target: '/data',
        ReadOnly: true,
        Source: 'ns_data',
        VolumeOptions: {
          Labels: { backup: 'yes', ...NS },
          DriverConfig: { Name: 'local', Options: { type: 'nfs', o: 'addr=10.0.0.1' } },
        },
      },
      { Type: 'volume', Target: '/ext', Source: 'ext', VolumeOptions: {} },
      { Type: 'volume', Target: '/anon' },
      {
        Type: 'bind',
        Target: '/etc/conf',
        ReadOnly: true,
        Source: '/app/conf',
        BindOptions: { Propagation: 'rshared' },
      },
      { Type: 'bind', Target: '/cache', Source: '/home/me/cache' },
      { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024 } },
      {
        Type: 'volume',
        Target: '/nocopy',
        ReadOnly: true,
        Source: 'ns_data',
        VolumeOptions: {
          NoCopy: true,
          Labels: { backup: 'yes', ...NS },
          DriverConfig: { Name: 'local', Options: { type: 'nfs', o: 'addr=10.0.0.1' } },
        },
      },
      { Type: 'bind', Target: '/shared', Source: '/shared' },
    ]);
  });

  it('secrets and configs: file, external, name:, long syntax, defaults', () => {
    const s = load(
      `
services:
  a:
    image: x
    secrets:
      - db_pw
      - source: api_key
        target: /etc/api.key
        uid: "101"
        gid: "102"
        mode: 0400
    configs:
      - nginx
      - {source: shared, target: /etc/shared.conf, mode: 0440}
secrets:
  db_pw: {file: ./db_pw.txt, labels: {kind: pw}}
  api_key: {external: true, name: prod_api_key}
  unused: {file: /abs/unused}
configs:
  nginx: {file: nginx.conf, name: nginx_v2, template_driver: golang}
  shared: {external: true}
`,
      {},
      { '/app/db_pw.txt': 'pw', '/abs/unused': 'u', '/app/nginx.conf': 'conf' },
    );
    assert.deepEqual(container(s, 'a').Secrets, [
      { File: { Name: 'db_pw', UID: '0', GID: '0', Mode: 0o444 }, SecretID: '', SecretName: 'ns_db_pw' },
      { File: { Name: '/etc/api.key', UID: '101', GID: '102', Mode: 0o400 }, SecretID: '', SecretName: 'prod_api_key' },
    ]);
    assert.deepEqual(container(s, 'a').Configs, [
      { File: { Name: 'nginx', UID: '0', GID: '0', Mode: 0o444 }, ConfigID: '', ConfigName: 'nginx_v2' },
      { File: { Name: '/etc/shared.conf', UID: '0', GID: '0', Mode: 0o440 }, ConfigID: '', ConfigName: 'shared' },
    ]);
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    assert.deepEqual(s.secrets, [
      { name: 'ns_db_pw', body: { Name: 'ns_db_pw', Labels: { kind: 'pw', ...NS }, Data: b64('pw') } },
      { name: 'ns_unused', body: { Name: 'ns_unused', Labels: NS, Data: b64('u') } },
    ]);
    assert.deepEqual(s.configs, [
      { name: 'nginx_v2', body: { Name: 'nginx_v2', Labels: NS, Data: b64('conf'), Templating: { Name: 'golang' } } },
    ]);
    assert.deepEqual(s.externalSecrets, ['prod_api_key']);
    assert.deepEqual(s.externalConfigs, ['shared']);
  });

  it('deploy: every key', () => {
    const s = load(`
services:
  a:
    image: x
    deploy:
      mode: replicated
      replicas: 4
      endpoint_mode: dnsrr
      placement:
        constraints: [node.role==worker]
        preferences: [{spread: node.labels.dc}]
        max_replicas_per_node: 2
      resources:
        limits: {cpus: "1.5", memory: 1G, pids: 100}
        reservations: {cpus: 0.25, memory: 512M}
      restart_policy: {condition: any, delay: 3s, max_attempts: 0, window: 1m}
      update_config: {parallelism: 0, delay: 1s, failure_action: rollback, monitor: 10s, max_failure_ratio: 0.25, order: start-first}
      rollback_config: {parallelism: 3, failure_action: continue, order: stop-first}
  job: {image: x, deploy: {mode: replicated-job, replicas: 5}}
  gjob: {image: x, deploy: {mode: global-job}}
`);
    const a = svc(s, 'a');
    assert.deepEqual(a.Mode, { Replicated: { Replicas: 4 } });
    assert.deepEqual(a.EndpointSpec, { Mode: 'dnsrr' });
    assert.deepEqual(a.TaskTemplate.Placement, {
      Constraints: ['node.role==worker'],
      Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.dc' } }],
      MaxReplicas: 2,
    });
    assert.deepEqual(a.TaskTemplate.Resources, {
      Limits: { NanoCPUs: 1_500_000_000, MemoryBytes: 1024 ** 3, Pids: 100 },
      Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 512 * 1024 ** 2 },
    });
    assert.deepEqual(a.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 3e9, MaxAttempts: 0, Window: 60e9 });
    assert.deepEqual(a.UpdateConfig, {
      Parallelism: 0,
      Delay: 1e9,
      FailureAction: 'rollback',
      Monitor: 10e9,
      MaxFailureRatio: 0.25,
      Order: 'start-first',
    });
    assert.deepEqual(a.RollbackConfig, {
      Parallelism: 3,
      FailureAction: 'continue',
      MaxFailureRatio: 0,
      Order: 'stop-first',
    });
    assert.deepEqual(svc(s, 'job').Mode, { ReplicatedJob: { MaxConcurrent: 5, TotalCompletions: 5 } });
    assert.deepEqual(svc(s, 'gjob').Mode, { GlobalJob: {} });
  });

  it('container options: stop, user, dir, hostname, tty, stdin, read_only, init, caps, sysctls, ulimits, logging, hosts, dns, isolation', () => {
    const s = load(`
services:
  a:
    image: x
    stop_grace_period: 1m30s
    stop_signal: SIGUSR1
    user: "1000:1000"
    working_dir: /srv
    hostname: "{{.Node.Hostname}}"
    tty: true
    stdin_open: true
    read_only: true
    init: true
    cap_add: [net_admin, CAP_SYS_TIME]
    cap_drop: [ALL]
    sysctls: [net.core.somaxconn=1024]
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: 40000}
    logging:
      driver: json-file
      options: {max-size: 10m}
    extra_hosts: ["db:10.0.0.5", "v6=[::1]"]
    dns: 8.8.8.8
    dns_search: [example.com]
    isolation: default
  b:
    image: x
    extra_hosts: {z: 10.0.0.9, a: 10.0.0.8}
`);
    assert.deepEqual(container(s, 'a'), {
      Image: 'x',
      Labels: NS,
      Hostname: '{{.Node.Hostname}}',
      Dir: '/srv',
      User: '1000:1000',
      Init: true,
      TTY: true,
      OpenStdin: true,
      ReadOnly: true,
      StopSignal: 'SIGUSR1',
      StopGracePeriod: 90e9,
      Hosts: ['10.0.0.5 db', '::1 v6'],
      DNSConfig: { Nameservers: ['8.8.8.8'], Search: ['example.com'] },
      Sysctls: { 'net.core.somaxconn': '1024' },
      CapabilityAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
      CapabilityDrop: ['ALL'],
      Isolation: 'default',
      Ulimits: [
        { Name: 'nofile', Soft: 20000, Hard: 40000 },
        { Name: 'nproc', Soft: 65535, Hard: 65535 },
      ],
    });
    assert.deepEqual(svc(s, 'a').TaskTemplate.LogDriver, { Name: 'json-file', Options: { 'max-size': '10m' } });
    assert.deepEqual(container(s, 'b').Hosts, ['10.0.0.8 a', '10.0.0.9 z']);
  });

  it("keys swarm ignores: docker's warnings, sorted", () => {
    const s = load(`
services:
  a:
    image: x
    build: .
    links: [b]
    network_mode: host
    restart: always
    privileged: true
    container_name: a1
    expose: ["80"]
    tmpfs: /run
    x-extra: ignored silently
  b: {image: x, devices: ["/dev/fuse"], security_opt: [label=disable], cgroup_parent: p, userns_mode: host, external_links: [c]}
`);
    assert.deepEqual(s.warnings, [
      'Ignoring unsupported options: build, cgroup_parent, devices, external_links, links, network_mode, privileged, restart, security_opt, tmpfs, userns_mode',
      "Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n\nexpose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
    ]);
    // docker still reads `restart:` when deploy.restart_policy is absent.
    assert.deepEqual(svc(s, 'a').TaskTemplate.RestartPolicy, { Condition: 'any' });
  });

  it('depends_on: short and long syntax become DependsOn', () => {
    const s = load(`
services:
  web: {image: x, depends_on: {db: {condition: service_healthy}, init: {condition: service_completed_successfully}, cache: {condition: service_started, required: false}}}
  api: {image: x, depends_on: [db]}
  db: {image: x}
  init: {image: x, deploy: {mode: replicated-job}}
`);
    assert.deepEqual(svc(s, 'web').DependsOn, [
      { Service: 'ns_db', Condition: 'service_healthy' },
      { Service: 'ns_init', Condition: 'service_completed_successfully' },
    ]);
    assert.deepEqual(svc(s, 'api').DependsOn, [{ Service: 'ns_db', Condition: 'service_started' }]);
    assert.equal(svc(s, 'db').DependsOn, undefined);
  });

  it('YAML: anchors, merge keys and x- extension fields', () => {
    const s = load(`
x-common: &common
  image: busybox
  environment: {A: "1"}
  deploy: {replicas: 2}
services:
  a:
    <<: *common
    environment: {B: "2"}
  b: *common
`);
    assert.deepEqual(container(s, 'a').Env, ['B=2']);
    assert.deepEqual(svc(s, 'a').Mode, { Replicated: { Replicas: 2 } });
    assert.deepEqual(container(s, 'b').Env, ['A=1']);
  });
});
