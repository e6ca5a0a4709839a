"""Turn the engine's screens and notices into texts and buttons, in the participant's language.

One renderer serves Telegram (HTML text, inline buttons) and the terminal preview (plain text,
numbered options): both get a `View`, and each front end lays it out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bot import callbacks
from bot.i18n import format_deadline, format_time, t
from channels.answers import answer_text, number_text, option_text
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
from dialogs.state import Answer
from dialogs.texts import Text

PROGRESS_BLOCKS = 10
MESSAGE_LIMIT = 4000
"""A little under Telegram's 4,096 characters, for the HTML entities' sake."""
REVIEW_QUESTION_CHARS = 90
REVIEW_ANSWER_CHARS = 160
TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Button:
    label: str
    data: str


@dataclass(frozen=True)
class View:
    """Texts to send (several when one would be too long), options, and navigation buttons."""

    texts: tuple[str, ...]
    options: tuple[Button, ...] = ()
    option_columns: int = 1
    nav: tuple[Button, ...] = ()
    typed: bool = False
    """The answer is typed (text, number, e-mail, "other")."""
    rows: tuple[tuple[Button, ...], ...] = ()
    """Rows of buttons between the options and the navigation (a long list's paging, its
    "other" choice, the choices to remove and the confirmation)."""

    def buttons(self) -> tuple[Button, ...]:
        """Every option and row button, in the order the terminal numbers them."""
        return (*self.options, *(b for row in self.rows for b in row))


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def plain(text: str) -> str:
    """HTML text as plain text, for the terminal."""
    return html.unescape(TAGS.sub("", text))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class Renderer:
    def __init__(self, survey: Survey) -> None:
        self.survey = survey

    def tx(self, lang: str, text: Text) -> str:
        return text.get(lang, self.survey.default_language)

    # -- notices ------------------------------------------------------------------------------

    def notice(self, lang: str, notice: Notice) -> str:
        params = {k: esc(v) if isinstance(v, str) else v for k, v in notice.params.items()}
        if notice.key == "status":
            params["phase"] = t(lang, f"phase.{params.get('phase', 'new')}")
        return t(lang, f"notice.{notice.key}", **params)

    # -- screens ------------------------------------------------------------------------------

    def screen(self, lang: str, screen: Screen) -> View:
        if isinstance(screen, QuestionScreen):
            return self.question(lang, screen)
        if isinstance(screen, ReviewScreen):
            return self.review(lang, screen)
        if isinstance(screen, ReceiptScreen):
            text = t(
                lang,
                "receipt",
                reference=esc(screen.reference),
                time=format_time(lang, screen.submitted_at, self.survey.timezone),
            )
            nav = (Button(t(lang, "button.amend"), callbacks.AMEND),) if screen.can_amend else ()
            return View((text,), nav=nav)
        if isinstance(screen, NotOpenScreen):
            when = format_time(lang, screen.opens_at, self.survey.timezone)
            return View((t(lang, "not_open", time=when),))
        if isinstance(screen, ClosedScreen):
            when = format_deadline(lang, screen.closes_at, self.survey.timezone)
            text = t(lang, "closed", time=when)
            if screen.reference:
                text += "\n" + t(lang, "closed.submitted", reference=esc(screen.reference))
            return View((text,))
        assert isinstance(screen, WelcomeScreen)
        return View((self.welcome(lang),))

    def welcome(self, lang: str) -> str:
        survey = self.survey
        parts = [f"<b>{esc(self.tx(lang, survey.title))}</b>"]
        if survey.description:
            parts.append(esc(self.tx(lang, survey.description)))
        parts.append(
            t(
                lang,
                "welcome.practical",
                deadline=format_deadline(lang, survey.closes_at, survey.timezone),
                minutes=survey.estimated_minutes,
                city=survey.timezone.rsplit("/", 1)[-1].replace("_", " "),
            )
        )
        if survey.privacy:
            parts.append(
                f"<b>{t(lang, 'welcome.privacy')}</b>\n{esc(self.tx(lang, survey.privacy))}"
            )
        return "\n\n".join(parts)

    def closed_refusal(self, lang: str) -> str:
        when = format_deadline(lang, self.survey.closes_at, self.survey.timezone)
        return t(lang, "submit_refused_closed", time=when)

    def question(self, lang: str, screen: QuestionScreen) -> View:
        q = screen.question
        p = screen.progress
        section = self.survey.section_of(q)
        filled = p.percent * PROGRESS_BLOCKS // 100
        bar = "▰" * filled + "▱" * (PROGRESS_BLOCKS - filled)
        lines = [
            "<i>"
            + t(
                lang,
                "progress",
                bar=bar,
                percent=p.percent,
                section=esc(self.tx(lang, section.title)),
            )
            + "</i>",
            "",
            f"<b>{esc(self.tx(lang, q.text))}</b>",
        ]
        if q.help:
            lines += ["", f"<i>{esc(self.tx(lang, q.help))}</i>"]
        hint = self.hint(lang, q, screen)
        if hint:
            lines += ["", hint]
        if screen.answer is not None and not screen.awaiting_other:
            current = self.answer(lang, q, screen.answer)
            lines += ["", t(lang, "question.current", answer=esc(shorten(current, 300)))]
        rows: tuple[tuple[Button, ...], ...] = ()
        if screen.listing is not None and not screen.awaiting_other:
            lines += ["", *self.listing_lines(lang, q, screen)]
            options, columns, rows = self.listing_buttons(lang, q, screen)
        else:
            options, columns = self.options(lang, q, screen)
        nav: list[Button] = []
        if screen.can_back:
            nav.append(Button(t(lang, "button.back"), callbacks.back(screen.step)))
        if screen.can_skip:
            nav.append(Button(t(lang, "button.skip"), callbacks.skip(screen.step)))
        typed = screen.awaiting_other or q.type in (
            QuestionType.TEXT,
            QuestionType.NUMBER,
            QuestionType.EMAIL,
            QuestionType.ORGANISATION_ID,
        )
        return View(("\n".join(lines),), tuple(options), columns, tuple(nav), typed, rows)

    # -- long lists ---------------------------------------------------------------------------

    def listing_lines(self, lang: str, q: Question, screen: QuestionScreen) -> list[str]:
        """Where the participant is in a long list: the page and its groups, or the search."""
        listing = screen.listing
        assert listing is not None
        lines: list[str] = []
        if listing.query is None:
            where = t(lang, "list.page", page=listing.page + 1, pages=listing.pages)
            groups = dict.fromkeys(self.tx(lang, o.group) for o in listing.options if o.group)
            if groups:
                where += " · " + esc(", ".join(groups))
            lines.append(f"<i>{where}</i>")
        elif listing.options:
            lines.append(t(lang, "list.results", query=esc(shorten(listing.query, 60))))
        else:
            key = "list.no_match_other" if q.other else "list.no_match"
            lines.append(t(lang, key, query=esc(shorten(listing.query, 60))))
        if q.type is QuestionType.MULTI_CHOICE:
            if screen.pending:
                labels = [self.choice_label(lang, q, option_id) for option_id in screen.pending]
                joined = " ; ".join(labels) if lang == "fr" else "; ".join(labels)
                lines.append(t(lang, "list.chosen", count=len(labels), labels=esc(joined)))
            else:
                lines.append(t(lang, "list.none_chosen"))
        return lines

    def choice_label(self, lang: str, q: Question, option_id: str) -> str:
        option = q.option(option_id)
        return self.option_label(lang, q, option) if option is not None else option_id

    def listing_buttons(
        self, lang: str, q: Question, screen: QuestionScreen
    ) -> tuple[list[Button], int, tuple[tuple[Button, ...], ...]]:
        """A long list's buttons: the options on screen, then paging (or back to the whole list
        after a search), the "other" choice, and for a multi choice the choices to remove and
        the confirmation."""
        listing = screen.listing
        assert listing is not None
        step = screen.step
        single = q.type is QuestionType.SINGLE_CHOICE
        answer = screen.answer.value if screen.answer is not None else None
        labels = [self.option_label(lang, q, o) for o in listing.options]
        columns = 2 if labels and max(len(label) for label in labels) <= 22 else 1
        options: list[Button] = []
        for option, label in zip(listing.options, labels, strict=True):
            if single:
                mark = "✓ " if answer == option.id else ""
                options.append(Button(mark + label, callbacks.choose(step, q, option.id)))
            else:
                mark = "✅ " if option.id in screen.pending else "▫️ "
                options.append(Button(mark + label, callbacks.toggle(step, q, option.id)))
        rows: list[tuple[Button, ...]] = []
        if listing.query is not None:
            rows.append(
                (Button(t(lang, "button.full_list"), callbacks.page(step, q, listing.page)),)
            )
        elif listing.pages > 1:
            previous = (listing.page - 1) % listing.pages
            following = (listing.page + 1) % listing.pages
            rows.append(
                (
                    Button("◀", callbacks.page(step, q, previous)),
                    Button(
                        f"{listing.page + 1}/{listing.pages}",
                        callbacks.page(step, q, listing.page),
                    ),
                    Button("▶", callbacks.page(step, q, following)),
                )
            )
        if q.other:
            label = t(lang, "button.other")
            if single:
                rows.append((Button(label, callbacks.choose(step, q, OTHER_OPTION_ID)),))
            else:
                mark = "✅ " if OTHER_OPTION_ID in screen.pending else "▫️ "
                rows.append((Button(mark + label, callbacks.toggle(step, q, OTHER_OPTION_ID)),))
        if not single:
            for option_id in screen.pending:
                label = t(lang, "button.remove", label=self.choice_label(lang, q, option_id))
                rows.append((Button(shorten(label, 64), callbacks.remove(step, q, option_id)),))
            rows.append(
                (
                    Button(
                        t(lang, "button.confirm", count=len(screen.pending)),
                        callbacks.confirm(step, q),
                    ),
                )
            )
        return options, columns, tuple(rows)

    def hint(self, lang: str, q: Question, screen: QuestionScreen) -> str:
        if screen.awaiting_other:
            return t(lang, "hint.other")
        qtype = q.type
        if qtype is QuestionType.TEXT:
            return t(lang, "hint.text", max=q.max_length)
        if qtype is QuestionType.EMAIL:
            return t(lang, "hint.email")
        if qtype is QuestionType.ORGANISATION_ID:
            return t(lang, "hint.organisation_id")
        if qtype is QuestionType.NUMBER:
            if q.min is not None and q.max is not None:
                return t(lang, "hint.number_range", min=_num(q.min), max=_num(q.max))
            return t(lang, "hint.number")
        if qtype is QuestionType.SCALE:
            points = q.scale_points()
            low = esc(self.tx(lang, q.min_label)) or str(points.start)
            high = esc(self.tx(lang, q.max_label)) or str(points.stop - 1)
            return t(lang, "hint.scale", min=points.start, max=points.stop - 1, low=low, high=high)
        if q.searchable:
            search = t(lang, "hint.search")
            if qtype is QuestionType.MULTI_CHOICE:
                key = "hint.multi_max" if q.max is not None else "hint.multi"
                return t(lang, key, max=q.max_choices, count=len(screen.pending)) + "\n" + search
            return search
        if qtype is QuestionType.MULTI_CHOICE:
            key = "hint.multi_max" if q.max is not None else "hint.multi"
            return t(lang, key, max=q.max_choices, count=len(screen.pending))
        if qtype is QuestionType.RANKING:
            return t(lang, "hint.ranking", top=q.top, count=len(screen.pending))
        return ""

    def option_label(self, lang: str, q: Question, option: Option) -> str:
        return option_text(lang, q, option, self.survey.default_language)

    def options(self, lang: str, q: Question, screen: QuestionScreen) -> tuple[list[Button], int]:
        step = screen.step
        qtype = q.type
        answer = screen.answer.value if screen.answer is not None else None
        if screen.awaiting_other or qtype in (
            QuestionType.TEXT,
            QuestionType.NUMBER,
            QuestionType.EMAIL,
            QuestionType.ORGANISATION_ID,
        ):
            return [], 1
        if qtype is QuestionType.CONSENT:
            accept = self.tx(lang, q.accept_label) or t(lang, "button.accept")
            decline = self.tx(lang, q.decline_label) or t(lang, "button.decline")
            return [
                Button(accept, callbacks.choose(step, q, CONSENT_ACCEPT)),
                Button(decline, callbacks.choose(step, q, CONSENT_DECLINE)),
            ], 2
        if qtype is QuestionType.SCALE:
            points = list(q.scale_points())
            buttons = [
                Button(("✓ " if answer == n else "") + str(n), callbacks.choose(step, q, str(n)))
                for n in points
            ]
            return buttons, len(points) if len(points) <= 6 else (len(points) + 1) // 2
        choices = q.choices()
        labels = [self.option_label(lang, q, o) for o in choices]
        columns = 2 if len(choices) > 6 and max(len(label) for label in labels) <= 22 else 1
        if qtype is QuestionType.SINGLE_CHOICE:
            return [
                Button(("✓ " if answer == o.id else "") + label, callbacks.choose(step, q, o.id))
                for o, label in zip(choices, labels, strict=True)
            ], columns
        buttons = []
        for o, label in zip(choices, labels, strict=True):
            if qtype is QuestionType.RANKING:
                mark = f"{screen.pending.index(o.id) + 1}. " if o.id in screen.pending else ""
            else:
                mark = "✅ " if o.id in screen.pending else "▫️ "
            buttons.append(Button(mark + label, callbacks.toggle(step, q, o.id)))
        buttons.append(
            Button(t(lang, "button.confirm", count=len(screen.pending)), callbacks.confirm(step, q))
        )
        return buttons, columns

    def review(self, lang: str, screen: ReviewScreen) -> View:
        lines = []
        for number, item in enumerate(screen.items, start=1):
            question = shorten(self.tx(lang, item.question.text), REVIEW_QUESTION_CHARS)
            answer = shorten(self.answer(lang, item.question, item.answer), REVIEW_ANSWER_CHARS)
            lines.append(f"<b>{number}.</b> {esc(question)}\n    → {esc(answer)}")
        texts = _chunks(t(lang, "review.title"), lines, t(lang, "review.footer"))
        edits = tuple(
            Button(f"✏️ {n}", callbacks.edit(screen.step, item.question))
            for n, item in enumerate(screen.items, start=1)
        )
        nav = (
            Button(t(lang, "button.back"), callbacks.back(screen.step)),
            Button(t(lang, "button.submit"), callbacks.submit(screen.step)),
        )
        return View(texts, edits, 6, nav)

    def answer(self, lang: str, q: Question, answer: Answer) -> str:
        """An answer as a participant reads it back (`channels.answers`: alike in every channel)."""
        return answer_text(lang, q, answer, self.survey.default_language)


_num = number_text


def _chunks(title: str, lines: list[str], footer: str) -> tuple[str, ...]:
    """Lines grouped into messages under Telegram's limit, title first and footer last."""
    chunks: list[str] = []
    current = f"<b>{title}</b>"
    for line in [*lines, footer]:
        if len(current) + 2 + len(line) > MESSAGE_LIMIT:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n\n{line}"
    chunks.append(current)
    return tuple(chunks)
