/** A node's TLS material as its connections use it (stored by the daemon, see node-certs.ts). */
export interface NodeTls {
  key: string;
  cert: string;
  /** The root CA certificate: the only trust anchor for node-to-node connections. */
  ca: string;
}
