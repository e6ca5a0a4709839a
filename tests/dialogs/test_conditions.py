"""Tests of the `show_if` condition language: parsing, errors, evaluation, properties."""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dialogs.conditions import Condition, ConditionError, ConditionValue, parse_condition


def ev(source: str, **answers: ConditionValue) -> bool:
    return parse_condition(source).evaluate(answers)


# -- precedence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # or binds looser than and: true or (false and false)
        ("t or f and f", True),
        ("(t or f) and f", False),
        # not binds tighter than and: (not f) and t
        ("not f and t", True),
        ("not (f and t)", True),
        ("not t and f", False),
        ("not (t and f)", True),
        # not binds tighter than or: (not t) or t
        ("not t or t", True),
        ("not (t or t)", False),
        ("not not t", True),
        ("f and f or t", True),
        ("f and (f or t)", False),
        ("t or t and f", True),
        ("(t or t) and f", False),
        # not applies to a whole comparison
        ("not n == 1", False),
        ("not n == 2", True),
        ("t and f or t and t", True),
        ("t and (f or t) and t", True),
        ("f or f or f or t", True),
        ("t and t and t and f", False),
    ],
)
def test_precedence(source: str, expected: bool) -> None:
    assert ev(source, t=True, f=False, n=1) is expected


def test_and_or_short_circuit_do_not_matter_for_missing() -> None:
    assert ev("a or b", b="x") is True
    assert ev("a and b", b="x") is False


# -- operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "answers", "expected"),
    [
        ('actor_type == "company"', {"actor_type": "company"}, True),
        ('actor_type == "company"', {"actor_type": "ngo"}, False),
        ("actor_type == 'company'", {"actor_type": "company"}, True),
        ('actor_type != "company"', {"actor_type": "ngo"}, True),
        ('actor_type != "company"', {"actor_type": "company"}, False),
        ('"company" == actor_type', {"actor_type": "company"}, True),
        ("satisfaction <= 2", {"satisfaction": 2}, True),
        ("satisfaction <= 2", {"satisfaction": 3}, False),
        ("satisfaction < 2", {"satisfaction": 2}, False),
        ("satisfaction < 2", {"satisfaction": 1}, True),
        ("satisfaction > 2", {"satisfaction": 3}, True),
        ("satisfaction > 2", {"satisfaction": 2}, False),
        ("satisfaction >= 2", {"satisfaction": 2}, True),
        ("satisfaction >= 2", {"satisfaction": 1}, False),
        ("2 >= satisfaction", {"satisfaction": 1}, True),
        ("2 < satisfaction", {"satisfaction": 1}, False),
        ("satisfaction == 2", {"satisfaction": 2.0}, True),
        ("satisfaction == 2.0", {"satisfaction": 2}, True),
        ("satisfaction < 2.5", {"satisfaction": 2}, True),
        ("amount > -1", {"amount": 0}, True),
        ("amount > -1.5", {"amount": -1.25}, True),
        ("amount<-1", {"amount": -3}, True),
        ("amount==-0", {"amount": 0}, True),
        ("consent == true", {"consent": True}, True),
        ("consent == false", {"consent": True}, False),
        ("consent != false", {"consent": True}, True),
        ("a == b", {"a": "x", "b": "x"}, True),
        ("a == b", {"a": "x", "b": "y"}, False),
        ("a < b", {"a": 1, "b": 2}, True),
        ("a == b", {"a": frozenset({"x", "y"}), "b": frozenset({"y", "x"})}, True),
        ("a == b", {"a": ("x", "y"), "b": ("y", "x")}, False),
        ("a == b", {"a": ("x",), "b": frozenset({"x"})}, False),
        ('s == "a\\"b"', {"s": 'a"b'}, True),
        ("s == 'a\\'b'", {"s": "a'b"}, True),
        ('s == "a\\\\b"', {"s": "a\\b"}, True),
        ("s == 'say \"hi\"'", {"s": 'say "hi"'}, True),
        ('s == ""', {"s": ""}, True),
        ('s == "été"', {"s": "été"}, True),
    ],
)
def test_comparison_operators(
    source: str, answers: Mapping[str, ConditionValue], expected: bool
) -> None:
    assert parse_condition(source).evaluate(answers) is expected


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ('size in ["micro", "sme"]', "sme", True),
        ('size in ["micro", "sme"]', "large", False),
        ('size not in ["micro", "sme"]', "large", True),
        ('size not in ["micro", "sme"]', "micro", False),
        ("size in []", "micro", False),
        ("size not in []", "micro", True),
        ("n in [1, 2.5, 3]", 2.5, True),
        ("n in [1, 2.5, 3]", 1.0, True),
        ("n in [1, 2.5, 3]", 4, False),
        ('n in ["1"]', 1, False),
        ("n in [1]", True, False),
        ('"europe" in priorities', frozenset({"europe", "health"}), True),
        ('"europe" in priorities', frozenset({"health"}), False),
        ('"europe" in priorities', frozenset(), False),
        ('"europe" not in priorities', frozenset({"health"}), True),
        ('"europe" not in priorities', frozenset({"europe"}), False),
        ('"b" in ranking', ("a", "b"), True),
        ('"c" in ranking', ("a", "b"), False),
        ('"c" not in ranking', ("a", "b"), True),
        ('"bc" in text', "abcd", True),
        ('"x" in text', "abcd", False),
        ('"x" not in text', "abcd", True),
        ('"" in text', "", True),
        ("1 in text", "a1", False),
        ("1 not in text", "a1", True),
        ('"a" in number', 5, False),
        ('"a" in flag', True, False),
        ('"a" not in number', 5, True),
    ],
)
def test_in_and_not_in(source: str, value: ConditionValue, expected: bool) -> None:
    condition = parse_condition(source)
    (name,) = condition.references()
    assert condition.evaluate({name: value}) is expected


def test_in_between_two_answers() -> None:
    condition = parse_condition("choice in chosen")
    assert condition.evaluate({"choice": "a", "chosen": frozenset({"a", "b"})}) is True
    assert condition.evaluate({"choice": "c", "chosen": frozenset({"a", "b"})}) is False
    assert condition.evaluate({"choice": "a"}) is False
    assert condition.evaluate({"chosen": frozenset({"a"})}) is False


# -- truthiness of a bare name -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (True, True),
        (False, False),
        ("", False),
        ("x", True),
        (" ", True),
        (0, True),
        (0.0, True),
        (7, True),
        (frozenset(), False),
        (frozenset({"a"}), True),
        ((), False),
        (("a",), True),
    ],
)
def test_bare_name_means_a_truthy_answer(value: ConditionValue, expected: bool) -> None:
    assert parse_condition("q").evaluate({"q": value}) is expected
    assert parse_condition("not q").evaluate({"q": value}) is (not expected)


def test_bare_name_missing() -> None:
    assert parse_condition("q").evaluate({}) is False
    assert parse_condition("not q").evaluate({}) is True
    assert ev("q and r", q="x", r=True) is True


# -- missing answers and type mismatches -------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        'a == "x"',
        'a != "x"',
        "a < 1",
        "a <= 1",
        "a > 1",
        "a >= 1",
        'a in ["x"]',
        'a not in ["x"]',
        '"x" in a',
        '"x" not in a',
        "a == b",
        "a != b",
        "a in b",
        "a not in b",
        "a == true",
        "a != false",
    ],
)
def test_any_comparison_with_a_missing_answer_is_false(source: str) -> None:
    condition = parse_condition(source)
    assert condition.evaluate({}) is False
    assert condition.evaluate({"a": None, "b": None}) is False
    assert condition.evaluate({"b": "x"}) is False
    assert parse_condition(f"not ({source})").evaluate({}) is True


def test_missing_on_one_side_of_two_answers() -> None:
    assert ev("a != b", a="x") is False
    assert ev("a != b", b="x") is False
    assert ev("a not in b", a="x", b=None) is False


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ('n == "1"', 1, False),
        ('n != "1"', 1, True),
        ("s == 1", "1", False),
        ("s != 1", "1", True),
        ("b == 1", True, False),
        ("b != 1", True, True),
        ("b == 0", False, False),
        ("n == true", 1, False),
        ("n != true", 1, True),
        ("b > 0", True, False),
        ("b >= 0", False, False),
        ('s < "b"', "a", False),
        ('s >= "a"', "a", False),
        ("s < 1", "0", False),
        ("s > 1", "2", False),
        ("m == 1", frozenset({"1"}), False),
        ('m == "a"', frozenset({"a"}), False),
        ('m != "a"', frozenset({"a"}), True),
        ('r == "a"', ("a",), False),
        ("r > 1", ("a",), False),
        ("n < 1", math.nan, False),
        ("n == 1", math.nan, False),
        ("n != 1", math.nan, True),
        ("n > 10", math.inf, True),
        ("n < 1.5", 10**400, False),
    ],
)
def test_type_mismatches_never_raise(source: str, value: ConditionValue, expected: bool) -> None:
    condition = parse_condition(source)
    (name,) = condition.references()
    assert condition.evaluate({name: value}) is expected


def test_unsupported_runtime_values_count_as_missing() -> None:
    # Not ConditionValues, but an answer store might hand them over: no crash, no match.
    answers: dict[str, Any] = {"a": {"x": 1}, "b": object()}
    for source in ['a == "x"', "a != 1", "b != 1", '"x" in a', "a", "a not in b"]:
        assert parse_condition(source).evaluate(answers) is False


def test_lists_and_sets_behave_like_tuples_and_frozensets() -> None:
    answers: dict[str, Any] = {"r": ["a", "b"], "m": {"a"}, "t": ("a", "b")}
    assert parse_condition('"b" in r').evaluate(answers) is True
    assert parse_condition('"a" in m').evaluate(answers) is True
    assert parse_condition("r == t").evaluate(answers) is True
    assert parse_condition("r").evaluate(answers) is True


# -- references and compared literals ----------------------------------------------------------


def test_references() -> None:
    condition = parse_condition(
        'member == "yes" and not (size in ["micro", "sme"]) or x or a < b or "eu" in prio'
    )
    assert condition.references() == frozenset({"member", "size", "x", "a", "b", "prio"})
    assert parse_condition("q").references() == frozenset({"q"})
    assert parse_condition("q == 1 and q != 2").references() == frozenset({"q"})


def test_keywords_are_case_sensitive_and_not_names() -> None:
    assert parse_condition("AND == True").references() == frozenset({"AND", "True"})
    assert parse_condition("_x1 or android or notice or inn").references() == frozenset(
        {"_x1", "android", "notice", "inn"}
    )


def test_compared_literals() -> None:
    source = (
        'member == "yes" and not (size in ["micro", "sme"]) or "eu" in prio '
        "or 2 >= sat or a == b or flag or c == true or d not in [1.5]"
    )
    condition = parse_condition(source)
    literals = condition.compared_literals()
    assert literals == (
        ("member", "yes", source.index('"yes"')),
        ("size", "micro", source.index('"micro"')),
        ("size", "sme", source.index('"sme"')),
        ("prio", "eu", source.index('"eu"')),
        ("sat", 2, source.index("2 >=")),
        ("c", True, source.index("true")),
        ("d", 1.5, source.index("1.5")),
    )
    for _, literal, position in literals:
        assert type(literal) in (str, int, float, bool)
        assert 0 <= position < len(source)


def test_compared_literals_values_are_unescaped_and_typed() -> None:
    condition = parse_condition("q == 'it\\'s' or q == -3 or q == 2.50 or q in []")
    assert condition.compared_literals() == (("q", "it's", 5), ("q", -3, 21), ("q", 2.5, 32))
    assert type(condition.compared_literals()[1][1]) is int
    assert type(condition.compared_literals()[2][1]) is float


def test_condition_object() -> None:
    condition = parse_condition("a == 1")
    assert isinstance(condition, Condition)
    assert condition.source == "a == 1"
    assert condition == parse_condition("a == 1")
    assert hash(condition) == hash(parse_condition("a == 1"))
    assert "a == 1" in repr(condition)
    with pytest.raises(AttributeError):
        condition.source = "b"  # type: ignore[misc]


def test_whitespace_is_free() -> None:
    assert ev("a==1 and(b)or(c)", a=1, b="x") is True
    assert ev(" \n\ta  ==\n 1 \r\n", a=1) is True
    assert ev('x in["a","b"]', x="b") is True


def test_non_string_source_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_condition(True)  # type: ignore[arg-type]


# -- parse errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("", 0, "empty condition"),
        ("   ", 0, "empty condition"),
        ("a == 1 $", 7, "unexpected character '$'"),
        ("a = 1", 2, "unexpected character '='"),
        ("a ! b", 2, "unexpected character '!'"),
        ("a == 1 && b", 7, "unexpected character '&'"),
        ("a == .5", 5, "unexpected character '.'"),
        ("a == - 1", 5, "unexpected character '-'"),
        ('a == "abc', 5, "unterminated string"),
        ("a == 'abc\\'", 5, "unterminated string"),
        ('a == "abc\\', 5, "unterminated string"),
        ('a == "a\\nb"', 7, "invalid escape sequence '\\n'"),
        ("a == 1.", 6, "a digit must follow '.'"),
        ("a == 1.2.3", 8, "unexpected character '.' right after a number"),
        ("a == 12ab", 7, "unexpected character 'a' right after a number"),
        ("a == == 1", 5, "unexpected '==', expected a value"),
        ("a ==", 4, "unexpected end of input, expected a value"),
        ("a == and", 5, "unexpected keyword 'and', expected a value"),
        ("a and or b", 6, "unexpected keyword 'or', expected a condition"),
        ("and a", 0, "unexpected keyword 'and', expected a condition"),
        ("a and", 5, "unexpected end of input, expected a condition"),
        ("not", 3, "unexpected end of input, expected a condition"),
        ("a not b", 6, "unexpected name 'b' after 'not', expected 'in'"),
        ("a not", 5, "unexpected end of input after 'not', expected 'in'"),
        ("a == (b)", 5, "unexpected '(', expected a value"),
        ("(a == 1", 0, "'(' is never closed"),
        ("((a == 1) or b", 0, "'(' is never closed"),
        ("a == 1)", 6, "')' without a matching '('"),
        (")", 0, "unexpected ')', expected a condition"),
        ("(a == 1 b)", 8, "unexpected name 'b', expected 'and', 'or' or ')'"),
        ("()", 0, "empty parentheses"),
        ("a and ()", 6, "empty parentheses"),
        ("a == 1 b", 7, "trailing input: unexpected name 'b'"),
        ('a == 1 "x"', 7, 'trailing input: unexpected string "x"'),
        ("a b", 2, "trailing input"),
        ("a < b < c", 6, "comparisons cannot be chained"),
        ("a == 1 == b", 7, "comparisons cannot be chained"),
        ("a == 1 in b", 7, "comparisons cannot be chained"),
        ("a in b not in c", 7, "comparisons cannot be chained"),
        ("(a) == 1", 4, "a parenthesized condition cannot be compared"),
        ("[1] == a", 0, "a list literal can only be used on the right of 'in'"),
        ('["a"] in a', 0, "a list literal can only be used on the right of 'in'"),
        ("[]", 0, "a list literal can only be used on the right of 'in'"),
        ("a == [1]", 5, "a list literal can only be used on the right of 'in'"),
        ("a and b != []", 11, "a list literal can only be used on the right of 'in'"),
        ("a in [1,]", 8, "unexpected ']', expected a string or a number in the list"),
        ("a in [b]", 6, "unexpected name 'b', expected a string or a number in the list"),
        ("a in [true]", 6, "unexpected keyword 'true', expected a string or a number"),
        ("a in [[1]]", 6, "unexpected '[', expected a string or a number"),
        ("a in [1 2]", 8, "unexpected number 2, expected ',' or ']'"),
        ("a in [1, 2", 5, "'[' is never closed"),
        ("a in [", 5, "'[' is never closed"),
        ('"a" == "b"', 0, "comparison of two literals: a condition must mention a question"),
        ("x or 1 < 2", 5, "comparison of two literals"),
        ('"a" in ["a"]', 0, "comparison of two literals"),
        ("true != false", 0, "comparison of two literals"),
        ('"a"', 0, "a literal alone is not a condition"),
        ("a or true", 5, "a literal alone is not a condition"),
        ("-1", 0, "a literal alone is not a condition"),
    ],
)
def test_parse_errors(source: str, position: int, fragment: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    error = caught.value
    assert error.position == position, error.message
    assert fragment in error.message
    assert error.source == source


def test_error_message_format() -> None:
    source = 'member == "yes" and\tsize in ["micro" "sme"]'
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    error = caught.value
    assert error.position == source.index('"sme"')
    assert str(error) == (
        f"{error.message} at column {error.position + 1}\n"
        'member == "yes" and size in ["micro" "sme"]\n' + " " * error.position + "^"
    )
    assert isinstance(error, ValueError)


def test_error_survives_pickling() -> None:
    error = ConditionError("boom", 3, "a == ?")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position, copy.source) == ("boom", 3, "a == ?")
    assert str(copy) == "boom at column 4\na == ?\n   ^"


def test_source_length_limit() -> None:
    longest = "a == " + '"' + "x" * 493 + '"'
    assert len(longest) == 500
    assert parse_condition(longest).evaluate({"a": "x" * 493}) is True
    too_long = longest + " "
    with pytest.raises(ConditionError) as caught:
        parse_condition(too_long)
    assert caught.value.position == 500
    assert "too long" in caught.value.message
    huge = "a" * 100_000
    with pytest.raises(ConditionError) as caught:
        parse_condition(huge)
    assert len(str(caught.value)) < 1200


def test_nesting_depth_limit() -> None:
    assert ev("(" * 50 + "a" + ")" * 50, a="x") is True
    source = "(" * 51 + "a" + ")" * 51
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    assert caught.value.position == 50
    assert "nested too deeply" in caught.value.message

    assert ev("not " * 50 + "a", a="x") is True
    with pytest.raises(ConditionError) as caught:
        parse_condition("not " * 51 + "a")
    assert caught.value.position == 200

    with pytest.raises(ConditionError) as caught:
        parse_condition("not (" * 25 + "not a" + ")" * 25)
    assert caught.value.position == 125


def test_long_flat_chains_are_fine() -> None:
    source = " and ".join(["a"] * 80)
    assert len(source) <= 500
    assert ev(source, a=True) is True
    assert ev(" or ".join(["a"] * 80), a=False) is False


# -- property tests ----------------------------------------------------------------------------

NAMES = ("a", "b", "c")
STRING_POOL = ("", "x", "y", "xy", 'q"', "o'k", "b\\s")

answer_values: st.SearchStrategy[ConditionValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([n / 4 for n in range(-12, 13)]),
    st.sampled_from(STRING_POOL),
    st.text(max_size=5),
    st.frozensets(st.sampled_from(STRING_POOL), max_size=3),
    st.frozensets(st.text(max_size=3), max_size=3),
    st.tuples(st.sampled_from(STRING_POOL)),
    st.lists(st.sampled_from(STRING_POOL), max_size=3).map(tuple),
)
answer_maps = st.dictionaries(st.sampled_from(NAMES), answer_values)

# Trees: ("truthy", name) | ("cmp", op, left, right) | ("not", tree) | ("and"|"or", tree, tree).
# Operands: ("name", name) | ("lit", value) | ("list", values).
names = st.sampled_from(NAMES).map(lambda name: ("name", name))
scalars = st.one_of(
    st.sampled_from(STRING_POOL),
    st.text(alphabet="ab\"'\\ ", max_size=4),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([n / 4 for n in range(-12, 13)]),
)
literals = st.one_of(scalars, st.booleans()).map(lambda value: ("lit", value))
lists = st.lists(scalars, max_size=3).map(lambda values: ("list", tuple(values)))
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
ins = st.sampled_from(["in", "not in"])
leaves = st.one_of(
    names.map(lambda name: ("truthy", name[1])),
    st.tuples(st.just("cmp"), ops, names, st.one_of(names, literals)),
    st.tuples(st.just("cmp"), ops, literals, names),
    st.tuples(st.just("cmp"), ins, names, st.one_of(names, lists)),
    st.tuples(st.just("cmp"), ins, literals, names),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=8,
)


def show_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        quote = "'" if '"' in value else '"'
        escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return quote + escaped + quote
    return repr(value)


def show_operand(operand: Any) -> str:
    kind, value = operand
    if kind == "name":
        return str(value)
    if kind == "lit":
        return show_literal(value)
    return "[" + ", ".join(show_literal(item) for item in value) + "]"


def show(tree: Any) -> str:
    """The tree with every sub-condition in parentheses."""
    match tree:
        case ("truthy", name):
            return f"({name})"
        case ("cmp", op, left, right):
            return f"({show_operand(left)} {op} {show_operand(right)})"
        case ("not", inner):
            return f"(not {show(inner)})"
        case (op, left, right):
            return f"({show(left)} {op} {show(right)})"
    raise AssertionError(tree)


def reference_kind(value: Any) -> str:
    if value is None:
        return "missing"
    if type(value) is bool:
        return "bool"
    if type(value) in (int, float):
        return "number"
    kinds: dict[type, str] = {str: "string", frozenset: "set", tuple: "tuple"}
    return kinds[type(value)]


def reference_equal(left: Any, right: Any) -> bool:
    return reference_kind(left) == reference_kind(right) and left == right


def reference_in(left: Any, right: Any) -> bool:
    kind = reference_kind(right)
    if kind == "string":
        return reference_kind(left) == "string" and left in right
    if kind in ("set", "tuple", "list"):
        return any(reference_equal(left, item) for item in right)
    return False


def reference_operand(operand: Any, answers: Mapping[str, Any]) -> Any:
    kind, value = operand
    if kind == "name":
        return answers.get(value)
    return value  # a literal, or a list literal as a tuple


def reference_evaluate(tree: Any, answers: Mapping[str, Any]) -> bool:
    """A direct Python evaluation of the tree, written apart from the module's evaluator."""
    match tree:
        case ("truthy", name):
            value = answers.get(name)
            if value is None or value is False:
                return False
            if reference_kind(value) in ("number", "bool"):
                return True
            return len(value) > 0
        case ("cmp", op, left_operand, right_operand):
            left = reference_operand(left_operand, answers)
            right = reference_operand(right_operand, answers)
            if left is None or right is None:
                return False
            if op == "==":
                return reference_equal(left, right)
            if op == "!=":
                return not reference_equal(left, right)
            if op == "in":
                return reference_in(left, right)
            if op == "not in":
                return not reference_in(left, right)
            if reference_kind(left) == reference_kind(right) == "number":
                orderings: dict[str, bool] = {
                    "<": left < right,
                    "<=": left <= right,
                    ">": left > right,
                    ">=": left >= right,
                }
                return orderings[op]
            return False
        case ("not", inner):
            return not reference_evaluate(inner, answers)
        case ("and", left, right):
            return reference_evaluate(left, answers) and reference_evaluate(right, answers)
        case ("or", left, right):
            return reference_evaluate(left, answers) or reference_evaluate(right, answers)
    raise AssertionError(tree)


def tree_names(tree: Any) -> set[str]:
    match tree:
        case ("truthy", name):
            return {name}
        case ("cmp", _, left, right):
            return {operand[1] for operand in (left, right) if operand[0] == "name"}
        case ("not", inner):
            return tree_names(inner)
        case (_, left, right):
            return tree_names(left) | tree_names(right)
    raise AssertionError(tree)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tree=trees, answers=answer_maps)
def test_printed_tree_parses_to_the_same_meaning(tree: Any, answers: dict[str, Any]) -> None:
    source = show(tree)
    assume(len(source) <= 500)
    condition = parse_condition(source)
    assert condition.evaluate(answers) is reference_evaluate(tree, answers)
    assert condition.references() == tree_names(tree)


SAMPLE_SOURCES = (
    'actor_type == "company"',
    '"europe" in priorities',
    "satisfaction <= 2",
    'member == "yes" and not (size in ["micro", "sme"])',
    "a == b or a != b or a < b or a <= b or a > b or a >= b",
    "a in b or a not in b or not a",
    '"x" in a and 1 not in b and c in [1, "x", 2.5] and c not in []',
    "a == true or b != false or c > -1.5",
)


@FAST
@given(
    source=st.one_of(st.sampled_from(SAMPLE_SOURCES), trees.map(show)),
    answers=st.dictionaries(
        st.sampled_from(
            ["a", "b", "c", "actor_type", "priorities", "satisfaction", "member", "size"]
        ),
        answer_values,
    ),
)
def test_evaluate_never_raises(source: str, answers: dict[str, ConditionValue]) -> None:
    assume(len(source) <= 500)
    condition = parse_condition(source)
    relevant = {name: value for name, value in answers.items() if name in condition.references()}
    assert isinstance(condition.evaluate(relevant), bool)
    assert isinstance(condition.evaluate(answers), bool)


GRAMMAR_ALPHABET = "ab_01-.() []=!<>,\"'\\ \tnotandorinruefls"


@FAST
@given(
    source=st.one_of(
        st.text(),
        st.text(alphabet=GRAMMAR_ALPHABET),
        st.lists(
            st.sampled_from(
                [
                    "a",
                    "b",
                    "1",
                    "-2.5",
                    '"x"',
                    "'y'",
                    "==",
                    "!=",
                    "<",
                    ">=",
                    "in",
                    "not",
                    "and",
                    "or",
                    "(",
                    ")",
                    "[",
                    "]",
                    ",",
                    "true",
                    "false",
                    " ",
                ]
            )
        ).map(" ".join),
    )
)
def test_parse_only_raises_condition_errors(source: str) -> None:
    try:
        condition = parse_condition(source)
    except ConditionError as error:
        assert 0 <= error.position <= len(source)
        assert error.source == source
        assert error.message
        lines = str(error).split("\n")
        assert len(lines) == 3
        assert lines[0].endswith(f"at column {error.position + 1}")
        assert lines[2].endswith("^")
    else:
        assert condition.source == source
        assert isinstance(condition.evaluate({}), bool)
        assert condition.references()
        for name, _, position in condition.compared_literals():
            assert name in condition.references()
            assert 0 <= position < len(source)


# -- count(q) and length(q) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "answers", "expected"),
    [
        ("count(likes) > 1", {"likes": frozenset({"a", "b"})}, True),
        ("count(likes) > 1", {"likes": frozenset({"a"})}, False),
        ("count(likes) == 0", {}, True),  # not answered: nothing chosen
        ("count(likes) == 0", {"likes": None}, True),
        ("count(likes) >= 2", {"likes": ("a", "b", "c")}, True),  # a ranking
        ("count(role) == 1", {"role": "company"}, True),  # a single choice
        ("count(role) == 0", {"role": ""}, True),
        ("length(name) > 0", {"name": "Jo"}, True),
        ("length(name) > 0", {"name": ""}, False),
        ("length(name) > 0", {}, False),
        ("length(name) == 0", {}, True),
        ("length(name) <= 2", {"name": "Jo"}, True),
        ("length(age) == 0", {"age": 12}, True),  # not a text
        ("2 < count(likes)", {"likes": frozenset({"a", "b", "c"})}, True),
        ("not count(likes) > 1 and length(name) > 1", {"name": "Jo"}, True),
        ("count(likes) > 1 or count == 3", {"count": 3}, True),  # a question named count
        ("count(a) == count(b)", {"a": frozenset({"x"}), "b": "y"}, True),
    ],
)
def test_count_and_length(source: str, answers: dict[str, ConditionValue], expected: bool) -> None:
    assert parse_condition(source).evaluate(answers) is expected


def test_count_and_length_name_their_question_and_are_not_compared_literals() -> None:
    condition = parse_condition('count(likes) > 2 and length(name) == 0 and role == "x"')
    assert condition.references() == {"likes", "name", "role"}
    assert condition.compared_literals() == (("role", "x", 51),)
    assert condition.measures() == (("count", "likes", 2, 0), ("length", "name", 0, 21))


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("count(likes)", "count(likes) alone is not a condition", 1),
        ("size(likes) > 2", "unknown function 'size'", 1),
        ("count('x') > 2", "expected a question name in count(...)", 7),
        ("count(likes > 2", "expected ')' after count(likes", 13),
        ("count() > 2", "expected a question name", 7),
    ],
)
def test_count_and_length_errors(source: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    assert message in caught.value.message
    assert caught.value.position == column - 1
