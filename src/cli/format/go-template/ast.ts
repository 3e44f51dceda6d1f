/** The parse tree of a template, shaped like Go's text/template/parse nodes. */

interface At {
  /** Offset in the template text, for "template: :line:col:" in execution errors. */
  pos: number;
}

export interface TextNode extends At {
  kind: 'text';
  text: string;
}
export interface ActionNode extends At {
  kind: 'action';
  pipe: PipeNode;
}
/** if / with / range: same shape, different walk. */
export interface ControlNode extends At {
  kind: 'if' | 'with' | 'range';
  pipe: PipeNode;
  list: ListNode;
  elseList?: ListNode;
}
export interface LoopJumpNode extends At {
  kind: 'break' | 'continue';
}
export interface ListNode extends At {
  kind: 'list';
  nodes: Node[];
}
export type Node = TextNode | ActionNode | ControlNode | LoopJumpNode | ListNode;

export interface PipeNode extends At {
  kind: 'pipe';
  decl: VariableNode[];
  isAssign: boolean;
  cmds: CommandNode[];
}
export interface CommandNode extends At {
  kind: 'command';
  args: ArgNode[];
}
export interface FieldNode extends At {
  kind: 'field';
  idents: string[];
}
/** A field chain on something that is not dot or a variable: `(pipeline).A.B`. */
export interface ChainNode extends At {
  kind: 'chain';
  node: ArgNode;
  fields: string[];
}
export interface IdentifierNode extends At {
  kind: 'identifier';
  name: string;
}
/** `$x.A.B` is idents ['$x', 'A', 'B']. */
export interface VariableNode extends At {
  kind: 'variable';
  idents: string[];
}
export interface DotNode extends At {
  kind: 'dot';
}
export interface NilNode extends At {
  kind: 'nil';
}
export interface BoolNode extends At {
  kind: 'bool';
  value: boolean;
}
export interface NumberNode extends At {
  kind: 'number';
  text: string;
  /** Set when the literal is an integer (or a float with an integral value), as Go's IsInt. */
  int?: bigint;
  float?: number;
  /** Written like a float (`1.5`, `1e3`): evaluates to float64 where no type is asked for. */
  floatSyntax: boolean;
}
export interface StringNode extends At {
  kind: 'string';
  quoted: string;
  text: string;
}
export type ArgNode =
  | FieldNode
  | ChainNode
  | IdentifierNode
  | VariableNode
  | DotNode
  | NilNode
  | BoolNode
  | NumberNode
  | StringNode
  | PipeNode;

/** Go's Node.String(), used as the `<context>` of execution errors. */
export function nodeString(n: Node | ArgNode | CommandNode): string {
  switch (n.kind) {
    case 'text':
      return n.text;
    case 'action':
      return `{{${nodeString(n.pipe)}}}`;
    case 'if':
    case 'with':
    case 'range':
      return `{{${n.kind} ${nodeString(n.pipe)}}}${nodeString(n.list)}${n.elseList ? `{{else}}${nodeString(n.elseList)}` : ''}{{end}}`;
    case 'break':
    case 'continue':
      return `{{${n.kind}}}`;
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'pipe': {
      const decl = n.decl.length ? `${n.decl.map(nodeString).join(', ')} ${n.isAssign ? '=' : ':='} ` : '';
      return decl + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.kind === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'field':
      return n.idents.map((i) => `.${i}`).join('');
    case 'chain':
      return (
        (n.node.kind === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) +
        n.fields.map((f) => `.${f}`).join('')
      );
    case 'identifier':
      return n.name;
    case 'variable':
      return n.idents.join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(n.value);
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
  }
}
