/** `shoal info`: the engine summary and the Swarm section, worded as `docker info` prints them. */
import { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { goDuration } from '../format/humanize.js';

interface WInfo {
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  ServerVersion: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  OperatingSystem: string;
  Swarm: {
    NodeID: string;
    NodeAddr: string;
    LocalNodeState: string;
    ControlAvailable: boolean;
    Error: string;
    RemoteManagers: { NodeID: string; Addr: string }[] | null;
    Nodes?: number;
    Managers?: number;
    Cluster?: {
      ID: string;
      Spec: {
        Orchestration: { TaskHistoryRetentionLimit?: number };
        Raft: { SnapshotInterval?: number; KeepOldSnapshots?: number; HeartbeatTick?: number; ElectionTick?: number };
        Dispatcher: { HeartbeatPeriod?: number };
        CAConfig: { NodeCertExpiry?: number };
        EncryptionConfig: { AutoLockManagers: boolean };
      };
      DefaultAddrPool?: string[];
      SubnetSize?: number;
      DataPathPort?: number;
    };
  };
}

export function infoCommand(api: () => ApiClient): Command {
  return new Command('info').description('Display system-wide information').action(async () => {
    const i = await api().get<WInfo>('/info');
    const l: string[] = [
      'Server:',
      ` Containers: ${i.Containers}`,
      `  Running: ${i.ContainersRunning}`,
      `  Paused: ${i.ContainersPaused}`,
      `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`,
      ` Server Version: ${i.ServerVersion}`,
    ];
    const s = i.Swarm;
    l.push(` Swarm: ${s.LocalNodeState}`);
    if (s.LocalNodeState !== 'inactive') {
      l.push(`  NodeID: ${s.NodeID}`);
      if (s.Error) l.push(`  Error: ${s.Error}`);
      l.push(`  Is Manager: ${s.ControlAvailable}`);
      const c = s.Cluster;
      if (c && s.ControlAvailable) {
        l.push(`  ClusterID: ${c.ID}`, `  Managers: ${s.Managers ?? 0}`, `  Nodes: ${s.Nodes ?? 0}`);
        if (c.DefaultAddrPool)
          l.push(
            `  Default Address Pool: ${c.DefaultAddrPool.join(' ')}`,
            `  SubnetSize: ${c.SubnetSize}`,
            `  Data Path Port: ${c.DataPathPort}`,
          );
        l.push(
          '  Orchestration:',
          `   Task History Retention Limit: ${c.Spec.Orchestration.TaskHistoryRetentionLimit ?? 5}`,
        );
        l.push(
          '  Raft:',
          `   Snapshot Interval: ${c.Spec.Raft.SnapshotInterval}`,
          `   Number of Old Snapshots to Retain: ${c.Spec.Raft.KeepOldSnapshots ?? 0}`,
          `   Heartbeat Tick: ${c.Spec.Raft.HeartbeatTick}`,
          `   Election Tick: ${c.Spec.Raft.ElectionTick}`,
        );
        l.push('  Dispatcher:', `   Heartbeat Period: ${goDuration(c.Spec.Dispatcher.HeartbeatPeriod ?? 5e9)}`);
        l.push('  CA Configuration:', `   Expiry Duration: ${goDuration(c.Spec.CAConfig.NodeCertExpiry ?? 7.776e15)}`);
        l.push(
          `  Autolock Managers: ${c.Spec.EncryptionConfig.AutoLockManagers}`,
          '  Root Rotation In Progress: false',
        );
      }
      l.push(`  Node Address: ${s.NodeAddr}`);
      if (s.RemoteManagers?.length) l.push('  Manager Addresses:', ...s.RemoteManagers.map((m) => `   ${m.Addr}`));
    }
    l.push(
      ` Operating System: ${i.OperatingSystem}`,
      ` CPUs: ${i.NCPU}`,
      ` Total Memory: ${(i.MemTotal / 1024 ** 3).toFixed(2)}GiB`,
      ` Name: ${i.Name}`,
    );
    process.stdout.write(l.join('\n') + '\n');
  });
}
