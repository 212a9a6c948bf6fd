"""SQL expressions in one canonical spelling, so two spellings of the same thing compare equal.

Databases give back what they stored, not what was written: PostgreSQL
rewrites ``priority BETWEEN 1 AND 5`` as ``((priority >= 1) AND (priority <=
5))`` and adds ``::text`` casts, MariaDB quotes every name in backticks, turns
``length()`` into ``octet_length()`` and ``now()`` into ``current_timestamp()``.
:func:`canonical` parses an expression (a small Pratt parser covering what
CHECK constraints, server defaults, generated columns and partial-index
predicates use) and prints the tree back in one fixed form:

>>> canonical("priority BETWEEN 1 AND 5", "postgresql")
'((priority >= 1) and (priority <= 5))'
>>> canonical("((priority >= 1) AND (priority <= 5))", "postgresql")
'((priority >= 1) and (priority <= 5))'

Only rewrites that keep the meaning are made: parentheses follow the tree, so
``a AND (b OR c)`` and ``(a AND b) OR c`` stay different. Text the parser does
not understand falls back to a cruder form (:func:`crude`), which can only
make two expressions look *different* when they are equal, never the reverse.
"""

from __future__ import annotations

import functools

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator, Union

# --------------------------------------------------------------------------- per-dialect spellings

#: Function names that mean the same thing, per dialect; the value is the one spelling kept.
#: Bare keywords such as CURRENT_TIMESTAMP are calls without arguments here.
_TIME_FUNCTIONS = {
    "now": "current_timestamp",
    "current_timestamp": "current_timestamp",
    "transaction_timestamp": "current_timestamp",
    "current_date": "current_date",
    "current_time": "current_time",
}
FUNCTION_SYNONYMS: dict[str, dict[str, str]] = {
    "default": dict(_TIME_FUNCTIONS),
    "postgresql": dict(_TIME_FUNCTIONS),
    # MariaDB stores length() as octet_length() (both count bytes there) and
    # curdate()/curtime() for CURRENT_DATE/CURRENT_TIME.
    "mysql": {
        **_TIME_FUNCTIONS,
        "length": "octet_length",
        "curdate": "current_date",
        "curtime": "current_time",
        "character_length": "char_length",
        "localtimestamp": "current_timestamp",
        "localtime": "current_timestamp",
        "ucase": "upper",
        "lcase": "lower",
    },
    "sqlite": dict(_TIME_FUNCTIONS),
}

#: Words that are function calls even without parentheses.
_BARE_CALLS = {"current_timestamp", "current_date", "current_time", "localtimestamp", "localtime",
               "current_user", "session_user"}

#: Dialects where TRUE and FALSE are just 1 and 0.
_BOOLEANS_ARE_NUMBERS = {"mysql", "sqlite"}


def synonyms(dialect: str) -> dict[str, str]:
    return FUNCTION_SYNONYMS.get(dialect, FUNCTION_SYNONYMS["default"])


# --------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>[eEnN]?'(?:[^'\\]|''|\\.)*')
  | (?P<qid>"(?:[^"]|"")+"|`(?:[^`]|``)+`)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>::|<=|>=|<>|!=|\|\||[-+*/%=<>(),.\[\]])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "str", "id", "num", "word", "op"
    value: str


class ParseError(ValueError):
    """The text is not an expression this parser understands."""


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected {text[pos:pos + 10]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group()
        if kind == "ws":
            continue
        if kind == "str":
            tokens.append(Token("str", _unquote_string(value)))
        elif kind == "qid":
            # Quoting only protects a name; these databases compare column names case-insensitively.
            tokens.append(Token("id", value[1:-1].replace('""', '"').replace("``", "`").lower()))
        elif kind == "word":
            tokens.append(Token("word", value.lower()))
        else:
            tokens.append(Token(kind or "op", value))
    return tokens


def _unquote_string(literal: str) -> str:
    if literal[0] in "eEnN":
        literal = literal[1:]
    body = literal[1:-1].replace("''", "'")
    # MariaDB may write a quote inside a string as \' ; other backslashes stay as they are.
    return body.replace("\\'", "'")


# --------------------------------------------------------------------------- tree

# A node is a tuple whose first item names its kind; leaves carry plain values.
Node = tuple[Any, ...]


def _lit_num(text: str) -> Node:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # the tokenizer only lets numbers through, but be safe
        raise ParseError(text) from exc
    return ("num", value)


_COMPARISONS = {"=", "<>", "!=", "<", ">", "<=", ">="}
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    # 3: prefix NOT
    "cmp": 4,
    "||": 5,
    "+": 6, "-": 6,
    "*": 7, "/": 7, "%": 7,
    # 8: prefix minus
    "::": 9,
}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end")
        self.pos += 1
        return token

    def at(self, kind: str, *values: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind and (not values or token.value in values)

    def expect(self, kind: str, value: str) -> None:
        token = self.next()
        if token.kind != kind or token.value != value:
            raise ParseError(f"expected {value!r}, got {token.value!r}")

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek() is not None:
            raise ParseError(f"trailing {self.peek()}")
        return node

    # Pratt loop: parse a prefix, then fold infix operators that bind tighter than min_bp.
    def expression(self, min_bp: int) -> Node:
        left = self.prefix()
        while True:
            token = self.peek()
            if token is None:
                return left
            bp, handler = self._infix(token)
            if handler is None or bp <= min_bp:
                return left
            left = handler(left, bp)

    def _infix(self, token: Token) -> tuple[int, Callable[[Node, int], Node] | None]:
        value = token.value
        if token.kind == "op":
            if value in _COMPARISONS:
                return _PRECEDENCE["cmp"], self._comparison
            if value in ("||", "+", "-", "*", "/", "%"):
                return _PRECEDENCE[value], self._binary
            if value == "::":
                return _PRECEDENCE["::"], self._cast
            return 0, None
        if token.kind == "word":
            if value in ("and", "or"):
                return _PRECEDENCE[value], self._logical
            if value in ("is", "in", "like", "ilike", "between", "not", "regexp", "glob"):
                return _PRECEDENCE["cmp"], self._predicate
        return 0, None

    def _logical(self, left: Node, bp: int) -> Node:
        op = self.next().value
        right = self.expression(bp)
        return (op, left, right)

    def _binary(self, left: Node, bp: int) -> Node:
        op = self.next().value
        right = self.expression(bp)
        return ("bin", op, left, right)

    def _comparison(self, left: Node, bp: int) -> Node:
        op = self.next().value
        if self.at("word", "any", "some", "all"):
            quantifier = self.next().value
            self.expect("op", "(")
            inner = self.expression(0)
            self.expect("op", ")")
            return ("quantified", op, "all" if quantifier == "all" else "any", left, inner)
        right = self.expression(bp)
        return ("cmp", op, left, right)

    def _cast(self, left: Node, bp: int) -> Node:
        self.next()
        self._type_name()
        return left  # a cast only restates the type the column already has

    def _type_name(self) -> None:
        self.next()  # the name itself (or a quoted name)
        while self.at("op", "."):
            self.next()
            self.next()
        while self.at("word", "varying", "precision", "with", "without", "time", "zone"):
            self.next()
        if self.at("op", "("):
            depth = 0
            while True:
                token = self.next()
                if token.value == "(":
                    depth += 1
                elif token.value == ")":
                    depth -= 1
                    if depth == 0:
                        break
        while self.at("op", "["):
            self.next()
            if self.at("num"):
                self.next()
            self.expect("op", "]")

    def _predicate(self, left: Node, bp: int) -> Node:
        negated = False
        word = self.next().value
        if word == "is":
            if self.at("word", "not"):
                self.next()
                negated = True
            right = self.prefix()
            return ("is", negated, left, right)
        if word == "not":
            negated = True
            word = self.next().value
        if word == "in":
            self.expect("op", "(")
            items = [self.expression(0)]
            while self.at("op", ","):
                self.next()
                items.append(self.expression(0))
            self.expect("op", ")")
            return ("in", negated, left, tuple(items))
        if word == "between":
            low = self.expression(_PRECEDENCE["cmp"])
            if not self.at("word", "and"):
                raise ParseError("BETWEEN without AND")
            self.next()
            high = self.expression(_PRECEDENCE["cmp"])
            return ("between", negated, left, low, high)
        if word in ("like", "ilike", "regexp", "glob"):
            right = self.expression(bp)
            return ("like", negated, word, left, right)
        raise ParseError(f"unexpected {word!r}")

    def prefix(self) -> Node:
        token = self.next()
        if token.kind == "num":
            return _lit_num(token.value)
        if token.kind == "str":
            return ("str", token.value)
        if token.kind == "id":
            return self._name(token.value)
        if token.kind == "op":
            if token.value == "(":
                first = self.expression(0)
                if self.at("op", ","):
                    items = [first]
                    while self.at("op", ","):
                        self.next()
                        items.append(self.expression(0))
                    self.expect("op", ")")
                    return ("row", tuple(items))
                self.expect("op", ")")
                return first
            if token.value in ("-", "+"):
                operand = self.expression(8)
                if token.value == "+":
                    return operand
                if operand[0] == "num":
                    return ("num", -operand[1])
                return ("neg", operand)
            raise ParseError(f"unexpected {token.value!r}")
        # a word
        word = token.value
        if word == "not":
            return ("not", self.expression(3))
        if word in ("true", "false"):
            return ("bool", word == "true")
        if word == "null":
            return ("null",)
        if word == "array" and self.at("op", "["):
            self.next()
            elements: list[Node] = []
            if not self.at("op", "]"):
                elements.append(self.expression(0))
                while self.at("op", ","):
                    self.next()
                    elements.append(self.expression(0))
            self.expect("op", "]")
            return ("array", tuple(elements))
        if word == "cast" and self.at("op", "("):
            self.next()
            inner = self.expression(0)
            if not self.at("word", "as"):
                raise ParseError("CAST without AS")
            self.next()
            self._type_name()
            self.expect("op", ")")
            return inner
        if word == "case":
            return self._case()
        if self.at("op", "("):
            return self._call(word)
        if word in _BARE_CALLS:
            return ("call", word, ())
        return self._name(word)

    def _name(self, first: str) -> Node:
        parts = [first]
        while self.at("op", ".") and getattr(self.peek(1), "kind", None) in ("word", "id"):
            self.next()
            parts.append(self.next().value)
        # table.column: the table is implied by where the expression lives
        return ("id", parts[-1])

    def _call(self, name: str) -> Node:
        self.expect("op", "(")
        args: list[Node] = []
        if not self.at("op", ")"):
            if self.at("word", "distinct"):
                self.next()
                name = f"{name} distinct"
            if self.at("op", "*"):
                self.next()
                args.append(("id", "*"))
            else:
                args.append(self.expression(0))
            while self.at("op", ","):
                self.next()
                args.append(self.expression(0))
        self.expect("op", ")")
        return ("call", name, tuple(args))

    def _case(self) -> Node:
        subject: Node | None = None
        if not self.at("word", "when"):
            subject = self.expression(0)
        branches: list[tuple[Node, Node]] = []
        while self.at("word", "when"):
            self.next()
            condition = self.expression(0)
            if not self.at("word", "then"):
                raise ParseError("WHEN without THEN")
            self.next()
            branches.append((condition, self.expression(0)))
        otherwise: Node | None = None
        if self.at("word", "else"):
            self.next()
            otherwise = self.expression(0)
        if not self.at("word", "end"):
            raise ParseError("CASE without END")
        self.next()
        return ("case", subject, tuple(branches), otherwise)


def parse(text: str) -> Node:
    """The expression tree of ``text``; raises :class:`ParseError`."""
    return _Parser(tokenize(text)).parse()


# --------------------------------------------------------------------------- canonical form


def normalize(node: Node, dialect: str) -> Node:
    """Rewrite a tree into its canonical shape for ``dialect`` (same meaning, one spelling)."""
    return _Normalizer(dialect).visit(node)


class _Normalizer:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.synonyms = synonyms(dialect)

    def visit(self, node: Node) -> Node:
        method = getattr(self, f"visit_{node[0]}", None)
        return method(node) if method else node

    def visit_bool(self, node: Node) -> Node:
        if self.dialect in _BOOLEANS_ARE_NUMBERS:
            return ("num", Decimal(1 if node[1] else 0))
        return node

    def visit_num(self, node: Node) -> Node:
        return ("num", _plain_decimal(node[1]))

    def visit_and(self, node: Node) -> Node:
        return ("and", *self._flatten("and", node))

    def visit_or(self, node: Node) -> Node:
        return ("or", *self._flatten("or", node))

    def _flatten(self, op: str, node: Node) -> Iterator[Node]:
        # AND and OR are associative: a AND (b AND c) is a AND b AND c.
        for child in node[1:]:
            child = self.visit(child)
            if child[0] == op:
                yield from child[1:]
            else:
                yield child

    def visit_not(self, node: Node) -> Node:
        inner = self.visit(node[1])
        if inner[0] == "in" and not inner[1]:
            return ("in", True, *inner[2:])
        if inner[0] == "like" and not inner[1]:
            return ("like", True, *inner[2:])
        return ("not", inner)

    def visit_neg(self, node: Node) -> Node:
        inner = self.visit(node[1])
        if inner[0] == "num":
            return ("num", -inner[1])
        return ("neg", inner)

    def visit_bin(self, node: Node) -> Node:
        return ("bin", node[1], self.visit(node[2]), self.visit(node[3]))

    def visit_cmp(self, node: Node) -> Node:
        op = "<>" if node[1] == "!=" else node[1]
        return ("cmp", op, self.visit(node[2]), self.visit(node[3]))

    def visit_between(self, node: Node) -> Node:
        _, negated, subject, low, high = node
        subject, low, high = self.visit(subject), self.visit(low), self.visit(high)
        if negated:
            return ("or", ("cmp", "<", subject, low), ("cmp", ">", subject, high))
        return ("and", ("cmp", ">=", subject, low), ("cmp", "<=", subject, high))

    def visit_in(self, node: Node) -> Node:
        _, negated, subject, items = node
        values = tuple(sorted({self.visit(i) for i in items}, key=repr))
        return ("in", negated, self.visit(subject), values)

    def visit_quantified(self, node: Node) -> Node:
        # PostgreSQL stores x IN ('a', 'b') as x = ANY (ARRAY['a', 'b']).
        _, op, quantifier, subject, inner = node
        inner = self.visit(inner)
        if inner[0] == "array":
            if op == "=" and quantifier == "any":
                return self.visit(("in", False, subject, inner[1]))
            if op in ("<>", "!=") and quantifier == "all":
                return self.visit(("in", True, subject, inner[1]))
        return ("quantified", op, quantifier, self.visit(subject), inner)

    def visit_is(self, node: Node) -> Node:
        return ("is", node[1], self.visit(node[2]), self.visit(node[3]))

    def visit_like(self, node: Node) -> Node:
        return ("like", node[1], node[2], self.visit(node[3]), self.visit(node[4]))

    def visit_call(self, node: Node) -> Node:
        name = self.synonyms.get(node[1], node[1])
        return ("call", name, tuple(self.visit(a) for a in node[2]))

    def visit_array(self, node: Node) -> Node:
        return ("array", tuple(self.visit(i) for i in node[1]))

    def visit_row(self, node: Node) -> Node:
        return ("row", tuple(self.visit(i) for i in node[1]))

    def visit_case(self, node: Node) -> Node:
        _, subject, branches, otherwise = node
        return (
            "case",
            self.visit(subject) if subject is not None else None,
            tuple((self.visit(c), self.visit(r)) for c, r in branches),
            self.visit(otherwise) if otherwise is not None else None,
        )


def _plain_decimal(value: Decimal) -> Decimal:
    # 1.50 and 1.5 are one number; normalize() would turn 100 into 1E+2, so requantize integers.
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return normalized.quantize(Decimal(1))
    return normalized


def render(node: Node | None) -> str:
    """Print a canonical tree: every compound node in parentheses, keywords lower case."""
    if node is None:
        return ""
    kind = node[0]
    printer = _RENDERERS.get(kind)
    if printer is None:
        return repr(node)
    return printer(node)


def _render_str(node: Node) -> str:
    return "'" + str(node[1]).replace("'", "''") + "'"


def _join(items: tuple[Node, ...]) -> str:
    return ", ".join(render(i) for i in items)


_RENDERERS: dict[str, Callable[[Node], str]] = {
    "num": lambda n: str(n[1]),
    "str": _render_str,
    "id": lambda n: n[1],
    "bool": lambda n: "true" if n[1] else "false",
    "null": lambda n: "null",
    "and": lambda n: "(" + " and ".join(render(c) for c in n[1:]) + ")",
    "or": lambda n: "(" + " or ".join(render(c) for c in n[1:]) + ")",
    "not": lambda n: f"(not {render(n[1])})",
    "neg": lambda n: f"(-{render(n[1])})",
    "bin": lambda n: f"({render(n[2])} {n[1]} {render(n[3])})",
    "cmp": lambda n: f"({render(n[2])} {n[1]} {render(n[3])})",
    "in": lambda n: f"({render(n[2])} {'not in' if n[1] else 'in'} ({_join(n[3])}))",
    "quantified": lambda n: f"({render(n[3])} {n[1]} {n[2]}({render(n[4])}))",
    "is": lambda n: f"({render(n[2])} {'is not' if n[1] else 'is'} {render(n[3])})",
    "like": lambda n: f"({render(n[3])} {'not ' if n[1] else ''}{n[2]} {render(n[4])})",
    "call": lambda n: f"{n[1]}({_join(n[2])})",
    "array": lambda n: f"array[{_join(n[1])}]",
    "row": lambda n: f"({_join(n[1])})",
    "case": lambda n: "(case"
    + (f" {render(n[1])}" if n[1] is not None else "")
    + "".join(f" when {render(c)} then {render(r)}" for c, r in n[2])
    + (f" else {render(n[3])}" if n[3] is not None else "")
    + " end)",
}


_CAST_RE = re.compile(
    r"::\s*(?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?(?:\s+(?:varying|precision))?"
    r"(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\s+with(?:out)?\s+time\s+zone)?(?:\s*\[\s*\d*\s*\])*",
    re.I,
)


def crude(text: str) -> str:
    """A last-resort spelling: no casts, quotes, parentheses or spaces, lower case."""
    return re.sub(r"[\s()'\"`\[\]]", "", _CAST_RE.sub("", text)).lower()


Parsed = Union[Node, str]


@functools.lru_cache(maxsize=8192)
def canonical_tree(text: str, dialect: str) -> Parsed:
    """The canonical tree of ``text``, or its :func:`crude` string when it does not parse.

    Cached: the same defaults and checks recur across tables (trees are tuples, never changed).
    """
    try:
        return normalize(parse(text), dialect)
    except (ParseError, RecursionError, IndexError):
        return crude(text)


@functools.lru_cache(maxsize=8192)
def canonical(text: str, dialect: str) -> str:
    """``text`` in its canonical spelling for ``dialect``: equal strings, equal meaning."""
    tree = canonical_tree(text, dialect)
    if isinstance(tree, str):
        return "~" + tree  # marked, so a crude form never equals a parsed one by accident
    return render(tree)


@functools.lru_cache(maxsize=8192)
def columns_in(text: str) -> frozenset[str]:
    """The names an expression refers to (lower case); empty when it does not parse."""
    try:
        tree = parse(text)
    except (ParseError, RecursionError, IndexError):
        return frozenset()
    names: set[str] = set()

    def walk(item: object) -> None:
        if isinstance(item, tuple):
            if len(item) == 2 and item[0] == "id" and isinstance(item[1], str):
                names.add(item[1])
                return
            for child in item:
                walk(child)

    walk(tree)
    names.discard("*")
    return frozenset(names)
