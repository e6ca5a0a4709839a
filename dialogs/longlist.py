"""Long lists: the options of a searchable question in pages, grouped, and what a screen offers.

A long list (a single or multi choice with more options than fit as buttons, or `search: true`)
shows one page of `PAGE_SIZE` options at a time, ordered by group (groups in the order they first
appear, options in file order within a group), or the results of the last search. Pure.
"""

from __future__ import annotations

from dialogs.limits import OTHER_OPTION_ID, PAGE_SIZE
from dialogs.model import Option, Question
from dialogs.screens import Listing
from dialogs.state import State


def ordered(question: Question) -> tuple[Option, ...]:
    """The options in the order the pages show them: grouped, groups in order of appearance."""
    groups: dict[tuple[tuple[str, str], ...], list[Option]] = {}
    for option in question.options:
        key = tuple(sorted(option.group.values.items()))
        groups.setdefault(key, []).append(option)
    return tuple(option for members in groups.values() for option in members)


def page_count(question: Question) -> int:
    return max(1, -(-len(question.options) // PAGE_SIZE))


def page_of(question: Question, option_id: str) -> int:
    """The page on which an option is listed (0 when it is not on any, e.g. "other")."""
    for position, option in enumerate(ordered(question)):
        if option.id == option_id:
            return position // PAGE_SIZE
    return 0


def listing(question: Question, state: State) -> Listing:
    """What the current screen of a long list shows, given the participant's state."""
    pages = page_count(question)
    page = state.page % pages
    if state.query is not None:
        found = tuple(
            option
            for option_id in state.matches
            if (option := question.option(option_id)) is not None and option.id != OTHER_OPTION_ID
        )
        return Listing(found, page, pages, state.query)
    shown = ordered(question)[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return Listing(shown, page, pages)


def shown_ids(question: Question, state: State) -> tuple[str, ...]:
    """The ids of the options on screen, as a typed number counts them (1 is the first)."""
    return tuple(option.id for option in listing(question, state).options)
