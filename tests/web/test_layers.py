"""The channels are siblings: web/ never imports aiogram or bot/, bot/ never imports web/, and
channels/ (what both share) imports neither channel nor aiogram. Read from the sources."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported(package: str) -> dict[str, set[str]]:
    """The top-level modules each file of `package` imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_web_never_imports_aiogram_or_the_bot() -> None:
    bad = {f: n & {"aiogram", "bot"} for f, n in imported("web").items() if n & {"aiogram", "bot"}}
    assert bad == {}


def test_the_bot_never_imports_web() -> None:
    assert {f: n for f, n in imported("bot").items() if "web" in n} == {}


def test_channels_is_neutral() -> None:
    forbidden = {"aiogram", "bot", "web", "aiohttp", "storage"}
    bad = {f: n & forbidden for f, n in imported("channels").items() if n & forbidden}
    assert bad == {}
