// Fails fast, with a useful message, when the project's own Node.js 24 is not the one running.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`aml-netdoctor needs Node.js >= 24 (running ${process.versions.node}). Run it through npm (npm test, npm start), which puts the project's Node.js 24 first on PATH.`);
  process.exit(2);
}
