"""Results sent back: `consultbot broadcast --document FILE` sends a PDF or HTML file to a segment
through the same queue as text broadcasts: the same pacing (`--rate`), 429s obeyed, one delivery
record per recipient, each recipient getting the file once; the file is uploaded once and then
sent by its file_id."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.survey_file import LoadedSurvey
from storage.broadcasts import BroadcastStore
from tests.admin.population import populate
from tests.admin.test_cli import consultbot
from tests.botapi.server import UploadedFile
from tests.e2e.harness import RecordingBotAPI, open_store

pytestmark = pytest.mark.e2e

REPORT = b"%PDF-1.4\n% the published results\n" + b"0" * 5000 + b"\n%%EOF\n"


async def test_a_document_broadcast_keeps_the_rate_and_sends_each_file_once(
    api: RecordingBotAPI, database_url: str, loaded: LoadedSurvey, tmp_path: Path
) -> None:
    document = tmp_path / "resultats-consultation.pdf"
    document.write_bytes(REPORT)
    async with open_store(database_url, loaded) as store:
        group = await populate(
            store, not_started=5, in_progress=10, submitted=40, now=loaded.survey.opens_at
        )
    code, out, err = await consultbot(
        api, database_url, "broadcast", "--segment", "submitted", "--document", str(document),
        "--text", "Merci ! Voici les résultats de la consultation.", "--rate", "25", "--yes",
    )  # fmt: skip
    assert code == 0, err
    assert "40 sent, 0 blocked the bot, 0 failed" in out
    calls = api.calls("sendDocument")
    assert not api.calls("sendMessage")
    uploads = [c for c in calls if isinstance(c.params.get("document"), UploadedFile)]
    assert len(uploads) == 1  # then by file_id
    for chat in group.submitted:
        got = [m for m in api.transcript(chat) if m.kind == "document"]
        assert len(got) == 1
        assert got[0].document == REPORT and got[0].file_name == document.name
        assert got[0].text == "Merci ! Voici les résultats de la consultation."
    for chat in group.not_started + group.in_progress:
        assert api.transcript(chat) == []
    async with open_store(database_url, loaded) as store:
        counts = await BroadcastStore(store.db, store.survey.id).counts(1)
    assert (counts.sent, counts.pending, counts.failed) == (40, 0, 0)
    # Paced like text: at 25 a second with a burst of 0.2 s (5), a second never holds more
    # than 30 calls (40 at once before --rate also sized the burst: BROADCAST_RATE is 400 here).
    times = sorted(c.time for c in calls if c.status == 200)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 30
    assert times[-1] - times[0] >= 0.9

    # A 429 pauses every send for its retry_after, as for text; nobody gets the file twice.
    api.inject_429(1, retry_after=1)
    before = len(api.calls("sendDocument"))
    code, out, err = await consultbot(
        api, database_url, "broadcast", "--segment", "in-progress", "--document", str(document),
        "--rate", "25", "--yes",
    )  # fmt: skip
    assert code == 0, err
    assert "10 sent, 0 blocked the bot, 0 failed" in out
    later = api.calls("sendDocument")[before:]
    refused = next(c for c in later if c.status == 429)
    after = [c.time - refused.time for c in later if c.status == 200 and c.time > refused.time]
    # Only the sends already in flight (one burst, 5) go within the second after the 429.
    assert len([t for t in after if t < 0.9]) <= 5
    assert len([t for t in after if t >= 0.9]) >= 4
    for chat in group.in_progress:
        assert sum(1 for m in api.transcript(chat) if m.kind == "document") == 1


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.txt", b"x", "a PDF or HTML file is expected"),
        ("missing.pdf", None, "No such file"),
        ("empty.html", b"", "not a file, or empty"),
    ],
)
async def test_a_wrong_document_is_refused_before_anything_is_queued(
    api: RecordingBotAPI,
    database_url: str,
    loaded: LoadedSurvey,
    tmp_path: Path,
    name: str,
    content: bytes | None,
    says: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _, err = await consultbot(
        api, database_url, "broadcast", "--document", str(path), "--yes"
    )
    assert code != 0 and says in err
    assert not api.calls("sendDocument")
