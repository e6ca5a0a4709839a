"""The settings (`channels.settings`): every variable read in one place, with its default, its
description and a plain error naming it; `.env` read, the real environment first; a malformed
setting stops only the commands that use it; the README's table is the class's."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.settings import DEFAULT_SURVEY, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("analysis", "bot", "channels", "dialogs", "forms", "storage", "web")


def test_nothing_but_the_settings_module_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in LIBRARY
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "channels" / "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"os\.environ|getenv", line)
    ]
    assert readers == []


def test_only_the_entry_points_tune_the_garbage_collector() -> None:
    tuning = re.compile(
        r"(?<![`\w])(gc\.(freeze|unfreeze|set_threshold)|heap\.(settle|freeze_built))\("
    )
    users = sorted(
        str(path.relative_to(ROOT))
        for package in LIBRARY
        for path in (ROOT / package).rglob("*.py")
        if tuning.search(path.read_text(encoding="utf-8"))
    )
    assert users == ["bot/cli.py", "bot/export_cli.py", "channels/heap.py", "web/cli.py"]


def test_every_setting_has_a_default_a_description_and_a_group() -> None:
    settings = Settings.load({})
    assert settings.database_url == "sqlite+aiosqlite:///data/consultbot.db"
    assert settings.survey_file == DEFAULT_SURVEY
    assert settings.admin_ids == frozenset() and settings.bot_token == ""
    assert settings.metrics_address() == ("127.0.0.1", 9090)
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert isinstance(field.json_schema_extra, dict), name
        assert field.json_schema_extra["expected"], name


def test_values_are_read_and_normalised() -> None:
    settings = Settings.from_env(
        {
            "ADMIN_IDS": "12, 34;56",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081/",
            "BOT_TOKEN": "4242:secret",
            "BOT_USERNAME": "@consult_bot",
            "BROADCAST_PAID": "yes",
            "BROADCAST_RATE": "12.5",
            "METRICS_LISTEN": "",
            "LOG_LEVEL": "debug",
            "CONSULTBOT_NOW": "2022-02-01T10:00:00+01:00",
            "SURVEY_FILE": "",
            "REMINDER_POLL": " ",
        }
    )
    assert settings.admin_ids == {12, 34, 56}
    assert settings.api_url == "http://127.0.0.1:8081" and settings.bot_id == 4242
    assert settings.bot_username == "consult_bot"
    assert settings.broadcast_paid is True and settings.broadcast_rate == 12.5
    assert settings.metrics_address() is None  # empty: no metrics
    assert settings.log_level == "DEBUG"
    assert settings.clock()() >= datetime(2022, 2, 1, 9, tzinfo=UTC)
    assert settings.survey_file == DEFAULT_SURVEY and settings.reminder_poll == 30


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS must be numeric Telegram user ids separated by commas"),
        ("BROADCAST_RATE", "fast", "BROADCAST_RATE must be a number of messages a second above 0"),
        ("REMINDER_POLL", "-1", "REMINDER_POLL must be a number of seconds above 0, not '-1'"),
        (
            "WEBHOOK_LISTEN",
            "0.0.0.0:99999",
            "WEBHOOK_LISTEN must be host:port, not '0.0.0.0:99999'",
        ),
        ("WEB_LISTEN", "localhost:http", "WEB_LISTEN must be host:port"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json, not 'xml'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("CONSULTBOT_NOW", "2022-02-01T10:00", "CONSULTBOT_NOW must be an ISO 8601 date-time"),
        ("WEB_BASE_URL", "consultation.example", "WEB_BASE_URL must be an http:// or https://"),
        ("BROADCAST_PAID", "maybe", "BROADCAST_PAID must be true or false, not 'maybe'"),
        ("WEBHOOK_SECRET", "a b", "WEBHOOK_SECRET must be 1 to 256 characters among"),
        ("DATABASE_POOL_SIZE", "0", "DATABASE_POOL_SIZE must be a whole number from 1 to 500"),
        ("DATABASE_POOL_SIZE", "many", "DATABASE_POOL_SIZE must be a whole number from 1 to 500"),
    ],
)
def test_a_malformed_value_is_named_with_what_is_expected(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_secret_is_never_repeated_in_its_error() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"WEBHOOK_SECRET": "hunter2 hunter2"})
    assert "hunter2" not in str(raised.value) and "not the value given" in str(raised.value)


def test_a_malformed_setting_stops_only_the_groups_that_use_it() -> None:
    settings = Settings.load({"ADMIN_IDS": "abc", "WEB_RATE_PER_MINUTE": "many"})
    assert settings.admin_ids == frozenset()  # the default meanwhile
    settings.require("core", "telegram", "broadcast")  # check, export, broadcast: unaffected
    with pytest.raises(ConfigError, match=r"^ADMIN_IDS must be") as raised:
        settings.require("core", "bot")
    assert "WEB_RATE" not in str(raised.value)
    with pytest.raises(ConfigError, match="WEB_RATE_PER_MINUTE must be a number above 0"):
        settings.require("web")
    with pytest.raises(ConfigError, match=r"ADMIN_IDS.*; WEB_RATE_PER_MINUTE"):
        settings.require("bot", "web")


def test_the_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "# the operator's settings\nBOT_TOKEN='111:from-file'\nexport ADMIN_IDS=7,8\n"
        "DATABASE_URL=sqlite+aiosqlite:///file.db\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("ADMIN_IDS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///environment.db")
    settings = Settings.load()
    assert settings.bot_token == "111:from-file"
    assert settings.admin_ids == {7, 8}
    assert settings.database_url == "sqlite+aiosqlite:///environment.db"
    assert Settings.load(env_file=None).bot_token == ""


def test_the_readme_lists_every_variable_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin = readme.index("<!-- settings table: generated from")
    begin = readme.index("\n", begin) + 1
    end = readme.index("<!-- end of the settings table -->")
    assert readme[begin:end].strip() == Settings.markdown_table(), (
        "README's settings table is out of date: replace it with the output of "
        "python -c 'from channels.settings import Settings; print(Settings.markdown_table())'"
    )


def test_the_pool_size_concerns_only_the_serving_commands() -> None:
    """`DATABASE_POOL_SIZE=0` stops `consultbot run` and `consultbot web`, not `check`."""
    settings = Settings.load({"DATABASE_POOL_SIZE": "0"}, env_file=None)
    settings.require("core", "telegram")
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE"):
        settings.require("core", "serve", "web")
