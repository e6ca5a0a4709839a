"""Turn the engine's screens into what a web page shows: texts, option buttons, a text input and
navigation buttons, in the participant's language, from the same catalogues as the bot.

Generic on purpose: each screen becomes a `WebView` (a list of `Block`s and `Action`s) that one
template lays out, so a new kind of screen or a new field of one is a few lines here, not a new
template. Texts from the catalogue are trusted (they may hold `<code>`); every value put into them
(a reference, an answer, a label from the questionnaire) is escaped here, and the template
autoescapes everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from channels.answers import answer_text, number_text, option_text
from channels.i18n import format_deadline, format_time, t
from dialogs.engine import CONSENT_ACCEPT, CONSENT_DECLINE
from dialogs.limits import OTHER_OPTION_ID
from dialogs.model import Option, Question, QuestionType, Survey
from dialogs.screens import (
    ClosedScreen,
    Notice,
    NotOpenScreen,
    QuestionScreen,
    ReceiptScreen,
    ReviewScreen,
    Screen,
    WelcomeScreen,
)
from dialogs.state import Answer, State
from dialogs.texts import Text
from web import actions

TYPED = (QuestionType.TEXT, QuestionType.NUMBER, QuestionType.EMAIL, QuestionType.ORGANISATION_ID)
WEB_NOTICES = {"stale_button": "web.notice.stale_button"}
"""The engine's notices worded for a page rather than a Telegram message."""


@dataclass(frozen=True)
class Action:
    """A submit button of the page's form: `value` is what `web.actions.decode` reads back."""

    label: str
    value: str
    pressed: bool | None = None
    """For a tick or rank button: whether it is on (`aria-pressed`); None for a plain button."""
    primary: bool = False
    describe: str = ""
    """A longer accessible name (e.g. "Edit answer 3: Which region?")."""


@dataclass(frozen=True)
class Input:
    """The one text input of a typed answer."""

    label: str
    hint: str
    multiline: bool = False
    inputmode: str = "text"
    autocomplete: str = "off"
    value: str = ""


@dataclass(frozen=True)
class OptionGroup:
    """Options of a long list's page under their group's heading ("" when it has no group)."""

    heading: str
    options: tuple[Action, ...]


@dataclass(frozen=True)
class ListingView:
    """A long list: its search field, one page of options (or search results), the paging,
    the "other" choice, and for a multi choice the choices made (each removable) and Confirm."""

    search: Input
    status: str
    """Where the participant is: "Page 2 of 7", or the search's results (or none)."""
    groups: tuple[OptionGroup, ...]
    previous: Action | None = None
    following: Action | None = None
    full_list: Action | None = None
    other: Action | None = None
    multi: bool = False
    chosen_title: str = ""
    chosen: tuple[Action, ...] = ()
    confirm: Action | None = None


@dataclass(frozen=True)
class ReviewRow:
    question_id: str
    number: int
    question: str
    answer: str
    edit: Action


@dataclass(frozen=True)
class WebView:
    """One screen as the page shows it."""

    kind: str
    """question, review, receipt, closed, not_open, welcome: also the page's CSS hook."""
    heading: str
    lead: Markup = field(default_factory=Markup)
    """The text under the heading: progress, help, hint, current answer... (trusted HTML)."""
    texts: tuple[Markup, ...] = ()
    options: tuple[Action, ...] = ()
    group_label: str = ""
    """The options' accessible group name (the question)."""
    input: Input | None = None
    nav: tuple[Action, ...] = ()
    rows: tuple[ReviewRow, ...] = ()
    step: int = 0
    question_id: str = ""
    """A question's page: its id (the page's `data-question`)."""
    question_type: str = ""
    """A question's page: its type, or `other` while the "other" text is asked."""
    has_hint: bool = False
    """The options are described by the hint (`aria-describedby`)."""
    listing: ListingView | None = None
    progress: int | None = None
    """The share of the questionnaire answered, in percent (a question's page only)."""


@dataclass(frozen=True)
class ThreadItem:
    """A question already answered, shown above the current one as a chat thread."""

    question: str
    answer: str


def html(trusted: str) -> Markup:
    """HTML built here with an f-string whose every value went through `escape` (several times
    faster than `Markup.format`, on the path of every page)."""
    return Markup(trusted)


PRESSED = {None: "", True: ' aria-pressed="true"', False: ' aria-pressed="false"'}


def buttons(actions_: Sequence[Action]) -> Markup:
    """The submit buttons of `actions_` as HTML (the template's filter `buttons`): built here,
    they cost one escape per label, and none for a label already escaped (`Markup`); values are
    made of the questionnaire's ids, numbers and `:` (see `web.actions`), never escaped."""
    parts = []
    for action in actions_:
        label = action.label
        text = label if type(label) is Markup else escape(label)
        pressed = action.pressed
        state = (
            ""
            if pressed is None
            else (' aria-pressed="true"' if pressed else ' aria-pressed="false"')
        )
        primary = ' class="primary"' if action.primary else ""
        parts.append(
            f'<button type="submit" name="a" value="{action.value}"{state}{primary}>{text}</button>'
        )
    return Markup("\n".join(parts))


def paragraphs(text: str) -> Markup:
    """Trusted catalogue text (params already escaped) with its line breaks kept."""
    return Markup("<br>").join(Markup(line) for line in text.split("\n"))


ANSWER_TEXTS = 20_000
"""Answers as read back (`WebRenderer.answer`) remembered: the thread above every question
shows the last two, and most answers are a choice that many participants make."""


class WebRenderer:
    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self._landing: dict[str, dict[str, object]] = {}
        self._answers: dict[tuple[str, str, Answer], str] = {}
        self._labels: dict[tuple[str, str, str], Markup] = {}
        self._languages: dict[str, Markup] = {}
        self._leads: dict[tuple[str, str, int], str] = {}

    def tx(self, lang: str, text: Text) -> str:
        return text.get(lang, self.survey.default_language)

    def tm(self, lang: str, key: str, /, **params: object) -> Markup:
        """A catalogue text as HTML: the text is trusted, every parameter is escaped."""
        safe = {k: v if isinstance(v, int | float) else escape(str(v)) for k, v in params.items()}
        return paragraphs(t(lang, key, **safe))

    # -- notices --------------------------------------------------------------------------------

    def notice(self, lang: str, notice: Notice) -> Markup:
        params = dict(notice.params)
        if notice.key == "status":
            params["phase"] = t(lang, f"phase.{params.get('phase', 'new')}")
        return self.tm(lang, WEB_NOTICES.get(notice.key, f"notice.{notice.key}"), **params)

    # -- the landing page -----------------------------------------------------------------------

    def landing(self, lang: str) -> dict[str, object]:
        """The landing page's texts (the same for everyone: computed once per language)."""
        cached = self._landing.get(lang)
        if cached is None:
            cached = self._landing[lang] = self._landing_texts(lang)
        return cached

    def _landing_texts(self, lang: str) -> dict[str, object]:
        survey = self.survey
        return {
            "title": self.tx(lang, survey.title),
            "description": self.tx(lang, survey.description) if survey.description else "",
            "practical": self.tm(
                lang,
                "welcome.practical",
                deadline=format_deadline(lang, survey.closes_at, survey.timezone),
                minutes=survey.estimated_minutes,
                city=survey.timezone.rsplit("/", 1)[-1].replace("_", " "),
            ),
            "dates": t(
                lang,
                "web.dates",
                opens=format_time(lang, survey.opens_at, survey.timezone),
                closes=format_deadline(lang, survey.closes_at, survey.timezone),
            ),
            "privacy_title": t(lang, "welcome.privacy"),
            "privacy": self.tx(lang, survey.privacy) if survey.privacy else "",
        }

    # -- the thread -----------------------------------------------------------------------------

    def thread(self, lang: str, state: State, limit: int = 2) -> tuple[ThreadItem, ...]:
        """The last questions answered before the current one, oldest first."""
        items: list[ThreadItem] = []
        for qid in reversed(state.history):
            question = self.survey.by_id.get(qid)
            answer = state.answers.get(qid)
            if question is None or answer is None or qid == state.current:
                continue
            items.append(
                ThreadItem(self.tx(lang, question.text), self.answer(lang, question, answer))
            )
            if len(items) >= limit:
                break
        return tuple(reversed(items))

    # -- screens --------------------------------------------------------------------------------

    def screen(self, lang: str, screen: Screen, typed: str = "") -> WebView:
        if isinstance(screen, QuestionScreen):
            return self.question(lang, screen, typed)
        if isinstance(screen, ReviewScreen):
            return self.review(lang, screen)
        if isinstance(screen, ReceiptScreen):
            when = format_time(lang, screen.submitted_at, self.survey.timezone)
            nav = (Action(t(lang, "button.amend"), actions.AMEND),) if screen.can_amend else ()
            return WebView(
                "receipt",
                t(lang, "web.receipt_title"),
                texts=(self.tm(lang, "receipt", reference=screen.reference, time=when),),
                nav=nav,
            )
        if isinstance(screen, NotOpenScreen):
            when = format_time(lang, screen.opens_at, self.survey.timezone)
            return WebView(
                "not_open",
                self.tx(lang, self.survey.title),
                texts=(self.tm(lang, "not_open", time=when),),
            )
        if isinstance(screen, ClosedScreen):
            when = format_deadline(lang, screen.closes_at, self.survey.timezone)
            texts = [self.tm(lang, "closed", time=when)]
            if screen.reference:
                texts.append(self.tm(lang, "closed.submitted", reference=screen.reference))
            return WebView("closed", self.tx(lang, self.survey.title), texts=tuple(texts))
        assert isinstance(screen, WelcomeScreen)
        return WebView("welcome", self.tx(lang, self.survey.title))

    def question(self, lang: str, screen: QuestionScreen, typed: str = "") -> WebView:
        q = screen.question
        p = screen.progress
        lead: list[str] = [self.lead_head(lang, q, p.percent)]
        hint = self.hint(lang, q, screen)
        if screen.answer is not None and not screen.awaiting_other:
            current = self.answer(lang, q, screen.answer)
            lead.append(
                html(f'<p class="current">{self.tm(lang, "question.current", answer=current)}</p>')
            )
        nav: list[Action] = []
        if screen.can_back:
            nav.append(Action(t(lang, "button.back"), actions.back(screen.step)))
        if screen.can_skip:
            nav.append(Action(t(lang, "button.skip"), actions.skip(screen.step)))
        field_input = None
        options: tuple[Action, ...] = ()
        listing: ListingView | None = None
        if screen.awaiting_other or q.type in TYPED:
            field_input = self.text_input(lang, q, screen, hint, typed)
        elif screen.listing is not None:
            listing = self.listing(lang, q, screen, typed)
            if hint:
                lead.append(html(f'<p class="hint" id="hint">{escape(hint)}</p>'))
        else:
            options = tuple(self.options(lang, q, screen))
            if hint:
                lead.append(html(f'<p class="hint" id="hint">{escape(hint)}</p>'))
        return WebView(
            "question",
            self.tx(lang, q.text),
            lead=Markup("".join(lead)),  # every part built here, escaped
            options=options,
            group_label=self.tx(lang, q.text),
            input=field_input,
            nav=tuple(nav),
            step=screen.step,
            question_id=q.id,
            question_type="other" if screen.awaiting_other else q.type.value,
            has_hint=bool((options or listing) and hint),
            listing=listing,
            progress=p.percent,
        )

    def lead_head(self, lang: str, q: Question, percent: int) -> str:
        """A question's progress bar and help, as HTML (once per language and percentage)."""
        key = (lang, q.id, percent)
        found = self._leads.get(key)
        if found is None:
            section = self.survey.section_of(q)
            title = self.tx(lang, section.title)
            progress = escape(t(lang, "web.progress", percent=percent, section=title))
            number = escape(percent)
            found = (
                f'<p class="progress"><label for="progress">{progress}</label>'
                f'<progress id="progress" max="100" value="{number}">{number} %</progress></p>'
            )
            if q.help:
                found += f'<p class="help">{escape(self.tx(lang, q.help))}</p>'
            self._leads[key] = found
        return found

    # -- long lists -----------------------------------------------------------------------------

    def listing(self, lang: str, q: Question, screen: QuestionScreen, typed: str) -> ListingView:
        """A long list as the page shows it (see `bot.render.Renderer.listing_buttons`)."""
        listing = screen.listing
        assert listing is not None
        step = screen.step
        single = q.type is QuestionType.SINGLE_CHOICE
        answer = screen.answer.value if screen.answer is not None else None

        def button(option: Option) -> Action:
            label = self.option_label(lang, q, option)
            if single:
                return Action(
                    label, actions.choose(step, q.id, option.id), pressed=answer == option.id
                )
            return Action(
                label, actions.toggle(step, q.id, option.id), pressed=option.id in screen.pending
            )

        groups: list[OptionGroup] = []
        if listing.query is None:
            for option in listing.options:
                heading = self.tx(lang, option.group) if option.group else ""
                if groups and groups[-1].heading == heading:
                    last = groups.pop()
                    groups.append(OptionGroup(heading, (*last.options, button(option))))
                else:
                    groups.append(OptionGroup(heading, (button(option),)))
        elif listing.options:
            groups.append(OptionGroup("", tuple(button(o) for o in listing.options)))

        previous = following = full_list = None
        if listing.query is not None:
            status = t(
                lang,
                "web.list_results" if listing.options else "web.list_no_match",
                query=listing.query,
                count=len(listing.options),
            )
            full_list = Action(
                t(lang, "web.full_list"), actions.page(step, q.id, listing.page), primary=False
            )
        else:
            status = t(lang, "web.list_page", page=listing.page + 1, pages=listing.pages)
            if listing.pages > 1:
                before = (listing.page - 1) % listing.pages
                after = (listing.page + 1) % listing.pages
                previous = Action(
                    t(lang, "web.page_previous"),
                    actions.page(step, q.id, before),
                    describe=t(lang, "web.page_previous_to", page=before + 1, pages=listing.pages),
                )
                following = Action(
                    t(lang, "web.page_next"),
                    actions.page(step, q.id, after),
                    describe=t(lang, "web.page_next_to", page=after + 1, pages=listing.pages),
                )
        other = None
        if q.other:
            label = t(lang, "button.other")
            if single:
                other = Action(
                    label,
                    actions.choose(step, q.id, OTHER_OPTION_ID),
                    pressed=answer == OTHER_OPTION_ID,
                )
            else:
                other = Action(
                    label,
                    actions.toggle(step, q.id, OTHER_OPTION_ID),
                    pressed=OTHER_OPTION_ID in screen.pending,
                )
        chosen: list[Action] = []
        confirm = None
        chosen_title = ""
        if not single:
            for option_id in screen.pending:
                made = q.option(option_id)
                label = self.option_label(lang, q, made) if made is not None else option_id
                chosen.append(
                    Action(
                        label,
                        actions.remove(step, q.id, option_id),
                        describe=t(lang, "web.remove", label=label),
                    )
                )
            chosen_title = (
                t(lang, "web.chosen", count=len(chosen)) if chosen else t(lang, "web.none_chosen")
            )
            confirm = Action(
                t(lang, "button.confirm", count=len(screen.pending)),
                actions.confirm(step, q.id),
                primary=True,
            )
        search_value = typed or (listing.query or "")
        return ListingView(
            Input(t(lang, "web.search_label"), t(lang, "web.search_hint"), value=search_value),
            status,
            tuple(groups),
            previous=previous,
            following=following,
            full_list=full_list,
            other=other,
            multi=not single,
            chosen_title=chosen_title,
            chosen=tuple(chosen),
            confirm=confirm,
        )

    def text_input(
        self, lang: str, q: Question, screen: QuestionScreen, hint: str, typed: str
    ) -> Input:
        value = typed
        if not value and screen.answer is not None and not screen.awaiting_other:
            answer = screen.answer.value
            value = "" if answer is None or isinstance(answer, tuple) else str(answer)
        if screen.awaiting_other:
            return Input(t(lang, "button.other"), hint, multiline=False, value=value)
        if q.type is QuestionType.NUMBER:
            return Input(t(lang, "web.answer_label"), hint, inputmode="decimal", value=value)
        if q.type is QuestionType.ORGANISATION_ID:
            return Input(
                t(lang, "web.answer_label"),
                hint,
                inputmode="numeric",
                autocomplete="off",
                value=value,
            )
        if q.type is QuestionType.EMAIL:
            return Input(
                t(lang, "web.answer_label"),
                hint,
                inputmode="email",
                autocomplete="email",
                value=value,
            )
        return Input(t(lang, "web.answer_label"), hint, multiline=q.multiline, value=value)

    def hint(self, lang: str, q: Question, screen: QuestionScreen) -> str:
        if screen.awaiting_other:
            return t(lang, "web.hint_other")
        qtype = q.type
        if qtype is QuestionType.TEXT:
            return t(lang, "web.hint_text", max=q.max_length)
        if qtype is QuestionType.EMAIL:
            return t(lang, "web.hint_email")
        if qtype is QuestionType.ORGANISATION_ID:
            return t(lang, "hint.organisation_id")
        if qtype is QuestionType.NUMBER:
            if q.min is not None and q.max is not None:
                return t(lang, "web.hint_number_range", min=_num(q.min), max=_num(q.max))
            return t(lang, "web.hint_number")
        if qtype is QuestionType.SCALE:
            points = q.scale_points()
            low = self.tx(lang, q.min_label) or str(points.start)
            high = self.tx(lang, q.max_label) or str(points.stop - 1)
            return t(lang, "hint.scale", min=points.start, max=points.stop - 1, low=low, high=high)
        if qtype is QuestionType.MULTI_CHOICE:
            key = "hint.multi_max" if q.max is not None else "hint.multi"
            return t(lang, key, max=q.max_choices, count=len(screen.pending))
        if qtype is QuestionType.RANKING:
            return t(lang, "hint.ranking", top=q.top, count=len(screen.pending))
        return ""

    def option_label(self, lang: str, q: Question, option: Option) -> str:
        return option_text(lang, q, option, self.survey.default_language)

    def option_html(self, lang: str, q: Question, option: Option) -> Markup:
        """`option_label` escaped, once per language (a button's label)."""
        key = (lang, q.id, option.id)
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = escape(self.option_label(lang, q, option))
        return found

    def language_buttons(self, lang: str) -> Markup:
        """The language switch's buttons on a page in `lang` (the same on every page)."""
        found = self._languages.get(lang)
        if found is None:
            found = self._languages[lang] = Markup("\n").join(
                html(
                    f'<button type="submit" name="a" value="{escape(actions.language(code))}"'
                    f' lang="{escape(code)}" aria-pressed="{"true" if code == lang else "false"}">'
                    f"{escape(t(lang, 'web.language.' + code))}</button>"
                )
                for code in self.survey.languages
            )
        return found

    def options(self, lang: str, q: Question, screen: QuestionScreen) -> list[Action]:
        step = screen.step
        answer = screen.answer.value if screen.answer is not None else None
        if q.type is QuestionType.CONSENT:
            return [
                Action(
                    self.tx(lang, q.accept_label) or t(lang, "button.accept"),
                    actions.choose(step, q.id, CONSENT_ACCEPT),
                    primary=True,
                ),
                Action(
                    self.tx(lang, q.decline_label) or t(lang, "button.decline"),
                    actions.choose(step, q.id, CONSENT_DECLINE),
                ),
            ]
        if q.type is QuestionType.SCALE:
            return [
                Action(str(n), actions.choose(step, q.id, str(n)), pressed=answer == n)
                for n in q.scale_points()
            ]
        choices = q.choices()
        if q.type is QuestionType.SINGLE_CHOICE:
            return [
                Action(
                    self.option_html(lang, q, o),
                    actions.choose(step, q.id, o.id),
                    pressed=answer == o.id,
                )
                for o in choices
            ]
        ranked = q.type is QuestionType.RANKING
        pending = screen.pending
        found: list[Action] = []
        for o in choices:
            label = self.option_html(lang, q, o)
            if ranked and o.id in pending:
                label = html(f"{pending.index(o.id) + 1}. {label}")
            found.append(Action(label, actions.toggle(step, q.id, o.id), pressed=o.id in pending))
        found.append(
            Action(
                t(lang, "button.confirm", count=len(screen.pending)),
                actions.confirm(step, q.id),
                primary=True,
            )
        )
        return found

    def review(self, lang: str, screen: ReviewScreen) -> WebView:
        rows = []
        for number, item in enumerate(screen.items, start=1):
            question = self.tx(lang, item.question.text)
            rows.append(
                ReviewRow(
                    item.question.id,
                    number,
                    question,
                    self.answer(lang, item.question, item.answer),
                    Action(
                        t(lang, "web.edit"),
                        actions.edit(screen.step, item.question.id),
                        describe=t(lang, "web.edit_described", number=number, question=question),
                    ),
                )
            )
        nav = (
            Action(t(lang, "button.back"), actions.back(screen.step)),
            Action(t(lang, "button.submit"), actions.submit(screen.step), primary=True),
        )
        return WebView(
            "review",
            t(lang, "review.title"),
            texts=(self.tm(lang, "web.review_footer"),),
            rows=tuple(rows),
            nav=nav,
            step=screen.step,
        )

    def answer(self, lang: str, q: Question, answer: Answer) -> str:
        """An answer as a participant reads it back (`channels.answers`: alike in every channel)."""
        key = (lang, q.id, answer)
        try:
            found = self._answers.get(key)
        except TypeError:  # a value that cannot be hashed: not remembered
            return answer_text(lang, q, answer, self.survey.default_language)
        if found is None:
            if len(self._answers) >= ANSWER_TEXTS:
                self._answers.clear()
            found = self._answers[key] = answer_text(lang, q, answer, self.survey.default_language)
        return found


_num = number_text
