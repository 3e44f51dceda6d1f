/**
 * Walks a parse tree against data, the way Go's text/template executes: dot and variables,
 * field chains on maps, function calls with Go's argument checks, if/with/range, and Go's
 * error messages ("template: :1:2: executing "" at <.A.B>: ...").
 */
import type {
  ArgNode,
  ChainNode,
  CommandNode,
  ControlNode,
  FieldNode,
  IdentifierNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  VariableNode,
} from './ast.js';
import { nodeString } from './ast.js';
import { formatValue } from './fmt.js';
import { FuncError } from './func-error.js';
import type { FuncMap, GoFunc, ParamType } from './funcs.js';
import { goQuote } from './quote.js';
import { GoFloat, goTypeName, isMap, isTrue, kindOf, sortedKeys } from './values.js';

/**
 * dot or a variable. `iface` marks a value read out of a map or slice element: Go holds it in
 * an interface{}, and names that type ("interface {}") in its errors.
 */
interface Dot {
  v: unknown;
  iface: boolean;
}

interface Variable extends Dot {
  name: string;
}

/** Thrown when execution fails; `partial` is what was written before, as Go leaves it in the writer. */
export class ExecError extends Error {
  constructor(
    message: string,
    readonly partial: string,
  ) {
    super(message);
  }
}

export interface ExecOptions {
  name: string;
  funcs: FuncMap;
  /** Go's Option("missingkey=error"): a missing map key is an error instead of <no value>. */
  missingKeyError: boolean;
}

const NO_FINAL = Symbol('no pipeline value');
type Final = unknown;
class LoopJump {
  constructor(readonly kind: 'break' | 'continue') {}
}
type ErrNode = Node | ArgNode | CommandNode;

export function execute(text: string, root: ListNode, data: unknown, opts: ExecOptions): string {
  const s = new State(text, opts, data);
  try {
    s.walk({ v: data, iface: false }, root);
  } catch (e) {
    if (e instanceof StateError) throw new ExecError(e.message, s.out.join(''));
    throw e;
  }
  return s.out.join('');
}

class StateError extends Error {}

class State {
  readonly out: string[] = [];
  private node: ErrNode | undefined;
  /** Push-down stack of variables; `$` is the data. */
  private vars: Variable[];

  constructor(
    private readonly text: string,
    private readonly opts: ExecOptions,
    data: unknown,
  ) {
    this.vars = [{ name: '$', v: data, iface: false }];
  }

  private at(n: ErrNode): void {
    this.node = n;
  }

  private errorf(msg: string): never {
    const name = this.opts.name;
    if (!this.node) throw new StateError(`template: ${name}: ${msg}`);
    const before = this.text.slice(0, this.node.pos);
    const nl = before.lastIndexOf('\n');
    const line = before.split('\n').length;
    const col = nl < 0 ? this.node.pos : this.node.pos - nl - 1;
    throw new StateError(
      `template: ${name}:${line}:${col}: executing ${goQuote(name)} at <${nodeString(this.node)}>: ${msg}`,
    );
  }

  walk(dot: Dot, node: Node): void {
    this.at(node);
    switch (node.kind) {
      case 'text':
        this.out.push(node.text);
        return;
      case 'action': {
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) {
          this.at(node);
          this.out.push(v === undefined ? '<no value>' : formatValue(v, 'v'));
        }
        return;
      }
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'if':
      case 'with':
        return this.walkIfOrWith(dot, node);
      case 'range':
        return this.walkRange(dot, node);
      case 'break':
      case 'continue':
        throw new LoopJump(node.kind);
    }
  }

  private walkIfOrWith(dot: Dot, node: ControlNode): void {
    const mark = this.vars.length;
    const v = this.evalPipeline(dot, node.pipe);
    if (isTrue(v)) this.walk(node.kind === 'with' ? { v, iface: false } : dot, node.list);
    else if (node.elseList) this.walk(dot, node.elseList);
    this.vars.length = mark;
  }

  private walkRange(dot: Dot, r: ControlNode): void {
    this.at(r);
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, r.pipe);
    const bodyMark = this.vars.length;
    const decls = r.pipe.decl.length;
    /** Returns false on {{break}}. */
    const iteration = (index: unknown, elem: unknown, iface: boolean): boolean => {
      // The element goes to the last declared variable, the index/key to the first of two.
      if (decls > 0) this.vars[bodyMark - 1] = { ...this.vars[bodyMark - 1]!, v: elem, iface };
      if (decls > 1) this.vars[bodyMark - 2] = { ...this.vars[bodyMark - 2]!, v: index, iface: false };
      try {
        this.walk({ v: elem, iface }, r.list);
      } catch (e) {
        if (!(e instanceof LoopJump)) throw e;
        if (e.kind === 'break') return false;
      } finally {
        this.vars.length = bodyMark;
      }
      return true;
    };
    let ran = false;
    if (Array.isArray(val)) {
      for (let i = 0; i < val.length && iteration(i, val[i], true); i++);
      ran = val.length > 0;
    } else if (isMap(val)) {
      const keys = sortedKeys(val); // Go ranges over maps in sorted key order
      for (let i = 0; i < keys.length && iteration(keys[i], val[keys[i]!], true); i++);
      ran = keys.length > 0;
    } else if (kindOf(val) === 'int') {
      // Go 1.22: range over an integer counts from 0.
      if (decls > 1) this.errorf(`can't use ${formatValue(val, 'v')} to iterate over more than one variable`);
      const n = Number(val);
      for (let i = 0; i < n && iteration(i, i, false); i++);
      ran = n > 0;
    } else if (val !== undefined && val !== null) {
      this.errorf(`range can't iterate over ${formatValue(val, 'v')}`);
    }
    if (!ran && r.elseList) this.walk(dot, r.elseList);
    this.vars.length = mark;
  }

  private evalPipeline(dot: Dot, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: Final = NO_FINAL;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const d of pipe.decl) {
      const name = d.idents[0]!;
      if (pipe.isAssign) {
        const v = this.vars.findLast((x) => x.name === name);
        if (!v) this.errorf(`undefined variable: ${name}`);
        this.vars[this.vars.lastIndexOf(v)] = { name, v: value, iface: false };
      } else this.vars.push({ name, v: value, iface: false });
    }
    return value;
  }

  private notAFunction(args: ArgNode[], final: Final): void {
    if (args.length > 1 || final !== NO_FINAL)
      this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: Dot, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.kind) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.kind) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot.v;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
  }

  /** A number literal where no type is asked for: float64 if written as a float, else int. */
  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    const hexInt = /^[+-]?0[xX]/.test(n.text);
    if (n.floatSyntax && !hexInt) return Number.isInteger(n.float) ? new GoFloat(n.float!) : n.float;
    if (n.int === undefined) return this.errorf(`${n.text} overflows int`);
    if (n.int > 2n ** 63n - 1n || n.int < -(2n ** 63n)) this.errorf(`${n.text} overflows int`);
    return Number.isSafeInteger(Number(n.int)) ? Number(n.int) : n.int;
  }

  private evalFieldNode(dot: Dot, field: FieldNode, args: ArgNode[], final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.idents, args, final);
  }

  private evalChainNode(dot: Dot, chain: ChainNode, args: ArgNode[], final: Final): unknown {
    this.at(chain);
    if (chain.node.kind === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const v = this.evalArg(dot, 'any', chain.node);
    return this.evalFieldChain(dot, { v, iface: false }, chain, chain.fields, args, final);
  }

  private evalVariableNode(dot: Dot, node: VariableNode, args: ArgNode[], final: Final): unknown {
    this.at(node);
    const name = node.idents[0]!;
    const v = this.vars.findLast((x) => x.name === name);
    if (!v) this.errorf(`undefined variable: ${name}`);
    if (node.idents.length === 1) {
      this.notAFunction(args, final);
      return v.v;
    }
    return this.evalFieldChain(dot, v, node, node.idents.slice(1), args, final);
  }

  private evalFieldChain(
    dot: Dot,
    receiver: Dot,
    node: ErrNode,
    idents: string[],
    args: ArgNode[],
    final: Final,
  ): unknown {
    let r = receiver;
    for (const id of idents.slice(0, -1)) r = { v: this.evalField(id, [], NO_FINAL, r), iface: true };
    return this.evalField(idents[idents.length - 1]!, args, final, r);
  }

  /** `.Name` on a receiver: our data have no methods, so only map keys resolve. */
  private evalField(name: string, args: ArgNode[], final: Final, receiver: Dot): unknown {
    const { v, iface } = receiver;
    if (v === undefined || (v === null && !iface)) {
      if (this.opts.missingKeyError) this.errorf(`nil data; no entry for key ${goQuote(name)}`);
      return undefined;
    }
    const typ = iface ? 'interface {}' : goTypeName(v);
    if (v === null) this.errorf(`nil pointer evaluating ${typ}.${name}`);
    if (isMap(v)) {
      if (args.length > 1 || final !== NO_FINAL) this.errorf(`${name} is not a method but has arguments`);
      if (Object.hasOwn(v, name) && v[name] !== undefined) return v[name];
      if (this.opts.missingKeyError) this.errorf(`map has no entry for key ${goQuote(name)}`);
      return undefined;
    }
    return this.errorf(`can't evaluate field ${name} in type ${typ}`);
  }

  private evalFunction(dot: Dot, node: IdentifierNode, cmd: ErrNode, args: ArgNode[], final: Final): unknown {
    this.at(node);
    const fn = this.opts.funcs.get(node.name);
    if (!fn) this.errorf(`${goQuote(node.name)} is not a defined function`);
    return this.evalCall(dot, fn, cmd, node.name, args.slice(1), final);
  }

  private evalCall(dot: Dot, fn: GoFunc, node: ErrNode, name: string, args: ArgNode[], final: Final): unknown {
    const numIn = args.length + (final !== NO_FINAL ? 1 : 0);
    const numFixed = fn.params.length;
    if (fn.variadic) {
      if (numIn < numFixed)
        this.errorf(`wrong number of args for ${name}: want at least ${numFixed} got ${args.length}`);
    } else if (numIn !== numFixed) this.errorf(`wrong number of args for ${name}: want ${numFixed} got ${numIn}`);
    if (fn.shortCircuit) {
      let v: unknown;
      for (const a of args) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === (fn.shortCircuit === 'or')) return v;
      }
      return final !== NO_FINAL ? this.validateType(final, 'any') : v;
    }
    const argv = args.map((a, i) => this.evalArg(dot, i < numFixed ? fn.params[i]! : fn.variadic!, a));
    if (final !== NO_FINAL) {
      const t = fn.variadic && numIn - 1 >= numFixed ? fn.variadic : fn.params[numIn - 1]!;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv);
    } catch (e) {
      if (!(e instanceof FuncError)) throw e;
      this.at(node);
      return this.errorf(`error calling ${name}: ${e.message}`);
    }
  }

  private validateType(v: unknown, type: ParamType): unknown {
    if (type === 'any') return v === undefined ? null : v; // no value passes as a nil interface
    if (v === undefined || v === null) return this.errorf(`invalid value; expected ${type}`);
    const ok = type === 'string' ? typeof v === 'string' : kindOf(v) === 'int';
    if (!ok) this.errorf(`wrong type for value; expected ${type}; got ${goTypeName(v)}`);
    return type === 'int' ? Number(v) : v;
  }

  private evalArg(dot: Dot, type: ParamType, n: ArgNode): unknown {
    this.at(n);
    switch (n.kind) {
      case 'dot':
        return this.validateType(dot.v, type);
      case 'nil':
        if (type === 'any') return null;
        return this.errorf(`cannot assign nil to ${type}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], NO_FINAL), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, [], NO_FINAL), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, [n], NO_FINAL), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, [], NO_FINAL), type);
    }
    switch (type) {
      case 'any':
        if (n.kind === 'number') return this.idealConstant(n);
        return n.kind === 'bool' ? n.value : n.text;
      case 'string':
        if (n.kind === 'string') return n.text;
        return this.errorf(`expected string; found ${nodeString(n)}`);
      case 'int':
        if (n.kind === 'number' && n.int !== undefined) return Number(n.int);
        return this.errorf(`expected integer; found ${nodeString(n)}`);
    }
  }
}
