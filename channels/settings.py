"""Every setting the program reads from the environment, in one typed class (`Settings`).

Values come from the environment, then from a `.env` file in the working directory (the real
environment wins). Each variable has a default, a description (the README's table is checked
against them) and, when it is malformed, an error in plain words naming it and what is expected.

Settings come in groups (`core`, `serve`, `telegram`, `bot`, `broadcast`, `web`).
`Settings.load` never fails: a malformed value is replaced by its default and remembered, and a
command calls `settings.require(*groups)` for the groups it uses. A setting unrelated to a command
therefore never blocks it: `ADMIN_IDS=abc consultbot check` works, `consultbot run` refuses to
start.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from channels.clock import Clock, RehearsalClock, system_clock

DEFAULT_SURVEY = Path(__file__).resolve().parent.parent / "surveys" / "poles-de-competitivite.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/consultbot.db"
DEFAULT_API_URL = "https://api.telegram.org"
ENV_FILE = Path(".env")

Group = Literal["core", "serve", "telegram", "bot", "broadcast", "web"]
GROUPS: tuple[Group, ...] = ("core", "serve", "telegram", "bot", "broadcast", "web")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting that is missing or malformed; the message says which and how to fix it."""


def setting(
    default: Any,
    group: Group,
    description: str,
    expected: str,
    *,
    secret: bool = False,
    empty: str = "",
) -> Any:
    """A field of `Settings`: `expected` completes "NAME must be ..." in the error message;
    `empty` says what an empty value means when it is not "the default"."""
    extra: dict[str, Any] = {"group": group, "expected": expected, "secret": secret}
    if empty:
        extra["empty"] = empty
    return Field(default, description=description, json_schema_extra=extra)


SECONDS = "a number of seconds above 0"

_MAPPING: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "consultbot_settings_mapping", default=None
)


class _MappingSource(EnvSettingsSource):
    """The variables of a given mapping instead of the process's environment (tests, tools)."""

    def __init__(self, settings_cls: type[BaseSettings], mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._mapping.items()}


class Settings(BaseSettings):
    """The settings of every command. Field names are the variables' names in lower case."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, case_sensitive=False
    )

    # -- core: every command ----------------------------------------------------------------
    database_url: str = setting(
        DEFAULT_DATABASE_URL,
        "core",
        "The database (SQLAlchemy URL): SQLite by default, or "
        "postgresql+asyncpg://user:password@host/name.",
        "a database URL such as sqlite+aiosqlite:///data/consultbot.db or "
        "postgresql+asyncpg://user@host/name",
        secret=True,
    )
    survey_file: Path = setting(
        DEFAULT_SURVEY,
        "core",
        "The questionnaire file (YAML) used when a command is given no --survey.",
        "the path of a questionnaire file",
    )
    log_level: str = setting(
        "INFO", "core", "Least severe log level written.", "one of " + ", ".join(LOG_LEVELS)
    )
    log_format: Literal["text", "json"] = setting(
        "text", "core", "`text` (plain lines) or `json` (one JSON object a line).", "text or json"
    )
    consultbot_now: datetime | None = setting(
        None,
        "core",
        "Rehearsal clock: the bot and the web channel start at this instant and run at real "
        "speed (demos, end-to-end tests). Unset: the real time.",
        "an ISO 8601 date-time with a UTC offset, e.g. 2026-03-02T09:00:00+01:00",
    )

    # -- serve: the serving processes, `consultbot run` and `consultbot web` -------------------
    database_pool_size: int = setting(
        20,
        "serve",
        "PostgreSQL: connections each process keeps open; answers beyond that many in flight "
        "wait for one. Processes x this must stay below the server's max_connections.",
        "a whole number from 1 to 500",
    )

    # -- telegram: the commands that talk to the Bot API --------------------------------------
    bot_token: str = setting(
        "", "telegram", "The bot's token, from @BotFather.", "a token from @BotFather", secret=True
    )
    telegram_api_url: str = setting(
        DEFAULT_API_URL,
        "telegram",
        "The Bot API server (a local telegram-bot-api server, or a test server).",
        "an http:// or https:// address",
    )
    bot_username: str = setting(
        "",
        "telegram",
        "The bot's @username for invitation links (asked of Telegram when unset).",
        "a Telegram username",
    )

    # -- bot: `consultbot run` ----------------------------------------------------------------
    admin_ids: Annotated[frozenset[int], NoDecode] = setting(
        frozenset(),
        "bot",
        "Telegram user ids of the administrators, separated by commas.",
        "numeric Telegram user ids separated by commas (12345,67890)",
    )
    webhook_url: str = setting(
        "",
        "bot",
        "Webhook mode: the public address Telegram calls (https; http only for a local Bot API "
        "server).",
        "an http:// or https:// address",
    )
    webhook_secret: str = setting(
        "",
        "bot",
        "Webhook mode: the secret Telegram sends with each update (1-256 of A-Z a-z 0-9 _ -).",
        "1 to 256 characters among A-Z a-z 0-9 _ -",
        secret=True,
    )
    webhook_listen: str = setting(
        "0.0.0.0:8080", "bot", "Webhook mode: where the bot listens (host:port).", "host:port"
    )
    webhook_read_timeout: float = setting(
        10.0,
        "bot",
        "Seconds a webhook client has to send a request's headers, then its body.",
        SECONDS,
    )
    metrics_listen: str = setting(
        "127.0.0.1:9090",
        "bot",
        "Where `/metrics` is served, on its own listener (never the public webhook one).",
        "host:port, or empty for no metrics",
        empty="no metrics",
    )
    startup_retry_seconds: float = setting(
        300.0,
        "bot",
        "How long `consultbot run` keeps retrying an unreachable Bot API at start.",
        SECONDS,
    )
    admin_progress_interval: float = setting(
        2.0, "bot", "Seconds between two edits of a broadcast's progress message.", SECONDS
    )
    reminder_poll: float = setting(
        30.0, "bot", "Seconds between two checks for due reminders.", SECONDS
    )
    update_ids_trim_every: float = setting(
        3600.0, "bot", "Seconds between two trims of the processed update ids.", SECONDS
    )
    update_ids_keep_days: float = setting(
        7.0,
        "bot",
        "Days the processed update ids are kept (a redelivered update is recognised meanwhile).",
        "a number of days above 0",
    )
    purge_every: float = setting(
        86_400.0,
        "bot",
        "Seconds between two checks of the retention period (anonymisation).",
        SECONDS,
    )

    # -- broadcast: `consultbot run` and `consultbot broadcast` --------------------------------
    broadcast_rate: float = setting(
        25.0,
        "broadcast",
        "Messages a second a process sends (Telegram allows about 30).",
        "a number of messages a second above 0",
    )
    broadcast_paid: bool = setting(
        False,
        "broadcast",
        "Allow paid broadcasts (above 30 messages a second, billed in Telegram Stars).",
        "true or false",
    )
    broadcast_lease: float = setting(
        120.0,
        "broadcast",
        "Seconds after which a claim its worker stopped renewing is in doubt (never resent).",
        SECONDS,
    )
    broadcast_backoff: float = setting(
        2.0, "broadcast", "First wait before a failed delivery is tried again.", SECONDS
    )

    # -- web: `consultbot web`, `try --web`, invitation links --------------------------------
    web_listen: str = setting(
        "127.0.0.1:8081", "web", "Where the web channel listens (host:port).", "host:port"
    )
    web_base_url: str = setting(
        "",
        "web",
        "The web channel's public address, for resume and invitation links (https:// makes the "
        "cookies Secure).",
        "an http:// or https:// address",
    )
    web_secret: str = setting(
        "",
        "web",
        "Signs the web channel's cookies and links (unset: a random secret kept in the database).",
        "a secret of any length",
        secret=True,
    )
    web_rate_per_minute: float = setting(
        120.0, "web", "Answers a minute a web participant may send.", "a number above 0"
    )
    web_ip_rate_per_minute: float = setting(
        600.0, "web", "Requests a minute one IP address may send.", "a number above 0"
    )

    _problems: dict[str, str] = PrivateAttr(default_factory=dict)

    # -- validation ---------------------------------------------------------------------------

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: Any) -> Any:
        """An empty variable is the default (METRICS_LISTEN= says "no metrics")."""
        field = cls.model_fields[info.field_name]
        if isinstance(value, str) and not value.strip() and not _extra(field).get("empty"):
            return field.get_default(call_default_factory=True)
        return value.strip() if isinstance(value, str) else value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        ids = set()
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not (part.isascii() and part.lstrip("-").isdigit()):
                raise ValueError(part)
            ids.add(int(part))
        return frozenset(ids)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a URL") from None
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("unsupported database")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(value)
        return value.upper()

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_pool_size")
    @classmethod
    def _pool_size(cls, value: int) -> int:
        if not 1 <= value <= 500:
            raise ValueError(value)
        return value

    @field_validator("consultbot_now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("no UTC offset")
        return value

    @field_validator("telegram_api_url", "web_base_url", "webhook_url")
    @classmethod
    def _address(cls, value: str, info: Any) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(value)
        return value.rstrip("/") if info.field_name != "webhook_url" else value

    @field_validator("bot_username")
    @classmethod
    def _username(cls, value: str) -> str:
        return value.lstrip("@")

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value and (
            len(value) > 256 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value)
        ):
            raise ValueError("bad secret")
        return value

    @field_validator("webhook_listen", "metrics_listen", "web_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            host_port(value)
        return value

    @field_validator(
        "webhook_read_timeout",
        "startup_retry_seconds",
        "admin_progress_interval",
        "reminder_poll",
        "update_ids_trim_every",
        "update_ids_keep_days",
        "purge_every",
        "broadcast_rate",
        "broadcast_lease",
        "broadcast_backoff",
        "web_rate_per_minute",
        "web_ip_rate_per_minute",
    )
    @classmethod
    def _positive(cls, value: float) -> float:
        if not 0 < value < float("inf"):
            raise ValueError(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        mapping = _MAPPING.get()
        if mapping is not None:
            return init_settings, _MappingSource(settings_cls, mapping)
        return init_settings, env_settings, dotenv_settings

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, *, env_file: Path | None = ENV_FILE
    ) -> Settings:
        """The settings of the environment and of `env_file` (or of `env` alone), never failing:
        a malformed value is replaced by its default and reported by `require`."""
        problems: dict[str, str] = {}
        overrides: dict[str, Any] = {}
        token = _MAPPING.set(env)
        try:
            while True:
                try:
                    if env is None:
                        settings = cls(_env_file=env_file, **overrides)  # type: ignore[call-arg]
                    else:
                        settings = cls(**overrides)
                    break
                except ValidationError as exc:
                    for error in exc.errors(include_url=False):
                        name = str(error["loc"][0])
                        if name in overrides:  # the default itself is wrong: a bug, say so
                            raise
                        problems[name] = cls.problem(name, error.get("input"))
                        overrides[name] = cls.model_fields[name].get_default(
                            call_default_factory=True
                        )
        finally:
            _MAPPING.reset(token)
        settings._problems = problems
        return settings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting, all of them valid (ConfigError otherwise): the environment and `.env`,
        or `env` alone."""
        return cls.load(env).require(*GROUPS)

    @classmethod
    def problem(cls, name: str, value: Any) -> str:
        """The message for a malformed value of the field `name`."""
        extra = _extra(cls.model_fields[name])
        shown = "the value given" if extra["secret"] else repr(value)
        return f"{name.upper()} must be {extra['expected']}, not {shown}"

    def problems(self, *groups: Group) -> list[str]:
        """The malformed settings of `groups` (of every group when none is given)."""
        wanted = set(groups or GROUPS)
        return [
            message
            for name, message in self._problems.items()
            if _extra(type(self).model_fields[name])["group"] in wanted
        ]

    def require(self, *groups: Group) -> Settings:
        """These settings, or ConfigError naming every malformed one of `groups`."""
        problems = self.problems(*groups)
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def with_survey(self, path: str | Path | None) -> Settings:
        """These settings with another questionnaire file (a command's `--survey`)."""
        return self if path is None else self.model_copy(update={"survey_file": Path(path)})

    # -- derived values -----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.telegram_api_url

    @property
    def bot_id(self) -> int:
        """The bot's Telegram id: the numeric part of its token before the colon (0 if none)."""
        prefix = self.bot_token.partition(":")[0]
        return int(prefix) if prefix.isascii() and prefix.isdigit() else 0

    def clock(self) -> Clock:
        """The real clock, or the rehearsal clock starting at `CONSULTBOT_NOW`."""
        if self.consultbot_now is None:
            return system_clock
        return RehearsalClock(self.consultbot_now)

    def listen_address(self) -> tuple[str, int]:
        return host_port(self.webhook_listen)

    def metrics_address(self) -> tuple[str, int] | None:
        """Where to serve `/metrics`, or None when `METRICS_LISTEN` is empty."""
        if not self.metrics_listen:
            return None
        return host_port(self.metrics_listen, default_host="127.0.0.1")

    def web_listen_address(self) -> tuple[str, int]:
        return host_port(self.web_listen, default_host="127.0.0.1")

    # -- documentation ------------------------------------------------------------------------

    @classmethod
    def markdown_table(cls) -> str:
        """The README's table of the variables: name, default, used by, meaning."""
        lines = ["| Variable | Default | Group | Meaning |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            extra = _extra(field)
            lines.append(
                f"| `{name.upper()}` | {_shown_default(name, field)} | {extra['group']} | "
                f"{field.description} |"
            )
        return "\n".join(lines)


def _extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    assert isinstance(extra, dict)
    return extra


def _shown_default(name: str, field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if name == "survey_file":
        return "`surveys/poles-de-competitivite.yaml`"
    if default is None or default == "" or default == frozenset():
        empty = _extra(field).get("empty")
        return f"(empty: {empty})" if empty else "(none)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def host_port(value: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """`host:port` as a pair (ValueError when it is not one)."""
    host, _, port = value.rpartition(":")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]") or default_host, int(port)
