"""Long lists: options files, searching, paging, picking and removing, and the progress bar.

Properties (hypothesis): for a questionnaire with long lists and any sequence of search, page,
pick, remove, back and confirm events, the state stays valid; answering forward, the percentage
shown never goes down.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs import Survey, SurveyError, parse_survey
from dialogs.engine import Result, new_state, transition
from dialogs.events import (
    Back,
    Choose,
    Confirm,
    Event,
    Page,
    Remove,
    Skip,
    Start,
    TextInput,
    Toggle,
)
from dialogs.flow import visible_questions
from dialogs.limits import OTHER_OPTION_ID, PAGE_SIZE
from dialogs.longlist import page_count, shown_ids
from dialogs.screens import QuestionScreen
from dialogs.state import Answer, Phase, State
from tests.dialogs.helpers import BUNDLED_NOW, answer_problem, bundled_survey

NOW = datetime(2024, 3, 10, 12, tzinfo=UTC)


def _csv(count: int) -> str:
    rows = ["id,label_fr,label_en,group,synonyms"]
    for n in range(1, count + 1):
        group = f"Région {1 + (n - 1) // 7}"
        rows.append(f"p{n:02d},Pôle numéro {n},Cluster number {n},{group},alias{n}|P{n}X")
    return "\n".join(rows) + "\n"


LONG_YAML = """\
id: long-lists
title: {fr: "Listes longues", en: "Long lists"}
languages: [fr, en]
timezone: Europe/Paris
opens_at: "2024-03-01T09:00:00+01:00"
closes_at: "2024-04-01T00:00:00+02:00"
sections:
  - id: first
    title: {fr: "Premier", en: "First"}
    questions:
      - id: intro
        type: single_choice
        text: {fr: "Bonjour ?", en: "Hello?"}
        options:
          - {id: "yes", label: {fr: "Oui", en: "Yes"}}
          - {id: "no", label: {fr: "Non", en: "No"}}
      - id: pole
        type: single_choice
        text: {fr: "Votre pôle ?", en: "Your cluster?"}
        options_file: data/poles.csv
        other: true
      - id: extra
        type: text
        show_if: 'pole == "p01"'
        text: {fr: "Pourquoi ?", en: "Why?"}
  - id: second
    title: {fr: "Second", en: "Second"}
    questions:
      - id: many
        type: multi_choice
        text: {fr: "Lesquels ?", en: "Which ones?"}
        options_file: data/poles.csv
        other: true
        max: 4
      - id: detail
        type: scale
        show_if: '"p02" in many'
        text: {fr: "Note ?", en: "Score?"}
        min: 1
        max: 5
      - id: short
        type: multi_choice
        required: false
        search: true
        text: {fr: "Court ?", en: "Short?"}
        options_file: data/short.csv
"""
FILES = {"data/poles.csv": _csv(30), "data/short.csv": _csv(5)}


def load_long(yaml_text: str = LONG_YAML, files: Mapping[str, str] = FILES) -> Survey:
    def read(name: str) -> str:
        if name not in files:
            raise FileNotFoundError(2, "No such file or directory")
        return files[name]

    return parse_survey(yaml_text, "long.yaml", read)


LONG = load_long()
BUNDLED = bundled_survey()


def problems(yaml_text: str, files: Mapping[str, str]) -> list[str]:
    with pytest.raises(SurveyError) as info:
        load_long(yaml_text, files)
    return [str(p) for p in info.value.problems]


# -- the questionnaire file -------------------------------------------------------------------


def test_an_options_file_gives_the_options_their_groups_and_synonyms() -> None:
    pole = LONG.by_id["pole"]
    assert pole.searchable and len(pole.options) == 30
    assert pole.options[0].label.get("en") == "Cluster number 1"
    assert pole.options[0].group.get("fr") == "Région 1"
    assert pole.options[0].synonyms == ("alias1", "P1X")
    # Five options from a file are plain buttons unless `search: true` says otherwise.
    assert LONG.by_id["short"].searchable


def test_a_short_list_from_a_file_loads_as_plain_buttons() -> None:
    text = LONG_YAML.replace("        search: true\n", "")
    assert not load_long(text).by_id["short"].searchable


def test_the_problems_of_an_options_file_are_named_with_their_row() -> None:
    bad = (
        "id,label_fr,label_en\n"
        "a,Alpha,Alpha\n"
        "a,Bis,Bis\n"  # row 3: duplicate
        f"b,{'L' * 65},Long\n"  # row 4: label too long
        "c,,Gamma\n"  # row 5: no French label
        "D d,Delta,Delta\n"  # row 6: bad id
    )
    found = problems(LONG_YAML, {**FILES, "data/poles.csv": bad})
    text = "\n".join(found)
    assert "data/poles.csv, row 3: duplicate id 'a' (first in row 2)" in text
    assert "data/poles.csv, row 4: the 'fr' label is 65 characters, more than 64" in text
    assert "data/poles.csv, row 5: no label in 'fr'" in text
    assert "data/poles.csv, row 6: id 'D d' must be lower-case" in text


def test_a_missing_file_a_missing_language_and_too_many_options_are_refused() -> None:
    missing = problems(LONG_YAML, {"data/short.csv": _csv(5)})
    assert any("data/poles.csv: cannot be read (No such file or directory)" in p for p in missing)
    no_english = "id,label_fr\na,Alpha\nb,Beta\n"
    found = problems(LONG_YAML, {**FILES, "data/poles.csv": no_english})
    assert any("row 1: no 'label' column (missing: label_en)" in p for p in found)
    found = problems(
        LONG_YAML,
        {**FILES, "data/poles.csv": _csv(99) + "".join(f"z{n},Z{n},Z{n},,\n" for n in range(401))},
    )
    assert any("501 choices: a list has at most 500" in p for p in found)


def test_up_to_500_options_load() -> None:
    rows = "id,label\np01,Un\np02,Deux\n" + "".join(f"o{n},Option {n}\n" for n in range(497))
    survey = load_long(LONG_YAML, {**FILES, "data/poles.csv": rows})
    assert len(survey.by_id["pole"].choices()) == 500


# -- searching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "wanted"),
    [
        ("aerospace valey", "aerospace_valley"),
        ("SYSTEMATIC", "systematic"),
        ("pole mer med", "mer_mediterranee"),
        ("Pôle Mer Bretagne", "mer_bretagne_atlantique"),
        ("vegepolys", "mondial_du_vegetal"),
        ("lyonbiopole", "lyonbiopole"),
        ("pmm", "mer_mediterranee"),
        ("images et reseaux", "images_et_reseaux"),
    ],
)
def test_the_pôles_are_found_by_misspelled_names_synonyms_and_acronyms(
    typed: str, wanted: str
) -> None:
    found = BUNDLED.by_id["cluster_name"].search_index.search(typed, PAGE_SIZE)
    assert wanted in found.option_ids[:3], found


def test_the_regions_are_found_without_accents_or_capitals() -> None:
    index = BUNDLED.by_id["region"].search_index
    assert index.search("ILE DE FRANCE").option_ids == ("ile_de_france",)
    assert index.search("la reunion").exact
    assert index.search("Brittany").option_ids == ("bretagne",)
    assert index.search("xyz").option_ids == ()


# -- the dialogue -------------------------------------------------------------------------------


def run(survey: Survey, state: State, *events: Event) -> Result:
    result = Result(state, transition(survey, state, Start(), NOW).output)
    for event in events:
        result = transition(survey, result.state, event, NOW)
    return result


def at(survey: Survey, question_id: str, now: datetime = NOW) -> State:
    """The state of someone on `question_id`, having answered what comes before with option 1."""
    state = transition(survey, new_state(survey), Start(), now).state
    while state.current != question_id:
        question = survey.by_id[state.current or ""]
        if question.type.value == "text":
            event: Event = TextInput("parce que")
        elif question.type.value == "consent":
            event = Choose(question.id, "accept", state.step)
        elif question.searchable and question.type.value == "multi_choice":
            state = transition(
                survey, state, Toggle(question.id, question.options[0].id, state.step), now
            ).state
            event = Confirm(question.id, state.step)
        else:
            event = TextInput("1")
        state = transition(survey, state, event, now).state
    return state


def screen_of(result: Result) -> QuestionScreen:
    screen = result.output.screens[-1]
    assert isinstance(screen, QuestionScreen)
    return screen


def test_a_long_list_shows_one_page_and_pages_round() -> None:
    state = at(LONG, "pole")
    result = transition(LONG, state, Start(), NOW)
    listing = screen_of(result).listing
    assert listing is not None and listing.pages == 4 and len(listing.options) == PAGE_SIZE
    last = transition(LONG, state, Page("pole", -1, state.step), NOW)
    listing = screen_of(last).listing
    assert listing is not None and listing.page == 3
    assert [o.id for o in listing.options] == ["p25", "p26", "p27", "p28", "p29", "p30"]
    assert last.output.replace and last.state.step == state.step + 1
    # Tapping the last pôle chooses it.
    chosen = transition(LONG, last.state, Choose("pole", "p30", last.state.step), NOW)
    assert chosen.state.answers["pole"] == Answer("p30")


def test_one_exact_match_is_chosen_several_are_offered_none_changes_nothing() -> None:
    state = at(LONG, "pole")
    exact = transition(LONG, state, TextInput("alias7"), NOW)
    assert exact.state.answers["pole"] == Answer("p07")
    several = transition(LONG, state, TextInput("numero 1"), NOW)
    assert "pole" not in several.state.answers
    assert several.state.query == "numero 1" and len(several.state.matches) > 1
    # A number picks what is on screen: here the first result.
    picked = transition(LONG, several.state, TextInput("1"), NOW)
    assert picked.state.answers["pole"] == Answer(several.state.matches[0])
    none = transition(LONG, state, TextInput("zzzzzz qqqq"), NOW)
    assert none.state == state
    assert [n.key for n in none.output.notices] == ["no_match_other"]


def test_back_from_a_search_returns_to_the_previous_question() -> None:
    state = at(LONG, "pole")
    searched = transition(LONG, state, TextInput("numero 2"), NOW).state
    back = transition(LONG, searched, Back(searched.step), NOW)
    assert back.state.current == "intro" and back.state.query is None


def test_a_stale_page_button_is_refused() -> None:
    state = at(LONG, "pole")
    turned = transition(LONG, state, Page("pole", 1, state.step), NOW).state
    again = transition(LONG, turned, Page("pole", 2, state.step), NOW)
    assert again.state == turned
    assert [n.key for n in again.output.notices] == ["stale_button"]


def test_three_pôles_chosen_one_removed_are_stored_as_two() -> None:
    state = at(LONG, "many")
    for option_id in ("p03", "p01"):
        state = transition(LONG, state, Toggle("many", option_id, state.step), NOW).state
    state = transition(LONG, state, TextInput("alias20"), NOW).state  # exact: added
    assert state.pending == ("p01", "p03", "p20")
    state = transition(LONG, state, Remove("many", "p03", state.step), NOW).state
    result = transition(LONG, state, Confirm("many", state.step), NOW)
    assert result.state.answers["many"] == Answer(("p01", "p20"))


def test_the_progress_bar_counts_the_questions_still_reachable() -> None:
    state = at(LONG, "pole")
    first = screen_of(transition(LONG, state, Start(), NOW)).progress.percent
    # Choosing p02 closes `extra` (asked only for p01): the share jumps forward, never back.
    after = screen_of(transition(LONG, state, Choose("pole", "p02", state.step), NOW))
    assert after.progress.percent > first


# -- properties ---------------------------------------------------------------------------------

QUERIES = ["numero 1", "alias3", "p12x", "Cluster number 2", "zzz", "1", "2", "9", "", "pole"]
KINDS = ["search", "page", "pick", "pick", "pick", "remove", "confirm", "back", "skip", "answer"]
FORWARD = ["search", "page", "pick", "pick", "remove", "confirm", "answer", "answer"]
SURVEYS = {"long": (LONG, NOW), "bundled": (BUNDLED, BUNDLED_NOW)}


def draw_event(data: st.DataObject, survey: Survey, state: State, kinds: list[str]) -> Event:
    kind = data.draw(st.sampled_from(kinds))
    question = survey.by_id.get(state.current or "")
    if question is None or state.phase is not Phase.ANSWERING:
        return Start()
    stale = data.draw(st.integers(min_value=-2, max_value=0)) if kind != "answer" else 0
    step = state.step + stale
    ids = [o.id for o in question.choices()] or ["x"]
    if kind == "search":
        return TextInput(data.draw(st.sampled_from(QUERIES)))
    if kind == "page":
        return Page(question.id, data.draw(st.integers(min_value=-1, max_value=9)), step)
    if kind == "pick":
        shown = list(shown_ids(question, state)) if question.searchable else []
        option = data.draw(st.sampled_from(shown or ids))
        if question.type.value == "multi_choice":
            return Toggle(question.id, option, step)
        return Choose(question.id, option, step)
    if kind == "remove":
        return Remove(question.id, data.draw(st.sampled_from(list(state.pending) or ids)), step)
    if kind == "confirm":
        return Confirm(question.id, step)
    if kind == "back":
        return Back(step)
    if kind == "skip":
        return Skip(step)
    # a plain valid answer to anything that is not a list
    if state.awaiting_other:
        return TextInput("autre pôle")
    if question.type.value in ("text",):
        return TextInput("parce que")
    if question.type.value == "consent":
        return Choose(question.id, "accept", state.step)
    if question.type.value == "scale":
        return Choose(question.id, str(question.scale_points()[0]), state.step)
    if question.type.value == "number":
        return TextInput(str(int(question.min or 0)))
    if question.type.value == "email":
        return TextInput("a@example.org")
    if question.type.value == "ranking":
        return TextInput(" ".join(str(n) for n in range(1, question.top + 1)))
    if question.searchable:
        if question.type.value == "multi_choice" and state.pending:
            return Confirm(question.id, state.step)
        return (
            Toggle(question.id, question.options[0].id, state.step)
            if (question.type.value == "multi_choice")
            else Choose(question.id, question.options[0].id, state.step)
        )
    return TextInput("1")


def check_valid(survey: Survey, result: Result) -> None:
    state = result.state
    visible = {q.id for q in visible_questions(survey, state.answers)}
    assert set(state.answers) <= visible
    for question_id, answer in state.answers.items():
        assert answer_problem(survey.by_id[question_id], answer) is None, question_id
    if state.query is None:
        assert state.matches == ()
    if state.phase is Phase.ANSWERING:
        assert state.current in visible
        question = survey.by_id[state.current or ""]
        ids = {o.id for o in question.choices()}
        assert set(state.matches) <= ids and len(state.matches) <= PAGE_SIZE
        assert set(state.pending) <= ids and len(set(state.pending)) == len(state.pending)
        if question.type.value == "multi_choice":
            assert len(state.pending) <= question.max_choices
        if question.searchable:
            assert 0 <= state.page < page_count(question)
    else:
        assert state.query is None and state.matches == () and state.page == 0
    for screen in result.output.screens:
        if isinstance(screen, QuestionScreen):
            assert (screen.listing is not None) == screen.question.searchable
            if screen.listing is not None:
                assert len(screen.listing.options) <= PAGE_SIZE


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", list(SURVEYS))
@PROPERTY
@given(data=st.data())
def test_any_list_events_keep_the_state_valid(name: str, data: st.DataObject) -> None:
    survey, now = SURVEYS[name]
    state = transition(survey, new_state(survey), Start(), now).state
    for _ in range(data.draw(st.integers(min_value=1, max_value=50))):
        result = transition(survey, state, draw_event(data, survey, state, KINDS), now)
        check_valid(survey, result)
        assert result.state.step >= state.step
        state = result.state


@pytest.mark.parametrize("name", list(SURVEYS))
@PROPERTY
@given(data=st.data())
def test_answering_forward_the_progress_never_goes_back(name: str, data: st.DataObject) -> None:
    survey, now = SURVEYS[name]
    state = transition(survey, new_state(survey), Start(), now).state
    shown = -1
    for _ in range(data.draw(st.integers(min_value=1, max_value=80))):
        result = transition(survey, state, draw_event(data, survey, state, FORWARD), now)
        check_valid(survey, result)
        for screen in result.output.screens:
            if isinstance(screen, QuestionScreen):
                assert screen.progress.percent >= shown, (screen.question.id, shown)
                shown = screen.progress.percent
        state = result.state
        if state.phase is not Phase.ANSWERING:
            break


def test_other_on_a_long_list_asks_for_the_text() -> None:
    state = at(LONG, "pole")
    waiting = transition(LONG, state, Choose("pole", OTHER_OPTION_ID, state.step), NOW).state
    assert waiting.awaiting_other
    done = transition(LONG, waiting, TextInput("Un pôle oublié"), NOW)
    assert done.state.answers["pole"] == Answer(OTHER_OPTION_ID, "Un pôle oublié")


OPENING_YAML = (
    """\
id: opening
title: {fr: "Branches"}
languages: [fr]
opens_at: "2024-03-01T09:00:00+01:00"
closes_at: "2024-04-01T00:00:00+02:00"
sections:
  - id: only
    title: {fr: "Seule"}
    questions:
"""
    + "".join(
        f"""      - id: q{n}
        type: single_choice
        text: {{fr: "Question {n} ?"}}
        options: [{{id: "yes", label: {{fr: "Oui"}}}}, {{id: "no", label: {{fr: "Non"}}}}]
"""
        for n in range(1, 4)
    )
    + "".join(
        f"""      - id: open{n}
        type: text
        show_if: 'q3 == "yes"'
        text: {{fr: "Détail {n} ?"}}
"""
        for n in range(1, 6)
    )
)


def test_an_answer_that_opens_questions_does_not_move_the_progress_back() -> None:
    """With "answered / visible", answering q3 "yes" would drop from 2/3 to 3/8 of the way."""
    survey = parse_survey(OPENING_YAML, "opening.yaml")
    state = at(survey, "q3")
    before = screen_of(transition(survey, state, Start(), NOW)).progress.percent
    after = screen_of(transition(survey, state, Choose("q3", "yes", state.step), NOW))
    assert after.question.id == "open1"
    assert after.progress.percent >= before
