/**
 * `shoal lab`: the seeds' docker-machine hosts, as network namespaces on this machine. Each host has
 * its own network namespace (an address on the lab's bridge), its own UTS namespace (so its hostname
 * is its name), its own containerd and dockerd (own data, exec root and cgroup parent, test images
 * loaded) and its own `shoal daemon`. Everything a lab makes is recorded in its state file so that
 * `lab down` removes exactly that, even after a crash.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  alive,
  kill9,
  LabError,
  pidsInCgroup,
  pidsWithCmdline,
  processTree,
  run,
  sleep,
  startDetached,
  waitGone,
} from './sys.js';

const RUN_ROOT = '/run/shoal-lab';
const DATA_ROOT = '/var/lib/shoal-lab';
const SHOAL_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/shoal');
export const TEST_IMAGES = ['shoal-test/busybox:1', 'shoal-test/busybox:2', 'shoal-test/fail:1', 'shoal-test/httpd:1'];

export interface LabHost {
  name: string;
  role: 'manager' | 'worker';
  ip: string;
  netns: string;
  /** Host side of the veth pair, on the lab bridge. */
  veth: string;
  run: string;
  data: string;
  pids: { containerd?: number; dockerd?: number; shoal?: number };
  /** Hosts cut off by `lab partition` (their iptables drop the rest of the lab). */
  partitioned?: boolean;
}

export interface LabState {
  format: 1;
  name: string;
  index: number;
  bridge: string;
  subnet: string;
  gateway: string;
  hosts: LabHost[];
  /** The token manager1's visualizer asks for (it listens on the lab address, beyond loopback). */
  uiToken?: string;
}

/** Where manager1 serves the visualizer (not 8080: stacks publish that through the routing mesh). */
const UI_PORT = 9080;

/** The visualizer's address with its token, or undefined for a lab without one. */
export function labUiUrl(s: LabState): string | undefined {
  const m = s.hosts[0];
  return m && s.uiToken ? `http://${m.ip}:${UI_PORT}/?token=${s.uiToken}` : undefined;
}

const stateFile = (name: string): string => path.join(RUN_ROOT, name, 'state.json');

export function loadLab(name: string): LabState {
  if (!existsSync(stateFile(name))) throw new LabError(`lab ${name} does not exist (see \`shoal lab ls\`)`);
  return JSON.parse(readFileSync(stateFile(name), 'utf8')) as LabState;
}

function saveLab(s: LabState): void {
  mkdirSync(path.dirname(stateFile(s.name)), { recursive: true });
  writeFileSync(stateFile(s.name), JSON.stringify(s, null, 2));
}

export function listLabs(): LabState[] {
  if (!existsSync(RUN_ROOT)) return [];
  return readdirSync(RUN_ROOT)
    .filter((n) => existsSync(stateFile(n)))
    .map(loadLab);
}

export function host(s: LabState, name: string): LabHost {
  const h = s.hosts.find((x) => x.name === name);
  if (!h) throw new LabError(`lab ${s.name} has no host ${name} (hosts: ${s.hosts.map((x) => x.name).join(', ')})`);
  return h;
}

const sock = (h: LabHost, what: 'containerd' | 'docker' | 'shoal'): string => path.join(h.run, `${what}.sock`);
export const shoalHost = (h: LabHost): string => `unix://${sock(h, 'shoal')}`;
const dockerHost = (h: LabHost): string => `unix://${sock(h, 'docker')}`;
const utsFile = (h: LabHost): string => path.join(h.run, 'uts');
const cgroupParent = (s: LabState, h: LabHost): string => `shoal-lab-${s.index}-${h.name}`;

/** Runs a command inside a host: its network and UTS namespaces, DOCKER_HOST at its shoal daemon. */
export function nsenterArgs(h: LabHost, cmd: string[]): string[] {
  return [`--net=/var/run/netns/${h.netns}`, `--uts=${utsFile(h)}`, ...cmd];
}

function docker(hostUrl: string, args: string[], opts: { input?: Buffer; allowFail?: boolean } = {}): string {
  return run('docker', args, { ...opts, env: { ...process.env, DOCKER_HOST: hostUrl } });
}

async function waitForApi(hostUrl: string, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      docker(hostUrl, ['version', '--format', '{{.Server.Version}}']);
      return;
    } catch (e) {
      if (Date.now() > end) throw new LabError(`${what} did not answer on ${hostUrl}: ${(e as Error).message}`);
      await sleep(200);
    }
  }
}

function freeIndex(): number {
  const used = new Set(listLabs().map((l) => l.index));
  for (let i = 1; i < 250; i++) if (!used.has(i)) return i;
  throw new LabError('too many labs');
}

export interface UpOptions {
  name: string;
  managers: number;
  workers: number;
  /** false: hosts only, no swarm formed (to form one another way, e.g. Docker's own on the hosts' engines). */
  swarm?: boolean;
  /** `swarm init --data-path-port` (the overlays' VXLAN port); Docker's default when absent. */
  dataPathPort?: number;
  log: (line: string) => void;
}

export async function labUp(o: UpOptions): Promise<LabState> {
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(o.name))
    throw new LabError(`invalid lab name "${o.name}": lower-case letters, digits and -, at most 16`);
  if (existsSync(stateFile(o.name)))
    throw new LabError(`lab ${o.name} already exists; \`shoal lab down --name ${o.name}\` first`);
  if (o.managers < 1) throw new LabError('a lab needs at least one manager');
  const index = freeIndex();
  const s: LabState = {
    format: 1,
    name: o.name,
    index,
    bridge: `slb${index}`,
    subnet: `10.213.${index}.0/24`,
    gateway: `10.213.${index}.1`,
    hosts: [],
    uiToken: randomBytes(18).toString('base64url'),
  };
  const names = [
    ...Array.from({ length: o.managers }, (_, i) => `manager${i + 1}`),
    ...Array.from({ length: o.workers }, (_, i) => `worker${i + 1}`),
  ];
  names.forEach((name, i) =>
    s.hosts.push({
      name,
      role: name.startsWith('manager') ? 'manager' : 'worker',
      ip: `10.213.${index}.${11 + i}`,
      netns: `shl${index}-${name}`,
      veth: `sl${index}h${i}`,
      run: path.join(RUN_ROOT, o.name, name),
      data: path.join(DATA_ROOT, o.name, name),
      pids: {},
    }),
  );
  saveLab(s); // recorded first: whatever happens next, `lab down` can undo it
  try {
    run('ip', ['link', 'add', s.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${s.gateway}/24`, 'dev', s.bridge]);
    run('ip', ['link', 'set', s.bridge, 'up']);
    // With br_netfilter loaded (Docker loads it), bridged frames meet the host's FORWARD chain, whose
    // policy Docker sets to DROP: let the lab's hosts talk to each other.
    run('iptables', ['-w', '-I', 'FORWARD', '-i', s.bridge, '-o', s.bridge, '-j', 'ACCEPT']);
    const images = path.join(DATA_ROOT, o.name, 'images.tar');
    mkdirSync(path.dirname(images), { recursive: true });
    run('docker', ['save', '-o', images, ...TEST_IMAGES], {
      env: { ...process.env, DOCKER_HOST: 'unix:///var/run/docker.sock' },
    });
    for (const h of s.hosts) {
      createHostNetwork(s, h);
      saveLab(s);
      await startHost(s, h, () => saveLab(s));
      saveLab(s);
      docker(dockerHost(h), ['load', '-q', '-i', images]);
      o.log(`${h.name}: ${h.ip} up (dockerd ${h.pids.dockerd}, shoal ${h.pids.shoal})`);
    }
    const first = s.hosts[0]!;
    if (o.swarm === false) return s;
    const port = o.dataPathPort === undefined ? [] : ['--data-path-port', String(o.dataPathPort)];
    docker(shoalHost(first), ['swarm', 'init', '--advertise-addr', first.ip, ...port]);
    o.log(`${first.name}: swarm initialized`);
    for (const h of s.hosts.slice(1)) {
      const token = docker(shoalHost(first), ['swarm', 'join-token', '-q', h.role]).trim();
      docker(shoalHost(h), ['swarm', 'join', '--token', token, '--advertise-addr', h.ip, `${first.ip}:2377`]);
      o.log(`${h.name}: joined as a ${h.role}`);
    }
  } catch (e) {
    o.log(`lab up failed: ${(e as Error).message}; removing what was made`);
    await labDown(o.name);
    throw e;
  }
  return s;
}

function createHostNetwork(s: LabState, h: LabHost): void {
  mkdirSync(h.run, { recursive: true });
  mkdirSync(h.data, { recursive: true });
  run('ip', ['netns', 'add', h.netns]);
  run('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
  run('ip', ['link', 'set', h.veth, 'master', s.bridge, 'up']);
  run('ip', ['-n', h.netns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
  run('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
  run('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', h.netns, 'route', 'add', 'default', 'via', s.gateway]);
  // No name server is reachable from a lab host: make lookups fail at once instead of timing out,
  // so an engine that tries a registry first (Docker Swarm's agent does) falls back to its local
  // images as it would on a host without registry access.
  run('ip', ['netns', 'exec', h.netns, 'iptables', '-A', 'OUTPUT', '-p', 'udp', '--dport', '53', '-j', 'REJECT']);
  run('ip', [
    'netns',
    'exec',
    h.netns,
    'iptables',
    '-A',
    'OUTPUT',
    '-p',
    'tcp',
    '--dport',
    '53',
    '-j',
    'REJECT',
    '--reject-with',
    'tcp-reset',
  ]);
  // A persistent UTS namespace, bound to a file, so every process of the host sees its name.
  writeFileSync(utsFile(h), '');
  run('unshare', [`--uts=${utsFile(h)}`, 'hostname', h.name]);
}

/** Starts containerd, dockerd and shoal of a host; `started` records each pid as soon as it exists. */
async function startHost(s: LabState, h: LabHost, started: () => void): Promise<void> {
  const cfg = path.join(h.data, 'containerd.toml');
  writeFileSync(
    cfg,
    [
      'version = 2',
      `root = "${path.join(h.data, 'containerd')}"`,
      `state = "${path.join(h.run, 'containerd')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${sock(h, 'containerd')}"`,
      '[ttrpc]',
      `  address = "${sock(h, 'containerd')}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
  const enter = (cmd: string[]): string[] => nsenterArgs(h, cmd);
  h.pids.containerd = startDetached(
    'nsenter',
    enter(['containerd', '--config', cfg]),
    path.join(h.data, 'containerd.log'),
  );
  started();
  for (let i = 0; i < 100 && !existsSync(sock(h, 'containerd')); i++) await sleep(100);
  h.pids.dockerd = startDetached(
    'nsenter',
    enter([
      'dockerd',
      ...[
        '--data-root',
        path.join(h.data, 'docker'),
        '--exec-root',
        path.join(h.run, 'docker-exec'),
        '--pidfile',
        path.join(h.run, 'docker.pid'),
      ],
      ...['-H', dockerHost(h), '--containerd', sock(h, 'containerd'), '--cgroup-parent', `/${cgroupParent(s, h)}`],
    ]),
    path.join(h.data, 'dockerd.log'),
  );
  started();
  await waitForApi(dockerHost(h), `${h.name}'s dockerd`);
  const ui = h === s.hosts[0] && s.uiToken !== undefined;
  h.pids.shoal = startDetached(
    'nsenter',
    enter([
      process.execPath,
      SHOAL_BIN,
      'daemon',
      ...['--data-root', path.join(h.data, 'shoal'), '--host', shoalHost(h), '--runtime', dockerHost(h)],
      ...['--hostname', h.name, '--advertise-addr', h.ip, '--listen-addr', `${h.ip}:2377`],
      // Each host's Prometheus metrics on its own address (docs/monitoring.md).
      ...['--metrics-addr', `${h.ip}:9323`],
      // The first manager serves the visualizer (docs/visualizer.md); its token goes by environment.
      ...(ui ? ['--ui-addr', `${h.ip}:${UI_PORT}`] : []),
    ]),
    path.join(h.data, 'shoal.log'),
    ui ? { ...process.env, SHOAL_UI_TOKEN: s.uiToken } : undefined,
  );
  started();
  await waitForApi(shoalHost(h), `${h.name}'s shoal daemon`);
}

/** Unmounts everything mounted below the given directories, deepest first. */
function unmountUnder(dirs: string[]): void {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((m) => dirs.some((d) => m.startsWith(d + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) run('umount', ['-l', m], { allowFail: true });
}

/** Power-off: the link goes down and every process of the host dies at once (kill -9). */
async function killHost(s: LabState, h: LabHost): Promise<void> {
  const roots = [h.pids.shoal, h.pids.dockerd, h.pids.containerd].filter((p): p is number => alive(p));
  const pids = new Set<number>();
  for (const r of roots) for (const p of processTree(r)) pids.add(p);
  // Container shims re-parent away from containerd; they name its socket on their command line.
  for (const shim of pidsWithCmdline(sock(h, 'containerd'))) for (const p of processTree(shim)) pids.add(p);
  for (const p of pidsInCgroup(cgroupParent(s, h))) pids.add(p);
  kill9(pids);
  await waitGone([...pids]);
  h.pids = {};
}

export async function labStop(name: string, hostName: string): Promise<void> {
  const s = loadLab(name);
  const h = host(s, hostName);
  run('ip', ['link', 'set', h.veth, 'down'], { allowFail: true });
  await killHost(s, h);
  saveLab(s);
}

export async function labStart(name: string, hostName: string): Promise<void> {
  const s = loadLab(name);
  const h = host(s, hostName);
  if (alive(h.pids.shoal)) throw new LabError(`${hostName} is already running`);
  await killHost(s, h); // leftovers of a half-dead host
  // The engine's runtime state does not survive a power-off (nor do its mounts).
  const volatile = [
    path.join(h.run, 'containerd'),
    path.join(h.run, 'docker-exec'),
    path.join(h.data, 'docker'),
    path.join(h.data, 'containerd'),
  ];
  unmountUnder(volatile);
  rmSync(volatile[0]!, { recursive: true, force: true });
  rmSync(volatile[1]!, { recursive: true, force: true });
  // A stale pid file may name a pid that is in use again: dockerd would refuse to start.
  for (const f of ['docker.pid', 'docker.sock', 'containerd.sock', 'containerd.sock.ttrpc', 'shoal.sock'])
    rmSync(path.join(h.run, f), { force: true });
  run('ip', ['link', 'set', h.veth, 'up']);
  try {
    await startHost(s, h, () => saveLab(s));
  } catch (e) {
    await killHost(s, h);
    saveLab(s);
    throw e;
  }
  saveLab(s);
}

const CHAIN = 'SHOAL-LAB';

/** Our chain, hooked first into INPUT, OUTPUT and FORWARD (containers' traffic is forwarded, not output). */
function ensureChain(h: LabHost): void {
  const ipt = (args: string[]): string => run('ip', ['netns', 'exec', h.netns, 'iptables', '-w', ...args]);
  const has = (args: string[]): boolean => {
    try {
      ipt(args);
      return true;
    } catch {
      return false;
    }
  };
  if (!has(['-n', '-L', CHAIN])) ipt(['-N', CHAIN]);
  for (const base of ['INPUT', 'OUTPUT', 'FORWARD'])
    if (!has(['-C', base, '-j', CHAIN])) ipt(['-I', base, '1', '-j', CHAIN]);
}

/** Replaces the host's drop list in one transaction: the links change at one moment, none reopens. */
function setDrops(h: LabHost, drop: string[]): void {
  const rules = drop.flatMap((ip) => [`-A ${CHAIN} -s ${ip} -j DROP`, `-A ${CHAIN} -d ${ip} -j DROP`]);
  const table = ['*filter', `:${CHAIN} - [0:0]`, ...rules, 'COMMIT', ''].join('\n');
  run('ip', ['netns', 'exec', h.netns, 'iptables-restore', '-w', '--noflush'], { input: Buffer.from(table) });
}

/**
 * Cuts the given hosts off from the rest of the lab (they still reach each other). The cut hosts'
 * rules go in first, each host's in one transaction, and the moment they all are in is returned: a
 * cut host that drops everything else is cut off, whatever the other side's rules say yet.
 */
export function labPartition(name: string, hostNames: string[]): Date {
  const s = loadLab(name);
  const group = new Set(hostNames.map((n) => host(s, n).name));
  for (const h of s.hosts) ensureChain(h);
  const apply = (h: LabHost): void => {
    setDrops(
      h,
      s.hosts.filter((x) => group.has(x.name) !== group.has(h.name)).map((x) => x.ip),
    );
    h.partitioned = group.has(h.name);
  };
  for (const h of s.hosts.filter((x) => group.has(x.name))) apply(h);
  const cutAt = new Date();
  for (const h of s.hosts.filter((x) => !group.has(x.name))) apply(h);
  saveLab(s);
  return cutAt;
}

export function labHeal(name: string): void {
  const s = loadLab(name);
  for (const h of s.hosts) {
    ensureChain(h);
    setDrops(h, []);
    h.partitioned = false;
  }
  saveLab(s);
}

/** Removes every namespace, link, process and file the lab made. */
export async function labDown(name: string): Promise<void> {
  const s = loadLab(name);
  for (const h of s.hosts) {
    await killHost(s, h);
    if (existsSync(utsFile(h))) run('umount', [utsFile(h)], { allowFail: true });
    run('ip', ['link', 'del', h.veth], { allowFail: true });
    run('ip', ['netns', 'del', h.netns], { allowFail: true });
    // dockerd leaves overlay and netns mounts behind when killed; unmount them before removing.
    unmountUnder([h.data, h.run]);
  }
  run('iptables', ['-w', '-D', 'FORWARD', '-i', s.bridge, '-o', s.bridge, '-j', 'ACCEPT'], { allowFail: true });
  run('ip', ['link', 'del', s.bridge], { allowFail: true });
  rmSync(path.join(DATA_ROOT, name), { recursive: true, force: true });
  rmSync(path.join(RUN_ROOT, name), { recursive: true, force: true });
  for (const root of [DATA_ROOT, RUN_ROOT])
    if (existsSync(root) && readdirSync(root).length === 0) rmSync(root, { recursive: true, force: true });
}
