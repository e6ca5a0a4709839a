"""The ``show_if`` condition language of the questionnaire.

A question is asked only when its ``show_if`` condition holds for the answers given so far, e.g.
``actor_type == "company"``, ``"europe" in priorities``, ``satisfaction <= 2`` or
``member == "yes" and not (size in ["micro", "sme"])``. This module turns such a source string
into an immutable `Condition` with a small tokenizer and a recursive-descent parser (never
``eval``), reports syntax errors with their exact position, and evaluates conditions safely.

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    condition  := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := operand [compare_op operand]       -- never chained: a < b < c is an error
    compare_op := "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in"
    operand    := NAME | measure | STRING | NUMBER | "true" | "false" | list
    measure    := ("count" | "length") "(" NAME ")"
    list       := "[" [(STRING | NUMBER) ("," (STRING | NUMBER))*] "]"   -- right of (not) in only

A bare ``NAME`` means "that question has a truthy answer": answered and not false, "" or empty
(a number, even 0, counts as an answer). Every comparison that involves a missing answer (the
name is absent from the answers or maps to None) is false, ``!=`` and ``not in`` included.
Values of different kinds are never equal, ``<``/``<=``/``>``/``>=`` hold only between numbers
(a bool is not a number), and ``x in y`` tests membership in a list literal, a multi-choice set or
a ranking tuple, or a substring of a string. Evaluation never raises.

``count(q)`` is the number of options chosen at question ``q`` (a multi-choice set or a ranking;
1 for a single choice) and ``length(q)`` the number of characters of its text answer; both are 0
when ``q`` is not answered, so ``count(q) == 0`` and ``length(q) == 0`` hold for an unanswered
question. ``count`` and ``length`` are functions only when followed by ``(``: a question may still
be named ``count``. A measure is always compared (``count(q) > 2``), never a condition alone.
"""

from __future__ import annotations

import enum
import operator
import string
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Condition", "ConditionError", "ConditionValue", "parse_condition"]

ConditionValue = str | int | float | bool | frozenset[str] | tuple[str, ...] | None
"""An answer as conditions see it; None (like an absent key) means "not answered"."""

_LiteralValue = str | int | float | bool
_CompareResult = tuple[str, _LiteralValue, int]

_MAX_LENGTH: Final = 500
_MAX_DEPTH: Final = 50

_WHITESPACE: Final = frozenset(" \t\r\n")
_DIGITS: Final = frozenset(string.digits)
_NAME_START: Final = frozenset(string.ascii_letters + "_")
_NAME_CHARS: Final = _NAME_START | _DIGITS
_QUOTES: Final = frozenset("\"'")
_ESCAPABLE: Final = frozenset("\"'\\")
_SHOWN_AS_SPACE: Final = str.maketrans("\t\r\n", "   ")


class ConditionError(ValueError):
    """A syntax error in a condition; `position` is the 0-based offset of the problem."""

    message: str
    position: int
    source: str

    def __init__(self, message: str, position: int, source: str) -> None:
        super().__init__(message, position, source)
        self.message = message
        self.position = position
        self.source = source

    def __str__(self) -> str:
        shown = self.source
        if len(shown) > _MAX_LENGTH:
            shown = shown[:_MAX_LENGTH] + "..."
        caret = max(0, min(self.position, len(shown)))
        shown = shown.translate(_SHOWN_AS_SPACE)
        return f"{self.message} at column {self.position + 1}\n{shown}\n{' ' * caret}^"


# -- tokens ------------------------------------------------------------------------------------


class _Kind(enum.Enum):
    NAME = "name"
    STRING = "string"
    NUMBER = "number"
    TRUE = "true"
    FALSE = "false"
    AND = "and"
    OR = "or"
    NOT = "not"
    IN = "in"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    END = "end"


_KEYWORDS: Final = {
    "and": _Kind.AND,
    "or": _Kind.OR,
    "not": _Kind.NOT,
    "in": _Kind.IN,
    "true": _Kind.TRUE,
    "false": _Kind.FALSE,
}
_PUNCTUATION: Final = {
    "(": _Kind.LPAREN,
    ")": _Kind.RPAREN,
    "[": _Kind.LBRACKET,
    "]": _Kind.RBRACKET,
    ",": _Kind.COMMA,
}
_OPERATORS: Final = ("==", "!=", "<=", ">=", "<", ">")
_LITERAL_KINDS: Final = frozenset({_Kind.STRING, _Kind.NUMBER, _Kind.TRUE, _Kind.FALSE})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int
    value: _LiteralValue | None = None

    def describe(self) -> str:
        if self.kind is _Kind.END:
            return "end of input"
        text = self.text if len(self.text) <= 30 else self.text[:27] + "..."
        if self.kind is _Kind.NAME:
            return f"name {text!r}"
        if self.kind in (_Kind.STRING, _Kind.NUMBER):
            return f"{self.kind.value} {text}"
        if self.kind in _KEYWORDS.values():
            return f"keyword {text!r}"
        return repr(text)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    length = len(source)
    i = 0
    while i < length:
        char = source[i]
        if char in _WHITESPACE:
            i += 1
        elif char in _NAME_START:
            end = i + 1
            while end < length and source[end] in _NAME_CHARS:
                end += 1
            word = source[i:end]
            kind = _KEYWORDS.get(word, _Kind.NAME)
            value = True if kind is _Kind.TRUE else False if kind is _Kind.FALSE else None
            tokens.append(_Token(kind, word, i, value))
            i = end
        elif char in _DIGITS or (char == "-" and source[i + 1 : i + 2] in _DIGITS):
            token = _scan_number(source, i)
            tokens.append(token)
            i += len(token.text)
        elif char in _QUOTES:
            token = _scan_string(source, i)
            tokens.append(token)
            i += len(token.text)
        elif char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, i))
            i += 1
        else:
            op = next((op for op in _OPERATORS if source.startswith(op, i)), None)
            if op is None:
                raise ConditionError(_unexpected_character(char), i, source)
            tokens.append(_Token(_Kind.OP, op, i))
            i += len(op)
    tokens.append(_Token(_Kind.END, "", length))
    return tokens


def _unexpected_character(char: str) -> str:
    hints = {
        "=": ", use '==' to compare",
        "!": ", use '!=' or 'not'",
        "-": ", a '-' must be followed by the digits of a number",
        "&": ", use 'and'",
        "|": ", use 'or'",
    }
    return f"unexpected character {char!r}{hints.get(char, '')}"


def _scan_number(source: str, start: int) -> _Token:
    length = len(source)
    end = start + 1
    while end < length and source[end] in _DIGITS:
        end += 1
    decimal = False
    if end < length and source[end] == ".":
        if end + 1 < length and source[end + 1] in _DIGITS:
            decimal = True
            end += 2
            while end < length and source[end] in _DIGITS:
                end += 1
        else:
            raise ConditionError("invalid number: a digit must follow '.'", end, source)
    if end < length and (source[end] in _NAME_CHARS or source[end] == "."):
        raise ConditionError(
            f"unexpected character {source[end]!r} right after a number", end, source
        )
    text = source[start:end]
    value: int | float = float(text) if decimal else int(text)
    return _Token(_Kind.NUMBER, text, start, value)


def _scan_string(source: str, start: int) -> _Token:
    quote = source[start]
    length = len(source)
    chars: list[str] = []
    i = start + 1
    while i < length:
        char = source[i]
        if char == quote:
            return _Token(_Kind.STRING, source[start : i + 1], start, "".join(chars))
        if char == "\\":
            if i + 1 >= length:
                break
            escaped = source[i + 1]
            if escaped not in _ESCAPABLE:
                shown = f"'\\{escaped}'" if escaped.isprintable() else repr("\\" + escaped)
                raise ConditionError(
                    f"invalid escape sequence {shown} (only \\\", \\' and \\\\ are allowed)",
                    i,
                    source,
                )
            chars.append(escaped)
            i += 2
        else:
            chars.append(char)
            i += 1
    raise ConditionError("unterminated string", start, source)


# -- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class _Literal:
    value: _LiteralValue
    position: int


@dataclass(frozen=True, slots=True)
class _List:
    items: tuple[_Literal, ...]
    position: int
    values: tuple[_LiteralValue, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(item.value for item in self.items))


@dataclass(frozen=True, slots=True)
class _Measure:
    """``count(name)`` or ``length(name)``: a number measured on an answer."""

    function: str
    name: str
    position: int


_Operand = _Name | _Measure | _Literal | _List
_FUNCTIONS: Final = frozenset({"count", "length"})


def _measure(function: str, value: object) -> int:
    if function == "count":
        if isinstance(value, frozenset | set | tuple | list):
            return len(value)
        return 1 if isinstance(value, str) and value else 0
    return len(value) if isinstance(value, str) else 0


def _resolve(operand: _Operand, answers: Mapping[str, ConditionValue]) -> object:
    if isinstance(operand, _Name):
        return answers.get(operand.name)
    if isinstance(operand, _Measure):
        return _measure(operand.function, answers.get(operand.name))
    if isinstance(operand, _Literal):
        return operand.value
    return operand.values


class _Node(ABC):
    __slots__ = ()

    @abstractmethod
    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool: ...

    @abstractmethod
    def names(self) -> Iterator[str]: ...

    @abstractmethod
    def literals(self) -> Iterator[_CompareResult]: ...

    def measures(self) -> Iterator[tuple[str, str, _LiteralValue | None, int]]:
        """(function, question, literal compared with the measure or None, position)."""
        yield from ()


@dataclass(frozen=True, slots=True)
class _Truthy(_Node):
    operand: _Name

    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        return _truthy(answers.get(self.operand.name))

    def names(self) -> Iterator[str]:
        yield self.operand.name

    def literals(self) -> Iterator[_CompareResult]:
        yield from ()


@dataclass(frozen=True, slots=True)
class _Compare(_Node):
    op: str
    left: _Operand
    right: _Operand
    position: int

    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        return _compare(self.op, _resolve(self.left, answers), _resolve(self.right, answers))

    def names(self) -> Iterator[str]:
        for side in (self.left, self.right):
            if isinstance(side, _Name | _Measure):
                yield side.name

    def measures(self) -> Iterator[tuple[str, str, _LiteralValue | None, int]]:
        for measure, other in ((self.left, self.right), (self.right, self.left)):
            if isinstance(measure, _Measure):
                literal = other.value if isinstance(other, _Literal) else None
                yield measure.function, measure.name, literal, measure.position

    def literals(self) -> Iterator[_CompareResult]:
        for name, other in ((self.left, self.right), (self.right, self.left)):
            if not isinstance(name, _Name):
                continue
            if isinstance(other, _Literal):
                yield name.name, other.value, other.position
            elif isinstance(other, _List):
                for item in other.items:
                    yield name.name, item.value, item.position


@dataclass(frozen=True, slots=True)
class _Not(_Node):
    operand: _Node

    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        return not self.operand.evaluate(answers)

    def names(self) -> Iterator[str]:
        return self.operand.names()

    def literals(self) -> Iterator[_CompareResult]:
        return self.operand.literals()

    def measures(self) -> Iterator[tuple[str, str, _LiteralValue | None, int]]:
        return self.operand.measures()


@dataclass(frozen=True, slots=True)
class _Junction(_Node):
    """`and` / `or` over several operands: what they name and compare is their operands'."""

    operands: tuple[_Node, ...]

    def names(self) -> Iterator[str]:
        for operand in self.operands:
            yield from operand.names()

    def literals(self) -> Iterator[_CompareResult]:
        for operand in self.operands:
            yield from operand.literals()

    def measures(self) -> Iterator[tuple[str, str, _LiteralValue | None, int]]:
        for operand in self.operands:
            yield from operand.measures()


@dataclass(frozen=True, slots=True)
class _And(_Junction):
    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        return all(operand.evaluate(answers) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class _Or(_Junction):
    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        return any(operand.evaluate(answers) for operand in self.operands)


# -- evaluation --------------------------------------------------------------------------------


_KINDS: Final[dict[type, str | None]] = {
    type(None): None,
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    frozenset: "set",
    set: "set",
    tuple: "sequence",
    list: "sequence",
}
"""The kinds of the exact types answers have: one look-up on the path of every condition."""


def _kind(value: object) -> str | None:
    """The kind of a value for comparisons; None for a missing or unsupported value."""
    kind = _KINDS.get(type(value), "")
    if kind != "":
        return kind
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, frozenset | set):
        return "set"
    if isinstance(value, tuple | list):
        return "sequence"
    return None


def _truthy(value: object) -> bool:
    kind = _kind(value)
    if kind == "bool":
        return value is True
    if kind == "number":
        return True
    if isinstance(value, str | frozenset | set | tuple | list):
        return len(value) > 0
    return False


def _equal(left: object, right: object) -> bool:
    kind = _kind(left)
    if kind is None or kind != _kind(right):
        return False
    if kind == "sequence":
        assert isinstance(left, tuple | list) and isinstance(right, tuple | list)
        return tuple(left) == tuple(right)
    return left == right


def _contains(needle: object, haystack: object) -> bool:
    if isinstance(haystack, str):
        return isinstance(needle, str) and needle in haystack
    if isinstance(haystack, frozenset | set | tuple | list):
        return any(_equal(needle, item) for item in haystack)
    return False


_ORDERINGS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: object, right: object) -> bool:
    left_kind = _kind(left)
    right_kind = _kind(right)
    if left_kind is None or right_kind is None:
        return False
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _contains(left, right)
    if op == "not in":
        return not _contains(left, right)
    if left_kind == right_kind == "number":
        assert isinstance(left, int | float) and isinstance(right, int | float)
        return _ORDERINGS[op](left, right)
    return False


# -- parser ------------------------------------------------------------------------------------

_EXPECTED_CONDITION: Final = "a condition (a question name, 'not' or '(')"
_EXPECTED_VALUE: Final = "a value (a question name, a string, a number, true, false or a list)"
_LIST_MISUSED: Final = "a list literal can only be used on the right of 'in' or 'not in'"


class _Parser:
    def __init__(self, source: str, tokens: list[_Token]) -> None:
        self._source = source
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def _error(self, message: str, position: int) -> ConditionError:
        return ConditionError(message, position, self._source)

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _Kind.END:
            self._index += 1
        return token

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > _MAX_DEPTH:
            raise self._error(
                f"condition nested too deeply (more than {_MAX_DEPTH} levels of "
                "parentheses and 'not')",
                token.position,
            )

    def parse(self) -> _Node:
        if self._peek().kind is _Kind.END:
            raise self._error("empty condition", 0)
        node = self._or()
        token = self._peek()
        if token.kind is _Kind.RPAREN:
            raise self._error("unbalanced parentheses: ')' without a matching '('", token.position)
        if token.kind is not _Kind.END:
            raise self._error(
                f"trailing input: unexpected {token.describe()}, expected 'and', 'or' "
                "or the end of the condition",
                token.position,
            )
        return node

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._peek().kind is _Kind.OR:
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def _and(self) -> _Node:
        operands = [self._not()]
        while self._peek().kind is _Kind.AND:
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def _not(self) -> _Node:
        token = self._peek()
        if token.kind is _Kind.NOT:
            self._advance()
            self._enter(token)
            operand = self._not()
            self._depth -= 1
            return _Not(operand)
        if token.kind is _Kind.LPAREN:
            return self._group()
        return self._comparison()

    def _group(self) -> _Node:
        opening = self._advance()
        self._enter(opening)
        if self._peek().kind is _Kind.RPAREN:
            raise self._error("empty parentheses", opening.position)
        inner = self._or()
        closing = self._peek()
        if closing.kind is _Kind.END:
            raise self._error("unbalanced parentheses: '(' is never closed", opening.position)
        if closing.kind is not _Kind.RPAREN:
            raise self._error(
                f"unexpected {closing.describe()}, expected 'and', 'or' or ')'", closing.position
            )
        self._advance()
        self._depth -= 1
        after = self._peek()
        if self._at_comparison_operator():
            raise self._error(
                f"unexpected {after.describe()}: a parenthesized condition cannot be compared",
                after.position,
            )
        return inner

    def _at_comparison_operator(self) -> bool:
        kind = self._peek().kind
        if kind is _Kind.NOT:
            return self._peek(1).kind is _Kind.IN
        return kind in (_Kind.OP, _Kind.IN)

    def _comparison(self) -> _Node:
        left = self._operand(_EXPECTED_CONDITION)
        if isinstance(left, _List):
            raise self._error(_LIST_MISUSED, left.position)
        operator_token = self._peek()
        op = self._comparison_operator()
        if op is None:
            if isinstance(left, _Name):
                return _Truthy(left)
            if isinstance(left, _Measure):
                raise self._error(
                    f"{left.function}({left.name}) alone is not a condition: compare it with a "
                    "number, e.g. > 0",
                    left.position,
                )
            raise self._error(
                "a literal alone is not a condition: compare it with a question", left.position
            )
        right = self._operand(_EXPECTED_VALUE)
        if isinstance(right, _List) and op not in ("in", "not in"):
            raise self._error(_LIST_MISUSED, right.position)
        if not isinstance(left, _Name | _Measure) and not isinstance(right, _Name | _Measure):
            raise self._error(
                "comparison of two literals: a condition must mention a question", left.position
            )
        if self._at_comparison_operator():
            raise self._error(
                "comparisons cannot be chained: combine them with 'and'", self._peek().position
            )
        return _Compare(op, left, right, operator_token.position)

    def _comparison_operator(self) -> str | None:
        token = self._peek()
        if token.kind is _Kind.OP:
            self._advance()
            return token.text
        if token.kind is _Kind.IN:
            self._advance()
            return "in"
        if token.kind is _Kind.NOT:
            following = self._peek(1)
            if following.kind is not _Kind.IN:
                raise self._error(
                    f"unexpected {following.describe()} after 'not', expected 'in'",
                    following.position,
                )
            self._advance()
            self._advance()
            return "not in"
        return None

    def _operand(self, expected: str) -> _Operand:
        token = self._peek()
        if token.kind is _Kind.NAME:
            self._advance()
            if self._peek().kind is _Kind.LPAREN:
                return self._measure_call(token)
            return _Name(token.text, token.position)
        if token.kind in _LITERAL_KINDS and token.value is not None:
            self._advance()
            return _Literal(token.value, token.position)
        if token.kind is _Kind.LBRACKET:
            return self._list()
        raise self._error(f"unexpected {token.describe()}, expected {expected}", token.position)

    def _measure_call(self, function: _Token) -> _Measure:
        if function.text not in _FUNCTIONS:
            raise self._error(
                f"unknown function {function.text!r}: the functions are count(question) and "
                "length(question)",
                function.position,
            )
        self._advance()
        argument = self._peek()
        if argument.kind is not _Kind.NAME:
            raise self._error(
                f"unexpected {argument.describe()}, expected a question name in "
                f"{function.text}(...)",
                argument.position,
            )
        self._advance()
        closing = self._peek()
        if closing.kind is not _Kind.RPAREN:
            raise self._error(
                f"unexpected {closing.describe()}, expected ')' after {function.text}"
                f"({argument.text}",
                closing.position,
            )
        self._advance()
        return _Measure(function.text, argument.text, function.position)

    def _list(self) -> _List:
        opening = self._advance()
        items: list[_Literal] = []
        if self._peek().kind is _Kind.RBRACKET:
            self._advance()
            return _List((), opening.position)
        while True:
            token = self._peek()
            if token.kind is _Kind.END:
                break
            if token.kind not in (_Kind.STRING, _Kind.NUMBER) or token.value is None:
                raise self._error(
                    f"unexpected {token.describe()}, expected a string or a number in the list",
                    token.position,
                )
            self._advance()
            items.append(_Literal(token.value, token.position))
            token = self._peek()
            if token.kind is _Kind.RBRACKET:
                self._advance()
                return _List(tuple(items), opening.position)
            if token.kind is _Kind.END:
                break
            if token.kind is not _Kind.COMMA:
                raise self._error(
                    f"unexpected {token.describe()}, expected ',' or ']'", token.position
                )
            self._advance()
        raise self._error("unbalanced brackets: '[' is never closed", opening.position)


# -- public API --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed ``show_if`` condition; build one with `parse_condition`."""

    source: str
    _root: _Node = field(repr=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Asked at every step of a participant (progress), so known once.
        object.__setattr__(self, "_names", frozenset(self._root.names()))

    def evaluate(self, answers: Mapping[str, ConditionValue]) -> bool:
        """Whether the condition holds; a name absent from `answers` is an unanswered question."""
        return self._root.evaluate(answers)

    def references(self) -> frozenset[str]:
        """The names of every question the condition mentions."""
        return self._names

    def compared_literals(self) -> tuple[tuple[str, str | int | float | bool, int], ...]:
        """(question, literal, position of the literal) for each literal compared with a question.

        In source order; each element of a list literal counts, and so does the literal of
        ``"a" in question``. Comparisons between two questions contribute nothing.
        """
        return tuple(self._root.literals())

    def measures(self) -> tuple[tuple[str, str, str | int | float | bool | None, int], ...]:
        """(function, question, literal, position of the function) for each ``count(q)`` or
        ``length(q)``, in source order; the literal is what the measure is compared with (None
        when it is compared with a question)."""
        return tuple(self._root.measures())


def parse_condition(source: str) -> Condition:
    """Parse a ``show_if`` condition; raise `ConditionError` if it is not well formed."""
    if not isinstance(source, str):
        raise TypeError(f"a condition must be a string, not {type(source).__name__}")
    if len(source) > _MAX_LENGTH:
        raise ConditionError(
            f"condition too long ({len(source)} characters, at most {_MAX_LENGTH})",
            _MAX_LENGTH,
            source,
        )
    return Condition(source, _Parser(source, _tokenize(source)).parse())
