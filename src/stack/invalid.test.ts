import { describe, it } from 'node:test';
import { fails } from './testing.js';

const F = '/app/docker-compose.yml';
const svc = (body: string) => `services:\n  web:\n    image: x\n${body}`;

describe('invalid files are refused with the file, the key and the reason', () => {
  const cases: [string, string, string][] = [
    [
      'YAML syntax',
      'services:\n  web:\n    image: [x\n',
      `${F}: not valid YAML: line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ],
    ['not a mapping', '- a\n- b\n', `${F}: the top level must be a mapping`],
    [
      'version 2',
      'version: "2.4"\nservices: {}\n',
      `${F}: version "2.4" is not supported: use a 3.x version or leave version out`,
    ],
    ['unknown top-level key', 'servics: {}\n', `${F}: servics is not a known key here`],
    ['unknown service key', svc('    imagee: y\n'), `${F}: services.web.imagee is not a known key here`],
    [
      'bad service name',
      'services:\n  "web app": {image: x}\n',
      `${F}: services."web app" is not a valid name (it must match ^[a-zA-Z0-9._-]+$)`,
    ],
    [
      'replicas not a number',
      svc('    deploy: {replicas: many}\n'),
      `${F}: services.web.deploy.replicas must be an integer`,
    ],
    [
      'replicas as a list',
      svc('    deploy: {replicas: [1]}\n'),
      `${F}: services.web.deploy.replicas must be an integer or a string`,
    ],
    [
      'environment of the wrong type',
      svc('    environment: 5\n'),
      `${F}: services.web.environment must be a mapping or a list`,
    ],
    [
      'unknown key in a long-syntax port',
      svc('    ports: [{target: 80, publish: 8080}]\n'),
      `${F}: services.web.ports[0].publish is not a known key here`,
    ],
    [
      'bad port range',
      svc('    ports: ["8000-8002:80-81"]\n'),
      `${F}: services.web.ports[0] publishes 3 host port(s) for 2 container port(s) in "8000-8002:80-81"`,
    ],
    [
      'bad protocol',
      svc('    ports: ["80/icmp"]\n'),
      `${F}: services.web.ports[0] has an unknown protocol "icmp" (tcp, udp or sctp)`,
    ],
    [
      'unknown mode',
      svc('    deploy: {mode: sometimes}\n'),
      `${F}: services.web.deploy.mode must be one of: replicated, global, replicated-job, global-job`,
    ],
    [
      'replicas with global',
      svc('    deploy: {mode: global, replicas: 2}\n'),
      `${F}: services.web.deploy.replicas cannot be used with mode global (only replicated and replicated-job)`,
    ],
    [
      'bad duration',
      svc('    stop_grace_period: 10 seconds\n'),
      `${F}: services.web.stop_grace_period must be a duration like 10s or 1m30s, not "10 seconds"`,
    ],
    [
      'bad memory',
      svc('    deploy: {resources: {limits: {memory: lots}}}\n'),
      `${F}: services.web.deploy.resources.limits.memory must be a size like 512M or 1G, not "lots"`,
    ],
    [
      'bad restart condition',
      svc('    deploy: {restart_policy: {condition: always}}\n'),
      `${F}: services.web.deploy.restart_policy.condition must be one of: none, on-failure, any`,
    ],
    [
      'bad update order',
      svc('    deploy: {update_config: {order: random}}\n'),
      `${F}: services.web.deploy.update_config.order must be one of: start-first, stop-first`,
    ],
    [
      'no image',
      'services:\n  web: {command: ["true"]}\n',
      `${F}: services.web.image is required (swarm services run an image; build is not supported)`,
    ],
    [
      'undefined network',
      svc('    networks: [back]\n'),
      `${F}: services.web.networks.back refers to undefined network "back"`,
    ],
    [
      'undefined volume',
      svc('    volumes: ["data:/data"]\n'),
      `${F}: services.web.volumes[0].source refers to undefined volume "data"`,
    ],
    [
      'undefined config',
      svc('    configs: [conf]\n'),
      `${F}: services.web.configs[0] refers to undefined config "conf"`,
    ],
    [
      'secret file missing',
      svc('    secrets: [s]\nsecrets:\n  s: {file: ./s.txt}\n'),
      `${F}: secrets.s.file cannot be read: ENOENT: /app/s.txt`,
    ],
    [
      'external volume with a driver',
      svc('    volumes: ["v:/v"]\nvolumes:\n  v: {external: true, driver: local}\n'),
      `${F}: volumes.v sets both external and driver`,
    ],
    [
      'healthcheck test and disable',
      svc('    healthcheck: {test: [CMD, x], disable: true}\n'),
      `${F}: services.web.healthcheck sets both test and disable`,
    ],
    [
      'forbidden key',
      svc('    mem_limit: 1g\n'),
      `${F}: services.web.mem_limit is not supported by swarm: set resource limits with deploy.resources`,
    ],
    [
      'non-overlay network',
      svc('    networks: [n]\nnetworks:\n  n: {driver: bridge}\n'),
      `${F}: networks.n.driver must be overlay for a swarm stack, not "bridge"`,
    ],
    [
      'depends_on an unknown service',
      svc('    depends_on: [db]\n'),
      `${F}: services.web.depends_on.db refers to undefined service "db"`,
    ],
    [
      'dependency cycle',
      'services:\n  web: {image: x, depends_on: [db]}\n  db: {image: x, depends_on: {web: {condition: service_healthy}}}\n',
      `${F}: dependency cycle: db -> web -> db`,
    ],
    [
      'unknown depends_on condition',
      svc('    depends_on: {db: {condition: service_ready}}\n  db: {image: x}\n'),
      `${F}: services.web.depends_on.db.condition must be one of: service_started, service_healthy, service_completed_successfully`,
    ],
    [
      'unclosed quote in command',
      svc('    command: echo "hi\n'),
      `${F}: services.web.command has an unclosed quote in "echo \\"hi"`,
    ],
    [
      'env_file missing',
      svc('    env_file: web.env\n'),
      `${F}: services.web.env_file cannot be read: ENOENT: /app/web.env`,
    ],
    [
      'duplicate key',
      'services:\n  web: {image: x}\n  web: {image: y}\n',
      `${F}: not valid YAML: line 3, column 3: Map keys must be unique`,
    ],
  ];
  for (const [name, yaml, message] of cases) {
    it(name, () => fails(yaml, message));
  }

  it('an override file is named in its own errors', () => {
    fails(
      ['services:\n  web: {image: x}\n', 'services:\n  web:\n    deploy: {replicas: -1}\n'],
      '/app/override1.yml: services.web.deploy.replicas must be 0 or more',
    );
  });
});
