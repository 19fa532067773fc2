/**
 * How scheduled runs reach the replicas that execute them. With the embedded store the scheduler
 * executes the runs it claims itself (no queue). With PostgreSQL, claimed runs go through a job
 * queue (pg-boss, src/service/pgboss-queue.ts) that every replica works: a replica that dies
 * mid-run stops heartbeating its job, and the queue retries it on another replica.
 */

/** One run handed to a worker; `signal` aborts when the queue no longer holds the job for us. */
export interface QueuedRun {
  runId: string;
  signal: AbortSignal;
}

/** Per run, what the worker did: `retry` hands it back to the queue (another replica, later). */
export type QueuedRunResult = 'done' | 'retry';

export type RunBatchHandler = (batch: QueuedRun[]) => Promise<Map<string, QueuedRunResult>>;

export interface RunQueue {
  /** Queues runs for any replica's worker. Queueing a run the queue already has is a no-op. */
  send(runIds: readonly string[]): Promise<void>;
  /** Starts taking runs in batches (a batch is one sweep: its shared reads are read once). */
  work(handler: RunBatchHandler): Promise<void>;
  /** Whether the queue still means to run it (queued, retrying or active). */
  holds(runId: string): Promise<boolean>;
  /** Stops taking new runs; runs already taken go on. */
  stopWorking(): Promise<void>;
  close(): Promise<void>;
}
