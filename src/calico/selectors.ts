/**
 * Calico's label-selector language, re-implemented from libcalico-go `lib/selector/tokenizer`
 * and `lib/selector/parser` (e9d17133): a tokenizer and parser that accept exactly what Go's
 * accept, a printer that gives the text Go's `Selector.String()` gives (Calico re-serialises
 * namespace and service-account selectors, so the bytes must match), label prefixing, and the
 * conversion of Kubernetes label selectors into Calico selectors.
 *
 * Grammar: or := and ('||' and)*; and := op ('&&' op)*;
 * op := '!'* ( '(' or ')' | 'all()' | 'global()' | 'has(' label ')' | label cmp );
 * cmp := ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
 *      | ('in' | 'not in') '{' [string (',' string)* [',']] '}'.
 * A run of `!` collapses to its parity, as Go's parseOperation does: `!!a` is `a`.
 */
import { ValidationError, isObject, list, str } from './fields.ts';

type SelectorNode =
  | { readonly op: 'all' | 'global' }
  | { readonly op: 'has'; readonly label: string }
  | { readonly op: '==' | '!=' | 'contains' | 'starts with' | 'ends with'; readonly label: string; readonly value: string }
  | { readonly op: 'in' | 'not in'; readonly label: string; readonly values: readonly string[] }
  | { readonly op: '!'; readonly operand: SelectorNode }
  | { readonly op: '&&' | '||'; readonly operands: readonly SelectorNode[] };

type Token =
  | { readonly kind: 'label' | 'string' | 'has'; readonly value: string }
  | { readonly kind: '(' | ')' | '{' | '}' | ',' | '==' | '!=' | '!' | '&&' | '||' | 'in' | 'not in'
      | 'contains' | 'starts with' | 'ends with' | 'all' | 'global' | 'eof' };

type CompareOp = '==' | '!=' | 'contains' | 'starts with' | 'ends with';
const COMPARE_OPS: ReadonlySet<string> = new Set<CompareOp>(['==', '!=', 'contains', 'starts with', 'ends with']);

// Go's RE2 `\s` is [\t\n\f\r ] and `\b` is an ASCII word boundary; spelled out so that
// JavaScript's wider Unicode `\s` does not accept what Go rejects.
const GO_SPACE = '[\\t\\n\\f\\r ]';
const LABEL = '[a-zA-Z0-9_./-]{1,512}';
const IDENTIFIER = new RegExp(`^${LABEL}`);
const HAS = new RegExp(`^has\\(${GO_SPACE}*(${LABEL})${GO_SPACE}*\\)`);
const ALL = new RegExp(`^all\\(${GO_SPACE}*\\)`);
const GLOBAL = new RegExp(`^global\\(${GO_SPACE}*\\)`);
/** Operators Go's tokenizer looks for only right after a label, in this order. */
const AFTER_LABEL: readonly [RegExp, Token['kind']][] = [
  [/^contains/, 'contains'],
  [new RegExp(`^starts${GO_SPACE}*with`), 'starts with'],
  [new RegExp(`^ends${GO_SPACE}*with`), 'ends with'],
  [new RegExp(`^not${GO_SPACE}*in\\b`), 'not in'],
  [/^in\b/, 'in'],
];
const SIMPLE: Readonly<Record<string, Token['kind']>> = { '(': '(', ')': ')', '{': '{', '}': '}', ',': ',' };

function fail(text: string, why: string): never {
  throw new ValidationError(`invalid selector ${JSON.stringify(text)}: ${why}`);
}

/** Go's `tokenizer.Tokenize`: only spaces and tabs separate tokens; strings have no escapes. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let rest = text;
  for (;;) {
    rest = rest.replace(/^[ \t]+/, '');
    if (rest === '') {
      tokens.push({ kind: 'eof' });
      return tokens;
    }
    const c = rest[0] as string;
    const simple = SIMPLE[c];
    if (simple !== undefined) {
      tokens.push({ kind: simple } as Token);
      rest = rest.slice(1);
    } else if (c === '"' || c === "'") {
      const end = rest.indexOf(c, 1);
      if (end < 0) fail(text, 'unterminated string');
      tokens.push({ kind: 'string', value: rest.slice(1, end) });
      rest = rest.slice(end + 1);
    } else if (c === '=' || c === '&' || c === '|') {
      if (rest[1] !== c) fail(text, `expected ${c}${c}`);
      tokens.push({ kind: c === '=' ? '==' : c === '&' ? '&&' : '||' });
      rest = rest.slice(2);
    } else if (c === '!') {
      const ne = rest[1] === '=';
      tokens.push({ kind: ne ? '!=' : '!' });
      rest = rest.slice(ne ? 2 : 1);
    } else if (tokens[tokens.length - 1]?.kind === 'label') {
      const found = AFTER_LABEL.find(([re]) => re.test(rest));
      if (!found) fail(text, 'expected an operator after a label');
      tokens.push({ kind: found[1] } as Token);
      rest = rest.slice((found[0].exec(rest) as RegExpExecArray)[0].length);
    } else {
      const has = HAS.exec(rest);
      const all = has ? null : ALL.exec(rest);
      const global = has || all ? null : GLOBAL.exec(rest);
      const label = has || all || global ? null : IDENTIFIER.exec(rest);
      if (has) tokens.push({ kind: 'has', value: has[1] as string });
      else if (all) tokens.push({ kind: 'all' });
      else if (global) tokens.push({ kind: 'global' });
      else if (label) tokens.push({ kind: 'label', value: label[0] });
      else fail(text, 'unexpected characters');
      rest = rest.slice(((has ?? all ?? global ?? label) as RegExpExecArray)[0].length);
    }
  }
}

/**
 * Parentheses deeper than this are refused. Go's parser has no bound (its stack grows to 1 GB);
 * here the JavaScript stack ran out somewhere between 5,000 and 20,000 levels depending on JIT
 * state, so the same selector was valid or not from one run to the next. Real selectors nest a
 * few levels.
 */
const MAX_SELECTOR_DEPTH = 1000;

/** Go's recursive-descent parser over the token list (which always ends with `eof`). */
class Parser {
  private pos = 0;
  private depth = 0;
  private readonly text: string;
  private readonly tokens: readonly Token[];
  constructor(text: string) {
    this.text = text;
    this.tokens = tokenize(text);
  }

  parse(): SelectorNode {
    if (this.peek().kind === 'eof') return { op: 'all' };
    const node = this.parseOr();
    if (this.peek().kind !== 'eof') fail(this.text, 'unexpected content at the end');
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)] as Token;
  }

  private parseOr(): SelectorNode {
    const operands = [this.parseAnd()];
    while (this.peek().kind === '||') {
      this.pos++;
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? (operands[0] as SelectorNode) : { op: '||', operands };
  }

  private parseAnd(): SelectorNode {
    const operands = [this.parseOperation()];
    while (this.peek().kind === '&&') {
      this.pos++;
      operands.push(this.parseOperation());
    }
    return operands.length === 1 ? (operands[0] as SelectorNode) : { op: '&&', operands };
  }

  private parseOperation(): SelectorNode {
    let negated = false;
    while (this.peek().kind === '!') {
      negated = !negated;
      this.pos++;
    }
    const node = this.parseTerm();
    return negated ? { op: '!', operand: node } : node;
  }

  private parseTerm(): SelectorNode {
    const token = this.peek();
    this.pos++;
    switch (token.kind) {
      case 'has': return { op: 'has', label: token.value };
      case 'all': return { op: 'all' };
      case 'global': return { op: 'global' };
      case '(': {
        if (++this.depth > MAX_SELECTOR_DEPTH) fail(this.text.slice(0, 100), `parentheses nested deeper than ${MAX_SELECTOR_DEPTH} levels`);
        const inner = this.parseOr();
        this.depth--;
        if (this.peek().kind !== ')') fail(this.text, 'expected ")"');
        this.pos++;
        return inner;
      }
      case 'label': return this.parseComparison(token.value);
      default: return fail(this.text, `unexpected token ${token.kind}`);
    }
  }

  private parseComparison(label: string): SelectorNode {
    const op = this.peek().kind;
    this.pos++;
    if (COMPARE_OPS.has(op)) {
      const value = this.peek();
      if (value.kind !== 'string') fail(this.text, 'expected a quoted string');
      this.pos++;
      return { op: op as CompareOp, label, value: value.value };
    }
    if (op !== 'in' && op !== 'not in') return fail(this.text, 'expected an operator');
    if (this.peek().kind !== '{') fail(this.text, 'expected a set literal');
    this.pos++;
    const values: string[] = [];
    for (let t = this.peek(); t.kind === 'string'; t = this.peek()) {
      values.push(t.value);
      this.pos++;
      if (this.peek().kind !== ',') break;
      this.pos++;
    }
    if (this.peek().kind !== '}') fail(this.text, 'expected "}"');
    this.pos++;
    return { op, label, values: stringSet(values) };
  }
}

/** Go's `ConvertToStringSetInPlace`: sorted by bytes (`sort.Strings`), duplicates removed. */
function stringSet(values: readonly string[]): string[] {
  const sorted = [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

/** Parses a selector; throws {@link ValidationError} when it is not valid. An empty selector is `all()`. */
export function parseSelector(text: string): SelectorNode {
  return new Parser(text).parse();
}

export function validateSelector(text: string | undefined, what: string): void {
  if (text === undefined || text === '') return;
  try {
    parseSelector(text);
  } catch (err) {
    throw new ValidationError(`${what}: ${(err as Error).message}`);
  }
}

function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

/** The canonical text Go's selector printer produces. */
export function printSelector(node: SelectorNode): string {
  switch (node.op) {
    case 'all': return 'all()';
    case 'global': return 'global()';
    case 'has': return `has(${node.label})`;
    case '==': case '!=': case 'contains': case 'starts with': case 'ends with':
      return `${node.label} ${node.op} ${quote(node.value)}`;
    case 'in': case 'not in': {
      const values = node.values.map(quote).join(', ');
      return `${node.label} ${node.op} {${values}}`;
    }
    case '!': return `!${printSelector(node.operand)}`;
    case '&&': case '||': return `(${node.operands.map(printSelector).join(` ${node.op} `)})`;
  }
}

function prefixLabels(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.op) {
    case 'all': case 'global': return node;
    case '!': return { op: '!', operand: prefixLabels(node.operand, prefix) };
    case '&&': case '||': return { op: node.op, operands: node.operands.map((n) => prefixLabels(n, prefix)) };
    default: return { ...node, label: prefix + node.label };
  }
}

/** Calico's `parseSelectorAttachPrefix`: parse, prefix every label, print canonically. */
export function attachPrefix(selector: string, prefix: string): string {
  return printSelector(prefixLabels(parseSelector(selector), prefix));
}

/**
 * A Kubernetes LabelSelector as Calico's k8s conversion writes it (`k8sSelectorToCalico` in
 * `lib/backend/k8s/conversion/conversion.go`). The pod flavour always starts with the
 * orchestrator term; the namespace flavour maps a selector with no terms at all to `all()` and
 * an absent selector to `''`. Values keep the single quotes Calico writes (these strings are
 * copied into the v1 policy verbatim, never re-printed). An operator Go does not know adds no
 * term, as Go's switch has no default (the API server never admits one).
 */
export function k8sSelectorToCalico(selector: unknown, flavour: 'pod' | 'namespace'): string {
  const terms: string[] = [];
  if (flavour === 'pod') terms.push("projectcalico.org/orchestrator == 'k8s'");
  if (!isObject(selector)) return flavour === 'pod' ? terms.join(' && ') : '';
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  const matchExpressions = list(selector.matchExpressions) ?? [];
  if (flavour === 'namespace' && Object.keys(matchLabels).length === 0 && matchExpressions.length === 0) return 'all()';
  for (const key of Object.keys(matchLabels).sort()) {
    terms.push(`${key} == '${String(matchLabels[key])}'`);
  }
  for (const expr of matchExpressions) {
    if (!isObject(expr)) continue;
    const key = str(expr.key) ?? '';
    const values = (list(expr.values) ?? []).map(String);
    const set = `{ '${values.join("', '")}' }`;
    switch (str(expr.operator)) {
      case 'In': terms.push(`${key} in ${set}`); break;
      case 'NotIn': terms.push(`${key} not in ${set}`); break;
      case 'Exists': terms.push(`has(${key})`); break;
      case 'DoesNotExist': terms.push(`! has(${key})`); break;
    }
  }
  return terms.join(' && ');
}
