"""Long lists end to end, over the local Bot API server: the 56 pôles of the bundled consultation
reached by paging only, found by a misspelled name, chosen and removed; /back from a search;
a stale page button refused."""

from __future__ import annotations

import pytest

from bot.runner import Running
from dialogs import Survey
from dialogs.longlist import ordered
from dialogs.state import Answer
from tests.botapi.server import SentMessage
from tests.e2e.harness import Participant, RecordingBotAPI
from tests.e2e.test_participant import participant, stored, text_of

pytestmark = pytest.mark.e2e
STALE = "Ce bouton appartient à un ancien message."


async def to_the_pôles(p: Participant) -> SentMessage:
    """/start, and answer up to the pôles' list: a company, in Brittany, member of a pôle."""
    await p.send("/start")
    await p.tap("J’accepte")
    await p.tap("Entreprise : PME")
    await p.tap("de façon régulière")
    await p.send("bretagne")  # the regions' long list: the exact name is chosen at once
    await p.tap("Passer")  # the optional organisation number
    message = p.last()
    return await p.press(message.button_data("Oui", exact=True), message)


def page_buttons(message: SentMessage) -> dict[str, str]:
    return {label: data for label, data in message.buttons if data and data.startswith("p:")}


async def test_a_participant_who_only_taps_reaches_the_last_pôle_by_paging(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 3001)
    screen = await to_the_pôles(p)
    question = survey.by_id["cluster_name"]
    text = text_of(screen)
    assert "Tapez une partie du nom pour chercher" in text
    assert "Page 1/7 · Auvergne-Rhône-Alpes" in text
    options = [label for label, data in screen.buttons if data and data.startswith("t:")]
    assert len(options) == 8 + 1  # a page of 8, and "other"
    last = ordered(question)[-1].label.get("fr")
    # Forward page by page: every pôle is reachable, the page number shown each time.
    seen: set[str] = set()
    for number in range(1, 8):
        assert f"Page {number}/7" in text_of(screen)
        seen |= {label.removeprefix("▫️ ") for label, data in screen.buttons if data[:2] == "t:"}
        if number < 7:
            screen = await p.press(page_buttons(screen)["▶"], screen)
    assert len(seen - {"Autre (préciser)"}) == 56
    assert last in text_of(screen) or any(last in label for label, _ in screen.buttons)
    screen = await p.tap(last, screen)
    assert f"Vos choix (1) : {last}" in text_of(screen)
    await p.tap("Valider", screen)
    snapshot = await stored(running, p)
    assert snapshot.state.answers["cluster_name"] == Answer((ordered(question)[-1].id,))
    assert snapshot.state.current == "member_since"


async def test_a_misspelled_name_is_offered_three_pôles_one_removed_are_stored_as_two(
    api: RecordingBotAPI, running: Running
) -> None:
    p = participant(api, running, 3002)
    await to_the_pôles(p)
    offered = await p.send("aerospace valey")
    assert "Résultats pour « aerospace valey »" in text_of(offered)
    screen = await p.tap("Aerospace Valley", offered)
    for typed, label in (
        ("SYSTEMATIC", "Systematic Paris-Region"),
        ("pole mer med", "Méditerranée"),
    ):
        offered = await p.send(typed)
        found = [text for text, data in offered.buttons if data and data.startswith("t:")]
        assert any(label in text for text in found[:3]), found
        screen = await p.tap(label, offered)
    assert "Vos choix (3)" in text_of(screen)
    screen = await p.tap("✖ Systematic", screen)
    assert "Vos choix (2) : Aerospace Valley ; Pôle Mer Méditerranée" in text_of(screen)
    await p.tap("Valider", screen)
    snapshot = await stored(running, p)
    assert snapshot.state.answers["cluster_name"] == Answer(
        ("aerospace_valley", "mer_mediterranee")
    )


async def test_back_from_a_search_and_a_stale_page_button(
    api: RecordingBotAPI, running: Running
) -> None:
    p = participant(api, running, 3003)
    first = await to_the_pôles(p)
    old = page_buttons(first)["▶"]  # the message is edited in place: keep the old data
    turned = await p.press(old, first)
    assert "Page 2/7" in text_of(turned)
    # The page of an older screen: refused as any stale button, nothing changes.
    before = await stored(running, p)
    count = len(p.messages())
    api.press_button(p.user_id, turned.message_id, old)
    await p.settle()
    assert STALE in "\n".join(text_of(m) for m in p.messages()[count:])
    after = await stored(running, p)
    assert after.state.page == before.state.page == 1 and after.state.step == before.state.step
    # A search, then Back: the previous question, not the list.
    results = await p.send("cap digitale")
    assert (await stored(running, p)).state.query == "cap digitale"
    back = await p.tap("Retour", results)
    assert "membre d’un pôle de compétitivité ?" in text_of(back)
    snapshot = await stored(running, p)
    assert snapshot.state.current == "cluster_member" and snapshot.state.query is None
