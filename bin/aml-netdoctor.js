#!/usr/bin/env node
// Entry point: checks the Node.js version, then runs the TypeScript CLI through Node's type stripping.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`aml-netdoctor needs Node.js 24 or newer (this is ${process.versions.node}). Run it with npx or npm scripts in the project, which use the project's Node.js 24.\n`);
  process.exit(2);
}
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
