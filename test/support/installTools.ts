/**
 * Run by `npm test` before anything else (the `pretest` script): installs, once and before the
 * test files run in parallel, the Debian packages whose real binaries the suite drives, so two
 * test processes never race for the dpkg lock and a fresh machine needs no manual step.
 */
import { ensureSystemTools, type SystemTool } from './systemPackages.ts';

export const TEST_TOOLS: readonly SystemTool[] = [
  { command: 'prometheus', aptPackage: 'prometheus' },
  { command: 'promtool', aptPackage: 'prometheus' },
  // The etcd datastore's tests run a real etcd (3.4 in Debian).
  { command: 'etcd', aptPackage: 'etcd-server' },
  // The Go client (clients/go) is built and tested offline from Debian's packaged Go sources.
  { command: 'go', aptPackage: 'golang-go' },
  { command: 'gorilla/websocket', aptPackage: 'golang-github-gorilla-websocket-dev', file: '/usr/share/gocode/src/github.com/gorilla/websocket/go.mod' },
  { command: 'vmihailenco/msgpack/v5', aptPackage: 'golang-github-vmihailenco-msgpack.v5-dev', file: '/usr/share/gocode/src/github.com/vmihailenco/msgpack/v5/go.mod' },
  { command: 'klauspost/compress', aptPackage: 'golang-github-klauspost-compress-dev', file: '/usr/share/gocode/src/github.com/klauspost/compress/go.mod' },
];

const problems = ensureSystemTools(TEST_TOOLS);
for (const p of problems) console.error(`pretest: ${p}`);
// The suite still runs: the tests that need a missing tool fail and name it, nothing is skipped.
