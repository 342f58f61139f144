"""Queries of the catalogue database, search included. Both backends run the same statements;
only the full-text match differs (PostgreSQL's tsvector, SQLite's FTS5) and both index the same
space-separated terms, so they find the same candidates and rank them with the same score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Numeric,
    case,
    cast,
    delete,
    event,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.sql.elements import ColumnElement

from services.catalogue.models import (
    Agency,
    CatalogueRevision,
    Field,
    Form,
    Procedure,
    ProcedureVersion,
    SearchTerm,
)
from services.catalogue.search import Query, near_terms, similarity, terms

SIMPLE = literal_column("'simple'::regconfig")
"""PostgreSQL's text-search configuration without stemming: terms are folded words already."""


RANKED_CANDIDATES = 60
"""Matches whose similarity is computed for one page of a search (services/catalogue)."""

_vocabularies: dict[tuple[str, int], dict[str, int]] = {}


@dataclass(frozen=True)
class ProcedureFilter:
    agency: Agency | None = None
    commune_tiers: tuple[str, ...] = ("commune",)
    field_id: str | None = None
    tier: str | None = None
    online: str | None = None


@dataclass(frozen=True)
class SearchResult:
    procedures: list[Procedure]
    total: int
    corrected: tuple[str, ...] | None


class CatalogueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def postgres(self) -> bool:
        return self.session.bind.dialect.name == "postgresql"

    def add(self, obj: object) -> None:
        self.session.add(obj)

    async def revision(self) -> int:
        return await self.session.scalar(select(CatalogueRevision.revision)) or 0

    async def bump_revision(self) -> None:
        await self.session.execute(
            update(CatalogueRevision).values(revision=CatalogueRevision.revision + 1)
        )

    # -- agencies and fields -----------------------------------------------------------------

    async def agency(self, agency_id: str) -> Agency | None:
        return await self.session.get(Agency, agency_id)

    async def agencies(self, tier: str | None, parent_id: str | None) -> Sequence[Agency]:
        query = select(Agency).where(Agency.retired.is_(False))
        if tier:
            query = query.where(Agency.tier == tier)
        if parent_id:
            query = query.where(Agency.parent_id == parent_id)
        return (await self.session.scalars(query.order_by(Agency.position, Agency.id))).all()

    async def children(self, agency_id: str) -> Sequence[Agency]:
        return await self.agencies(None, agency_id)

    async def field(self, field_id: str) -> Field | None:
        return await self.session.get(Field, field_id)

    async def field_by_name(self, name: str) -> Field | None:
        return await self.session.scalar(select(Field).where(Field.name == name))

    async def fields_with_counts(self, flt: ProcedureFilter) -> list[tuple[Field, int]]:
        count = func.count(Procedure.id)
        query = (
            select(Field, count)
            .join(Procedure, Procedure.field_id == Field.id)
            .where(Field.retired.is_(False), *self._conditions(flt))
            .group_by(Field.id)
            .order_by(Field.name)
        )
        return [(f, n) for f, n in (await self.session.execute(query)).all()]

    async def active_procedures_in_field(self, field_id: str) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(Procedure)
                .where(Procedure.field_id == field_id, Procedure.retired.is_(False))
            )
            or 0
        )

    # -- procedures --------------------------------------------------------------------------

    async def procedure(self, id_or_code: str, *, for_update: bool = False) -> Procedure | None:
        query = select(Procedure).where(
            or_(Procedure.id == id_or_code, Procedure.code == id_or_code)
        )
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def forms(self, procedure_id: str) -> Sequence[Form]:
        return (
            await self.session.scalars(
                select(Form).where(Form.procedure_id == procedure_id).order_by(Form.name)
            )
        ).all()

    async def form(self, procedure_id: str, form_id: str) -> Form | None:
        return await self.session.scalar(
            select(Form).where(Form.procedure_id == procedure_id, Form.id == form_id)
        )

    async def version(self, procedure_id: str, version: int) -> ProcedureVersion | None:
        return await self.session.scalar(
            select(ProcedureVersion).where(
                ProcedureVersion.procedure_id == procedure_id, ProcedureVersion.version == version
            )
        )

    def _conditions(self, flt: ProcedureFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Procedure.retired.is_(False)]
        if flt.agency is not None:
            if flt.agency.tier in flt.commune_tiers:
                conditions.append(Procedure.on_commune.is_(True))
            elif flt.agency.tier in ("province", "department"):
                conditions.append(Procedure.agency_id == flt.agency.id)
            else:
                conditions.append(false())
        if flt.field_id:
            conditions.append(Procedure.field_id == flt.field_id)
        if flt.tier in ("province", "department"):
            conditions.append(Procedure.on_province.is_(True))
        elif flt.tier in ("district", "commune"):
            conditions.append(
                Procedure.on_commune.is_(True) if flt.tier in flt.commune_tiers else false()
            )
        if flt.online:
            conditions.append(Procedure.online == flt.online)
        return conditions

    async def browse(self, flt: ProcedureFilter, offset: int, limit: int) -> SearchResult:
        conditions = self._conditions(flt)
        total = await self.session.scalar(
            select(func.count()).select_from(Procedure).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Procedure)
            .options(defer(Procedure.document))
            .where(*conditions)
            .order_by(Procedure.name_folded, Procedure.code)
            .offset(offset)
            .limit(limit)
        )
        return SearchResult(list(rows), total or 0, None)

    # -- search ------------------------------------------------------------------------------

    async def correct(
        self, words: Sequence[str], conditions: list[ColumnElement[bool]]
    ) -> tuple[str, ...]:
        """Each word unknown to the vocabulary replaced by the known term it most likely means:
        among the nearest terms, the one found most often together with the other words."""
        vocabulary = await self.vocabulary()
        unknown = [i for i, w in enumerate(words) if w not in vocabulary and not w.isdigit()]
        if not unknown:
            return tuple(words)
        choices = {i: near_terms(words[i], vocabulary) or [words[i]] for i in unknown}
        chosen = [choices[i][0] if i in choices else w for i, w in enumerate(words)]
        for i in unknown:
            if len(choices[i]) < 2 or len(words) < 2:
                continue
            found = []
            for candidate in choices[i]:
                trial = [candidate if k == i else w for k, w in enumerate(chosen)]
                found.append(await self._count(conditions, self._fulltext([trial])))
            chosen[i] = choices[i][found.index(max(found))]
        return tuple(chosen)

    async def vocabulary(self) -> dict[str, int]:
        """The search terms and their frequencies, read once per catalogue revision (every
        change that rebuilds them bumps it) and kept by the process."""
        key = (str(self.session.bind.url), await self.revision())
        if key not in _vocabularies:
            rows = await self.session.execute(select(SearchTerm.term, SearchTerm.frequency))
            _vocabularies.clear()
            _vocabularies[key] = {term: frequency for term, frequency in rows.all()}
        return _vocabularies[key]

    def _fulltext(self, groups: Sequence[Sequence[str]]) -> ColumnElement[bool]:
        """Procedures whose terms include every word of at least one group."""
        if self.postgres:
            tsquery = " | ".join("(" + " & ".join(group) + ")" for group in groups)
            return func.to_tsvector(SIMPLE, Procedure.search_document).op("@@")(
                func.to_tsquery(SIMPLE, tsquery)
            )
        match = " OR ".join("(" + " AND ".join(f'"{w}"' for w in group) + ")" for group in groups)
        return Procedure.id.in_(
            select(text("procedure_id"))
            .select_from(text("procedure_search"))
            .where(text("procedure_search MATCH :match").bindparams(match=match))
        )

    def _tier(self, query: Query, phrase: str) -> ColumnElement[float]:
        """The score's coarse part: the code, the exact accented phrase, the folded phrase.
        Its steps (4 and more) are wider than all the similarity can add (2)."""
        code = query.code
        return (
            case((Procedure.code == (code or ""), 100.0), else_=0.0)
            + case(
                (Procedure.name_accented.contains(query.accented, autoescape=True), 8.0), else_=0.0
            )
            + case(
                ((" " + Procedure.name_folded + " ").contains(f" {phrase} ", autoescape=True), 4.0),
                else_=0.0,
            )
        )

    async def search(
        self, query: Query, flt: ProcedureFilter, offset: int, limit: int
    ) -> SearchResult:
        """Procedures with every word (after typo correction), else with any; ranked: code,
        exact accented phrase, folded phrase, trigram similarity of the name, shorter first."""
        conditions = self._conditions(flt)
        words: tuple[str, ...] = ()
        corrected = None
        if query.code:
            match: ColumnElement[bool] = Procedure.code == query.code
            total = await self._count(conditions, match)
        else:
            words = await self.correct(query.words, conditions) if query.words else ()
            corrected = words if words != query.words else None
            if not words:
                return SearchResult([], 0, None)
            # every word; else all but one (a word the catalogue does not use); else any
            attempts: list[list[list[str]]] = [[list(words)]]
            if len(words) > 2:
                attempts.append([[w for w in words if w != left_out] for left_out in words])
            if len(words) > 1:
                attempts.append([[w] for w in words])
            total = 0
            for groups in attempts:
                match = self._fulltext(groups)
                total = await self._count(conditions, match)
                if total:
                    break
        if not total:
            return SearchResult([], 0, corrected)
        phrase = " ".join(words)
        # Trigram similarity costs most (≈12 µs a row): it ranks only the best candidates by
        # tier, then shortest name — within a tier the shorter of two names holding the words
        # is the more similar — RANKED_CANDIDATES at a time, so pages agree with each other.
        tier = self._tier(query, phrase)
        cap = RANKED_CANDIDATES * (1 + (offset + limit - 1) // RANKED_CANDIDATES)
        candidates = (
            select(Procedure.id.label("id"), tier.label("tier"))
            .where(*conditions, match)
            .order_by(tier.desc(), func.length(Procedure.name_folded), Procedure.code)
            .limit(cap)
            .subquery()
        )
        score = (
            candidates.c.tier
            + func.round(cast(func.similarity(Procedure.name_folded, phrase) * 2, Numeric), 3)
        ).label("score")
        rows = await self.session.execute(
            select(Procedure, score)
            .join(candidates, candidates.c.id == Procedure.id)
            .options(defer(Procedure.document))
            .order_by(score.desc(), func.length(Procedure.name_folded), Procedure.code)
            .offset(offset)
            .limit(limit)
        )
        return SearchResult([p for p, _ in rows.all()], total, corrected)

    async def _count(
        self, conditions: list[ColumnElement[bool]], match: ColumnElement[bool]
    ) -> int:
        return (
            await self.session.scalar(
                select(func.count()).select_from(Procedure).where(*conditions, match)
            )
            or 0
        )

    # -- the search index --------------------------------------------------------------------

    async def index_procedure(self, procedure: Procedure) -> None:
        """Keep SQLite's FTS5 table in step (PostgreSQL indexes the column itself)."""
        if self.postgres:
            return
        await self.session.execute(
            text("DELETE FROM procedure_search WHERE procedure_id = :id"), {"id": procedure.id}
        )
        await self.session.execute(
            text("INSERT INTO procedure_search (procedure_id, document) VALUES (:id, :doc)"),
            {"id": procedure.id, "doc": procedure.search_document},
        )

    async def refresh_statistics(self) -> None:
        """After a bulk import: the planner's statistics of the new rows (PostgreSQL guessed
        one match per search until autovacuum came by)."""
        if self.postgres:
            await self.session.execute(text("ANALYZE procedures"))

    async def rebuild_vocabulary(self) -> int:
        """The search terms: every folded word of the names and fields of active procedures."""
        documents = await self.session.scalars(
            select(Procedure.search_document).where(Procedure.retired.is_(False))
        )
        counts: Counter[str] = Counter()
        for document in documents:
            counts.update(w for w in document.split() if not w.isdigit())
        await self.session.execute(delete(SearchTerm))
        self.session.add_all(SearchTerm(term=t, frequency=n) for t, n in counts.items())
        await self.session.flush()
        return len(counts)


def procedure_terms(name: str, field_name: str) -> str:
    return " ".join(terms(name) + terms(field_name))


def _register_functions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("similarity", 2, similarity, deterministic=True)


def install_search_functions(engine: AsyncEngine) -> None:
    """Give SQLite the `similarity` PostgreSQL gets from pg_trgm."""
    if engine.dialect.name == "sqlite" and not event.contains(
        engine.sync_engine, "connect", _register_functions
    ):
        event.listen(engine.sync_engine, "connect", _register_functions)
