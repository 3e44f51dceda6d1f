/**
 * The `shoal` command: `shoal daemon` runs a node; the other commands are docker-compatible clients
 * of a shoal daemon's Engine API (`-H/--host`, else $SHOAL_HOST, else unix:///run/shoal/shoal.sock).
 */
import { Command, CommanderError } from 'commander';
import { HttpError } from '../common/http-client.js';
import { ApiClient, CliError, hostFromEnv } from './client.js';
import { TemplateError } from './format/template.js';
import { LabError } from './lab/sys.js';
import { infoCommand } from './commands/info.js';
import { labCommand } from './commands/lab.js';
import { networkCommand } from './commands/network.js';
import { payloadCommand } from './commands/payload.js';
import { nodeCommand } from './commands/node.js';
import { serviceCommand } from './commands/service.js';
import { stackCommand } from './commands/stack.js';
import { swarmCommand } from './commands/swarm.js';

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'daemon') {
    const { runDaemon } = await import('../daemon/main.js');
    await runDaemon(argv.slice(1));
    return;
  }
  const program = new Command('shoal')
    .description('Docker Swarm mode, re-implemented: a docker-compatible client for shoal daemons')
    .option('-H, --host <url>', 'daemon socket to connect to (default $SHOAL_HOST or unix:///run/shoal/shoal.sock)')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(false);
  let client: ApiClient | undefined;
  const api = (): ApiClient => (client ??= new ApiClient(hostFromEnv(program.opts<{ host?: string }>().host)));
  program.addCommand(swarmCommand(api));
  program.addCommand(nodeCommand(api));
  program.addCommand(serviceCommand(api));
  program.addCommand(stackCommand(api));
  program.addCommand(networkCommand(api));
  program.addCommand(payloadCommand('secret', api));
  program.addCommand(payloadCommand('config', api));
  program.addCommand(infoCommand(api));
  program.addCommand(labCommand());
  program.command('daemon').description('Run a shoal node (see `shoal daemon --help`)').allowUnknownOption();
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands) s.exitOverride();
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (e instanceof HttpError) process.stderr.write(`Error response from daemon: ${e.message}\n`);
    else if (e instanceof LabError) process.stderr.write(`lab: ${e.message}\n`);
    else if (e instanceof CliError || e instanceof TemplateError) process.stderr.write(`${e.message}\n`);
    else process.stderr.write(`Error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
