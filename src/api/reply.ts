/**
 * The part of an HTTP response the route handlers use. Node's ServerResponse is one; the in-process
 * test client (testing/in-process.ts) records into another, so routes are tested without a socket.
 */
export interface Reply {
  readonly headersSent: boolean;
  writeHead(status: number, headers?: Record<string, string | number>): Reply;
  flushHeaders(): void;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  /** Drops the connection (an error after the headers went out). */
  destroy(): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}
