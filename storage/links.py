"""Invitation links by source: create them, record who started through which, count them.

A link is a short random code (`https://t.me/<bot>?start=<code>`) spread through one source
(`pole:aerospace-valley`, `region:bretagne`, `newsletter`). When someone opens the bot through a
link, `record_start` remembers it: the first link a participant started with is their source
(`participants.link_id`, never replaced); every later link they open is counted too
(`link_starts`, once per link and participant). An unknown code changes nothing.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from storage.database import Database, Runner
from storage.models import answers, invitation_links, link_starts, participants, responses

log = logging.getLogger(__name__)

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What Telegram accepts as a /start parameter: 1 to 64 characters of A-Za-z0-9_-."""
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9][a-z0-9_.-]*)?$")
"""A source: `kind:name` or `name` in lower-case letters, digits, `_ . -`."""
MAX_SOURCE = 100
CODE_BYTES = 9
"""Random bytes of a generated code: 12 characters of base64url, unguessable."""


class LinkError(ValueError):
    """A source, label or code that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    code: str
    source: str
    label: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LinkCounts:
    """One link and who came through it.

    `participants`: those whose source it is (their first link); `started`: of those, how many
    answered at least one question; `submitted`: how many submitted; `later`: participants who
    opened it after first coming through another link (counted, not their source)."""

    link: Link
    participants: int
    started: int
    submitted: int
    later: int


def check_source(source: str) -> str:
    value = source.strip()
    if len(value) > MAX_SOURCE or not SOURCE_RE.match(value):
        raise LinkError(
            f"invalid source {source!r}: lower-case letters, digits, '_', '.', '-', with an "
            f"optional 'kind:' prefix (e.g. pole:aerospace-valley), at most {MAX_SOURCE} characters"
        )
    return value


def valid_code(code: str | None) -> bool:
    return code is not None and CODE_RE.match(code) is not None


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


class LinkStore:
    """The invitation links of one survey."""

    def __init__(self, db: Database, survey_id: str) -> None:
        self.db = db
        self.survey_id = survey_id
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    @property
    def _runner(self) -> Runner:
        return self.db.runner

    async def create(
        self, source: str, *, now: datetime, label: str | None = None, code: str | None = None
    ) -> Link:
        """A new link for `source` (a random code unless `code` is given)."""
        source = check_source(source)
        if label is not None and (not label.strip() or len(label) > 200):
            raise LinkError("the label must be 1 to 200 characters")
        if code is not None and not valid_code(code):
            raise LinkError(f"invalid code {code!r}: 1 to 64 characters of A-Za-z0-9_-")
        chosen = code or new_code()
        i = invitation_links

        def work(connection: Connection) -> int | None:
            taken = connection.scalar(select(i.c.id).where(i.c.code == chosen))
            if taken is not None:
                return None
            result = connection.execute(
                insert(i)
                .values(
                    survey_id=self.survey_id,
                    code=chosen,
                    source=source,
                    label=label,
                    created_at=now,
                )
                .returning(i.c.id)
            )
            return int(result.scalar_one())

        link_id = await self._runner.write(work, what="create link")
        if link_id is None:
            raise LinkError(f"the code {chosen!r} is already taken")
        log.info("invitation link %d created for source %s", link_id, source)
        return Link(link_id, chosen, source, label, now)

    async def record_start(self, telegram_id: int, code: str | None, *, now: datetime) -> bool:
        """Remember that this participant opened the bot through the link `code`. The first
        link stays their source; later ones are counted. Returns whether the code was a link of
        this survey and the participant exists (otherwise nothing changes)."""
        if not valid_code(code):
            return False
        i, p, s = invitation_links, participants, link_starts

        def work(connection: Connection) -> bool:
            link_id = connection.scalar(
                select(i.c.id).where(i.c.code == code, i.c.survey_id == self.survey_id)
            )
            participant_id = connection.scalar(select(p.c.id).where(p.c.telegram_id == telegram_id))
            if link_id is None or participant_id is None:
                return False
            connection.execute(
                self._insert(s).on_conflict_do_nothing(),
                {"link_id": link_id, "participant_id": participant_id, "started_at": now},
            )
            connection.execute(
                update(p)
                .where(p.c.id == participant_id, p.c.link_id.is_(None))
                .values(link_id=link_id)
            )
            return True

        return await self._runner.write(work, what="record link start")

    async def counts(self) -> list[LinkCounts]:
        """Every link of the survey with its participants, started and submitted, by creation."""
        i, p, r, a, s = invitation_links, participants, responses, answers, link_starts
        of_survey = and_(r.c.participant_id == p.c.id, r.c.survey_id == self.survey_id)
        started = exists().where(of_survey, exists().where(a.c.response_id == r.c.id))
        submitted = exists().where(of_survey, r.c.status == "submitted")
        own = (
            select(
                p.c.link_id,
                func.count().label("participants"),
                func.sum(case((started, 1), else_=0)).label("started"),
                func.sum(case((submitted, 1), else_=0)).label("submitted"),
            )
            .where(p.c.link_id.is_not(None))
            .group_by(p.c.link_id)
            .subquery()
        )
        later = (
            select(s.c.link_id, func.count().label("later"))
            .join(p, p.c.id == s.c.participant_id)
            .where(p.c.link_id != s.c.link_id)
            .group_by(s.c.link_id)
            .subquery()
        )
        query = (
            select(
                i.c.id,
                i.c.code,
                i.c.source,
                i.c.label,
                i.c.created_at,
                func.coalesce(own.c.participants, 0),
                func.coalesce(own.c.started, 0),
                func.coalesce(own.c.submitted, 0),
                func.coalesce(later.c.later, 0),
            )
            .outerjoin(own, own.c.link_id == i.c.id)
            .outerjoin(later, later.c.link_id == i.c.id)
            .where(i.c.survey_id == self.survey_id)
            .order_by(i.c.id)
        )
        rows = await self._runner.read(lambda c: c.execute(query).all())
        return [
            LinkCounts(
                Link(row[0], row[1], row[2], row[3], row[4]),
                int(row[5]),
                int(row[6]),
                int(row[7]),
                int(row[8]),
            )
            for row in rows
        ]

    async def by_source(self) -> dict[str, tuple[int, int, int]]:
        """(participants, started, submitted) per source, several links of one source added up;
        participants who came through no link are under `""`."""
        totals: dict[str, list[int]] = {}
        for row in await self.counts():
            bucket = totals.setdefault(row.link.source, [0, 0, 0])
            bucket[0] += row.participants
            bucket[1] += row.started
            bucket[2] += row.submitted
        return {source: (a, b, c) for source, (a, b, c) in totals.items()}
