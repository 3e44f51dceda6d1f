/** `host:port` addresses, parsed and written one way everywhere (IPv6 hosts in brackets). */

export interface HostPort {
  host: string;
  port: number;
}

/** `10.0.0.1:2377`, `[::1]:2377`, `10.0.0.1` (the default port), `::1` (a bare IPv6 host). */
export function splitHostPort(addr: string, defaultPort: number): HostPort {
  const a = addr.trim();
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(a);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : defaultPort };
  // More than one colon without brackets is a bare IPv6 address: it has no port.
  if (a.indexOf(':') !== a.lastIndexOf(':')) return { host: a, port: defaultPort };
  const m = /^(.*?)(?::(\d+))?$/.exec(a);
  return { host: m?.[1] ?? a, port: m?.[2] ? Number(m[2]) : defaultPort };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The address with its port, the default one when it has none. */
export function withDefaultPort(addr: string, defaultPort: number): string {
  const { host, port } = splitHostPort(addr, defaultPort);
  return joinHostPort(host, port);
}

/** The host part of an address (a node's IP from its cluster address). */
export function hostOf(addr: string): string {
  return splitHostPort(addr, 0).host;
}
