/**
 * Writing service/task logs in Docker's wire format: one line per frame of
 * [stream, 0, 0, 0, u32 BE length], `<timestamp> <details> <line>\n`, or raw for TTY services.
 */
import type { Reply } from './reply.js';
import type { LogLine } from '../manager/controlapi/api.js';

export interface LogFormat {
  timestamps: boolean;
  details: boolean;
  raw: boolean;
}

export function formatLogLine(l: LogLine, f: LogFormat): Buffer {
  let text = '';
  if (f.timestamps) text += `${l.timestamp || new Date().toISOString()} `;
  if (f.details)
    text += `com.docker.swarm.node.id=${l.nodeId},com.docker.swarm.service.id=${l.serviceId},com.docker.swarm.task.id=${l.taskId} `;
  text += `${l.line}\n`;
  const payload = Buffer.from(text);
  if (f.raw) return payload;
  const header = Buffer.alloc(8);
  header[0] = l.stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

export async function streamLogs(
  res: Reply,
  lines: AsyncIterable<LogLine>,
  f: LogFormat,
  abort: AbortController,
): Promise<void> {
  res.writeHead(200, {
    'Content-Type': f.raw ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
  });
  res.flushHeaders();
  res.on('close', () => abort.abort());
  try {
    for await (const l of lines) {
      if (!res.write(formatLogLine(l, f))) await new Promise<void>((r) => res.once('drain', () => r()));
    }
  } finally {
    res.end();
  }
}
