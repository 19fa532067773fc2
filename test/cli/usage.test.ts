import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { main } from '../../src/cli.ts';
import { captureIo } from '../helpers/io.ts';

const BIN = fileURLToPath(new URL('../../bin/aml-netdoctor.js', import.meta.url));
const WS = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1';

const bad: Array<[string, string[], RegExp]> = [
  ['malformed workspace id', ['diagnose', '--workspace', '/subscriptions/not-a-guid/resourceGroups/rg'], /--workspace: .*not an ARM resource id|--workspace: .*GUID/],
  ['id of another resource type', ['diagnose', '--workspace', '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v'], /--workspace: .*not an Azure ML workspace id/],
  ['unknown flag', ['diagnose', '--workspace', WS, '--bogus'], /unknown option '--bogus'/],
  ['missing workspace', ['diagnose'], /required option '-w, --workspace <armId>' not specified/],
  ['bad subscription', ['diagnose', '--workspace', WS, '--subscription', 'hub'], /--subscription: 'hub' is not a subscription id/],
  ['bad dns server', ['diagnose', '--workspace', WS, '--dns-server', '10.0.0.300'], /--dns-server: '10.0.0.300'/],
  ['bad dns port', ['diagnose', '--workspace', WS, '--dns-server', '10.0.0.4:70000'], /--dns-server/],
  ['plain http arm endpoint', ['diagnose', '--workspace', WS, '--arm-endpoint', 'http://127.0.0.1:1'], /--arm-endpoint: .*https/],
  ['unknown cloud', ['diagnose', '--workspace', WS, '--cloud', 'Mars'], /--cloud/],
  ['unknown format', ['diagnose', '--workspace', WS, '--format', 'xml'], /--format/],
  ['vantage that is not a VM or NIC', ['diagnose', '--workspace', WS, '--vantage-vm', '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v'], /--vantage-vm: .*not the ARM id of a virtual machine/],
  ['bad compute name', ['diagnose', '--workspace', WS, '--compute', 'ci alice'], /--compute: 'ci alice'/],
  ['bad timeout', ['diagnose', '--workspace', WS, '--timeout', '-5'], /--timeout/],
  ['unknown command', ['diagnoze'], /unknown command 'diagnoze'/],
  ['unknown rule code', ['rules', 'NOPE'], /unknown code 'NOPE'/],
  ['tier out of range', ['diagnose', '--workspace', WS, '--min-tier', '4'], /--min-tier/],
  ['unknown code to exclude', ['diagnose', '--workspace', WS, '--exclude', 'COMPUTE_SSO_DISABLED,NOT_A_CODE'], /--exclude: 'NOT_A_CODE' is not a finding code/],
  ['recheck without a report', ['recheck'], /missing required argument 'report.json'/],
  ['recheck in a format it does not produce', ['recheck', 'r.json', '--format', 'sarif'], /--format/],
];

for (const [name, argv, message] of bad) {
  t.test(`${name}: exit 2 with a message naming the argument, no stack`, async (t) => {
    // The ARM endpoint is a closed loopback port: nothing may leave this machine even if validation failed.
    const io = captureIo({ NETDOCTOR_ACCESS_TOKEN: 'unused', NETDOCTOR_ARM_ENDPOINT: 'https://127.0.0.1:9' });
    const code = await main(argv, io);
    t.equal(code, 2);
    t.match(io.err(), message);
    t.notMatch(io.err(), /\n\s+at /, 'no stack trace');
    t.equal(io.out(), '');
  });
}

t.test('--help teaches: flags, credentials, exit codes, examples', async (t) => {
  const io = captureIo();
  const code = await main(['diagnose', '--help'], io);
  t.equal(code, 0);
  for (const s of ['--workspace', '--compute', '--subscription', '--vantage-vm', '--dns-server', '--arm-endpoint', 'NETDOCTOR_ACCESS_TOKEN', 'effectiveRouteTable', 'Exit codes', 'Examples']) t.match(io.out(), s);
});

t.test('no arguments prints help and exits 2', async (t) => {
  const io = captureIo();
  t.equal(await main([], io), 2);
  t.match(io.out() + io.err(), /diagnose/);
});

t.test('rules lists every code and shows one', async (t) => {
  const io = captureIo();
  t.equal(await main(['rules'], io), 0);
  t.match(io.out(), /PRIVATE_DNS_ZONE_NOT_LINKED/);
  t.match(io.out(), /COMPUTE_SSO_DISABLED/);
  const one = captureIo();
  t.equal(await main(['rules', 'private_dns_zone_not_linked'], one), 0);
  // The same page as docs/rules/<CODE>.md: meaning, why, fix, verification, sources.
  for (const heading of ['# PRIVATE_DNS_ZONE_NOT_LINKED', 'Tier 1', '## What it means', '## Why it matters', '## How to fix it', '## How to verify the fix', '## References']) t.match(one.out(), heading);
});

t.test('--help lists the formats and operator flags, and recheck has its own help', async (t) => {
  const io = captureIo();
  t.equal(await main(['diagnose', '--help'], io), 0);
  for (const s of ['markdown', 'sarif', 'html', '--min-tier', '--exclude', '--soft-fail', '--output', 'recheck']) t.match(io.out(), s);
  const re = captureIo();
  t.equal(await main(['recheck', '--help'], re), 0);
  t.match(re.out().replace(/\s+/g, ' '), /re-runs only the probes behind its findings/);
  t.match(re.out(), /Exit codes/);
});

t.test('no credential: exit 3 and says how to sign in', async (t) => {
  // A child process whose credential chain can only use developer tools (AZURE_TOKEN_CREDENTIALS=dev:
  // no managed identity, so nothing is sent to the instance metadata address) and finds none of them.
  const child = spawnSync(process.execPath, [BIN, 'diagnose', '--workspace', WS, '--arm-endpoint', 'https://127.0.0.1:9'], {
    env: { AZURE_TOKEN_CREDENTIALS: 'dev', PATH: '/nonexistent', HOME: '/nonexistent', AZURE_CONFIG_DIR: '/nonexistent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(child.status, 3, child.stderr);
  t.match(child.stderr, /az login/);
  t.match(child.stderr, /NETDOCTOR_ACCESS_TOKEN/);
  t.notMatch(child.stderr, /\n\s+at /, 'no stack trace');
  t.equal(child.stdout, '');
});
