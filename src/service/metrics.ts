/**
 * The service's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * every app a test builds starts from zero): diagnoses by outcome, probe latency, ARM requests and
 * 429s by operation, findings by code, and the default process metrics. Served at GET /metrics
 * (src/routes/metrics.ts). Label values come from small fixed sets (outcomes, probe ids, finding
 * codes, ARM operations without names), never from ids.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ArmMetricsSink } from '../azure/arm-metrics.ts';
import type { DiagnoseMetrics, DiagnosisOutcome } from '../diagnose.ts';

export const DIAGNOSIS_OUTCOMES: readonly DiagnosisOutcome[] = ['cause-found', 'no-cause-found', 'undetermined', 'error', 'cancelled'];

/** Probe latencies run from a cached read (milliseconds) to LRO polling and DNS timeouts (a minute). */
const PROBE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface ServiceMetrics extends DiagnoseMetrics, ArmMetricsSink {
  registry: Registry;
}

/** `2xx` … `5xx`, or `error` when no response came back (connection failure, timeout, abort). */
export function statusClass(status: number | undefined): string {
  return status !== undefined && status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'error';
}

export function createMetrics(): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const diagnoses = new Counter({
    name: 'netdoctor_diagnoses_total',
    help: 'Diagnoses finished, by outcome: the verdict, error, or cancelled.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const probeDuration = new Histogram({
    name: 'netdoctor_probe_duration_seconds',
    help: 'How long each probe ran, by probe and whether its observation is ok.',
    labelNames: ['probe', 'ok'] as const,
    buckets: PROBE_BUCKETS,
    registers: [registry],
  });
  const armRequests = new Counter({
    name: 'netdoctor_arm_requests_total',
    help: 'ARM requests sent (every attempt, retries included), by operation and status class.',
    labelNames: ['operation', 'status_class'] as const,
    registers: [registry],
  });
  const armThrottled = new Counter({
    name: 'netdoctor_arm_throttled_total',
    help: 'ARM requests answered 429 Too Many Requests, by operation.',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const findings = new Counter({
    name: 'netdoctor_findings_total',
    help: 'Findings reported by completed diagnoses, by finding code and tier.',
    labelNames: ['code', 'tier'] as const,
    registers: [registry],
  });
  // Every outcome is exported from the start, so a rate over it exists before the first error.
  for (const outcome of DIAGNOSIS_OUTCOMES) diagnoses.inc({ outcome }, 0);

  return {
    registry,
    probeDone(probe, ok, ms) {
      probeDuration.observe({ probe, ok: String(ok) }, ms / 1000);
    },
    diagnosisDone(outcome, reported) {
      diagnoses.inc({ outcome });
      for (const f of reported) findings.inc({ code: f.code, tier: String(f.tier) });
    },
    armResponse(operation, status) {
      armRequests.inc({ operation, status_class: statusClass(status) });
      if (status === 429) armThrottled.inc({ operation });
    },
  };
}
