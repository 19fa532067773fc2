/**
 * Every bundled scenario, end to end through the REST API: the Fastify app with the real
 * diagnose (real SDK clients against the simulated ARM, real DNS against the simulated server).
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import t from 'tap';
import { checkCodes, checkSymptoms } from '../helpers/expect.ts';
import { checkFlows } from '../helpers/flow-intent.ts';
import app from '../../src/app.ts';
import { createAzureClients, staticTokenCredential } from '../../src/azure/clients.ts';
import { loadConfig } from '../../src/config.ts';
import { createDiagnose } from '../../src/diagnose.ts';
import { idKey } from '../../src/model/arm-id.ts';
import type { Report } from '../../src/report/schema.ts';
import { listScenarios, loadScenario } from '../../src/sim/scenario-files.ts';
import { startEstate } from '../helpers/estate.ts';

for (const name of await listScenarios()) {
  t.test(name, async (t) => {
    const scenario = await loadScenario(name);
    const estate = await startEstate(t, scenario);
    const cloud = scenario.target.cloud ?? 'AzureCloud';
    const config = loadConfig({ NETDOCTOR_ARM_ENDPOINT: estate.arm.url, NETDOCTOR_DNS_SERVERS: estate.dns.address, NETDOCTOR_CLOUD: cloud, LOG_LEVEL: 'silent' });
    const log = pino({ level: 'silent' });
    const diagnose = createDiagnose({
      cloud,
      azure: createAzureClients({ cloud, armEndpoint: estate.arm.url, ca: estate.arm.caPem, credential: staticTokenCredential('api-token'), retryDelayMs: 50, lroPollIntervalMs: 20 }),
      dns: { servers: config.NETDOCTOR_DNS_SERVERS, timeoutMs: 400, tries: 1 },
      log,
    });
    const server = Fastify({ loggerInstance: log });
    await server.register(app, { config, diagnose });
    t.teardown(() => server.close());

    const res = await server.inject({
      method: 'POST',
      url: '/v1/diagnoses',
      payload: {
        workspaceId: scenario.target.workspaceId,
        ...(scenario.target.computeName ? { computeName: scenario.target.computeName } : {}),
        ...(scenario.target.subscriptions?.length ? { subscriptions: scenario.target.subscriptions } : {}),
        ...(scenario.target.vantageVmId ? { vantageVmId: scenario.target.vantageVmId } : {}),
      },
    });
    t.equal(res.statusCode, 200, res.body.slice(0, 500));
    const report = res.json<Report>();
    t.equal(report.verdict.status, scenario.expect.verdict, report.verdict.summary);
    if (scenario.expect.topFinding) {
      t.equal(report.findings[0]?.code, scenario.expect.topFinding.code);
      t.equal(idKey(report.findings[0]?.resourceId ?? ''), idKey(scenario.expect.topFinding.resourceId));
      checkSymptoms(t, report, scenario.expect.topFinding.symptoms ?? []);
    } else {
      t.notOk(report.findings.some((f) => f.tier <= 2), 'no blocking finding');
    }
    checkCodes(t, scenario, report);
    checkFlows(t, scenario, report);
    t.notMatch(res.body, /api-token/, 'the token never reaches the report');
  });
}
