import { createHash } from 'node:crypto';
import t from 'tap';
import { HTML_CSP, renderHtml, VERDICT_LABEL } from '../../src/report/render-html.ts';
import type { Report } from '../../src/report/schema.ts';

// Values from a customer's estate that try to become markup, attributes or entities.
const SCRIPT = '<script>alert(1)</script>';
const HOSTILE = `${SCRIPT} "q" 'a' & <img src="https://evil.example/x.png" onerror="alert(2)">`;
const ESCAPED_SCRIPT = '&lt;script&gt;alert(1)&lt;/script&gt;';

const ZONE = '/subscriptions/s-dns/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.api.azureml.ms';
const SUBNET = '/subscriptions/s-ml/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-spoke/subnets/snet-compute';

function hostileReport(): Report {
  return {
    workspace: { id: `/subscriptions/s-ml/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/${HOSTILE}`, name: `ws ${HOSTILE}`, location: HOSTILE, computeName: `ci ${HOSTILE}` },
    generatedAt: '2026-01-02T03:04:05.000Z',
    tool: { name: 'aml-netdoctor', version: '0.1.0' },
    scope: { subscriptions: ['s-dns'], vantageVmId: `/subscriptions/s-ml/vm/${HOSTILE}` },
    filters: { minTier: 2, exclude: [`X_${HOSTILE}`] },
    verdict: {
      status: 'cause-found',
      summary: `The device-login prompt is caused by ${HOSTILE}.`,
      chain: [
        { kind: 'compute', text: `compute ${HOSTILE}`, name: `ci ${HOSTILE}`, resourceId: SUBNET },
        { kind: 'name', text: 'needs ws.api.azureml.ms on TCP 443' },
        { kind: 'address', text: 'resolves to 20.1.2.3 (public)' },
        { kind: 'rule', text: 'zone not linked', name: 'privatelink.api.azureml.ms', resourceId: ZONE },
        { kind: 'result', text: 'the SDK falls back to device login (open https://microsoft.com/devicelogin)' },
      ],
      assumptions: [`assumed ${HOSTILE}`],
      nextSteps: [`do ${HOSTILE}`, 'then run aml-netdoctor recheck report.json'],
    },
    findings: [
      {
        code: 'PRIVATE_DNS_ZONE_NOT_LINKED',
        tier: 1,
        severity: 'critical',
        confidence: 'high',
        title: `Zone not linked ${HOSTILE}`,
        resourceId: ZONE,
        explanation: `Explained ${HOSTILE}`,
        evidence: [{ resourceId: ZONE, property: `virtualNetworkLinks ${HOSTILE}`, observed: `obs ${HOSTILE}`, expected: `exp ${HOSTILE}` }],
        remediation: {
          summary: `Link it ${HOSTILE}`,
          azCli: ['az network private-dns link vnet create -g rg-dns -z privatelink.api.azureml.ms -n link-spoke', `az echo ${HOSTILE}`],
          bicep: `resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' existing = {\n  name: '${HOSTILE}'\n}`,
          verify: `nslookup ws.api.azureml.ms answers 10.0.0.4 ${HOSTILE}; then run aml-netdoctor recheck <report.json>`,
        },
        docs: 'docs/rules/PRIVATE_DNS_ZONE_NOT_LINKED.md',
        rank: 1,
        rankReason: `tier 1 (auth path); root cause of ${HOSTILE}`,
        symptoms: [
          { code: 'DNS_RESOLVES_PUBLIC_ADDRESS', title: `Resolves public ${HOSTILE}`, resourceId: ZONE, confidence: 'high', explanation: `sym ${HOSTILE}`, evidence: [{ observed: `20.1.2.3 ${HOSTILE}`, expected: '10.0.0.4' }], flows: ['workspace-api'] },
        ],
        flows: ['workspace-api'],
      },
      {
        code: 'COMPUTE_INSTANCE_NAME_UNRESOLVABLE',
        tier: 3,
        severity: 'medium',
        confidence: 'medium',
        title: 'Instance name does not resolve',
        resourceId: ZONE,
        explanation: 'Second.',
        evidence: [],
        remediation: { summary: 'Add the record.', azCli: [], bicep: '// nothing', verify: 'nslookup ci.instances.azureml.ms' },
        docs: 'docs/rules/COMPUTE_INSTANCE_NAME_UNRESOLVABLE.md',
        rank: 2,
        rankReason: 'tier 3',
      },
    ],
    flows: [
      {
        id: `workspace-api" onmouseover="alert(3)`,
        subnetId: SUBNET,
        computes: [`ci ${HOSTILE}`],
        direction: 'outbound',
        destination: `ws.api.azureml.ms ${HOSTILE}`,
        ports: ['TCP 443'],
        authPath: true,
        verdict: 'blocked',
        source: 'computed',
        hops: [
          { kind: 'dns', element: 'ws.api.azureml.ms', detail: `resolves to public ${HOSTILE}`, verdict: 'blocked', reason: 'dns-wrong-address' },
          { kind: 'route', detail: 'system route', verdict: 'allowed' },
        ],
        notes: [`note ${HOSTILE}`],
      },
      {
        id: 'storage',
        subnetId: SUBNET,
        computes: ['ci'],
        direction: 'outbound',
        destination: 'st.blob.core.windows.net',
        ports: ['TCP 443'],
        authPath: false,
        verdict: 'undetermined',
        source: 'computed',
        hops: [{ kind: 'firewall', detail: 'policy could not be read', verdict: 'undetermined', reason: 'evidence-missing' }],
      },
      {
        id: 'entra-id',
        subnetId: SUBNET,
        computes: ['ci'],
        direction: 'outbound',
        destination: 'login.microsoftonline.com',
        ports: ['TCP 443'],
        authPath: true,
        verdict: 'allowed',
        source: 'computed',
        hops: [{ kind: 'route', detail: 'internet route', verdict: 'allowed' }],
      },
    ],
    coverage: [
      { item: 'read the workspace', status: 'ok' },
      { item: `read ${HOSTILE}`, status: 'undetermined', reason: `403 ${HOSTILE}`, probe: 'networks', statusCode: 403, errorCode: 'AuthorizationFailed', resourceId: ZONE },
      { item: 'rule PRIVATE_DNS_ZONE_NOT_LINKED', status: 'ok' },
    ],
  };
}

function emptyReport(): Report {
  const r = hostileReport();
  return {
    ...r,
    workspace: { id: r.workspace.id, name: 'ws-quiet' },
    scope: { subscriptions: [] },
    verdict: { status: 'no-cause-found', summary: 'Nothing found.', chain: [], assumptions: [], nextSteps: [] },
    findings: [],
    flows: [],
    coverage: [],
  };
}

/** The outer HTML of the first `<tag ... id="id"` element (articles and sections do not nest here). */
function element(html: string, tag: string, id: string): string {
  const start = html.search(new RegExp(`<${tag}\\b[^>]*\\bid="${id}"`));
  if (start < 0) return '';
  const end = html.indexOf(`</${tag}>`, start);
  return end < 0 ? '' : html.slice(start, end + tag.length + 3);
}

/** Start tags outside our own <style> and <script> blocks: [name, attribute names, attribute values]. */
function startTags(html: string): { name: string; attrs: Map<string, string> }[] {
  const body = html.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<script>[\s\S]*?<\/script>/g, '');
  return [...body.matchAll(/<([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*>/g)].map((m) => ({
    name: (m[1] ?? '').toLowerCase(),
    attrs: new Map([...(m[2] ?? '').matchAll(/([\w:-]+)(?:="([^"]*)")?/g)].map((a) => [(a[1] ?? '').toLowerCase(), a[2] ?? ''])),
  }));
}

const ALLOWED_TAGS = new Set(
  'html head meta link title style body header main footer nav section article h1 h2 h3 h4 h5 p span strong em small br code pre div dl dt dd ul ol li table thead tbody tr th td details summary time a script'.split(' '),
);

t.test('a page of its own: doctype, charset, CSP, a title with workspace and verdict', async (t) => {
  const html = renderHtml(hostileReport());
  t.ok(html.startsWith('<!doctype html>\n<html lang="en">'));
  t.match(html, '<meta charset="utf-8">');
  t.match(html, `<meta http-equiv="Content-Security-Policy" content="${HTML_CSP.replaceAll("'", '&#39;')}">`);
  t.match(HTML_CSP, /^default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-[A-Za-z0-9+/]{43}='; img-src data:$/, 'only the page\'s own script, by hash, may run');
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  t.ok(HTML_CSP.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`), 'the hash is the hash of the script in the page');
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '';
  t.match(title, `ws ${ESCAPED_SCRIPT}`, 'the workspace name, escaped');
  t.match(title, VERDICT_LABEL['cause-found']);
  t.match(renderHtml(emptyReport()), '<title>aml-netdoctor: ws-quiet — NO CAUSE FOUND</title>');
});

t.test('every report value is escaped: hostile names stay text', async (t) => {
  const html = renderHtml(hostileReport());
  t.notMatch(html, SCRIPT, 'no raw <script>alert(1)</script> anywhere');
  t.equal(html.match(/<script/gi)?.length, 1, 'only the page’s own script element');
  t.notMatch(html, /<img/i);
  t.ok(html.split(ESCAPED_SCRIPT).length - 1 >= 25, 'the hostile string appears, escaped, wherever it was in the report');
  t.match(html, '&quot;q&quot; &#39;a&#39; &amp; &lt;img src=&quot;https://evil.example/x.png&quot;');
  t.notMatch(html, / & /, 'no bare ampersand');
  const tags = startTags(html);
  t.same(
    tags.filter((tag) => !ALLOWED_TAGS.has(tag.name)).map((tag) => tag.name),
    [],
    'no element the renderer does not write itself',
  );
  const handlers = tags.flatMap((tag) => [...tag.attrs.keys()].filter((a) => a.startsWith('on')));
  t.same(handlers, [], 'no event handler attribute (a quote in a flow id cannot close data-flow="…")');
  t.match(html, 'data-flow="workspace-api&quot; onmouseover=&quot;alert(3)"');
  // The hostile value survives as text: every character of it, escaped.
  const h1 = /<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1] ?? '';
  t.match(h1, `ws ${ESCAPED_SCRIPT} &quot;q&quot; &#39;a&#39; &amp;`);
});

t.test('nothing external: only fragment and data: references, no remote fetch in CSS', async (t) => {
  const html = renderHtml(hostileReport());
  const refs = startTags(html).flatMap((tag) => ['src', 'href', 'srcset', 'action', 'poster', 'data'].flatMap((a) => (tag.attrs.has(a) ? [`${tag.name} ${a}=${tag.attrs.get(a)}`] : [])));
  t.ok(refs.length > 0, 'the section links are there to check');
  t.same(
    refs.filter((r) => !/=(#[\w-]+|data:,?)$/.test(r)),
    [],
    'every src/href is a #fragment or data:',
  );
  t.notMatch(html, /(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i, 'no src=/href= to http://, https:// or //');
  const css = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
  t.notMatch(css, /url\(|@import/i);
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  t.notMatch(script, /fetch|XMLHttpRequest|https?:|import\(/);
});

t.test('sections in order: header, verdict, findings, flows, coverage', async (t) => {
  const html = renderHtml(hostileReport());
  const at = ['<header id="report-header"', '<section id="verdict"', '<section id="findings"', '<section id="flows"', '<section id="coverage"', '<footer>'].map((s) => html.indexOf(s));
  t.ok(at.every((i) => i > 0), 'all sections present');
  t.same([...at].sort((a, b) => a - b), at, 'in this order');
  t.ok(html.indexOf('<article id="finding-1"') < html.indexOf('<article id="finding-2"'), 'findings by rank');
});

t.test('header and verdict: facts, a labelled status badge, the chain in order', async (t) => {
  const html = renderHtml(hostileReport());
  const header = element(html, 'header', 'report-header');
  for (const fact of ['Workspace id', 'Location', 'Compute', 'Tool', 'aml-netdoctor 0.1.0', 'Generated', '2026-01-02T03:04:05.000Z', 'Also searched', 's-dns', 'Vantage', 'below tier 2']) t.match(header, fact);
  const verdict = element(html, 'section', 'verdict');
  t.match(verdict, 'data-status="cause-found"');
  t.match(verdict, /<span id="verdict-status" class="badge verdict-cause-found">✖ CAUSE FOUND<\/span>/, 'status in words, not colour alone');
  t.match(verdict, `The device-login prompt is caused by ${ESCAPED_SCRIPT}`);
  const chain = /<ol class="chain">([\s\S]*?)<\/ol>/.exec(verdict)?.[1] ?? '';
  t.same([...chain.matchAll(/class="step step-(\w+)"/g)].map((m) => m[1]), ['compute', 'name', 'address', 'rule', 'result']);
  t.match(chain, `<span class="res-name">privatelink.api.azureml.ms</span><br><code class="id">${ZONE}</code>`, 'resource name and id');
  t.match(verdict, `<li>assumed ${ESCAPED_SCRIPT}`);
  t.match(verdict, /<ol>\n<li>do &lt;script&gt;[\s\S]*<li>then run aml-netdoctor recheck report.json<\/li>/);
  const quiet = element(renderHtml(emptyReport()), 'section', 'verdict');
  t.match(quiet, '✔ NO CAUSE FOUND');
  t.match(quiet, 'No chain');
});

t.test('a finding: every part, symptoms folded, commands and Bicep in <pre><code>', async (t) => {
  const html = renderHtml(hostileReport());
  const f = element(html, 'article', 'finding-1');
  const parts = [
    '<span class="rank">#1</span>',
    '<code class="code">PRIVATE_DNS_ZONE_NOT_LINKED</code>',
    `Zone not linked ${ESCAPED_SCRIPT}`,
    'tier 1: auth path',
    'severity: critical',
    'confidence: high',
    `Why rank 1:</strong> tier 1 (auth path); root cause of ${ESCAPED_SCRIPT}`,
    `Blamed resource</dt><dd><span class="res-name">privatelink.api.azureml.ms</span><br><code class="id">${ZONE}</code>`,
    `Explained ${ESCAPED_SCRIPT}`,
    '<table class="evidence">',
    '<details class="symptoms">',
    '<h5>az CLI</h5>',
    '<h5>Bicep</h5>',
    '<h5>Verify</h5>',
    'Docs: <code>docs/rules/PRIVATE_DNS_ZONE_NOT_LINKED.md</code>',
  ];
  const at = parts.map((p) => f.indexOf(p));
  t.same(parts.filter((_, i) => at[i] === -1), [], 'all parts present');
  t.same([...at].sort((a, b) => a - b), at, 'in reading order');
  t.match(f, `<tr><td><code>virtualNetworkLinks ${ESCAPED_SCRIPT}`, 'evidence row');
  const symptoms = /<details class="symptoms">([\s\S]*?)<\/details>/.exec(f)?.[1] ?? '';
  t.match(symptoms, /<summary>Folded symptoms \(1\): DNS_RESOLVES_PUBLIC_ADDRESS/);
  t.match(symptoms, `Resolves public ${ESCAPED_SCRIPT}`);
  t.notMatch(symptoms, /<details[^>]* open/, 'folded: closed until expanded');
  t.match(f, '<pre class="az"><code>az network private-dns link vnet create -g rg-dns -z privatelink.api.azureml.ms -n link-spoke\naz echo &lt;script&gt;', 'one command a line, in order');
  t.match(f, `<pre class="bicep"><code>resource zone &#39;Microsoft.Network/privateDnsZones@2020-06-01&#39; existing = {\n  name: &#39;${ESCAPED_SCRIPT}`);
  t.match(f, 'then run aml-netdoctor recheck &lt;report.json&gt;');
  const second = element(html, 'article', 'finding-2');
  t.match(second, 'No evidence recorded.');
  t.notMatch(second, '<h5>az CLI</h5>', 'no empty command block');
  t.notMatch(second, 'symptoms');
  t.match(element(renderHtml(emptyReport()), 'section', 'findings'), 'No findings.');
});

t.test('flows: a table per subnet, blocked and undetermined hops shown with words', async (t) => {
  const flows = element(renderHtml(hostileReport()), 'section', 'flows');
  t.match(flows, '3 flows traced hop by hop: 1 blocked, 1 undetermined, 1 allowed.');
  t.equal(flows.match(/<table class="flows">/g)?.length, 1, 'one subnet, one table');
  t.match(flows, 'From subnet <span class="res-name">vnet-spoke/subnets/snet-compute</span>');
  const rows = [...flows.matchAll(/<tr class="flow v-(\w+)"[\s\S]*?<\/tr>/g)];
  t.same(rows.map((r) => r[1]), ['blocked', 'undetermined', 'allowed']);
  const [blocked, unknown, allowed] = rows.map((r) => r[0]);
  t.match(blocked, /<li class="hop v-blocked"><span class="badge v-blocked">✖ BLOCKED<\/span> <span class="kind">dns<\/span>/);
  t.match(blocked, `resolves to public ${ESCAPED_SCRIPT}`);
  t.match(blocked, '(dns-wrong-address)');
  t.match(blocked, `note: note ${ESCAPED_SCRIPT}`);
  t.notMatch(blocked, '<details>', 'hops of a broken flow are not folded');
  t.match(unknown, '? UNDETERMINED');
  t.match(unknown, 'policy could not be read');
  t.match(allowed, /<details><summary>1 hops, all allowed<\/summary>/);
  t.match(allowed, '✔ allowed');
});

t.test('coverage: undetermined items first, with the failed read', async (t) => {
  const cov = element(renderHtml(hostileReport()), 'section', 'coverage');
  t.match(cov, '2 checked, 1 undetermined.');
  const rows = [...cov.matchAll(/<tr class="cov v-(\w+)">([\s\S]*?)<\/tr>/g)];
  t.same(rows.map((r) => r[1]), ['undetermined', 'ok', 'ok']);
  t.match(rows[0]?.[2], '? UNDETERMINED');
  t.match(rows[0]?.[2], 'probe <code>networks</code> HTTP 403 <code>AuthorizationFailed</code>');
  t.match(rows[0]?.[2], `403 ${ESCAPED_SCRIPT}`);
  t.match(rows[1]?.[2], '✔ checked');
});

t.test('print-friendly and readable without the script', async (t) => {
  const html = renderHtml(hostileReport());
  t.match(html, /@media print \{[\s\S]*details::details-content \{ content-visibility: visible;/, 'folded parts print');
  t.match(html, /@media print \{[\s\S]*button \{ display: none/);
  t.notMatch(html.replace(/<script>[\s\S]*?<\/script>/, ''), /<button/, 'buttons only come from the script');
  t.match(html, /<script>[\s\S]*setAttribute\('data-ready', '1'\)/);
});

t.test('deterministic: the same report gives the same bytes, and the input is untouched', async (t) => {
  const report = hostileReport();
  const before = JSON.stringify(report);
  const a = renderHtml(report);
  t.equal(renderHtml(structuredClone(report)), a);
  t.equal(JSON.stringify(report), before);
});
