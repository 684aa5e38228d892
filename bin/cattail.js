#!/usr/bin/env node
// Cattail's command: checks the Node version, then runs src/main.ts. Written in plain
// JavaScript that any Node parses, so an older Node says what it needs in one line instead of
// failing on the .ts extension. Under npm (npm start, npm run cattail) `node` is the Node 24
// that `npm ci` installs from the pinned devDependency.
const NEEDED = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NEEDED) {
  process.stderr.write(`cattail: needs Node.js ${NEEDED} or newer, but this is Node.js ${process.versions.node} (${process.execPath}); after npm ci, run it with npm start or npm run cattail -- [options], which use the pinned Node ${NEEDED}\n`);
  process.exit(1);
}
const { runCli } = await import('../src/main.ts');
await runCli(process.argv.slice(2));
