import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type CombineRule,
  combineRuleName,
  DEFAULT_COMBINE_RULE,
  parseCombineRule,
} from '../../core/combine/index.ts';
import { DEFAULT_RUN_DIR } from '../../train/bundle/default-data.ts';
import { nonNegativeInteger, positiveInteger } from '../options.ts';

// The server's modules (fastify, better-sqlite3, pg) load only when a server command runs: they are
// optional peers, and `edgerec train` must not need them.
const server = () => import('../../server/index.ts');
const DEFAULT_PORT = 8787;

function combineRule(value: string): CombineRule {
  try {
    return parseCombineRule(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `edgerec serve` and `edgerec token`: the sync server, and tokens minted from its secret. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description(
      'run the sync server: model registry, event ingestion, embedding sync and the refresh job (SQLite in --data, or PostgreSQL when DATABASE_URL is set)',
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <n>', 'port', positiveInteger, DEFAULT_PORT)
    .option('--data <dir>', 'SQLite database and token secret', 'data')
    .option('--models <dir>', 'bundles folder the registry serves (edgerec bundle --out)', 'models')
    .option(
      '--run <dir>',
      `training run whose PinnerFormer re-embeds users (default ${DEFAULT_RUN_DIR} when present)`,
    )
    .option('--refresh-minutes <n>', 'cadence of the refresh job', positiveInteger, 15)
    .option(
      '--sessions-per-minute <n>',
      'anonymous sessions one IP may open per minute (0: no limit)',
      nonNegativeInteger,
      60,
    )
    .option(
      '--batches-per-minute <n>',
      'event batches one user may upload per minute (0: no limit)',
      nonNegativeInteger,
      120,
    )
    .option(
      '--request-timeout <s>',
      'seconds a whole request (body included) may take to arrive',
      positiveInteger,
      300,
    )
    .option(
      '--idle-timeout <s>',
      'seconds a connection may stay silent before it is closed',
      positiveInteger,
      30,
    )
    .option(
      '--max-session-days <n>',
      'days a session lasts from its first token, refreshes included',
      positiveInteger,
      365,
    )
    .option(
      '--combine <rule>',
      "what the embedding route serves as the user's embedding: server, device, newest, or the device embedding's " +
        `weight W in [0, 1] in a normalised sum with the server's (default ${combineRuleName(DEFAULT_COMBINE_RULE)}, chosen on the replay's validation window)`,
      combineRule,
      DEFAULT_COMBINE_RULE,
    )
    .option('--quiet', 'log warnings and errors only')
    .action(async (options) => {
      const { startServer } = await server();
      const databaseUrl = process.env.DATABASE_URL || undefined;
      const running = await startServer({
        host: options.host,
        port: options.port,
        dataDir: options.data,
        databaseUrl,
        modelsDir: options.models,
        runDir: options.run ?? DEFAULT_RUN_DIR,
        requireRun: options.run !== undefined,
        refreshMinutes: options.refreshMinutes,
        maxSessionSeconds: options.maxSessionDays * 86_400,
        combineRule: options.combine,
        rateLimits: {
          anonymousSessionsPerIp: options.sessionsPerMinute,
          eventBatchesPerUser: options.batchesPerMinute,
          windowMs: 60_000,
        },
        timeouts: { requestMs: options.requestTimeout * 1000, idleMs: options.idleTimeout * 1000 },
        logger: { level: options.quiet ? 'warn' : 'info' },
      });
      const { store, refresh, registry } = running.context;
      running.app.log.info(
        {
          url: running.url,
          db: store.kind,
          bundle: registry.latestVersion() ?? null,
          refresh: refresh ? `every ${options.refreshMinutes} min` : 'off (no training run)',
        },
        'edgerec server listening',
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          running.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
          running.close().then(resolve, (error) => {
            running.app.log.error({ err: error }, 'shutdown failed');
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  program
    .command('token')
    .description("mint a bearer token from the server's secret (EDGEREC_SECRET, or <data>/server-secret)")
    .requiredOption('--user <id>', 'the user (or, with --admin, the admin name) the token speaks for')
    .option('--admin', 'an admin token: publishing bundles, running the refresh job, reaching any user')
    .option('--ttl-days <n>', 'lifetime in days', positiveInteger, 30)
    .option('--data <dir>', 'where the server keeps its secret', 'data')
    .action(async (options) => {
      const { loadSecret, SECRET_ENV, TokenSigner } = await server();
      const file = join(options.data, 'server-secret');
      // Never create a secret here: a token signed by a fresh one is refused by the server it was meant for.
      const signer = new TokenSigner(loadSecret(file, process.env, { create: false }));
      process.stderr.write(`edgerec: signed with ${process.env[SECRET_ENV] ? SECRET_ENV : file}\n`);
      const { token } = signer.issue(
        options.user,
        options.admin ? 'admin' : 'user',
        options.ttlDays * 86_400,
      );
      process.stdout.write(`${token}\n`);
    });
}
