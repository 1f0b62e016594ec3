"""Shadow models and promotion, as use cases: start / stop a shadow, compare it with the active
version on live scores, promote it (by the activation's hot reload), and the automatic promotion
checked after each scoring pass. Every admin action and every automatic promotion is audited on
the `ml_engine.audit` log, refusals included."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from ml_engine.config import MlEngineSettings
from ml_engine.models.serving.activation import VersionActivation
from ml_engine.models.serving.shadow import ShadowRegistry, ShadowVersion
from ml_engine.predictions.data import prediction_repository as repo
from ml_engine.promotion.domain.comparison import Comparison, ScoredPair, compare, should_auto_promote
from ml_engine.shared.audit import AuditRecord, audited
from service_runtime.errors import DomainError, InvalidArgument, NotFound

log = logging.getLogger(__name__)

# The actor an automatic promotion is audited as.
AUTO_PROMOTE_ACTOR = "system:auto-promote"


def required(value: str, field: str) -> str:
    """`value` stripped; INVALID_ARGUMENT naming `field` when empty (inside the audited block: a
    refusal is audited too)."""
    if not value.strip():
        raise InvalidArgument.field(field, "is required")
    return value.strip()


@dataclass(frozen=True)
class ShadowView:
    name: str
    shadow_version: str
    active_version: str
    horizon: str
    lookahead: int
    started_at: float
    recorded: int
    scored: int


@dataclass(frozen=True)
class Promotion:
    name: str
    from_version: str
    to_version: str


class PromotionService:
    def __init__(
        self,
        shadows: ShadowRegistry,
        activation: VersionActivation,
        engine: Engine,
        settings: MlEngineSettings,
    ) -> None:
        self.shadows = shadows
        self.activation = activation
        self.engine = engine
        self.settings = settings
        self.auto_promotions = 0

    @property
    def alpha(self) -> float:
        return self.settings.ml_auto_promote_p_value

    # ---- admin actions ----------------------------------------------------------------------

    async def start(self, name: str, version: str, actor: str) -> ShadowView:
        record: AuditRecord = {
            "actor": actor,
            "action": "start_shadow",
            "model": name.strip(),
            "shadow_version": version.strip(),
        }
        with audited(record):
            shadow = await self.shadows.start(required(name, "name"), required(version, "version"))
            record["outcome"] = "started"
        return await self.view(shadow)

    async def shadow_trained(self, name: str, version: str) -> None:
        """A training run's new version goes to shadow (audited as the system's action); when the
        model already has a shadow, it stays AVAILABLE for an admin to choose."""
        try:
            await self.start(name, version, actor="system:training-run")
        except DomainError as error:
            log.warning("trained version not put in shadow: %s", error.message)

    async def stop(self, name: str, actor: str) -> None:
        record: AuditRecord = {"actor": actor, "action": "stop_shadow", "model": name.strip()}
        with audited(record):
            version = await self.shadows.stop(required(name, "name"))
            record |= {"shadow_version": version, "outcome": "stopped"}

    async def promote(
        self,
        name: str,
        actor: str,
        comparison: Comparison | None = None,
        claimed: ShadowVersion | None = None,
    ) -> Promotion:
        """The shadow version becomes the active one through the activation's hot reload (loaded,
        warmed up, swapped in with one assignment); then the shadow ends. Like an activation, it
        runs to the end (and is audited) even when the caller is cancelled. `claimed`: the shadow,
        already ended on every engine by this caller (the automatic promotion)."""
        return await self.activation.run_to_end(self._promote(name, actor, comparison, claimed))

    async def _promote(
        self, name: str, actor: str, comparison: Comparison | None, claimed: ShadowVersion | None
    ) -> Promotion:
        record: AuditRecord = {"actor": actor, "action": "promote_shadow", "model": name.strip()}
        if comparison is not None:
            record["verdict"] = comparison.verdict.value
            record["p_values"] = {m.metric: round(m.p_value, 6) for m in comparison.metrics}
            record["n"] = max((m.n for m in comparison.metrics), default=0)
        with audited(record):
            name = required(name, "name")
            shadow = claimed or await self._claim(self.shadows.require(name))
            record["to_version"] = shadow.version
            record["from_version"] = self.activation.registry.entry(name).active_version
            try:
                entry = await self.activation.activate(name, shadow.version)
            except DomainError:
                await self.shadows.restore(shadow)  # it cannot serve: it goes on in shadow
                raise
            if self.shadows.get(name) is shadow:  # a newer shadow started meanwhile stays
                self.shadows.drop(name)
            record |= {"outcome": "promoted", "state": entry.state.value}
        return Promotion(name, str(record["from_version"]), entry.active_version)

    async def _claim(self, shadow: ShadowVersion) -> ShadowVersion:
        if not await self.shadows.claim(shadow):
            self.shadows.drop(shadow.name)
            raise NotFound(
                f"model {shadow.name} has no shadow version (another engine promoted or stopped it)"
            )
        return shadow

    # ---- reads ------------------------------------------------------------------------------

    async def list_shadows(self) -> list[ShadowView]:
        return [await self.view(s) for s in self.shadows.shadows()]

    async def view(self, shadow: ShadowVersion) -> ShadowView:
        variant = repo.shadow_variant(shadow.name, shadow.version)
        recorded, scored = await asyncio.to_thread(self._counts, variant)
        meta = shadow.session.metadata
        return ShadowView(
            shadow.name,
            shadow.version,
            self.activation.registry.entry(shadow.name).active_version,
            meta.horizon,
            meta.lookahead_bars,
            shadow.started_at,
            recorded,
            scored,
        )

    async def compare(self, name: str) -> tuple[ShadowView, Comparison]:
        """Active vs shadow on the scored predictions both made (Diebold-Mariano per metric)."""
        view = await self.view(self.shadows.require(name))
        variant = repo.shadow_variant(view.name, view.shadow_version)
        rows = await asyncio.to_thread(self._pairs, variant)
        pairs = [
            ScoredPair(
                r.as_of,
                r.close,
                r.realized_high,
                r.realized_low,
                r.tp_long_outcome,
                r.tp_short_outcome,
                r.active,
                r.shadow,
            )
            for r in rows
        ]
        comparison = compare(pairs, view.lookahead, self.alpha, self.settings.ml_auto_promote_min_scored)
        return view, comparison

    def _counts(self, variant: str) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return repo.variant_counts(conn, variant)

    def _pairs(self, variant: str) -> list[repo.PairedRow]:
        with self.engine.connect() as conn:
            return repo.scored_pairs(conn, variant)

    # ---- automatic promotion ----------------------------------------------------------------

    async def after_scoring(self) -> list[Promotion]:
        """Checked after each scoring pass: with ML_AUTO_PROMOTE on, every shadow whose comparison
        says SHADOW_BETTER is promoted, audited as AUTO_PROMOTE_ACTOR with its p-values."""
        if not self.settings.ml_auto_promote:
            return []
        promoted = []
        for shadow in self.shadows.shadows():
            _, comparison = await self.compare(shadow.name)
            if not should_auto_promote(comparison):
                continue
            if not await self.shadows.claim(shadow):
                continue  # another engine reached the same verdict first: it promotes (and audits)
            try:
                promoted.append(
                    await self.promote(shadow.name, AUTO_PROMOTE_ACTOR, comparison, claimed=shadow)
                )
            except DomainError as error:  # audited as refused; the next pass tries again
                log.warning("automatic promotion of %s failed: %s", shadow.name, error.message)
                continue
            self.auto_promotions += 1
        return promoted
