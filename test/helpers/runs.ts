/** Reading async diagnosis runs through the API, shared by the async and stored-runs tests. */
import type { FastifyInstance } from 'fastify';
import type { DiagnosisRun } from '../../src/service/runs.ts';

export async function getRun(fastify: FastifyInstance, id: string): Promise<DiagnosisRun> {
  const res = await fastify.inject({ method: 'GET', url: `/v1/diagnoses/${id}` });
  if (res.statusCode !== 200) throw new Error(`GET ${id}: ${res.statusCode} ${res.body}`);
  return res.json<DiagnosisRun>();
}

/** Polls the run until `done(run)` holds (or the timeout passes: the caller asserts on the result). */
export async function until(fastify: FastifyInstance, id: string, done: (r: DiagnosisRun) => boolean, timeoutMs = 30_000): Promise<DiagnosisRun> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(fastify, id);
    if (done(run) || Date.now() > deadline) return run;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const finished = (r: DiagnosisRun): boolean => ['succeeded', 'failed', 'cancelled'].includes(r.status);
