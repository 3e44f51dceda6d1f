/** `shoal daemon`: parse flags, start the daemon, stop cleanly on SIGINT/SIGTERM. */
import { Command, CommanderError } from 'commander';
import { consoleLogger } from '../common/logging.js';
import { ShoalDaemon } from './daemon.js';

/** Exit status after a storage or apply error (EX_SOFTWARE). */
const EXIT_FATAL = 70;
/** The longest a SIGTERM/SIGINT may take to end the process. */
const STOP_TIMEOUT_MS = 30_000;

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
    .option('--metrics-addr <addr>', 'serve Prometheus metrics on ADDR:PORT at /metrics (off unless set)')
    .option('--ui-addr <addr>', 'serve the visualizer page on ADDR:PORT (off unless set; see docs/visualizer.md)')
    .option('--ui-token <token>', 'token the visualizer requires (needed when --ui-addr is not loopback)')
    .option('--repair-wal', 'cut a damaged Raft WAL at the damage (logging what it drops) instead of refusing to start')
    .exitOverride();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    // --help and flag errors: commander already printed what to say.
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
  const o = cmd.opts<{
    dataRoot: string;
    host: string;
    runtime: string;
    listenAddr: string;
    advertiseAddr?: string;
    hostname?: string;
    raftTick: string;
    logLevel: 'debug' | 'info' | 'warn' | 'error';
    repairWal?: boolean;
    metricsAddr?: string;
    uiAddr?: string;
    uiToken?: string;
  }>();
  const logger = consoleLogger(o.logLevel);
  const tickMs = Number(o.raftTick);
  if (!Number.isFinite(tickMs) || tickMs < 1)
    throw new Error(`--raft-tick must be a positive number of milliseconds, got ${o.raftTick}`);
  const daemon = new ShoalDaemon({
    ...o,
    // A token on the command line shows in `ps`; the environment does not.
    uiToken: o.uiToken ?? process.env.SHOAL_UI_TOKEN,
    tickMs,
    logger,
    // Never carry on after a failed write or apply (fsyncgate): end now; a restart recovers from disk.
    onFatal: (err) => {
      logger.error('the raft store failed; shoal daemon stops (restart it to recover from disk)', {
        error: err.message,
      });
      process.exit(EXIT_FATAL);
    },
  });
  await daemon.start();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    // A stop that hangs (a disk that never answers) must not keep the process alive.
    setTimeout(() => {
      logger.error('stopping took too long; exiting', { afterMs: STOP_TIMEOUT_MS });
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
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
