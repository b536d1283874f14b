import cliProgress from 'cli-progress';

export interface ProgressTask {
  /** `note` (loss, rate…) is shown after the counts. */
  update(done: number, total?: number, note?: string): void;
  finish(): void;
}

const SILENT: ProgressTask = { update() {}, finish() {} };

/**
 * Progress bars on stderr (stdout stays clean for --json). A bar appears only once a task has run for a
 * second, so quick steps print nothing; without a terminal it prints a line every few seconds instead.
 */
export class Progress {
  constructor(private readonly enabled: boolean) {}

  task(label: string, unit = ''): ProgressTask {
    if (!this.enabled) return SILENT;
    const started = Date.now();
    let bar: cliProgress.SingleBar | undefined;
    let lastTotal = 1;
    let lastNote = '';
    let lastDone = 0;
    const format = (value: number) => (unit === 'bytes' ? `${(value / 1e6).toFixed(1)} MB` : `${value}`);
    const shown = (done: number) =>
      `${format(done)}/${format(lastTotal)}${unit && unit !== 'bytes' ? ` ${unit}` : ''}${lastNote ? ` | ${lastNote}` : ''}`;
    return {
      update(done: number, total?: number, note?: string) {
        if (total !== undefined) lastTotal = Math.max(1, total);
        if (note !== undefined) lastNote = note;
        // A counter that starts over (a new epoch) gets a fresh bar, so the ETA is of the current pass.
        if (bar && done < lastDone) {
          bar.stop();
          bar = undefined;
        }
        lastDone = done;
        if (!bar) {
          if (Date.now() - started < 1000) return;
          bar = new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: `${label.padEnd(12)} [{bar}] {percentage}% | {shown} | eta {eta_formatted}`,
              barsize: 28,
              hideCursor: true,
              noTTYOutput: !process.stderr.isTTY,
              notTTYSchedule: 5000,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(lastTotal, done, { shown: shown(done) });
        }
        bar.setTotal(lastTotal);
        bar.update(done, { shown: shown(done) });
      },
      finish() {
        if (bar) {
          bar.update(lastTotal, { shown: shown(lastTotal) });
          bar.stop();
        }
      },
    };
  }

  /**
   * One bar per stage of a multi-stage run: reporting a new stage finishes the previous stage's bar.
   * `unitOf` names each stage's counted unit.
   */
  stages(unitOf: (stage: string) => string = () => 'steps'): StagedProgress {
    const tasks = new Map<string, ProgressTask>();
    return {
      update: (stage, done, total, note) => {
        for (const [name, task] of tasks) {
          if (name !== stage) {
            task.finish();
            tasks.delete(name);
          }
        }
        let task = tasks.get(stage);
        if (!task) {
          task = this.task(stage, unitOf(stage));
          tasks.set(stage, task);
        }
        task.update(done, total, note);
      },
      finish: () => {
        for (const task of tasks.values()) task.finish();
        tasks.clear();
      },
    };
  }
}

export interface StagedProgress {
  update(stage: string, done: number, total: number, note?: string): void;
  finish(): void;
}

/** The counted unit of each stage of `edgerec train` (graph sampling counts items, training steps). */
export const trainingUnit = (stage: string): string => (stage === 'graph' ? 'items' : 'steps');
