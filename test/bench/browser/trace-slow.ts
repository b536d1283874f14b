/**
 * `npx tsx test/bench/browser/trace-slow.ts TRACE.json [--over 10] [--top 8]` — reads a Chrome trace that
 * `npm run bench:browser -- --stages recommend --trace TRACE.json` wrote and prints, for every timed
 * recommend() slower than `--over` ms, the work that overlapped it on any thread of the renderer (GC,
 * JIT tier-up, wasm compilation; the generic task wrappers left out), longest first; then every major GC
 * that began during the timed calls, with the reason V8 gave and its heap and global (heap + external
 * memory) figures. It answers "what was the machine doing during the slow calls" from the trace alone.
 */
import { readFileSync } from 'node:fs';
import { benchArgs } from '../args.ts';

const args = benchArgs({
  script: 'trace-slow.ts',
  flags: { over: { type: 'string', value: 'MS' }, top: { type: 'string', value: 'N' } },
  positionals: { usage: 'trace-slow.ts TRACE.json', min: 1, max: 1 },
});
const [file] = args.positionals;
const overMs = args.number('over', 10, { min: 0 });
const top = args.integer('top', 8, 0);

interface TraceEvent {
  name: string;
  cat?: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** Task plumbing that contains the real work rather than being it. */
const WRAPPERS = new Set([
  'RunTask',
  'ThreadControllerImpl::RunTask',
  'RunMicrotasks',
  'v8.callFunction',
  'HandlePostMessage',
  'SimpleWatcher::OnHandleReady',
  'Receive mojo message',
  'Receive mojo reply',
  'TimerFire',
  'ThreadPool_RunTask',
  'FunctionCall',
  'EpollEvent',
  'V8.StackGuard',
]);

const parsed = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: TraceEvent[] } | TraceEvent[];
const events = Array.isArray(parsed) ? parsed : parsed.traceEvents;

const threadNames = new Map<string, string>();
for (const e of events)
  if (e.ph === 'M' && e.name === 'thread_name')
    threadNames.set(`${e.pid}:${e.tid}`, String((e.args as { name?: string })?.name ?? e.tid));
const thread = (e: TraceEvent) => `${threadNames.get(`${e.pid}:${e.tid}`) ?? '?'} ${e.tid}`;

// The bench's performance.measure spans: a begin and an end event each, named `recommend DTYPE LEARNING`.
const marks = events
  .filter(
    (e) => e.cat === 'blink.user_timing' && e.name.startsWith('recommend') && (e.ph === 'b' || e.ph === 'e'),
  )
  .sort((a, b) => a.ts - b.ts || (a.ph === 'e' ? -1 : 1));
const open = new Map<string, number>();
const calls: { start: number; end: number; name: string }[] = [];
for (const e of marks) {
  if (e.ph === 'b') open.set(e.name, e.ts);
  else if (open.has(e.name)) {
    calls.push({ start: open.get(e.name)!, end: e.ts, name: e.name });
    open.delete(e.name);
  }
}
if (calls.length === 0) {
  process.stderr.write(
    `${file}: no recommend spans (was it written by bench:browser --stages recommend --trace?)\n`,
  );
  // A trace without the spans is bad input, not a bad command line (exit 2).
  process.exit(1);
}
const first = calls[0].start;
const last = calls[calls.length - 1].end;
const work = events.filter(
  (e) => e.ph === 'X' && (e.dur ?? 0) >= 500 && (e.dur ?? 0) < 300_000 && !WRAPPERS.has(e.name),
);
const ms = (us: number) => (us / 1000).toFixed(1);

const slow = calls.filter((c) => (c.end - c.start) / 1000 >= overMs);
console.log(
  `${calls.length} timed calls over ${((last - first) / 1e6).toFixed(1)} s; ${slow.length} at or over ${overMs} ms`,
);
for (const call of slow) {
  console.log(
    `\n${call.name}: ${ms(call.end - call.start)} ms, ${((call.start - first) / 1e6).toFixed(2)} s in`,
  );
  const overlapping = work
    .filter((e) => e.ts < call.end && e.ts + (e.dur ?? 0) > call.start)
    .sort((a, b) => (b.dur ?? 0) - (a.dur ?? 0))
    .slice(0, top);
  for (const e of overlapping)
    console.log(
      `  ${ms(e.dur ?? 0).padStart(7)} ms  ${thread(e).padEnd(34)} ${e.name.slice(0, 56).padEnd(56)} starts ${(e.ts - call.start) / 1000 >= 0 ? '+' : ''}${ms(e.ts - call.start)} ms`,
    );
}

console.log('\nmajor GCs begun during the timed calls (V8.GCIncrementalMarkingStart):');
for (const e of events) {
  if (e.name !== 'V8.GCIncrementalMarkingStart' || e.ts < first || e.ts > last) continue;
  const v = ((e.args as { value?: Record<string, number | string> })?.value ?? {}) as Record<
    string,
    number | string
  >;
  const mb = (key: string) => (typeof v[key] === 'number' ? ((v[key] as number) / 2 ** 20).toFixed(1) : '?');
  console.log(
    `  ${((e.ts - first) / 1e6).toFixed(2)} s  ${thread(e).padEnd(34)} ${String(v.reason ?? v.gc_reason ?? '?').padEnd(36)} ` +
      `old gen ${mb('old_gen_consumed_bytes')}/${mb('old_gen_allocation_limit')} MB, global ${mb('global_consumed_bytes')}/${mb('global_allocation_limit')} MB`,
  );
}
