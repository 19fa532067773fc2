/**
 * Markdown rendering of a report: pastes well into a ticket (GitHub, Azure DevOps, Jira with
 * Markdown). Pure.
 *
 * Every value that came from Azure or from a rule goes through one of the escapers below, so a
 * name containing `|`, a newline, `<` or a run of backticks cannot break a table, open a fence,
 * start a heading or list, or be swallowed as HTML.
 */
import { nameOf } from '../model/arm-id.ts';
import type { CoverageItem, Evidence, Finding, Flow, Report, Symptom } from './schema.ts';

const TIER_LABEL: Record<Finding['tier'], string> = {
  1: 'auth path',
  2: 'jobs, images or compute lifecycle',
  3: 'client access or hygiene',
};

// ---------------------------------------------------------------------------------------------
// Escaping

/** Longest run of backticks in `s` (0 when there is none). */
function longestBacktickRun(s: string): number {
  let longest = 0;
  for (const run of s.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

/** Text meant for one line: every line break (and the whitespace around it) becomes one space. */
function oneLine(s: string): string {
  return s.replace(/\s*(?:\r\n|\r|\n)\s*/g, ' ');
}

/** A code span holding `s` literally, whatever backticks it contains. */
export function code(s: string, inCell = false): string {
  let body = oneLine(s);
  if (inCell) body = body.replace(/\|/g, '\\|');
  const fence = '`'.repeat(longestBacktickRun(body) + 1);
  // CommonMark strips one space on each side, so padding keeps a leading/trailing backtick intact.
  const pad = fence.length > 1 || body.startsWith(' ') || body.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** Escapes Markdown syntax in plain text (no code spans inside). */
function escapePlain(s: string, inCell: boolean): string {
  let out = s
    .replace(/[\\*~<#`]/g, (c) => `\\${c}`)
    // `_` only emphasises at a word boundary: leave PRIVATE_DNS_ZONE alone.
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_')
    // `[text](url)` and `![alt](src)`: breaking `](` is enough to keep them literal.
    .replace(/\]\(/g, ']\\(')
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, '\\&');
  if (inCell) out = out.replace(/\|/g, '\\|');
  return out;
}

/**
 * Escapes inline text. Balanced backtick spans (the report's own prose uses them for commands,
 * e.g. "run `aml-netdoctor recheck`") stay code spans; everything else is escaped, and an
 * unmatched backtick is shown literally.
 */
export function inline(s: string, inCell = false): string {
  const text = oneLine(s);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('`', i);
    if (start < 0) break;
    let end = start;
    while (text[end] === '`') end++;
    const run = end - start;
    const close = findRun(text, end, run);
    if (close < 0) {
      out += escapePlain(text.slice(i, end), inCell);
      i = end;
      continue;
    }
    out += escapePlain(text.slice(i, start), inCell);
    const body = text.slice(end, close);
    out += '`'.repeat(run) + (inCell ? body.replace(/\|/g, '\\|') : body) + '`'.repeat(run);
    i = close + run;
  }
  return out + escapePlain(text.slice(i), inCell);
}

/** Index of the next run of exactly `len` backticks at or after `from`, or -1. */
function findRun(s: string, from: number, len: number): number {
  let i = from;
  while (i < s.length) {
    const start = s.indexOf('`', i);
    if (start < 0) return -1;
    let end = start;
    while (s[end] === '`') end++;
    if (end - start === len) return start;
    i = end;
  }
  return -1;
}

/**
 * Text that starts a block (a paragraph or list item): also neutralise what would turn it into a
 * heading, quote, list, thematic break, setext underline or indented code.
 */
export function block(s: string): string {
  const out = inline(s.trim());
  return out.replace(/^(\d+)([.)])/, '$1\\$2').replace(/^[>+=\-]/, (c) => `\\${c}`);
}

/** A table cell: inline text, `|` escaped; an empty value shows as a dash. */
function cell(s: string | undefined): string {
  return s === undefined || s.trim() === '' ? '—' : inline(s, true);
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** A fenced block that no content can close early: the fence is longer than any backtick run. */
export function fenced(lang: string, content: string): string[] {
  const body = content.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(body) + 1));
  return [`${fence}${lang}`, body, fence];
}

/** Text for inside raw HTML (the `<summary>` line). */
function html(s: string): string {
  return oneLine(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `**name**` plus the id in code, for a resource a reader will want to find. */
function resource(id: string, inCell = false): string {
  const name = nameOf(id);
  return name && name !== id ? `**${inline(name, inCell)}** ${code(id, inCell)}` : code(id, inCell);
}

// ---------------------------------------------------------------------------------------------
// Sections

export function renderMarkdown(report: Report): string {
  const out: string[] = [
    `# aml-netdoctor: ${inline(report.workspace.name)} — ${report.verdict.status.toUpperCase()}`,
    '',
    ...facts(report),
    '',
    ...verdict(report.verdict),
    ...findings(report),
    ...flows(report.flows),
    ...coverage(report.coverage),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}

function facts(report: Report): string[] {
  const ws = report.workspace;
  const rows: string[][] = [
    ['Workspace', `**${cell(ws.name)}**`],
    ['Workspace id', code(ws.id, true)],
  ];
  if (ws.location) rows.push(['Location', cell(ws.location)]);
  if (ws.computeName) rows.push(['Compute', cell(ws.computeName)]);
  rows.push(['Generated at', cell(report.generatedAt)]);
  rows.push(['Tool', cell(`${report.tool.name} ${report.tool.version}`)]);
  if (report.scope.subscriptions.length) rows.push(['Also searched', report.scope.subscriptions.map((s) => code(s, true)).join(', ')]);
  if (report.scope.vantageVmId) rows.push(['Vantage', code(report.scope.vantageVmId, true)]);
  const f = report.filters;
  if (f) {
    const parts: string[] = [];
    if (f.minTier !== undefined) parts.push(`minimum tier ${f.minTier}`);
    if (f.exclude.length) parts.push(`excluded ${f.exclude.map((c) => code(c, true)).join(', ')}`);
    rows.push(['Filters', parts.length ? parts.join('; ') : 'none']);
  }
  return table(['Fact', 'Value'], rows);
}

function verdict(v: Report['verdict']): string[] {
  const out = ['## Verdict', '', block(v.summary), ''];
  if (v.chain.length) {
    out.push('**Chain:**', '');
    v.chain.forEach((step, i) => {
      const where: string[] = [];
      if (step.name) where.push(`**${inline(step.name)}**`);
      if (step.resourceId) where.push(code(step.resourceId));
      out.push(`${i + 1}. _${step.kind}_: ${inline(step.text)}${where.length ? ` — ${where.join(' ')}` : ''}`);
    });
    out.push('');
  }
  if (v.assumptions.length) out.push('**Assumptions:**', '', ...v.assumptions.map((a) => `- ${block(a)}`), '');
  if (v.nextSteps.length) out.push('**Next steps:**', '', ...v.nextSteps.map((s, i) => `${i + 1}. ${block(s)}`), '');
  return out;
}

function findings(report: Report): string[] {
  const out = ['## Findings', ''];
  if (report.findings.length === 0) {
    const filtered = report.filters ? ' (after the filters above)' : '';
    const gaps = report.verdict.status === 'undetermined' ? ' in the evidence that could be read; see Coverage for what could not be checked' : '';
    out.push(`None: no rule found a problem${gaps}${filtered}.`, '');
    return out;
  }
  out.push(`${report.findings.length} finding(s), most likely cause of the device-login prompt first.`, '');
  for (const f of report.findings) out.push(...finding(f));
  return out;
}

function finding(f: Finding): string[] {
  const out = [
    `### ${f.rank}. ${inline(f.code)} — ${inline(f.title)}`,
    '',
    `Tier ${f.tier} (${TIER_LABEL[f.tier]}) · severity **${f.severity}** · confidence **${f.confidence}** · ${inline(f.rankReason)}`,
    '',
    `Blamed resource: ${resource(f.resourceId)}`,
    '',
  ];
  if (f.flows?.length) out.push(`Breaks flows: ${f.flows.map((id) => code(id)).join(', ')}`, '');
  out.push(block(f.explanation), '');
  out.push(...evidenceTable(f.evidence));
  if (f.symptoms?.length) out.push(...symptoms(f.symptoms));
  const r = f.remediation;
  out.push(`**Fix:** ${inline(r.summary)}`, '');
  if (r.azCli.length) out.push(...fenced('bash', r.azCli.join('\n')), '');
  // Rules are still gaining Bicep and verify text: render what is there, never an empty fence.
  if (r.bicep) out.push(...fenced('bicep', r.bicep), '');
  if (r.verify) out.push(`**Verify:** ${inline(r.verify)}`, '');
  out.push(`**Docs:** [${inline(f.docs)}](${linkTarget(f.docs)})`, '');
  return out;
}

function evidenceTable(evidence: Evidence[]): string[] {
  if (evidence.length === 0) return [];
  const rows = evidence.map((e) => [e.property ? code(e.property, true) : '—', cell(e.observed), cell(e.expected), e.resourceId ? resource(e.resourceId, true) : '—']);
  return [...table(['Property', 'Observed', 'Expected', 'Resource'], rows), ''];
}

function symptoms(list: Symptom[]): string[] {
  const codes = [...new Set(list.map((s) => s.code))].join(', ');
  const out = ['<details>', `<summary>${list.length} symptom(s) folded into this cause: ${html(codes)}</summary>`, ''];
  for (const s of list) {
    out.push(`**${inline(s.code)}** — ${inline(s.title)} · confidence **${s.confidence}** · ${resource(s.resourceId)}`, '');
    out.push(block(s.explanation), '');
    if (s.flows?.length) out.push(`Breaks flows: ${s.flows.map((id) => code(id)).join(', ')}`, '');
    out.push(...evidenceTable(s.evidence));
  }
  out.push('</details>', '');
  return out;
}

/** A relative link target: characters that would end or break the link are percent-encoded. */
function linkTarget(path: string): string {
  return path.replace(/[\s()<>\\`|[\]]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function flows(list: Flow[]): string[] {
  const out = ['## Flows', ''];
  if (list.length === 0) return [...out, 'No flows were traced.', ''];
  const bySubnet = new Map<string, Flow[]>();
  for (const f of list) bySubnet.set(f.subnetId ?? '', [...(bySubnet.get(f.subnetId ?? '') ?? []), f]);
  for (const [subnetId, group] of bySubnet) {
    const first = group[0];
    const computes = first?.computes.length ? ` (${first.computes.map((c) => inline(c)).join(', ')})` : '';
    const how = first?.source === 'azure' ? 'effective routes and NSGs read from Azure' : 'routes and NSGs computed from configuration';
    out.push(`### From ${subnetId ? `subnet ${inline(nameOf(subnetId))}` : 'the compute'}${computes}`, '');
    out.push(subnetId ? `Subnet ${code(subnetId)}: ${how}.` : `${how[0]?.toUpperCase()}${how.slice(1)}.`, '');
    const broken = group.filter((f) => f.verdict !== 'allowed');
    const allowed = group.filter((f) => f.verdict === 'allowed');
    if (broken.length) {
      const rows = broken.map((f) => [
        `${code(f.id, true)}${f.authPath ? ' (auth path)' : ''}${f.direction === 'inbound' ? ' (inbound)' : ''}`,
        cell(f.destination),
        cell(f.ports.join(', ')),
        `**${f.verdict}**`,
        decidingHop(f),
      ]);
      out.push(...table(['Flow', 'Destination', 'Ports', 'Verdict', 'Deciding hop'], rows), '');
    }
    const names = allowed.map((f) => code(f.id)).join(', ');
    out.push(broken.length ? `${allowed.length} other flow(s) allowed hop by hop${names ? `: ${names}` : ''}.` : `All ${allowed.length} flow(s) allowed hop by hop: ${names}.`, '');
  }
  return out;
}

/** The first hop that did not let the flow through, with the element that decided it. */
function decidingHop(f: Flow): string {
  const hop = f.hops.find((h) => h.verdict !== 'allowed');
  if (!hop) return '—';
  const parts = [`${hop.kind}: ${cell(hop.detail)}`];
  if (hop.element && !hop.detail.includes(hop.element)) parts.push(code(hop.element, true));
  if (hop.resourceId) parts.push(code(hop.resourceId, true));
  return parts.join(' ');
}

function coverage(items: CoverageItem[]): string[] {
  const gaps = items.filter((c) => c.status === 'undetermined');
  const passed = items.length - gaps.length;
  const out = ['## Coverage', '', `${passed} check(s) completed, ${gaps.length} could not be completed.`, ''];
  if (gaps.length === 0) return out;
  out.push('Not determined:', '');
  for (const g of gaps) {
    const read = [g.probe ? `probe ${code(g.probe)}` : '', g.statusCode !== undefined ? `HTTP ${g.statusCode}` : '', g.errorCode ? inline(g.errorCode) : '']
      .filter(Boolean)
      .join(', ');
    const why = g.reason ? `: ${inline(g.reason)}` : '';
    out.push(`- ${block(g.item)}${why}${read ? ` (${read})` : ''}${g.resourceId ? ` — ${code(g.resourceId)}` : ''}`);
  }
  out.push('');
  return out;
}
