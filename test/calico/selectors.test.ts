import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachPrefix, k8sSelectorToCalico, parseSelector, printSelector, validateSelector } from '../../src/calico/selectors.ts';

const canonical = (s: string): string => printSelector(parseSelector(s));

test('selectors print in the canonical Go form', () => {
  assert.equal(canonical("a == 'b'"), 'a == "b"');
  assert.equal(canonical('a == \'say "hi"\''), 'a == \'say "hi"\'');
  assert.equal(canonical("a != 'b' && has(c) || !has(d)"), '((a != "b" && has(c)) || !has(d))');
  assert.equal(canonical("x in { 'b', 'a', 'b' }"), 'x in {"a", "b"}');
  assert.equal(canonical("x not in {}"), 'x not in {}');
  assert.equal(canonical('(a == "1")'), 'a == "1"');
  assert.equal(canonical("name contains 'x' && name starts  with 'a' && name ends with 'z'"), '(name contains "x" && name starts with "a" && name ends with "z")');
  assert.equal(canonical('all()'), 'all()');
  assert.equal(canonical(' global() '), 'global()');
  assert.equal(canonical(''), 'all()');
});

test('prefixing attaches to every label, including inside has()', () => {
  assert.equal(attachPrefix("role == 'development'", 'pcsa.'), 'pcsa.role == "development"');
  assert.equal(attachPrefix("has(a) && !(b in {'x'})", 'pcns.'), '(has(pcns.a) && !pcns.b in {"x"})');
  assert.equal(attachPrefix('all()', 'pcns.'), 'all()');
});

test('invalid selectors are rejected', () => {
  for (const bad of ['a ==', 'a = "b"', '(a == "b"', 'has(a', 'a in {"x"', '&& a == "b"', 'a == "b" extra', "a == 'unterminated"]) {
    assert.throws(() => validateSelector(bad, 'sel'), /sel: invalid selector/, bad);
  }
  assert.doesNotThrow(() => validateSelector(undefined, 'sel'));
});

test('Kubernetes label selectors become Calico selectors in both flavours', () => {
  assert.equal(k8sSelectorToCalico(undefined, 'pod'), "projectcalico.org/orchestrator == 'k8s'");
  assert.equal(k8sSelectorToCalico({}, 'namespace'), 'all()');
  assert.equal(k8sSelectorToCalico(undefined, 'namespace'), '');
  assert.equal(k8sSelectorToCalico({ matchLabels: { z: '1', a: '2' } }, 'namespace'), "a == '2' && z == '1'");
});
