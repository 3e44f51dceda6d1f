/**
 * Decoding Docker's multiplexed log stream: frames of [stream, 0, 0, 0, u32 BE length][payload];
 * payloads are split into lines per stream (a line may span frames). With `timestamps=1` every line
 * starts with an RFC 3339 timestamp and a space.
 */
export interface DecodedLine {
  stream: 1 | 2;
  timestamp: string;
  line: string;
}

export class LogFrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private partial: Record<1 | 2, string> = { 1: '', 2: '' };

  constructor(private readonly raw: boolean) {}

  /** Feeds bytes; returns the complete lines they finish. */
  push(chunk: Buffer): DecodedLine[] {
    if (this.raw) return this.text(1, chunk.toString('utf8'));
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: DecodedLine[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const stream = this.buf[0] === 2 ? 2 : 1;
      out.push(...this.text(stream, this.buf.subarray(8, 8 + len).toString('utf8')));
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }

  /** Whatever is left without a final newline. */
  end(): DecodedLine[] {
    const out: DecodedLine[] = [];
    for (const s of [1, 2] as const) {
      if (this.partial[s]) out.push(splitTimestamp(s, this.partial[s]));
      this.partial[s] = '';
    }
    return out;
  }

  private text(stream: 1 | 2, s: string): DecodedLine[] {
    const parts = (this.partial[stream] + s).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    return parts.map((p) => splitTimestamp(stream, p.replace(/\r$/, '')));
  }
}

function splitTimestamp(stream: 1 | 2, line: string): DecodedLine {
  const m = /^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) (.*)$/s.exec(line);
  return m ? { stream, timestamp: m[1]!, line: m[2]! } : { stream, timestamp: '', line };
}
