/**
 * One of several workers claiming ticks from the same SQLite file (test/store/sqlite.test.ts).
 * All workers step through the same clock times; a barrier lines them up at every step so they
 * race for the same due schedules. Posts back every tick it claimed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { everyMinutes } from './contract.ts';

interface Job {
  path: string;
  owner: string;
  parties: number;
  start: number;
  steps: number;
  stepMinutes: number;
  limit: number;
  barrier: SharedArrayBuffer;
}

if (!parentPort) {
  // Run directly (`tap test/store/` runs every file in the folder): there is nothing to test here.
  console.log('1..0 # not a test: a worker thread of test/store/sqlite.test.ts');
  process.exit(0);
}

const job = workerData as Job;
const cells = new Int32Array(job.barrier); // [arrived, generation]

function barrier(): void {
  const gen = Atomics.load(cells, 1);
  if (Atomics.add(cells, 0, 1) === job.parties - 1) {
    Atomics.store(cells, 0, 0);
    Atomics.add(cells, 1, 1);
    Atomics.notify(cells, 1);
  } else {
    while (Atomics.load(cells, 1) === gen) Atomics.wait(cells, 1, gen, 1000);
  }
}

const store = await openSqliteStore(job.path);
const next = everyMinutes(job.stepMinutes);
const claims: Array<[string, number]> = [];
for (let i = 0; i < job.steps; i++) {
  const now = new Date(job.start + i * job.stepMinutes * 60_000);
  barrier();
  for (;;) {
    const got = await store.claimDueSchedules(now, job.owner, job.limit, next);
    if (!got.length) break;
    for (const c of got) claims.push([c.scheduleId, c.scheduledFor.getTime()]);
  }
}
await store.close();
parentPort?.postMessage(claims);
