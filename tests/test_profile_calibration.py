"""Shipped profiles on the five reference territories: saturation explained, top 10 told apart.

Each profile is scored on each reference territory with the default candidate sites and the
embedded (offline) layers, as `foncier score` does without options. A criterion that puts
more than half of the ranked sites at 0 or at 1 separates nothing there: the profile must say
why that is intended (its transform's ``saturation`` sentence), else its bounds are wrong.
"""

from __future__ import annotations

import pytest

import foncier
from foncier.engine.diagnostics import ranking_diagnostics
from foncier.engine.sites import parse_sites_spec
from foncier.pipeline import MAP_CONTEXT_LAYERS, default_profile, profile_layers
from layers.catalog import LAYERS

TERRITORIES = (
    "grand-compiegnois",
    "chalons-en-champagne",
    "chartres-metropole",
    "alencon",
    "soissonnais-valois",
)
PROFILES = tuple(foncier.list_profiles()["id"])


@pytest.fixture(scope="module", params=TERRITORIES)
def scored_by_profile(request):
    t = foncier.territory(request.param)
    wanted = {n for p in PROFILES for n in profile_layers(foncier.load_profile(p))}
    wanted |= set(MAP_CONTEXT_LAYERS)
    layers = foncier.load_layers(t, sorted(n for n in wanted if n in LAYERS))
    sites = parse_sites_spec("hex:auto")(t)
    return t, {p: foncier.score(sites, layers, p) for p in PROFILES}


def test_no_criterion_saturates_unless_the_profile_says_why(scored_by_profile):
    t, scored = scored_by_profile
    for pid, table in scored.items():
        diag = ranking_diagnostics(table, top_n=10)
        unexplained = [
            f"{c.id}: {c.share_at_min:.0%} at 0, {c.share_at_max:.0%} at 1"
            for c in diag.criteria
            if c.saturated and not c.intended
        ]
        assert unexplained == [], f"{t.id} / {pid}"
        # And the check is not vacuous: the shares are read from the scored columns.
        for c in diag.criteria:
            col = table.loc[~table["excluded"], f"{c.id}__score"]
            assert c.share_at_max == pytest.approx(float((col >= 1).mean()))


def test_every_shipped_profile_singles_out_its_top_10(scored_by_profile):
    t, scored = scored_by_profile
    for pid, table in scored.items():
        diag = ranking_diagnostics(table, top_n=10)
        assert diag.discriminates, f"{t.id} / {pid}: {diag.message}"
        assert diag.n_tied_first == 1, f"{t.id} / {pid}"


def test_three_criteria_separate_the_top_10_of_the_default_profile(scored_by_profile):
    t, scored = scored_by_profile
    diag = ranking_diagnostics(scored[default_profile(t)], top_n=10)
    assert len(diag.separating) >= 3, f"{t.id}: {[c.separation for c in diag.criteria]}"
