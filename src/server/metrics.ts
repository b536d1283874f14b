import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RefreshJob } from './refresh/index.ts';

/** Prometheus metrics of one server process, on their own registry (tests build many servers). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Histogram({
    name: 'edgerec_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly eventsAccepted = new Counter({
    name: 'edgerec_events_accepted_total',
    help: 'events durably stored',
    registers: [this.registry],
  });
  readonly eventsDuplicate = new Counter({
    name: 'edgerec_events_duplicate_total',
    help: 'events skipped because their id was already stored (client retries)',
    registers: [this.registry],
  });
  readonly eventsConflict = new Counter({
    name: 'edgerec_events_conflict_total',
    help: 'events skipped because their id was already stored with other content',
    registers: [this.registry],
  });
  readonly embeddingConflicts = new Counter({
    name: 'edgerec_embedding_conflicts_total',
    help: 'device embedding writes refused with 409 (stale base version)',
    registers: [this.registry],
  });
  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'edgerec_' });
  }

  /** Exposes the refresh job's own counters, read at scrape time. */
  watchRefresh(job: RefreshJob): void {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('edgerec_refresh_users_total', 'users re-embedded by the refresh job', () => job.usersRefreshed);
    gauge('edgerec_refresh_passes_total', 'refresh passes finished', () => job.passes);
    gauge('edgerec_refresh_failures_total', 'refresh passes that failed', () => job.failures);
    gauge(
      'edgerec_refresh_last_duration_seconds',
      'duration of the last pass',
      () => job.lastDurationSeconds,
    );
  }
}
