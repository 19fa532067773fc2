/**
 * Acceptance (issue 6, item 5): fault tolerance. For each kind of call the diagnosis makes (a
 * resource GET, a page of a listing, a long-running POST, a DNS query) a fault is injected into the
 * simulated ARM or DNS server, and a full diagnosis of a healthy estate runs through the real SDK
 * clients and node:dns. Every case must end on its own (per-call timeouts, not the test's deadline)
 * with a report; transient faults must be retried to complete evidence; permanent ones must leave
 * the affected items undetermined and never give `no-cause-found`.
 *
 * The outcomes are rendered as docs/reliability.md: `UPDATE_RELIABILITY=1` rewrites it, otherwise
 * the test fails when the committed table differs (the timings section is not compared).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { pino } from 'pino';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { diagnose, type DiagnoseDeps, type DiagnoseRequest } from '../../src/diagnose.ts';
import { sameId } from '../../src/model/arm-id.ts';
import type { ProbeId } from '../../src/model/snapshot.ts';
import type { CoverageItem, Report } from '../../src/report/schema.ts';
import { startArmSimulator, type RecordedRequest } from '../../src/sim/arm-server.ts';
import { generateTls } from '../../src/sim/ca.ts';
import { startDnsServer, type DnsQueryRecord } from '../../src/sim/dns-server.ts';
import { loadScenario } from '../../src/sim/scenario-files.ts';
import type { Scenario, ScenarioDnsAnswer, ScenarioFault } from '../../src/sim/scenario.ts';

const DOC = fileURLToPath(new URL('../../docs/reliability.md', import.meta.url));
const UPDATE = process.env.UPDATE_RELIABILITY === '1';

// ------------------------------------------------------------------------------ settings

/** Short but realistic client settings: what the service and CLI take from NETDOCTOR_* variables. */
const SETTINGS = {
  /** NETDOCTOR_TIMEOUT_MS: one ARM call, retries and LRO polling included. */
  timeoutMs: 4_000,
  maxRetries: 2,
  retryDelayMs: 20,
  lroPollIntervalMs: 20,
  dnsTimeoutMs: 250,
  /** As the CLI and the service ask (DNS_TRIES). */
  dnsTries: 2,
  /** Items per list page in the simulated ARM: every listing of two or more items has a second page. */
  pageSize: 1,
} as const;
/**
 * The product has no overall diagnosis deadline, only per-call timeouts. The test gives each
 * diagnosis this deadline as its abort signal (as a caller would) and requires that it ends well
 * before it fires: bounded by the per-call timeouts alone.
 */
const DEADLINE_MS = 5 * SETTINGS.timeoutMs;
const RETRY_AFTER_S = 1;
/** Transient faults fail every attempt but the last the client is configured to make. */
const ARM_TRANSIENT_TIMES = SETTINGS.maxRetries;
const DNS_TRIES_FAILED = SETTINGS.dnsTries - 1;
const CONCURRENCY = 6;

const scenario = await loadScenario('healthy-nat-gateway-vantage');
const tls = await generateTls();

// ------------------------------------------------------------------------------ call kinds

const SUB = '/subscriptions/ef4b6d0f-6563-4780-bc74-82f3e699feaf';
const PE_ID = `${SUB}/resourceGroups/rg-pharma-net-weu/providers/Microsoft.Network/privateEndpoints/pe-mlw-pharma-weu`;
const VANTAGE_NIC = `${SUB}/resourceGroups/rg-pharma-net-weu/providers/Microsoft.Network/networkInterfaces/vm-pharma-tools01324`;
const API_NAME = '86ae78b5-6eb3-46b7-baa7-5714696938e2.workspace.westeurope.api.azureml.ms';

type KindId = 'get' | 'list' | 'lro' | 'dns';

interface ArmTarget {
  method: string;
  path: string;
  query?: string;
}

interface CallKind {
  id: KindId;
  title: string;
  /** What is faulted, for the table. */
  target: string;
  /** The request the faults match (ARM kinds). */
  arm?: ArmTarget;
  /** The name whose answer is faulted (DNS). */
  dnsName?: string;
  /** The probe whose coverage a permanent fault must make undetermined. */
  probe: ProbeId;
  /** Every item a permanent fault makes undetermined is about the faulted read: it matches this. */
  about: RegExp;
}

const KINDS: CallKind[] = [
  {
    id: 'get',
    title: 'resource GET',
    target: 'GET of the workspace private endpoint `pe-mlw-pharma-weu`',
    arm: { method: 'GET', path: 'Microsoft\\.Network/privateEndpoints/pe-mlw-pharma-weu$' },
    probe: 'privateEndpoints',
    about: /pe-mlw-pharma-weu(?!\.nic)/,
  },
  {
    id: 'list',
    title: 'list page',
    target: 'second page of the subscription-wide listing of private DNS zones (`$skiptoken`)',
    arm: { method: 'GET', path: '/providers/Microsoft\\.Network/privateDnsZones$', query: '\\$skiptoken=' },
    probe: 'privateDnsZones',
    about: /listing the private DNS zones of subscription/,
  },
  {
    id: 'lro',
    title: 'long-running POST',
    target: '`effectiveRouteTable` on the vantage VM NIC (202 + polling)',
    arm: { method: 'POST', path: 'networkInterfaces/vm-pharma-tools01324/effectiveRouteTable$' },
    probe: 'vantage',
    about: /vm-pharma-tools01324/,
  },
  {
    id: 'dns',
    title: 'DNS query',
    target: 'the workspace API name, asked live by the DNS probe',
    dnsName: API_NAME,
    probe: 'dns',
    about: new RegExp(API_NAME.replace(/\./g, '\\.')),
  },
];

// ------------------------------------------------------------------------------ faults

interface FaultCase {
  id: string;
  title: string;
  /** Retried to complete evidence (true), or every attempt fails (false). */
  transient: boolean;
}

const FAULTS: FaultCase[] = [
  { id: 'none', title: 'no fault (baseline)', transient: true },
  { id: '429-transient', title: `429 + Retry-After ${RETRY_AFTER_S} s, transient`, transient: true },
  { id: '429', title: `429 + Retry-After ${RETRY_AFTER_S} s, every attempt`, transient: false },
  { id: '500-transient', title: '500, transient', transient: true },
  { id: '500', title: '500, every attempt', transient: false },
  { id: '503-transient', title: `503 + Retry-After ${RETRY_AFTER_S} s, transient`, transient: true },
  { id: '503', title: `503 + Retry-After ${RETRY_AFTER_S} s, every attempt`, transient: false },
  { id: 'reset-transient', title: 'connection reset, transient', transient: true },
  { id: 'reset', title: 'connection reset, every attempt', transient: false },
  { id: 'hang', title: 'hang past the per-call timeout', transient: false },
  { id: 'malformed', title: 'malformed JSON / malformed DNS reply', transient: false },
  { id: 'lro-never', title: 'long-running operation never finishes', transient: false },
  { id: '403', title: '403 on one resource', transient: false },
];

/** How a fault is injected for a call kind, or why it does not apply. */
type Injection =
  | { na: string }
  | {
      faults: ScenarioFault[];
      dns?: ScenarioDnsAnswer;
      neverFinishes?: boolean;
      /** How the fault looks on this kind of call, for the table. */
      as: string;
    };

function armFault(target: ArmTarget, fault: Omit<ScenarioFault, 'path' | 'method'>, withQuery = true): ScenarioFault {
  return { method: target.method, path: target.path, ...(withQuery && target.query ? { query: target.query } : {}), ...fault };
}

function injectArm(target: ArmTarget, fault: FaultCase): Injection {
  const times = fault.transient ? { times: ARM_TRANSIENT_TIMES } : {};
  switch (fault.id) {
    case 'none':
      return { faults: [], as: '' };
    case '429-transient':
    case '429':
      return { faults: [armFault(target, { status: 429, retryAfterSeconds: RETRY_AFTER_S, ...times })], as: '' };
    case '500-transient':
    case '500':
      return { faults: [armFault(target, { status: 500, ...times })], as: '' };
    case '503-transient':
    case '503':
      return { faults: [armFault(target, { status: 503, retryAfterSeconds: RETRY_AFTER_S, ...times })], as: '' };
    case 'reset-transient':
    case 'reset':
      return { faults: [armFault(target, { kind: 'reset', ...times })], as: '' };
    case 'hang':
      return { faults: [armFault(target, { kind: 'hang' })], as: '' };
    case 'malformed':
      return { faults: [armFault(target, { kind: 'malformed-json' })], as: '' };
    case '403':
      // A refusal is of the whole listing (ARM authorizes the scope, not a page).
      return { faults: [armFault(target, { status: 403 }, false)], as: '' };
    default:
      throw new Error(`unknown fault ${fault.id}`);
  }
}

function injectDns(answer: ScenarioDnsAnswer, fault: FaultCase): Injection {
  const times = fault.transient ? { times: DNS_TRIES_FAILED } : {};
  const failing = (rcode: NonNullable<ScenarioDnsAnswer['rcode']>): Injection => ({ faults: [], dns: { ...answer, rcode, ...times }, as: rcode });
  switch (fault.id) {
    case 'none':
      return { faults: [], as: '' };
    case '429-transient':
    case '429':
      return { na: 'DNS has no throttling answer; an overloaded server drops queries (the hang row)' };
    case '500-transient':
    case '500':
    case '503-transient':
    case '503':
      return failing('SERVFAIL');
    case 'reset-transient':
    case 'reset':
      return failing('TCP_RESET');
    case 'hang':
      return failing('TIMEOUT');
    case 'malformed':
      return failing('MALFORMED');
    case 'lro-never':
      return { na: 'a DNS query is not a long-running operation' };
    case '403':
      return { na: 'DNS has no authorization failure for one resource' };
    default:
      throw new Error(`unknown fault ${fault.id}`);
  }
}

function inject(kind: CallKind, fault: FaultCase): Injection {
  if (fault.id === 'lro-never') {
    return kind.id === 'lro' ? { faults: [], neverFinishes: true, as: '' } : kind.arm ? { na: 'not a long-running call' } : injectDns({}, fault);
  }
  if (kind.arm) return injectArm(kind.arm, fault);
  const answer = scenario.dns[kind.dnsName ?? ''];
  if (!answer) throw new Error(`the scenario does not answer ${kind.dnsName}`);
  return injectDns(answer, fault);
}

// ------------------------------------------------------------------------------ running a cell

interface CellRun {
  kind: CallKind;
  fault: FaultCase;
  injection: Exclude<Injection, { na: string }>;
  report?: Report;
  error?: string;
  elapsedMs: number;
  /** The test's deadline fired before the diagnosis ended. */
  deadlineHit: boolean;
  /** Requests (ARM) or queries (DNS) to the faulted target, and how many of them the fault answered. */
  targetCalls: number;
  faulted: number;
  /** `ip:port` of the cell's simulated DNS server (it appears in the report's scope). */
  dnsAddress: string;
  /** After the last fault, the target answered (ARM: the last request got 2xx; DNS: every faulted query type got NOERROR). */
  answeredAfterFault: boolean;
}

interface CellNa {
  kind: CallKind;
  fault: FaultCase;
  na: string;
}

type Cell = CellRun | CellNa;

function matches(target: ArmTarget, r: RecordedRequest): boolean {
  const query = Object.entries(r.query)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return r.method === target.method && new RegExp(target.path, 'i').test(r.path) && (!target.query || new RegExp(target.query, 'i').test(query));
}

const FAILED_DNS = new Set(['SERVFAIL', 'TIMEOUT', 'MALFORMED', 'RESET']);

type Counts = Pick<CellRun, 'targetCalls' | 'faulted' | 'answeredAfterFault'>;

function armCounts(kind: CallKind, injection: CellRun['injection'], requests: RecordedRequest[]): Counts {
  if (injection.neverFinishes) {
    const polls = requests.filter((r) => r.method === 'GET' && /\/locations\/[^/]+\/operations\//i.test(r.path));
    return { targetCalls: polls.length, faulted: polls.length, answeredAfterFault: false };
  }
  const target = kind.arm as ArmTarget;
  // The 403 matches the whole listing, so count it the same way.
  const forTarget = requests.filter((r) => matches(injection.faults.some((f) => f.query) ? target : { method: target.method, path: target.path }, r));
  const last = forTarget.at(-1);
  return { targetCalls: forTarget.length, faulted: forTarget.filter((r) => r.fault).length, answeredAfterFault: !!last && !last.fault && last.status < 300 };
}

function dnsCounts(name: string, queries: DnsQueryRecord[]): Counts {
  // A TCP_RESET answer is one failed attempt in two messages (TC over UDP, reset over TCP): count the reset.
  const forName = queries.filter((q) => q.name === name && q.rcode !== 'TRUNCATED');
  const faulted = forName.filter((q) => FAILED_DNS.has(q.rcode));
  const answeredAfterFault = faulted.every((f) => forName.slice(forName.indexOf(f)).some((q) => q.type === f.type && q.rcode === 'NOERROR'));
  return { targetCalls: forName.length, faulted: faulted.length, answeredAfterFault };
}

async function runCell(kind: CallKind, fault: FaultCase): Promise<Cell> {
  const injection = inject(kind, fault);
  if ('na' in injection) return { kind, fault, na: injection.na };
  const estate: Scenario = {
    ...scenario,
    faults: injection.faults,
    operations: (scenario.operations ?? []).map((o) =>
      injection.neverFinishes && sameId(o.resourceId, VANTAGE_NIC) && o.action === 'effectiveRouteTable' ? { ...o, neverFinishes: true } : o,
    ),
    dns: injection.dns && kind.dnsName ? { ...scenario.dns, [kind.dnsName]: injection.dns } : scenario.dns,
  };
  const arm = await startArmSimulator({ scenario: estate, tls, pageSize: SETTINGS.pageSize });
  const dns = await startDnsServer({ answers: estate.dns });
  try {
    const req: DiagnoseRequest = {
      workspaceId: scenario.target.workspaceId,
      ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}),
      subscriptions: scenario.target.subscriptions ?? [],
      ...(scenario.target.vantageVmId ? { vantageVmId: scenario.target.vantageVmId } : {}),
    };
    const deps: DiagnoseDeps = {
      cloud: 'AzureCloud',
      azure: createAzureClients({
        armEndpoint: arm.url,
        ca: arm.caPem,
        credential: staticTokenCredential('faults-test'),
        maxRetries: SETTINGS.maxRetries,
        retryDelayMs: SETTINGS.retryDelayMs,
        lroPollIntervalMs: SETTINGS.lroPollIntervalMs,
        timeoutMs: SETTINGS.timeoutMs,
      }),
      dns: { servers: [dns.address], timeoutMs: SETTINGS.dnsTimeoutMs, tries: SETTINGS.dnsTries },
      log: pino({ level: 'silent' }),
    };
    const deadline = AbortSignal.timeout(DEADLINE_MS);
    const started = performance.now();
    let report: Report | undefined;
    let error: string | undefined;
    // Should a diagnosis ignore even the deadline, stop waiting for it (closing the simulators ends its requests).
    let watchdog: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => (watchdog = setTimeout(() => resolve('stuck'), DEADLINE_MS + SETTINGS.timeoutMs)));
    try {
      const outcome = await Promise.race([diagnose(req, deps, deadline), stuck]);
      if (outcome === 'stuck') error = `still running ${SETTINGS.timeoutMs} ms after its deadline`;
      else report = outcome;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(watchdog);
    }
    const elapsedMs = Math.round(performance.now() - started);
    const counts = kind.dnsName ? dnsCounts(kind.dnsName, dns.queries) : armCounts(kind, injection, arm.requests);
    return { kind, fault, injection, ...(report ? { report } : {}), ...(error !== undefined ? { error } : {}), elapsedMs, deadlineHit: deadline.aborted, dnsAddress: dns.address, ...counts };
  } finally {
    await arm.close();
    await dns.close();
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ------------------------------------------------------------------------------ judging a cell

const undetermined = (report: Report): CoverageItem[] => report.coverage.filter((c) => c.status === 'undetermined');

/** The probe-level gaps: reads that failed (rules and flows that depended on them follow). */
const readGaps = (report: Report): CoverageItem[] => undetermined(report).filter((c) => c.probe !== undefined);

/** A report without what changes from run to run: the time and the simulated DNS server's port. */
function comparableReport(cell: CellRun): unknown {
  const { generatedAt: _ignored, ...rest } = cell.report as Report;
  return JSON.parse(JSON.stringify(rest).replaceAll(cell.dnsAddress, '<dns server>')) as unknown;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** What the sim log shows about the calls to the faulted target. */
function callsText(cell: CellRun): string {
  const [one, many] = cell.kind.dnsName ? ['query', 'queries'] : ['request', 'requests'];
  // How often an endless operation is polled depends on the machine's speed: not a stable number.
  if (cell.fault.id === 'lro-never') return 'polled InProgress until the per-call timeout';
  if (cell.fault.id === 'none') return plural(cell.targetCalls, one, many);
  return `${cell.faulted} of ${plural(cell.targetCalls, one, many)} faulted`;
}

function outcomeText(cell: CellRun): string {
  const report = cell.report;
  if (!report) return `error: ${cell.error ?? 'no report'}`;
  const verdict = report.verdict.status;
  const gaps = undetermined(report).length;
  const top = verdict === 'cause-found' ? report.findings[0]?.code : undefined;
  if (cell.fault.id === 'none') return `ok: ${verdict}, complete (${callsText(cell)})`;
  if (cell.fault.transient && gaps === 0 && verdict === 'no-cause-found') return `ok: retried, complete, ${verdict} (${callsText(cell)})`;
  return `${verdict}${top ? ` (${top})` : ''}: ${plural(gaps, 'item', 'items')} undetermined (${callsText(cell)})`;
}

function cellText(cell: Cell): string {
  if ('na' in cell) return `n/a: ${cell.na}`;
  return `${cell.injection.as ? `[${cell.injection.as}] ` : ''}${outcomeText(cell)}`;
}

// ------------------------------------------------------------------------------ the matrix

const pairs = FAULTS.flatMap((fault) => KINDS.map((kind) => ({ kind, fault })));
const matrixStarted = performance.now();
const cells = await mapLimit(pairs, CONCURRENCY, ({ kind, fault }) => runCell(kind, fault));
const matrixMs = Math.round(performance.now() - matrixStarted);

const baselineCell = cells.find((c): c is CellRun => c.fault.id === 'none' && !('na' in c) && !!c.report);
if (!baselineCell) throw new Error('the baseline diagnosis produced no report');
const baselineReport = comparableReport(baselineCell);

for (const cell of cells) {
  t.test(`${cell.fault.title} on ${cell.kind.title}`, async (t) => {
    if ('na' in cell) {
      t.ok(cell.kind.id === 'dns' || cell.fault.id === 'lro-never', `not applicable: ${cell.na}`);
      return;
    }
    const report = cell.report;
    t.ok(report, `ends in a report${cell.error ? ` (error: ${cell.error})` : ''}`);
    if (!report) return;
    t.notOk(cell.deadlineHit, `ended on its own, before the ${DEADLINE_MS} ms deadline (${cell.elapsedMs} ms)`);
    t.ok(cell.elapsedMs < DEADLINE_MS, 'within the deadline');
    const gaps = undetermined(report);
    if (report.verdict.status === 'no-cause-found') t.equal(gaps.length, 0, 'no-cause-found only on complete evidence');
    if (cell.fault.id !== 'none') t.ok(cell.faulted > 0, `the fault was injected (${cell.faulted} of ${cell.targetCalls})`);

    if (cell.fault.transient) {
      t.equal(report.verdict.status, 'no-cause-found', 'same verdict as the healthy baseline');
      t.same(gaps, [], 'no undetermined item');
      if (cell.fault.id !== 'none') t.ok(cell.answeredAfterFault, `every faulted call was asked again and answered (${cell.targetCalls} calls)`);
      t.same(comparableReport(cell), baselineReport, 'the same report as the healthy baseline');
      return;
    }

    t.not(report.verdict.status, 'no-cause-found', 'never no-cause-found with evidence missing');
    if (cell.kind.id === 'dns') {
      // A failed answer from the resolver is itself the observation: the compute would see it too.
      const top = report.findings[0];
      const dnsGap = gaps.find((g) => g.probe === 'dns' || /DNS answer for/.test(g.item));
      t.ok(
        (top?.code === 'DNS_RESOLUTION_FAILED' && top.explanation.includes(API_NAME)) || dnsGap,
        'either the failed answer is reported as the finding, or the name is undetermined',
      );
      return;
    }
    const probeGaps = readGaps(report).filter((g) => g.probe === cell.kind.probe);
    t.ok(probeGaps.length > 0, `the ${cell.kind.probe} read is undetermined`);
    t.same(
      readGaps(report).filter((g) => g.probe !== cell.kind.probe),
      [],
      'no other probe lost evidence',
    );
    t.same(
      gaps.filter((g) => !cell.kind.about.test(JSON.stringify(g))),
      [],
      `every undetermined item is about the faulted read (${cell.kind.about.source})`,
    );
    t.equal(report.verdict.status, 'undetermined', 'nothing is blamed on the missing evidence');
    if (cell.fault.id === '403') {
      t.ok(
        probeGaps.every((g) => g.statusCode === 403),
        'each gap names the refusal',
      );
      if (cell.kind.id === 'get') t.ok(probeGaps.every((g) => sameId(g.resourceId, PE_ID)), 'the refused resource is named by id');
      t.match(report.verdict.nextSteps[0] ?? '', /Grant the identity running aml-netdoctor/, 'the first next step grants the read');
    }
  });
}

// ------------------------------------------------------------------------------ docs/reliability.md

const TIMINGS_START = '<!-- timings: not compared by the test -->';

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function renderDoc(all: Cell[]): string {
  const at = (fault: FaultCase, kind: CallKind): Cell => all.find((c) => c.fault === fault && c.kind === kind) as Cell;
  const header = `| fault | ${KINDS.map((k) => k.title).join(' | ')} |\n|---|${KINDS.map(() => '---').join('|')}|`;
  const rows = FAULTS.map((f) => `| ${escapeCell(f.title)} | ${KINDS.map((k) => escapeCell(cellText(at(f, k)))).join(' | ')} |`);
  const timingRows = FAULTS.map(
    (f) =>
      `| ${escapeCell(f.title)} | ${KINDS.map((k) => {
        const c = at(f, k);
        if ('na' in c) return 'n/a';
        return `${(c.elapsedMs / 1000).toFixed(1)} s${c.fault.id === 'lro-never' ? ` (${c.targetCalls} polls)` : ''}`;
      }).join(' | ')} |`,
  );
  return `# Reliability: fault injection

Generated by \`test/e2e/faults.test.ts\` (\`UPDATE_RELIABILITY=1 tap test/e2e/faults.test.ts\` rewrites it; otherwise the test fails when the table below differs).

Each cell is one full diagnosis of the healthy scenario \`${scenario.name}\` (verdict \`no-cause-found\` when nothing is faulted) against the simulated ARM and DNS server, through the real SDK clients and node:dns, with one fault injected into one kind of call:

${KINDS.map((k) => `- **${k.title}**: ${k.target}.`).join('\n')}

Settings: per-call timeout ${SETTINGS.timeoutMs} ms (\`NETDOCTOR_TIMEOUT_MS\`, retries and LRO polling included), ${SETTINGS.maxRetries} retries, LRO polling every ${SETTINGS.lroPollIntervalMs} ms, DNS timeout ${SETTINGS.dnsTimeoutMs} ms with ${SETTINGS.dnsTries} tries, ${SETTINGS.pageSize} item per list page. *Transient* faults fail every attempt but the last the client makes (${ARM_TRANSIENT_TIMES} ARM requests, ${DNS_TRIES_FAILED} DNS query); *every attempt* faults never stop.

The product has no overall diagnosis deadline, only per-call timeouts: the test passes each diagnosis a ${DEADLINE_MS / 1000} s deadline as its abort signal and requires that it ends before the deadline fires, so each case is bounded by the per-call timeouts alone.

What every cell asserts: the diagnosis ends in a report, on its own, before the deadline. Transient faults: every faulted call is asked again and answered (sim logs), and the report is the healthy baseline's (verdict \`no-cause-found\`, nothing undetermined). Permanent ARM faults: the faulted read is undetermined, no other probe loses evidence, every undetermined item (the read, and the rules and flows that needed it) is about the faulted resource, and the verdict is \`undetermined\`, never \`no-cause-found\`; a 403 names the refusal and the first next step grants the read. For DNS, the fault is the answer the compute would get, so a failed answer can be the finding itself (\`DNS_RESOLUTION_FAILED\`); an unreadable one leaves the name undetermined. 429 and 403 have no DNS counterpart and a DNS query is not a long-running call: those cells say n/a and why.

Cell format: \`[<DNS fault>]\` (DNS only), then \`<verdict> (<top finding>): <n> items undetermined\` and how many of the calls to the faulted target the fault answered (the rest are retries that succeeded, or none).

${header}
${rows.join('\n')}

${TIMINGS_START}

## Elapsed time per diagnosis (this run; varies by machine)

${header}
${timingRows.join('\n')}

Whole matrix: ${(matrixMs / 1000).toFixed(1)} s with ${CONCURRENCY} diagnoses at a time.
`;
}

/** The compared part: everything before the timings. */
function comparable(doc: string): string {
  const i = doc.indexOf(TIMINGS_START);
  return i < 0 ? doc : doc.slice(0, i);
}

t.test('docs/reliability.md holds the generated table', async (t) => {
  const doc = renderDoc(cells);
  for (const f of FAULTS) for (const k of KINDS) t.ok(cells.some((c) => c.fault === f && c.kind === k), `${f.id} x ${k.id} is in the table`);
  if (UPDATE) {
    await writeFile(DOC, doc);
    t.pass(`wrote ${DOC}`);
    return;
  }
  const committed = await readFile(DOC, 'utf8').catch(() => '');
  t.equal(comparable(committed), comparable(doc), 'the committed table matches this run (UPDATE_RELIABILITY=1 regenerates it)');
});
