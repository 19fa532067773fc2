import t from 'tap';
import { ConfigError, loadConfig, parseDnsServer, parseDnsServerList } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('an empty environment gives the documented defaults', async (t) => {
  t.same(loadConfig({}), {
    HOST: '127.0.0.1',
    PORT: 3000,
    LOG_LEVEL: 'info',
    NETDOCTOR_CLOUD: 'AzureCloud',
    NETDOCTOR_DNS_SERVERS: [],
    NETDOCTOR_TIMEOUT_MS: 60000,
    NETDOCTOR_DNS_TIMEOUT_MS: 3000,
    NETDOCTOR_LRO_POLL_MS: 2000,
    NETDOCTOR_SYNC_BUDGET_MS: 30000,
    NETDOCTOR_RUN_RETENTION_MS: 3600000,
    NETDOCTOR_DB_PATH: 'aml-netdoctor.sqlite',
    NETDOCTOR_SCHEDULER: 'on',
    NETDOCTOR_SCHEDULER_TICK_MS: 5000,
    NETDOCTOR_HISTORY_RETENTION_DAYS: 90,
    NETDOCTOR_RUN_LEASE_SECONDS: 30,
    NETDOCTOR_JOB_HEARTBEAT_SECONDS: 30,
    NETDOCTOR_QUEUE_SUPERVISE_SECONDS: 30,
    NETDOCTOR_SCHEDULER_BATCH: 200,
    NETDOCTOR_SWEEP_CONCURRENCY: 8,
    NETDOCTOR_SHUTDOWN_GRACE_MS: 10000,
    NETDOCTOR_METRICS_PUBLIC: 'off',
    NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: [],
    NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK: 'off',
  });
});

t.test('every variable is read and converted', async (t) => {
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '0',
    LOG_LEVEL: 'debug',
    NETDOCTOR_CLOUD: 'AzureUSGovernment',
    NETDOCTOR_ARM_ENDPOINT: 'https://127.0.0.1:8443',
    NETDOCTOR_DNS_SERVERS: ' 10.0.0.4, 127.0.0.1:5353 ,[fd00::53]:53,fd00::54,',
    NETDOCTOR_ACCESS_TOKEN: 'eyJ0eXAi',
    NETDOCTOR_TIMEOUT_MS: '5000',
    NETDOCTOR_DNS_TIMEOUT_MS: '250',
    NETDOCTOR_LRO_POLL_MS: '100',
    NETDOCTOR_SYNC_BUDGET_MS: '0',
    NETDOCTOR_RUN_RETENTION_MS: '60000',
    NETDOCTOR_DB_PATH: '/var/lib/aml-netdoctor/db.sqlite',
    NETDOCTOR_SCHEDULER: 'off',
    NETDOCTOR_SCHEDULER_TICK_MS: '1000',
    NETDOCTOR_HISTORY_RETENTION_DAYS: '7',
    DATABASE_URL: 'postgres://netdoctor:pw@db.internal:5432/netdoctor',
    NETDOCTOR_RUN_LEASE_SECONDS: '10',
    NETDOCTOR_JOB_HEARTBEAT_SECONDS: '15',
    NETDOCTOR_QUEUE_SUPERVISE_SECONDS: '5',
    NETDOCTOR_SCHEDULER_BATCH: '50',
    NETDOCTOR_SWEEP_CONCURRENCY: '4',
    NETDOCTOR_SHUTDOWN_GRACE_MS: '0',
    NETDOCTOR_AUTH: 'entra+api-keys',
    NETDOCTOR_ENTRA_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    NETDOCTOR_ENTRA_AUDIENCE: ' api://aml-netdoctor, 3f4e5d6c-1111-4a4a-8b8b-123456789abc ,',
    NETDOCTOR_ENTRA_AUTHORITY: 'https://login.microsoftonline.us',
    NETDOCTOR_API_KEYS_FILE: '/etc/aml-netdoctor/keys.json',
    NETDOCTOR_METRICS_PUBLIC: 'on',
    NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com',
    NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK: 'on',
    UNRELATED: 'ignored',
  });
  t.same(config, {
    HOST: '0.0.0.0',
    PORT: 0,
    LOG_LEVEL: 'debug',
    NETDOCTOR_CLOUD: 'AzureUSGovernment',
    NETDOCTOR_ARM_ENDPOINT: 'https://127.0.0.1:8443',
    NETDOCTOR_DNS_SERVERS: ['10.0.0.4', '127.0.0.1:5353', '[fd00::53]:53', 'fd00::54'],
    NETDOCTOR_ACCESS_TOKEN: 'eyJ0eXAi',
    NETDOCTOR_TIMEOUT_MS: 5000,
    NETDOCTOR_DNS_TIMEOUT_MS: 250,
    NETDOCTOR_LRO_POLL_MS: 100,
    NETDOCTOR_SYNC_BUDGET_MS: 0,
    NETDOCTOR_RUN_RETENTION_MS: 60000,
    NETDOCTOR_DB_PATH: '/var/lib/aml-netdoctor/db.sqlite',
    NETDOCTOR_SCHEDULER: 'off',
    NETDOCTOR_SCHEDULER_TICK_MS: 1000,
    NETDOCTOR_HISTORY_RETENTION_DAYS: 7,
    DATABASE_URL: 'postgres://netdoctor:pw@db.internal:5432/netdoctor',
    NETDOCTOR_RUN_LEASE_SECONDS: 10,
    NETDOCTOR_JOB_HEARTBEAT_SECONDS: 15,
    NETDOCTOR_QUEUE_SUPERVISE_SECONDS: 5,
    NETDOCTOR_SCHEDULER_BATCH: 50,
    NETDOCTOR_SWEEP_CONCURRENCY: 4,
    NETDOCTOR_SHUTDOWN_GRACE_MS: 0,
    NETDOCTOR_AUTH: 'entra+api-keys',
    NETDOCTOR_ENTRA_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    NETDOCTOR_ENTRA_AUDIENCE: ['api://aml-netdoctor', '3f4e5d6c-1111-4a4a-8b8b-123456789abc'],
    NETDOCTOR_ENTRA_AUTHORITY: 'https://login.microsoftonline.us',
    NETDOCTOR_API_KEYS_FILE: '/etc/aml-netdoctor/keys.json',
    NETDOCTOR_METRICS_PUBLIC: 'on',
    NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: ['hooks.example.com'],
    NETDOCTOR_WEBHOOK_ALLOW_LOOPBACK: 'on',
  });
});

t.test('the service needs NETDOCTOR_AUTH; tests and tools building the app do not', async (t) => {
  t.notOk('NETDOCTOR_AUTH' in loadConfig({}), 'no default');
  const err = (() => {
    try {
      loadConfig({}, { service: true });
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  })();
  t.same(err.problems.map((p) => p.variable), ['NETDOCTOR_AUTH']);
  t.match(err.message, /NETDOCTOR_AUTH: must be set: entra, api-keys, entra\+api-keys, off/);
  t.equal(loadConfig({ NETDOCTOR_AUTH: 'off' }, { service: true }).NETDOCTOR_AUTH, 'off', 'off is accepted when explicit');
  t.match(problemsOf({ NETDOCTOR_AUTH: 'none' }).message, "NETDOCTOR_AUTH: must be one of entra, api-keys, entra+api-keys, off (got 'none')");
});

t.test('each authentication mode needs its settings', async (t) => {
  const vars = (env: Record<string, string>) => problemsOf(env).problems.map((p) => `${p.variable}: ${p.message}`).sort();
  t.same(vars({ NETDOCTOR_AUTH: 'entra' }), [
    'NETDOCTOR_ENTRA_AUDIENCE: is required when NETDOCTOR_AUTH is entra',
    'NETDOCTOR_ENTRA_TENANT_ID: is required when NETDOCTOR_AUTH is entra',
  ]);
  t.same(vars({ NETDOCTOR_AUTH: 'api-keys' }), ['NETDOCTOR_API_KEYS_FILE: is required when NETDOCTOR_AUTH is api-keys']);
  t.same(vars({ NETDOCTOR_AUTH: 'entra+api-keys', NETDOCTOR_ENTRA_TENANT_ID: 'contoso.onmicrosoft.com', NETDOCTOR_ENTRA_AUDIENCE: ' , ' }).map((v) => v.split(':')[0]).sort(), [
    'NETDOCTOR_API_KEYS_FILE',
    'NETDOCTOR_ENTRA_AUDIENCE',
  ]);
  t.equal(loadConfig({ NETDOCTOR_AUTH: 'entra', NETDOCTOR_ENTRA_TENANT_ID: 'contoso.onmicrosoft.com', NETDOCTOR_ENTRA_AUDIENCE: 'api://x' }).NETDOCTOR_ENTRA_TENANT_ID, 'contoso.onmicrosoft.com');
  for (const tenant of ['common', 'organizations', 'consumers', 'not a tenant']) {
    t.match(problemsOf({ NETDOCTOR_ENTRA_TENANT_ID: tenant }).message, /NETDOCTOR_ENTRA_TENANT_ID: must be the tenant id \(a GUID\) or a verified domain/, tenant);
  }
});

t.test('the Entra authority is https, or http only on a loopback address', async (t) => {
  for (const url of ['http://login.example.com', 'http://10.0.0.5:8080', 'https://user:pw@login.example.com', 'https://login.example.com/?x=1', 'login.microsoftonline.com']) {
    t.same(problemsOf({ NETDOCTOR_ENTRA_AUTHORITY: url }).problems.map((p) => p.variable), ['NETDOCTOR_ENTRA_AUTHORITY'], url);
  }
  for (const url of ['https://login.microsoftonline.com', 'http://127.0.0.1:8080', 'http://localhost:1', 'http://[::1]:9']) {
    t.equal(loadConfig({ NETDOCTOR_ENTRA_AUTHORITY: url }).NETDOCTOR_ENTRA_AUTHORITY, url, url);
  }
});

t.test('scale-out settings are checked, and a bad DATABASE_URL is never echoed', async (t) => {
  const { problems } = problemsOf({ DATABASE_URL: 'mysql://root:hunter2@db/x', NETDOCTOR_JOB_HEARTBEAT_SECONDS: '5', NETDOCTOR_SWEEP_CONCURRENCY: '0' });
  t.same(problems.map((p) => p.variable).sort(), ['DATABASE_URL', 'NETDOCTOR_JOB_HEARTBEAT_SECONDS', 'NETDOCTOR_SWEEP_CONCURRENCY']);
  const message = problems.map((p) => p.message).join('\n');
  t.match(message, /postgres:\/\/ or postgresql:\/\//);
  t.notMatch(message, /hunter2/, 'the password in the URL is not repeated');
});

t.test('scheduler settings are checked at start-up', async (t) => {
  t.match(problemsOf({ NETDOCTOR_SCHEDULER: 'maybe', NETDOCTOR_HISTORY_RETENTION_DAYS: '0' }).problems.map((p) => p.variable).sort(), ['NETDOCTOR_HISTORY_RETENTION_DAYS', 'NETDOCTOR_SCHEDULER']);
});

t.test('empty values mean unset', async (t) => {
  t.equal(loadConfig({ PORT: '', NETDOCTOR_ARM_ENDPOINT: '  ' }).PORT, 3000);
  t.notOk('NETDOCTOR_ARM_ENDPOINT' in loadConfig({ NETDOCTOR_ARM_ENDPOINT: '' }));
});

t.test('a bad DNS server list names the variable and the entry', async (t) => {
  const err = problemsOf({ NETDOCTOR_DNS_SERVERS: '10.0.0.4,10.0.0.300' });
  t.same(err.problems.map((p) => p.variable), ['NETDOCTOR_DNS_SERVERS']);
  t.match(err.message, /NETDOCTOR_DNS_SERVERS: entry 2: '10\.0\.0\.300'/);
});

t.test('a bad PORT names the variable', async (t) => {
  for (const PORT of ['abc', '70000', '-1', '1e3', '80.5']) {
    const err = problemsOf({ PORT });
    t.same(err.problems.map((p) => p.variable), ['PORT'], `PORT=${PORT}`);
    t.match(err.message, /^Invalid configuration:\n {2}PORT: /);
  }
});

t.test('every bad variable is reported at once', async (t) => {
  const err = problemsOf({
    PORT: 'x',
    LOG_LEVEL: 'loud',
    NETDOCTOR_CLOUD: 'AzureMars',
    NETDOCTOR_ARM_ENDPOINT: 'http://management.azure.com',
    NETDOCTOR_DNS_SERVERS: 'dns.example.com',
    NETDOCTOR_TIMEOUT_MS: '0',
    NETDOCTOR_DNS_TIMEOUT_MS: 'soon',
  });
  t.same(err.problems.map((p) => p.variable).sort(), [
    'LOG_LEVEL',
    'NETDOCTOR_ARM_ENDPOINT',
    'NETDOCTOR_CLOUD',
    'NETDOCTOR_DNS_SERVERS',
    'NETDOCTOR_DNS_TIMEOUT_MS',
    'NETDOCTOR_TIMEOUT_MS',
    'PORT',
  ]);
  t.match(err.message, 'NETDOCTOR_CLOUD: must be one of AzureCloud, AzureUSGovernment, AzureChinaCloud');
});

t.test('the ARM endpoint must be https and is never echoed', async (t) => {
  for (const url of ['http://127.0.0.1:8443', 'https://user:hunter2@arm.example', 'https://arm.example:99999', 'ftp://x']) {
    const err = problemsOf({ NETDOCTOR_ARM_ENDPOINT: url });
    t.same(err.problems.map((p) => p.variable), ['NETDOCTOR_ARM_ENDPOINT'], url);
    t.notMatch(err.message, 'hunter2');
  }
  t.equal(loadConfig({ NETDOCTOR_ARM_ENDPOINT: 'https://arm.example/base/' }).NETDOCTOR_ARM_ENDPOINT, 'https://arm.example/base/');
});

t.test('the access token never appears in a ConfigError', async (t) => {
  const err = problemsOf({ NETDOCTOR_ACCESS_TOKEN: 'tok-very-secret', PORT: 'tok-very-secret-port' });
  t.notMatch(err.message.replace('tok-very-secret-port', ''), 'tok-very-secret');
});

t.test('parseDnsServer accepts the forms node:dns accepts and validates ports', async (t) => {
  t.equal(parseDnsServer('10.0.0.4'), '10.0.0.4');
  t.equal(parseDnsServer(' 10.0.0.4:53 '), '10.0.0.4:53');
  t.equal(parseDnsServer('fd00::10'), 'fd00::10');
  t.equal(parseDnsServer('[fd00::10]:5353'), '[fd00::10]:5353');
  t.equal(parseDnsServer('[::1]'), '::1');
  for (const bad of ['', 'dns.example.com', '10.0.0.256', '10.0.0.4:0', '10.0.0.4:65536', '10.0.0.4:', '10.0.0.4:53x', '[10.0.0.4]:53', '[fd00::10]:', '[fd00::zz]:53']) {
    t.throws(() => parseDnsServer(bad), { name: 'DnsServerError' }, `rejects '${bad}'`);
  }
});

t.test('parseDnsServerList splits on commas and names the bad entry', async (t) => {
  t.same(parseDnsServerList('10.0.0.4,,10.0.0.5:53'), ['10.0.0.4', '10.0.0.5:53']);
  t.same(parseDnsServerList(''), []);
  t.throws(() => parseDnsServerList('10.0.0.4, nope'), { message: /^entry 2: 'nope'/ });
});

t.test('webhook hosts: a comma-separated list of names or *.suffix wildcards', async (t) => {
  t.same(loadConfig({ NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: ' hooks.example.com, *.receivers.example.net ,' }).NETDOCTOR_WEBHOOK_ALLOWED_HOSTS, ['hooks.example.com', '*.receivers.example.net']);
  t.same(problemsOf({ NETDOCTOR_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com,https://x.example/path' }).problems.map((p) => p.variable), ['NETDOCTOR_WEBHOOK_ALLOWED_HOSTS']);
});
