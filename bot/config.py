"""Configuration from the environment (and a `.env` file beside the working directory)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SURVEY = Path(__file__).resolve().parent.parent / "surveys" / "poles-de-competitivite.yaml"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/consultbot.db"
DEFAULT_API_URL = "https://api.telegram.org"


class ConfigError(ValueError):
    """A setting that is missing or malformed; the message says which and how to fix it."""


def load_dotenv(path: Path = Path(".env")) -> None:
    """Set variables from a `KEY=value` file without overriding the real environment."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key.strip(), value)


def _admin_ids(raw: str) -> frozenset[int]:
    ids = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.lstrip("-").isdigit()):
            raise ConfigError(f"ADMIN_IDS must list numeric Telegram user ids, not {part!r}")
        ids.add(int(part))
    return frozenset(ids)


@dataclass(frozen=True)
class Settings:
    bot_token: str = ""
    api_url: str = DEFAULT_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    survey_file: Path = DEFAULT_SURVEY
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "0.0.0.0:8080"
    log_format: str = "text"
    log_level: str = "INFO"
    metrics_listen: str = "127.0.0.1:9090"
    """Where `/metrics` is served (its own listener, never the public webhook one); "" for none."""
    webhook_read_timeout: float = 10.0
    """Seconds a webhook client has to send a request's headers, then its body."""
    startup_retry_seconds: float = 300.0
    """How long `consultbot run` keeps retrying an unreachable Bot API at start."""
    bot_username: str = ""
    """BOT_USERNAME: the bot's @username for invitation links (asked of Telegram if unset)."""
    web_base_url: str = ""
    """WEB_BASE_URL: the web channel's address; invitation links get a web form too."""

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> Settings:
        source = dict(os.environ if env is None else env)
        return Settings(
            bot_token=source.get("BOT_TOKEN", "").strip(),
            api_url=source.get("TELEGRAM_API_URL", DEFAULT_API_URL).rstrip("/"),
            database_url=source.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            survey_file=Path(source.get("SURVEY_FILE") or DEFAULT_SURVEY),
            admin_ids=_admin_ids(source.get("ADMIN_IDS", "")),
            webhook_url=source.get("WEBHOOK_URL", ""),
            webhook_secret=source.get("WEBHOOK_SECRET", ""),
            webhook_listen=source.get("WEBHOOK_LISTEN", "0.0.0.0:8080"),
            log_format=source.get("LOG_FORMAT", "text"),
            log_level=source.get("LOG_LEVEL", "INFO"),
            metrics_listen=source.get("METRICS_LISTEN", "127.0.0.1:9090").strip(),
            webhook_read_timeout=_seconds(source, "WEBHOOK_READ_TIMEOUT", 10.0),
            startup_retry_seconds=_seconds(source, "STARTUP_RETRY_SECONDS", 300.0),
            bot_username=source.get("BOT_USERNAME", "").strip().lstrip("@"),
            web_base_url=source.get("WEB_BASE_URL", "").strip().rstrip("/"),
        )

    @property
    def bot_id(self) -> int:
        """The bot's Telegram id: the numeric part of its token before the colon (0 if none)."""
        prefix = self.bot_token.partition(":")[0]
        return int(prefix) if prefix.isascii() and prefix.isdigit() else 0

    def listen_address(self) -> tuple[str, int]:
        return _address("WEBHOOK_LISTEN", self.webhook_listen)

    def metrics_address(self) -> tuple[str, int] | None:
        """Where to serve `/metrics`, or None when `METRICS_LISTEN` is empty."""
        if not self.metrics_listen:
            return None
        return _address("METRICS_LISTEN", self.metrics_listen, default_host="127.0.0.1")


def _address(name: str, value: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigError(f"{name} must be host:port, not {value!r}")
    return host.strip("[]") or default_host, int(port)


def _seconds(source: dict[str, str], name: str, default: float) -> float:
    raw = source.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number of seconds above 0, not {raw!r}")
    return value
