/**
 * The scheduled-run queue on PostgreSQL, with pg-boss (an established PostgreSQL job queue: SKIP
 * LOCKED fetching, retries, heartbeats) in its own schema of the service's database.
 *
 * - One job per run, its job id the run id: sending a run twice (a recovery pass re-sending a run
 *   it found queued) is a no-op while the job exists.
 * - Heartbeats: a worker refreshes its jobs every heartbeat/2 s; a replica that dies stops, and
 *   pg-boss's supervisor fails the job after `heartbeatSeconds`, then retries it on any replica.
 * - A batch of jobs is one sweep (shared ARM reads within it). Each job is settled on its own
 *   (perJobResults): `retry` fails just that job, which pg-boss retries after `retryDelaySeconds`.
 */
import { PgBoss, type Job, type JobResult } from 'pg-boss';
import type { Logger } from 'pino';
import type { QueuedRunResult, RunBatchHandler, RunQueue } from './run-queue.ts';

export const RUN_QUEUE_NAME = 'netdoctor-scheduled-runs';

export interface PgBossQueueOptions {
  connectionString: string;
  log: Logger;
  /** pg-boss's schema in the service's database. */
  schema?: string;
  /** A job whose worker has not heartbeated for this long is failed and retried (pg-boss: >= 10). */
  heartbeatSeconds?: number;
  /** How often pg-boss looks for such jobs (its supervise and monitor intervals). */
  superviseSeconds?: number;
  /** Runs fetched at once by this replica (one sweep). */
  batchSize?: number;
  pollingSeconds?: number;
  /** Retries of a run's job after its first attempt (a hand-back or a dead replica each use one). */
  retryLimit?: number;
  retryDelaySeconds?: number;
  /** Longest a run's job may stay active, whatever its heartbeats. */
  expireSeconds?: number;
}

interface RunJob {
  runId: string;
}

export async function openPgBossQueue(options: PgBossQueueOptions): Promise<RunQueue> {
  const { log } = options;
  const supervise = options.superviseSeconds ?? 30;
  const boss = new PgBoss({
    connectionString: options.connectionString,
    schema: options.schema ?? 'netdoctor_queue',
    application_name: 'aml-netdoctor-queue',
    schedule: false,
    superviseIntervalSeconds: supervise,
    monitorIntervalSeconds: supervise,
    registerInstance: false,
  });
  // pg-boss reports connection and maintenance errors as events; unhandled they would end the process.
  boss.on('error', (err: unknown) => log.error({ err }, 'job queue error'));
  await boss.start();
  const queue = {
    heartbeatSeconds: Math.max(10, options.heartbeatSeconds ?? 30),
    retryLimit: options.retryLimit ?? 5,
    retryDelay: options.retryDelaySeconds ?? 2,
    expireInSeconds: options.expireSeconds ?? 3600,
  };
  if (await boss.getQueue(RUN_QUEUE_NAME)) await boss.updateQueue(RUN_QUEUE_NAME, { retryLimit: queue.retryLimit, retryDelay: queue.retryDelay, expireInSeconds: queue.expireInSeconds });
  else await boss.createQueue(RUN_QUEUE_NAME, queue).catch(async (err: unknown) => {
    // Another replica created it at the same moment.
    if (!(await boss.getQueue(RUN_QUEUE_NAME))) throw err;
  });
  let workerId: string | undefined;

  return {
    async send(runIds) {
      // Per job, so a changed NETDOCTOR_JOB_HEARTBEAT_SECONDS applies (pg-boss cannot update a queue's heartbeat).
      for (const runId of runIds) await boss.send(RUN_QUEUE_NAME, { runId } satisfies RunJob, { id: runId, heartbeatSeconds: queue.heartbeatSeconds });
    },
    async work(handler: RunBatchHandler) {
      if (workerId) return;
      workerId = await boss.work<RunJob, unknown, { batchSize: number; pollingIntervalSeconds: number; perJobResults: true }>(
        RUN_QUEUE_NAME,
        { batchSize: options.batchSize ?? 20, pollingIntervalSeconds: options.pollingSeconds ?? 2, perJobResults: true },
        async (jobs: Job<RunJob>[]): Promise<JobResult[]> => {
          const results = await handler(jobs.map((j) => ({ runId: j.data.runId, signal: j.signal })));
          return jobs.map((j) => {
            const result: QueuedRunResult = results.get(j.data.runId) ?? 'retry';
            return result === 'done' ? { id: j.id, status: 'completed' } : { id: j.id, status: 'failed', output: { message: 'handed back' } };
          });
        },
      );
    },
    async holds(runId) {
      const job = await boss.getJobById(RUN_QUEUE_NAME, runId);
      return job !== null && (job.state === 'created' || job.state === 'retry' || job.state === 'active');
    },
    async stopWorking() {
      if (!workerId) return;
      const id = workerId;
      workerId = undefined;
      // Do not wait: the scheduler decides how long running work may go on before it is handed back.
      await boss.offWork(RUN_QUEUE_NAME, { id, wait: false });
    },
    async close() {
      await boss.stop({ graceful: true, timeout: 5_000, close: true });
    },
  };
}
