/**
 * Bicep snippets for the infrastructure-as-code half of a remediation. Pure string building; every
 * value that comes from Azure goes through `bicepString`, so a name can never break the snippet.
 *
 * A snippet declares the resources it changes, with `existing` references for their parents, and
 * starts with a comment naming where to deploy it (`az deployment group create -g <rg> -f fix.bicep`).
 * Resource types and api-versions come from BICEP_API so every snippet uses one reviewed version
 * per type (test/rules/bicep.test.ts checks that no other version appears).
 */
import { parseArmId } from '../model/arm-id.ts';

/** The api-version each snippet uses per resource type (GA versions with Bicep type definitions). */
export const BICEP_API = {
  'Microsoft.Network/virtualNetworks': '2024-05-01',
  'Microsoft.Network/virtualNetworks/subnets': '2024-05-01',
  'Microsoft.Network/virtualNetworks/virtualNetworkPeerings': '2024-05-01',
  'Microsoft.Network/networkSecurityGroups': '2024-05-01',
  'Microsoft.Network/networkSecurityGroups/securityRules': '2024-05-01',
  'Microsoft.Network/routeTables': '2024-05-01',
  'Microsoft.Network/routeTables/routes': '2024-05-01',
  'Microsoft.Network/natGateways': '2024-05-01',
  'Microsoft.Network/publicIPAddresses': '2024-05-01',
  'Microsoft.Network/privateEndpoints': '2024-05-01',
  'Microsoft.Network/privateEndpoints/privateDnsZoneGroups': '2024-05-01',
  'Microsoft.Network/firewallPolicies': '2024-05-01',
  'Microsoft.Network/firewallPolicies/ruleCollectionGroups': '2024-05-01',
  'Microsoft.Network/dnsResolvers': '2022-07-01',
  'Microsoft.Network/dnsResolvers/inboundEndpoints': '2022-07-01',
  'Microsoft.Network/dnsResolvers/outboundEndpoints': '2022-07-01',
  'Microsoft.Network/dnsForwardingRulesets': '2022-07-01',
  'Microsoft.Network/dnsForwardingRulesets/forwardingRules': '2022-07-01',
  'Microsoft.Network/dnsForwardingRulesets/virtualNetworkLinks': '2022-07-01',
  'Microsoft.Network/privateDnsZones': '2024-06-01',
  'Microsoft.Network/privateDnsZones/A': '2024-06-01',
  'Microsoft.Network/privateDnsZones/virtualNetworkLinks': '2024-06-01',
  'Microsoft.MachineLearningServices/workspaces': '2024-10-01',
  'Microsoft.MachineLearningServices/workspaces/computes': '2024-10-01',
  'Microsoft.MachineLearningServices/workspaces/outboundRules': '2024-10-01',
  'Microsoft.Storage/storageAccounts': '2023-05-01',
  'Microsoft.KeyVault/vaults': '2023-07-01',
  'Microsoft.ContainerRegistry/registries': '2023-07-01',
} as const;

export type BicepType = keyof typeof BICEP_API;

/** A Bicep string literal: single quotes, with `\`, `'` and `${` escaped. */
export function bicepString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$\{/g, '\\${').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}'`;
}

/** A Bicep expression written verbatim (a symbolic reference such as `zone.id`). */
export interface BicepRaw {
  raw: string;
}
export type BicepValue = string | number | boolean | null | BicepRaw | BicepValue[] | { [key: string]: BicepValue | undefined };

export function raw(expression: string): BicepRaw {
  return { raw: expression };
}

function isRaw(v: unknown): v is BicepRaw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { raw?: unknown }).raw === 'string';
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value as Bicep, multi-line objects and arrays indented by two spaces per level. */
export function bicepValue(value: BicepValue, indent = ''): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return bicepString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isRaw(value)) return value.raw;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => `${inner}${bicepValue(v, inner)}`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter((e): e is [string, BicepValue] => e[1] !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${IDENT.test(k) ? k : bicepString(k)}: ${bicepValue(v, inner)}`).join('\n')}\n${indent}}`;
}

export interface BicepResource {
  /** Symbolic name in the snippet, e.g. `zone`. */
  symbol: string;
  type: BicepType;
  /** The resource name (child resources: the last segment only, with `parent`). */
  name: string;
  /** Symbolic name of the parent resource for child types. */
  parent?: string;
  /** `existing` reference: only `name` (and `parent`/`scope`) are written. */
  existing?: boolean;
  /** A scope expression for an existing resource in another resource group, e.g. `resourceGroup('<sub>', '<rg>')`. */
  scope?: string;
  /** The body: location, sku, properties… (ignored for existing references). */
  body?: { [key: string]: BicepValue | undefined };
}

/** One `resource` declaration. */
export function bicepResource(r: BicepResource): string {
  const head = `resource ${r.symbol} '${r.type}@${BICEP_API[r.type]}'${r.existing ? ' existing' : ''} = {`;
  const lines = [head];
  if (r.parent) lines.push(`  parent: ${r.parent}`);
  if (r.scope) lines.push(`  scope: ${r.scope}`);
  lines.push(`  name: ${bicepString(r.name)}`);
  if (!r.existing) {
    for (const [k, v] of Object.entries(r.body ?? {})) {
      if (v === undefined) continue;
      lines.push(`  ${k}: ${bicepValue(v, '  ')}`);
    }
  }
  lines.push('}');
  return lines.join('\n');
}

/** `resourceGroup('<sub>', '<rg>')` for the resource group of an ARM id (an existing resource elsewhere). */
export function scopeOf(resourceId: string): string {
  const id = parseArmId(resourceId);
  return `resourceGroup(${bicepString(id.subscriptionId)}, ${bicepString(id.resourceGroup)})`;
}

/**
 * A whole snippet: a header comment saying where to deploy it, then the declarations.
 * `deployTo` is any ARM id inside the target resource group (the resource being changed).
 */
export function bicepSnippet(deployTo: string, declarations: string[], note?: string): string {
  const id = parseArmId(deployTo);
  const header = [
    `// Deploy to resource group ${id.resourceGroup} (subscription ${id.subscriptionId}):`,
    `//   az deployment group create --subscription ${id.subscriptionId} -g ${id.resourceGroup} -f fix.bicep`,
    ...(note ? note.split('\n').map((l) => `// ${l}`) : []),
  ];
  return `${[...header, ...declarations.flatMap((d, i) => (i === 0 ? [d] : ['', d]))].join('\n')}\n`;
}

/** The peering settings a redeploy must keep (a declaration that left them out would switch them off). */
export interface ObservedPeering {
  allowForwardedTraffic?: boolean;
  allowGatewayTransit?: boolean;
  useRemoteGateways?: boolean;
}

/**
 * One side of a VNet peering as it must be: an `existing` VNet and its peering child with access
 * allowed and the remote VNet set; forwarding on when `forwarded` (an appliance path needs it),
 * otherwise as observed, and the gateway settings as observed.
 */
export function peeringDeclarations(fromVnetName: string, peeringName: string, remoteVnetId: string, observed: ObservedPeering | undefined, forwarded = false): string[] {
  return [
    bicepResource({ symbol: 'vnet', type: 'Microsoft.Network/virtualNetworks', name: fromVnetName, existing: true }),
    bicepResource({
      symbol: 'peering',
      type: 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings',
      name: peeringName,
      parent: 'vnet',
      body: {
        properties: {
          remoteVirtualNetwork: { id: remoteVnetId },
          allowVirtualNetworkAccess: true,
          allowForwardedTraffic: forwarded || (observed?.allowForwardedTraffic ?? false),
          allowGatewayTransit: observed?.allowGatewayTransit ?? false,
          useRemoteGateways: observed?.useRemoteGateways ?? false,
        },
      },
    }),
  ];
}
