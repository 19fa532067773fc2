/**
 * The engine's internal vocabulary: a flow to trace (FlowSpec) and the destinations it goes to
 * (targets), built by ./catalogue.ts and traced hop by hop by ./trace.ts.
 */
import type { DependencyObs, WorkspaceObs } from '../model/snapshot.ts';
import type { FlowHop } from '../report/schema.ts';
import type { FlowId } from '../rules/rule.ts';

export interface PortSpec {
  protocol: 'Tcp' | 'Udp';
  port: number;
}

/** One private endpoint (of the workspace or a dependency) a name can resolve to. */
export interface EndpointCandidate {
  id: string;
  name: string;
  /** The address the endpoint serves the target's names on. */
  ip: string;
  /** Connection status (`Approved`, `Pending`, …) as the target resource sees it. */
  status?: string;
  subnetId?: string;
  vnetId?: string;
}

/** Names served by private endpoints: DNS must answer one of the candidates' addresses. */
export interface EndpointTarget {
  kind: 'private-endpoint';
  /** Short label for notes: `blob`, `api`, … */
  label: string;
  fqdns: string[];
  /** Preferred candidate first (the one in or next to the compute VNet). */
  candidates: EndpointCandidate[];
  /** Why no candidate is known (the endpoint could not be read); candidates is then empty. */
  unreadable?: string;
  /** The resource behind the endpoint, for the destination hop. */
  owner: { kind: 'workspace'; resourceId: string } | { kind: 'dependency'; dependency: DependencyObs };
}

/** A service tag destination (with the names a firewall application rule sees). */
export interface TagTarget {
  kind: 'tag';
  tag: string;
  fqdns: string[];
  /** Public path to a dependency or to the workspace: its network rules decide the destination hop. */
  dependency?: DependencyObs;
  workspace?: WorkspaceObs;
}

/** Inbound from a service tag to the compute subnet (aml-inbound). */
export interface InboundTarget {
  kind: 'inbound';
  tag: string;
}

/** A destination that could not be built (a dependency that could not be read): one fixed hop. */
export interface FixedTarget {
  kind: 'fixed';
  label: string;
  hop: FlowHop;
}

export type Target = EndpointTarget | TagTarget | InboundTarget | FixedTarget;

export interface FlowSpec {
  id: FlowId;
  authPath: boolean;
  direction: 'outbound' | 'inbound';
  ports: PortSpec[];
  destination: string;
  computes: string[];
  /** Every target must be reachable for the flow to be allowed. */
  targets: Target[];
}

export const portText = (p: PortSpec): string => `${p.protocol.toUpperCase()} ${p.port}`;
