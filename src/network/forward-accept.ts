/**
 * Docker sets the host's iptables FORWARD policy to DROP and accepts only what its own bridges
 * need; an nftables accept in another table cannot override that drop. What an overlay routes
 * through its host link — a task's way out, the replies to it, and the flows the routing mesh DNATs
 * onto the ingress network — therefore needs an accept in DOCKER-USER (the chain Docker keeps for
 * users, evaluated first). Isolation stays with shoal's own egress table, whose drops no accept
 * elsewhere can undo. These rules are marked by their link (`shl-*`), so cleanup finds every one
 * after a crash.
 */
import { invalidArgument } from '../common/errors.js';
import { mustRun, type CommandRunner } from './command-runner.js';
import { OWNED_LINK } from './device-names.js';

const CHAIN = 'DOCKER-USER';

/** Everything out of the overlay; into it, replies and the mesh's DNATed flows. */
function ruleArgs(link: string): string[][] {
  if (!OWNED_LINK.test(link)) throw invalidArgument(`not a shoal link: ${link}`);
  return [
    ['-o', link, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'ACCEPT'],
    ['-i', link, '-j', 'ACCEPT'],
  ];
}

/** False when Docker does not run here (no chain, so no DROP policy of Docker's to get past). */
async function chainExists(r: CommandRunner): Promise<boolean> {
  return (await r.run('iptables', ['-w', '-S', CHAIN])).code === 0;
}

const OWNED_RULE = /^-A DOCKER-USER -[io] (sh[lv]-[a-z0-9]{1,10})( -m conntrack --ctstate [A-Z,]+)? -j ACCEPT$/;

/** Our rules in DOCKER-USER, as `iptables -S` prints them (none when Docker does not run here). */
async function ownedRules(r: CommandRunner): Promise<{ link: string; args: string[] }[]> {
  const res = await r.run('iptables', ['-w', '-S', CHAIN]);
  if (res.code !== 0) return [];
  const out: { link: string; args: string[] }[] = [];
  for (const line of res.stdout.split('\n')) {
    const m = OWNED_RULE.exec(line.trim());
    if (m?.[1]) out.push({ link: m[1], args: line.trim().split(' ').slice(2) });
  }
  return out;
}

/** Adds (once) the accept rules for `link`, or removes every rule of it (an older shoal's too). */
export async function setForwardAccept(r: CommandRunner, link: string, on: boolean): Promise<void> {
  const rules = ruleArgs(link);
  if (!(await chainExists(r))) return;
  if (!on) {
    for (const rule of await ownedRules(r))
      if (rule.link === link) await mustRun(r, 'iptables', ['-w', '-D', CHAIN, ...rule.args]);
    return;
  }
  for (const rule of rules) {
    const present = (await r.run('iptables', ['-w', '-C', CHAIN, ...rule])).code === 0;
    if (!present) await mustRun(r, 'iptables', ['-w', '-I', CHAIN, ...rule]);
  }
}

/** The links that have accept rules, this shoal's or an older one's (for cleanup and leftovers). */
export async function listForwardAccepts(r: CommandRunner): Promise<string[]> {
  return [...new Set((await ownedRules(r)).map((x) => x.link))].sort();
}
