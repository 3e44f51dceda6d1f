/**
 * An nftables table as text, and the script that replaces it atomically: `nft -f` runs a file as
 * one transaction, so "create if missing, delete, create with the new content" swaps the rules in
 * one step — no moment where a VIP or a published port has no rule.
 */
import { tableName } from './device-names.js';

/** `ip` for NAT and filtering; `netdev` for the ingress hook of one device (the gone table). */
export type NftFamily = 'ip' | 'netdev';

export interface NftRuleset {
  readonly family: NftFamily;
  /** A shoal-owned table name (`shoal-...`). */
  readonly table: string;
  /** The table's content: chains, maps, sets. */
  readonly body: string;
}

export function ruleset(suffix: string, body: string, family: NftFamily = 'ip'): NftRuleset {
  return { family, table: tableName(suffix), body };
}

/** The transaction that replaces (or creates) the table. */
export function replaceScript(rs: NftRuleset): string {
  return `table ${rs.family} ${rs.table}\ndelete table ${rs.family} ${rs.table}\ntable ${rs.family} ${rs.table} {\n${rs.body}}\n`;
}

/** The transaction that removes the table if it exists (and succeeds when it does not). */
export function removeScript(family: NftFamily, table: string): string {
  return `table ${family} ${table}\ndelete table ${family} ${table}\n`;
}

/** A chain with a base hook, its rules indented. */
export function chain(name: string, hook: string, rules: readonly string[]): string {
  return `  chain ${name} {\n    ${hook}\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
}
