"""Translate an XLSForm ``relevant`` (the XPath subset real forms use) into a ``show_if``.

Understood: ``${q} = 'x'``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (with numbers), ``selected(${q},
'x')``, ``not(...)``, ``and``, ``or``, parentheses, ``count-selected(${q}) > n``,
``string-length(${q}) > 0``, and a bare ``${q}`` ("answered"). Anything else (arithmetic,
other functions, ``.``, comparisons between a function and a field, ...) raises `Untranslatable`
with the reason. The translation knows the type of each field so that it keeps XPath's meaning:
an unanswered field is the empty string in XPath, so ``${q} != 'x'`` holds when ``q`` is not
answered and becomes ``not (q == "x")``, and ``${q} = ''`` becomes ``not q``.

Pure: a tokenizer and a recursive-descent parser, never ``eval``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Field", "Untranslatable", "references", "translate_relevant"]

CHOICE = "single_choice"
MULTI = "multi_choice"
RANKING = "ranking"
NUMBER = "number"
SCALE = "scale"
TEXT = "text"
CONSENT = "consent"


@dataclass(frozen=True)
class Field:
    """A question a condition may name: its id in the questionnaire, its type, its options
    (original choice name -> option id)."""

    id: str
    type: str
    options: Mapping[str, str] = field(default_factory=dict)


class Untranslatable(ValueError):
    """The expression uses something the ``show_if`` language cannot say; the text says what."""


# -- tokens -------------------------------------------------------------------------------------

_TOKEN: Final = re.compile(
    r"""\s*(?:
      (?P<ref>\$\{\s*(?P<refname>[^}\s]*)\s*\})
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d+)?|\.\d+)
    | (?P<op>!=|<=|>=|=|<|>|\(|\)|,|\+|-|\*|\||/|\.\.|\.|\[|\]|@)
    | (?P<word>[A-Za-z_][A-Za-z0-9_:.-]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    value: str | float = ""


def _tokens(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    position = 0
    source = source.strip()
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None or match.end() == position:
            raise Untranslatable(f"cannot read {source[position : position + 20]!r}")
        position = match.end()
        if match.group("ref") is not None:
            tokens.append(_Tok("ref", match.group("ref"), match.group("refname")))
        elif match.group("string") is not None:
            text = match.group("string")
            tokens.append(_Tok("string", text, text[1:-1]))
        elif match.group("number") is not None:
            text = match.group("number")
            tokens.append(_Tok("number", text, float(text)))
        elif match.group("op") is not None:
            tokens.append(_Tok("op", match.group("op")))
        else:
            tokens.append(_Tok("word", match.group("word")))
    tokens.append(_Tok("end", ""))
    return tokens


# -- syntax tree --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    name: str


@dataclass(frozen=True)
class _Str:
    value: str


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Cmp:
    op: str
    left: _Expr
    right: _Expr


@dataclass(frozen=True)
class _Bool:
    op: str  # "and" | "or"
    parts: tuple[_Expr, ...]


@dataclass(frozen=True)
class _Not:
    inner: _Expr


_Expr = _Ref | _Str | _Num | _Call | _Cmp | _Bool | _Not

_COMPARISONS: Final = ("=", "!=", "<", "<=", ">", ">=")
_FLIPPED: Final = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.index = 0

    def peek(self) -> _Tok:
        return self.tokens[self.index]

    def take(self) -> _Tok:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise Untranslatable(f"expected {text!r}, found {token.text or 'the end'!r}")

    def parse(self) -> _Expr:
        if self.peek().kind == "end":
            raise Untranslatable("empty expression")
        expr = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise Untranslatable(f"unexpected {token.text!r}")
        return expr

    def or_expr(self) -> _Expr:
        parts = [self.and_expr()]
        while self.peek().kind == "word" and self.peek().text == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else _Bool("or", tuple(parts))

    def and_expr(self) -> _Expr:
        parts = [self.comparison()]
        while self.peek().kind == "word" and self.peek().text == "and":
            self.take()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))

    def comparison(self) -> _Expr:
        left = self.primary()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            self.take()
            right = self.primary()
            after = self.peek()
            if after.kind == "op" and after.text in _COMPARISONS:
                raise Untranslatable("chained comparison")
            return _Cmp(token.text, left, right)
        if token.kind == "op" and token.text in ("+", "-", "*", "|", "/"):
            raise Untranslatable(f"arithmetic or path operator {token.text!r}")
        if token.kind == "word" and token.text in ("div", "mod"):
            raise Untranslatable(f"arithmetic operator {token.text!r}")
        return left

    def primary(self) -> _Expr:
        token = self.take()
        if token.kind == "ref":
            assert isinstance(token.value, str)
            return _Ref(token.value)
        if token.kind == "string":
            assert isinstance(token.value, str)
            return _Str(token.value)
        if token.kind == "number":
            assert isinstance(token.value, float)
            return _Num(token.value)
        if token.kind == "op" and token.text == "-" and self.peek().kind == "number":
            number = self.take().value
            assert isinstance(number, float)
            return _Num(-number)
        if token.kind == "op" and token.text == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "word" and self.peek().text == "(":
            self.take()
            args: list[_Expr] = []
            if self.peek().text != ")":
                args.append(self.or_expr())
                while self.peek().text == ",":
                    self.take()
                    args.append(self.or_expr())
            self.expect(")")
            if token.text == "not":
                if len(args) != 1:
                    raise Untranslatable("not() takes one argument")
                return _Not(args[0])
            return _Call(token.text, tuple(args))
        if token.kind == "op" and token.text == ".":
            raise Untranslatable("'.' (the current field) is not supported in relevant")
        if token.kind == "end":
            raise Untranslatable("the expression ends too early")
        raise Untranslatable(f"unexpected {token.text!r}")


# -- translation --------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _as_number(expr: _Expr) -> float | None:
    if isinstance(expr, _Num):
        return expr.value
    if isinstance(expr, _Str):
        try:
            return float(expr.value.strip())
        except ValueError:
            return None
    return None


def _literal_text(expr: _Expr) -> str | None:
    if isinstance(expr, _Str):
        return expr.value
    if isinstance(expr, _Num):
        return _number(expr.value)
    return None


def _negate(op: str, condition: str) -> str:
    return f"not ({condition})" if op == "!=" else condition


class _Translator:
    def __init__(self, lookup: Callable[[str], Field | None]) -> None:
        self.lookup = lookup

    def field(self, ref: _Ref) -> Field:
        found = self.lookup(ref.name)
        if found is None:
            raise Untranslatable(f"${{{ref.name}}} is not a question asked before this one")
        return found

    def option(self, target: Field, value: str) -> str:
        option = target.options.get(value)
        if option is None:
            raise Untranslatable(f"{value!r} is not a choice of ${{{target.id}}}")
        return option

    def expr(self, node: _Expr) -> str:
        if isinstance(node, _Bool):
            parts = [self.expr(part) for part in node.parts]
            wrapped = [f"({p})" if (" and " in p or " or " in p) else p for p in parts]
            return f" {node.op} ".join(wrapped)
        if isinstance(node, _Not):
            return f"not ({self.expr(node.inner)})"
        if isinstance(node, _Cmp):
            return self.compare(node)
        if isinstance(node, _Ref):
            return self.field(node).id
        if isinstance(node, _Call):
            if node.name == "selected":
                return self.selected(node)
            if node.name == "count-selected":
                return self.measure(_Cmp(">", node, _Num(0)))
            raise Untranslatable(f"function {node.name}() is not supported")
        raise Untranslatable("a value alone is not a condition")

    def selected(self, node: _Call) -> str:
        if len(node.args) != 2 or not isinstance(node.args[0], _Ref):
            raise Untranslatable("selected() takes a field and a choice")
        target = self.field(node.args[0])
        value = _literal_text(node.args[1])
        if value is None:
            raise Untranslatable("selected() must name a choice between quotes")
        if target.type not in (CHOICE, MULTI, RANKING):
            raise Untranslatable(f"selected() on ${{{node.args[0].name}}}, not a select question")
        option = self.option(target, value)
        if target.type == CHOICE:
            return f"{target.id} == {_quote(option)}"
        return f"{_quote(option)} in {target.id}"

    def compare(self, node: _Cmp) -> str:
        left, right, op = node.left, node.right, node.op
        if not isinstance(left, _Ref | _Call) and isinstance(right, _Ref | _Call):
            left, right, op = right, left, _FLIPPED[op]
        if isinstance(left, _Call):
            return self.measure(_Cmp(op, left, right))
        if not isinstance(left, _Ref):
            raise Untranslatable("a comparison must name a field")
        target = self.field(left)
        if isinstance(right, _Ref):
            other = self.field(right)
            if op in ("=", "!=") and target.type == other.type:
                return _negate(op, f"{target.id} == {other.id}")
            if target.type in (NUMBER, SCALE) and other.type in (NUMBER, SCALE):
                return f"{target.id} {op} {other.id}"
            raise Untranslatable("this comparison of two fields is not supported")
        text = _literal_text(right)
        if text is None:
            raise Untranslatable("a field can only be compared with a value or a field")
        if op in ("=", "!=") and text == "":
            return f"not {target.id}" if op == "=" else target.id
        kind = target.type
        if kind in (NUMBER, SCALE):
            number = _as_number(right)
            if number is None:
                raise Untranslatable(f"${{{left.name}}} is a number, compared with {text!r}")
            if op in ("=", "!="):
                return _negate(op, f"{target.id} == {_number(number)}")
            return f"{target.id} {op} {_number(number)}"
        if op not in ("=", "!="):
            raise Untranslatable(f"'{op}' on ${{{left.name}}}, which is not a number")
        if kind == CHOICE:
            return _negate(op, f"{target.id} == {_quote(self.option(target, text))}")
        if kind in (MULTI, RANKING):
            option = _quote(self.option(target, text))
            return _negate(op, f"({option} in {target.id} and count({target.id}) == 1)")
        if kind == CONSENT:
            if text.strip().lower() not in ("ok", "1", "true", "yes"):
                raise Untranslatable(
                    f"${{{left.name}}} is an acknowledgement, compared with {text!r}"
                )
            return _negate(op, f"{target.id} == true")
        return _negate(op, f"{target.id} == {_quote(text)}")

    def measure(self, node: _Cmp) -> str:
        call = node.left
        assert isinstance(call, _Call)
        if call.name not in ("count-selected", "string-length"):
            raise Untranslatable(f"function {call.name}() is not supported")
        if len(call.args) != 1 or not isinstance(call.args[0], _Ref):
            raise Untranslatable(f"{call.name}() must name one field, e.g. {call.name}(${{q}})")
        target = self.field(call.args[0])
        bound = _as_number(node.right)
        if bound is None:
            raise Untranslatable(f"{call.name}() must be compared with a number")
        op = "==" if node.op == "=" else node.op
        function = "count" if call.name == "count-selected" else "length"
        fits = (
            target.type in (CHOICE, MULTI, RANKING) if function == "count" else target.type == TEXT
        )
        if fits:
            return f"{function}({target.id}) {op} {_number(bound)}"
        # A measure of another kind of answer: only "answered or not" can be said.
        answered = {(">", 0.0), (">=", 1.0), ("!=", 0.0)}
        unanswered = {("==", 0.0), ("<", 1.0), ("<=", 0.0)}
        if (op, bound) in answered:
            return target.id
        if (op, bound) in unanswered:
            return f"not {target.id}"
        raise Untranslatable(f"{call.name}() of ${{{call.args[0].name}}}, a {target.type}")


def _walk_refs(node: _Expr) -> list[str]:
    if isinstance(node, _Ref):
        return [node.name]
    if isinstance(node, _Call):
        return [name for arg in node.args for name in _walk_refs(arg)]
    if isinstance(node, _Cmp):
        return _walk_refs(node.left) + _walk_refs(node.right)
    if isinstance(node, _Bool):
        return [name for part in node.parts for name in _walk_refs(part)]
    if isinstance(node, _Not):
        return _walk_refs(node.inner)
    return []


_REF_RE: Final = re.compile(r"\$\{\s*([^}\s]*)\s*\}")


def references(source: str) -> list[str]:
    """The field names an expression mentions as ``${name}``, in order (even when it cannot be
    parsed)."""
    return _REF_RE.findall(source)


def translate_relevant(source: str, lookup: Callable[[str], Field | None]) -> str:
    """The ``show_if`` equivalent of an XLSForm ``relevant``; `lookup` gives the questions asked
    before (by their name in the form). Raises `Untranslatable`."""
    tree = _Parser(source).parse()
    return _Translator(lookup).expr(tree)
