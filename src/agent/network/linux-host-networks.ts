/** The overlays of a real host: Linux plumbing, the runtime engine's networks, the embedded DNS. */
import { readFileSync } from 'node:fs';
import type { Logger } from '../../common/logging.js';
import { hostRunner, netnsRunner } from '../../network/command-runner.js';
import { LiveDnsRecords } from '../../network/dns-records.js';
import { DnsServer } from '../../network/dns-server.js';
import { UpstreamForwarder } from '../../network/dns-upstream.js';
import { LinuxPlumbing } from '../../network/linux-plumbing.js';
import { EngineDockerNetworks } from './docker-networks.js';
import { HostNetworks } from './host-networks.js';

export interface LinuxHostNetworksOptions {
  nodeId: string;
  /** The node's advertise address (`ip` or `ip:port`). */
  advertiseAddr: string;
  runtimeUrl: string;
  logger: Logger;
}

function resolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

export function linuxHostNetworks(o: LinuxHostNetworksOptions): HostNetworks {
  const records = new LiveDnsRecords();
  const logger = o.logger.child('network');
  // Called only once a DNS query arrives, long after `host` exists.
  const gate = (clientIp: string): Promise<void> => host.clientGate(clientIp);
  const host: HostNetworks = new HostNetworks({
    nodeId: o.nodeId,
    underlayIp: o.advertiseAddr.replace(/:\d+$/, ''),
    plumbing: new LinuxPlumbing(hostRunner),
    inContainer: (pid) => new LinuxPlumbing(netnsRunner(`/proc/${pid}/ns/net`)),
    docker: new EngineDockerNetworks(o.runtimeUrl),
    records,
    dns: new DnsServer(records, UpstreamForwarder.fromResolvConf(resolvConf()), logger.child('dns'), gate),
    logger,
  });
  return host;
}
