/** A small structured logger; components take one so tests can silence or record it. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function consoleLogger(minLevel: Level = 'info', component = 'shoal'): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (order[level] < order[minLevel]) return;
    const extra = fields ? ' ' + JSON.stringify(fields) : '';
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} [${component}] ${msg}${extra}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => consoleLogger(minLevel, `${component}/${c}`),
  };
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
