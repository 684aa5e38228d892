/** Unit tests of the connection-level guards: the inbound token bucket, per-source accounting, duplicate hellos and the rejection log. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectionSources, peerText, sourceOf } from '../../src/server/connectionSources.ts';
import { DuplicateHellos } from '../../src/server/duplicateHellos.ts';
import { InboundRate } from '../../src/server/inboundRate.ts';
import { RejectionLog } from '../../src/server/rejectionLog.ts';
import { captureLogs } from '../support/logCapture.ts';
import { ManualClock } from '../support/manualClock.ts';

describe('inbound rate', () => {
  test('a burst is allowed, then frames pass only at the refill rate', () => {
    const clock = new ManualClock();
    const rate = new InboundRate(10, 5, clock);
    for (let i = 0; i < 5; i++) assert.equal(rate.take(), true, `burst frame ${i}`);
    assert.equal(rate.take(), false, 'the sixth frame at once is over the rate');
    clock.advance(100);
    assert.equal(rate.take(), true, 'one token refilled after 100 ms at 10/s');
    assert.equal(rate.take(), false);
    clock.advance(60_000);
    for (let i = 0; i < 5; i++) assert.equal(rate.take(), true);
    assert.equal(rate.take(), false, 'a long quiet spell refills only up to the burst');
  });

  test('a client answering one ping every 10 s never comes near the default bound', () => {
    const clock = new ManualClock();
    const rate = new InboundRate(10, 100, clock);
    for (let i = 0; i < 10_000; i++) {
      assert.equal(rate.take(), true);
      clock.advance(10_000);
    }
  });
});

describe('connection sources', () => {
  const member = (source: string, id: number) => ({ source, id });

  test('IPv4-mapped IPv6 peers count as their IPv4 source, and peers print with brackets for IPv6', () => {
    assert.equal(sourceOf('::ffff:10.0.0.7'), '10.0.0.7');
    assert.equal(sourceOf('fd00::1'), 'fd00::1');
    assert.equal(sourceOf(undefined), 'unknown');
    assert.equal(peerText('10.0.0.7', 5000), '10.0.0.7:5000');
    assert.equal(peerText('fd00::1', 5000), '[fd00::1]:5000');
  });

  test('the victim always comes from a source over its share while one exists, else from anyone', () => {
    const sources = new ConnectionSources<{ source: string; id: number }>();
    const hog = Array.from({ length: 6 }, (_, i) => member('10.0.0.99', i));
    const agents = Array.from({ length: 50 }, (_, i) => member(`10.0.1.${i}`, 100 + i));
    const members = new Set([...agents, ...hog]);
    for (const m of members) sources.add(m);
    assert.equal(sources.count('10.0.0.99'), 6);
    for (let i = 0; i < 100; i++) {
      const r = i / 100;
      assert.equal(sources.pickVictim(members, 3, () => r)?.source, '10.0.0.99', `random ${r}`);
    }
    for (const m of hog.slice(0, 3)) {
      sources.remove(m);
      members.delete(m);
    }
    const picked = new Set<string>();
    for (let i = 0; i < 53; i++) picked.add(sources.pickVictim(members, 3, () => i / 53)!.source);
    assert.equal(picked.size, 51, 'with nobody over the share, every connection can be picked');
  });
});

describe('duplicate hellos', () => {
  const claimant = (hostname: string | undefined, syncerType = 'felix') => ({ hostname, syncerType });

  test('each claim returns the live sessions already claiming its hostname and syncer type, and released ones stop counting', () => {
    const hellos = new DuplicateHellos<ReturnType<typeof claimant>>();
    const [a, b, c] = [claimant('node-1'), claimant('node-1'), claimant('node-1')];
    const other = claimant('node-1', 'bgp');
    assert.deepEqual(hellos.claim(a), []);
    assert.deepEqual(hellos.claim(other), [], 'another syncer type is another identity');
    assert.deepEqual(hellos.claim(b), [a]);
    assert.deepEqual(hellos.claim(claimant('node-1', 'bgp')), [other]);
    assert.deepEqual(hellos.claim(c), [a, b]);
    hellos.release(a);
    hellos.release(b);
    const d = claimant('node-1');
    assert.deepEqual(hellos.claim(d), [c]);
    hellos.release(c);
    hellos.release(d);
    hellos.release(d);
    assert.deepEqual(hellos.claim(claimant('node-1')), [], 'nothing left once every claimant is released');
    assert.deepEqual(hellos.claim(claimant(undefined)), [], 'a session without a hello claims nothing');
  });
});

describe('rejection log', () => {
  test('a flood is one full line, then one summary line per interval with counts, sources and samples', () => {
    const clock = new ManualClock();
    const { logger, lines } = captureLogs();
    const log = new RejectionLog(logger, clock, 10_000);
    log.record({ kind: 'tls-handshake', peer: '10.0.0.1:1000', detail: 'wrong version number' });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.peer, '10.0.0.1:1000');
    for (let second = 0; second < 40; second++) {
      for (let i = 0; i < 170; i++) log.record({ kind: i % 2 === 0 ? 'tls-handshake' : 'certificate', peer: `10.0.0.${i % 7}:${2000 + i}`, detail: 'x' });
      clock.advance(1000);
    }
    log.close();
    // 6,800 rejections in 40 s: the first line and four summaries.
    assert.equal(lines.length, 5, JSON.stringify(lines.map((l) => l.msg)));
    const summaries = lines.slice(1);
    assert.equal(summaries.reduce((s, l) => s + (l.total as number), 0), 6800);
    assert.deepEqual(summaries[0]!.counts, { 'tls-handshake': 850, certificate: 850 });
    assert.equal(summaries[0]!.sources, 7);
    assert.equal((summaries[0]!.samples as unknown[]).length, 5);
  });

  test('after a quiet interval the next rejection is logged in full again', () => {
    const clock = new ManualClock();
    const { logger, lines } = captureLogs();
    const log = new RejectionLog(logger, clock, 1000);
    log.record({ kind: 'certificate', peer: 'a:1', detail: 'no client certificate' });
    clock.advance(5000);
    log.record({ kind: 'certificate', peer: 'b:2', detail: 'no client certificate' });
    assert.deepEqual(lines.map((l) => l.peer), ['a:1', 'b:2']);
    assert.ok(lines.every((l) => l.msg === 'refused a client certificate'));
  });
});
