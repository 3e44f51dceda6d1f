/**
 * An in-memory executor for tests of the agent and the dispatcher: containers are records that
 * start, run and exit when told to, with the same observable contract as the Docker executor.
 */
import { ShoalError } from '../../common/errors.js';
import type { NodeDescription, TaskObject } from '../../store/types.js';
import type { ContainerObservation, Executor } from '../executor/executor.js';

interface FakeContainer {
  id: string;
  taskId: string;
  name: string;
  image: string;
  state: ContainerObservation['state'];
  exitCode: number;
  health: ContainerObservation['health'];
  logs: string[];
}

export class FakeExecutor implements Executor {
  readonly containers = new Map<string, FakeContainer>();
  readonly missingImages = new Set<string>();
  /** Images whose containers exit at once with this code. */
  readonly exitCodes = new Map<string, number>();
  private watchers = new Set<(taskId: string, event: string) => void>();
  private seq = 0;
  created = 0;
  /** The next this-many removals fail, as when the engine cannot unmount a busy root filesystem. */
  failRemovals = 0;

  constructor(private readonly hostname = 'fake') {}

  async describe(): Promise<NodeDescription> {
    return {
      Hostname: this.hostname,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 2e9, MemoryBytes: 4 * 1024 ** 3 },
      Engine: { EngineVersion: 'fake', Plugins: [] },
    };
  }

  async ensureImage(image: string): Promise<void> {
    if (this.missingImages.has(image)) throw new ShoalError('not_found', `No such image: ${image}`);
  }

  async create(task: TaskObject): Promise<string> {
    const existing = [...this.containers.values()].find((c) => c.taskId === task.ID);
    if (existing) return existing.id;
    const id = `c${++this.seq}`;
    this.created++;
    this.containers.set(id, {
      id,
      taskId: task.ID,
      name: `${task.ServiceAnnotations.Name}.${task.Slot}.${task.ID}`,
      image: task.Spec.ContainerSpec?.Image ?? '',
      state: 'created',
      exitCode: 0,
      health: 'none',
      logs: [],
    });
    return id;
  }

  async start(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) throw new ShoalError('not_found', `No such container: ${id}`);
    const code = this.exitCodes.get(c.image);
    if (code !== undefined) {
      c.state = 'exited';
      c.exitCode = code;
    } else c.state = 'running';
    this.emit(c.taskId, c.state === 'exited' ? 'die' : 'start');
  }

  async inspect(ref: string): Promise<ContainerObservation> {
    const c = this.containers.get(ref) ?? [...this.containers.values()].find((x) => x.taskId === ref);
    if (!c)
      return {
        id: '',
        state: 'missing',
        exitCode: 0,
        pid: 0,
        health: 'none',
        error: '',
        startedAt: '',
        finishedAt: '',
      };
    return {
      id: c.id,
      state: c.state,
      exitCode: c.exitCode,
      pid: c.state === 'running' ? 100 : 0,
      health: c.health,
      error: '',
      startedAt: '',
      finishedAt: '',
    };
  }

  async stop(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c || c.state !== 'running') return;
    c.state = 'exited';
    c.exitCode = 143;
    this.emit(c.taskId, 'die');
  }

  async remove(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    if (this.failRemovals > 0) {
      this.failRemovals--;
      throw new Error('driver failed to remove root filesystem: device or resource busy');
    }
    this.containers.delete(id);
    this.emit(c.taskId, 'destroy');
  }

  async listManaged(): Promise<{ id: string; taskId: string; state: string; name: string }[]> {
    return [...this.containers.values()].map((c) => ({ id: c.id, taskId: c.taskId, state: c.state, name: c.name }));
  }

  watch(onChange: (taskId: string, event: string) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  async *logs(taskId: string): AsyncIterable<{ stream: 1 | 2; timestamp: string; line: string }> {
    const c = [...this.containers.values()].find((x) => x.taskId === taskId);
    for (const line of c?.logs ?? []) yield { stream: 1, timestamp: new Date(0).toISOString(), line };
  }

  /** Test control: the container dies as if killed, or is removed behind the agent's back. */
  kill(taskId: string, exitCode = 137): void {
    const c = [...this.containers.values()].find((x) => x.taskId === taskId);
    if (!c) return;
    c.state = 'exited';
    c.exitCode = exitCode;
    this.emit(taskId, 'die');
  }

  removeBehindBack(taskId: string): void {
    const c = [...this.containers.values()].find((x) => x.taskId === taskId);
    if (!c) return;
    this.containers.delete(c.id);
    this.emit(taskId, 'destroy');
  }

  running(): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.state === 'running');
  }

  private emit(taskId: string, event = 'start'): void {
    for (const w of this.watchers) w(taskId, event);
  }
}
