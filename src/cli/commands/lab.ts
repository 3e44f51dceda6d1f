/**
 * `shoal lab`: hosts as network namespaces on this machine (see src/cli/lab/lab.ts). Needs root.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { renderTable } from '../format/table.js';
import { alive } from '../lab/sys.js';
import {
  host,
  labDown,
  labHeal,
  labPartition,
  labStart,
  labStop,
  labUiUrl,
  labUp,
  listLabs,
  loadLab,
  nsenterArgs,
  shoalHost,
} from '../lab/lab.js';

export function labCommand(): Command {
  const cmd = new Command('lab').description('Run a lab of swarm hosts as network namespaces on this machine (root)');
  const named = (c: Command): Command => c.option('--name <name>', 'lab name', 'lab');

  named(cmd.command('up'))
    .description(
      'Create hosts manager1..M and worker1..W, each with its own dockerd and shoal daemon, and form the swarm',
    )
    .option('--managers <n>', 'number of managers', '1')
    .option('--workers <n>', 'number of workers', '2')
    .option('--no-swarm', "start the hosts but form no swarm (e.g. to run Docker's own swarm on their engines)")
    .option('--data-path-port <port>', "the swarm's VXLAN UDP port (swarm init --data-path-port)")
    .action(async (o: { name: string; managers: string; workers: string; swarm: boolean; dataPathPort?: string }) => {
      const s = await labUp({
        name: o.name,
        managers: Number(o.managers),
        workers: Number(o.workers),
        swarm: o.swarm,
        ...(o.dataPathPort ? { dataPathPort: Number(o.dataPathPort) } : {}),
        log: (l) => process.stdout.write(`${l}\n`),
      });
      process.stdout.write(`lab ${s.name} is up: ${s.hosts.length} hosts on ${s.subnet}\n`);
      const ui = labUiUrl(s);
      if (ui) process.stdout.write(`visualizer: ${ui}\n`);
    });

  named(cmd.command('ls'))
    .description('List the hosts of a lab (all labs with --all)')
    .option('--all', 'every lab on this machine')
    .action((o: { name: string; all?: boolean }) => {
      const labs = o.all ? listLabs() : [loadLab(o.name)];
      const rows = labs.flatMap((l) =>
        l.hosts.map((h) => [
          l.name,
          h.name,
          h.role,
          h.ip,
          alive(h.pids.shoal) ? (h.partitioned ? 'partitioned' : 'running') : 'stopped',
          shoalHost(h),
        ]),
      );
      process.stdout.write(renderTable([['LAB', 'HOST', 'ROLE', 'ADDRESS', 'STATE', 'DOCKER_HOST'], ...rows]));
    });

  named(cmd.command('exec'))
    .description('Run a command on a host (its network and hostname, DOCKER_HOST at its shoal daemon)')
    .argument('<host>')
    .argument('<command...>')
    .action((hostName: string, command: string[], o: { name: string }) => {
      const h = host(loadLab(o.name), hostName);
      const r = spawnSync('nsenter', nsenterArgs(h, command), {
        stdio: 'inherit',
        env: { ...process.env, DOCKER_HOST: shoalHost(h), SHOAL_HOST: shoalHost(h) },
      });
      process.exitCode = r.status ?? 1;
    });

  named(cmd.command('stop'))
    .description('Power a host off: cut its link and kill -9 its shoal daemon, dockerd, containerd and containers')
    .argument('<host>')
    .action((hostName: string, o: { name: string }) => labStop(o.name, hostName));

  named(cmd.command('start'))
    .description('Power a stopped host on again, with its data')
    .argument('<host>')
    .action((hostName: string, o: { name: string }) => labStart(o.name, hostName));

  named(cmd.command('partition'))
    .description('Cut the given hosts off from the rest of the lab; prints when the cut took effect')
    .argument('<hosts...>')
    .action((hosts: string[], o: { name: string }) => {
      const at = labPartition(o.name, hosts);
      process.stdout.write(`cut off ${hosts.join(' ')} at ${at.toISOString()}\n`);
    });

  named(cmd.command('heal'))
    .description('Restore every link cut by partition')
    .action((o: { name: string }) => labHeal(o.name));

  named(cmd.command('down'))
    .description('Remove every namespace, bridge, process and file of the lab')
    .action((o: { name: string }) => labDown(o.name));

  return cmd;
}
