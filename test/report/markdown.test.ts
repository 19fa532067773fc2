import t, { type Test } from 'tap';
import { block, code, fenced, inline, renderMarkdown } from '../../src/report/render-markdown.ts';
import type { Report } from '../../src/report/schema.ts';
import { scenarioReport } from '../helpers/reports.ts';

// ---------------------------------------------------------------------------------------------
// A small structural reader of the Markdown we emit: fences, tables, sections.

interface Fence {
  info: string;
  marker: string;
  body: string;
}

interface Parsed {
  fences: Fence[];
  /** Lines outside fenced code blocks; each fenced block is one FENCE line. */
  outside: string[];
  unclosed: boolean;
}

const FENCE = '\u0000fenced block';

/** CommonMark fences: ≥3 backticks open (info string without backticks); ≥ as many close. */
function parse(md: string): Parsed {
  const fences: Fence[] = [];
  const outside: string[] = [];
  let open: { marker: string; info: string; lines: string[] } | undefined;
  for (const line of md.split('\n')) {
    if (open) {
      const close = /^ {0,3}(`{3,})\s*$/.exec(line);
      if (close?.[1] && close[1].length >= open.marker.length) {
        fences.push({ info: open.info, marker: open.marker, body: open.lines.join('\n') });
        outside.push(FENCE);
        open = undefined;
      } else open.lines.push(line);
      continue;
    }
    const start = /^ {0,3}(`{3,})([^`]*)$/.exec(line);
    if (start?.[1] !== undefined) open = { marker: start[1], info: (start[2] ?? '').trim(), lines: [] };
    else outside.push(line);
  }
  return { fences, outside, unclosed: open !== undefined };
}

/** `|` not escaped by a backslash (an even number of backslashes before it). */
function unescapedPipes(line: string): number {
  let n = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] !== '|') continue;
    let slashes = 0;
    for (let j = i - 1; j >= 0 && line[j] === '\\'; j--) slashes++;
    if (slashes % 2 === 0) n++;
  }
  return n;
}

/** Runs of consecutive lines starting with `|` (outside fences). */
function tables(lines: string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  for (const line of [...lines, '']) {
    if (line.startsWith('|')) cur.push(line);
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  return out;
}

/** The structural checks every rendering must pass. */
function assertWellFormed(t: Test, md: string): Parsed {
  const p = parse(md);
  t.notOk(p.unclosed, 'every fence is closed');
  for (const f of p.fences) {
    t.ok(['bash', 'bicep'].includes(f.info), `only bash/bicep fences are opened (got "${f.info}")`);
    const longest = Math.max(0, ...(f.body.match(/`+/g) ?? []).map((r) => r.length));
    t.ok(f.marker.length > longest, 'the fence is longer than any backtick run inside it');
  }
  const ts = tables(p.outside);
  for (const rows of ts) {
    const header = rows[0] ?? '';
    const cols = unescapedPipes(header);
    t.match(rows[1], /^\|(?:---\|)+$/, 'the second row is the delimiter row');
    for (const row of rows) t.equal(unescapedPipes(row), cols, `same number of cells as the header: ${row.slice(0, 80)}`);
    for (const row of rows) t.ok(row.endsWith('|'), 'the row is closed');
  }
  t.notOk(p.outside.some((l, i) => l === '' && p.outside[i + 1] === ''), 'no doubled blank lines');
  const headings = p.outside.filter((l) => /^#{1,6}\s/.test(l));
  t.equal(headings.filter((h) => h.startsWith('# ')).length, 1, 'one title');
  t.same(
    headings.filter((h) => h.startsWith('## ')),
    ['## Verdict', '## Findings', '## Flows', '## Coverage'],
    'the four sections, in order, and no heading injected by a value',
  );
  t.equal(p.outside.filter((l) => l === '<details>').length, p.outside.filter((l) => l === '</details>').length, 'details blocks balanced');
  return p;
}

/** Lines of a `## ` section (outside fences), without its heading. */
function section(p: Parsed, heading: string): string[] {
  const start = p.outside.indexOf(heading);
  if (start < 0) return [];
  const rest = p.outside.slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('## '));
  return end < 0 ? rest : rest.slice(0, end);
}

// ---------------------------------------------------------------------------------------------

const broken = await scenarioReport(t, 'zone-not-linked-hub-spoke');

t.test('broken estate: title, ranked findings with folded symptoms, fix in fences, blocked flows', async (t) => {
  const md = renderMarkdown(broken);
  const p = assertWellFormed(t, md);
  const top = broken.findings[0];
  if (!top) throw new Error('the scenario should have findings');
  t.equal(md.split('\n')[0], `# aml-netdoctor: ${broken.workspace.name} — CAUSE-FOUND`);

  const facts = p.outside.slice(1, 12).join('\n');
  t.match(facts, `| Workspace id | \`${broken.workspace.id}\` |`);
  t.match(facts, '| Location | eastus |');
  t.match(facts, `| Compute | ${broken.workspace.computeName} |`);
  t.match(facts, `| Generated at | ${broken.generatedAt} |`);
  t.notMatch(facts, 'Filters', 'no filters row without filters');

  const verdict = section(p, '## Verdict');
  t.ok(broken.verdict.chain.length >= 3, 'the scenario has a chain');
  broken.verdict.chain.forEach((step, i) => {
    const line = verdict.find((l) => l.startsWith(`${i + 1}. _${step.kind}_: `));
    t.ok(line, `chain step ${i + 1} (${step.kind}) is numbered`);
    if (step.name) t.match(line, `**${step.name}**`, 'resource name in bold');
    if (step.resourceId) t.match(line, `\`${step.resourceId}\``, 'resource id in code');
  });
  t.ok(verdict.includes('**Assumptions:**') && verdict.includes('**Next steps:**'));

  const findings = section(p, '## Findings');
  const headings = findings.filter((l) => l.startsWith('### '));
  t.equal(headings.length, broken.findings.length, 'one heading per finding');
  t.equal(headings[0], `### 1. ${top.code} — ${top.title}`);
  const topBlock = findings.slice(0, findings.indexOf(headings[1] ?? '')).join('\n');
  t.match(topBlock, `severity **${top.severity}** · confidence **${top.confidence}**`);
  t.match(topBlock, top.rankReason);
  t.match(topBlock, `Blamed resource: **privatelink.api.azureml.ms** \`${top.resourceId}\``);
  t.match(topBlock, '| Property | Observed | Expected | Resource |');
  t.match(topBlock, `| \`properties.dhcpOptions.dnsServers\` |`, 'evidence property in the table');
  t.ok(top.symptoms?.length, 'the top finding folds symptoms');
  t.match(topBlock, /<details>\n<summary>\d+ symptom\(s\) folded into this cause: DNS_RESOLVES_PUBLIC_ADDRESS<\/summary>\n\n/);
  t.match(topBlock, `**Fix:** ${top.remediation.summary}`);
  t.match(topBlock, `**Docs:** [${top.docs}](${top.docs})`, 'docs as a relative link');
  if (top.remediation.verify) t.match(topBlock, '**Verify:** ');
  const bash = p.fences.filter((f) => f.info === 'bash');
  t.equal(bash[0]?.body, top.remediation.azCli.join('\n'), 'the az commands, verbatim, in the first bash fence');
  t.equal(p.fences.filter((f) => f.info === 'bicep').length, broken.findings.filter((f) => f.remediation.bicep).length, 'one bicep fence per finding with Bicep');

  const flows = section(p, '## Flows').join('\n');
  const allowed = broken.flows.filter((f) => f.verdict === 'allowed');
  t.match(flows, /\| `workspace-api` \(auth path\) \| [^\n]+ \| TCP 443 \| \*\*blocked\*\* \| dns: /);
  t.notMatch(flows, '| `entra-id`', 'allowed flows are not table rows');
  t.match(flows, `${allowed.length} other flow(s) allowed hop by hop: `);
  t.match(section(p, '## Coverage').join('\n'), `${broken.coverage.length} check(s) completed, 0 could not be completed.`);
});

t.test('healthy estate: no findings, says none; all flows allowed in one line', async (t) => {
  const report = await scenarioReport(t, 'healthy-hub-spoke');
  t.equal(report.findings.length, 0);
  const md = renderMarkdown(report);
  const p = assertWellFormed(t, md);
  t.equal(md.split('\n')[0], `# aml-netdoctor: ${report.workspace.name} — NO-CAUSE-FOUND`);
  const findings = section(p, '## Findings');
  t.equal(findings.filter((l) => l.startsWith('### ')).length, 0, 'no finding entries');
  t.match(findings.join('\n'), /^None: no rule found a problem\.$/m);
  t.equal(p.fences.length, 0, 'no fix to show');
  const flows = section(p, '## Flows');
  t.equal(tables(flows).length, 0, 'no table of broken flows');
  t.match(flows.join('\n'), `All ${report.flows.length} flow(s) allowed hop by hop: \`workspace-api\``);
});

t.test('undetermined estate: coverage gaps listed with why and which resource', async (t) => {
  const report = await scenarioReport(t, 'hub-subscription-forbidden');
  t.equal(report.verdict.status, 'undetermined');
  const md = renderMarkdown(report);
  const p = assertWellFormed(t, md);
  t.equal(md.split('\n')[0], `# aml-netdoctor: ${report.workspace.name} — UNDETERMINED`);
  t.match(section(p, '## Findings').join('\n'), 'None: no rule found a problem in the evidence that could be read; see Coverage');
  const coverage = section(p, '## Coverage');
  const gaps = report.coverage.filter((c) => c.status === 'undetermined');
  t.ok(gaps.length > 0);
  t.ok(coverage.includes(`${report.coverage.length - gaps.length} check(s) completed, ${gaps.length} could not be completed.`));
  const items = coverage.filter((l) => l.startsWith('- '));
  t.equal(items.length, gaps.length, 'one list item per gap');
  const pe = items.find((l) => l.startsWith('- read the workspace private endpoints: 403 AuthorizationFailed'));
  t.ok(pe, 'the failed read is listed with its reason');
  t.match(pe, '(probe `privateEndpoints`, HTTP 403, AuthorizationFailed)');
  t.match(pe, /— `\/subscriptions\/[^`]+\/privateEndpoints\/pe-mlw-risk-chn`$/, 'and the resource it could not read');
  const flows = section(p, '## Flows').join('\n');
  t.match(flows, '| `workspace-api` (auth path) |');
  t.match(flows, '**undetermined**');
});

t.test('hostile values: pipes, newlines, backtick runs and Markdown syntax cannot break the document', async (t) => {
  const r: Report = structuredClone(broken);
  const top = r.findings[0];
  const symptom = top?.symptoms?.[0];
  const ev = top?.evidence[0];
  const flow = r.flows.find((f) => f.verdict === 'blocked');
  const hop = flow?.hops.find((h) => h.verdict === 'blocked');
  const gap = { item: '# gap | item\n- with a list', status: 'undetermined' as const, reason: 'reason | ``` here', resourceId: '/subscriptions/x/id|`with`' };
  if (!top || !symptom || !ev || !flow || !hop) throw new Error('the scenario shape changed');
  r.workspace.name = 'ws|evil\n# injected heading';
  r.filters = { minTier: 1, exclude: ['COMPUTE_INSTANCE_NAME_UNRESOLVABLE'] };
  r.verdict.summary = '> quoted\n## fake section\n```\nnot code';
  const step = r.verdict.chain[0];
  if (step) step.name = 'zone|`x`';
  r.verdict.nextSteps = ['- dash first', '1. numbered first', 'run `aml-netdoctor recheck <report.json>`'];
  top.title = 'title | with pipe and ``` a fence';
  top.explanation = '```\nnot a fence\n- not a list\n    not indented code';
  ev.property = 'prop|with`tick';
  ev.observed = 'line1\nline2 | col';
  ev.expected = '```bash\nrm -rf /\n```';
  ev.resourceId = '/subscriptions/x/resourceGroups/rg|pipe/providers/T/name|x';
  symptom.explanation = '</details> closed early? <script>x</script>';
  top.remediation.azCli = ['echo "```" | cat', 'az thing --x "a|b"'];
  top.remediation.bicep = "// fix\n\n\nresource z 'T@1' = {\n  name: '````'\n}";
  top.remediation.verify = 'run ``` and [x](javascript:alert(1)) then <b>bold</b>';
  flow.destination = 'dest|x\ny';
  hop.detail = 'detail | with ``` and\nnewline';
  r.coverage.push(gap);

  const md = renderMarkdown(r);
  const p = assertWellFormed(t, md);

  t.equal(md.split('\n')[0], '# aml-netdoctor: ws|evil \\# injected heading — CAUSE-FOUND', 'the name stays on the title line');
  t.match(md, '| Workspace | **ws\\|evil \\# injected heading** |', 'pipe escaped in the facts cell');
  t.match(md, '| Filters | minimum tier 1; excluded `COMPUTE_INSTANCE_NAME_UNRESOLVABLE` |');
  t.notOk(p.outside.some((l) => l.startsWith('>')), 'no value opens a block quote');
  t.notOk(p.outside.some((l) => /^- (dash first|not a list|with a list)/.test(l)), 'no value opens a list');
  t.notOk(p.outside.some((l) => /^ {4}not indented/.test(l)), 'no value opens indented code');
  t.ok(p.outside.includes('1. \\- dash first') && p.outside.includes('2. 1\\. numbered first'), 'leading list markers escaped');
  t.ok(p.outside.includes('3. run `aml-netdoctor recheck <report.json>`'), 'balanced backticks stay an inline code span');
  t.ok(p.outside.some((l) => l.startsWith('1. _compute_: ') && l.includes('**zone|`x`**')), 'chain name kept, in bold');

  t.match(md, `### 1. ${top.code} — title | with pipe and \\\`\\\`\\\` a fence`);
  // A balanced backtick run in a value stays an inline code span: on one line it cannot open a fence.
  t.match(md, '| `` prop\\|with`tick `` | line1 line2 \\| col | ```bash rm -rf / ``` | **name\\|x** ', 'evidence cells escaped on one row');
  t.match(md, '`/subscriptions/x/resourceGroups/rg\\|pipe/providers/T/name\\|x`');
  t.match(md, '\\</details> closed early? \\<script>x\\</script>', 'no raw HTML from values');
  t.match(md, '**Verify:** run \\`\\`\\` and [x]\\(javascript:alert(1)) then \\<b>bold\\</b>', 'no link, no HTML, no fence');

  const bash = p.fences.find((f) => f.info === 'bash');
  t.equal(bash?.body, 'echo "```" | cat\naz thing --x "a|b"', 'commands verbatim inside a longer fence');
  t.equal(bash?.marker, '````');
  const bicep = p.fences.find((f) => f.info === 'bicep');
  t.equal(bicep?.body, top.remediation.bicep, 'Bicep verbatim, blank lines kept');
  t.equal(bicep?.marker, '`````');

  t.match(md, '| dest\\|x y | TCP 443 | **blocked** | dns: detail \\| with \\`\\`\\` and newline');
  t.ok(p.outside.includes('- \\# gap | item - with a list: reason | \\`\\`\\` here — `` /subscriptions/x/id|`with` ``'), 'gap on one list line, code span outruns the backticks');
});

t.test('escapers', async (t) => {
  t.equal(inline('a|b', true), 'a\\|b');
  t.equal(inline('a|b'), 'a|b', 'pipes outside tables are harmless');
  t.equal(inline('*x* _y_ snake_case <tag> &amp; [a](b) ~z~ \\'), '\\*x\\* \\_y\\_ snake_case \\<tag> \\&amp; [a]\\(b) \\~z\\~ \\\\');
  t.equal(inline('a `b|c` d', true), 'a `b\\|c` d', 'code span kept, pipe escaped for the table');
  t.equal(inline('one ` tick'), 'one \\` tick');
  t.equal(code('plain'), '`plain`');
  t.equal(code('a``b'), '``` a``b ```');
  t.equal(code('`edge'), '`` `edge ``');
  t.equal(block('# h'), '\\# h');
  t.equal(block('  > q'), '\\> q');
  t.equal(block('12) x'), '12\\) x');
  t.equal(block('+ x'), '\\+ x');
  t.equal(block('--- '), '\\---');
  t.same(fenced('bash', 'x\r\ny\n'), ['```bash', 'x\ny', '```']);
  t.same(fenced('bash', 'a ```` b'), ['`````bash', 'a ```` b', '`````']);
});
