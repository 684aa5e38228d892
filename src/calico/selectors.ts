/**
 * Calico's label-selector language: a parser that validates selectors, a printer that gives
 * the canonical form Go's `parser.Selector.String()` produces (Calico re-serialises namespace
 * and service-account selectors, so the bytes must match), label prefixing, and the conversion
 * of Kubernetes label selectors into Calico selectors.
 *
 * Grammar: or := and ('||' and)*; and := unary ('&&' unary)*;
 * unary := '!' unary | '(' or ')' | 'all()' | 'global()' | 'has(' label ')' | label op;
 * op := ('==' | '!=' | 'contains' | 'starts with' | 'ends with') string
 *     | ['not'] 'in' '{' [string (',' string)*] '}'.
 */
import { ValidationError, isObject, list, str } from './fields.ts';

type SelectorNode =
  | { readonly op: 'all' | 'global' }
  | { readonly op: 'has'; readonly label: string }
  | { readonly op: '==' | '!=' | 'contains' | 'starts with' | 'ends with'; readonly label: string; readonly value: string }
  | { readonly op: 'in' | 'not in'; readonly label: string; readonly values: readonly string[] }
  | { readonly op: '!'; readonly operand: SelectorNode }
  | { readonly op: '&&' | '||'; readonly operands: readonly SelectorNode[] };

const LABEL = /^[a-zA-Z0-9_./-]{1,512}/;

class Parser {
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  parse(): SelectorNode {
    this.skipSpace();
    if (this.pos === this.text.length) return { op: 'all' };
    const node = this.parseOr();
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text');
    return node;
  }

  private fail(why: string): never {
    throw new ValidationError(`invalid selector ${JSON.stringify(this.text)}: ${why} at offset ${this.pos}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }

  private accept(token: string, wordBoundary = false): boolean {
    this.skipSpace();
    if (!this.text.startsWith(token, this.pos)) return false;
    if (wordBoundary && /[a-zA-Z0-9_./-]/.test(this.text[this.pos + token.length] ?? '')) return false;
    this.pos += token.length;
    return true;
  }

  private parseOr(): SelectorNode {
    const operands = [this.parseAnd()];
    while (this.accept('||')) operands.push(this.parseAnd());
    return operands.length === 1 ? (operands[0] as SelectorNode) : { op: '||', operands };
  }

  private parseAnd(): SelectorNode {
    const operands = [this.parseUnary()];
    while (this.accept('&&')) operands.push(this.parseUnary());
    return operands.length === 1 ? (operands[0] as SelectorNode) : { op: '&&', operands };
  }

  private parseUnary(): SelectorNode {
    if (this.accept('!')) {
      if (this.text[this.pos] === '=') this.fail('unexpected "="');
      return { op: '!', operand: this.parseUnary() };
    }
    if (this.accept('(')) {
      const inner = this.parseOr();
      if (!this.accept(')')) this.fail('expected ")"');
      return inner;
    }
    if (this.accept('all()')) return { op: 'all' };
    if (this.accept('global()')) return { op: 'global' };
    if (this.accept('has(')) {
      const label = this.parseLabel();
      if (!this.accept(')')) this.fail('expected ")"');
      return { op: 'has', label };
    }
    const label = this.parseLabel();
    for (const op of ['==', '!=', 'contains', 'starts with', 'ends with'] as const) {
      if (this.acceptPhrase(op)) return { op, label, value: this.parseString() };
    }
    if (this.acceptPhrase('not in')) return { op: 'not in', label, values: this.parseSet() };
    if (this.acceptPhrase('in')) return { op: 'in', label, values: this.parseSet() };
    return this.fail('expected an operator');
  }

  /** Multi-word operators allow any whitespace between their words. */
  private acceptPhrase(phrase: string): boolean {
    const start = this.pos;
    const words = phrase.split(' ');
    for (const word of words) {
      const isWord = /^[a-z]+$/.test(word);
      if (!this.accept(word, isWord)) {
        this.pos = start;
        return false;
      }
    }
    return true;
  }

  private parseLabel(): string {
    this.skipSpace();
    const m = LABEL.exec(this.text.slice(this.pos));
    if (!m) return this.fail('expected a label');
    this.pos += m[0].length;
    return m[0];
  }

  private parseString(): string {
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") return this.fail('expected a quoted string');
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) return this.fail('unterminated string');
    const value = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return value;
  }

  private parseSet(): string[] {
    if (!this.accept('{')) this.fail('expected "{"');
    const values: string[] = [];
    if (this.accept('}')) return values;
    do values.push(this.parseString());
    while (this.accept(','));
    if (!this.accept('}')) this.fail('expected "}"');
    return values;
  }
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
      const values = [...new Set(node.values)].sort().map(quote).join(', ');
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
 * A Kubernetes LabelSelector as Calico's k8s conversion writes it. The pod flavour always
 * starts with the orchestrator term; the namespace flavour maps `{}` to `all()` and an absent
 * selector to `''`. Values keep the single quotes Calico writes (these strings are copied into
 * the v1 policy verbatim, never re-printed).
 */
export function k8sSelectorToCalico(selector: unknown, flavour: 'pod' | 'namespace'): string {
  const terms: string[] = [];
  if (flavour === 'pod') terms.push("projectcalico.org/orchestrator == 'k8s'");
  if (!isObject(selector)) return flavour === 'pod' ? terms.join(' && ') : '';
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  for (const key of Object.keys(matchLabels).sort()) {
    terms.push(`${key} == '${String(matchLabels[key])}'`);
  }
  for (const expr of list(selector.matchExpressions) ?? []) {
    if (!isObject(expr)) continue;
    const key = str(expr.key) ?? '';
    const values = (list(expr.values) ?? []).map(String);
    const set = `{ '${values.join("', '")}' }`;
    switch (str(expr.operator)) {
      case 'In': terms.push(`${key} in ${set}`); break;
      case 'NotIn': terms.push(`${key} not in ${set}`); break;
      case 'Exists': terms.push(`has(${key})`); break;
      case 'DoesNotExist': terms.push(`! has(${key})`); break;
      default: throw new ValidationError(`unknown label selector operator ${JSON.stringify(expr.operator)}`);
    }
  }
  if (flavour === 'namespace' && terms.length === 0) return 'all()';
  return terms.join(' && ');
}
