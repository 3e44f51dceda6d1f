/**
 * Builds the parse tree from tokens, following Go's text/template/parse grammar and its error
 * messages ("template: NAME:LINE: ..."). Variables are checked while parsing (as Go does), and
 * so are function names, against the names the caller will provide at execution.
 */
import type {
  ActionNode,
  ArgNode,
  CommandNode,
  ControlNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  VariableNode,
} from './ast.js';
import { nodeString } from './ast.js';
import { lex, tokenString, type Token, type TokenType } from './lexer.js';
import { goQuote, goUnquote } from './quote.js';

/** Markers for {{end}} and {{else}}: they close lists and never reach the tree. */
type Closer = { kind: 'end'; pos: number } | { kind: 'else'; pos: number };
type ListItem = Node | Closer;

const closerString = (c: Closer): string => `{{${c.kind}}}`;
const OPERAND_START = new Set<TokenType>([
  'bool',
  'charConstant',
  'dot',
  'field',
  'identifier',
  'number',
  'nil',
  'rawString',
  'string',
  'variable',
  'leftParen',
]);

export function parse(text: string, funcs: ReadonlySet<string>, name = ''): ListNode {
  return new Parser(text, funcs, name).parse();
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  /** Furthest token looked at: Go reports the line of the token it last read. */
  private seen = 0;
  private vars = ['$'];
  private rangeDepth = 0;

  constructor(
    text: string,
    private readonly funcs: ReadonlySet<string>,
    private readonly name: string,
  ) {
    this.tokens = lex(text);
  }

  parse(): ListNode {
    const root: ListNode = { kind: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') this.errorf(`unexpected ${closerString(n)}`);
      root.nodes.push(n);
    }
    return root;
  }

  private errorf(msg: string): never {
    throw new Error(`template: ${this.name}:${this.tokens[this.seen]?.line ?? 1}: ${msg}`);
  }

  private unexpected(t: Token, context: string): never {
    this.errorf(`unexpected ${tokenString(t)} in ${context}`);
  }

  private at(i: number): Token {
    const t = this.tokens[Math.min(i, this.tokens.length - 1)]!;
    this.seen = Math.max(this.seen, Math.min(i, this.tokens.length - 1));
    if (t.type === 'error') this.errorf(t.val);
    return t;
  }

  private next(): Token {
    return this.at(this.i++);
  }

  private peek(): Token {
    return this.at(this.i);
  }

  private backup(): void {
    this.i--;
  }

  private nextNonSpace(): Token {
    let t = this.next();
    while (t.type === 'space') t = this.next();
    return t;
  }

  private peekNonSpace(): Token {
    while (this.peek().type === 'space') this.i++;
    return this.peek();
  }

  private expect(type: TokenType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private itemList(): [ListNode, Closer] {
    const list: ListNode = { kind: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.kind === 'end' || n.kind === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): ListItem {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { kind: 'text', pos: t.pos, text: t.val };
    if (t.type === 'leftDelim') return this.action();
    this.unexpected(t, 'input');
  }

  private action(): ListItem {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'else':
          return this.elseControl();
        case 'end':
          return { kind: 'end', pos: this.expect('rightDelim', 'end').pos };
        case 'if':
        case 'with':
        case 'range':
          return this.control(t.val);
        case 'break':
        case 'continue': {
          const n = this.nextNonSpace();
          if (n.type !== 'rightDelim') this.unexpected(n, `{{${t.val}}}`);
          if (this.rangeDepth === 0) this.errorf(`{{${t.val}}} outside {{range}}`);
          return { kind: t.val, pos: t.pos };
        }
        default:
          // {{define}}, {{template}}, {{block}}: docker's --format has no named templates to call.
          this.errorf(`{{${t.val}}} is not supported`);
      }
    }
    this.backup();
    const action: ActionNode = { kind: 'action', pos: this.peek().pos, pipe: this.pipeline('command') };
    return action;
  }

  private elseControl(): Closer {
    const peek = this.peekNonSpace();
    // "{{else if ...}}" / "{{else with ...}}": leave the keyword for control() to pick up.
    if (peek.type === 'keyword' && (peek.val === 'if' || peek.val === 'with')) return { kind: 'else', pos: peek.pos };
    return { kind: 'else', pos: this.expect('rightDelim', 'else').pos };
  }

  private control(kind: 'if' | 'with' | 'range'): ControlNode {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(kind);
      if (kind === 'range') this.rangeDepth++;
      const [list, closer] = this.itemList();
      if (kind === 'range') this.rangeDepth--;
      let elseList: ListNode | undefined;
      if (closer.kind === 'else') {
        const peek = this.peek();
        if (kind !== 'range' && peek.type === 'keyword' && peek.val === kind) {
          // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: one {{end}} closes both.
          this.next();
          elseList = { kind: 'list', pos: closer.pos, nodes: [this.control(kind)] };
        } else {
          const [l, end] = this.itemList();
          if (end.kind !== 'end') this.errorf(`expected end; found ${closerString(end)}`);
          elseList = l;
        }
      }
      return { kind, pos: pipe.pos, pipe, list, ...(elseList ? { elseList } : {}) };
    } finally {
      this.vars.length = mark;
    }
  }

  private pipeline(context: string): PipeNode {
    const pipe: PipeNode = { kind: 'pipe', pos: this.peekNonSpace().pos, decl: [], isAssign: false, cmds: [] };
    // Declarations: "$x :=", "$x =", and for range "$i, $v :=".
    for (;;) {
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      const vAt = this.i;
      this.next();
      const after = this.peekNonSpace();
      const decl: VariableNode = { kind: 'variable', pos: v.pos, idents: [v.val] };
      if (after.type === 'assign' || after.type === 'declare') {
        pipe.isAssign = after.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push(decl);
        this.vars.push(v.val);
        break;
      }
      if (after.type === 'char' && after.val === ',') {
        this.nextNonSpace();
        pipe.decl.push(decl);
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          this.errorf('range can only initialize variables');
        }
        this.errorf(`too many declarations in ${context}`);
      }
      this.i = vAt; // "$x" is an operand, not a declaration
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === 'rightDelim' || t.type === 'rightParen') {
        if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, i) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.kind))
            this.errorf(`non executable command in pipeline stage ${i + 2}`);
        });
        if (t.type === 'rightParen') this.backup();
        return pipe;
      }
      if (!OPERAND_START.has(t.type)) this.unexpected(t, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { kind: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.errorf(`unexpected ${tokenString(t)} in operand`);
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): ArgNode | undefined {
    const node = this.term();
    if (!node || this.peek().type !== 'field') return node;
    // Go places a chain at its first trailing field: `.A.B` is reported at `.B`.
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().type === 'field') fields.push(this.next().val.slice(1));
    switch (node.kind) {
      case 'field':
        return { kind: 'field', pos, idents: [...node.idents, ...fields] };
      case 'variable':
        return { kind: 'variable', pos, idents: [...node.idents, ...fields] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.errorf(`unexpected . after term ${goQuote(nodeString(node))}`);
      default:
        return { kind: 'chain', pos, node, fields };
    }
  }

  private term(): ArgNode | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcs.has(t.val)) this.errorf(`function ${goQuote(t.val)} not defined`);
        return { kind: 'identifier', pos: t.pos, name: t.val };
      case 'dot':
        return { kind: 'dot', pos: t.pos };
      case 'nil':
        return { kind: 'nil', pos: t.pos };
      case 'variable':
        if (!this.vars.includes(t.val)) this.errorf(`undefined variable ${goQuote(t.val)}`);
        return { kind: 'variable', pos: t.pos, idents: [t.val] };
      case 'field':
        return { kind: 'field', pos: t.pos, idents: [t.val.slice(1)] };
      case 'bool':
        return { kind: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
        return this.number(t);
      case 'leftParen': {
        const pipe = this.pipeline('parenthesized pipeline');
        const close = this.next();
        if (close.type !== 'rightParen') this.errorf(`unclosed right paren: unexpected ${tokenString(close)}`);
        return pipe;
      }
      case 'string':
      case 'rawString':
        try {
          return { kind: 'string', pos: t.pos, quoted: t.val, text: goUnquote(t.val) };
        } catch (e) {
          this.errorf((e as Error).message);
        }
    }
    this.backup();
    return undefined;
  }

  /** Go's NumberNode: an integer value when the literal is integral, a float value when it parses as one. */
  private number(t: Token): NumberNode {
    const node: NumberNode = { kind: 'number', pos: t.pos, text: t.val, floatSyntax: false };
    if (t.type === 'charConstant') {
      let r: string;
      try {
        r = goUnquote(t.val);
      } catch {
        this.errorf(`malformed character constant: ${t.val}`);
      }
      if (Array.from(r).length !== 1) this.errorf(`malformed character constant: ${t.val}`);
      node.int = BigInt(r.codePointAt(0)!);
      node.float = Number(node.int);
      return node;
    }
    const text = t.val;
    const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(text);
    if (m && !/__|_$/.test(text)) {
      const body = m[2]!.replace(/_/g, '');
      const legacyOctal = /^0[0-7]+$/.test(body);
      const v = BigInt(
        legacyOctal ? `0o${body.slice(1)}` : body.replace(/^0([XOB])/, (_s, b: string) => `0${b.toLowerCase()}`),
      );
      node.int = m[1] === '-' ? -v : v;
      node.float = Number(node.int);
      return node;
    }
    const f =
      /^[+-]?(\d[\d_]*)?(\.[\d_]*)?([eE][+-]?\d[\d_]*)?$/.test(text) && /\d/.test(text)
        ? Number(text.replace(/_/g, ''))
        : NaN;
    if (!Number.isFinite(f)) this.errorf(`illegal number syntax: ${goQuote(text)}`); // out of float64 range too, as ParseFloat fails
    node.float = f;
    node.floatSyntax = true;
    if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) node.int = BigInt(f);
    return node;
  }
}
