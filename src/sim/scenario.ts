/**
 * A scenario: one Azure estate (broken or healthy) as data. The simulated ARM serves its
 * resources, the simulated DNS server answers its names, and the tests, the demo and the
 * benchmarks all read the same files from test/fixtures/scenarios/<name>.json.
 *
 * Addresses in scenarios are data only: nothing ever connects to them.
 */
import type { CloudName } from '../model/cloud.ts';

/** An ARM resource exactly as ARM returns it on the wire (`properties` not flattened). */
export interface ScenarioResource {
  id: string;
  name?: string;
  type?: string;
  location?: string;
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Result of a long-running POST, e.g. `effectiveRouteTable` on a NIC or `nextHop` on a network watcher. */
export interface ScenarioOperation {
  /** The resource the POST is made on. */
  resourceId: string;
  /** The action segment: `effectiveRouteTable`, `effectiveNetworkSecurityGroups`, `nextHop`, … */
  action: string;
  /**
   * Only answer requests whose JSON body contains these key/values (compared as strings,
   * case-insensitively), e.g. `{ "destinationIPAddress": "10.0.2.4" }` for one Network Watcher
   * next hop. The first operation that matches wins; one without `match` matches any body.
   */
  match?: Record<string, string>;
  /** Response body of the final result. */
  result: unknown;
  /**
   * The operation is accepted (202) but never completes: its polling URLs answer 202 / `InProgress`
   * forever, so the caller must give up on its own (per-call timeout or abort).
   */
  neverFinishes?: boolean;
}

/**
 * How a fault misbehaves. `status`: an ARM error answer (`status`, `code`, `message`, Retry-After).
 * `reset`: the connection is closed without an answer (the client sees ECONNRESET / socket hang up).
 * `hang`: no answer at all, until the client gives up (the simulator closes such sockets on close()).
 * `malformed-json`: 200 with a JSON content type and a body that is not JSON (the real answer, cut short).
 */
export type ScenarioFaultKind = 'status' | 'reset' | 'hang' | 'malformed-json';

/** Injected misbehaviour: the simulated ARM answers matching requests with this instead. */
export interface ScenarioFault {
  /** HTTP method to match; any when absent. */
  method?: string;
  /** Case-insensitive regular expression matched against the request path (no query string). */
  path: string;
  /**
   * Case-insensitive regular expression matched against the raw query string (without `?`), e.g.
   * `\$skiptoken=` (JSON: `"\\$skiptoken="`) for every page of a listing but the first. Any
   * query when absent.
   */
  query?: string;
  /** Default `status`. */
  kind?: ScenarioFaultKind;
  /** HTTP status of a `status` fault (required for it); ignored by the other kinds. */
  status?: number;
  /** ARM error code for the body, e.g. `AuthorizationFailed`. Defaults per status. */
  code?: string;
  message?: string;
  /** Seconds for a `Retry-After` header (429/503). */
  retryAfterSeconds?: number;
  /** Answer this many matching requests with the fault, then behave normally. Unlimited when absent. */
  times?: number;
}

/** How the simulated DNS server answers one name (case-insensitive). Unknown names get NXDOMAIN. */
export interface ScenarioDnsAnswer {
  /** CNAME chain from the name, in order. The A records answer the last name of the chain. */
  cname?: string[];
  a?: string[];
  /**
   * Fail the query instead. `TIMEOUT` means no answer at all; `MALFORMED` answers bytes that are
   * not a DNS message (the query id, then garbage); `TCP_RESET` answers truncated (TC) over UDP so
   * the client retries over TCP, where the connection is reset.
   */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'TIMEOUT' | 'MALFORMED' | 'TCP_RESET';
  /**
   * Fail only this many queries that reach this answer (any type, over UDP or TCP), then answer
   * as if `rcode` were absent. Unlimited when absent.
   */
  times?: number;
}

export interface ScenarioExpectation {
  /** Exit code of `aml-netdoctor diagnose`: 0 no blocking finding, 1 blocking finding, 3 could not complete. */
  exitCode: 0 | 1 | 3;
  verdict: 'cause-found' | 'no-cause-found' | 'undetermined';
  /**
   * The top-ranked finding and the resource it must blame. Absent for healthy scenarios.
   * `symptoms`: codes that must be folded into it (and so must not be findings of their own).
   */
  topFinding?: { code: string; resourceId: string; symptoms?: string[] };
  /** Codes that must appear somewhere in the report (a finding, or a symptom folded into one). */
  alsoFinds?: string[];
  /** Codes that must not appear. */
  absentCodes?: string[];
  /**
   * The scenario's intent for its flows (report.flows). Every flow of the report that is not
   * listed here must be `allowed`; a listed flow id applies to every subnet's flow of that id.
   */
  flows?: {
    /** Flows that must be blocked, at this hop kind (and with this hop reason when given). */
    blocked?: Array<{ id: string; hop: string; reason?: string }>;
    /** Flows that must be undetermined (never allowed). */
    undetermined?: string[];
  };
}

export interface Scenario {
  /** File name without `.json`, kebab-case. */
  name: string;
  title: string;
  /** What is broken (or not) and why the compute shows the device-login prompt. */
  description: string;
  target: {
    workspaceId: string;
    computeName?: string;
    /** Extra subscriptions the diagnosis is told to search (`--subscription`). */
    subscriptions?: string[];
    /** `--vantage-vm`: the VM (or NIC) to read effective routes and NSGs through. */
    vantageVmId?: string;
    cloud?: CloudName;
  };
  resources: ScenarioResource[];
  operations?: ScenarioOperation[];
  dns: Record<string, ScenarioDnsAnswer>;
  faults?: ScenarioFault[];
  expect: ScenarioExpectation;
}
