"""The XLSForm translation, question by question: every mapped type, every `relevant` form real
forms use, languages, nested groups, what cannot run in a chat (each with its row), and the
forms that cannot be imported at all (one error naming the sheet and the row).

Each imported questionnaire that does not need the long-list format is also loaded with the
questionnaire loader, as `consultbot check` does.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import parse_survey
from dialogs.model import QuestionType, Survey
from forms.output import options_csv, questionnaire_yaml
from forms.xlsform import FormError, ImportResult
from tests.forms.helpers import choice_rows, form, imported, questions

YES_NO = choice_rows("yn", "yes", "no")
COLOURS = choice_rows("colours", "red", "green", "blue")


def loads(result: ImportResult) -> Survey:
    """The questionnaire as `consultbot check` loads it."""
    return parse_survey(questionnaire_yaml(result, "form.xlsx"), "imported.yaml")


def where(result: ImportResult) -> list[tuple[int | None, str]]:
    return [(issue.row, issue.name) for issue in result.unsupported]


# -- every mapped type --------------------------------------------------------------------------


def test_every_mapped_type_becomes_its_question() -> None:
    survey = [
        {"type": "select_one yn", "name": "member", "label": "Member?", "required": "yes"},
        {"type": "select_multiple colours or_other", "name": "likes", "label": "Likes"},
        {"type": "rank colours", "name": "order", "label": "Order", "required": "true"},
        {"type": "integer", "name": "age", "label": "Age", "constraint": ". >= 0 and . <= 120"},
        {"type": "decimal", "name": "height", "label": "Height", "constraint": ". <= 2.5"},
        {"type": "range", "name": "sat", "label": "Satisfied?", "parameters": "start=0 end=10"},
        {"type": "text", "name": "why", "label": "Why?", "hint": "Be brief", "required": "1"},
        {
            "type": "text",
            "name": "story",
            "label": "Tell",
            "appearance": "multiline",
            "constraint": "string-length(.) <= 300",
        },
        {"type": "acknowledge", "name": "ok", "label": "I agree"},
    ]
    result = imported(form(survey, YES_NO + COLOURS))
    q = questions(result)
    assert q["member"] == {
        "id": "member",
        "type": "single_choice",
        "text": "Member?",
        "options": [{"id": "yes", "label": "YES"}, {"id": "no", "label": "NO"}],
    }
    assert q["likes"]["type"] == "multi_choice"
    assert q["likes"]["other"] is True
    assert q["likes"]["required"] is False
    assert [o["id"] for o in q["likes"]["options"]] == ["red", "green", "blue"]
    assert q["order"]["type"] == "ranking"
    assert q["order"]["top"] == 3
    assert "required" not in q["order"]
    assert q["age"] == {
        "id": "age",
        "type": "number",
        "text": "Age",
        "required": False,
        "integer": True,
        "min": 0,
        "max": 120,
    }
    assert q["height"]["type"] == "number"
    assert q["height"]["max"] == 2.5 and "min" not in q["height"] and "integer" not in q["height"]
    assert q["sat"] | {} == {
        "id": "sat",
        "type": "scale",
        "text": "Satisfied?",
        "required": False,
        "min": 0,
        "max": 10,
    }
    assert q["why"] == {"id": "why", "type": "text", "text": "Why?", "help": "Be brief"}
    assert q["story"]["multiline"] is True and q["story"]["max_length"] == 300
    assert q["ok"] == {"id": "ok", "type": "consent", "text": "I agree"}
    assert result.unsupported == []
    assert result.questionnaire["estimated_minutes"] == 5  # a minute for two questions
    assert result.counts() == {
        "single_choice": 1,
        "multi_choice": 1,
        "ranking": 1,
        "number": 2,
        "scale": 1,
        "text": 2,
        "consent": 1,
    }
    survey_loaded = loads(result)
    assert [q.type for q in survey_loaded.questions] == [
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTI_CHOICE,
        QuestionType.RANKING,
        QuestionType.NUMBER,
        QuestionType.NUMBER,
        QuestionType.SCALE,
        QuestionType.TEXT,
        QuestionType.TEXT,
        QuestionType.CONSENT,
    ]
    assert survey_loaded.by_id["likes"].choices()[-1].id == "other"


def test_aliases_and_spellings_of_types() -> None:
    survey = [
        {"type": "begin group", "name": "g", "label": "G"},
        {"type": "select one yn", "name": "a", "label": "A"},
        {"type": "select all that apply colours", "name": "b", "label": "B"},
        {"type": "int", "name": "c", "label": "C"},
        {"type": "string", "name": "d", "label": "D"},
        {"type": "trigger", "name": "e", "label": "E"},
        {"type": "end group"},
    ]
    q = questions(imported(form(survey, YES_NO + COLOURS)))
    assert [v["type"] for v in q.values()] == [
        "single_choice",
        "multi_choice",
        "number",
        "text",
        "consent",
    ]


def test_a_range_too_wide_for_a_scale_becomes_a_bounded_number() -> None:
    survey = [
        {"type": "range", "name": "pct", "label": "Percent", "parameters": "start=0;end=100;step=5"}
    ]
    result = imported(form(survey))
    assert questions(result)["pct"] | {} == {
        "id": "pct",
        "type": "number",
        "text": "Percent",
        "required": False,
        "min": 0,
        "max": 100,
        "integer": True,
    }
    assert [n.row for n in result.notes] == [2]
    loads(result)


def test_a_range_without_parameters_is_one_to_ten() -> None:
    q = questions(imported(form([{"type": "range", "name": "r", "label": "R"}])))
    assert (q["r"]["type"], q["r"]["min"], q["r"]["max"]) == ("scale", 1, 10)


def test_strict_and_reversed_integer_constraints() -> None:
    survey = [
        {"type": "integer", "name": "n", "label": "N", "constraint": "0 < . and . < 10"},
        {"type": "integer", "name": "m", "label": "M", "constraint": "regex(., '^[0-9]+$')"},
        {
            "type": "select_multiple colours",
            "name": "c",
            "label": "C",
            "constraint": "count-selected(.) <= 2",
        },
    ]
    result = imported(form(survey, COLOURS))
    q = questions(result)
    assert (q["n"]["min"], q["n"]["max"]) == (1, 9)
    assert "min" not in q["m"]
    assert q["c"]["max"] == 2
    assert [(n.row, n.name) for n in result.notes if "constraint" in n.what] == [(3, "m")]
    loads(result)


def test_a_note_is_shown_before_the_next_question() -> None:
    survey = [
        {"type": "note", "name": "intro", "label": "Welcome."},
        {"type": "text", "name": "a", "label": "A?"},
        {"type": "note", "name": "bye", "label": "The end."},
    ]
    result = imported(form(survey))
    assert questions(result)["a"]["text"] == "Welcome.\n\nA?"
    notes = {(n.row, n.name, n.action) for n in result.notes}
    assert (2, "intro", "merged") in notes
    assert (4, "bye", "left out") in notes
    survey_loaded = loads(result)
    assert survey_loaded.by_id["a"].text.get("fr") == "Welcome.\n\nA?"


def test_ids_that_are_not_valid_are_renamed_and_conditions_follow() -> None:
    survey = [
        {"type": "select_one YN", "name": "Is-Member", "label": "Member?"},
        {"type": "text", "name": "1st", "label": "First", "relevant": "${Is-Member} = 'Yes'"},
        {"type": "text", "name": "and", "label": "And"},
    ]
    choices = [
        {"list_name": "YN", "name": "Yes", "label": "Yes"},
        {"list_name": "YN", "name": "No", "label": "No"},
    ]
    result = imported(form(survey, choices))
    q = questions(result)
    assert list(q) == ["is_member", "q_1st", "and_2"]
    assert [o["id"] for o in q["is_member"]["options"]] == ["yes", "no"]
    assert q["q_1st"]["show_if"] == 'is_member == "yes"'
    assert result.question_rows == {"is_member": 2, "q_1st": 3, "and_2": 4}
    loads(result)


def test_long_labels_are_shortened_to_fit_buttons() -> None:
    long = "A very long choice label that does not fit on a phone button at all"
    choices = [{"list_name": "l", "name": "a", "label": long}, *choice_rows("l", "b")]
    result = imported(form([{"type": "select_one l", "name": "q", "label": "Q"}], choices))
    label = questions(result)["q"]["options"][0]["label"]
    assert len(label) <= 40 and label.endswith("…")
    assert any("shortened" in n.action for n in result.notes)
    loads(result)


# -- relevant -> show_if ------------------------------------------------------------------------

BASE = [
    {"type": "select_one yn", "name": "member", "label": "Member?"},
    {"type": "select_multiple colours", "name": "likes", "label": "Likes"},
    {"type": "integer", "name": "age", "label": "Age"},
    {"type": "text", "name": "name", "label": "Name"},
    {"type": "acknowledge", "name": "ok", "label": "OK?"},
]


@pytest.mark.parametrize(
    ("relevant", "show_if"),
    [
        ("${member} = 'yes'", 'member == "yes"'),
        ("${member}='yes'", 'member == "yes"'),
        ("'yes' = ${member}", 'member == "yes"'),
        ("${member} != 'yes'", 'not (member == "yes")'),
        ("${age} < 18", "age < 18"),
        ("${age} <= 18", "age <= 18"),
        ("${age} > 64", "age > 64"),
        ("${age} >= 65", "age >= 65"),
        ("${age} >= '65'", "age >= 65"),
        ("18 > ${age}", "age < 18"),
        ("${age} = 30", "age == 30"),
        ("${age} > 2.5", "age > 2.5"),
        ("selected(${likes}, 'red')", '"red" in likes'),
        ("selected(${member}, 'no')", 'member == "no"'),
        ("not(selected(${likes}, 'red'))", 'not ("red" in likes)'),
        (
            "selected(${likes}, 'red') and ${age} > 18",
            '"red" in likes and age > 18',
        ),
        (
            "${member} = 'yes' or ${age} < 18 and selected(${likes}, 'blue')",
            'member == "yes" or (age < 18 and "blue" in likes)',
        ),
        (
            "(${member} = 'yes' or ${age} < 18) and selected(${likes}, 'blue')",
            '(member == "yes" or age < 18) and "blue" in likes',
        ),
        ("count-selected(${likes}) > 1", "count(likes) > 1"),
        ("count-selected(${likes}) >= 2", "count(likes) >= 2"),
        ("string-length(${name}) > 0", "length(name) > 0"),
        ("string-length(${name}) = 0", "length(name) == 0"),
        ("${name} != ''", "name"),
        ("${name} = ''", "not name"),
        ("${name} = 'Jo'", 'name == "Jo"'),
        ("${likes} = 'red'", '("red" in likes and count(likes) == 1)'),
        ("${ok} = 'OK'", "ok == true"),
        ("${member}", "member"),
        ("string-length(${age}) > 0", "age"),
    ],
)
def test_relevant_forms_become_show_if(relevant: str, show_if: str) -> None:
    survey = [*BASE, {"type": "text", "name": "then", "label": "Then", "relevant": relevant}]
    result = imported(form(survey, YES_NO + COLOURS))
    assert questions(result)["then"]["show_if"] == show_if
    assert result.unsupported == []
    loads(result)


def test_conditions_hold_exactly_when_the_relevant_does() -> None:
    survey = [
        *BASE,
        {
            "type": "text",
            "name": "then",
            "label": "Then",
            "relevant": "(${member} = 'yes' and ${age} >= 18) or count-selected(${likes}) > 2",
        },
    ]
    condition = loads(imported(form(survey, YES_NO + COLOURS))).by_id["then"].show_if
    assert condition is not None
    all_colours = frozenset({"red", "green", "blue"})
    assert condition.evaluate({"member": "yes", "age": 18})
    assert not condition.evaluate({"member": "yes", "age": 17})
    assert not condition.evaluate({"member": "no", "age": 40})
    assert condition.evaluate({"member": "no", "likes": all_colours})
    assert not condition.evaluate({"likes": frozenset({"red", "blue"})})
    assert not condition.evaluate({})


def test_a_group_relevant_applies_to_each_of_its_questions() -> None:
    survey = [
        *BASE[:3],
        {"type": "begin_group", "name": "adults", "label": "Adults", "relevant": "${age} >= 18"},
        {"type": "text", "name": "job", "label": "Job"},
        {"type": "text", "name": "boss", "label": "Boss", "relevant": "${member} = 'yes'"},
        {"type": "end_group"},
    ]
    q = questions(imported(form(survey, YES_NO + COLOURS)))
    assert q["job"]["show_if"] == "age >= 18"
    assert q["boss"]["show_if"] == '(age >= 18) and (member == "yes")'


UNTRANSLATABLE = [
    "${age} + 1 > 18",
    "today() > ${age}",
    "${member} = 'maybe'",
    "${likes} > 2",
    "${later} = 'x'",
    "${calc} > 3",
    ". > 3",
    "selected(${name}, 'x')",
]


@pytest.mark.parametrize("relevant", UNTRANSLATABLE)
def test_an_untranslatable_relevant_is_reported_and_kept_unconditional(relevant: str) -> None:
    survey = [
        *BASE,
        {"type": "calculate", "name": "calc", "calculation": "${age} * 2"},
        {"type": "text", "name": "then", "label": "Then", "relevant": relevant},
        {"type": "text", "name": "later", "label": "Later"},
    ]
    result = imported(form(survey, YES_NO + COLOURS))
    assert "show_if" not in questions(result)["then"]
    reported = [i for i in result.unsupported if i.name == "then"]
    assert len(reported) == 1
    assert reported[0].row == 8
    assert relevant in reported[0].what
    assert reported[0].action == "question kept unconditional"
    loads(result)


def test_on_unsupported_skip_leaves_the_question_out() -> None:
    survey = [
        *BASE,
        {"type": "text", "name": "then", "label": "Then", "relevant": "${age} * 2 > 18"},
        {"type": "begin_group", "name": "g", "label": "G", "relevant": "${age} div 2 > 9"},
        {"type": "text", "name": "inside", "label": "Inside"},
        {"type": "end_group"},
        {"type": "text", "name": "after", "label": "After", "relevant": "${then} = 'x'"},
    ]
    result = imported(form(survey, YES_NO + COLOURS), on_unsupported="skip")
    q = questions(result)
    assert "then" not in q and "inside" not in q
    assert "after" not in q, "it names a question that was left out"
    assert list(q) == [b["name"] for b in BASE]
    assert where(result) == [(7, "then"), (8, "g"), (11, "after")]
    assert result.unsupported[0].action == "question left out"


# -- languages ----------------------------------------------------------------------------------

LANG_SURVEY = [
    {
        "type": "select_one yn",
        "name": "a",
        "label::Français (fr)": "Membre ?",
        "label::English (en)": "Member?",
        "hint::Français (fr)": "Une seule réponse",
        "hint::English (en)": "One answer",
    },
    {"type": "text", "name": "b", "label::Français (fr)": "Pourquoi ?", "label::English (en)": ""},
]
LANG_CHOICES = [
    {"list_name": "yn", "name": "yes", "label::Français (fr)": "Oui", "label::English (en)": "Yes"},
    {"list_name": "yn", "name": "no", "label::Français (fr)": "Non", "label::English (en)": "No"},
]


def test_language_columns_become_the_questionnaire_languages() -> None:
    survey = [{**LANG_SURVEY[0]}, {**LANG_SURVEY[1], "label::English (en)": "Why?"}]
    result = imported(form(survey, LANG_CHOICES))
    assert result.questionnaire["languages"] == ["fr", "en"]
    q = questions(result)
    assert q["a"]["text"] == {"fr": "Membre ?", "en": "Member?"}
    assert q["a"]["help"] == {"fr": "Une seule réponse", "en": "One answer"}
    assert q["a"]["options"][0]["label"] == {"fr": "Oui", "en": "Yes"}
    assert result.incomplete == {}
    loaded = loads(result)
    assert loaded.languages == ("fr", "en")
    assert loaded.by_id["b"].text.get("en") == "Why?"


def test_language_names_without_codes_and_the_default_language_setting() -> None:
    survey = [
        {"type": "text", "name": "a", "label::English": "Why?", "label::French": "Pourquoi ?"}
    ]
    result = imported(form(survey, settings={"default_language": "French"}))
    assert result.questionnaire["languages"] == ["fr", "en"]
    result = imported(form(survey, settings={"default_language": "English"}))
    assert result.questionnaire["languages"] == ["en", "fr"]


def test_a_plain_label_column_is_the_default_language() -> None:
    survey = [{"type": "text", "name": "a", "label": "Pourquoi ?", "label::English (en)": "Why?"}]
    result = imported(form(survey))
    assert questions(result)["a"]["text"] == {"fr": "Pourquoi ?", "en": "Why?"}


def test_an_incomplete_language_is_reported_and_filled() -> None:
    result = imported(form(LANG_SURVEY, LANG_CHOICES))
    assert result.incomplete == {"en": ["survey row 3"]}
    assert questions(result)["b"]["text"] == "Pourquoi ?"
    assert loads(result).languages == ("fr", "en")


def test_an_incomplete_language_is_reported_and_dropped_on_request() -> None:
    result = imported(form(LANG_SURVEY, LANG_CHOICES), incomplete_languages="drop")
    assert result.incomplete == {"en": ["survey row 3"]}
    assert result.dropped_languages == ("en",)
    assert result.questionnaire["languages"] == ["fr"]
    assert questions(result)["a"]["text"] == "Membre ?"
    assert loads(result).languages == ("fr",)


# -- groups -------------------------------------------------------------------------------------


def test_nested_groups_are_flattened_into_sections_keeping_their_labels() -> None:
    survey = [
        {"type": "text", "name": "first", "label": "First"},
        {"type": "begin_group", "name": "outer", "label": "Outer"},
        {"type": "text", "name": "a", "label": "A"},
        {"type": "begin_group", "name": "inner", "label": "Inner"},
        {"type": "text", "name": "b", "label": "B"},
        {"type": "end_group"},
        {"type": "text", "name": "c", "label": "C"},
        {"type": "end_group"},
        {"type": "begin_group", "name": "empty", "label": "Empty"},
        {"type": "end_group"},
    ]
    result = imported(form(survey, settings={"form_title": "My form"}))
    sections = [
        (s["id"], s["title"], [q["id"] for q in s["questions"]])
        for s in result.questionnaire["sections"]
    ]
    assert sections == [
        ("general", "My form", ["first"]),
        ("outer", "Outer", ["a"]),
        ("inner", "Outer › Inner", ["b"]),
        ("outer_2", "Outer", ["c"]),
    ]
    assert result.section_rows == {"general": 2, "outer": 3, "inner": 5, "outer_2": 3}
    assert len(loads(result).sections) == 4


# -- what cannot run in a chat ------------------------------------------------------------------


def test_every_unsupported_construct_is_reported_with_its_row() -> None:
    survey = [
        {"type": "text", "name": "a", "label": "A"},
        {"type": "calculate", "name": "calc", "calculation": "1 + 1"},
        {"type": "geopoint", "name": "where", "label": "Where"},
        {"type": "geotrace", "name": "path", "label": "Path"},
        {"type": "image", "name": "photo", "label": "Photo"},
        {"type": "audio", "name": "voice", "label": "Voice"},
        {"type": "video", "name": "film", "label": "Film"},
        {"type": "barcode", "name": "code", "label": "Code"},
        {"type": "begin_repeat", "name": "kids", "label": "Children"},
        {"type": "text", "name": "kid", "label": "Child's name"},
        {"type": "end_repeat"},
        {
            "type": "select_one colours",
            "name": "cf",
            "label": "C",
            "choice_filter": "colour_group = ${a}",
        },
        {
            "type": "select_one colours",
            "name": "simple",
            "label": "S",
            "choice_filter": "warm = 'yes'",
        },
        {"type": "start", "name": "started"},
    ]
    choices = [
        {"list_name": "colours", "name": "red", "label": "Red", "warm": "yes"},
        {"list_name": "colours", "name": "orange", "label": "Orange", "warm": "yes"},
        {"list_name": "colours", "name": "blue", "label": "Blue", "warm": "no"},
    ]
    result = imported(form(survey, choices))
    assert where(result) == [
        (3, "calc"),
        (4, "where"),
        (5, "path"),
        (6, "photo"),
        (7, "voice"),
        (8, "film"),
        (9, "code"),
        (10, "kids"),
        (13, "cf"),
    ]
    assert "repeat" in result.unsupported[7].what
    assert "choice_filter" in result.unsupported[8].what
    q = questions(result)
    assert "kid" in q, "keep: the questions of a repeat are asked once"
    assert len(q["cf"]["options"]) == 3, "keep: every choice offered"
    assert [o["id"] for o in q["simple"]["options"]] == ["red", "orange"]
    assert [(n.row, n.name) for n in result.notes] == [(15, "started")]
    loads(result)

    skipped = imported(form(survey, choices), on_unsupported="skip")
    assert set(questions(skipped)) == {"a", "simple"}


# -- long lists (these assume the long-list questionnaire format, merged separately) -----------


def test_a_list_of_more_than_14_choices_is_written_inline_as_a_long_list() -> None:
    names = [f"c{i}" for i in range(30)]
    result = imported(
        form(
            [
                {
                    "type": "select_one towns",
                    "name": "town",
                    "label": "Town",
                    "appearance": "autocomplete",
                }
            ],
            choice_rows("towns", *names),
        )
    )
    q = questions(result)["town"]
    assert [o["id"] for o in q["options"]] == names
    assert result.long_lists == ["town"]
    assert "options_file" not in q


def test_select_one_from_file_writes_the_list_beside_the_questionnaire() -> None:
    rows = [{"name": f"T{i}", "label": f"Town {i}"} for i in range(1, 21)]
    survey = [
        {"type": "select_one_from_file towns.csv", "name": "town", "label": "Town"},
        {"type": "text", "name": "why", "label": "Why", "relevant": "${town} = 'T3'"},
        {"type": "select_one_from_file missing.csv", "name": "gone", "label": "Gone"},
    ]
    result = imported(form(survey), files={"towns.csv": rows})
    q = questions(result)
    assert q["town"]["options_file"] == "towns.options.csv"
    assert "options" not in q["town"]
    assert q["why"]["show_if"] == 'town == "t3"'
    assert result.option_files["towns.options.csv"][:2] == [
        {"id": "t1", "label": "Town 1"},
        {"id": "t2", "label": "Town 2"},
    ]
    assert options_csv(result.option_files["towns.options.csv"]).splitlines()[:2] == [
        "id,label",
        "t1,Town 1",
    ]
    assert where(result) == [(4, "gone")]
    yaml_text = questionnaire_yaml(result, "form.xlsx")
    assert "options_file: towns.options.csv" in yaml_text


def test_a_bilingual_file_list_has_a_label_column_per_language() -> None:
    rows = [
        {"name": "a", "label::Français (fr)": "Un", "label::English (en)": "One"},
        {"name": "b", "label::Français (fr)": "Deux", "label::English (en)": "Two"},
    ]
    survey = [
        {
            "type": "select_one_from_file l.csv",
            "name": "n",
            "label::Français (fr)": "N",
            "label::English (en)": "N",
        }
    ]
    result = imported(form(survey), files={"l.csv": rows})
    assert result.option_files["l.options.csv"] == [
        {"id": "a", "label_fr": "Un", "label_en": "One"},
        {"id": "b", "label_fr": "Deux", "label_en": "Two"},
    ]


# -- forms that cannot be imported --------------------------------------------------------------


def error_of(sheets: dict[str, Any]) -> FormError:
    with pytest.raises(FormError) as caught:
        imported(sheets)
    return caught.value


def test_no_survey_sheet() -> None:
    error = error_of({"questions": [["type", "name"], ["text", "a"]]})
    assert str(error) == "the workbook has no 'survey' sheet (its sheets: 'questions')"


def test_a_select_naming_a_missing_list() -> None:
    error = error_of(
        form([{"type": "text", "name": "a"}, {"type": "select_one nope", "name": "b"}], YES_NO)
    )
    assert str(error) == (
        "sheet 'survey', row 3: select_one nope: the 'choices' sheet has no list 'nope'"
    )


def test_duplicate_names() -> None:
    error = error_of(form([{"type": "text", "name": "a"}, {"type": "integer", "name": "a"}]))
    assert str(error) == "sheet 'survey', row 3: duplicate name 'a' (also row 2)"


def test_duplicate_choices() -> None:
    error = error_of(form([{"type": "select_one yn", "name": "a"}], YES_NO + YES_NO[:1]))
    assert str(error) == "sheet 'choices', row 4: duplicate choice 'yes' in list 'yn' (also row 2)"


def test_a_relevant_naming_an_unknown_field() -> None:
    error = error_of(
        form(
            [
                {"type": "text", "name": "a"},
                {"type": "text", "name": "b", "relevant": "${ghost} = 'x'"},
            ]
        )
    )
    assert str(error) == "sheet 'survey', row 3: relevant names an unknown field ${ghost}"


def test_an_unknown_type() -> None:
    error = error_of(form([{"type": "txt", "name": "a"}]))
    assert str(error) == "sheet 'survey', row 2: unknown question type 'txt'"


def test_a_group_never_closed() -> None:
    error = error_of(form([{"type": "begin_group", "name": "g"}, {"type": "text", "name": "a"}]))
    assert str(error) == "sheet 'survey', row 2: begin_group 'g' is never closed"


def test_an_empty_survey_sheet() -> None:
    error = error_of({"survey": [["type", "name", "label"]]})
    assert str(error) == "sheet 'survey': the sheet has no question"


def test_nothing_that_can_be_asked() -> None:
    error = error_of(form([{"type": "calculate", "name": "a"}]))
    assert "no question of the form can be asked in a chat" in str(error)


def test_a_relevant_that_can_never_hold_is_reported_and_dropped() -> None:
    survey = [
        *BASE,
        {
            "type": "text",
            "name": "never",
            "label": "Never",
            "relevant": "${age} > 10 and ${age} < 5",
        },
        {"type": "text", "name": "after", "label": "After", "relevant": "${never} = 'x'"},
    ]
    result = imported(form(survey, YES_NO + COLOURS))
    assert "show_if" not in questions(result)["never"]
    assert questions(result)["after"]["show_if"] == 'never == "x"'
    [issue] = result.unsupported
    assert (issue.row, issue.name, issue.action) == (7, "never", "question kept unconditional")
    assert "can never be true" in issue.what
    loads(result)

    skipped = imported(form(survey, YES_NO + COLOURS), on_unsupported="skip")
    assert "never" not in questions(skipped) and "after" not in questions(skipped)
    assert [(i.row, i.name) for i in skipped.unsupported] == [(7, "never"), (8, "after")]
    loads(skipped)


# -- any form: an error naming its place, or a questionnaire that loads --------------------------

PREFIX = [
    {"type": "select_one yn", "name": "f0", "label": "F0"},
    {"type": "select_multiple colours", "name": "f1", "label": "F1"},
    {"type": "integer", "name": "f2", "label": "F2", "constraint": ". >= 0 and . <= 5"},
    {"type": "rank colours", "name": "f3", "label": "F3"},
    {"type": "text", "name": "f4", "label": "F4"},
    {"type": "calculate", "name": "f5", "calculation": "1"},
]
TYPES = [
    "select_one yn",
    "select_multiple colours",
    "select_one colours or_other",
    "rank colours",
    "integer",
    "decimal",
    "range",
    "text",
    "note",
    "acknowledge",
    "calculate",
    "geopoint",
    "begin_group",
    "end_group",
    "begin_repeat",
    "end_repeat",
    "date",
    "start",
    "select_one nope",
    "txt",
]
QUESTION_TYPES = [t for t in TYPES if t not in ("select_one nope", "txt")]
RELEVANTS = [
    "",
    "${f0} = 'yes'",
    "${f1} != 'red'",
    "${f2} > 3",
    "selected(${f3}, 'blue')",
    "not(${f0} = 'no') and ${f2} <= 10",
    "count-selected(${f1}) > 1",
    "string-length(${f4}) > 0",
    "${f5} + 1",
    "${f7} = 'x'",
    "${f0} = ''",
    "${f2} >= '2' or ${f1} = 'green'",
    "(",
    "${f2} < 0",
    "${f2} > 3 and ${f2} < 1",
    "${f6} = ${f2}",
    "selected(${f6}, 'yes')",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(QUESTION_TYPES) | st.sampled_from(TYPES),
            st.sampled_from(RELEVANTS),
            st.sampled_from(["", "yes", "no"]),
            st.sampled_from(["", ". >= 0 and . <= 5", "count-selected(.) <= 2", ". > 1"]),
        ),
        min_size=1,
        max_size=10,
    ),
    on_unsupported=st.sampled_from(["keep", "skip"]),
)
def test_any_form_gives_a_clear_error_or_a_questionnaire_that_loads(
    rows: list[tuple[str, str, str, str]], on_unsupported: str
) -> None:
    survey = [
        {
            "type": kind,
            "name": f"f{i}",
            "label": f"Label {i}",
            "relevant": relevant,
            "required": required,
            "constraint": constraint,
        }
        for i, (kind, relevant, required, constraint) in enumerate(rows)
    ]
    try:
        result = imported(form(survey, YES_NO + COLOURS), on_unsupported=on_unsupported)
    except FormError as exc:
        assert exc.sheet is not None and str(exc).startswith(f"sheet '{exc.sheet}'")
        return
    survey_loaded = loads(result)
    assert set(result.question_rows) == set(survey_loaded.by_id)


def test_a_label_showing_another_answer_is_reported() -> None:
    survey = [
        {"type": "text", "name": "name", "label": "Name?"},
        {"type": "integer", "name": "age", "label": "${name}, how old are you?"},
    ]
    result = imported(form(survey))
    assert [(n.row, n.name, n.what) for n in result.notes] == [
        (3, "age", "the label shows the answer of ${name}")
    ]


def test_a_language_without_a_code_is_reported_once_and_left_out() -> None:
    survey = [
        {
            "type": "text",
            "name": "a",
            "label": "Pourquoi ?",
            "label::Klingon": "Qatlh?",
            "hint::Klingon": "...",
        }
    ]
    result = imported(form(survey))
    assert result.questionnaire["languages"] == ["fr"]
    assert [n.what for n in result.notes] == [
        "column 'label::klingon': language 'klingon' has no two-letter code"
    ]


def test_old_aliases_external_lists_and_a_required_expression() -> None:
    survey = [
        {"type": "text", "name": "a", "label": "A", "required": "${b} = 'x'"},
        {"type": "gps", "name": "where", "label": "Where"},
        {"type": "photo", "name": "pic", "label": "Picture"},
        {"type": "select_one_external towns", "name": "town", "label": "Town"},
        {"type": "osm building", "name": "house", "label": "House"},
        {"type": "text", "name": "b", "label": "B", "required": "no"},
    ]
    result = imported(form(survey))
    assert [(i.row, i.what.split(":")[0]) for i in result.unsupported] == [
        (3, "geopoint"),
        (4, "image"),
        (5, "select_one_external"),
        (6, "osm"),
    ]
    assert questions(result)["a"]["required"] is False
    assert [(n.row, n.what) for n in result.notes] == [(2, "required only when \"${b} = 'x'\"")]


def test_selected_other_of_an_or_other_list() -> None:
    survey = [
        {"type": "select_one colours or_other", "name": "c", "label": "C"},
        {"type": "select_multiple colours or_other", "name": "m", "label": "M"},
        {"type": "text", "name": "why", "label": "Why", "relevant": "selected(${c}, 'other')"},
        {"type": "text", "name": "how", "label": "How", "relevant": "selected(${m}, 'other')"},
    ]
    result = imported(form(survey, COLOURS))
    q = questions(result)
    assert q["why"]["show_if"] == 'c == "other"'
    assert q["how"]["show_if"] == '"other" in m'
    assert result.unsupported == []
    condition = loads(result).by_id["how"].show_if
    assert condition is not None and condition.evaluate({"m": frozenset({"red", "other"})})


def test_html_formatting_is_removed_from_texts() -> None:
    survey = [
        {
            "type": "select_one l",
            "name": "a",
            "label": '<span style="color:red">Attention</span> : <b>une</b> seule réponse',
        }
    ]
    choices = [{"list_name": "l", "name": "x", "label": "<i>X</i>"}, *choice_rows("l", "y")]
    result = imported(form(survey, choices))
    q = questions(result)["a"]
    assert q["text"] == "Attention : une seule réponse"
    assert q["options"][0]["label"] == "X"
    assert [n.what for n in result.notes] == [
        "HTML formatting in the texts of choices row 2, survey row 2"
    ]


def test_texts_too_long_for_a_message_are_shortened() -> None:
    survey = [
        {"type": "note", "name": "n", "label": "N" * 1000},
        {"type": "text", "name": "a", "label": "A" * 1000},
        {"type": "text", "name": "b", "label": "B" * 2000},
    ]
    result = imported(form(survey))
    q = questions(result)
    assert len(q["a"]["text"]) == len(q["b"]["text"]) == 1500
    assert [(n.row, n.action) for n in result.notes if n.action == "shortened"] == [
        (2, "shortened"),
        (4, "shortened"),
    ]
    loads(result)


def test_a_form_with_a_long_list_still_has_its_impossible_relevant_reported() -> None:
    """Assumes the long-list format for `town` (its show_if is left for the loader)."""
    survey = [
        {"type": "select_one towns", "name": "town", "label": "Town"},
        {"type": "text", "name": "why", "label": "Why", "relevant": "${town} = 'c3'"},
        {"type": "integer", "name": "n", "label": "N"},
        {"type": "text", "name": "never", "label": "Never", "relevant": "${n} > 3 and ${n} < 2"},
    ]
    result = imported(form(survey, choice_rows("towns", *(f"c{i}" for i in range(20)))))
    q = questions(result)
    assert q["why"]["show_if"] == 'town == "c3"'
    assert "show_if" not in q["never"]
    assert [(i.row, i.name) for i in result.unsupported] == [(5, "never")]
