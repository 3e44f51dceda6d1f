/**
 * What an agent reports for monitoring, as plain callbacks (the daemon turns them into Prometheus
 * series). Every callback is optional and must not throw or block.
 */
export interface AgentInstruments {
  /** The runtime engine started a task's container; `seconds` is the start call alone. */
  containerStarted?(seconds: number): void;
  /** A task this node runs ended as `failed` (after it started) or `rejected` (before). */
  taskFailed?(state: 'failed' | 'rejected'): void;
}
