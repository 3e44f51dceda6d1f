/**
 * Docker sets the host's iptables FORWARD policy to DROP and accepts only what its own bridges
 * need; an nftables accept in another table cannot override that drop. Flows the routing mesh
 * DNATs from the host's interfaces onto an overlay bridge therefore need an accept in DOCKER-USER
 * (the chain Docker keeps for users, evaluated first). These rules are marked by their bridge
 * (`shl-*`), so cleanup finds every one after a crash.
 */
import { invalidArgument } from '../common/errors.js';
import { mustRun, type CommandRunner } from './command-runner.js';
import { OWNED_LINK } from './device-names.js';

const CHAIN = 'DOCKER-USER';

/** Both directions of DNATed flows through the bridge (replies are also covered by Docker's own rules). */
function ruleArgs(bridge: string): string[][] {
  if (!OWNED_LINK.test(bridge)) throw invalidArgument(`not a shoal bridge: ${bridge}`);
  return [
    ['-o', bridge, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'],
    ['-i', bridge, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'],
  ];
}

/** False when Docker does not run here (no chain, so no DROP policy of Docker's to get past). */
async function chainExists(r: CommandRunner): Promise<boolean> {
  return (await r.run('iptables', ['-w', '-S', CHAIN])).code === 0;
}

/** Adds (once) or removes the accept rules for `bridge`. */
export async function setForwardAccept(r: CommandRunner, bridge: string, on: boolean): Promise<void> {
  const rules = ruleArgs(bridge);
  if (!(await chainExists(r))) return;
  for (const rule of rules) {
    const present = (await r.run('iptables', ['-w', '-C', CHAIN, ...rule])).code === 0;
    if (on && !present) await mustRun(r, 'iptables', ['-w', '-I', CHAIN, ...rule]);
    if (!on && present) await mustRun(r, 'iptables', ['-w', '-D', CHAIN, ...rule]);
  }
}

/** The bridges that have accept rules (for cleanup and leftovers). */
export async function listForwardAccepts(r: CommandRunner): Promise<string[]> {
  const res = await r.run('iptables', ['-w', '-S', CHAIN]);
  if (res.code !== 0) return [];
  const out = new Set<string>();
  for (const line of res.stdout.split('\n')) {
    const m = /^-A DOCKER-USER -[io] (sh[lv]-[a-z0-9]{1,10}) -m conntrack --ctstate DNAT -j ACCEPT$/.exec(line.trim());
    if (m?.[1]) out.add(m[1]);
  }
  return [...out].sort();
}
