"""Recursive-descent parser: tokens -> syntax tree.

Precedence, lowest first (as in Excel, ``&`` binds looser than arithmetic so
``1 + 2 & "x"`` is ``"3x"``): or, and, not, comparison (not chainable), ``&``, ``+ -``,
``* /``, unary ``- +``, then literals, names, calls and parentheses.
"""

from __future__ import annotations

from decimal import Decimal

from engines.form.formula.errors import FormulaError
from engines.form.formula.lexer import Kind, Token, tokenize
from engines.form.formula.nodes import Binary, Call, FieldRef, Literal, Node, Unary

#: how many brackets, calls and prefix operators may nest (bounds the parser's recursion)
MAX_NESTING = 40
#: deepest syntax tree accepted (bounds the compiler's and the evaluator's recursion)
MAX_TREE_DEPTH = 100

_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
                ">=": ">="}
_KEYWORD_VALUES = {"true": True, "false": False, "null": None}


def parse(source: str) -> Node:
    """Parse a whole formula; raise FormulaError (with the offset) on any syntax problem."""
    try:
        parser = _Parser(tokenize(source))
        tree = parser.expression()
        parser.expect_end()
        _check_tree_depth(tree)
    except FormulaError as err:
        err.source = source
        raise
    return tree


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    # -- token helpers --------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_op(self, *ops: str) -> bool:
        return self.current.kind is Kind.OP and self.current.text in ops

    def at_keyword(self, word: str) -> bool:
        return self.current.kind is Kind.KEYWORD and self.current.text == word

    def expect_op(self, op: str, what: str) -> Token:
        if not self.at_op(op):
            raise FormulaError(f"expected {what}, found {_describe(self.current)}",
                               self.current.position)
        return self.advance()

    def expect_end(self) -> None:
        if self.current.kind is not Kind.END:
            raise FormulaError(
                f"unexpected {_describe(self.current)} (missing operator or comma?)",
                self.current.position,
            )

    def nest(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(
                f"formula nests too deeply (at most {MAX_NESTING} levels of brackets)", position
            )

    # -- grammar --------------------------------------------------------------------
    def expression(self) -> Node:
        return self.disjunction()

    def disjunction(self) -> Node:
        left = self.conjunction()
        while self.at_keyword("or"):
            op = self.advance()
            left = Binary("or", left, self.conjunction(), op.position)
        return left

    def conjunction(self) -> Node:
        left = self.negation()
        while self.at_keyword("and"):
            op = self.advance()
            left = Binary("and", left, self.negation(), op.position)
        return left

    def negation(self) -> Node:
        if self.at_keyword("not"):
            op = self.advance()
            self.nest(op.position)
            operand = self.negation()
            self.depth -= 1
            return Unary("not", operand, op.position)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.concatenation()
        if self.current.kind is Kind.OP and self.current.text in _COMPARISONS:
            op = self.advance()
            left = Binary(_COMPARISONS[op.text], left, self.concatenation(), op.position)
            if self.current.kind is Kind.OP and self.current.text in _COMPARISONS:
                raise FormulaError(
                    "comparisons cannot be chained; write a < b and b < c",
                    self.current.position,
                )
        return left

    def concatenation(self) -> Node:
        left = self.additive()
        while self.at_op("&"):
            op = self.advance()
            left = Binary("&", left, self.additive(), op.position)
        return left

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance()
            left = Binary(op.text, left, self.multiplicative(), op.position)
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.at_op("*", "/"):
            op = self.advance()
            left = Binary(op.text, left, self.unary(), op.position)
        return left

    def unary(self) -> Node:
        if self.at_op("-", "+"):
            op = self.advance()
            self.nest(op.position)
            operand = self.unary()
            self.depth -= 1
            return Unary(op.text, operand, op.position)
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind is Kind.NUMBER:
            self.advance()
            return Literal(Decimal(token.text), token.position)
        if token.kind is Kind.STRING:
            self.advance()
            return Literal(token.text, token.position)
        if token.kind is Kind.KEYWORD and token.text in _KEYWORD_VALUES:
            self.advance()
            return Literal(_KEYWORD_VALUES[token.text], token.position)
        if token.kind is Kind.NAME:
            self.advance()
            if self.at_op("("):
                return self.call(token)
            return self.field_ref(token)
        if self.at_op("("):
            self.advance()
            self.nest(token.position)
            inner = self.expression()
            self.depth -= 1
            self.expect_op(")", "')' to close the '(' opened at position "
                           f"{token.position}")
            return inner
        raise FormulaError(f"expected a value, found {_describe(token)}", token.position)

    def call(self, name: Token) -> Node:
        self.advance()  # "("
        self.nest(name.position)
        args: list[Node] = []
        if not self.at_op(")"):
            args.append(self.expression())
            while self.at_op(","):
                self.advance()
                args.append(self.expression())
        self.expect_op(")", f"',' or ')' in the call to {name.text}()")
        self.depth -= 1
        return Call(name.text.lower(), tuple(args), name.position)

    def field_ref(self, name: Token) -> Node:
        key = name.text
        if self.at_op("."):
            self.advance()
            column = self.current
            if column.kind is not Kind.NAME:
                raise FormulaError(
                    f"expected a subtable column name after '{key}.', "
                    f"found {_describe(column)}",
                    column.position,
                )
            self.advance()
            key = f"{key}.{column.text}"
            if self.at_op("."):
                raise FormulaError("only one '.' is allowed (subtable.column)",
                                   self.current.position)
        return FieldRef(key, name.position)


def _check_tree_depth(tree: Node) -> None:
    """Walk the tree without recursion; long operator chains nest as deeply as brackets."""
    stack: list[tuple[Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise FormulaError(
                f"formula nests too deeply (at most {MAX_TREE_DEPTH} levels of operators)",
                node.position,
            )
        if isinstance(node, Unary):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, Binary):
            stack.extend(((node.left, depth + 1), (node.right, depth + 1)))
        elif isinstance(node, Call):
            stack.extend((arg, depth + 1) for arg in node.args)


def _describe(token: Token) -> str:
    if token.kind is Kind.END:
        return "the end of the formula"
    if token.kind is Kind.STRING:
        return "text " + repr(token.text)
    return repr(token.text)
