/**
 * The HTML report in a real browser: Debian's headless Chromium parses the page and runs its
 * script, and we assert on the DOM it returns. Chromium runs without any network (inside
 * `unshare -rn` when user namespaces work; otherwise flags turn off its background traffic and
 * name resolution), and is killed after 60 s.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderHtml, VERDICT_LABEL } from '../../src/report/render-html.ts';
import type { Report } from '../../src/report/schema.ts';
import { scenarioReport } from '../helpers/reports.ts';

const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 60_000;
const WINDOW = { width: 1280, height: 1600 };
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  // Belt and braces when there is no network namespace: no name resolves, so nothing can connect.
  '--host-resolver-rules=MAP * ~NOTFOUND',
];

const NO_NETWORK = spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs Chromium on a file with a fresh profile; kills its whole process group after TIMEOUT_MS. */
async function chromium(t: Test, file: string, args: string[]): Promise<Run> {
  const profile = await mkdtemp(join(tmpdir(), 'aml-netdoctor-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const argv = [...FLAGS, `--user-data-dir=${profile}`, ...args, pathToFileURL(file).href];
  const [cmd, cmdArgs] = NO_NETWORK ? ['unshare', ['-rn', CHROMIUM, ...argv]] : [CHROMIUM, argv];
  const child = spawn(cmd, cmdArgs, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
  };
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, TIMEOUT_MS);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => {
    clearTimeout(timer);
    killGroup(); // helpers (zygote, renderer) that outlived the browser
  });
  return { code, signal, timedOut, stdout, stderr };
}

/** The DOM Chromium serialised after it parsed the page and ran its script. */
async function dumpDom(t: Test, file: string): Promise<string> {
  const run = await chromium(t, file, ['--dump-dom']);
  t.notOk(run.timedOut, `Chromium finished within ${TIMEOUT_MS / 1000} s`);
  t.equal(run.code, 0, `Chromium exited cleanly${run.code === 0 ? '' : `: ${run.stderr.slice(-2000)}`}`);
  return run.stdout;
}

/** Outer HTML of the first `<tag … id="id"` (sections and articles do not nest in the page). */
function element(dom: string, tag: string, id: string): string {
  const start = dom.search(new RegExp(`<${tag}\\b[^>]*\\bid="${id}"`));
  const end = start < 0 ? -1 : dom.indexOf(`</${tag}>`, start);
  return end < 0 ? '' : dom.slice(start, end + tag.length + 3);
}

/** Text content of serialised HTML (Chromium escapes only &, <, > and nbsp in text). */
function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&nbsp;', '\u00a0')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&');
}

function htmlTag(dom: string): string {
  return /<html\b[^>]*>/.exec(dom)?.[0] ?? '';
}

// Payloads that would leave a mark on <html> if the page ever let them run.
const PAYLOADS = [
  `<script>document.documentElement.setAttribute('data-pwned','script')</script>`,
  `<img src=x onerror="document.documentElement.setAttribute('data-pwned','img')">`,
  `"><svg onload="document.documentElement.setAttribute('data-pwned','svg')">`,
];

function hostile(report: Report): Report {
  const r = structuredClone(report);
  const [script, img, svg] = PAYLOADS as [string, string, string];
  r.workspace.name = `ws ${script}`;
  r.verdict.summary = `${img} ${r.verdict.summary}`;
  const top = r.findings[0];
  if (top) {
    top.title = `${script} ${top.title}`;
    top.explanation = `${svg} ${top.explanation}`;
    top.remediation.azCli = [...top.remediation.azCli, `az echo ${img}`];
  }
  const flow = r.flows[0];
  if (flow) {
    flow.id = `${flow.id}${svg}`;
    flow.destination = `${script}${flow.destination}`;
  }
  r.coverage.unshift({ item: `read ${img}`, status: 'undetermined', reason: `'quoted' & ${script}` });
  return r;
}

const missing = !existsSync(CHROMIUM);

if (missing && process.env.CI) {
  t.fail(`${CHROMIUM} is missing: the HTML report test needs Debian's chromium package (.ci/run installs it with apt-get install -y --no-install-recommends chromium).`);
} else {
  t.test('the HTML report in headless Chromium', { skip: missing ? `${CHROMIUM} is not installed (CI installs it)` : false }, async (t) => {
    t.comment(NO_NETWORK ? 'Chromium runs inside unshare -rn: no network at all' : 'unshare -rn unavailable: Chromium runs with its background networking turned off');
    const report = await scenarioReport(t, 'zone-not-linked-hub-spoke');
    const top = report.findings[0];
    if (!top) throw new Error('the scenario should report a finding');
    const dir = await mkdtemp(join(tmpdir(), 'aml-netdoctor-html-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const page = join(dir, 'report.html');
    await writeFile(page, renderHtml(report));
    const attack = join(dir, 'hostile.html');
    await writeFile(attack, renderHtml(hostile(report)));

    await t.test('the real report: verdict, top finding, every section, the script ran', async (t) => {
      const dom = await dumpDom(t, page);
      t.match(htmlTag(dom), 'data-ready="1"', "the page's inline script ran under its CSP");
      const verdict = element(dom, 'section', 'verdict');
      t.match(verdict, `data-status="${report.verdict.status}"`);
      t.match(text(verdict), VERDICT_LABEL[report.verdict.status], 'the status in words');
      t.match(text(verdict), report.verdict.summary.slice(0, 80), 'the summary');
      const finding = text(element(dom, 'article', 'finding-1'));
      t.match(finding, top.code);
      t.match(finding, top.title);
      t.match(finding, top.resourceId, 'the blamed resource');
      t.equal(dom.match(/<article\b/g)?.length, report.findings.length, 'one article per finding');
      t.equal(dom.match(/<tr class="flow /g)?.length, report.flows.length, 'one row per flow');
      const blocked = report.flows.filter((f) => f.verdict === 'blocked');
      t.ok(blocked.length > 0, 'the scenario has blocked flows');
      const marks = blocked.length + report.flows.flatMap((f) => f.hops).filter((h) => h.verdict === 'blocked').length;
      t.equal(text(element(dom, 'section', 'flows')).match(/✖ BLOCKED/g)?.length ?? 0, marks, 'each blocked flow and each blocking hop say BLOCKED in words');
      const order = ['report-header', 'verdict', 'findings', 'flows', 'coverage'].map((id) => dom.search(new RegExp(`\\bid="${id}"`)));
      t.ok(order.every((i, n) => i > (order[n - 1] ?? -1)), 'sections in order');
      const blocks = dom.match(/<div class="code-block">/g)?.length ?? 0;
      t.ok(blocks > 0, 'commands in code blocks');
      t.equal(dom.match(/<button type="button">Copy<\/button>/g)?.length, blocks, 'a copy button on each');
    });

    await t.test('hostile names stay text: nothing injected runs or becomes an element', async (t) => {
      const dom = await dumpDom(t, attack);
      t.match(htmlTag(dom), 'data-ready="1"', 'our script ran, so an injected one could have');
      t.notMatch(htmlTag(dom), 'data-pwned', 'no injected script or handler ran');
      t.equal(dom.match(/<script\b/g)?.length, 1, "only the page's own script element");
      t.notMatch(dom, /<(img|svg)\b/, 'no element created from a name');
      t.match(text(/<h1>[\s\S]*?<\/h1>/.exec(dom)?.[0] ?? ''), `ws ${PAYLOADS[0]}`, 'the workspace name reads as typed');
      t.match(text(element(dom, 'article', 'finding-1')), `${PAYLOADS[0]} ${top.title}`);
      t.match(text(element(dom, 'section', 'coverage')), `'quoted' & ${PAYLOADS[0]}`);
    });

    await t.test('a screenshot renders', async (t) => {
      const png = join(dir, 'report.png');
      const run = await chromium(t, page, [`--window-size=${WINDOW.width},${WINDOW.height}`, `--screenshot=${png}`]);
      t.notOk(run.timedOut, `Chromium finished within ${TIMEOUT_MS / 1000} s`);
      t.equal(run.code, 0, 'Chromium exited cleanly');
      const size = (await stat(png)).size;
      // A blank page of this size is about 12 kB; this one is text and tables from top to bottom.
      t.ok(size > 40_000, `a PNG of ${size} bytes (> 5 kB, and more than a blank page)`);
      const bytes = await readFile(png);
      t.same([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
      t.same([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [WINDOW.width, WINDOW.height], 'the window size');
    });
  });
}
