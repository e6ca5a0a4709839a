"""The Python side of the Docker image, built the way the Dockerfile builds it: the sources the
builder stage copies, `pip wheel --no-deps`, the wheel installed into a fresh venv, then used
from outside the source tree (the catalogues and migrations must come from the wheel)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "surveys" / "poles-de-competitivite.yaml"

pytestmark = pytest.mark.slow


def builder_copies() -> list[str]:
    """What the builder stage COPYs into /src (checked against the Dockerfile)."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    builder = dockerfile.split("FROM python:3.11-slim\n")[0]
    copied: list[str] = []
    for line in builder.splitlines():
        match = re.match(r"COPY (?!--)(.+) \S+$", line)
        if match:
            copied.extend(match.group(1).split())
    return copied


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_the_image_install_steps_in_a_fresh_venv(tmp_path: Path) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip wheel --no-deps --wheel-dir /wheels ." in dockerfile
    assert "pip install /wheels/*.whl" in dockerfile
    copied = builder_copies()
    assert set(copied) == {
        "pyproject.toml",
        "README.md",
        "analysis",
        "bot",
        "channels",
        "dialogs",
        "forms",
        "storage",
        "web",
    }, copied

    src = tmp_path / "src"
    src.mkdir()
    for name in copied:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(
                origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(origin, src / name)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "DATABASE_URL", "SURVEY_FILE", "BOT_"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = str(venv / "bin" / "python")
    wheels = tmp_path / "wheels"
    run(
        [python, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(wheels), "."], src, env
    )
    [wheel] = wheels.glob("consultbot-*.whl")
    run([python, "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)

    # From a directory that is not the source tree, as in the image (WORKDIR /app).
    app = tmp_path / "app"
    app.mkdir()
    # The image copies the whole surveys/ folder: the questionnaire and its options files.
    shutil.copytree(SURVEY.parent, app / "surveys")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["SURVEY_FILE"] = str(app / "surveys" / SURVEY.name)
    consultbot = str(venv / "bin" / "consultbot")

    probe = (
        "import pathlib, bot, storage, storage.migrations;"
        "b = pathlib.Path(bot.__file__).parent; s = pathlib.Path(storage.__file__).parent;"
        "print(b);"
        "assert (b / 'locales/fr/LC_MESSAGES/messages.mo').is_file();"
        "assert (b / 'locales/en/LC_MESSAGES/messages.mo').is_file();"
        "assert (s / 'migrations/env.py').is_file();"
        "assert (s / 'migrations/script.py.mako').is_file();"
        "assert list((s / 'migrations/versions').glob('0001_*.py'));"
        "import analysis; a = pathlib.Path(analysis.__file__).parent;"
        "assert (a / 'stopwords-fr.txt').is_file() and (a / 'stopwords-en.txt').is_file()"
    )
    where = run([python, "-c", probe], app, env)
    assert str(venv) in where, where

    run([consultbot, "check", "--survey", str(app / "surveys" / SURVEY.name)], app, env)
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    out = run([consultbot, "db", "upgrade", "--database-url", url], app, env)
    assert "database schema at revision" in out and "(empty)" not in out, out
    assert (tmp_path / "x.db").is_file()
    # The translations load from the installed catalogues.
    english = run(
        [python, "-c", "from bot.i18n import t; print(t('en', 'command.help'))"], app, env
    )
    french = run([python, "-c", "from bot.i18n import t; print(t('fr', 'command.help'))"], app, env)
    assert english.strip() and french.strip() and english != french
