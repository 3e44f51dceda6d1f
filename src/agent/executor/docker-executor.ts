/**
 * The executor on a real Docker Engine (or any engine speaking its API). It only ever touches
 * containers that carry shoal's labels for this cluster and node.
 */
import { ShoalError } from '../../common/errors.js';
import { EngineClient, HttpError, readAll } from '../../common/http-client.js';
import type { NodeDescription, TaskObject } from '../../store/types.js';
import { containerCreateRequest } from './container-config.js';
import type { LogOptions } from '../../manager/controlapi/api.js';
import type { ContainerObservation, Executor } from './executor.js';
import { LABEL } from './labels.js';
import { LogFrameDecoder } from './log-frames.js';

export interface DockerExecutorOptions {
  runtimeUrl: string;
  hostname: string;
  clusterId: () => string;
  nodeId: () => string;
}

interface EngineContainer {
  Id: string;
  Config: { Labels?: Record<string, string>; Tty?: boolean };
  State: {
    Status: ContainerObservation['state'];
    ExitCode: number;
    Pid: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
    Health?: { Status: 'starting' | 'healthy' | 'unhealthy' | 'none' };
  };
}

const PULL_TIMEOUT_MS = 60_000;
const WATCH_EVENTS = ['die', 'destroy', 'stop', 'start', 'kill', 'oom', 'health_status'];

export class DockerExecutor implements Executor {
  private readonly engine: EngineClient;
  private readonly byTask = new Map<string, string>();

  constructor(private readonly o: DockerExecutorOptions) {
    this.engine = new EngineClient(o.runtimeUrl, '/v1.41');
  }

  async describe(): Promise<NodeDescription> {
    const info = await this.engine.json<{
      NCPU: number;
      MemTotal: number;
      ServerVersion: string;
      Labels?: string[];
      OSType: string;
      Architecture: string;
      Plugins?: { Network?: string[]; Volume?: string[]; Log?: string[] };
    }>('/info');
    const labels: Record<string, string> = {};
    for (const l of info.Labels ?? []) {
      const i = l.indexOf('=');
      if (i > 0) labels[l.slice(0, i)] = l.slice(i + 1);
    }
    const plugins = [
      ...(info.Plugins?.Network ?? []).map((n) => ({ Type: 'Network', Name: n })),
      ...(info.Plugins?.Volume ?? []).map((n) => ({ Type: 'Volume', Name: n })),
      ...(info.Plugins?.Log ?? []).map((n) => ({ Type: 'Log', Name: n })),
    ];
    return {
      Hostname: this.o.hostname,
      Platform: { Architecture: info.Architecture, OS: info.OSType },
      Resources: { NanoCPUs: info.NCPU * 1e9, MemoryBytes: info.MemTotal },
      Engine: { EngineVersion: info.ServerVersion, Labels: labels, Plugins: plugins },
    };
  }

  async ensureImage(image: string): Promise<void> {
    if (await this.hasImage(image)) return;
    // Pull only when the image is missing locally; without a registry this fails fast.
    const { name, tag } = splitImage(image);
    try {
      const res = await this.engine.stream(
        `/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`,
        {
          method: 'POST',
          timeoutMs: PULL_TIMEOUT_MS,
        },
      );
      await readAll(res);
    } catch {
      // The check below decides.
    }
    if (!(await this.hasImage(image))) throw new ShoalError('not_found', `No such image: ${image}`);
  }

  private async hasImage(image: string): Promise<boolean> {
    try {
      await this.engine.json(`/images/${encodeURIComponent(image)}/json`);
      return true;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return false;
      throw e;
    }
  }

  async create(task: TaskObject): Promise<string> {
    // The name carries the task ID, so a second create of the same task is a 409, handled below:
    // no container listing before every create.
    const req = containerCreateRequest(task, { clusterId: this.o.clusterId(), nodeId: this.o.nodeId() });
    let id: string;
    try {
      const r = await this.engine.json<{ Id: string }>(`/containers/create?name=${encodeURIComponent(req.name)}`, {
        method: 'POST',
        body: req.body,
      });
      id = r.Id;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404)
        throw new ShoalError('not_found', `No such image: ${task.Spec.ContainerSpec?.Image ?? ''}`);
      if (e instanceof HttpError && e.status === 409) {
        const again = await this.findByTask(task.ID);
        if (again) return again;
      }
      throw e;
    }
    for (const n of req.extraNetworks) {
      await this.engine.json(`/networks/${encodeURIComponent(n.name)}/connect`, {
        method: 'POST',
        body: {
          Container: id,
          EndpointConfig: { IPAMConfig: n.ipv4 ? { IPv4Address: n.ipv4 } : undefined, Aliases: n.aliases },
        },
      });
    }
    this.byTask.set(task.ID, id);
    return id;
  }

  async start(containerId: string): Promise<void> {
    try {
      await this.engine.json(`/containers/${containerId}/start`, { method: 'POST' });
    } catch (e) {
      if (e instanceof HttpError && e.status === 304) return;
      throw e;
    }
  }

  async inspect(ref: string): Promise<ContainerObservation> {
    const id = this.byTask.get(ref) ?? (isContainerId(ref) ? ref : await this.findByTask(ref));
    const missing: ContainerObservation = {
      id: '',
      state: 'missing',
      exitCode: 0,
      pid: 0,
      health: 'none',
      error: '',
      startedAt: '',
      finishedAt: '',
    };
    if (!id) return missing;
    let c: EngineContainer;
    try {
      c = await this.engine.json<EngineContainer>(`/containers/${id}/json`);
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) {
        this.byTask.delete(ref);
        return missing;
      }
      throw e;
    }
    if (!this.owned(c.Config.Labels)) return missing;
    return {
      id: c.Id,
      state: c.State.Status,
      exitCode: c.State.ExitCode,
      pid: c.State.Pid,
      health: c.State.Health?.Status ?? 'none',
      error: c.State.Error,
      startedAt: c.State.StartedAt,
      finishedAt: c.State.FinishedAt,
    };
  }

  async stop(containerId: string, graceMs: number): Promise<void> {
    const t = Math.max(0, Math.ceil(graceMs / 1000));
    try {
      await this.engine.json(`/containers/${containerId}/stop?t=${t}`, { method: 'POST', timeoutMs: (t + 30) * 1000 });
    } catch (e) {
      if (e instanceof HttpError && (e.status === 304 || e.status === 404)) return;
      throw e;
    }
  }

  async remove(containerId: string): Promise<void> {
    try {
      await this.engine.json(`/containers/${containerId}?force=1&v=1`, { method: 'DELETE' });
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return;
      if (e instanceof HttpError && e.status === 409 && /already in progress/.test(e.message)) return;
      throw e;
    }
    for (const [task, id] of this.byTask) if (id === containerId) this.byTask.delete(task);
  }

  async listManaged(): Promise<{ id: string; taskId: string; state: string; name: string }[]> {
    const filters = JSON.stringify({
      label: [`${LABEL.shoalCluster}=${this.o.clusterId()}`, `${LABEL.shoalNode}=${this.o.nodeId()}`],
    });
    const list = await this.engine.json<
      { Id: string; Names: string[]; State: string; Labels: Record<string, string> }[]
    >(`/containers/json?all=1&filters=${encodeURIComponent(filters)}`);
    return list.map((c) => ({
      id: c.Id,
      taskId: c.Labels[LABEL.shoalTask] ?? '',
      state: c.State,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
    }));
  }

  watch(onChange: (taskId: string, event: string) => void): () => void {
    let stopped = false;
    let abort = new AbortController();
    const loop = async (): Promise<void> => {
      while (!stopped) {
        abort = new AbortController();
        try {
          const filters = JSON.stringify({
            type: ['container'],
            event: WATCH_EVENTS,
            label: [`${LABEL.shoalNode}=${this.o.nodeId()}`],
          });
          const res = await this.engine.stream(`/events?filters=${encodeURIComponent(filters)}`, {
            signal: abort.signal,
          });
          let buf = '';
          for await (const chunk of res) {
            buf += (chunk as Buffer).toString('utf8');
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              try {
                const ev = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> } };
                const taskId = ev.Actor?.Attributes?.[LABEL.shoalTask];
                if (taskId) onChange(taskId, ev.Action ?? '');
              } catch {
                // A malformed event line is skipped.
              }
            }
          }
        } catch {
          // Engine restarted or unreachable: reconnect below.
        }
        if (!stopped) await new Promise((r) => setTimeout(r, 1000).unref());
      }
    };
    void loop();
    return () => {
      stopped = true;
      abort.abort();
    };
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<{ stream: 1 | 2; timestamp: string; line: string }> {
    const id = this.byTask.get(taskId) ?? (await this.findByTask(taskId));
    if (!id) return;
    const c = await this.engine.json<EngineContainer>(`/containers/${id}/json`);
    const q = new URLSearchParams({
      stdout: opts.stdout ? '1' : '0',
      stderr: opts.stderr ? '1' : '0',
      timestamps: '1',
    });
    if (opts.follow) q.set('follow', '1');
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    if (opts.since !== undefined) q.set('since', String(opts.since));
    const res = await this.engine.stream(`/containers/${id}/logs?${q.toString()}`, { signal: opts.signal });
    if ((res.statusCode ?? 500) >= 300) throw new ShoalError('unknown', (await readAll(res)).trim());
    const decoder = new LogFrameDecoder(Boolean(c.Config.Tty));
    try {
      for await (const chunk of res) for (const l of decoder.push(chunk as Buffer)) yield l;
    } catch (e) {
      if (!opts.signal?.aborted) throw e;
    }
    for (const l of decoder.end()) yield l;
  }

  private owned(labels: Record<string, string> | undefined): boolean {
    return (
      Boolean(labels) &&
      labels![LABEL.shoalCluster] === this.o.clusterId() &&
      labels![LABEL.shoalNode] === this.o.nodeId()
    );
  }

  private async findByTask(taskId: string): Promise<string | undefined> {
    const cached = this.byTask.get(taskId);
    if (cached) return cached;
    const filters = JSON.stringify({
      label: [
        `${LABEL.shoalTask}=${taskId}`,
        `${LABEL.shoalCluster}=${this.o.clusterId()}`,
        `${LABEL.shoalNode}=${this.o.nodeId()}`,
      ],
    });
    const list = await this.engine.json<{ Id: string }[]>(
      `/containers/json?all=1&filters=${encodeURIComponent(filters)}`,
    );
    const id = list[0]?.Id;
    if (id) this.byTask.set(taskId, id);
    return id;
  }
}

function isContainerId(ref: string): boolean {
  return /^[0-9a-f]{64}$/.test(ref);
}

/** `name[:tag]` (a `@digest` stays in the name); no tag means latest, as the engine assumes. */
export function splitImage(image: string): { name: string; tag: string } {
  if (image.includes('@')) return { name: image, tag: '' };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { name: image, tag: 'latest' };
}
