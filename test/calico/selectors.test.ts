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

// Golden vectors for class 5 of issue 12. Each expected text is worked out by hand from
// libcalico-go e9d17133: lib/selector/tokenizer/tokenizer.go (Tokenize) for what is accepted,
// lib/selector/parser/parser.go (parseOperation, parseAndExpression, parseOrExpression) for the
// tree, and lib/selector/parser/ast.go (collectFragments, appendLabelOpAndQuotedString,
// collectInOpFragments) plus stringset.go (ConvertToStringSetInPlace) for the printed text.

test('a run of leading ! collapses to its parity, as parseOperation counts it', () => {
  assert.equal(canonical("!!tier == 'web'"), 'tier == "web"');
  assert.equal(canonical('!!!has(tier)'), '!has(tier)');
  assert.equal(canonical("! ! ( tier == 'web' || tier == 'db' )"), '(tier == "web" || tier == "db")');
  assert.equal(canonical("!\t!\t!(tier == 'web' && zone != 'b')"), '!(tier == "web" && zone != "b")');
  assert.equal(canonical("!!!!all()"), 'all()');
  assert.equal(canonical("has(a) && !!has(b) && !!!has(c)"), '(has(a) && has(b) && !has(c))');
  assert.equal(attachPrefix('!!has(owner)', 'pcns.'), 'has(pcns.owner)');
});

test('a negated parenthesised comparison prints without parentheses, as NotNode does', () => {
  assert.equal(canonical("!(tier == 'web')"), '!tier == "web"');
  assert.equal(canonical("!(a in {'x'})"), '!a in {"x"}');
});

test('&& binds tighter than || and every And/Or node prints in its own parentheses', () => {
  assert.equal(canonical("a == '1' || b == '2' && c == '3'"), '(a == "1" || (b == "2" && c == "3"))');
  assert.equal(canonical("(a == '1' && b == '2') && c == '3'"), '((a == "1" && b == "2") && c == "3")');
  assert.equal(canonical("((a == '1'))"), 'a == "1"');
  assert.equal(canonical("a == '1' || (b == '2' || c == '3')"), '(a == "1" || (b == "2" || c == "3"))');
});

test('has(), all() and global() allow whitespace inside their parentheses, as the tokenizer regexes do', () => {
  assert.equal(canonical('has(  app.kubernetes.io/name\t)'), 'has(app.kubernetes.io/name)');
  assert.equal(canonical('all( )'), 'all()');
  assert.equal(canonical('global(\t)'), 'global()');
  assert.equal(canonical(" \t "), 'all()');
});

test('multi-word operators need no space between their words, and in needs a word boundary', () => {
  assert.equal(canonical("os notin {'windows'}"), 'os not in {"windows"}');
  assert.equal(canonical("os not \t in{'windows'}"), 'os not in {"windows"}');
  assert.equal(canonical("name startswith 'kube-'"), 'name starts with "kube-"');
  assert.equal(canonical("name endswith'-0'"), 'name ends with "-0"');
  assert.equal(canonical("name contains'x'"), 'name contains "x"');
  assert.throws(() => parseSelector("os inside {'a'}"), /invalid selector/);
});

test('sets accept a trailing comma, drop duplicates and sort by bytes as sort.Strings does', () => {
  assert.equal(canonical("k in {'b', 'a',}"), 'k in {"a", "b"}');
  assert.equal(canonical('k in {}'), 'k in {}');
  assert.equal(canonical("k in {'z', 'Z', 'é', 'z'}"), 'k in {"Z", "z", "é"}');
  // U+FF01 is EF BC 81 in UTF-8 and sorts before U+1F600 (F0 9F 98 80); UTF-16 order is the reverse.
  assert.equal(canonical("k in {'\u{1F600}', '\uFF01'}"), 'k in {"\uFF01", "\u{1F600}"}');
  assert.throws(() => parseSelector("k in {,}"), /invalid selector/);
  assert.throws(() => parseSelector("k in {'a' 'b'}"), /invalid selector/);
});

test('values are printed in double quotes unless they hold one; there are no escapes', () => {
  assert.equal(canonical(`msg == "it's"`), `msg == "it's"`);
  assert.equal(canonical(`msg == 'say "hi"'`), `msg == 'say "hi"'`);
  assert.equal(canonical(`k in {'a"b', "c'd"}`), `k in {'a"b', "c'd"}`);
});

test('only spaces and tabs separate tokens: a newline or another Unicode space is rejected', () => {
  assert.equal(canonical("a\t==\t'b'"), 'a == "b"');
  for (const bad of ["a == 'b'\n", "a ==\r'b'", "a\u00a0== 'b'", "a == 'b' \u2003"]) {
    assert.throws(() => parseSelector(bad), /invalid selector/, JSON.stringify(bad));
  }
});

test('a label is at most 512 characters and an operator must follow it', () => {
  assert.equal(canonical(`has(${'x'.repeat(512)})`), `has(${'x'.repeat(512)})`);
  assert.throws(() => parseSelector(`${'x'.repeat(513)} == 'a'`), /invalid selector/);
  assert.throws(() => parseSelector('a b'), /invalid selector/);
  assert.throws(() => parseSelector('!'), /invalid selector/);
  assert.throws(() => parseSelector('a = = "b"'), /invalid selector/);
});

test('a Kubernetes namespace selector whose only expression has an unknown operator selects no term', () => {
  // Go's k8sSelectorToCalico checks for no terms before converting, and its switch has no default.
  assert.equal(k8sSelectorToCalico({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, 'namespace'), '');
  assert.equal(k8sSelectorToCalico({ matchExpressions: [{ key: 'a', operator: 'Gt' }, { key: 'b', operator: 'Exists' }] }, 'pod'),
    "projectcalico.org/orchestrator == 'k8s' && has(b)");
});

test('parentheses nest up to 1,000 levels; deeper is refused with a clear reason, the same way every time (Go has no bound; the stack gave way at a JIT-dependent depth)', () => {
  const nested = (n: number) => `${'('.repeat(n)}a == "b"${')'.repeat(n)}`;
  assert.equal(printSelector(parseSelector(nested(1000))), 'a == "b"');
  assert.equal(attachPrefix(nested(1000), 'p/'), 'p/a == "b"');
  for (const n of [1001, 5000, 10_000, 20_000, 5000]) {
    assert.throws(() => validateSelector(nested(n), 'spec.selector'), /^ValidationError: spec\.selector: invalid selector "\(+": parentheses nested deeper than 1000 levels$/, String(n));
  }
});
