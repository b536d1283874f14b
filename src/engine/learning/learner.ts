import type { DecodedItemTable } from '../../core/bundle/index.ts';
import type { LearningStatus } from '../../core/contract/types.ts';
import { ACTION_CODE } from '../../core/events.ts';
import {
  type LearningChoice,
  type LearningEvent,
  type LearningOptions,
  learnFromEvents,
  type Tf,
} from '../../core/learning/index.ts';
import { nextTask } from '../request-gate.ts';
import type { EngineStorage, UserState } from '../storage/index.ts';

export type { LearningStatus };

import {
  chooseBackend,
  type LearningBackend,
  LearningCancelled,
  loadTfjs,
  selectBackend,
  webgpuDevice,
} from './backend.ts';

/** What the learner reads of the running bundle version. */
export interface LearnerModel {
  version: string;
  table: DecodedItemTable;
  index: ReadonlyMap<string, number>;
  /** How this version learns: its manifest's choice on validation (bundleLearningChoice). */
  learning: LearningChoice;
  /** Runs `task` on this version (the engine's lease: a swap frees it only after). */
  use<T>(task: () => Promise<T>): Promise<T>;
}

/** What the learner reads and writes of the engine's IndexedDB. */
export type LearnerStorage = Pick<EngineStorage, 'recentEvents' | 'userState' | 'updateUserState'>;

export interface LearnerOptions {
  storage: LearnerStorage;
  userId: string;
  model: () => LearnerModel | undefined;
  /** Settings over the bundle's choice. */
  learning?: Partial<LearningOptions>;
  /** Learn even when the bundle chose not to (the app's explicit `learning: true`). */
  force?: boolean;
  /** A run starts after this many new events... */
  everyEvents?: number;
  /** ...or this long after the last event when fewer came (ms). */
  idleMs?: number;
  backends?: readonly LearningBackend[];
  /**
   * The tfjs namespace learning runs on (default: tfjs-core and its backends, imported on the first run,
   * loadTfjs). A host that already holds one with the backends registered passes it instead.
   */
  loadTf?: () => Promise<Tf>;
  /**
   * Resolves when the engine has no latency-sensitive request in flight (RequestGate.whenIdle): awaited
   * before each step, each warm-up run and each IndexedDB read or write, so learning only fills the gaps
   * between recommend() calls. Default: the next macrotask.
   */
  whenIdle?: () => Promise<void>;
  /** The timers learning is scheduled with (the sync client's clock, so tests can freeze both). */
  timers?: {
    setTimeout(callback: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
  };
}

/** The learned embedding of a user state, when it lives in `version`'s item space. */
export function learnedVector(user: UserState | undefined, version: string): Float32Array | undefined {
  const learned = user?.learned;
  return learned && learned.modelVersion === version ? Float32Array.from(learned.vector) : undefined;
}

/**
 * On-device learning in the engine's worker, off the request path: after `everyEvents` new events (or
 * `idleMs` after the last one) it reads the user's newest events from IndexedDB, learns the embedding
 * (src/core/learning) from the prior — another device's learned embedding adopted through the server,
 * else the server's long-term one — and stores it in the user's state, where recommend() and the sync
 * client read it. Runs never overlap; before each step (and each read or write) a run waits until no
 * recommend() is in flight, so a request waits at most for the one step that had begun; and a failure on
 * WebGPU (a lost device) moves learning to wasm for good and runs again.
 */
export class DeviceLearner {
  private tf?: Tf;
  private backend?: LearningBackend;
  private timings?: Partial<Record<LearningBackend, number>>;
  private deviceLost = false;
  private newEvents = 0;
  private timer?: unknown;
  private running?: Promise<LearningStatus>;
  private disposed = false;
  private readonly info: LearningStatus = { state: 'waiting', runs: 0, steps: 0 };

  constructor(private readonly deps: LearnerOptions) {}

  /** Waits until no request is in flight; ends the run when the learner was disposed meanwhile. */
  private async idle(): Promise<void> {
    await (this.deps.whenIdle ?? nextTask)();
    if (this.disposed) throw new LearningCancelled();
  }

  /** Whether the running bundle learns, and why; undefined before a bundle is loaded. */
  private setting(): { learn: boolean; options: LearningOptions; reason: string } | undefined {
    const choice = this.deps.model()?.learning;
    if (!choice) return undefined;
    const forced = this.deps.force === true && !choice.learn;
    return {
      learn: choice.learn || forced,
      options: { ...choice.options, ...this.deps.learning },
      reason: forced ? `learning: true (the bundle ${choice.reason})` : choice.reason,
    };
  }

  status(): LearningStatus {
    const setting = this.setting();
    if (setting && !setting.learn)
      return { state: 'off', runs: this.info.runs, steps: this.info.steps, reason: setting.reason };
    return {
      ...this.info,
      ...(setting ? { reason: setting.reason } : {}),
      ...(this.backend ? { backend: this.backend } : {}),
    };
  }

  /** An event was recorded: learn soon, never now (record() and recommend() do not wait for it). */
  notifyRecorded(): void {
    if (this.disposed || this.setting()?.learn === false) return;
    this.newEvents++;
    const timers = this.deps.timers ?? globalThis;
    if (this.timer !== undefined) timers.clearTimeout(this.timer as never);
    const soon = this.newEvents >= (this.deps.everyEvents ?? 5);
    this.timer = timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.learnNow().catch(() => {});
      },
      soon ? 0 : (this.deps.idleMs ?? 2000),
    );
  }

  /**
   * A run now, after the one in flight; resolves with the status after it. It takes the place of a run
   * scheduled by notifyRecorded (the events that scheduled it are learnt by this one).
   */
  learnNow(): Promise<LearningStatus> {
    if (this.timer !== undefined) {
      (this.deps.timers ?? globalThis).clearTimeout(this.timer as never);
      this.timer = undefined;
    }
    const previous = this.running ?? Promise.resolve(this.status());
    const run = previous.catch(() => undefined).then(() => this.run());
    this.running = run;
    return run.finally(() => {
      if (this.running === run) this.running = undefined;
    });
  }

  /** Destroys tfjs's WebGPU device, as a driver reset would (tests): the next run falls back to wasm. */
  async simulateDeviceLoss(): Promise<boolean> {
    await this.running?.catch(() => {});
    const device = this.tf ? webgpuDevice(this.tf) : undefined;
    if (!device) return false;
    device.destroy();
    return true;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.timer !== undefined) (this.deps.timers ?? globalThis).clearTimeout(this.timer as never);
    await this.running?.catch(() => {});
  }

  private async ensureBackend(dim: number): Promise<Tf> {
    this.tf ??= await (this.deps.loadTf ?? loadTfjs)();
    if (!this.backend) {
      const choice = await chooseBackend(this.tf, dim, this.deps.backends, 2, () => this.idle());
      this.backend = choice.backend;
      this.timings = choice.timings;
      this.info.timings = choice.timings;
      if (choice.failures.length > 0) this.info.failures = choice.failures;
      this.watchDevice();
    }
    return this.tf;
  }

  private watchDevice(): void {
    const device = this.tf ? webgpuDevice(this.tf) : undefined;
    void device?.lost.then((info) => {
      this.deviceLost = true;
      this.info.lastFallback = `tfjs webgpu device lost (${info.reason || 'unknown'}): learning moves to wasm`;
    });
  }

  /** Off WebGPU for good: the next backend of the warm-up's ranking that still works. */
  private async fallBack(reason: string): Promise<void> {
    const tf = this.tf!;
    const order = (['wasm', 'cpu'] as const).filter((b) => b !== this.backend);
    const ranked = [...order].sort(
      (a, b) => (this.timings?.[a] ?? Infinity) - (this.timings?.[b] ?? Infinity),
    );
    for (const name of ranked) {
      if (await selectBackend(tf, name)) {
        this.info.lastFallback = `${reason}: learning moved from ${this.backend} to ${name}`;
        this.backend = name;
        this.deviceLost = false;
        return;
      }
    }
    throw new Error(`${reason}, and neither wasm nor cpu works`);
  }

  private async run(): Promise<LearningStatus> {
    const model = this.deps.model();
    const setting = this.setting();
    if (this.disposed || !model || !setting?.learn) return this.status();
    const { options } = setting;
    this.newEvents = 0;
    this.info.state = 'learning';
    this.info.runSteps = 0;
    try {
      await model.use(async () => {
        await this.idle();
        const tf = await this.ensureBackend(model.table.dim);
        if (this.backend === 'webgpu' && this.deviceLost)
          await this.fallBack('the tfjs webgpu device was lost');
        const { storage, userId } = this.deps;
        await this.idle();
        const events = await storage.recentEvents(userId, options.maxEvents);
        const local: LearningEvent[] = [];
        for (const e of events) {
          const item = model.index.get(e.itemId);
          if (item !== undefined) local.push({ item, action: ACTION_CODE[e.action], ts: e.ts });
        }
        await this.idle();
        const user = await storage.userState(userId);
        const prior = priorOf(user, model.version);
        // No step while a recommend() is in flight: a request waits at most for the step that had begun.
        // Disposal ends a run at its next step (dispose() must not wait for a whole run).
        const onStep = async (step: number) => {
          this.info.runSteps = step;
          await this.idle();
        };
        let learned: Awaited<ReturnType<typeof learnFromEvents>>;
        try {
          learned = await learnFromEvents(tf, model.table, local, prior, options, onStep);
        } catch (error) {
          if (this.backend !== 'webgpu' || error instanceof LearningCancelled) throw error;
          await this.fallBack(
            `tfjs webgpu failed (${error instanceof Error ? error.message : String(error)})`,
          );
          learned = await learnFromEvents(tf, model.table, local, prior, options, onStep);
        }
        if (!learned) return;
        await this.idle();
        const { vector, loss, initialLoss, steps, counts } = learned;
        this.info.runs++;
        this.info.steps += steps;
        Object.assign(this.info, {
          loss,
          initialLoss,
          events: local.length,
          positives: counts.positives,
          negatives: counts.hides + counts.implicit + counts.sampled,
          lastRunAt: Date.now(),
        });
        await storage.updateUserState(userId, (current) => ({
          ...(current ?? emptyState(userId)),
          learned: {
            vector: Array.from(vector),
            modelVersion: model.version,
            source: 'device',
            steps,
            loss,
            updatedAt: Date.now(),
          },
        }));
      });
      this.info.state = 'idle';
      delete this.info.lastError;
    } catch (error) {
      this.info.state = 'error';
      this.info.lastError = error instanceof Error ? error.message : String(error);
    } finally {
      delete this.info.runSteps;
    }
    return this.status();
  }
}

/** Where learning starts: another device's learned embedding adopted through the server, else the server's. */
function priorOf(user: UserState | undefined, version: string): Float32Array | undefined {
  const adopted = user?.devicePrior;
  if (adopted && adopted.modelVersion === version) return Float32Array.from(adopted.vector);
  const long = user?.longTerm;
  return long && long.modelVersion === version ? Float32Array.from(long.vector) : undefined;
}

function emptyState(userId: string): UserState {
  return { userId, counts: { click: 0, closeup: 0, save: 0, hide: 0 }, hidden: [], updatedAt: 0 };
}
