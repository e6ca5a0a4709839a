"""A questionnaire imported from an XLSForm workbook (.xlsx), answered in Telegram to the receipt:
the real bot long-polls the local Bot API server; the conditional questions appear exactly when
their XLSForm `relevant` holds."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.runner import Running
from bot.survey_file import load_survey_file
from dialogs.flow import visible_questions
from dialogs.state import Phase
from tests.botapi.server import SentMessage
from tests.e2e.harness import ManualClock, Participant, RecordingBotAPI, answer_current, polling_bot

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "surveys" / "examples" / "mobilites-douces.xlsx"
REFERENCE = re.compile(r"Référence de votre contribution : ([A-Z0-9]{4}-[A-Z0-9]{4})")
DURING = datetime.fromisoformat("2022-03-20T10:00:00+01:00")

Action = tuple[str, str]


async def do(p: Participant, action: Action) -> SentMessage:
    kind, arg = action
    if kind == "type":
        return await p.send(arg)
    message = p.last()
    exact = arg.startswith("=")
    return await p.press(message.button_data(arg.removeprefix("="), exact=exact), message)


CYCLIST: dict[str, list[Action]] = {
    "modes": [("tick", "Vélo"), ("tap", "Valider")],
    "km_velo": [("type", "10")],  # under 20 km: the brakes are asked
    "freins": [("tick", "Manque de sécurité"), ("tap", "Valider")],
    "satisfaction": [("tap", "=2")],  # dissatisfied: "why" is asked
    "pourquoi": [("type", "Des pistes séparées des voitures.")],
}
DRIVER: dict[str, list[Action]] = {
    "modes": [("tick", "Voiture"), ("tap", "Valider")],  # no kilometres; the brakes are asked
    "satisfaction": [("tap", "=5")],  # satisfied: no "why"
}
KEEN: dict[str, list[Action]] = {
    "modes": [("tick", "Vélo"), ("tick", "Marche"), ("tap", "Valider")],
    "km_velo": [("type", "50")],  # a keen cyclist: no brakes
    "satisfaction": [("tap", "=1")],
}
ASKED = {
    "cyclist": [
        "consentement",
        "age",
        "quartier",
        "modes",
        "km_velo",
        "freins",
        "satisfaction",
        "pourquoi",
        "priorites",
        "commentaire",
    ],
    "driver": [
        "consentement",
        "age",
        "quartier",
        "modes",
        "freins",
        "satisfaction",
        "priorites",
        "commentaire",
    ],
    "keen": [
        "consentement",
        "age",
        "quartier",
        "modes",
        "km_velo",
        "satisfaction",
        "pourquoi",
        "priorites",
        "commentaire",
    ],
}


@pytest.mark.parametrize(
    ("who", "plan"), [("cyclist", CYCLIST), ("driver", DRIVER), ("keen", KEEN)]
)
async def test_an_imported_form_is_answered_to_the_receipt_in_telegram(
    who: str,
    plan: dict[str, list[Action]],
    api: RecordingBotAPI,
    database_url: str,
    tmp_path: Path,
) -> None:
    survey_file = tmp_path / "mobilites.yaml"
    assert (
        main(
            [
                "import",
                str(EXAMPLE),
                "--out",
                str(survey_file),
                "--opens-at",
                "2022-03-15T09:00:00+01:00",
                "--closes-at",
                "2022-04-30T00:00:00+02:00",
            ]
        )
        == 0
    )
    survey = load_survey_file(survey_file).survey
    clock = ManualClock(DURING)
    async with polling_bot(api, database_url, clock, SURVEY_FILE=str(survey_file)) as running:
        p = Participant(api, 4242, running=running)
        await p.send("/start")
        assert "Les mobilités douces à Villeneuve" in (p.messages()[0].text or "")
        asked = await answer_all(p, running, plan)
        assert asked == ASKED[who]
        review = p.last().text or ""
        assert review.startswith("Récapitulatif de vos réponses")
        receipt = await p.tap("Envoyer")
        found = REFERENCE.search(receipt.text or "")
        assert found, receipt.text
        snapshot = await running.ctx.store.load(p.key)
        assert snapshot.status == "submitted"
        assert snapshot.state.reference == found.group(1)
        assert set(snapshot.state.answers) == set(ASKED[who])
        visible = [q.id for q in visible_questions(survey, snapshot.state.answers)]
        assert visible == ASKED[who]


async def answer_all(p: Participant, running: Running, plan: dict[str, list[Action]]) -> list[str]:
    survey = running.ctx.survey
    asked: list[str] = []
    for _ in range(len(survey.questions) + 1):
        snapshot = await running.ctx.store.load(p.key)
        if snapshot.state.phase is not Phase.ANSWERING:
            return asked
        qid = snapshot.state.current
        assert qid is not None and qid not in asked, f"{qid} asked twice"
        asked.append(qid)
        assert survey.by_id[qid].text.get("fr") in (p.last().text or "")
        if qid in plan:
            for action in plan[qid]:
                await do(p, action)
        else:
            await answer_current(p, survey, snapshot.state)
    raise AssertionError("the questionnaire never reached the review")
