"""What citizens search for, so the lexicon grows from what they really type: per normalised
query and day, how many searches and how many found something, and which results were opened.

No personal data: no user, no address, no time of day; runs of five digits or more (an id
number, a phone number) are masked, and the admins' report shows only queries searched at
least `REPORT_MIN_SEARCHES` times. Counts are kept in memory and added to the database every
few seconds by one task per process (`SearchLog.run`): a search never waits on a write, and a
crash loses a few seconds of counts, never a search.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections import Counter
from functools import lru_cache

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from services.catalogue.models import SearchCount, SearchOpen
from services.catalogue.search import terms
from services.kernel.db import Database

log = logging.getLogger("portal.catalogue.search_log")

MAX_QUERY_CHARS = 200
REPORT_MIN_SEARCHES = 2
MAX_KEPT = 50_000
"""Distinct queries kept in memory between two writes (beyond it, new ones are not counted):
a flood of made-up queries, or a long database outage, cannot grow a process without bound."""
ROWS_PER_STATEMENT = 1_000
_LONG_NUMBER = re.compile(r"\d{5,}")


@lru_cache(maxsize=4096)
def normalised(raw: str | None) -> str:
    """The query as the log keeps it: folded words, long digit runs masked, at most 200
    characters ('' when nothing is left). Remembered for the popular queries: the search log
    counts every cached search too."""
    words = [_LONG_NUMBER.sub("#", w) for w in terms(raw)]
    return " ".join(words)[:MAX_QUERY_CHARS].strip()


class SearchLog:
    def __init__(self) -> None:
        self.searches: Counter[tuple[str, dt.date]] = Counter()
        self.found: Counter[tuple[str, dt.date]] = Counter()
        self.opens: Counter[tuple[str, dt.date, str]] = Counter()

    def searched(self, raw: str, total: int) -> None:
        query = normalised(raw)
        key = (query, _today())
        if query and (key in self.searches or len(self.searches) < MAX_KEPT):
            self.searches[key] += 1
            self.found[key] += total > 0

    def opened(self, raw: str, procedure_code: str) -> None:
        query = normalised(raw)
        key = (query, _today(), procedure_code[:40])
        if query and (key in self.opens or len(self.opens) < MAX_KEPT):
            self.opens[key] += 1

    async def flush(self, db: Database) -> None:
        """Add the counts kept so far to the database (each process adds its own)."""
        searches, found, opens = self.searches, self.found, self.opens
        if not searches and not opens:
            return
        self.searches, self.found, self.opens = Counter(), Counter(), Counter()
        insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        try:
            async with db.sessionmaker() as session:
                counted = [
                    {"query": q, "day": d, "searches": n, "found": found[(q, d)]}
                    for (q, d), n in searches.items()
                ]
                for rows in _chunks(counted):
                    stmt = insert(SearchCount).values(rows)
                    await session.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["query", "day"],
                            set_={
                                "searches": SearchCount.searches + stmt.excluded.searches,
                                "found": SearchCount.found + stmt.excluded.found,
                            },
                        )
                    )
                opened = [
                    {"query": q, "day": d, "procedure_code": c, "opens": n}
                    for (q, d, c), n in opens.items()
                ]
                for rows in _chunks(opened):
                    stmt = insert(SearchOpen).values(rows)
                    await session.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["query", "day", "procedure_code"],
                            set_={"opens": SearchOpen.opens + stmt.excluded.opens},
                        )
                    )
                await session.commit()
        except Exception:  # the database is away: keep the counts for the next round
            log.warning("search log not written; kept for the next round", exc_info=True)
            self.searches.update(searches)
            self.found.update(found)
            self.opens.update(opens)

    async def run(self, db: Database, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.flush(db)


async def purge_older_than(db: Database, days: int) -> int:
    """Forget the log's days older than `days` (housekeeping)."""
    cutoff = _today() - dt.timedelta(days=days)
    async with db.sessionmaker() as session:
        counts = await session.execute(delete(SearchCount).where(SearchCount.day < cutoff))
        opens = await session.execute(delete(SearchOpen).where(SearchOpen.day < cutoff))
        await session.commit()
    return sum(int(getattr(r, "rowcount", 0) or 0) for r in (counts, opens))


def _chunks(rows: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    return [rows[i : i + ROWS_PER_STATEMENT] for i in range(0, len(rows), ROWS_PER_STATEMENT)]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
