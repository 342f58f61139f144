"""What admins do with search: read the lexicon with its check against the catalogue, add and
remove their own entries (a change applies on the next search, without a restart), and see the
frequent queries that found nothing or whose results nobody opened."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from services.catalogue import schemas
from services.catalogue.errors import (
    MATCHES_NOTHING,
    PHRASE_EMPTY,
    PHRASE_TOO_LONG,
    LexiconEntryInvalid,
    LexiconEntryNotFound,
)
from services.catalogue.lexicon import MAX_PHRASE_WORDS, Entry, file_entries
from services.catalogue.models import LexiconEntry, SearchCount, SearchOpen
from services.catalogue.repository import CatalogueRepository, database_key
from services.catalogue.search import terms
from services.catalogue.search_log import REPORT_MIN_SEARCHES
from services.catalogue.settings import CatalogueSettings
from services.kernel.errors import FieldError

log = logging.getLogger("portal.catalogue.lexicon")

_checked: dict[tuple[str, int], dict[tuple[str, ...], int]] = {}


class LexiconService:
    def __init__(self, session: AsyncSession, settings: CatalogueSettings) -> None:
        self.session = session
        self.settings = settings
        self.repo = CatalogueRepository(session)

    async def entries(self) -> schemas.LexiconPage:
        lexicon = await self.repo.lexicon(file_entries(self.settings.lexicon_path))
        items = [await self._out(entry) for entry in lexicon.entries]
        return schemas.LexiconPage(
            items=items, total=len(items), unmatched=sum(1 for i in items if i.unmatched)
        )

    async def unmatched(self, entry: Entry) -> list[str]:
        """The entry's wordings that match no active procedure (checked once per revision)."""
        key = (database_key(self.session), await self.repo.revision())
        if key not in _checked:
            _checked.clear()
            _checked[key] = {}
        counts = _checked[key]
        missing = []
        for phrase in entry.means:
            words = tuple(terms(phrase))
            if words not in counts:
                counts[words] = await self.repo.matching(words)
            if not counts[words]:
                missing.append(phrase)
        return missing

    async def check_all(self) -> int:
        """Log every wording of the lexicon that matches nothing (run once at start)."""
        page = await self.entries()
        for item in page.items:
            if item.unmatched:
                log.warning(
                    "lexicon entry %r: wordings that match no procedure: %s",
                    item.says[0],
                    item.unmatched,
                )
        return page.unmatched

    async def add(self, data: schemas.LexiconEntryIn, admin_id: str) -> schemas.LexiconEntryOut:
        errors: list[FieldError] = []
        for part in ("says", "means"):
            for i, phrase in enumerate(getattr(data, part)):
                count = len(terms(phrase))
                if count == 0:
                    errors.append(FieldError([part, i], "phrase_empty", PHRASE_EMPTY))
                elif count > MAX_PHRASE_WORDS:
                    errors.append(FieldError([part, i], "phrase_too_long", PHRASE_TOO_LONG))
        if not errors:
            for i, phrase in enumerate(data.means):
                if not await self.repo.matching(tuple(terms(phrase))):
                    errors.append(FieldError(["means", i], "matches_nothing", MATCHES_NOTHING))
        if errors:
            raise LexiconEntryInvalid(errors)
        row = LexiconEntry(
            says=data.says,
            means=data.means,
            note=data.note,
            source=data.source,
            created_by=admin_id,
        )
        self.session.add(row)
        await self.session.flush()
        await self.repo.bump_revision()
        return schemas.LexiconEntryOut(
            id=row.id,
            origin="admin",
            says=row.says,
            means=row.means,
            note=row.note,
            source=row.source,
        )

    async def remove(self, entry_id: str) -> None:
        row = await self.session.get(LexiconEntry, entry_id)
        if row is None:
            raise LexiconEntryNotFound()
        await self.session.delete(row)
        await self.session.flush()
        await self.repo.bump_revision()

    async def report(self, days: int, limit: int = 50) -> schemas.SearchReport:
        """The last `days` days' queries searched at least REPORT_MIN_SEARCHES times, at most
        `limit` in each list."""
        since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
        opens = (
            select(SearchOpen.query, func.sum(SearchOpen.opens).label("opens"))
            .where(SearchOpen.day >= since)
            .group_by(SearchOpen.query)
            .subquery()
        )
        searches = func.sum(SearchCount.searches)
        found = func.sum(SearchCount.found)
        opened = func.coalesce(func.max(opens.c.opens), 0)
        base = (
            select(SearchCount.query, searches, found, opened)
            .outerjoin(opens, opens.c.query == SearchCount.query)
            .where(SearchCount.day >= since)
            .group_by(SearchCount.query)
            .having(searches >= REPORT_MIN_SEARCHES)
        )

        async def rows(*having: ColumnElement[bool]) -> list[schemas.SearchReportItem]:
            query = base.having(*having) if having else base
            result = await self.session.execute(
                query.order_by(searches.desc(), SearchCount.query).limit(limit)
            )
            return [
                schemas.SearchReportItem(query=q, searches=s, found=f, opens=o)
                for q, s, f, o in result.all()
            ]

        return schemas.SearchReport(
            days=days,
            min_searches=REPORT_MIN_SEARCHES,
            no_results=await rows(found == 0),
            not_opened=await rows(found > 0, opened == 0),
            frequent=await rows(),
        )

    async def _out(self, entry: Entry) -> schemas.LexiconEntryOut:
        return schemas.LexiconEntryOut(
            id=entry.id,
            origin=entry.origin,
            noise=entry.noise,
            says=list(entry.says),
            means=list(entry.means),
            note=entry.note,
            source=entry.source,
            unmatched=[] if entry.noise else await self.unmatched(entry),
        )
