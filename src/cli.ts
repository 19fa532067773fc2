/**
 * The aml-netdoctor command line. Report on stdout, logs (pino) and progress on stderr.
 * Exit codes: 0 no blocking finding, 1 blocking finding (tier 1 or 2), 2 bad usage or input,
 * 3 could not complete (no credential, evidence incomplete).
 */
import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { pino, type Logger } from 'pino';
import { createAzureClients, credentialFromEnv } from './azure/clients.ts';
import { toProbeError } from './azure/errors.ts';
import { ArmIdError, isGuid, isVantageId, parseWorkspaceId } from './model/arm-id.ts';
import { CLOUD_NAMES, CLOUDS, isCloudName, type CloudName } from './model/cloud.ts';
import { LOG_LEVELS, parseDnsServer, parseDnsServerList } from './config.ts';
import { diagnose, type DiagnoseDeps, type ProgressEvent } from './diagnose.ts';
import { exitCodeOf } from './report/build.ts';
import { FORMATS, isFormat, renderReport, type Format } from './report/render.ts';
import { recheckExitCode, renderRecheckText } from './report/recheck.ts';
import { readReportFile, recheck, ReportFileError } from './recheck.ts';
import { diagnoseRemotely, RemoteError, serverCredentials } from './remote.ts';
import type { Report, Tier } from './report/schema.ts';
import { rulePage } from './rules/docs.ts';
import { rules } from './rules/index.ts';
import { TOOL } from './version.ts';
import { hashApiKey, MAX_KEY_LENGTH, MIN_KEY_LENGTH } from './auth/api-keys.ts';

export class UsageError extends Error {
  readonly exitCode = 2;
}

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Where `hash-key` reads the key (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

/** Validates a DNS server argument with the same rules as NETDOCTOR_DNS_SERVERS. */
export function parseDnsServerArg(value: string, flag = '--dns-server'): string {
  try {
    return parseDnsServer(value);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message} (examples: 10.0.0.4, 10.0.0.4:53, [fd00::4]:53)`);
  }
}

function dnsServersFromEnv(value: string | undefined): string[] {
  try {
    return parseDnsServerList(value ?? '');
  } catch (err) {
    throw new UsageError(`NETDOCTOR_DNS_SERVERS: ${(err as Error).message}`);
  }
}

function collectValues(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function armEndpointArg(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--arm-endpoint: '${value}' is not a URL (example: https://management.azure.com)`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`--arm-endpoint: '${value}' must be an https:// URL (ARM tokens are never sent over plain HTTP)`);
  return url.origin;
}

function makeLogger(level: string, io: CliIo): Logger {
  return pino(
    { level, base: { tool: TOOL.name }, redact: { paths: ['*.authorization', '*.token', '*.accessToken', 'headers.authorization'], censor: '[redacted]' } },
    pino.destination({ dest: 2, sync: true }),
  );
}

function progressPrinter(io: CliIo): ((e: ProgressEvent) => void) | undefined {
  if (!io.stderr.isTTY) return undefined;
  return (e) => {
    if (e.phase === 'start') io.stderr.write(`… ${e.title}\n`);
    else io.stderr.write(`${e.ok ? '✓' : '✗'} ${e.title}${e.ms !== undefined ? ` (${e.ms} ms)` : ''}\n`);
  };
}

/** Options every command that reads Azure shares (diagnose, recheck). */
interface AzureOpts {
  dnsServer: string[];
  armEndpoint?: string;
  cloud?: string;
  format?: string;
  output?: string;
  softFail?: boolean;
  timeout: string;
  dnsTimeout: string;
  logLevel: string;
}

interface DiagnoseOpts extends AzureOpts {
  workspace: string;
  compute?: string;
  subscription: string[];
  vantageVm?: string;
  minTier?: string;
  exclude: string[];
  server?: string;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: '${value}' is not a positive whole number of milliseconds`);
  return n;
}

/** Parses a --format value; the default is text on a terminal, json otherwise. */
export function formatArg(value: string | undefined, io: CliIo, allowed: readonly string[] = FORMATS): Format {
  const format = value ?? (io.stdout.isTTY ? 'text' : 'json');
  if (!isFormat(format) || !allowed.includes(format)) throw new UsageError(`--format: '${format}' is not one of ${allowed.join(', ')}`);
  return format;
}

function minTierArg(value: string | undefined): Tier | undefined {
  if (value === undefined) return undefined;
  if (value !== '1' && value !== '2' && value !== '3') {
    throw new UsageError(`--min-tier: '${value}' is not 1, 2 or 3 (1 = only what breaks sign-in, 2 = also what breaks jobs and images, 3 = everything)`);
  }
  return Number(value) as Tier;
}

/** --exclude takes codes, repeated or comma-separated; each must be a known rule code. */
function excludeArg(values: string[]): string[] {
  const codes = values.flatMap((v) => v.split(',')).map((c) => c.trim().toUpperCase()).filter(Boolean);
  const known = new Set(rules.map((r) => r.meta.code));
  for (const c of codes) if (!known.has(c)) throw new UsageError(`--exclude: '${c}' is not a finding code. Run 'aml-netdoctor rules' to list them.`);
  return [...new Set(codes)];
}

/** The exit code with --soft-fail: findings (1) do not fail the run; usage (2) and incomplete (3) still do. */
export function softened(code: number, softFail: boolean | undefined): number {
  return softFail && code === 1 ? 0 : code;
}

export interface AzureSession {
  deps: DiagnoseDeps;
  signal: AbortSignal;
  close(): void;
}

/**
 * Validates the shared options, signs in and builds the Azure clients. Returns an exit code (3)
 * when no credential can get a token, after saying how to sign in.
 */
export async function openAzureSession(opts: AzureOpts, io: CliIo, defaults: { cloud?: string; dnsServers?: string[] } = {}): Promise<AzureSession | 3> {
  const cloudName = opts.cloud ?? io.env.NETDOCTOR_CLOUD ?? defaults.cloud ?? 'AzureCloud';
  if (!isCloudName(cloudName)) throw new UsageError(`--cloud: '${cloudName}' is not one of ${CLOUD_NAMES.join(', ')}`);
  const cloud: CloudName = cloudName;
  const armEndpoint = opts.armEndpoint ?? (io.env.NETDOCTOR_ARM_ENDPOINT ? armEndpointArg(io.env.NETDOCTOR_ARM_ENDPOINT) : undefined);
  const fromEnv = dnsServersFromEnv(io.env.NETDOCTOR_DNS_SERVERS);
  const dnsServers = opts.dnsServer.length ? opts.dnsServer : fromEnv.length ? fromEnv : (defaults.dnsServers ?? []);
  const timeoutMs = positiveInt('--timeout', opts.timeout);
  const dnsTimeoutMs = positiveInt('--dns-timeout', opts.dnsTimeout);
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new UsageError(`--log-level: '${opts.logLevel}' is not one of ${LOG_LEVELS.join(', ')}`);
  const lroPoll = io.env.NETDOCTOR_LRO_POLL_MS;
  const lroPollIntervalMs = lroPoll ? positiveInt('NETDOCTOR_LRO_POLL_MS', lroPoll) : undefined;

  const log = makeLogger(opts.logLevel, io);
  const credential = credentialFromEnv(io.env);
  const scope = `${CLOUDS[cloud].armAudience}/.default`;
  try {
    const token = await credential.getToken(scope);
    if (!token) throw new Error('the credential returned no token');
  } catch (err) {
    io.stderr.write(
      `aml-netdoctor: no Azure credential could get a token for ${scope} (${toProbeError(err, 'signing in').message}).\n` +
        `Sign in with 'az login' (and 'az account set --subscription <id>'), or set NETDOCTOR_ACCESS_TOKEN to the output of\n` +
        `  az account get-access-token --resource ${CLOUDS[cloud].armAudience} --query accessToken -o tsv\n`,
    );
    return 3;
  }
  const azure = createAzureClients({ cloud, ...(armEndpoint ? { armEndpoint } : {}), credential, timeoutMs, ...(lroPollIntervalMs ? { lroPollIntervalMs } : {}) });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onProgress = progressPrinter(io);
  return {
    deps: { cloud, azure, dns: { servers: dnsServers, timeoutMs: dnsTimeoutMs, tries: 2 }, log, ...(onProgress ? { onProgress } : {}) },
    signal: controller.signal,
    close() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Fails before the (long) diagnosis when --output cannot be written. */
async function checkOutput(output: string | undefined): Promise<void> {
  if (!output) return;
  try {
    await access(dirname(resolvePath(output)), constants.W_OK);
  } catch (err) {
    throw new UsageError(`--output: cannot write '${output}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

async function emit(text: string, output: string | undefined, io: CliIo): Promise<void> {
  if (!output) {
    io.stdout.write(text);
    return;
  }
  try {
    await writeFile(output, text);
  } catch (err) {
    throw new UsageError(`--output: cannot write '${output}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (io.stderr.isTTY) io.stderr.write(`report written to ${output}\n`);
}

async function runDiagnose(opts: DiagnoseOpts, io: CliIo): Promise<number> {
  try {
    parseWorkspaceId(opts.workspace);
  } catch (err) {
    if (err instanceof ArmIdError) throw new UsageError(`--workspace: ${err.message}`);
    throw err;
  }
  for (const s of opts.subscription) if (!isGuid(s)) throw new UsageError(`--subscription: '${s}' is not a subscription id (a GUID)`);
  if (opts.vantageVm !== undefined && !isVantageId(opts.vantageVm)) {
    throw new UsageError(
      `--vantage-vm: '${opts.vantageVm}' is not the ARM id of a virtual machine (.../providers/Microsoft.Compute/virtualMachines/<name>) or network interface (.../providers/Microsoft.Network/networkInterfaces/<name>)`,
    );
  }
  if (opts.compute !== undefined && !/^[A-Za-z][A-Za-z0-9-]{1,23}$/.test(opts.compute)) {
    throw new UsageError(`--compute: '${opts.compute}' is not an Azure ML compute name (2-24 letters, digits or hyphens, starting with a letter)`);
  }
  const format = formatArg(opts.format, io);
  const minTier = minTierArg(opts.minTier);
  const exclude = excludeArg(opts.exclude);
  await checkOutput(opts.output);
  if (opts.server !== undefined) return runRemoteDiagnose(opts.server, opts, format, { ...(minTier !== undefined ? { minTier } : {}), exclude }, io);
  const session = await openAzureSession(opts, io);
  if (session === 3) return 3;
  try {
    const report = await diagnose(
      {
        workspaceId: opts.workspace,
        ...(opts.compute ? { computeName: opts.compute } : {}),
        subscriptions: opts.subscription,
        ...(opts.vantageVm ? { vantageVmId: opts.vantageVm } : {}),
      },
      session.deps,
      session.signal,
      { ...(minTier !== undefined ? { minTier } : {}), exclude },
    );
    await emit(renderReport(report, format), opts.output, io);
    return softened(exitCodeOf(report), opts.softFail);
  } finally {
    session.close();
  }
}

function serverArg(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`--server: '${value}' is not an http(s) URL (example: http://127.0.0.1:3000)`);
  return url.href;
}

/** diagnose --server: the service runs the diagnosis with its own Azure access; progress and report as locally. */
async function runRemoteDiagnose(server: string, opts: DiagnoseOpts, format: Format, options: { minTier?: Tier; exclude: string[] }, io: CliIo): Promise<number> {
  const local = [opts.dnsServer.length ? '--dns-server' : '', opts.armEndpoint ? '--arm-endpoint' : '', opts.cloud ? '--cloud' : ''].filter(Boolean);
  if (local.length) throw new UsageError(`--server: ${local.join(', ')} ${local.length === 1 ? 'is' : 'are'} the server's configuration and cannot be combined with --server`);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await diagnoseRemotely({
      server,
      request: {
        workspaceId: opts.workspace,
        ...(opts.compute ? { computeName: opts.compute } : {}),
        subscriptions: opts.subscription,
        ...(opts.vantageVm ? { vantageVmId: opts.vantageVm } : {}),
      },
      options,
      onProgress: progressPrinter(io),
      signal: controller.signal,
      credentials: serverCredentials(io.env),
    });
    await emit(renderReport(report, format), opts.output, io);
    return softened(exitCodeOf(report), opts.softFail);
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    io.stderr.write(`aml-netdoctor: ${err.message}\n`);
    return err.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface RecheckOpts extends AzureOpts {}

async function runRecheck(file: string, opts: RecheckOpts, io: CliIo): Promise<number> {
  const format = formatArg(opts.format, io, ['text', 'json']);
  await checkOutput(opts.output);
  let previous: Report;
  try {
    previous = await readReportFile(file);
  } catch (err) {
    if (err instanceof ReportFileError) throw new UsageError(`recheck: ${err.message}`);
    throw err;
  }
  // Recheck asks the same cloud and resolvers as the diagnosis did, unless told otherwise.
  const session = await openAzureSession(opts, io, { ...(previous.scope.cloud ? { cloud: previous.scope.cloud } : {}), ...(previous.scope.dnsServers ? { dnsServers: previous.scope.dnsServers } : {}) });
  if (session === 3) return 3;
  try {
    const result = await recheck(previous, session.deps, session.signal);
    await emit(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderRecheckText(result), opts.output, io);
    return softened(recheckExitCode(result), opts.softFail);
  } finally {
    session.close();
  }
}

function runRulesCommand(code: string | undefined, io: CliIo): number {
  if (code) {
    const rule = rules.find((r) => r.meta.code === code.toUpperCase());
    if (!rule) throw new UsageError(`rules: unknown code '${code}'. Run 'aml-netdoctor rules' to list them.`);
    io.stdout.write(rulePage(rule));
    return 0;
  }
  io.stdout.write(`${'CODE'.padEnd(42)} TIER  TITLE\n`);
  for (const r of rules) io.stdout.write(`${r.meta.code.padEnd(42)} ${String(r.meta.tier).padEnd(5)} ${r.meta.title}\n`);
  io.stdout.write(`\nRun 'aml-netdoctor rules <CODE>' for what a code means, why it causes the prompt, how to fix and verify it.\n`);
  return 0;
}

/** hash-key: the SHA-256 (hex) of the key on stdin, for NETDOCTOR_API_KEYS_FILE. The key is never printed. */
async function runHashKey(io: CliIo): Promise<number> {
  let text = '';
  for await (const chunk of io.stdin ?? process.stdin) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  const key = text.replace(/\r?\n$/, '');
  if (/\s/.test(key)) throw new UsageError('hash-key: the key on stdin must be one line without spaces');
  if (key.length < MIN_KEY_LENGTH || key.length > MAX_KEY_LENGTH) {
    throw new UsageError(`hash-key: the key must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} characters long (got ${key.length}); generate one with 'openssl rand -base64 32'`);
  }
  io.stdout.write(`${hashApiKey(key)}\n`);
  return 0;
}

/** The options every command that reads Azure has last: timeouts and logging. */
function withRunOptions(command: Command, io: CliIo): Command {
  return command
    .option('--timeout <ms>', 'timeout per ARM call, retries included', '60000')
    .option('--dns-timeout <ms>', 'timeout per DNS query', '3000')
    .option('--log-level <level>', `log level on stderr (${LOG_LEVELS.join(', ')})`, io.env.LOG_LEVEL ?? 'warn');
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command();
  program
    .name('aml-netdoctor')
    .description(
      'Explains why Azure ML compute on a network-isolated workspace falls back to device login\n' +
        '("Performing interactive authentication … open https://microsoft.com/devicelogin") and what to change.',
    )
    .version(TOOL.version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();

  const diagnoseCmd = program
    .command('diagnose')
    .description(
      'Diagnose a workspace: read its private-link, DNS and network configuration through ARM, resolve its names live, trace every flow the compute needs (routes, NSGs, firewall, peering, egress, dependencies) and rank the causes.',
    )
    .requiredOption('-w, --workspace <armId>', 'workspace ARM id: /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.MachineLearningServices/workspaces/<name>')
    .option('-c, --compute <name>', 'analyse only this compute instance or cluster (default: every compute of the workspace)')
    .option('-s, --subscription <guid>', 'also search this subscription for private DNS zones and firewalls (repeatable; e.g. a hub subscription)', collectValues, [])
    .option(
      '--vantage-vm <armId>',
      'a VM (or NIC) in the compute subnet to read effective routes, effective NSGs and Network Watcher next hops through (default: the first readable VM found in the subnet; without one, routes and NSGs are computed from configuration)',
    )
    .option('--dns-server <ip[:port]>', 'resolve names through this DNS server (repeatable; default: NETDOCTOR_DNS_SERVERS, else the system resolver). Use the resolver your compute uses.', (v: string, prev: string[]) => collectValues(parseDnsServerArg(v), prev), [])
    .option('--arm-endpoint <url>', 'ARM endpoint (default: NETDOCTOR_ARM_ENDPOINT, else the cloud\'s)', armEndpointArg)
    .addOption(new Option('--cloud <name>', 'Azure cloud (default: NETDOCTOR_CLOUD, else AzureCloud)').choices([...CLOUD_NAMES]))
    .addOption(
      new Option('-f, --format <format>', 'report format: text, json (the schema in openapi.yaml), markdown (for a ticket), sarif (2.1.0, for code scanning), html (a self-contained page) (default: text on a terminal, json otherwise)').choices([...FORMATS]),
    )
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .addOption(new Option('--min-tier <tier>', 'report only findings of this tier or more severe: 1 = what breaks sign-in, 2 = also jobs and images, 3 = everything (default)').choices(['1', '2', '3']))
    .option('--exclude <codes>', 'do not run these rules (comma-separated or repeated finding codes)', collectValues, [])
    .option('--soft-fail', 'exit 0 even when blocking findings are found (usage errors and incomplete evidence still fail)')
    .option('--server <url>', 'run the diagnosis on an aml-netdoctor service (e.g. http://127.0.0.1:3000) with its Azure access, following its progress; the report and exit code are as for a local run', serverArg);
  withRunOptions(diagnoseCmd, io)
    .addHelpText(
      'after',
      `
With --server, the CLI sends NETDOCTOR_SERVER_API_KEY (X-API-Key) or NETDOCTOR_SERVER_TOKEN (an Entra ID
bearer token for the service) when the service requires authentication; it never prints them.

Credentials: NETDOCTOR_ACCESS_TOKEN (an ARM token, e.g. from 'az account get-access-token') when set,
otherwise DefaultAzureCredential (az login, environment, managed identity, ...). The identity needs
Reader on the workspace, the compute and private-endpoint VNets, the private DNS zones, the hub
firewall and its policy, and the workspace's storage account, key vault and registry. Effective
routes/NSGs and next hops (through a VM in the compute subnet) also need the Network Contributor
actions Microsoft.Network/networkInterfaces/effectiveRouteTable/action,
.../effectiveNetworkSecurityGroups/action and networkWatchers/nextHop/action.

Exit codes: 0 no blocking finding, 1 a blocking finding (tier 1 or 2), 2 bad usage, 3 could not
complete (no credential, or evidence missing so no verdict can be given). --soft-fail turns 1 into 0.

Reading the report: the first finding is the most likely cause of the device-login prompt; findings
it explains are folded into it as symptoms; every finding has az commands, a Bicep snippet and a
verification step. After fixing, 'aml-netdoctor recheck report.json' re-runs only what the
findings need and says, per finding, fixed or still failing.

Examples:
  aml-netdoctor diagnose -w /subscriptions/<sub>/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1 -c ci-alice
  aml-netdoctor diagnose -w <id> -s <hub-subscription> --dns-server 10.0.0.4 -f json -o report.json
  aml-netdoctor diagnose -w <id> --min-tier 1 --exclude COMPUTE_SSO_DISABLED -f sarif -o aml.sarif --soft-fail
  aml-netdoctor diagnose -w <id> -f html -o report.html
  aml-netdoctor diagnose -w <id> --server http://netdoctor.internal:3000`,
    )
    .action(async (opts: DiagnoseOpts) => {
      setExit(await runDiagnose(opts, io));
    });

  const recheckCmd = program
    .command('recheck')
    .argument('<report.json>', 'a report written by diagnose --format json')
    .description(
      "Check whether a report's findings are fixed: re-runs only the probes behind its findings (with the same workspace, compute, subscriptions and vantage VM) and says, per finding, fixed, still failing or undetermined.",
    )
    .option('--dns-server <ip[:port]>', "resolve names through this DNS server (repeatable; default: NETDOCTOR_DNS_SERVERS, else the report's resolvers)", (v: string, prev: string[]) => collectValues(parseDnsServerArg(v), prev), [])
    .option('--arm-endpoint <url>', 'ARM endpoint (default: NETDOCTOR_ARM_ENDPOINT, else the cloud\'s)', armEndpointArg)
    .addOption(new Option('--cloud <name>', "Azure cloud (default: NETDOCTOR_CLOUD, else the report's)").choices([...CLOUD_NAMES]))
    .addOption(new Option('-f, --format <format>', 'output format (default: text on a terminal, json otherwise)').choices(['text', 'json']))
    .option('-o, --output <file>', 'write the result to a file instead of stdout')
    .option('--soft-fail', 'exit 0 even when findings are still failing');
  withRunOptions(recheckCmd, io)
    .addHelpText(
      'after',
      `
Exit codes as for diagnose: 0 every finding fixed, 1 a blocking finding still failing (or a new one),
2 bad usage or an unreadable report, 3 evidence could not be read again (undetermined, never "fixed").

Example:
  aml-netdoctor diagnose -w <id> -f json -o report.json   # before the fix
  aml-netdoctor recheck report.json                         # after it`,
    )
    .action(async (file: string, opts: RecheckOpts) => {
      setExit(await runRecheck(file, opts, io));
    });

  program
    .command('rules')
    .argument('[code]', 'a finding code, e.g. PRIVATE_DNS_ZONE_NOT_LINKED')
    .description('List the rules (finding codes), or show one: what it means, why it causes the prompt, how to fix and verify it.')
    .action((code: string | undefined) => {
      setExit(runRulesCommand(code, io));
    });

  program
    .command('hash-key')
    .description('Print the SHA-256 hash (hex) of an API key read from stdin, for the service\'s NETDOCTOR_API_KEYS_FILE.')
    .addHelpText(
      'after',
      `
The key file holds only hashes, each with an id and the roles the key grants
(Reports.Read, Diagnoses.Run, Schedules.Manage):
  { "keys": [ { "id": "ops-runbook", "sha256": "<hash>", "roles": ["Diagnoses.Run", "Reports.Read"] } ] }
Callers send the key as 'X-API-Key: <key>' or 'Authorization: ApiKey <key>'.

Example:
  key=$(openssl rand -base64 32); printf %s "$key" | aml-netdoctor hash-key`,
    )
    .action(async () => {
      setExit(await runHashKey(io));
    });
  return program;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let exit = 0;
  const program = buildProgram(io, (c) => {
    exit = c;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exit;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`aml-netdoctor: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`aml-netdoctor: could not complete: ${err instanceof Error ? err.message : String(err)}\n`);
    return 3;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code;
}
