"""`consultbot try` driven by a script piped from a file: the bundled consultation from the start
to the receipt, in French, in English, and with /back, /skip, a refused answer and `edit N`.

`--no-store` keeps the preview in memory, so these runs never depend on a database.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")
"""The receipt's reference: 8 characters without 0/O or 1/I, e.g. ABCD-EF23."""

# A company member of a cluster, dissatisfied: every question of the consultation is shown.
FULL_RUN = [
    "1",  # consent: I agree
    "2",  # actor_type: SME -> company_rd is shown
    "1",  # company_rd
    "ile de france",  # region, a long list: the exact name typed is chosen at once
    "732 829 320 00074",  # organisation: a SIRET, spaces and all
    "1",  # cluster_member: yes -> cluster_name, member_since, services_used, services_value
    # cluster_name, a long multi-choice: searches, each offering its pôle as button 1...
    "aerospace valey",
    "1",
    "SYSTEMATIC",
    "1",
    "pole mer med",
    "1",
    # ... then 1 ✅ Pôle Mer Méditerranée, 2 whole list, 3 other, 4-6 ✖ the three chosen, 7 confirm
    "4",  # ✖ Systematic Paris-Region: removed
    "/ok",
    "2012",  # member_since
    "2",  # satisfaction_overall -> dissatisfaction is shown
    "1 3",  # dissatisfaction
    "1 3",  # services_used
    "4",  # services_value
    "3 1 5",  # priorities: collab_rd, ecological_transition, international
    "2",  # mission_scope
    "2",  # target_members
    "4",  # regions_role
    "2",  # governance
    "1",  # cluster_count
    "2",  # funding_balance
    "1 500",  # fee_acceptable
    "2",  # action_level
    "1 3",  # partner_networks
    "3",  # positioning_clarity
    "Continuer à soutenir les PME.",  # comments
    "jeanne.martin@example.org",  # contact_email
    "submit",
]

# A research lab, not a member: /back, a refused number, /skip, then `edit 2` at the review to
# become a company, which opens company_rd before going back to the review.
BACK_AND_EDIT_RUN = [
    "1",  # consent
    "2",  # actor_type: SME
    "/back",  # back to actor_type from company_rd
    "5",  # actor_type: research -> company_rd hidden
    "7",  # region
    "/skip",  # organisation (optional)
    "2",  # cluster_member: no
    "4",  # satisfaction_overall
    "3 1 5",  # priorities
    "2",  # mission_scope
    "2",  # target_members
    "4",  # regions_role
    "2",  # governance
    "1",  # cluster_count
    "2",  # funding_balance
    "beaucoup",  # fee_acceptable: refused
    "/skip",  # fee_acceptable is optional
    "2",  # action_level
    "1 3",  # partner_networks
    "3",  # positioning_clarity
    "/skip",  # comments
    "/skip",  # contact_email
    "edit 2",  # review: change actor_type
    "1",  # company_micro -> company_rd is asked
    "2",  # company_rd: occasionally -> back to the review
    "submit",
]


def run_try(tmp_path: Path, lines: list[str], *options: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "answers.txt"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "PYTHONIOENCODING": "utf-8",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
    }
    with script.open(encoding="utf-8") as stdin:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "try", "--no-store", *options],
            stdin=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )


def notices(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("! ")]


def test_a_scripted_run_reaches_the_receipt(tmp_path: Path) -> None:
    result = run_try(tmp_path, FULL_RUN)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert notices(out) == [], "every scripted answer is accepted"
    assert "▱▱▱▱▱▱▱▱▱▱ 0 % · Votre profil" in out
    percents = [int(p) for p in re.findall(r"(\d+) % · ", out)]
    assert percents == sorted(percents), "the progress never goes back"
    assert "Vos choix (2) : Aerospace Valley ; Pôle Mer Méditerranée" in out
    assert "→ Île-de-France" in out
    assert "→ Aerospace Valley ; Pôle Mer Méditerranée" in out
    assert "→ 73282932000074" in out  # the SIRET typed with spaces, kept as digits
    # the review lists what was typed
    assert "→ 1. R&D collaborative ; 2. Transition écologique et énergétique ; " in out
    assert "→ 1500" in out
    assert "→ jeanne.martin@example.org" in out
    receipt = out[out.index("✅") :]
    assert "Référence de votre contribution" in receipt
    assert REFERENCE.search(receipt)


def test_a_scripted_run_in_english(tmp_path: Path) -> None:
    result = run_try(tmp_path, FULL_RUN, "--lang", "en")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert notices(out) == []
    assert "What kind of organisation are you answering for?" in out
    assert "Référence" not in out
    receipt = out[out.index("✅") :]
    assert "Your reference" in receipt
    assert REFERENCE.search(receipt)


def test_a_scripted_run_with_back_skip_and_edit(tmp_path: Path) -> None:
    result = run_try(tmp_path, BACK_AND_EDIT_RUN)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(notices(out)) == 1, "only the amount in words is refused"
    assert "nombre" in notices(out)[0]
    # company_rd: shown once before /back, once after the edit
    asked = (
        "Votre entreprise mène-t-elle des activités de recherche, de développement ou "
        "d’innovation ?"
    )
    assert out.count(asked) == 2
    reviews = out.split("Écrivez « edit N »")
    assert len(reviews) == 3, "the review is shown twice: before and after the edit"
    first, second = reviews[0], reviews[1]
    assert "→ Université ou laboratoire de recherche" in first
    assert "→ Entreprise : TPE (moins de 10 salariés)" in second
    assert "→ Oui, ponctuellement" in second
    assert "→ (sans réponse)" in second
    receipt = reviews[2]
    assert "Référence de votre contribution" in receipt
    assert REFERENCE.search(receipt)


def test_a_script_that_stops_early_gets_no_receipt(tmp_path: Path) -> None:
    result = run_try(tmp_path, FULL_RUN[:5])
    assert result.returncode == 0, result.stderr
    assert "✅" not in result.stdout
    assert "Référence de votre contribution" not in result.stdout
    assert "Votre structure est-elle membre d’un pôle de compétitivité ?" in result.stdout
