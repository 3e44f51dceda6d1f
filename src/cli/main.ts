/** The `shoal` command: `shoal daemon ...` runs a node; other commands are docker-compatible clients. */
export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === 'daemon') {
    const { runDaemon } = await import('../daemon/main.js');
    await runDaemon(rest);
    return;
  }
  process.stderr.write(`shoal: unknown command ${cmd ?? ''}\n`);
  process.exitCode = 1;
}
