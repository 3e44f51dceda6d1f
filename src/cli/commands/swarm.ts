/** `shoal swarm ...`: init, leave, join-token, ca, update. */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { CliError, type ApiClient } from '../client.js';
import { collect, parseDuration, parseExternalCA, parseUint } from '../opts.js';
import type { WNode } from './wire-types.js';

type Api = () => ApiClient;
const out = (s: string): void => void process.stdout.write(s);

interface WSwarm {
  ID: string;
  Version: { Index: number };
  Spec: Record<string, Record<string, unknown>> & { Name?: string };
  JoinTokens: { Worker: string; Manager: string };
  TLSInfo?: TlsInfo;
  RootRotationInProgress?: boolean;
}

interface TlsInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

/** Nodes whose certificate comes from the desired issuer, and nodes that trust only the desired root. */
function rotationCounts(
  swarm: WSwarm,
  nodes: { Description: { TLSInfo?: TlsInfo } }[],
): { certs: number; roots: number } {
  const want = swarm.TLSInfo ?? {};
  const certs = nodes.filter(
    (n) =>
      n.Description.TLSInfo?.CertIssuerPublicKey === want.CertIssuerPublicKey &&
      n.Description.TLSInfo?.CertIssuerSubject === want.CertIssuerSubject,
  ).length;
  const roots = swarm.RootRotationInProgress
    ? 0
    : nodes.filter((n) => n.Description.TLSInfo?.TrustRoot === want.TrustRoot).length;
  return { certs, roots };
}

function joinText(role: 'worker' | 'manager', token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    docker swarm join --token ${token} ${addr}\n`;
}

export function swarmCommand(api: Api): Command {
  const cmd = new Command('swarm').description('Manage Swarm');

  cmd
    .command('init')
    .description('Initialize a swarm')
    .option('--advertise-addr <addr>', 'advertised address (format: <ip|interface>[:port])')
    .option('--listen-addr <addr>', 'listen address (format: <ip|interface>[:port])', '0.0.0.0:2377')
    .option('--data-path-addr <addr>', 'address or interface to use for data path traffic')
    .option('--autolock', 'enable manager autolocking (requiring an unlock key to start a stopped manager)')
    .option('--task-history-limit <n>', 'task history retention limit', '5')
    .option('--dispatcher-heartbeat <duration>', 'dispatcher heartbeat period', '5s')
    .option('--cert-expiry <duration>', 'validity period for node certificates', '2160h0m0s')
    .option('--snapshot-interval <n>', 'number of log entries between Raft snapshots', '10000')
    .option('--max-snapshots <n>', 'number of additional Raft snapshots to retain', '0')
    .option(
      '--election-tick <n>',
      'ticks without a leader heartbeat before an election (shoal; docker has no flag)',
      '10',
    )
    .option('--heartbeat-tick <n>', 'ticks between leader heartbeats (shoal; docker has no flag)', '1')
    .option('--availability <a>', 'availability of the node ("active", "pause", "drain")', 'active')
    .option('--force-new-cluster', 'force create a new cluster from current state')
    .option(
      '--external-ca <spec>',
      'a certificate signing endpoint: protocol=cfssl,url=https://...[,cacert=FILE]',
      collect,
      [],
    )
    .action(async (o: Record<string, string | boolean | undefined> & { externalCa: string[] }) => {
      const a = api();
      const externalCAs = await Promise.all(o.externalCa.map(parseExternalCA));
      const body = {
        ListenAddr: o.listenAddr,
        AdvertiseAddr: o.advertiseAddr ?? '',
        DataPathAddr: o.dataPathAddr ?? '',
        ForceNewCluster: Boolean(o.forceNewCluster),
        Spec: {
          Orchestration: { TaskHistoryRetentionLimit: parseUint('--task-history-limit', String(o.taskHistoryLimit)) },
          Raft: {
            SnapshotInterval: parseUint('--snapshot-interval', String(o.snapshotInterval)),
            KeepOldSnapshots: parseUint('--max-snapshots', String(o.maxSnapshots)),
            ElectionTick: parseUint('--election-tick', String(o.electionTick)),
            HeartbeatTick: parseUint('--heartbeat-tick', String(o.heartbeatTick)),
          },
          Dispatcher: { HeartbeatPeriod: parseDuration(String(o.dispatcherHeartbeat)) },
          CAConfig: {
            NodeCertExpiry: parseDuration(String(o.certExpiry)),
            ...(externalCAs.length ? { ExternalCAs: externalCAs } : {}),
          },
          EncryptionConfig: { AutoLockManagers: Boolean(o.autolock) },
        },
        AutoLockManagers: Boolean(o.autolock),
        Availability: o.availability,
      };
      const nodeId = await a.post<string>('/swarm/init', body);
      const node = await a.get<WNode>(`/nodes/${nodeId}`);
      const swarm = await a.get<WSwarm>('/swarm');
      out(`Swarm initialized: current node (${nodeId}) is now a manager.\n\n`);
      out(joinText('worker', swarm.JoinTokens.Worker, node.ManagerStatus?.Addr ?? ''));
      out(`\nTo add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n\n`);
    });

  cmd
    .command('leave')
    .description('Leave the swarm')
    .option('-f, --force', 'force this node to leave the swarm, ignoring warnings')
    .action(async (o: { force?: boolean }) => {
      await api().post(`/swarm/leave${o.force ? '?force=1' : ''}`);
      out('Node left the swarm.\n');
    });

  cmd
    .command('join-token')
    .description('Manage join tokens')
    .argument('<role>', 'worker or manager')
    .option('-q, --quiet', 'only display token')
    .option('--rotate', 'rotate join token')
    .action(async (role: string, o: { quiet?: boolean; rotate?: boolean }) => {
      if (role !== 'worker' && role !== 'manager') throw new CliError(`unknown role ${role}`);
      const a = api();
      let swarm = await a.get<WSwarm>('/swarm');
      if (o.rotate) {
        const flags = `rotateWorkerToken=${role === 'worker'}&rotateManagerToken=${role === 'manager'}&rotateManagerUnlockKey=false`;
        await a.post(`/swarm/update?${flags}&version=${swarm.Version.Index}`, swarm.Spec);
        swarm = await a.get<WSwarm>('/swarm');
        if (!o.quiet) out(`Successfully rotated ${role} join token.\n\n`);
      }
      const token = role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager;
      if (o.quiet) return out(`${token}\n`);
      const info = await a.get<{ Swarm: { NodeID: string } }>('/info');
      const node = await a.get<WNode>(`/nodes/${info.Swarm.NodeID}`);
      out(joinText(role, token, node.ManagerStatus?.Addr ?? '') + '\n');
    });

  cmd
    .command('ca')
    .description("Display and rotate the swarm's root CA")
    .option('--rotate', 'rotate the root CA; a new one is made unless --ca-cert and --ca-key are given')
    .option('--ca-cert <pem-file>', 'the root CA certificate to rotate to')
    .option('--ca-key <pem-file>', 'the key of that root CA certificate (none: an external CA holds it)')
    .option(
      '--external-ca <spec>',
      'a certificate signing endpoint: protocol=cfssl,url=https://...[,cacert=FILE]',
      collect,
      [],
    )
    .option('-d, --detach', 'exit at once instead of waiting for the rotation to converge')
    .option('-q, --quiet', 'suppress progress output')
    .action(
      async (o: {
        rotate?: boolean;
        caCert?: string;
        caKey?: string;
        externalCa: string[];
        detach?: boolean;
        quiet?: boolean;
      }) => {
        const a = api();
        if (!o.rotate && (o.caCert || o.caKey || o.externalCa.length))
          throw new CliError('--ca-cert, --ca-key and --external-ca need --rotate');
        if (o.rotate) {
          const swarm = await a.get<WSwarm>('/swarm');
          const ca = { ...swarm.Spec.CAConfig } as Record<string, unknown>;
          if (o.caCert) ca.SigningCACert = await readFile(o.caCert, 'utf8');
          if (o.caKey) ca.SigningCAKey = await readFile(o.caKey, 'utf8');
          if (o.externalCa.length) {
            const cert = typeof ca.SigningCACert === 'string' ? ca.SigningCACert : undefined;
            // As docker does: the external CAs given with --ca-cert sign with that root.
            ca.ExternalCAs = (await Promise.all(o.externalCa.map(parseExternalCA))).map((e) => ({
              ...(cert ? { CACert: cert } : {}),
              ...e,
            }));
          }
          if (!o.caCert && !o.caKey) ca.ForceRotate = Number(ca.ForceRotate ?? 0) + 1;
          await a.post(
            `/swarm/update?rotateWorkerToken=false&rotateManagerToken=false&rotateManagerUnlockKey=false&version=${swarm.Version.Index}`,
            { ...swarm.Spec, CAConfig: ca },
          );
          if (!o.detach) {
            let last = '';
            for (;;) {
              const now = await a.get<WSwarm>('/swarm');
              const nodes = await a.get<{ Description: { TLSInfo?: TlsInfo } }[]>('/nodes');
              const { certs, roots } = rotationCounts(now, nodes);
              const line = `rotated TLS certificates: ${certs}/${nodes.length} nodes, rotated CA certificates: ${roots}/${nodes.length} nodes\n`;
              if (!o.quiet && line !== last) out((last = line));
              if (!now.RootRotationInProgress && certs === nodes.length && roots === nodes.length) break;
              await new Promise((r) => setTimeout(r, 200));
            }
          }
        }
        const root = (await a.get<WSwarm>('/swarm')).TLSInfo?.TrustRoot;
        if (!root) throw new CliError('this swarm has no root CA certificate');
        out(root.endsWith('\n') ? root : `${root}\n`);
      },
    );

  cmd
    .command('update')
    .description('Update the swarm')
    .option('--task-history-limit <n>', 'task history retention limit')
    .option('--dispatcher-heartbeat <duration>', 'dispatcher heartbeat period')
    .option('--cert-expiry <duration>', 'validity period for node certificates')
    .option('--snapshot-interval <n>', 'number of log entries between Raft snapshots')
    .option('--max-snapshots <n>', 'number of additional Raft snapshots to retain')
    .option(
      '--log-entries-for-slow-followers <n>',
      'Raft entries kept behind a snapshot for followers a little behind (shoal)',
    )
    .option('--election-tick <n>', 'ticks without a leader heartbeat before an election (shoal)')
    .option('--heartbeat-tick <n>', 'ticks between leader heartbeats (shoal)')
    .option('--autolock <bool>', 'change manager autolocking setting (true|false)')
    .action(async (o: Record<string, string | undefined>) => {
      // Every value is checked before anything is asked of the daemon, as docker's flag parsing does.
      const uint = (flag: string, v: string | undefined): number | undefined =>
        v === undefined ? undefined : parseUint(flag, v);
      const dur = (v: string | undefined): number | undefined => (v === undefined ? undefined : parseDuration(v));
      if (o.autolock !== undefined && o.autolock !== 'true' && o.autolock !== 'false') {
        throw new CliError(
          `invalid argument "${o.autolock}" for "--autolock" flag: strconv.ParseBool: parsing "${o.autolock}": invalid syntax`,
        );
      }
      const want = {
        history: uint('--task-history-limit', o.taskHistoryLimit),
        heartbeat: dur(o.dispatcherHeartbeat),
        expiry: dur(o.certExpiry),
        snapshotInterval: uint('--snapshot-interval', o.snapshotInterval),
        maxSnapshots: uint('--max-snapshots', o.maxSnapshots),
        slowFollowers: uint('--log-entries-for-slow-followers', o.logEntriesForSlowFollowers),
        electionTick: uint('--election-tick', o.electionTick),
        heartbeatTick: uint('--heartbeat-tick', o.heartbeatTick),
      };
      const a = api();
      const swarm = await a.get<WSwarm>('/swarm');
      const s = swarm.Spec;
      if (want.history !== undefined) s.Orchestration = { ...s.Orchestration, TaskHistoryRetentionLimit: want.history };
      if (want.heartbeat !== undefined) s.Dispatcher = { ...s.Dispatcher, HeartbeatPeriod: want.heartbeat };
      if (want.expiry !== undefined) s.CAConfig = { ...s.CAConfig, NodeCertExpiry: want.expiry };
      if (want.snapshotInterval !== undefined) s.Raft = { ...s.Raft, SnapshotInterval: want.snapshotInterval };
      if (want.maxSnapshots !== undefined) s.Raft = { ...s.Raft, KeepOldSnapshots: want.maxSnapshots };
      if (want.slowFollowers !== undefined) s.Raft = { ...s.Raft, LogEntriesForSlowFollowers: want.slowFollowers };
      if (want.electionTick !== undefined) s.Raft = { ...s.Raft, ElectionTick: want.electionTick };
      if (want.heartbeatTick !== undefined) s.Raft = { ...s.Raft, HeartbeatTick: want.heartbeatTick };
      if (o.autolock !== undefined)
        s.EncryptionConfig = { ...s.EncryptionConfig, AutoLockManagers: o.autolock === 'true' };
      await a.post(
        `/swarm/update?rotateWorkerToken=false&rotateManagerToken=false&rotateManagerUnlockKey=false&version=${swarm.Version.Index}`,
        s,
      );
      out('Swarm updated.\n');
    });
  return cmd;
}
