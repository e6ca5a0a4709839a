"""A local Telegram Bot API server for end-to-end tests and benchmarks.

``FakeBotAPI`` speaks the part of the Bot API a bot uses (getMe, getUpdates long polling,
webhooks, messages, edits, callback answers, documents, photos, commands, getChat) over real
HTTP, so the real aiogram bot runs unchanged against it::

    async with FakeBotAPI() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(api.token, session=session)
        ...
        api.send_text(42, "hello")
        reply = await api.wait_for_message(42)

It validates requests like Telegram does (text and caption lengths, callback_data size, HTML
entities, "message is not modified", answering a callback query twice), keeps a transcript per
chat and a log of every call, and offers switches for rate limits (429), blocked users (403) and
generic fault injection.  Per-request work is O(1) in the history size, so it also serves
throughput benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import inspect
import itertools
import json
import mimetypes
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import (
    BodyPartReader,
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    TCPConnector,
    web,
)
from aiohttp.multipart import MultipartReader

__all__ = [
    "BotAPIError",
    "Call",
    "Edit",
    "FakeBotAPI",
    "MethodStats",
    "SentMessage",
    "UploadedFile",
    "WebhookDelivery",
    "parse_html",
]

T = TypeVar("T")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
UPLOAD_LIMIT = 50 * 1024 * 1024

GROUP_ANONYMOUS_BOT_ID = 1087968824
"""The `from` of a message an anonymous group admin sends (its `sender_chat` is the group)."""
ERR_NOT_MEMBER = "Forbidden: bot is not a member of the {kind} chat"

ERR_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
ERR_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
ERR_CONFLICT_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

# Fields whose form value is a JSON-serialised object, an integer or a boolean.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "max_connections",
        "cache_time",
        "user_id",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "drop_pending_updates",
        "show_alert",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
    }
)
_FILE_FIELDS = frozenset(
    {"document", "photo", "audio", "video", "voice", "animation", "video_note", "thumbnail"}
)
_BUTTON_ACTIONS = frozenset(
    {
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


# --------------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------------


class BotAPIError(Exception):
    """An error answer of the Bot API (raise it from a custom method handler too)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(slots=True)
class Call:
    """One Bot API call as the server saw it; ``status`` is 0 while it is in flight."""

    method: str
    params: dict[str, Any]
    time: float
    source: str = "http"  # "http" or "webhook-reply"
    status: int = 0  # HTTP status of the answer; 499 when the client went away
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class Edit:
    """The state of a message after one edit."""

    method: str
    text: str | None
    reply_markup: dict[str, Any] | None
    time: float


@dataclass(slots=True)
class SentMessage:
    """A message sent by the bot; its fields show the current state (after edits)."""

    message_id: int
    chat_id: int
    kind: str  # "text", "document" or "photo"
    text: str | None  # text or caption as the user sees it (HTML tags parsed away)
    reply_markup: dict[str, Any] | None
    date: int
    time: float
    method: str
    source_text: str | None = None  # text or caption exactly as the bot sent it
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    document: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    file_id: str | None = None
    photo: bytes | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    original_text: str | None = None
    original_reply_markup: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the Message object last returned

    @property
    def caption(self) -> str | None:
        return self.text if self.kind != "text" else None

    @property
    def history(self) -> list[str | None]:
        """The text of every state, from the original through every edit."""
        return [self.original_text, *(edit.text for edit in self.edits)]

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """(text, callback_data or url) of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            (str(button.get("text", "")), button.get("callback_data") or button.get("url"))
            for row in rows
            for button in row
        ]

    @property
    def keyboard(self) -> list[list[str]]:
        """Button texts of the inline keyboard (or of a reply keyboard), row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [
            [button if isinstance(button, str) else str(button.get("text", "")) for button in row]
            for row in rows
        ]

    def button_data(self, label: str, *, exact: bool = False) -> str:
        """The callback_data of the first inline button whose text contains (or is) ``label``."""
        for text, data in self.buttons:
            if (text == label if exact else label in text) and data is not None:
                return data
        raise LookupError(f"no button {label!r} in message {self.message_id}: {self.buttons}")


@dataclass(slots=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook; status 0 means a connection error."""

    update_id: int
    attempt: int
    status: int
    time: float
    error: str | None = None


@dataclass(slots=True)
class MethodStats:
    """Answer counts of one method."""

    ok: int = 0
    too_many: int = 0  # 429
    forbidden: int = 0  # 403
    other: int = 0  # any other error (including 499: client went away)

    @property
    def total(self) -> int:
        return self.ok + self.too_many + self.forbidden + self.other


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


class _Pending:
    """An update waiting to be confirmed (polling) or delivered (webhook)."""

    __slots__ = ("delivered", "replay", "seq", "update", "update_id")

    def __init__(self, update: dict[str, Any], seq: int, replay: bool) -> None:
        self.update = update
        self.update_id: int = update["update_id"]
        self.seq = seq
        self.replay = replay
        self.delivered = False


class _TokenBucket:
    """Token bucket: ``rate`` tokens a second, a burst of at most max(rate, 1)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(rate, 1.0)
        self.tokens = self.capacity
        self.stamp = now

    def ready(self, now: float) -> bool:
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now
        return self.tokens >= 1.0 - 1e-9

    def take(self) -> None:
        self.tokens -= 1.0


@dataclass(slots=True)
class _Webhook:
    url: str
    secret: str | None
    max_connections: int
    allowed_updates: list[str] | None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(slots=True)
class _Poll:
    request: web.Request | None
    abandoned: bool = False


@dataclass(slots=True)
class _Fault:
    status: int
    description: str
    retry_after: int | None


def json_bytes(value: Any) -> bytes:
    """JSON as UTF-8. Text holding a lone surrogate (a test's forged update) cannot be written
    as UTF-8: it goes as JSON's `\\ud800` escape, as a JSON writer such as Telegram's would."""
    try:
        return json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(value).encode()


def _utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")
_ATTR_RE = re.compile(r"""([A-Za-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_error(reason: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: can't parse entities: {reason}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: the plain text and its entities (UTF-16 offsets).

    Raises BotAPIError(400, "Bad Request: can't parse entities: ...") like Telegram for an
    unsupported tag, a bare ``<``, a mismatched or unclosed tag.
    """
    out: list[str] = []
    pos = 0  # in UTF-16 code units
    stack: list[tuple[str, int, dict[str, Any]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(source)
    while i < n:
        lt = source.find("<", i)
        amp = source.find("&", i)
        j = min(lt if lt >= 0 else n, amp if amp >= 0 else n)
        if j > i:
            chunk = source[i:j]
            out.append(chunk)
            pos += _utf16_len(chunk)
            i = j
            continue
        if source[i] == "&":
            m = _ENTITY_RE.match(source, i)
            char: str | None = None
            if m:
                name = m.group(1)
                if name.startswith(("#x", "#X")):
                    char = chr(int(name[2:], 16)) if int(name[2:], 16) < 0x110000 else None
                elif name.startswith("#"):
                    char = chr(int(name[1:])) if int(name[1:]) < 0x110000 else None
                else:
                    char = _NAMED.get(name)
            if m and char is not None:
                out.append(char)
                pos += _utf16_len(char)
                i = m.end()
            else:
                out.append("&")
                pos += 1
                i += 1
            continue
        m = _TAG_RE.match(source, i)
        if m is None:
            raise _html_error(
                f"Unexpected end of name token at byte offset {_byte_offset(source, i)}"
            )
        closing, tag, rest = m.group(1), m.group(2).lower(), m.group(3)
        if closing:
            if not stack:
                raise _html_error(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
            open_tag, start, attrs_of = stack.pop()
            if open_tag != tag:
                raise _html_error(
                    f"Unmatched end tag at byte offset {_byte_offset(source, i)}, "
                    f'expected "</{open_tag}>", found "</{tag}>"'
                )
            length = pos - start
            kind = _HTML_TAGS[tag]
            if tag == "code" and stack and stack[-1][0] == "pre":
                if "language" in attrs_of:
                    stack[-1][2]["language"] = attrs_of["language"]
            elif length > 0:
                if kind == "blockquote" and attrs_of.pop("expandable", False):
                    kind = "expandable_blockquote"
                if kind == "code":
                    attrs_of.pop("language", None)
                entities.append({"type": kind, "offset": start, "length": length, **attrs_of})
            i = m.end()
            continue
        if tag not in _HTML_TAGS:
            raise _html_error(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(source, i)}'
            )
        attrs = {
            a.group(1).lower(): html.unescape(a.group(2) or a.group(3) or a.group(4) or "")
            for a in _ATTR_RE.finditer(rest)
        }
        extra: dict[str, Any] = {}
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _html_error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, i)}'
            )
        if tag == "a":
            href = attrs.get("href", "")
            if not href:
                raise _html_error(
                    f"Can't find href in tag at byte offset {_byte_offset(source, i)}"
                )
            extra["url"] = href
        elif tag == "code" and attrs.get("class", "").startswith("language-"):
            extra["language"] = attrs["class"][len("language-") :]
        elif tag == "blockquote" and "expandable" in attrs:
            extra["expandable"] = True
        elif tag == "tg-emoji":
            extra["custom_emoji_id"] = attrs.get("emoji-id", "")
        stack.append((tag, pos, extra))
        i = m.end()
    if stack:
        raise _html_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


async def _read_multipart(reader: MultipartReader) -> tuple[dict[str, str], dict[str, Any]]:
    """Text fields and file parts of a multipart/form-data body."""
    fields: dict[str, str] = {}
    files: dict[str, Any] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read(decode=False))
        ctype = part.headers.get("Content-Type")
        is_file = part.filename is not None or (
            part.name in _FILE_FIELDS and ctype == "application/octet-stream"
        )
        if not is_file:
            try:
                fields[part.name] = data.decode(part.get_charset("utf-8"))
            except (UnicodeDecodeError, LookupError):
                is_file = True
        if is_file:
            files[part.name] = UploadedFile(part.filename, ctype, data)
    return fields, files


def _normalize(raw: Mapping[str, Any], files: Mapping[str, Any]) -> dict[str, Any]:
    """Decode form values: JSON fields, integers, booleans, ``attach://`` references."""
    params: dict[str, Any] = {}
    used: set[str] = set()
    for key, value in raw.items():
        if isinstance(value, str):
            if value.startswith("attach://"):
                ref = value[len("attach://") :]
                if ref in files:
                    value = files[ref]
                    used.add(ref)
            elif key in _JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    raise BotAPIError(400, f"Bad Request: can't parse {key} JSON object") from None
            elif key in _INT_FIELDS:
                with contextlib.suppress(ValueError):
                    value = int(value)
            elif key in _BOOL_FIELDS:
                value = value.lower() in ("true", "1")
        params[key] = value
    for key, value in files.items():
        if key not in used and key not in params:
            params[key] = value
    return params


def _int_param(params: Mapping[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BotAPIError(400, f"Bad Request: invalid {name} specified")
    try:
        return int(value)
    except ValueError:
        raise BotAPIError(400, f"Bad Request: invalid {name} specified") from None


def _is_inline(markup: Mapping[str, Any] | None) -> bool:
    return markup is not None and "inline_keyboard" in markup


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any], web.Request | None], Awaitable[Any]]
CustomHandler = Callable[[dict[str, Any]], Any]


class FakeBotAPI:
    """A local Telegram Bot API server (see the module docstring)."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        rate_limit: float | None = None,
        per_chat_rate: float | None = None,
        retry_after: int = 1,
        clock: Callable[[], float] = time.monotonic,
        bot_username: str = "test_bot",
        bot_first_name: str = "Test Bot",
        record_calls: bool = True,
        strict_chats: bool = False,
        webhook_retries: int = 3,
        webhook_backoff: float = 0.05,
        webhook_timeout: float = 10.0,
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("a bot token looks like '<digits>:<text>'")
        self.token = token
        self.rate_limit = rate_limit
        self.per_chat_rate = per_chat_rate
        self.retry_after = retry_after
        self.clock = clock
        self.record_calls = record_calls
        self.strict_chats = strict_chats
        self.webhook_retries = webhook_retries
        self.webhook_backoff = webhook_backoff
        self.webhook_timeout = webhook_timeout
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }

        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.dropped_updates: list[int] = []
        self.errors: list[Exception] = []  # unexpected exceptions inside method handlers

        self._base_url: str | None = None
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._closing = False

        self._calls: list[Call] = []
        self._calls_by_method: dict[str, list[Call]] = defaultdict(list)
        self._stats: dict[str, MethodStats] = defaultdict(MethodStats)

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = defaultdict(lambda: 1)
        self._messages: dict[int, dict[int, SentMessage]] = defaultdict(dict)
        self._transcripts: dict[int, list[SentMessage]] = defaultdict(list)
        self._user_messages: dict[int, set[int]] = defaultdict(set)
        self._changes: dict[int, list[tuple[int, SentMessage]]] = defaultdict(list)
        self._marks: dict[int, int] = {}
        self._seq = 0
        self._files: dict[str, dict[str, Any]] = {}
        self._file_counter = itertools.count(1)
        self._queries: dict[str, dict[str, Any]] = {}
        self._query_counter = itertools.count(4_000_000_000_000_000_001)
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.left_chats: set[int] = set()  # groups and channels the bot left (leaveChat)

        # Updates.
        self._last_update_id = 0
        self._update_seq = itertools.count()
        self._pending: deque[_Pending] = deque()
        self._update_event = asyncio.Event()
        self._allowed: frozenset[str] | None = None
        self._poll: _Poll | None = None
        self._webhook: _Webhook | None = None
        self._wh_queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._wh_worker_ids = itertools.count()
        self._wh_workers: list[asyncio.Task[None]] = []
        self._wh_current: dict[int, _Pending] = {}
        self._wh_moving: list[_Pending] = []
        self._worker_ids: dict[asyncio.Task[Any], int] = {}

        # Switches.
        self._blocked: set[int] = set()
        self._inject_count = 0
        self._inject_retry_after = 1
        self._faults: dict[str, deque[_Fault]] = {}
        self._bucket: _TokenBucket | None = None
        self._chat_buckets: dict[int, _TokenBucket] = {}

        # Activity, for wait_idle / wait_for.
        self._active = 0
        self._last_activity = time.monotonic()
        self._waiters: list[asyncio.Future[None]] = []
        self._chat_waiters: dict[int, list[asyncio.Future[None]]] = {}

        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name, handler in self._builtin_methods().items():
            self._handlers[name.lower()] = (name, handler)
        self._message_methods = frozenset(
            name
            for name, _ in self._handlers.values()
            if name.startswith(("send", "edit", "copy", "forward")) and name != "sendChatAction"
        )

    # ---------------------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("FakeBotAPI is already started")
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._closing = False
        bound = runner.addresses[0]
        self._base_url = f"http://{host}:{bound[1]}"
        return self._base_url

    async def stop(self) -> None:
        """Stop the webhook deliveries and the HTTP server."""
        self._closing = True
        self._update_event.set()
        leftover = await self._stop_webhook_workers()
        queued = [*leftover, *self._drain_webhook_queue()]
        for entry in queued:
            self._wh_queue.put_nowait(entry)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port``: what the bot passes as TELEGRAM_API_URL."""
        if self._base_url is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._base_url

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    # ---------------------------------------------------------------------------- HTTP layer

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        entry = self._handlers.get(name.lower())
        try:
            params = await self._read_params(request)
        except BotAPIError as exc:
            self._record_failure(entry[0] if entry else name, {}, exc, "http")
            return self._respond(exc.to_json(), exc.code)
        if request.match_info["token"] != self.token:
            failure = BotAPIError(401, "Unauthorized")
        elif entry is None:
            failure = BotAPIError(404, "Not Found: method not found")
        else:
            status, body = await self._call(entry[0], entry[1], params, request, "http")
            return self._respond(body, status)
        self._record_failure(entry[0] if entry else name, params, failure, "http")
        return self._respond(failure.to_json(), failure.code)

    def _record_failure(
        self, method: str, params: dict[str, Any], exc: BotAPIError, source: str
    ) -> None:
        call = Call(method, params, self.clock(), source, exc.code, exc.description)
        if self.record_calls:
            self._calls.append(call)
            self._calls_by_method[method].append(call)
        self._stats[method].other += 1
        self._notify()

    @staticmethod
    def _respond(body: dict[str, Any], status: int) -> web.Response:
        return web.Response(
            body=json_bytes(body),
            status=status,
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query) if request.query_string else {}
        files: dict[str, Any] = {}
        if request.body_exists:
            ctype = request.content_type
            if ctype.startswith("multipart/"):
                fields, files = await _read_multipart(await request.multipart())
                raw.update(fields)
            elif ctype == "application/json":
                body = await request.read()
                if body.strip():
                    try:
                        data = json.loads(body)
                    except ValueError:
                        raise BotAPIError(400, "Bad Request: can't parse JSON object") from None
                    if not isinstance(data, dict):
                        raise BotAPIError(400, "Bad Request: JSON object expected")
                    raw.update(data)
            else:
                raw.update(parse_qsl(await request.text(), keep_blank_values=True))
        return _normalize(raw, files)

    async def _call(
        self,
        method: str,
        handler: Handler,
        params: dict[str, Any],
        request: web.Request | None,
        source: str,
    ) -> tuple[int, dict[str, Any]]:
        polling = method == "getUpdates"
        call = Call(method, params, self.clock(), source)
        if self.record_calls:
            self._calls.append(call)
            self._calls_by_method[method].append(call)
        if not polling:
            self._active += 1
            self._last_activity = time.monotonic()
        stats = self._stats[method]
        try:
            self._check_switches(method, params)
            result = await handler(params, request)
        except BotAPIError as exc:
            call.status = exc.code
            call.description = exc.description
            if exc.code == 429:
                stats.too_many += 1
            elif exc.code == 403:
                stats.forbidden += 1
            else:
                stats.other += 1
            return exc.code, exc.to_json()
        except Exception as exc:
            # A bug here must still give the bot a well-formed answer (and the test a clue).
            self.errors.append(exc)
            error = BotAPIError(500, f"Internal Server Error: {type(exc).__name__}: {exc}")
            call.status, call.description = 500, error.description
            stats.other += 1
            return 500, error.to_json()
        except asyncio.CancelledError:
            call.status = 499
            call.description = "client closed the connection"
            stats.other += 1
            raise
        finally:
            if not polling:
                self._active -= 1
                self._last_activity = time.monotonic()
            self._notify()
        call.status = 200
        call.result = result
        stats.ok += 1
        return 200, {"ok": True, "result": result}

    def _check_switches(self, method: str, params: Mapping[str, Any]) -> None:
        if self._faults:
            queue = self._faults.get(method) or self._faults.get("*")
            if queue:
                fault = queue.popleft()
                if not queue:
                    self._faults = {k: v for k, v in self._faults.items() if v}
                raise BotAPIError(fault.status, fault.description, fault.retry_after)
        if method not in self._message_methods and method != "sendChatAction":
            return
        chat_id = params.get("chat_id")
        if chat_id in self._blocked:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.left_chats:
            kind = self._chats.get(chat_id, {}).get("type", "group")
            raise BotAPIError(403, ERR_NOT_MEMBER.format(kind=kind))
        if method == "sendChatAction":
            return
        if self._inject_count > 0:
            self._inject_count -= 1
            retry = self._inject_retry_after
            raise BotAPIError(429, f"Too Many Requests: retry after {retry}", retry)
        if self.rate_limit is None and self.per_chat_rate is None:
            return
        now = self.clock()
        bucket: _TokenBucket | None = None
        chat_bucket: _TokenBucket | None = None
        if self.rate_limit is not None:
            if self._bucket is None or self._bucket.rate != self.rate_limit:
                self._bucket = _TokenBucket(self.rate_limit, now)
            bucket = self._bucket
        if self.per_chat_rate is not None and isinstance(chat_id, int):
            chat_bucket = self._chat_buckets.get(chat_id)
            if chat_bucket is None or chat_bucket.rate != self.per_chat_rate:
                chat_bucket = self._chat_buckets[chat_id] = _TokenBucket(self.per_chat_rate, now)
        if (bucket is not None and not bucket.ready(now)) or (
            chat_bucket is not None and not chat_bucket.ready(now)
        ):
            raise BotAPIError(
                429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after
            )
        if bucket is not None:
            bucket.take()
        if chat_bucket is not None:
            chat_bucket.take()

    def _notify(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _notify_chat(self, chat_id: int) -> None:
        waiters = self._chat_waiters.pop(chat_id, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    # ---------------------------------------------------------------------------- switches

    def block(self, chat_id: int) -> None:
        """Every send to ``chat_id`` answers 403 "Forbidden: bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def inject_429(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` send/edit/copy calls answer 429 with this retry_after."""
        self._inject_count = count
        self._inject_retry_after = retry_after

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        count: int = 1,
        *,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` ("*" for any) fail with status/description."""
        entry = self._handlers.get(method.lower())
        name = entry[0] if entry is not None else method
        queue = self._faults.setdefault(name, deque())
        queue.extend(_Fault(status, description, retry_after) for _ in range(count))

    def set_method(self, method: str, handler: CustomHandler) -> None:
        """Add or replace a method: ``handler(params)`` returns the result (sync or async)
        or raises BotAPIError."""

        async def run(params: dict[str, Any], request: web.Request | None) -> Any:
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            return result

        self._handlers[method.lower()] = (method, run)

    # ---------------------------------------------------------------------------- inspection

    def transcript(self, chat_id: int) -> list[SentMessage]:
        """Every message the bot sent to the chat, in order (deleted ones flagged)."""
        return list(self._transcripts.get(chat_id, ()))

    def last_message(self, chat_id: int) -> SentMessage | None:
        """The bot's latest message in the chat that is not deleted."""
        for message in reversed(self._transcripts.get(chat_id, ())):
            if not message.deleted:
                return message
        return None

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def calls(self, method: str | None = None) -> list[Call]:
        if method is None:
            return list(self._calls)
        return list(self._calls_by_method.get(method, ()))

    @property
    def stats(self) -> dict[str, MethodStats]:
        return dict(self._stats)

    def totals(self) -> MethodStats:
        """Answer counts summed over every method."""
        total = MethodStats()
        for stats in self._stats.values():
            total.ok += stats.ok
            total.too_many += stats.too_many
            total.forbidden += stats.forbidden
            total.other += stats.other
        return total

    def reset_stats(self) -> None:
        """Forget the recorded calls, the stats and the webhook deliveries."""
        self._calls.clear()
        self._calls_by_method.clear()
        self._stats.clear()
        self.webhook_deliveries.clear()

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return list(self._commands.get((self._scope_key(scope), language_code), []))

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed (polling) or being delivered (webhook)."""
        moving = sum(1 for e in self._wh_moving if e not in self._wh_current.values())
        return len(self._pending) + self._wh_queue.qsize() + len(self._wh_current) + moving

    def pending_ids(self) -> set[int]:
        """The ids of the updates not yet confirmed (polling: the bot has not asked for updates
        past them; webhook: queued, or being delivered and not answered 2xx yet)."""
        ids = {entry.update_id for entry in self._pending}
        ids.update(entry.update_id for entry in self._wh_current.values())
        ids.update(entry.update_id for entry in self._wh_moving)
        # asyncio.Queue keeps its items in a deque; reading it does not take them.
        ids.update(entry.update_id for entry in self._wh_queue._queue)  # type: ignore[attr-defined]
        return ids

    @property
    def polling(self) -> bool:
        """True while a getUpdates request is held open."""
        return self._poll is not None

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook is not None else None

    @property
    def seq(self) -> int:
        """A counter bumped on every message sent or edited (see wait_for_message(since=))."""
        return self._seq

    # ---------------------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked after every call and update)
        and return its value; TimeoutError otherwise."""
        return await self._wait(predicate, timeout, None)

    async def _wait(
        self,
        predicate: Callable[[], T | None],
        timeout: float,
        chat_id: int | None,
    ) -> T:
        """Re-check ``predicate`` after every change (of that chat only, with chat_id)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; {self._recent()}")
            fut: asyncio.Future[None] = loop.create_future()
            if chat_id is None:
                self._waiters.append(fut)
            else:
                self._chat_waiters.setdefault(chat_id, []).append(fut)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, min(remaining, 0.5))

    def changes_since(self, chat_id: int, since: int) -> int:
        """How many sends and edits the bot made in the chat after ``since`` (a ``seq``)."""
        count = 0
        for seq, _message in reversed(self._changes.get(chat_id, ())):
            if seq <= since:
                break
            count += 1
        return count

    async def wait_for_changes(
        self,
        chat_id: int,
        count: int,
        since: int,
        timeout: float = 10.0,
    ) -> None:
        """Wait until the bot has sent or edited ``count`` messages in the chat after ``since``."""
        await self._wait(lambda: self.changes_since(chat_id, since) >= count, timeout, chat_id)

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> SentMessage:
        """The oldest bot message in the chat sent or edited after ``since`` (a ``seq``
        value; default: the last user action in that chat) that matches ``predicate``."""
        mark = self._marks.get(chat_id, 0) if since is None else since

        def find() -> SentMessage | None:
            changes = self._changes.get(chat_id)
            if not changes:
                return None
            recent: list[SentMessage] = []
            for seq, message in reversed(changes):
                if seq <= mark:
                    break
                recent.append(message)
            seen: set[int] = set()
            for message in reversed(recent):
                if message.message_id in seen or message.deleted:
                    continue
                seen.add(message.message_id)
                if predicate is None or predicate(message):
                    return message
            return None

        try:
            return await self._wait(find, timeout, chat_id)
        except TimeoutError:
            texts = [m.text for m in self._transcripts.get(chat_id, [])[-5:]]
            raise TimeoutError(
                f"no matching message in chat {chat_id} within {timeout}s; last texts: {texts}"
            ) from None

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least ``count`` finished calls of ``method`` (matching) exist."""

        def done() -> list[Call] | None:
            found = [
                c
                for c in self._calls_by_method.get(method, ())
                if c.status and (predicate is None or predicate(c))
            ]
            return found if len(found) >= count else None

        return await self.wait_for(done, timeout)

    async def wait_confirmed(self, update_ids: Iterable[int], timeout: float = 10.0) -> None:
        """Wait until none of ``update_ids`` is pending any more: the bot confirmed them
        (polling: a getUpdates with an offset past them; webhook: a 2xx answer to their
        delivery), or they were dropped (see ``dropped_updates``)."""
        wanted = set(update_ids)
        if wanted:
            await self._wait(lambda: not wanted & self.pending_ids(), timeout, None)

    async def wait_idle(
        self,
        quiet: float = 0.05,
        timeout: float = 10.0,
    ) -> None:
        """Wait until no update is pending, unconfirmed or being delivered, no request is
        being handled (a held getUpdates aside) and none arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        step = min(max(quiet / 5, 0.002), 0.02)
        while True:
            now = time.monotonic()
            if (
                self.pending_update_count == 0
                and self._active == 0
                and now - self._last_activity >= quiet
            ):
                return
            if now >= deadline:
                raise TimeoutError(
                    f"not idle after {timeout}s: {self.pending_update_count} updates pending, "
                    f"{self._active} requests active; {self._recent()}"
                )
            await asyncio.sleep(step)

    def _recent(self) -> str:
        last = self._calls[-5:]
        return "last calls: " + ", ".join(f"{c.method}->{c.status}" for c in last)

    # ---------------------------------------------------------------------------- users & updates

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Register (or update) a user; returns a copy of its User object. The user helpers
        below call it: unspecified fields keep their previous value (default "Test", "fr")."""
        user = self._users.get(user_id)
        if user is None:
            user = {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "fr"}
            self._users[user_id] = user
        if first_name is not None:
            user["first_name"] = first_name
        if language_code is not None:
            user["language_code"] = language_code
        if username is not None:
            user["username"] = username
        if last_name is not None:
            user["last_name"] = last_name
        self._chats.pop(user_id, None)
        return dict(user)

    def push_raw_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update as given; without ``update_id`` a new one is assigned.  Pushing an
        update with an id already used redelivers it (idempotency tests)."""
        data = dict(update)
        update_id = data.get("update_id")
        replay = False
        if update_id is None:
            self._last_update_id += 1
            update_id = data["update_id"] = self._last_update_id
        else:
            update_id = int(update_id)
            replay = update_id <= self._last_update_id
            self._last_update_id = max(self._last_update_id, update_id)
        entry = _Pending(data, next(self._update_seq), replay)
        if self._allowed is not None and not self._allowed_type(data, self._allowed):
            self.dropped_updates.append(update_id)
            return update_id
        if self._webhook is not None:
            self._wh_queue.put_nowait(entry)
        else:
            self._pending.append(entry)
            self._update_event.set()
        self._notify()
        return update_id

    @staticmethod
    def _allowed_type(update: Mapping[str, Any], allowed: frozenset[str]) -> bool:
        return not allowed or any(key in allowed for key in update if key != "update_id")

    def _user_update(
        self,
        user_id: int,
        content: dict[str, Any],
        first_name: str | None,
        language_code: str | None,
        username: str | None,
    ) -> int:
        user = self.add_user(
            user_id, first_name=first_name, language_code=language_code, username=username
        )
        message_id = self._new_message_id(user_id)
        message = {
            "message_id": message_id,
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
            **content,
        }
        self._user_messages[user_id].add(message_id)
        self._marks[user_id] = self._seq
        return self.push_raw_update({"message": message})

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        username: str | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> int:
        """The user writes ``text`` to the bot (private chat id = user id); returns update_id."""
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._user_update(user_id, content, first_name, language_code, username)

    def send_command(
        self,
        user_id: int,
        command: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        username: str | None = None,
    ) -> int:
        """The user sends a command such as "/start" or "/start payload"."""
        text = command if command.startswith("/") else "/" + command
        length = _utf16_len(text.split(" ", 1)[0])
        entity = {"type": "bot_command", "offset": 0, "length": length}
        return self.send_text(
            user_id,
            text,
            first_name=first_name,
            language_code=language_code,
            username=username,
            entities=[entity],
        )

    def _file_ids(self, prefix: str) -> tuple[str, str]:
        n = next(self._file_counter)
        return f"{prefix}AAxkBAAI{n:010d}", f"AgAD{n:08d}"

    def send_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        file_id, unique = self._file_ids("CAACAgIAA")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 20480,
        }
        return self._user_update(user_id, {"sticker": sticker}, first_name, language_code, None)

    def send_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        sizes = []
        for width, height, size in ((90, 67, 1500), (800, 600, 45000)):
            file_id, unique = self._file_ids("AgACAgIAA")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "width": width,
                    "height": height,
                    "file_size": size,
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return self._user_update(user_id, content, first_name, language_code, None)

    def send_voice(
        self,
        user_id: int,
        *,
        duration: int = 3,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        file_id, unique = self._file_ids("AwACAgIAA")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": 8000 * duration,
        }
        return self._user_update(user_id, {"voice": voice}, first_name, language_code, None)

    def send_document(
        self,
        user_id: int,
        *,
        file_name: str = "file.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        file_id, unique = self._file_ids("BQACAgIAA")
        document = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 12345,
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return self._user_update(user_id, content, first_name, language_code, None)

    def press_button(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> tuple[int, str]:
        """The user taps an inline button of the bot's message ``message_id`` in their chat.
        Any data is accepted (a stale keyboard is a real case).  Returns (update_id, query id)."""
        message = self._messages.get(user_id, {}).get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"the bot has no message {message_id} in chat {user_id}")
        user = self.add_user(user_id, first_name=first_name, language_code=language_code)
        query_id = str(next(self._query_counter))
        self._queries[query_id] = {"chat_id": user_id, "message_id": message_id, "answered": False}
        self._marks[user_id] = self._seq
        query = {
            "id": query_id,
            "from": user,
            "message": message.raw,
            "chat_instance": str(-(abs(user_id) * 7919 + 13)),
            "data": callback_data,
        }
        update_id = self.push_raw_update({"callback_query": query})
        return update_id, query_id

    def press_button_by_text(
        self, user_id: int, label: str, *, message_id: int | None = None, exact: bool = False
    ) -> tuple[int, str]:
        """Tap the button whose text contains ``label`` on ``message_id`` (default: the bot's
        latest message in the chat having such a button)."""
        if message_id is not None:
            message = self._messages.get(user_id, {}).get(message_id)
            if message is None:
                raise LookupError(f"the bot has no message {message_id} in chat {user_id}")
            return self.press_button(user_id, message_id, message.button_data(label, exact=exact))
        for message in reversed(self._transcripts.get(user_id, ())):
            if message.deleted:
                continue
            with contextlib.suppress(LookupError):
                data = message.button_data(label, exact=exact)
                return self.press_button(user_id, message.message_id, data)
        raise LookupError(f"no button {label!r} in chat {user_id}")

    # ---------------------------------------------------------------------------- groups

    def group_chat(
        self, chat_id: int, *, kind: str | None = None, title: str = "Test group"
    ) -> dict[str, Any]:
        """Register (or retype) the group, supergroup or channel ``chat_id`` (negative); by
        default a "-100…" id is a supergroup, any other negative id a basic group."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        if kind is None:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        if kind not in ("group", "supergroup", "channel"):
            raise ValueError(f"not a group or channel type: {kind!r}")
        chat = {"id": chat_id, "type": kind, "title": title}
        self._chats[chat_id] = chat
        return dict(chat)

    def send_in_chat(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        sender_chat_id: int | None = None,
        anonymous_admin: bool = False,
        language_code: str | None = None,
    ) -> int:
        """A message in the group or channel ``chat_id``: from ``user_id``; from an anonymous
        admin (``from`` GroupAnonymousBot, ``sender_chat`` the group); or without ``from``
        at all (a channel-style post, ``sender_chat`` = ``sender_chat_id`` or the chat itself).
        A text starting with "/" carries its bot_command entity.  Returns the update_id."""
        chat = self._chat(chat_id)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            length = _utf16_len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if anonymous_admin:
            message["from"] = {
                "id": GROUP_ANONYMOUS_BOT_ID,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            }
            message["sender_chat"] = chat
        elif user_id is not None:
            message["from"] = self.add_user(user_id, language_code=language_code)
            if sender_chat_id is not None:
                message["sender_chat"] = self._chat(sender_chat_id)
        else:
            message["sender_chat"] = self._chat(sender_chat_id or chat_id)
        self._user_messages[chat_id].add(message["message_id"])
        self._marks[chat_id] = self._seq
        return self.push_raw_update({"message": message})

    def press_button_in_chat(
        self, chat_id: int, user_id: int, message_id: int, callback_data: str
    ) -> tuple[int, str]:
        """``user_id`` taps a button of the bot's message ``message_id`` in the group
        ``chat_id``; a message the server does not hold (one from before it started, as after
        an upgrade of the bot) is given as a plain text message of the bot in that chat.
        Returns (update_id, query id)."""
        chat = self._chat(chat_id)
        held = self._messages.get(chat_id, {}).get(message_id)
        raw = (
            held.raw
            if held is not None and not held.deleted
            else {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": chat,
                "date": int(time.time()) - 60,
                "text": "Question",
            }
        )
        user = self.add_user(user_id)
        query_id = str(next(self._query_counter))
        self._queries[query_id] = {"chat_id": chat_id, "message_id": message_id, "answered": False}
        self._marks[chat_id] = self._seq
        query = {
            "id": query_id,
            "from": user,
            "message": raw,
            "chat_instance": str(-(abs(chat_id) * 7919 + 13)),
            "data": callback_data,
        }
        return self.push_raw_update({"callback_query": query}), query_id

    def add_bot_to_chat(self, chat_id: int, by_user: int, *, administrator: bool = False) -> None:
        """``by_user`` adds the bot to the group or channel ``chat_id``: a ``my_chat_member``
        update and, in a group, the service message with ``new_chat_members``."""
        chat = self._chat(chat_id)
        self.left_chats.discard(chat_id)
        user = self.add_user(by_user)
        now = int(time.time())
        old = {"status": "left", "user": self.bot_user}
        if administrator:
            new: dict[str, Any] = {
                "status": "administrator",
                "user": self.bot_user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": False,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_send_welcome_messages": False,
            }
        else:
            new = {"status": "member", "user": self.bot_user}
        self._marks[chat_id] = self._seq
        self.push_raw_update(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": user,
                    "date": now,
                    "old_chat_member": old,
                    "new_chat_member": new,
                }
            }
        )
        if chat["type"] != "channel":
            self.push_raw_update(
                {
                    "message": {
                        "message_id": self._new_message_id(chat_id),
                        "from": user,
                        "chat": chat,
                        "date": now,
                        "new_chat_members": [self.bot_user],
                    }
                }
            )

    # ---------------------------------------------------------------------------- helpers

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _chat(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                user = self._users.get(chat_id)
                chat = {"id": chat_id, "type": "private"}
                chat["first_name"] = user["first_name"] if user else "Test"
                if user and "username" in user:
                    chat["username"] = user["username"]
                if user and "last_name" in user:
                    chat["last_name"] = user["last_name"]
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": "Test group"}
            self._chats[chat_id] = chat
        return chat

    def _chat_id(self, params: Mapping[str, Any]) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise BotAPIError(400, "Bad Request: chat_id is empty")
        if not isinstance(value, int) or isinstance(value, bool):
            raise BotAPIError(400, "Bad Request: chat not found")
        if (
            self.strict_chats
            and value not in self._users
            and (value > 0 or value not in self._chats)
        ):
            raise BotAPIError(400, "Bad Request: chat not found")
        return value

    def _text(
        self,
        params: Mapping[str, Any],
        key: str,
        entities_key: str,
        limit: int,
        *,
        required: bool,
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """Validate a text/caption: (text as shown, entities)."""
        source = params.get(key)
        if source is None or source == "":
            if required:
                raise BotAPIError(400, "Bad Request: message text is empty")
            return None, []
        source = str(source)
        parse_mode = params.get("parse_mode")
        mode = str(parse_mode).lower() if parse_mode else ""
        entities: list[dict[str, Any]] = []
        if mode == "html":
            if "<" in source or "&" in source:
                text, entities = parse_html(source)
            else:
                text = source
        elif mode in ("", "markdown", "markdownv2"):
            text = source
            given = params.get(entities_key)
            if isinstance(given, list) and not mode:
                entities = given
        else:
            raise BotAPIError(400, "Bad Request: unsupported parse_mode")
        if not text.strip():
            if required:
                raise BotAPIError(400, "Bad Request: message text is empty")
            return None, []
        if len(text) > limit:
            if key == "caption":
                raise BotAPIError(400, "Bad Request: message caption is too long")
            raise BotAPIError(400, "Bad Request: message is too long")
        return text, entities

    @staticmethod
    def _markup(value: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise BotAPIError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in value:
            rows = value["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise BotAPIError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                    "must be an Array of Arrays",
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict):
                        raise BotAPIError(400, "Bad Request: can't parse inline keyboard button")
                    text = button.get("text")
                    if not isinstance(text, str) or not text:
                        raise BotAPIError(
                            400,
                            "Bad Request: can't parse inline keyboard button: "
                            "Text must be non-empty",
                        )
                    actions = _BUTTON_ACTIONS.intersection(button)
                    if not actions:
                        raise BotAPIError(
                            400,
                            "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard",
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                            raise BotAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url):
                            raise BotAPIError(400, "Bad Request: BUTTON_URL_INVALID")
            return value
        if inline_only:
            raise BotAPIError(400, "Bad Request: inline keyboard expected")
        if not {"keyboard", "remove_keyboard", "force_reply"}.intersection(value):
            raise BotAPIError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return value

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user,
            "chat": self._chat(message.chat_id),
            "date": message.date,
        }
        if message.edits:
            data["edit_date"] = int(time.time())
        if message.kind == "text":
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        else:
            if message.kind == "document":
                data["document"] = self._files[message.file_id or ""]["document"]
            else:
                data["photo"] = self._files[message.file_id or ""]["photo"]
            if message.text is not None:
                data["caption"] = message.text
                if message.entities:
                    data["caption_entities"] = message.entities
        if _is_inline(message.reply_markup):
            data["reply_markup"] = message.reply_markup
        message.raw = data
        return data

    def _record_change(self, message: SentMessage) -> None:
        self._seq += 1
        self._changes[message.chat_id].append((self._seq, message))
        self._notify_chat(message.chat_id)

    def _store(self, message: SentMessage) -> dict[str, Any]:
        self._messages[message.chat_id][message.message_id] = message
        self._transcripts[message.chat_id].append(message)
        self._record_change(message)
        return self._message_json(message)

    def _upload(self, params: Mapping[str, Any], key: str) -> tuple[str, dict[str, Any]]:
        """Register the file of a send call; (file_id, stored info with bytes)."""
        value = params.get(key)
        if isinstance(value, UploadedFile):
            if len(value.data) > UPLOAD_LIMIT:
                raise BotAPIError(413, "Request Entity Too Large")
            if not value.data:
                raise BotAPIError(400, "Bad Request: file must be non-empty")
            prefix = "BQACAgIAA" if key == "document" else "AgACAgIAA"
            file_id, unique = self._file_ids(prefix)
            name = value.filename or key
            sent_type = value.content_type
            if sent_type == "application/octet-stream":
                sent_type = None
            mime = mimetypes.guess_type(name)[0] or sent_type or "application/octet-stream"
            info: dict[str, Any] = {"data": value.data, "file_name": name, "mime_type": mime}
            if key == "document":
                info["document"] = {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "file_name": name,
                    "mime_type": mime,
                    "file_size": len(value.data),
                }
            else:
                width, height = self._image_size(value.data)
                thumb_id, thumb_unique = self._file_ids(prefix)
                scale = min(1.0, 90 / max(width, height))
                info["photo"] = [
                    {
                        "file_id": thumb_id,
                        "file_unique_id": thumb_unique,
                        "width": max(1, int(width * scale)),
                        "height": max(1, int(height * scale)),
                        "file_size": max(1, len(value.data) // 10),
                    },
                    {
                        "file_id": file_id,
                        "file_unique_id": unique,
                        "width": width,
                        "height": height,
                        "file_size": len(value.data),
                    },
                ]
            self._files[file_id] = info
            return file_id, info
        if isinstance(value, str) and value:
            if value in self._files:
                return value, self._files[value]
            if value.startswith(("http://", "https://")):
                return self._upload(
                    {key: UploadedFile(value.rsplit("/", 1)[-1] or key, None, b"\0")}, key
                )
            raise BotAPIError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise BotAPIError(400, f"Bad Request: there is no {key} in the request")

    @staticmethod
    def _image_size(data: bytes) -> tuple[int, int]:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return 800, 600

    def _find_message(self, params: Mapping[str, Any], error: str) -> SentMessage:
        if params.get("inline_message_id"):
            raise BotAPIError(400, f"Bad Request: {error}")
        chat_id = self._chat_id(params)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise BotAPIError(400, "Bad Request: message identifier is not specified")
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None or message.deleted:
            if message_id in self._user_messages.get(chat_id, ()):
                raise BotAPIError(400, "Bad Request: message can't be edited")
            raise BotAPIError(400, f"Bad Request: {error}")
        return message

    def _apply_edit(
        self,
        message: SentMessage,
        method: str,
        text: str | None,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        params: Mapping[str, Any],
        *,
        change_text: bool,
    ) -> dict[str, Any]:
        current_markup = message.reply_markup if _is_inline(message.reply_markup) else None
        same = not change_text or (text == message.text and entities == message.entities)
        if same and markup == current_markup:
            raise BotAPIError(400, ERR_NOT_MODIFIED)
        if change_text:
            message.text = text
            message.entities = entities
            message.source_text = params.get("text" if message.kind == "text" else "caption")
            message.parse_mode = params.get("parse_mode")
        message.reply_markup = markup
        message.edits.append(Edit(method, message.text, markup, self.clock()))
        self._record_change(message)
        return self._message_json(message)

    # ---------------------------------------------------------------------------- methods

    def _builtin_methods(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
        }

    async def _true(self, params: dict[str, Any], request: web.Request | None) -> Any:
        return True

    async def _get_me(self, params: dict[str, Any], request: web.Request | None) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_chat(self, params: dict[str, Any], request: web.Request | None) -> Any:
        chat_id = self._chat_id(params)
        return {
            **self._chat(chat_id),
            "accent_color_id": chat_id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _leave_chat(self, params: dict[str, Any], request: web.Request | None) -> Any:
        chat_id = self._chat_id(params)
        if chat_id > 0:
            raise BotAPIError(
                400, "Bad Request: chat member status can't be changed in private chats"
            )
        if chat_id in self.left_chats:
            kind = self._chat(chat_id)["type"]
            raise BotAPIError(403, ERR_NOT_MEMBER.format(kind=kind))
        self.left_chats.add(chat_id)
        return True

    async def _send_message(self, params: dict[str, Any], request: web.Request | None) -> Any:
        chat_id = self._chat_id(params)
        text, entities = self._text(params, "text", "entities", TEXT_LIMIT, required=True)
        markup = self._markup(params.get("reply_markup"))
        message = SentMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            kind="text",
            text=text,
            reply_markup=markup,
            date=int(time.time()),
            time=self.clock(),
            method="sendMessage",
            source_text=params.get("text"),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            original_text=text,
            original_reply_markup=markup,
        )
        return self._store(message)

    async def _send_file(self, params: dict[str, Any], kind: str, method: str) -> Any:
        chat_id = self._chat_id(params)
        caption, entities = self._text(
            params, "caption", "caption_entities", CAPTION_LIMIT, required=False
        )
        markup = self._markup(params.get("reply_markup"))
        file_id, info = self._upload(params, kind)
        message = SentMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=caption,
            reply_markup=markup,
            date=int(time.time()),
            time=self.clock(),
            method=method,
            source_text=params.get("caption"),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            file_name=info["file_name"],
            mime_type=info["mime_type"],
            file_id=file_id,
            original_text=caption,
            original_reply_markup=markup,
        )
        if kind == "document":
            message.document = info["data"]
        else:
            message.photo = info["data"]
        return self._store(message)

    async def _send_document(self, params: dict[str, Any], request: web.Request | None) -> Any:
        return await self._send_file(params, "document", "sendDocument")

    async def _send_photo(self, params: dict[str, Any], request: web.Request | None) -> Any:
        return await self._send_file(params, "photo", "sendPhoto")

    async def _edit_message_text(self, params: dict[str, Any], request: web.Request | None) -> Any:
        message = self._find_message(params, "message to edit not found")
        if message.kind != "text":
            raise BotAPIError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._text(params, "text", "entities", TEXT_LIMIT, required=True)
        markup = self._markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message, "editMessageText", text, entities, markup, params, change_text=True
        )

    async def _edit_message_caption(
        self, params: dict[str, Any], request: web.Request | None
    ) -> Any:
        message = self._find_message(params, "message to edit not found")
        if message.kind == "text":
            raise BotAPIError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._text(
            params, "caption", "caption_entities", CAPTION_LIMIT, required=False
        )
        markup = self._markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message, "editMessageCaption", caption, entities, markup, params, change_text=True
        )

    async def _edit_message_reply_markup(
        self, params: dict[str, Any], request: web.Request | None
    ) -> Any:
        message = self._find_message(params, "message to edit not found")
        markup = self._markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(
            message,
            "editMessageReplyMarkup",
            None,
            [],
            markup,
            params,
            change_text=False,
        )

    async def _delete_message(self, params: dict[str, Any], request: web.Request | None) -> Any:
        chat_id = self._chat_id(params)
        message_id = _int_param(params, "message_id")
        message = self._messages.get(chat_id, {}).get(message_id or 0)
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        user_messages = self._user_messages.get(chat_id)
        if user_messages is not None and message_id in user_messages:
            user_messages.discard(message_id)
            return True
        raise BotAPIError(400, "Bad Request: message to delete not found")

    async def _answer_callback_query(
        self, params: dict[str, Any], request: web.Request | None
    ) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        query = self._queries.get(query_id)
        if query is None or query["answered"]:
            raise BotAPIError(400, ERR_QUERY_INVALID)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise BotAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
        query["answered"] = True
        self.callback_answers[query_id] = params
        return True

    async def _send_chat_action(self, params: dict[str, Any], request: web.Request | None) -> Any:
        self._chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise BotAPIError(400, "Bad Request: wrong parameter action in request")
        return True

    # -- commands

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not scope:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise BotAPIError(400, "Bad Request: can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True)

    async def _set_my_commands(self, params: dict[str, Any], request: web.Request | None) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise BotAPIError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise BotAPIError(400, "Bad Request: too many commands")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise BotAPIError(400, "Bad Request: can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _COMMAND_RE.fullmatch(command):
                raise BotAPIError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not description.strip():
                raise BotAPIError(400, "Bad Request: command description must be non-empty")
            if len(description) > 256:
                raise BotAPIError(400, "Bad Request: command description is too long")
            cleaned.append({"command": command, "description": description})
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: dict[str, Any], request: web.Request | None) -> Any:
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: dict[str, Any], request: web.Request | None) -> Any:
        key = (self._scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    # -- polling

    async def _get_updates(self, params: dict[str, Any], request: web.Request | None) -> Any:
        if self._webhook is not None:
            raise BotAPIError(409, ERR_CONFLICT_WEBHOOK)
        current = self._poll
        if current is not None:
            old = current.request
            transport = old.transport if old is not None else None
            if transport is not None and not transport.is_closing():
                raise BotAPIError(409, ERR_CONFLICT_POLLER)
            current.abandoned = True  # its client went away: let this poller take over
            self._update_event.set()
        offset = _int_param(params, "offset")
        limit = _int_param(params, "limit", 100) or 100
        limit = min(max(limit, 1), 100)
        timeout = max(_int_param(params, "timeout", 0) or 0, 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(str(a) for a in allowed) or None
        if offset is not None:
            self._confirm(offset)
        poll = _Poll(request)
        self._poll = poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if self._webhook is not None:
                    raise BotAPIError(409, ERR_CONFLICT_WEBHOOK)
                if self._pending:
                    batch = list(itertools.islice(self._pending, limit))
                    for entry in batch:
                        entry.delivered = True
                    self._last_activity = time.monotonic()
                    return [entry.update for entry in batch]
                remaining = deadline - loop.time()
                if self._closing or poll.abandoned or remaining <= 0:
                    return []
                self._update_event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._update_event.wait(), remaining)
        finally:
            if self._poll is poll:
                self._poll = None

    def _confirm(self, offset: int) -> None:
        """Forget the updates confirmed by ``offset`` (see the getUpdates documentation)."""
        pending = self._pending
        if offset < 0:
            while len(pending) > -offset:
                pending.popleft()
                self._notify()
            return
        cut = -1
        target = offset - 1
        for index, entry in enumerate(pending):
            if not entry.delivered:
                break
            if entry.update_id == target:
                cut = index
        before = len(pending)
        for _ in range(cut + 1):
            pending.popleft()
        while pending and pending[0].update_id < offset:
            if not pending[0].delivered and pending[0].replay:
                break
            pending.popleft()
        if len(pending) != before:
            self._notify()  # the getUpdates that confirmed them may be held for a long time

    # -- webhook

    async def _set_webhook(self, params: dict[str, Any], request: web.Request | None) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, request)
        if not re.match(r"https?://[^/\s]+", url):
            raise BotAPIError(400, "Bad Request: bad webhook: invalid URL")
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise BotAPIError(400, "Bad Request: secret token contains unallowed characters")
        max_connections = _int_param(params, "max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise BotAPIError(400, "Bad Request: bad webhook: invalid max_connections")
        allowed = params.get("allowed_updates")
        allowed_list = [str(a) for a in allowed] if isinstance(allowed, list) else None
        if allowed_list is not None:
            self._allowed = frozenset(allowed_list) or None
        in_flight = await self._stop_webhook_workers()
        queued = [*in_flight, *self._drain_webhook_queue(), *self._pending]
        self._pending.clear()
        if params.get("drop_pending_updates"):
            queued = []
        self._webhook = hook = _Webhook(url, secret, max_connections, allowed_list)
        # Pending polling updates are delivered through the webhook from now on.
        for entry in queued:
            entry.delivered = False
            self._wh_queue.put_nowait(entry)
        self._update_event.set()  # a held getUpdates answers 409
        if self._session is None:
            self._session = ClientSession(
                connector=TCPConnector(limit=0),
                timeout=ClientTimeout(total=self.webhook_timeout),
            )
        self._wh_workers = [
            asyncio.create_task(self._webhook_worker(next(self._wh_worker_ids), hook))
            for _ in range(max_connections)
        ]
        return True

    async def _delete_webhook(self, params: dict[str, Any], request: web.Request | None) -> Any:
        in_flight = await self._stop_webhook_workers()
        self._webhook = None
        queued = [*in_flight, *self._drain_webhook_queue()]
        for entry in queued:
            entry.delivered = False
        self._pending.extendleft(reversed(queued))
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if self._pending:
            self._update_event.set()
        return True

    def _drain_webhook_queue(self) -> list[_Pending]:
        entries: list[_Pending] = []
        while not self._wh_queue.empty():
            entries.append(self._wh_queue.get_nowait())
        return entries

    async def _get_webhook_info(self, params: dict[str, Any], request: web.Request | None) -> Any:
        hook = self._webhook
        info: dict[str, Any] = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = "127.0.0.1"
            if hook.allowed_updates is not None:
                info["allowed_updates"] = hook.allowed_updates
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def _stop_webhook_workers(self) -> list[_Pending]:
        """Cancel the delivery workers; returns the updates they were delivering."""
        workers, self._wh_workers = self._wh_workers, []
        me = asyncio.current_task()
        my_id = self._worker_ids.get(me) if me is not None else None
        in_flight = sorted(
            (e for worker, e in self._wh_current.items() if worker != my_id),
            key=lambda e: e.seq,
        )
        # A webhook reply of a worker may change the webhook: that worker is not cancelled
        # (it finishes its delivery and then sees that its webhook is gone).
        others = [task for task in workers if task is not me]
        for task in others:
            task.cancel()
        # Still pending while the workers stop: the caller queues them again at once.
        self._wh_moving = in_flight
        try:
            await asyncio.gather(*others, return_exceptions=True)
        finally:
            self._wh_moving = []
        self._wh_current = {w: e for w, e in self._wh_current.items() if w == my_id}
        return in_flight

    async def _webhook_worker(self, worker_id: int, hook: _Webhook) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._worker_ids[task] = worker_id
        try:
            while self._webhook is hook:
                entry = await self._wh_queue.get()
                if self._webhook is not hook:  # replaced while this worker waited
                    self._wh_queue.put_nowait(entry)
                    break
                self._wh_current[worker_id] = entry
                try:
                    await self._deliver(hook, entry)
                finally:
                    self._wh_current.pop(worker_id, None)
                    self._last_activity = time.monotonic()
                    self._notify()
        finally:
            if task is not None:
                self._worker_ids.pop(task, None)

    async def _deliver(self, hook: _Webhook, entry: _Pending) -> None:
        assert self._session is not None
        body = json_bytes(entry.update)
        headers = {"Content-Type": "application/json"}
        if hook.secret:
            headers[SECRET_HEADER] = hook.secret
        attempts = 1 + max(self.webhook_retries, 0)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.webhook_backoff * 2 ** (attempt - 2))
            error: str | None = None
            reply: tuple[str, dict[str, Any]] | None = None
            try:
                async with self._session.post(hook.url, data=body, headers=headers) as resp:
                    status = resp.status
                    if 200 <= status < 300:
                        reply = await self._read_webhook_reply(resp)
                    else:
                        error = f"Wrong response from the webhook: {status} {resp.reason}"
                        await resp.read()
            except (ClientError, TimeoutError, OSError) as exc:
                status = 0
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            self._last_activity = time.monotonic()
            self.webhook_deliveries.append(
                WebhookDelivery(entry.update_id, attempt, status, self.clock(), error)
            )
            if error is None:
                if reply is not None:
                    await self._webhook_reply(*reply)
                return
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            self._notify()
        self.dropped_updates.append(entry.update_id)

    @staticmethod
    async def _read_webhook_reply(resp: ClientResponse) -> tuple[str, dict[str, Any]] | None:
        ctype = resp.content_type
        raw: dict[str, Any]
        files: dict[str, Any] = {}
        if ctype.startswith("multipart/"):
            raw, files = await _read_multipart(MultipartReader(resp.headers, resp.content))
        elif ctype == "application/json":
            try:
                data = json.loads(await resp.read() or b"{}")
            except ValueError:
                return None
            if not isinstance(data, dict):
                return None
            raw = data
        else:
            await resp.read()
            return None
        method = raw.pop("method", None)
        if not method:
            return None
        return str(method), _normalize(raw, files)

    async def _webhook_reply(self, method: str, params: dict[str, Any]) -> None:
        entry = self._handlers.get(method.lower())
        if entry is None:
            error = BotAPIError(404, "Not Found: method not found")
            self._record_failure(method, params, error, "webhook-reply")
            return
        await self._call(entry[0], entry[1], params, None, "webhook-reply")
