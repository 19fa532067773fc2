/** Plain-text rendering of a report for terminals and runbook logs. Pure. */
import type { Report } from './schema.ts';

const STATUS: Record<Report['verdict']['status'], string> = {
  'cause-found': 'CAUSE FOUND',
  'no-cause-found': 'NO CAUSE FOUND',
  undetermined: 'UNDETERMINED',
};

function wrap(text: string, indent: string, width = 100): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width - indent.length) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

export function renderText(report: Report): string {
  const out: string[] = [];
  const ws = report.workspace;
  out.push(`aml-netdoctor ${report.tool.version} — workspace ${ws.name}${ws.location ? ` (${ws.location})` : ''}${ws.computeName ? `, compute ${ws.computeName}` : ''}`);
  out.push(`  ${ws.id}`);
  out.push('');
  const v = report.verdict;
  out.push(`Verdict: ${STATUS[v.status]}`);
  out.push(wrap(v.summary, '  '));
  if (v.chain.length) {
    out.push('');
    out.push('  How the prompt comes about:');
    v.chain.forEach((step, i) => out.push(wrap(`${i === 0 ? '  ' : '→ '}${step.text}${step.resourceId && !step.text.includes(step.resourceId) ? ` (${step.resourceId})` : ''}`, '    ')));
  }
  if (v.assumptions.length) {
    out.push('');
    out.push('  Assumptions:');
    for (const a of v.assumptions) out.push(wrap(`- ${a}`, '    '));
  }
  if (v.nextSteps.length) {
    out.push('');
    out.push('  Next steps:');
    v.nextSteps.forEach((n, i) => out.push(wrap(`${i + 1}. ${n}`, '    ')));
  }
  if (report.filters) {
    const parts = [
      ...(report.filters.minTier !== undefined ? [`--min-tier ${report.filters.minTier}`] : []),
      ...(report.filters.exclude.length ? [`--exclude ${report.filters.exclude.join(',')}`] : []),
    ];
    if (parts.length) out.push(`  Filters: ${parts.join(' ')}`);
  }
  out.push('');
  if (report.findings.length === 0) out.push('Findings: none');
  else out.push(`Findings (${report.findings.length}, most likely cause first):`);
  for (const f of report.findings) {
    out.push('');
    out.push(`${f.rank}. [tier ${f.tier} · ${f.severity} · confidence ${f.confidence}] ${f.code}`);
    out.push(wrap(f.title, '   '));
    out.push(wrap(`Why this rank: ${f.rankReason}`, '   '));
    out.push(`   Resource: ${f.resourceId}`);
    out.push(wrap(f.explanation, '   '));
    for (const sym of f.symptoms ?? []) {
      out.push(wrap(`Symptom folded in: ${sym.code} — ${sym.explanation}`, '   '));
    }
    if (f.flows?.length) out.push(`   Breaks flows: ${f.flows.join(', ')}`);
    if (f.evidence.length) {
      out.push('   Evidence:');
      for (const e of f.evidence) {
        out.push(`   - ${e.property ? `${e.property}: ` : ''}observed ${e.observed}; expected ${e.expected}`);
        if (e.resourceId) out.push(`     on ${e.resourceId}`);
      }
    }
    out.push(wrap(`Fix: ${f.remediation.summary}`, '   '));
    for (const c of f.remediation.azCli) out.push(`     $ ${c}`);
    out.push('   Bicep:');
    for (const line of f.remediation.bicep.trimEnd().split('\n')) out.push(`     ${line}`);
    out.push(wrap(`Verify: ${f.remediation.verify}`, '   '));
    out.push(`   Docs: ${f.docs}`);
  }
  out.push(...renderFlows(report.flows));
  const gaps = report.coverage.filter((c) => c.status === 'undetermined');
  out.push('');
  out.push(`Coverage: ${report.coverage.length - gaps.length} checked, ${gaps.length} undetermined`);
  for (const g of gaps) out.push(wrap(`- ${g.item}: ${g.reason ?? 'unknown reason'}`, '  '));
  return `${out.join('\n')}\n`;
}

const MARK: Record<Report['flows'][number]['verdict'], string> = { allowed: 'ok     ', blocked: 'BLOCKED', undetermined: '??     ' };

/** One line per flow; the hops of every flow that is not allowed, the deciding hop marked. */
function renderFlows(flows: Report['flows']): string[] {
  const out: string[] = [];
  if (flows.length === 0) return out;
  const bySubnet = new Map<string, Report['flows']>();
  for (const f of flows) {
    const key = f.subnetId ?? '';
    bySubnet.set(key, [...(bySubnet.get(key) ?? []), f]);
  }
  for (const [subnet, list] of bySubnet) {
    const first = list[0];
    out.push('');
    const who = first?.computes.length ? ` (${first.computes.join(', ')})` : '';
    out.push(`Flows from ${subnet ? subnet.split('/').slice(-3).join('/') : 'the compute'}${who}, ${first?.source === 'azure' ? 'effective routes and NSGs read from Azure' : 'routes and NSGs computed from configuration'}:`);
    for (const f of list) {
      // Inbound flows describe their source in `destination` ("from AzureMachineLearning to …").
      out.push(`  ${MARK[f.verdict]} ${f.id.padEnd(18)} ${f.destination} [${f.ports.join(', ')}]`);
      if (f.verdict === 'allowed') continue;
      for (const h of f.hops) {
        const mark = h.verdict === 'allowed' ? '  ' : h.verdict === 'blocked' ? 'x ' : '? ';
        out.push(wrap(`${mark}${h.kind}: ${h.detail}${h.element ? ` [${h.element}]` : ''}`, '             '));
      }
      for (const n of f.notes ?? []) out.push(wrap(`note: ${n}`, '             '));
    }
  }
  return out;
}
