"""The participant's whole dialogue, end to end: the real bot (in this process, long polling)
talks HTTP to the local Bot API server, and the tests look at what a participant sees in the
chat and at what the database holds."""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

import pytest

from bot.runner import Running
from dialogs import Survey
from dialogs.flow import progress, visible_questions
from dialogs.model import QuestionType
from dialogs.state import Answer, Phase
from storage.repository import Snapshot
from tests.botapi.server import SentMessage
from tests.e2e.harness import (
    ManualClock,
    Participant,
    RecordingBotAPI,
    answer_current,
    answer_until,
    polling_bot,
)

pytestmark = pytest.mark.e2e

REFERENCE = re.compile(r"Référence de votre contribution : ([A-Z0-9]{4}-[A-Z0-9]{4})")
PROGRESS = re.compile(r"Section (\d+)/(\d+) · Question (\d+)/(\d+)")
LONG_TEXT = ("Les pôles de compétitivité doivent changer. " * 200)[:5000]


# -- helpers ------------------------------------------------------------------------------------


def participant(api: RecordingBotAPI, running: Running, user_id: int) -> Participant:
    return Participant(api, user_id, running=running)


def loader(running: Running, p: Participant) -> Callable[[], Awaitable[Snapshot]]:
    return lambda: running.ctx.store.load(p.key)


async def stored(running: Running, p: Participant) -> Snapshot:
    return await running.ctx.store.load(p.key)


def text_of(message: SentMessage) -> str:
    assert message.text is not None
    return message.text


def option_data(message: SentMessage) -> list[str]:
    """The callback data of a message's option buttons (not Back / Skip)."""
    return [data for _, data in message.buttons if data and data[:2] in ("c:", "t:", "k:")]


async def start_and_answer(
    p: Participant, survey: Survey, running: Running, count: int
) -> Snapshot:
    """/start, then answer the first `count` questions with `answer_current`."""
    await p.send("/start")
    for _ in range(count):
        snapshot = await stored(running, p)
        await answer_current(p, survey, snapshot.state)
    return await stored(running, p)


def same_stored(before: Snapshot, after: Snapshot) -> None:
    """Nothing a participant gave changed: answers, status, place in the dialogue, version."""
    assert after.state.answers == before.state.answers
    assert after.status == before.status
    assert after.state.phase == before.state.phase
    assert after.state.current == before.state.current
    assert after.state.reference == before.state.reference
    assert after.version == before.version


# -- 1. a whole consultation, with buttons and typed answers -------------------------------------

Action = tuple[str, str]
"""("tap", label) a button of the last message, ("tick", label) toggle it, ("type", text)."""

PLAN: dict[str, list[Action]] = {
    "consent": [("tap", "J’accepte")],
    "actor_type": [("type", "2")],  # a single choice typed by its number
    "company_rd": [("tap", "Oui, ponctuellement")],
    "region": [("tap", "Autre (préciser)"), ("type", "Corse-du-Sud")],
    # A SIRET with a wrong check digit is refused; the right one, with spaces, is kept as digits.
    "organisation": [
        ("type", "732 829 320 00075"),
        ("type", "7328"),
        ("type", "732 829 320 00074"),
    ],
    "cluster_member": [("tap", "=Oui")],
    # A long list: a search offers buttons; an exact name is added at once; then confirmed.
    "cluster_name": [
        ("type", "mer bretagne atlantique"),
        ("tick", "Pôle Mer Bretagne Atlantique"),
        ("type", "Images & Réseaux"),
        ("tap", "Valider"),
    ],
    "member_since": [("type", "2012")],
    "satisfaction_overall": [("tap", "=4")],
    "services_used": [
        ("tick", "Projets européens"),
        ("tick", "Montage de projets collaboratifs"),
        ("tap", "Valider"),
    ],
    "services_value": [("type", "3")],  # a scale typed
    "priorities": [
        ("tick", "R&D collaborative"),
        ("tick", "Transition numérique"),
        ("tick", "Compétences et formation"),
        ("tap", "Valider"),
    ],
    "mission_scope": [("type", "2")],
    "target_members": [("tap", "Les PME et les ETI")],
    "regions_role": [("tap", "=5")],
    "governance": [("tap", "L’État et les Régions ensemble")],
    "cluster_count": [("type", "3")],
    "funding_balance": [("tap", "Moitié public, moitié privé")],
    # A comma decimal: refused where a whole number is asked, accepted when it is one.
    "fee_acceptable": [("type", "1500,5"), ("type", "1 500,0")],
    "action_level": [("tap", "Européenne")],
    "partner_networks": [("tick", "Bpifrance"), ("tick", "Instituts Carnot"), ("tap", "Valider")],
    "positioning_clarity": [("tap", "=2")],
    "comments": [("type", "Plus de moyens pour les PME.\nEt moins de démarches !")],
    "contact_email": [("type", "Marie.Dupont@Example.FR")],
}

EXPECTED = {
    "consent": Answer(True),
    "actor_type": Answer("company_sme"),
    "company_rd": Answer("occasional"),
    "region": Answer("other", "Corse-du-Sud"),
    "organisation": Answer("73282932000074"),
    "cluster_member": Answer("yes"),
    "cluster_name": Answer(("images_et_reseaux", "mer_bretagne_atlantique")),
    "member_since": Answer(2012),
    "satisfaction_overall": Answer(4),
    "services_used": Answer(("collab_projects", "eu_projects")),
    "services_value": Answer(3),
    "priorities": Answer(("collab_rd", "digital_transition", "skills")),
    "mission_scope": Answer("rd_to_market"),
    "target_members": Answer("smes_midcaps"),
    "regions_role": Answer(5),
    "governance": Answer("state_and_regions"),
    "cluster_count": Answer("more"),
    "funding_balance": Answer("balanced"),
    "fee_acceptable": Answer(1500),
    "action_level": Answer("european"),
    "partner_networks": Answer(("carnot", "bpifrance")),
    "positioning_clarity": Answer(2),
    "comments": Answer("Plus de moyens pour les PME.\nEt moins de démarches !"),
    "contact_email": Answer("Marie.Dupont@example.fr"),
}


async def do(p: Participant, action: Action) -> SentMessage:
    kind, arg = action
    if kind == "type":
        return await p.send(arg)
    message = p.last()
    exact = arg.startswith("=")
    data = message.button_data(arg.removeprefix("="), exact=exact)
    return await p.press(data, message)


async def test_a_participant_completes_the_consultation_with_buttons_and_text(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 1001)
    await p.send("/start")
    welcome = text_of(p.messages()[0])
    assert "L’avenir de la politique des pôles de compétitivité" in welcome
    assert "7 mars 2022 à 23:59" in welcome  # the closing date, Paris time
    assert "12 minutes" in welcome
    assert "/delete" in welcome  # the privacy notice says how to erase

    presses = 0
    asked: list[str] = []
    for _ in range(len(survey.questions) + 1):
        snapshot = await stored(running, p)
        if snapshot.state.phase is not Phase.ANSWERING:
            break
        qid = snapshot.state.current
        assert qid is not None and qid not in asked, f"{qid} asked twice"
        asked.append(qid)
        question = survey.by_id[qid]
        screen = p.last()
        # One question per message, with where the participant is.
        assert question.text.get("fr") in text_of(screen)
        where = progress(survey, snapshot.state.answers, question)
        section = survey.section_of(question).title.get("fr")
        assert f"{where.percent} % · {section}" in text_of(screen)
        if question.type in (
            QuestionType.TEXT,
            QuestionType.NUMBER,
            QuestionType.EMAIL,
            QuestionType.ORGANISATION_ID,
        ):
            assert option_data(screen) == [], f"typed question {qid} shows option buttons"
        skip_offered = any((data or "").startswith("s:") for _, data in screen.buttons)
        assert skip_offered == (not question.required), qid

        for action in PLAN[qid]:
            reply = await do(p, action)
            presses += action[0] != "type"
            if action == ("type", "1500,5"):
                assert "nombre entier" in text_of(reply)
                assert "fee_acceptable" not in (await stored(running, p)).state.answers
            if action == ("type", "732 829 320 00075"):
                assert "clé de contrôle est fausse" in text_of(reply)
                assert "organisation" not in (await stored(running, p)).state.answers
            if action == ("type", "7328"):
                assert "Un SIREN compte 9 chiffres et un SIRET 14" in text_of(reply)
                assert "organisation" not in (await stored(running, p)).state.answers
            if action == ("tap", "Autre (préciser)"):
                assert "Précisez votre réponse" in text_of(reply)
    else:
        pytest.fail("the questionnaire never reached the review")

    assert asked == list(PLAN)
    review = p.last()
    review_text = text_of(review)
    assert review_text.startswith("Récapitulatif de vos réponses")
    for shown in (
        "Autre (préciser) : Corse-du-Sud",
        "Images & Réseaux ; Pôle Mer Bretagne Atlantique",
        "→ 1500",
        "→ 4 / 5",
    ):
        assert shown in review_text
    assert "Marie.Dupont@example.fr" in review_text

    receipt = await p.tap("Envoyer")
    presses += 1
    found = REFERENCE.search(text_of(receipt))
    assert found, receipt.text
    assert "1 février 2022 à 10:00" in text_of(receipt)

    snapshot = await stored(running, p)
    assert snapshot.status == "submitted"
    assert snapshot.state.phase is Phase.SUBMITTED
    assert snapshot.state.reference == found.group(1)
    assert dict(snapshot.state.answers) == EXPECTED
    visible = {q.id for q in visible_questions(survey, snapshot.state.answers)}
    assert visible == set(snapshot.state.answers)
    assert (await running.ctx.store.counts_by_status())["submitted"] == 1
    # Every tap had its callback query answered (the phone's spinner stopped).
    answered = [c for c in api.calls("answerCallbackQuery") if c.ok]
    assert len(answered) == presses


# -- 3. the opening window ---------------------------------------------------------------------


async def test_nothing_is_accepted_before_the_opening(
    api: RecordingBotAPI, running: Running, clock: ManualClock, survey: Survey
) -> None:
    clock.set(survey.opens_at - timedelta(seconds=1))
    p = participant(api, running, 1101)
    reply = await p.send("/start")
    assert "pas encore ouverte" in text_of(reply)
    assert "17 janvier 2022 à 09:00" in text_of(reply)
    assert option_data(reply) == []
    for attempt in (p.send("1"), p.send("J’accepte"), p.press("c:1:0:a", reply)):
        reply = await attempt
        assert "pas encore ouverte" in text_of(reply)
    api.send_sticker(p.user_id)
    await p.settle()
    assert "pas encore ouverte" in text_of(p.last())

    snapshot = await stored(running, p)
    assert snapshot.state.phase is Phase.NEW
    assert snapshot.state.answers == {}
    assert snapshot.status is None and snapshot.version == 0

    clock.set(survey.opens_at)
    await p.send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in text_of(p.last())
    assert (await stored(running, p)).state.current == "consent"


async def test_nothing_is_accepted_at_and_after_the_closing(
    api: RecordingBotAPI, running: Running, clock: ManualClock, survey: Survey
) -> None:
    p = participant(api, running, 1102)
    before = await start_and_answer(p, survey, running, 3)
    screen = p.last()
    assert before.state.current == "region"

    clock.set(survey.closes_at)
    for attempt in (
        p.send("1"),
        p.press(option_data(screen)[0], screen),
        p.send("/start"),
        p.send("/status"),
    ):
        reply = await attempt
        assert "close" in text_of(reply), reply.text
        assert option_data(reply) == []
    clock.advance(86_400)
    reply = await p.send("Bretagne")
    assert "close" in text_of(reply)
    same_stored(before, await stored(running, p))


async def test_submit_one_second_after_the_closing_is_refused_and_the_draft_kept(
    api: RecordingBotAPI, running: Running, clock: ManualClock, survey: Survey
) -> None:
    clock.set(survey.closes_at - timedelta(minutes=20))
    p = participant(api, running, 1103)
    await p.send("/start")
    state = await answer_until(p, survey, loader(running, p))
    assert state.phase is Phase.REVIEW
    review = p.last()
    before = await stored(running, p)
    assert before.status == "draft"

    clock.set(survey.closes_at + timedelta(seconds=1))
    reply = await p.tap("Envoyer", review)
    assert "close" in text_of(reply)
    assert REFERENCE.search(text_of(reply)) is None
    assert all("Merci !" not in text_of(m) for m in p.messages())

    after = await stored(running, p)
    assert after.status == "draft"
    assert after.state.reference is None
    assert after.state.phase is Phase.REVIEW
    assert after.state.answers == before.state.answers
    assert len(after.state.answers) == len(visible_questions(survey, after.state.answers))
    counts = await running.ctx.store.counts_by_status()
    assert counts["submitted"] == 0 and counts["draft"] == 1


class EngineSeesOpen(ManualClock):
    """A clock read twice per update: by the engine in the handler's `step`, and by the store
    when it writes. Once `engine_time` is set, the engine reads that and the store the real
    time: the participant pressed Submit while open, the write happens after the closing."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.engine_time: datetime | None = None

    def __call__(self) -> datetime:
        caller = sys._getframe(1).f_code
        if (
            self.engine_time is not None
            and caller.co_name == "step"
            and caller.co_filename.endswith(("bot/participant.py", "bot\\participant.py"))
        ):
            return self.engine_time
        return self.now


async def test_a_submission_written_after_the_closing_is_refused_by_the_store(
    api: RecordingBotAPI, database_url: str, survey: Survey
) -> None:
    """The closing is decided with the clock read when the submission is written, not when
    the engine looked (SPEC §4: no cached flag)."""
    clock = EngineSeesOpen(survey.closes_at - timedelta(minutes=20))
    async with polling_bot(api, database_url, clock) as running:
        p = participant(api, running, 1104)
        await p.send("/start")
        await answer_until(p, survey, loader(running, p))
        review = p.last()
        before = await stored(running, p)

        clock.engine_time = survey.closes_at - timedelta(milliseconds=1)
        clock.set(survey.closes_at + timedelta(seconds=1))
        reply = await p.tap("Envoyer", review)
        assert "fermé" in text_of(reply) and "brouillon" in text_of(reply)
        assert REFERENCE.search(text_of(reply)) is None

        after = await stored(running, p)
        assert after.status == "draft"
        assert after.state.reference is None
        assert after.state.phase is Phase.REVIEW
        assert after.state.answers == before.state.answers
        assert (await running.ctx.store.counts_by_status())["submitted"] == 0


# -- 4. unexpected input -----------------------------------------------------------------------


async def refused(
    p: Participant,
    running: Running,
    act: Callable[[], Awaitable[object]],
    expect: str,
) -> SentMessage:
    """Do something unexpected: the bot says `expect`, shows the current question again with
    the same buttons, and nothing stored changes."""
    before = await stored(running, p)
    screen = p.last()
    count = len(p.messages())
    await act()
    await p.settle()
    replies = p.messages()[count:]
    assert replies, "the bot said nothing"
    said = "\n".join(text_of(m) for m in replies)
    assert expect in said, said
    again = replies[-1]
    question = before.state.current
    assert question is not None
    assert p.running is not None
    assert p.running.ctx.survey.by_id[question].text.get("fr") in text_of(again)
    assert again.buttons == screen.buttons
    same_stored(before, await stored(running, p))
    return again


async def test_stickers_photos_voice_long_texts_and_forged_buttons_change_nothing(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 1201)
    await p.send("/start")
    await p.tap("J’accepte")
    actor_message = p.last()
    await p.tap("Entreprise : PME", actor_message)
    await p.tap("de façon régulière", p.last())
    snapshot = await stored(running, p)
    assert snapshot.state.current == "region"
    step = snapshot.state.step
    region = survey.by_id["region"]
    other_question = survey.by_id["cluster_member"]
    user = p.user_id

    unsupported = "Je ne peux lire que du texte et les boutons."
    stale = "Ce bouton appartient à un ancien message."
    await refused(p, running, lambda: _sticker(api, user), unsupported)
    await refused(p, running, lambda: _photo(api, user), unsupported)
    await refused(p, running, lambda: _voice(api, user), unsupported)
    # The region is a long list: a text searches it, and one that finds nothing changes nothing.
    await refused(p, running, lambda: p.send(LONG_TEXT), "Aucun résultat pour « ")
    for forged in (
        "garbage",
        "c:999:0:0",
        f"c:{step}:{other_question.index}:0",  # looks valid, for another question
        f"c:{step - 1}:{region.index}:0",  # this question, an older screen
        "c:" + "9" * 80,  # more than Telegram's 64 bytes
        "",
    ):
        await refused(p, running, partial(p.press, forged), stale)
    # A button of a message two questions back: "Université" would hide company_rd.
    await refused(p, running, lambda: p.tap("Université", actor_message), stale)
    assert (await stored(running, p)).state.answers["actor_type"] == Answer("company_sme")

    # The pôles' long list: 5,000 characters find nothing and change nothing.
    await p.tap("Bretagne")
    await p.tap("Passer", p.last())  # the optional organisation number
    await p.tap("Oui", p.last())
    assert (await stored(running, p)).state.current == "cluster_name"
    await refused(p, running, lambda: p.send(LONG_TEXT), "choisissez « Autre (préciser) »")
    await refused(p, running, lambda: _sticker(api, user), unsupported)
    await refused(p, running, lambda: p.tap("Université", actor_message), stale)
    # Every tap, forged or not, had its callback query answered.
    taps = api.calls("answerCallbackQuery")
    assert taps and all(c.ok for c in taps)
    assert not api.errors


async def _sticker(api: RecordingBotAPI, user: int) -> None:
    api.send_sticker(user)


async def _photo(api: RecordingBotAPI, user: int) -> None:
    api.send_photo(user, caption="Voici ma réponse")


async def _voice(api: RecordingBotAPI, user: int) -> None:
    api.send_voice(user)


# -- 5. language and erasure -------------------------------------------------------------------


async def test_switching_language_mid_survey_keeps_every_answer(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 1301)
    before = await start_and_answer(p, survey, running, 4)
    question = survey.by_id[before.state.current or ""]

    prompt = await p.send("/language")
    assert "Choisissez votre langue" in text_of(prompt)
    reply = await p.tap("English", prompt)
    assert "The conversation continues in English." in text_of(reply)
    assert question.text.get("en") in text_of(reply)
    after = await stored(running, p)
    assert after.state.language == "en"
    assert after.state.answers == before.state.answers
    assert after.state.current == before.state.current

    # The next messages are in English, and the answer goes to the same response.
    await answer_current(p, survey, after.state)
    following = await stored(running, p)
    assert set(following.state.answers) == {*before.state.answers, question.id}
    nxt = survey.by_id[following.state.current or ""]
    assert nxt.text.get("en") in text_of(p.last())
    assert nxt.text.get("fr") not in text_of(p.last())
    help_text = text_of(await p.send("/help"))
    assert "/delete" in help_text and "erase all my data" in help_text

    reply = await p.send("/language fr")
    assert "La conversation continue en français." in text_of(reply)
    assert nxt.text.get("fr") in text_of(reply)
    reply = await p.send("/language en")
    assert "continues in English" in text_of(reply)
    final = await stored(running, p)
    assert final.state.language == "en"
    assert final.state.answers == following.state.answers
    assert final.status == "draft"
    # The Telegram client still says "fr": the choice is kept.
    api.send_sticker(p.user_id, language_code="fr")
    await p.settle()
    assert "I can only read text and the buttons." in text_of(p.last())


async def test_delete_asks_for_confirmation_and_erases(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 1401)
    before = await start_and_answer(p, survey, running, 3)
    assert len(before.state.answers) == 3

    ask = await p.send("/delete")
    assert "effacer toutes vos réponses" in text_of(ask)
    reply = await p.tap("Non", ask)
    assert "Rien n’a été effacé" in text_of(reply)
    same_stored(before, await stored(running, p))

    ask = await p.send("/delete")
    reply = await p.tap("Oui", ask)
    assert "Vos données ont été effacées" in text_of(reply)
    gone = await stored(running, p)
    assert gone.participant is None
    assert gone.state.answers == {}
    assert gone.status is None

    reply = await p.send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in text_of(reply)
    again = await stored(running, p)
    assert again.state.current == "consent"
    assert again.state.answers == {}


async def test_a_forged_or_old_delete_confirmation_erases_nothing(
    api: RecordingBotAPI, running: Running, survey: Survey, clock: ManualClock
) -> None:
    p = participant(api, running, 1402)
    before = await start_and_answer(p, survey, running, 3)
    expired = "Cette confirmation a expiré"
    ask = await p.send("/delete")
    yes = ask.button_data("Oui")
    first = p.messages()[0]
    assert first.message_id != ask.message_id

    other = participant(api, running, 1403)
    other_ask = await other.send("/delete")
    others_yes = other_ask.button_data("Oui")

    tampered = yes[:-1] + ("A" if yes[-1] != "A" else "B")
    parts = yes.split(":")
    if len(parts) == 5:  # D:y:<message id>:<time>:<proof>: another time, the same proof
        parts[3] = str(int(parts[3]) + 9)
    later = ":".join(parts)
    for data, message in (
        ("D:y", ask),  # the confirmation button of earlier versions: no proof at all
        (later, ask),
        (tampered, ask),  # a forged proof
        (yes, first),  # the right data on another message of the bot
        (others_yes, ask),  # another participant's confirmation
        ("D:y:x:y:z", ask),
    ):
        reply = await p.press(data, message)
        assert expired in text_of(reply), (data, reply.text)
        same_stored(before, await stored(running, p))

    # The genuine button, six minutes later: expired too.
    clock.advance(6 * 60)
    reply = await p.press(yes, ask)
    assert expired in text_of(reply) and "/delete" in text_of(reply)
    same_stored(before, await stored(running, p))

    # A fresh confirmation still erases, and its buttons are gone once used.
    ask = await p.send("/delete")
    reply = await p.tap("Oui", ask)
    assert "Vos données ont été effacées" in text_of(reply)
    assert (await stored(running, p)).participant is None
    assert ask.buttons == []


# -- 6. the same update twice; a double tap on Submit ------------------------------------------


async def test_an_update_delivered_twice_is_processed_once(
    api: RecordingBotAPI, running: Running, survey: Survey, database_url: str, clock: ManualClock
) -> None:
    p = participant(api, running, 1501)
    await start_and_answer(p, survey, running, 1)
    assert (await stored(running, p)).state.current == "actor_type"

    # A typed answer.
    count = len(p.messages())
    before = await stored(running, p)
    text_update = api.send_text(p.user_id, "2")
    await p.settle()
    once = await stored(running, p)
    assert len(p.messages()) == count + 1
    assert once.version == before.version + 1
    assert once.state.answers["actor_type"] == Answer("company_sme")
    api.redeliver(text_update)
    await p.settle()
    assert len(p.messages()) == count + 1
    same_stored(once, await stored(running, p))

    # A button press.
    screen = p.last()
    press_update, _ = api.press_button(p.user_id, screen.message_id, option_data(screen)[3])
    await p.settle()
    twice_before = await stored(running, p)
    assert twice_before.state.answers["company_rd"] == Answer("no")
    count = len(p.messages())
    api.redeliver(press_update)
    await p.settle()
    assert len(p.messages()) == count
    same_stored(twice_before, await stored(running, p))


async def test_an_update_redelivered_after_a_restart_is_processed_once(
    api: RecordingBotAPI, database_url: str, clock: ManualClock, survey: Survey
) -> None:
    """The store remembers update ids: a new process does not apply an old update again."""
    async with polling_bot(api, database_url, clock) as first:
        p = participant(api, first, 1502)
        await start_and_answer(p, survey, first, 1)
        text_update = api.send_text(p.user_id, "2")
        await p.settle()
        screen = p.last()
        press_update, _ = api.press_button(p.user_id, screen.message_id, option_data(screen)[3])
        await p.settle()
        before = await stored(first, p)
    assert before.state.current == "region"
    count = len(p.messages())
    async with polling_bot(api, database_url, clock) as second:
        p.running = second
        api.redeliver(text_update)
        api.redeliver(press_update)
        await p.settle()
        assert len(p.messages()) == count
        same_stored(before, await stored(second, p))
        # The new process still serves new updates.
        reply = await p.tap("Bretagne")
        assert "SIREN ou SIRET" in text_of(reply)  # the next question, the optional organisation


async def test_a_database_reused_with_another_bot_token_serves_the_new_bot(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    """Update ids are numbered per bot: the new bot's first updates (ids 1, 2 ...) are not
    taken for redeliveries of the old bot's."""
    async with polling_bot(api, database_url, clock) as first:
        old = participant(api, first, 1503)
        await old.send("/start")
        await old.tap("J’accepte")
    other = RecordingBotAPI(token="654321:another-bot")
    await other.start()
    try:
        async with polling_bot(other, database_url, clock) as second:
            new = participant(other, second, 1504)
            reply = await new.send("/start")
            assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in text_of(reply)
            reply = await new.tap("J’accepte")
            assert (await stored(second, new)).state.answers == {"consent": Answer(True)}
            assert " % · " in text_of(reply) and "0 % ·" not in text_of(reply)
    finally:
        await other.stop()


async def test_a_double_tap_on_submit_submits_once(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = participant(api, running, 1601)
    await p.send("/start")
    await answer_until(p, survey, loader(running, p))
    review = p.last()
    submit = review.button_data("Envoyer")
    count = len(p.messages())
    api.press_button(p.user_id, review.message_id, submit)
    api.press_button(p.user_id, review.message_id, submit)
    await p.settle()

    replies = [text_of(m) for m in p.messages()[count:]]
    references = {m.group(1) for text in replies if (m := REFERENCE.search(text))}
    assert len(references) == 1, replies
    assert sum("déjà été envoyées" in text for text in replies) == 1, replies
    snapshot = await stored(running, p)
    assert snapshot.status == "submitted"
    assert snapshot.state.reference in references
    assert (await running.ctx.store.counts_by_status())["submitted"] == 1

    # A third tap, later, on the same old button: still one submission.
    reply = await p.press(submit, review)
    assert "déjà été envoyées" in text_of(reply)
    assert (await stored(running, p)).state.reference == snapshot.state.reference
    assert (await running.ctx.store.counts_by_status())["submitted"] == 1


# -- the command menu ---------------------------------------------------------------------------


async def test_the_command_menu_in_french_and_english(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock, commands=True):
        pass
    wanted = ["start", "help", "status", "language", "delete"]
    french = api.commands(language_code="fr")
    english = api.commands(language_code="en")
    assert [c["command"] for c in french] == wanted
    assert [c["command"] for c in english] == wanted
    assert {c["description"] for c in french}.isdisjoint({c["description"] for c in english})
    assert api.commands() == french  # the default menu: the survey's first language
