"""The bot in groups and channels, end to end: it acts in private chats only. In a group it posts
one short pointer to a private chat and leaves; it never shows a question, an answer, a review
or an export there, never takes a group member's text or tap as an answer, and stores nothing."""

from __future__ import annotations

import logging

import pytest

from bot.runner import Running
from dialogs import Survey
from dialogs.model import QuestionType
from dialogs.state import Phase, State
from storage.repository import ParticipantKey
from tests.admin.conftest import ADMIN
from tests.botapi.server import GROUP_ANONYMOUS_BOT_ID, SentMessage
from tests.e2e.harness import (
    ManualClock,
    Participant,
    RecordingBotAPI,
    answer_plan,
    answer_until,
    polling_bot,
)

pytestmark = pytest.mark.e2e

GROUP = -1001234567
OTHER_GROUP = -4455
LINK = "https://t.me/test_bot"


def group_messages(api: RecordingBotAPI, chat_id: int) -> list[SentMessage]:
    return api.transcript(chat_id)


def calls_to(api: RecordingBotAPI, chat_id: int) -> list[str]:
    """Every Bot API method the bot called for the chat (sends, edits, documents, photos)."""
    return [call.method for call in api.calls() if call.params.get("chat_id") == chat_id]


def assert_pointer_only(api: RecordingBotAPI, chat_id: int) -> SentMessage:
    """The group got exactly one message: a short pointer to the private chat, no buttons."""
    sent = [m for m in calls_to(api, chat_id) if m != "leaveChat"]
    assert sent == ["sendMessage"], sent
    (pointer,) = group_messages(api, chat_id)
    text = pointer.text or ""
    assert LINK in text
    assert len(text) < 300
    assert pointer.buttons == []
    for leak in ("Question", "Bon retour", "Récapitulatif", "@example", "Section"):
        assert leak not in text
    return pointer


def has_typed_answer(survey: Survey, state: State) -> bool:
    return any(survey.by_id[q].type is QuestionType.TEXT for q in state.answers)


async def test_start_and_status_in_a_group_get_one_pointer_and_no_survey(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    store = running.ctx.store
    p = Participant(api, 2101, running=running)
    await p.send("/start")
    before = await answer_until(
        p, survey, lambda: store.load(p.key), lambda s: has_typed_answer(survey, s)
    )
    assert before.phase is Phase.ANSWERING
    typed = next(
        survey.by_id[q] for q in before.answers if survey.by_id[q].type is QuestionType.TEXT
    )
    free_text = answer_plan(typed)[0]
    private_count = len(p.messages())
    stored_before = await store.load(p.key)

    # The participant, then a stranger, write in a group the bot was added to.
    api.send_in_chat(GROUP, "/start", user_id=p.user_id)
    await p.settle()
    pointer = assert_pointer_only(api, GROUP)
    assert "conversation privée" in (pointer.text or "")
    # It said it once and left the group.
    assert api.left_chats == {GROUP}
    for text in ("/status", "/start@test_bot", free_text, "2"):
        api.send_in_chat(GROUP, text, user_id=p.user_id)
    api.send_in_chat(GROUP, "/start", user_id=2102)
    await p.settle()
    assert_pointer_only(api, GROUP)
    assert free_text not in (pointer.text or "")

    # Nothing changed in the participant's private chat or in what is stored.
    assert len(p.messages()) == private_count
    after = await store.load(p.key)
    assert after.state == stored_before.state
    assert after.version == stored_before.version
    stranger = await store.load(ParticipantKey(telegram_id=2102))
    assert stranger.participant is None
    assert not api.errors


async def test_status_first_in_another_group_and_in_english(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    p = Participant(api, 2111, running=running, language="en")
    await p.send("/start")
    api.send_in_chat(OTHER_GROUP, "/status", user_id=p.user_id, language_code="en")
    await p.settle()
    pointer = assert_pointer_only(api, OTHER_GROUP)
    assert "private chat" in (pointer.text or "")
    assert api.left_chats == {OTHER_GROUP}


async def test_taps_in_a_group_are_not_answers(
    api: RecordingBotAPI, running: Running, survey: Survey
) -> None:
    store = running.ctx.store
    p = Participant(api, 2121, running=running)
    await p.send("/start")
    question = p.last()
    data = [d for _, d in p.buttons(question) if d.startswith("c:")]
    assert data, question.buttons
    before = await store.load(p.key)
    private_count = len(p.messages())

    # A tap on a message in a group (one the bot had posted there before this version,
    # or forged) with the very data of the participant's current question.
    for tapper in (p.user_id, 2122):
        api.press_button_in_chat(GROUP, tapper, 7, data[0])
        api.press_button_in_chat(GROUP, tapper, 7, "D:y")
    await p.settle()

    after = await store.load(p.key)
    assert after.state == before.state and after.version == before.version
    assert (await store.load(ParticipantKey(telegram_id=2122))).participant is None
    # The group saw nothing; each tapper's spinner was stopped with a private notice.
    assert [m for m in calls_to(api, GROUP) if m != "answerCallbackQuery"] == []
    answers = api.calls("answerCallbackQuery")
    assert len(answers) == 4 and all(call.ok for call in answers)
    assert all("conversation privée" in str(call.params.get("text")) for call in answers)
    assert len(p.messages()) == private_count


async def test_admin_commands_in_a_group_send_nothing_there(
    api: RecordingBotAPI, database_url: str, clock: ManualClock
) -> None:
    async with polling_bot(api, database_url, clock, ADMIN_IDS=str(ADMIN)) as running:
        admin = Participant(api, ADMIN, running=running)
        await admin.send("/start")  # some data to export
        for command in ("/export", "/stats", "/broadcast", "/export@test_bot"):
            api.send_in_chat(GROUP, command, user_id=ADMIN)
        await admin.settle()
        assert api.calls("sendDocument") == []
        assert api.calls("sendPhoto") == []
        assert_pointer_only(api, GROUP)
        # No broadcast draft was opened: the admin's next private text is not taken as one.
        reply = await admin.send("Bonjour")
        assert "segment" not in (reply.text or "").lower()
        # In the private chat the admin commands still work.
        await admin.send("/export")
        documents = api.calls("sendDocument")
        assert len(documents) == 1 and documents[0].params["chat_id"] == ADMIN


async def test_posts_without_from_and_anonymous_admins_never_become_participants(
    api: RecordingBotAPI, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    store = running.ctx.store
    p = Participant(api, 2131, running=running)
    with caplog.at_level(logging.INFO):
        api.send_in_chat(GROUP, "/start")  # a channel-style post: no `from`
        api.send_in_chat(GROUP, "/status", anonymous_admin=True)
        api.send_in_chat(GROUP, "/start", anonymous_admin=True)
        api.send_in_chat(GROUP, "/start", user_id=2132, sender_chat_id=-100777)
        await p.settle()
    alarming = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert alarming == [], [r.getMessage() for r in alarming]
    assert not api.errors
    assert_pointer_only(api, GROUP)
    for user_id in (GROUP_ANONYMOUS_BOT_ID, 2132):
        assert (await store.load(ParticipantKey(telegram_id=user_id))).participant is None
    # The bot goes on serving private chats.
    reply = await p.send("/start")
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · " in (reply.text or "")


async def test_added_to_a_group_it_points_once_and_leaves_a_channel_silently(
    api: RecordingBotAPI, running: Running
) -> None:
    p = Participant(api, 2141, running=running)
    api.add_bot_to_chat(GROUP, p.user_id)
    await p.settle()
    assert_pointer_only(api, GROUP)
    assert GROUP in api.left_chats

    channel = -1009990001
    api.group_chat(channel, kind="channel", title="Annonces")
    api.add_bot_to_chat(channel, p.user_id, administrator=True)
    await p.settle()
    assert calls_to(api, channel) == ["leaveChat"]
    assert api.left_chats == {GROUP, channel}
    assert not api.errors
