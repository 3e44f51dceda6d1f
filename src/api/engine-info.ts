/** What the API needs of the runtime engine besides proxying: its JSON answers (`/version`, `/info`, local networks) and its event stream. */
export interface EngineInfo {
  json<T>(path: string, opts?: { method?: string; body?: unknown }): Promise<T>;
  /** A streaming answer of the engine (`/events`), line by line; ends when `signal` aborts. */
  lines(path: string, signal: AbortSignal): AsyncIterable<string>;
}
