/**
 * Splits a Go text/template into tokens the way Go's text/template/parse lexer does: plain text
 * between `{{ }}`, and inside actions the words, literals, fields, variables and punctuation.
 * A lexing error becomes one `error` token (then `eof`), so the parser reports it only when it
 * gets there — as Go's lazy lexer does, an earlier parse error wins.
 */
import { goQuote } from './quote.js';

export type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'pipe'
  | 'leftParen'
  | 'rightParen'
  | 'declare'
  | 'assign'
  | 'char'
  | 'string'
  | 'rawString'
  | 'charConstant'
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'error'
  | 'eof';

export interface Token {
  type: TokenType;
  val: string;
  pos: number;
  line: number;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'template', 'define', 'block', 'break', 'continue']);

/** Go's text/template spacing inside actions (and for trim markers). */
export const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

/** How Go prints a token in "unexpected X in Y" messages. */
export function tokenString(t: Token): string {
  if (t.type === 'eof') return 'EOF';
  if (t.type === 'error') return t.val;
  if (t.type === 'keyword') return `<${t.val}>`;
  const chars = Array.from(t.val);
  return chars.length > 10 ? `${goQuote(chars.slice(0, 10).join(''))}...` : goQuote(t.val);
}

export function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  // Tokens come in order, so the line count only ever moves forward.
  let counted = 0;
  let line = 1;
  const lineAt = (p: number): number => {
    for (; counted < p; counted++) if (input[counted] === '\n') line++;
    return line;
  };
  const emit = (type: TokenType, val = input.slice(start, pos)): void => {
    tokens.push({ type, val, pos: start, line: lineAt(start) });
    start = pos;
  };
  const fail = (msg: string): Token[] => {
    tokens.push(
      { type: 'error', val: msg, pos: start, line: lineAt(start) },
      { type: 'eof', val: '', pos, line: lineAt(pos) },
    );
    return tokens;
  };
  // " -}}" (space, dash, delimiter) or "}}" at p.
  const rightDelimAt = (p: number): { trim: boolean } | undefined => {
    if (input.startsWith('}}', p)) return { trim: false };
    if (isSpace(input[p]) && input[p + 1] === '-' && input.startsWith('}}', p + 2)) return { trim: true };
    return undefined;
  };

  while (pos <= input.length) {
    // Text up to the next "{{".
    const next = input.indexOf('{{', pos);
    const end = next < 0 ? input.length : next;
    const leftTrim = next >= 0 && input[next + 2] === '-' && isSpace(input[next + 3]);
    let text = input.slice(start, end);
    if (leftTrim) text = text.replace(/[ \t\r\n]+$/, '');
    pos = end;
    if (text.length > 0) emit('text', text);
    if (next < 0) break;
    start = pos;
    pos += leftTrim ? 4 : 2;

    // Comment: "{{/* ... */}}", alone in its action.
    if (input.startsWith('/*', pos)) {
      const close = input.indexOf('*/', pos + 2);
      if (close < 0) return fail('unclosed comment');
      pos = close + 2;
      const rd = rightDelimAt(pos);
      if (!rd) return fail('comment ends before closing delimiter');
      pos += rd.trim ? 4 : 2;
      if (rd.trim) pos = skipSpace(input, pos);
      start = pos;
      continue;
    }
    emit('leftDelim', '{{');

    // Inside the action.
    for (;;) {
      const rd = rightDelimAt(pos);
      if (rd) {
        if (parenDepth > 0) return fail('unclosed left paren');
        pos += rd.trim ? 4 : 2;
        emit('rightDelim', '}}');
        if (rd.trim) start = pos = skipSpace(input, pos);
        break;
      }
      const c = input[pos];
      if (c === undefined) return fail('unclosed action');
      if (isSpace(c)) {
        // Stop before a space that starts " -}}".
        while (isSpace(input[pos]) && !(input[pos + 1] === '-' && input.startsWith('}}', pos + 2))) pos++;
        if (pos === start) pos++; // lone space before "-}}" that is not a trim marker
        emit('space');
        continue;
      }
      pos++;
      if (c === '=') emit('assign');
      else if (c === ':') {
        if (input[pos] !== '=') return fail('expected :=');
        pos++;
        emit('declare');
      } else if (c === '|') emit('pipe');
      else if (c === ',') emit('char');
      else if (c === '(') {
        parenDepth++;
        emit('leftParen');
      } else if (c === ')') {
        if (--parenDepth < 0) return fail('unexpected right paren');
        emit('rightParen');
      } else if (c === '"') {
        while (input[pos] !== '"') {
          if (input[pos] === '\\') pos++;
          if (pos >= input.length || input[pos] === '\n') return fail('unterminated quoted string');
          pos++;
        }
        pos++;
        emit('string');
      } else if (c === '`') {
        const close = input.indexOf('`', pos);
        if (close < 0) return fail('unterminated raw quoted string');
        pos = close + 1;
        emit('rawString');
      } else if (c === "'") {
        while (input[pos] !== "'") {
          if (input[pos] === '\\') pos++;
          if (pos >= input.length || input[pos] === '\n') return fail('unterminated character constant');
          pos++;
        }
        pos++;
        emit('charConstant');
      } else if (c === '$') {
        while (isAlnum(input[pos])) pos++;
        if (!atTerminator(input, pos)) return fail(`bad character ${goRune(input[pos]!)}`);
        emit('variable');
      } else if (c === '.' && !(input[pos]! >= '0' && input[pos]! <= '9')) {
        if (!isAlnum(input[pos])) {
          emit('dot');
          continue;
        }
        while (isAlnum(input[pos])) pos++;
        if (!atTerminator(input, pos)) return fail(`bad character ${goRune(input[pos]!)}`);
        emit('field');
      } else if (c === '.' || c === '+' || c === '-' || (c >= '0' && c <= '9')) {
        pos = scanNumber(input, start);
        if (isAlnum(input[pos])) return fail(`bad number syntax: ${goQuote(input.slice(start, pos + 1))}`);
        emit('number');
      } else if (isAlnum(c)) {
        while (isAlnum(input[pos])) pos++;
        if (!atTerminator(input, pos)) return fail(`bad character ${goRune(input[pos]!)}`);
        const word = input.slice(start, pos);
        emit(
          KEYWORDS.has(word)
            ? 'keyword'
            : word === 'true' || word === 'false'
              ? 'bool'
              : word === 'nil'
                ? 'nil'
                : 'identifier',
        );
      } else {
        return fail(`unrecognized character in action: ${goRune(c)}`);
      }
    }
  }
  start = pos = input.length;
  emit('eof', '');
  return tokens;
}

function skipSpace(input: string, p: number): number {
  while (isSpace(input[p])) p++;
  return p;
}

/** Go lets a word end only at space, punctuation of the action, or the closing delimiter. */
function atTerminator(input: string, p: number): boolean {
  const c = input[p];
  if (c === undefined || isSpace(c) || '.,|:()'.includes(c)) return true;
  return input.startsWith('}}', p);
}

/** Go's scanNumber: sign, base prefix, digits with `_`, fraction, exponent. */
function scanNumber(input: string, p: number): number {
  const acceptRun = (set: string): void => {
    while (input[p] !== undefined && set.includes(input[p]!)) p++;
  };
  if (input[p] === '+' || input[p] === '-') p++;
  let digits = '0123456789_';
  if (input[p] === '0' && /[xXoObB]/.test(input[p + 1] ?? '')) {
    const b = input[p + 1]!.toLowerCase();
    p += 2;
    digits = b === 'x' ? '0123456789abcdefABCDEF_' : b === 'o' ? '01234567_' : '01_';
  }
  acceptRun(digits);
  if (input[p] === '.') {
    p++;
    acceptRun(digits);
  }
  if (digits.length === 11 && (input[p] === 'e' || input[p] === 'E')) {
    p++;
    if (input[p] === '+' || input[p] === '-') p++;
    acceptRun('0123456789_');
  }
  return p;
}

/** Go's %#U: U+0023 '#'. */
export function goRune(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}
