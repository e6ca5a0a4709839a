"""The dialogue state machine: (survey, state, event, now) -> (new state, what to show).

Pure: no clock read, no I/O. Invalid events never raise; they leave the state as it was and
explain why in a notice, followed by the current screen again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dialogs import answers as parse
from dialogs import longlist
from dialogs.events import (
    Amend,
    Back,
    Choose,
    Confirm,
    Edit,
    Event,
    Page,
    Remove,
    Skip,
    Stale,
    Start,
    Status,
    Submit,
    SwitchLanguage,
    TextInput,
    Toggle,
    Unsupported,
)
from dialogs.flow import first_unanswered, missing_required, progress, prune, visible_questions
from dialogs.limits import OTHER_OPTION_ID, PAGE_SIZE
from dialogs.model import Question, QuestionType, Survey
from dialogs.screens import (
    ClosedScreen,
    Notice,
    NotOpenScreen,
    Output,
    QuestionScreen,
    ReceiptScreen,
    ReviewItem,
    ReviewScreen,
    Screen,
    WelcomeScreen,
)
from dialogs.state import Answer, Phase, State

MAX_QUERY = 100
"""Characters of a long list's search kept in the state (and searched)."""
NOTICE_QUERY = 60
"""Characters of a search that found nothing repeated in the notice that says so."""
CONSENT_ACCEPT = "accept"
CONSENT_DECLINE = "decline"


@dataclass(frozen=True)
class Result:
    state: State
    output: Output


def new_state(survey: Survey, language: str | None = None) -> State:
    """The state of someone who has not started, in their language if the survey has it."""
    chosen = language if language in survey.languages else survey.default_language
    return State(language=chosen)


def window_screen(survey: Survey, state: State, now: datetime) -> Screen | None:
    """NotOpen or Closed when `now` is outside [opens_at, closes_at), else None."""
    if now < survey.opens_at:
        return NotOpenScreen(survey.opens_at)
    if now >= survey.closes_at:
        return ClosedScreen(survey.closes_at, state.reference)
    return None


def is_open(survey: Survey, now: datetime) -> bool:
    return survey.opens_at <= now < survey.closes_at


def transition(
    survey: Survey, state: State, event: Event, now: datetime, *, preview: bool = False
) -> Result:
    """Apply one event. `preview` ignores the opening window (the terminal preview)."""
    if isinstance(event, SwitchLanguage):
        return _switch_language(survey, state, event, now, preview)
    if isinstance(event, Status):
        return _status(survey, state, now, preview)
    if isinstance(event, Unsupported):
        return _again(survey, state, now, preview, Notice("unsupported", {"kind": event.kind}))
    if isinstance(event, Stale):
        if state.phase is Phase.NEW:
            return Result(state, Output(notices=(Notice("stale_button"),)))
        return _again(survey, state, now, preview, Notice("stale_button"))
    if not preview:
        closed = window_screen(survey, state, now)
        if closed is not None:
            return Result(state, Output(screens=(closed,)))
    engine = _Engine(survey, state, now)
    return engine.handle(event)


def current_screen(survey: Survey, state: State, now: datetime, *, preview: bool = False) -> Screen:
    """The screen the participant is on, as /start or a refusal would show it again."""
    if not preview:
        closed = window_screen(survey, state, now)
        if closed is not None:
            return closed
    return _Engine(survey, state, now).screen()


def _again(survey: Survey, state: State, now: datetime, preview: bool, notice: Notice) -> Result:
    return Result(
        state,
        Output(notices=(notice,), screens=(current_screen(survey, state, now, preview=preview),)),
    )


def _switch_language(
    survey: Survey, state: State, event: SwitchLanguage, now: datetime, preview: bool
) -> Result:
    if event.language not in survey.languages:
        return _again(
            survey,
            state,
            now,
            preview,
            Notice("unknown_language", {"languages": ", ".join(survey.languages)}),
        )
    switched = replace(state, language=event.language)
    if state.phase is Phase.NEW:
        return Result(switched, Output(notices=(Notice("language_switched"),)))
    return _again(survey, switched, now, preview, Notice("language_switched"))


def _status(survey: Survey, state: State, now: datetime, preview: bool) -> Result:
    visible = visible_questions(survey, state.answers)
    notice = Notice(
        "status",
        {
            "answered": sum(1 for q in visible if q.id in state.answers),
            "total": len(visible),
            "phase": state.phase.value,
        },
    )
    if state.phase is Phase.NEW:
        return Result(state, Output(notices=(notice,)))
    return _again(survey, state, now, preview, notice)


class _Engine:
    """One transition: the survey, the state before and the time, with the rules as methods."""

    def __init__(self, survey: Survey, state: State, now: datetime) -> None:
        self.survey = survey
        self.state = state
        self.now = now

    # -- screens ------------------------------------------------------------------------------

    def screen(self, state: State | None = None) -> Screen:
        state = state or self.state
        if state.phase is Phase.SUBMITTED and state.reference and state.submitted_at:
            return ReceiptScreen(state.reference, state.submitted_at, self.survey.allow_amend)
        if state.phase is Phase.REVIEW:
            return self.review_screen(state)
        question = self.current_question(state)
        if question is None:
            return WelcomeScreen()
        return self.question_screen(state, question)

    def current_question(self, state: State) -> Question | None:
        if state.phase is not Phase.ANSWERING or state.current is None:
            return None
        return self.survey.by_id.get(state.current)

    def question_screen(self, state: State, question: Question) -> QuestionScreen:
        return QuestionScreen(
            question=question,
            progress=progress(self.survey, state.answers, question),
            step=state.step,
            answer=state.answers.get(question.id),
            pending=state.pending,
            awaiting_other=state.awaiting_other,
            can_back=state.editing or bool(state.history),
            can_skip=not question.required,
            listing=longlist.listing(question, state) if question.searchable else None,
        )

    def review_screen(self, state: State) -> ReviewScreen:
        items = tuple(
            ReviewItem(q, state.answers[q.id])
            for q in visible_questions(self.survey, state.answers)
            if q.id in state.answers
        )
        return ReviewScreen(items, state.step)

    def show(self, state: State, *notices: Notice, replace_message: bool = False) -> Result:
        return Result(
            state,
            Output(notices=notices, screens=(self.screen(state),), replace=replace_message),
        )

    def refuse(self, notice: Notice) -> Result:
        return self.show(self.state, notice)

    # -- moves --------------------------------------------------------------------------------

    def ask(self, state: State, question: Question, *, history: tuple[str, ...]) -> State:
        answer = state.answers.get(question.id)
        pending: tuple[str, ...] = ()
        if (
            question.type in (QuestionType.MULTI_CHOICE, QuestionType.RANKING)
            and answer is not None
            and isinstance(answer.value, tuple)
        ):
            pending = answer.value
        page = 0
        if question.searchable and answer is not None:
            first = answer.value[0] if isinstance(answer.value, tuple) else answer.value
            if isinstance(first, str):
                page = longlist.page_of(question, first)
        return replace(
            state,
            phase=Phase.ANSWERING,
            current=question.id,
            history=history,
            pending=pending,
            awaiting_other=False,
            step=state.step + 1,
            query=None,
            matches=(),
            page=page,
        )

    def to_review(self, state: State, *, history: tuple[str, ...]) -> State:
        return replace(
            state,
            phase=Phase.REVIEW,
            current=None,
            history=history,
            pending=(),
            awaiting_other=False,
            editing=False,
            step=state.step + 1,
            query=None,
            matches=(),
            page=0,
        )

    def accept(self, question: Question, answer: Answer) -> Result:
        answers = dict(self.state.answers)
        answers[question.id] = answer
        state = replace(self.state, answers=prune(self.survey, answers))
        history = self.state.history
        if not state.editing:
            history = (*history, question.id)
        following = first_unanswered(self.survey, state.answers, after=question)
        if following is not None:
            return self.show(self.ask(state, following, history=history))
        return self.show(self.to_review(state, history=history))

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: Event) -> Result:
        state = self.state
        if isinstance(event, Start):
            return self.start()
        if isinstance(event, Submit):
            return self.submit(event)
        if isinstance(event, Amend):
            return self.amend()
        if state.phase is Phase.NEW:
            return self.start()
        if state.phase is Phase.SUBMITTED:
            return self.refuse(Notice("already_submitted"))
        if isinstance(event, Back):
            return self.back(event)
        if isinstance(event, Edit):
            return self.edit(event)
        if state.phase is Phase.REVIEW:
            if isinstance(event, TextInput):
                return self.refuse(Notice("use_buttons"))
            return self.refuse(Notice("stale_button"))
        question = self.current_question(state)
        if question is None:
            return self.start()
        if isinstance(event, TextInput):
            return self.text(question, event.text)
        if isinstance(event, Skip):
            return self.skip(question, event)
        if isinstance(event, Choose | Toggle | Confirm | Page | Remove):
            if event.question_id != question.id or event.step != state.step:
                return self.refuse(Notice("stale_button"))
            if isinstance(event, Choose):
                return self.choose(question, event.option_id)
            if isinstance(event, Toggle):
                return self.toggle(question, event.option_id)
            if isinstance(event, Page):
                return self.page(question, event.page)
            if isinstance(event, Remove):
                return self.remove(question, event.option_id)
            return self.confirm(question)
        return self.refuse(Notice("stale_button"))

    def start(self) -> Result:
        state = self.state
        if state.phase is Phase.SUBMITTED:
            return self.show(state)
        if state.phase is Phase.REVIEW:
            return self.show(state, Notice("welcome_back"))
        target = first_unanswered(self.survey, state.answers)
        if state.phase is Phase.NEW:
            first = target or self.survey.questions[0]
            asked = self.ask(state, first, history=())
            return Result(asked, Output(screens=(WelcomeScreen(), self.screen(asked))))
        history = state.history
        if state.current is not None and state.current not in history:
            history = (*history, state.current)
        resumed = replace(state, editing=False)
        if target is None:
            return self.show(self.to_review(resumed, history=history), Notice("welcome_back"))
        history = tuple(h for h in history if h != target.id)
        return self.show(self.ask(resumed, target, history=history), Notice("welcome_back"))

    def back(self, event: Back) -> Result:
        state = self.state
        if event.step is not None and event.step != state.step:
            return self.refuse(Notice("stale_button"))
        if state.phase is Phase.ANSWERING and state.editing:
            return self.show(self.to_review(state, history=state.history))
        visible = {q.id for q in visible_questions(self.survey, state.answers)}
        history = list(state.history)
        while history:
            previous = history.pop()
            if previous in visible and previous != state.current:
                return self.show(
                    self.ask(state, self.survey.by_id[previous], history=tuple(history))
                )
        return self.refuse(Notice("no_previous"))

    def edit(self, event: Edit) -> Result:
        state = self.state
        if state.phase is not Phase.REVIEW or (event.step is not None and event.step != state.step):
            return self.refuse(Notice("stale_button"))
        visible = {q.id for q in visible_questions(self.survey, state.answers)}
        if event.question_id not in visible:
            return self.refuse(Notice("stale_button"))
        question = self.survey.by_id[event.question_id]
        editing = replace(state, editing=True)
        return self.show(self.ask(editing, question, history=state.history))

    def skip(self, question: Question, event: Skip) -> Result:
        if event.step is not None and event.step != self.state.step:
            return self.refuse(Notice("stale_button"))
        if question.required:
            return self.refuse(Notice("required"))
        return self.accept(question, Answer(None))

    def submit(self, event: Submit) -> Result:
        state = self.state
        if state.phase is Phase.SUBMITTED:
            return self.refuse(Notice("already_submitted"))
        if state.phase is not Phase.REVIEW or (event.step is not None and event.step != state.step):
            return self.refuse(Notice("stale_button"))
        missing = missing_required(self.survey, state.answers)
        if missing:
            asked = self.ask(replace(state, editing=False), missing[0], history=state.history)
            return self.show(asked, Notice("missing_answers", {"count": len(missing)}))
        submitted = replace(
            state,
            phase=Phase.SUBMITTED,
            current=None,
            pending=(),
            awaiting_other=False,
            editing=False,
            step=state.step + 1,
            query=None,
            matches=(),
            page=0,
            reference=state.reference or event.reference,
            submitted_at=self.now,
        )
        return Result(submitted, Output(screens=(self.screen(submitted),), submitted=True))

    def amend(self) -> Result:
        state = self.state
        if state.phase is not Phase.SUBMITTED:
            return self.refuse(Notice("stale_button"))
        if not self.survey.allow_amend:
            return self.refuse(Notice("amend_not_allowed"))
        return self.show(self.to_review(state, history=state.history), Notice("amended"))

    # -- answers ------------------------------------------------------------------------------

    def text(self, question: Question, typed: str) -> Result:
        checked = parse.check_text(typed)
        if isinstance(checked, Notice):
            return self.refuse(checked)
        text = checked
        state = self.state
        if state.awaiting_other:
            other = parse.parse_other(text)
            if isinstance(other, Notice):
                return self.refuse(other)
            if question.type is QuestionType.SINGLE_CHOICE:
                return self.accept(question, Answer(OTHER_OPTION_ID, other))
            return self.accept(question, Answer(state.pending, other))
        qtype = question.type
        if question.searchable:
            return self.search(question, text)
        result: Answer | Notice
        if qtype is QuestionType.TEXT:
            result = parse.parse_text(question, text)
        elif qtype is QuestionType.EMAIL:
            result = parse.parse_email(text)
        elif qtype is QuestionType.ORGANISATION_ID:
            result = parse.parse_organisation_id(text)
        elif qtype is QuestionType.NUMBER:
            result = parse.parse_number(question, text)
        elif qtype is QuestionType.SCALE:
            result = parse.parse_scale(question, text)
        elif qtype is QuestionType.CONSENT:
            return self.typed_consent(text)
        elif qtype is QuestionType.SINGLE_CHOICE:
            return self.typed_single(question, text)
        else:
            return self.typed_selection(question, text)
        if isinstance(result, Notice):
            return self.refuse(result)
        return self.accept(question, result)

    def typed_consent(self, text: str) -> Result:
        typed = text.strip().casefold()
        if typed == "1":
            return self.accept_consent()
        if typed == "2":
            return self.refuse(Notice("consent_required"))
        return self.refuse(Notice("choice_number", {"count": 2}))

    def typed_single(self, question: Question, text: str) -> Result:
        matched = parse.match_label(question, text)
        if matched is not None:
            return self.choose(question, matched)
        chosen = parse.parse_choice_numbers(question, text)
        if isinstance(chosen, Notice):
            return self.refuse(chosen)
        if len(chosen) != 1:
            return self.refuse(Notice("choice_number", {"count": len(question.choices())}))
        return self.choose(question, chosen[0])

    def typed_selection(self, question: Question, text: str) -> Result:
        chosen = parse.parse_choice_numbers(question, text)
        if isinstance(chosen, Notice):
            return self.refuse(chosen)
        if question.type is QuestionType.MULTI_CHOICE:
            chosen = parse.sort_by_options(question, chosen)
        problem = parse.check_selection(question, chosen)
        if problem is not None:
            return self.refuse(problem)
        return self.complete_selection(question, chosen)

    def choose(self, question: Question, option_id: str) -> Result:
        qtype = question.type
        if qtype is QuestionType.CONSENT:
            if option_id == CONSENT_ACCEPT:
                return self.accept_consent()
            if option_id == CONSENT_DECLINE:
                return self.refuse(Notice("consent_required"))
        elif qtype is QuestionType.SCALE:
            point = parse.parse_int(option_id)
            if point is not None and point in question.scale_points():
                return self.accept(question, Answer(point))
        elif qtype is QuestionType.SINGLE_CHOICE and question.option(option_id) is not None:
            if option_id == OTHER_OPTION_ID and question.other:
                waiting = replace(self.state, awaiting_other=True, pending=(OTHER_OPTION_ID,))
                return self.show(waiting)
            return self.accept(question, Answer(option_id))
        return self.refuse(Notice("stale_button"))

    def accept_consent(self) -> Result:
        question = self.current_question(self.state)
        assert question is not None
        return self.accept(question, Answer(True))

    def toggle(self, question: Question, option_id: str) -> Result:
        state = self.state
        if question.type not in (QuestionType.MULTI_CHOICE, QuestionType.RANKING) or (
            question.option(option_id) is None
        ):
            return self.refuse(Notice("stale_button"))
        pending = state.pending
        if option_id in pending:
            pending = tuple(p for p in pending if p != option_id)
        elif question.type is QuestionType.RANKING:
            if len(pending) >= question.top:
                return self.refuse(Notice("ranking_full", {"top": question.top}))
            pending = (*pending, option_id)
        else:
            if len(pending) >= question.max_choices:
                return self.refuse(Notice("too_many_choices", {"max": question.max_choices}))
            pending = parse.sort_by_options(question, (*pending, option_id))
        return self.show(
            replace(state, pending=pending, awaiting_other=False), replace_message=True
        )

    def confirm(self, question: Question) -> Result:
        if question.type not in (QuestionType.MULTI_CHOICE, QuestionType.RANKING):
            return self.refuse(Notice("stale_button"))
        problem = parse.check_selection(question, self.state.pending)
        if problem is not None:
            return self.refuse(problem)
        return self.complete_selection(question, self.state.pending)

    def complete_selection(self, question: Question, selection: tuple[str, ...]) -> Result:
        if OTHER_OPTION_ID in selection and question.other:
            return self.show(replace(self.state, pending=selection, awaiting_other=True))
        return self.accept(question, Answer(selection))

    # -- long lists ---------------------------------------------------------------------------

    def search(self, question: Question, text: str) -> Result:
        """Typed text on a long list: a number picks an option on screen; anything else searches.

        One exact match is picked at once; several, or close ones, are offered as buttons; none
        says so (the screen offers the "other" choice where the question has one)."""
        state = self.state
        typed = " ".join(text.split())
        if not typed:
            return self.refuse(Notice("text_empty"))
        number = parse.parse_int(typed)
        if number is not None:
            shown = longlist.shown_ids(question, state)
            if 1 <= number <= len(shown):
                return self.pick(question, shown[number - 1], replace_message=False)
        found = question.search_index.search(typed[:MAX_QUERY], PAGE_SIZE)
        if found.exact:
            return self.pick(question, found.option_ids[0], replace_message=False)
        if not found.option_ids:
            # Nothing stored changes: the notice says so above the list as it was, whose "other"
            # button (where the question has one) takes a name missing from the list.
            key = "no_match_other" if question.other else "no_match"
            said = typed if len(typed) <= NOTICE_QUERY else typed[: NOTICE_QUERY - 1] + "…"
            return self.refuse(Notice(key, {"query": said}))
        searched = replace(
            state,
            query=typed[:MAX_QUERY],
            matches=found.option_ids,
            awaiting_other=False,
            pending=() if question.type is QuestionType.SINGLE_CHOICE else state.pending,
            step=state.step + 1,
        )
        return self.show(searched)

    def pick(self, question: Question, option_id: str, *, replace_message: bool) -> Result:
        """An option named by a search or a number: chosen (single) or added (multi)."""
        if question.type is QuestionType.SINGLE_CHOICE:
            return self.choose(question, option_id)
        state = self.state
        if option_id in state.pending:
            return self.show(
                replace(state, query=None, matches=(), step=state.step + 1),
                replace_message=replace_message,
            )
        if len(state.pending) >= question.max_choices:
            return self.refuse(Notice("too_many_choices", {"max": question.max_choices}))
        pending = parse.sort_by_options(question, (*state.pending, option_id))
        page = longlist.page_of(question, option_id) if option_id != OTHER_OPTION_ID else state.page
        added = replace(
            state,
            pending=pending,
            awaiting_other=False,
            query=None,
            matches=(),
            page=page,
            step=state.step + 1,
        )
        return self.show(added, replace_message=replace_message)

    def page(self, question: Question, page: int) -> Result:
        if not question.searchable:
            return self.refuse(Notice("stale_button"))
        state = self.state
        single = question.type is QuestionType.SINGLE_CHOICE
        turned = replace(
            state,
            awaiting_other=False,
            pending=() if single else state.pending,
            query=None,
            matches=(),
            page=page % longlist.page_count(question),
            step=state.step + 1,
        )
        return self.show(turned, replace_message=True)

    def remove(self, question: Question, option_id: str) -> Result:
        state = self.state
        if (
            not question.searchable
            or question.type is not QuestionType.MULTI_CHOICE
            or option_id not in state.pending
        ):
            return self.refuse(Notice("stale_button"))
        pending = tuple(p for p in state.pending if p != option_id)
        return self.show(
            replace(state, pending=pending, awaiting_other=False), replace_message=True
        )
