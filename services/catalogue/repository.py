"""Queries of the catalogue database, search included. Both backends run the same statements;
only the full-text match differs (PostgreSQL's tsvector, SQLite's FTS5) and both index the same
space-separated terms, so they find the same candidates and rank them with the same score."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Float,
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

from services.catalogue.lexicon import Entry, Lexicon, Reading, Slot
from services.catalogue.models import (
    Agency,
    CatalogueRevision,
    Field,
    Form,
    LexiconEntry,
    Procedure,
    ProcedureVersion,
    SearchTerm,
)
from services.catalogue.search import Query, Word, near_terms, similarity, terms

SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")
"""PostgreSQL's text-search configuration without stemming: terms are folded words already."""


RANKED_CANDIDATES = 60
"""Matches whose similarity is computed for one page of a search (services/catalogue)."""
_TERM = re.compile(r"[a-z0-9]+")
SHORTLISTED = 4
SIMILAR_PHRASES = 4
"""Rewritten wordings of a query its candidates' names are compared with (the best counts)."""
"""Matches per ranked candidate whose lexicon part of the score is computed."""
LEAVE_ONE_OUT_MAX = 12
"""Parts of a query up to which "all parts but one" is tried (its match grows with the square
of the parts; a longer query goes straight to "any part")."""

_vocabularies: dict[tuple[str, int, frozenset[str]], dict[str, int]] = {}
_phrase_memos: dict[tuple[str, int], dict[tuple[str, ...], bool]] = {}
_lexicons: dict[tuple[str, int, int], Lexicon] = {}


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
        self._revision: int | None = None

    @property
    def postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def add(self, obj: object) -> None:
        self.session.add(obj)

    async def revision(self) -> int:
        """The catalogue's revision, read once per request (a repository lives for one)."""
        if self._revision is None:
            self._revision = await self.session.scalar(select(CatalogueRevision.revision)) or 0
        return self._revision

    def assume_revision(self, revision: int) -> None:
        """The revision as the request read it already (`reads.RevisionReader`): the caches
        keyed by it (vocabulary, lexicon) then need no query of their own."""
        self._revision = revision

    async def bump_revision(self) -> None:
        await self.session.execute(
            update(CatalogueRevision).values(revision=CatalogueRevision.revision + 1)
        )
        self._revision = None

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
        self,
        words: Sequence[str],
        conditions: list[ColumnElement[bool]],
        also_known: Collection[str] = (),
    ) -> tuple[str, ...]:
        """Each word unknown to the vocabulary (and to `also_known`, the lexicon's words)
        replaced by the known term it most likely means: among the nearest terms, the one found
        most often together with the other words."""
        vocabulary = await self.vocabulary(also_known)
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

    async def vocabulary(self, also_known: Collection[str] = ()) -> dict[str, int]:
        """The search terms and their frequencies (with `also_known` words, frequency 0), read
        once per catalogue revision (every change that rebuilds them bumps it) and kept by the
        process."""
        key = (database_key(self.session), await self.revision(), frozenset(also_known))
        if key not in _vocabularies:
            rows = await self.session.execute(select(SearchTerm.term, SearchTerm.frequency))
            _vocabularies.clear()
            _vocabularies[key] = {w: 0 for w in also_known} | {t: f for t, f in rows.all()}
        return _vocabularies[key]

    def _fulltext(self, groups: Sequence[Sequence[str]]) -> ColumnElement[bool]:
        """Procedures whose terms include every word of at least one group."""
        return self._match([[Slot((w,), ((w,),)) for w in group] for group in groups])

    def _match(self, options: Sequence[Sequence[Slot]]) -> ColumnElement[bool]:
        """Procedures that match every slot of at least one option; a slot matches when the
        terms include every word of at least one of its alternatives."""
        if self.postgres:
            tsquery = _boolean(options, "&", "|", lambda w: w)
            return func.to_tsvector(SIMPLE, Procedure.search_document).op("@@")(
                func.to_tsquery(SIMPLE, tsquery)
            )
        match = _boolean(options, " AND ", " OR ", lambda w: f'"{w}"')
        return Procedure.id.in_(
            select(text("procedure_id"))
            .select_from(text("procedure_search"))
            .where(text("procedure_search MATCH :match").bindparams(match=match))
        )

    def _phrase(self, words: Sequence[str]) -> ColumnElement[bool]:
        """Procedures whose terms hold these words one after the other, through the full-text
        index (a phrase query: PostgreSQL's `<->`, FTS5's quoted phrase)."""
        if self.postgres:
            return func.to_tsvector(SIMPLE, Procedure.search_document).op("@@")(
                func.to_tsquery(SIMPLE, " <-> ".join(words))
            )
        return Procedure.id.in_(
            select(text("procedure_id"))
            .select_from(text("procedure_search"))
            .where(text("procedure_search MATCH :phrase").bindparams(phrase=f'"{" ".join(words)}"'))
        )

    def _specificity(self, reading: Reading) -> ColumnElement[float]:
        """One for each part read through the lexicon whose wording the procedure holds as
        written (at most 3, so an official name typed as it is written, +4 and more, still
        ranks first)."""
        # Written as SQL text: as an expression tree it cost more CPU to build than the search.
        # Safe to inline: the words are folded terms, [a-z0-9]+ only (checked).
        parts = []
        for slot in [s for s in reading.slots if s.from_lexicon][:3]:
            words = [w for a in slot.alternatives for w in a]
            if not all(_TERM.fullmatch(w) for w in words):
                raise ValueError(f"not a search term: {words!r}")
            likes = " OR ".join(
                f"(' ' || procedures.search_document || ' ') LIKE '% {' '.join(a)} %'"
                for a in slot.alternatives
            )
            parts.append(f"CASE WHEN {likes} THEN 1.0 ELSE 0.0 END")
        return literal_column("(" + " + ".join(parts) + ")" if parts else "0.0", Float)

    def _phrase_tier(self, query: Query, phrase: str, code: str | None) -> ColumnElement[float]:
        """The score's coarse part: the code, the exact accented phrase, the folded phrase;
        its steps (4 and more) are wider than all the similarity can add (2)."""
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
        self, query: Query, flt: ProcedureFilter, offset: int, limit: int, lexicon: Lexicon
    ) -> SearchResult:
        """Procedures matching every part of the query as the lexicon reads it (after typo
        correction), else all parts but one, else any; ranked — code, exact accented phrase,
        folded phrase, how many of the lexicon's wordings the name holds as they are written,
        then trigram similarity of the name to the query or to its wordings, shorter first."""
        conditions = self._conditions(flt)
        words: tuple[str, ...] = ()
        corrected = None
        reading = Reading(())
        if query.code:
            match: ColumnElement[bool] = Procedure.code == query.code
            total = await self._count(conditions, match)
        else:
            tokens = await self._corrected(query.tokens, conditions, lexicon)
            words = tuple(dict.fromkeys(w.folded for w in tokens))
            corrected = words if words != query.words else None
            if not words:
                return SearchResult([], 0, None)
            reading = lexicon.read(tokens)
            reading = reading.with_literal(await self._literal_phrases(reading.said))
            slots = list(dict.fromkeys(reading.slots))
            # every part with the words that carry no meaning, when a name holds them too (an
            # official name typed as it is); else every part; else all but one (a word the
            # catalogue does not use); else any
            noise = [Slot((w,), ((w,),)) for w in dict.fromkeys(reading.noise)]
            plain = not any(s.from_lexicon for s in slots)
            attempts: list[list[list[Slot]]] = [[slots + noise]] if noise and plain else []
            attempts.append([slots])
            if 2 < len(slots) <= LEAVE_ONE_OUT_MAX:
                attempts.append([[s for s in slots if s != left_out] for left_out in slots])
            if len(slots) > 1:
                attempts.append([[s] for s in slots])
            total = 0
            for options in attempts:
                match = self._match(options)
                total = await self._count(conditions, match)
                if total:
                    break
        if not total:
            return SearchResult([], 0, corrected)
        phrase = " ".join(words)
        phrases = [phrase, *reading.phrases(SIMILAR_PHRASES)] if reading.rewritten else [phrase]
        # Trigram similarity costs most (≈12 µs a row): it ranks only the best candidates by
        # tier, then shortest name — within a tier the shorter of two names holding the words
        # is the more similar — RANKED_CANDIDATES at a time, so pages agree with each other.
        # The lexicon's part of the tier (a LIKE per wording) is computed only for the best
        # SHORTLISTED of the matches by the rest of it: on every match it cost more than the
        # whole search before.
        tier = self._phrase_tier(query, phrase, query.code)
        cap = RANKED_CANDIDATES * (1 + (offset + limit - 1) // RANKED_CANDIDATES)
        lexical = any(s.from_lexicon for s in reading.slots)
        candidates = (
            select(Procedure.id.label("id"), tier.label("tier"))
            .where(*conditions, match)
            .order_by(tier.desc(), func.length(Procedure.name_folded), Procedure.code)
            .limit(cap * SHORTLISTED if lexical else cap)
            .subquery()
        )
        if lexical:
            tier = candidates.c.tier + self._specificity(reading)
            candidates = (
                select(Procedure.id.label("id"), tier.label("tier"))
                .join(candidates, candidates.c.id == Procedure.id)
                .order_by(tier.desc(), func.length(Procedure.name_folded), Procedure.code)
                .limit(cap)
                .subquery()
            )
        similarities = [func.similarity(Procedure.name_folded, p) for p in dict.fromkeys(phrases)]
        best = (
            similarities[0]
            if len(similarities) == 1
            else (func.greatest if self.postgres else func.max)(*similarities)
        )
        score = (candidates.c.tier + func.round(cast(best * 2, Numeric), 3)).label("score")
        rows = await self.session.execute(
            select(Procedure, score)
            .join(candidates, candidates.c.id == Procedure.id)
            .options(defer(Procedure.document))
            .order_by(score.desc(), func.length(Procedure.name_folded), Procedure.code)
            .offset(offset)
            .limit(limit)
        )
        return SearchResult([p for p, _ in rows.all()], total, corrected)

    async def _corrected(
        self, tokens: Sequence[Word], conditions: list[ColumnElement[bool]], lexicon: Lexicon
    ) -> list[Word]:
        """The query's words with each unknown one (to the catalogue and to the lexicon)
        replaced by the term it most likely means; a replaced word keeps no diacritics."""
        folded = list(dict.fromkeys(w.folded for w in tokens))
        fixed = dict(
            zip(folded, await self.correct(folded, conditions, lexicon.words), strict=True)
        )
        return [w if fixed[w.folded] == w.folded else Word(fixed[w.folded]) for w in tokens]

    async def _literal_phrases(self, said: Sequence[tuple[str, ...]]) -> set[tuple[str, ...]]:
        """Which of the lexicon phrases in this query the catalogue itself writes (then their
        own words are one more way to match): asked once per phrase and catalogue revision."""
        memo = await self._phrase_memo()
        found: set[tuple[str, ...]] = set()
        for phrase in said:
            if phrase not in memo:
                memo[phrase] = (
                    await self.session.scalar(
                        select(Procedure.id)
                        .where(Procedure.retired.is_(False), self._phrase(phrase))
                        .limit(1)
                    )
                ) is not None
            if memo[phrase]:
                found.add(phrase)
        return found

    async def _phrase_memo(self) -> dict[tuple[str, ...], bool]:
        key = (database_key(self.session), await self.revision())
        if key not in _phrase_memos:
            _phrase_memos.clear()
            _phrase_memos[key] = {}
        return _phrase_memos[key]

    async def lexicon(self, file_entries: Sequence[Entry]) -> Lexicon:
        """The lexicon: admins' entries (first: they win a tie) and the file's, built once per
        catalogue revision — an admin's change bumps it, so it applies on the next search."""
        key = (database_key(self.session), await self.revision(), id(file_entries))
        if key not in _lexicons:
            rows = await self.session.scalars(
                select(LexiconEntry).order_by(LexiconEntry.created_at, LexiconEntry.id)
            )
            admin = [
                Entry(
                    says=tuple(r.says),
                    means=tuple(r.means),
                    note=r.note,
                    source=r.source,
                    id=r.id,
                )
                for r in rows
            ]
            _lexicons.clear()
            _lexicons[key] = Lexicon([*admin, *file_entries])
        return _lexicons[key]

    async def matching(self, alternative: Sequence[str]) -> int:
        """Active procedures holding every word of one wording (a lexicon check)."""
        if not alternative:
            return 0
        return await self._count(
            self._conditions(ProcedureFilter()), self._fulltext([list(alternative)])
        )

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


def database_key(session: AsyncSession) -> str:
    """Which database a session talks to: the process's caches are per database."""
    return str(session.get_bind().engine.url)


def _boolean(
    options: Sequence[Sequence[Slot]], conj: str, disj: str, quote: Callable[[str], str]
) -> str:
    """A full-text query: any option; in one, every slot; in a slot, any alternative; in an
    alternative, every word (words are [a-z0-9]+, safe in both syntaxes)."""

    def any_of(parts: Iterable[str]) -> str:
        return "(" + disj.join(parts) + ")"

    def all_of(parts: Iterable[str]) -> str:
        return "(" + conj.join(parts) + ")"

    return any_of(
        all_of(
            any_of(all_of(quote(w) for w in alt) for alt in slot.alternatives) for slot in option
        )
        for option in options
    )


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
