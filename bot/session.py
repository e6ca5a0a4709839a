"""aiogram's HTTP session, with a lighter check of the answers whose content the bot never reads.

aiogram validates every answer into pydantic models. For a sent or edited message that means
building the whole Message back, inline keyboard included: in the benchmark that validation was
about a fifth of the bot's CPU per answer, for a value the handlers drop. This session still lets
aiogram handle every error (429, 403, 400 ...) exactly as before; only a successful answer of
the methods below is returned without deep validation: a copy of an empty `Message` with the
answer's top-level fields (`message_id`, `date`, ...) set, nested objects left as plain dicts.
(`Message.model_construct` would resolve the defaults of Message's hundred fields on every call:
0.19 ms, against 3 µs for the copy, with two calls per answer.)

`GetUpdatesSkipping` is getUpdates whose answer is filtered before validation: the updates the
poller is already handling come back until they are confirmed (`bot.polling`), and validating a
tap's update costs about 1 ms; dropped as JSON they cost next to nothing. An update that does not
validate (a Bot API server sending what this aiogram cannot read) would make the whole batch fail
again and again: it is logged by its id and the failing fields (never its content) and handed on
as a bare `{"update_id": N}`, which the poller confirms without handling.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetUpdates,
    SendMessage,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InputFile, Message, Update
from aiohttp import ClientError
from pydantic import PrivateAttr, ValidationError

log = logging.getLogger(__name__)

JSON_BODY = {"Content-Type": "application/json"}
LEAN_METHODS = (SendMessage, EditMessageText, AnswerCallbackQuery)
_LEAN_RESPONSE = Response[Any]
"""Built once: pydantic would otherwise build the generic model again on every call."""
_EMPTY_MESSAGE = Message.model_construct(message_id=0, date=0, chat=None)


def lean_message(result: dict[str, Any]) -> Message:
    """A Message holding the answer's top-level fields, without validation."""
    if "from" in result:
        result = {**result, "from_user": result["from"]}
        del result["from"]
    return _EMPTY_MESSAGE.model_copy(update=result)


class GetUpdatesSkipping(GetUpdates):
    """getUpdates; with `LeanSession`, the updates whose id is in `skip` are left out of the
    answer before it is validated. `skip` is not sent."""

    _skip: frozenset[int] = PrivateAttr(default=frozenset())

    def skipping(self, ids: frozenset[int]) -> GetUpdatesSkipping:
        self._skip = ids
        return self


class LeanSession(AiohttpSession):
    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,
    ) -> TelegramType:
        """A method without a file is sent as a JSON body (the Bot API takes both), built with
        one `json_dumps`: aiogram's form encodes each nested object to JSON, then the whole
        form to percent-escapes, and the server undoes both (a fifth of the bot's CPU for a
        message with its keyboard went to sending it). With a file: aiogram's multipart form."""
        files: dict[str, InputFile] = {}
        payload: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # as aiogram's form leaves them out
                payload[key] = prepared
        if files:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=self.json_dumps(payload),
                headers=JSON_BODY,
                timeout=self.timeout if timeout is None else timeout,  # type: ignore[arg-type]
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(
            bot=bot, method=method, status_code=resp.status, content=raw_result
        )
        return cast(TelegramType, response.result)

    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        if (
            isinstance(method, GetUpdatesSkipping)
            and method._skip
            and HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED
        ):
            content = self._without(content, method._skip)
        if isinstance(method, GetUpdatesSkipping):
            try:
                return super().check_response(bot, method, status_code, content)  # type: ignore[arg-type]
            except ClientDecodeError:
                content = self._readable(bot, content)
        if isinstance(method, LEAN_METHODS) and HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            try:
                data = self.json_loads(content)
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("ok") is True:
                result: Any = data.get("result")
                if isinstance(result, dict):
                    result = lean_message(result)
                return _LEAN_RESPONSE.model_construct(ok=True, result=result)
        return super().check_response(bot, method, status_code, content)

    def _readable(self, bot: Bot, content: str) -> str:
        """A getUpdates answer whose unreadable updates are replaced by their bare id."""
        try:
            data = self.json_loads(content)
        except ValueError:
            return content
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            return content
        kept: list[Any] = []
        for update in result:
            update_id = update.get("update_id") if isinstance(update, dict) else None
            try:
                Update.model_validate(update, context={"bot": bot})
            except ValidationError as exc:
                if not isinstance(update_id, int):
                    return content  # nothing to confirm it by: aiogram's error stands
                where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
                log.error("update %s could not be read (%s): skipped", update_id, where)
                update = {"update_id": update_id}
            kept.append(update)
        return str(self.json_dumps({**data, "result": kept}))

    def _without(self, content: str, skip: frozenset[int]) -> str:
        """A getUpdates answer without the updates whose id is in `skip`."""
        try:
            data = self.json_loads(content)
        except ValueError:
            return content
        if not isinstance(data, dict) or data.get("ok") is not True:
            return content
        result = data.get("result")
        if not isinstance(result, list):
            return content
        kept = [u for u in result if not (isinstance(u, dict) and u.get("update_id") in skip)]
        if len(kept) == len(result):
            return content
        return str(self.json_dumps({**data, "result": kept}))
