/** `shoal daemon`: parse flags, start the daemon, stop cleanly on SIGINT/SIGTERM. */
import { Command } from 'commander';
import { consoleLogger } from '../common/logging.js';
import { ShoalDaemon } from './daemon.js';

export async function runDaemon(argv: string[]): Promise<void> {
  const cmd = new Command('shoal daemon')
    .description('Run a shoal node: the Docker Engine API on --host, tasks as containers on --runtime')
    .option('--data-root <dir>', 'where cluster state is kept', '/var/lib/shoal')
    .option('-H, --host <url>', 'API socket to listen on', 'unix:///run/shoal/shoal.sock')
    .option('--runtime <url>', 'Docker Engine used as the container runtime', 'unix:///var/run/docker.sock')
    .option('--listen-addr <addr>', 'cluster port listen address', '0.0.0.0:2377')
    .option('--advertise-addr <addr>', 'address advertised to other nodes (default: first non-loopback IPv4)')
    .option('--hostname <name>', "this node's hostname (default: the host's)")
    .option('--raft-tick <ms>', 'Raft tick interval in ms (election timeout = ElectionTick ticks)', '100')
    .option('--log-level <level>', 'debug, info, warn or error', 'info')
    .exitOverride();
  cmd.parse(argv, { from: 'user' });
  const o = cmd.opts<{
    dataRoot: string;
    host: string;
    runtime: string;
    listenAddr: string;
    advertiseAddr?: string;
    hostname?: string;
    raftTick: string;
    logLevel: 'debug' | 'info' | 'warn' | 'error';
  }>();
  const logger = consoleLogger(o.logLevel);
  const tickMs = Number(o.raftTick);
  if (!Number.isFinite(tickMs) || tickMs < 1)
    throw new Error(`--raft-tick must be a positive number of milliseconds, got ${o.raftTick}`);
  const daemon = new ShoalDaemon({ ...o, tickMs, logger });
  await daemon.start();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error('stop failed', { error: String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
