import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationMillisV, durationSecondsV, formatGoDuration, formatGoFloat, parseGoDuration } from '../../src/calico/duration.ts';

const fmt = (s: string): string => formatGoDuration(parseGoDuration(s) ?? assert.fail(s));

test('durations print as Go time.Duration.String()', () => {
  assert.equal(fmt('120s'), '2m0s');
  assert.equal(fmt('3600s'), '1h0m0s');
  assert.equal(fmt('10s'), '10s');
  assert.equal(fmt('1.5s'), '1.5s');
  assert.equal(fmt('100ms'), '100ms');
  assert.equal(fmt('1500us'), '1.5ms');
  assert.equal(fmt('1µs'), '1µs');
  assert.equal(fmt('7ns'), '7ns');
  assert.equal(fmt('0'), '0s');
  assert.equal(fmt('-90s'), '-1m30s');
  assert.equal(fmt('1h2m3.000000004s'), '1h2m3.000000004s');
});

test('Go rejects what it rejects', () => {
  for (const bad of ['', '10', 's', '1x', '.s', '1.2.3s', '99999999999h']) assert.equal(parseGoDuration(bad), undefined, bad);
});

test('config durations are seconds or milliseconds printed with %v', () => {
  assert.equal(durationSecondsV(parseGoDuration('90s') ?? 0n), '90');
  assert.equal(durationSecondsV(parseGoDuration('100ms') ?? 0n), '0.1');
  assert.equal(durationMillisV(parseGoDuration('54.321ms') ?? 0n), '54.321');
});

test('%v of a float switches to exponent form at 1e6 and below 1e-4', () => {
  assert.equal(formatGoFloat(123456), '123456');
  assert.equal(formatGoFloat(1e6), '1e+06');
  assert.equal(formatGoFloat(1234567), '1.234567e+06');
  assert.equal(formatGoFloat(0.0001), '0.0001');
  assert.equal(formatGoFloat(0.00001), '1e-05');
  assert.equal(formatGoFloat(1e21), '1e+21');
});

// Vectors worked out from Go 1.16 time.ParseDuration / leadingFraction, the Go Typha v3.20 uses.
test('a fraction is added through float64 as Go adds it, so nineteen 9s after 1. round up to 2s', () => {
  // leadingFraction keeps 18 digits (value 999999999999999999, scale 1e18); float64 rounds the
  // value to 1e18, and int64(1e18 * (1e9 / 1e18)) is 1e9 ns.
  assert.equal(fmt('1.9999999999999999999s'), '2s');
  assert.equal(fmt('1.0000000001s'), '1s');
  assert.equal(fmt('0.5h'), '30m0s');
});

test('the unit is everything up to the next digit or dot, and must be one Go knows', () => {
  for (const bad of ['1sec', '1mss', '1hm', '1e3s', '1.s.', '1 s', '5S']) assert.equal(parseGoDuration(bad), undefined, bad);
  assert.equal(fmt('1.s'), '1s');
  assert.equal(fmt('.5s'), '500ms');
  assert.equal(fmt('+1m1s'), '1m1s');
});

test('a part or a sum beyond int64 nanoseconds is rejected, even as the most negative value', () => {
  assert.equal(parseGoDuration('9223372036854775807ns'), 9223372036854775807n);
  assert.equal(parseGoDuration('9223372036854775808ns'), undefined);
  assert.equal(parseGoDuration('-9223372036854775808ns'), undefined);
  assert.equal(parseGoDuration('2562047h47m16.854775807s'), 9223372036854775807n);
  assert.equal(parseGoDuration('2562047h47m16.854775808s'), undefined);
});
