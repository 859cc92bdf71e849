"""Ranking diagnostics on hand-made cases with known saturation, ties and spreads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foncier.engine.diagnostics import (
    MIN_TOP_SPREAD,
    RankingDiagnostics,
    ranking_diagnostics,
)
from foncier.engine.profiles import profile_from_dict
from foncier.engine.scoring import RawMeasures, score_from_raw
from layers.errors import SchemaError

DEC = {"kind": "linear", "from": 1000, "to": 11000, "direction": "decreasing"}


def profile():
    return profile_from_dict(
        {
            "profile": {"id": "t", "name": "T"},
            "criteria": [
                {"id": "rail", "label": "Gare fret", "measure": "distance",
                 "layer": "rail_freight_stations", "transform": DEC, "weight": 1},
                {"id": "power", "label": "Poste", "measure": "distance",
                 "layer": "substations", "transform": DEC, "weight": 1},
            ],
        }
    )  # fmt: skip


def scored(rail, power, *, top_n=3, excluded=None):
    idx = pd.Index([f"s{i}" for i in range(len(rail))])
    raw = RawMeasures(
        values=pd.DataFrame({"rail": rail, "power": power}, index=idx, dtype=float),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame(index=idx),
        area_m2=pd.Series(1.0, index=idx),
    )
    out = score_from_raw(raw, profile(), top_n=top_n)
    if excluded is not None:
        out["excluded"] = excluded
        out["rank"] = out["rank"].where(~np.asarray(excluded))
    return out


def test_saturation_spread_and_separation_by_hand():
    # rail: 8 sites at 0 m (score 1), one at 6 km (0.5), one at 11 km (0).
    # power: 1, 2 … 10 km -> scores 1, 0.9 … 0.1. Scores: 100, 95, 90 … 65, 35, 5.
    out = scored([0.0] * 8 + [6000.0, 11000.0], [1000.0 * (i + 1) for i in range(10)])
    np.testing.assert_allclose(out["score"], [100, 95, 90, 85, 80, 75, 70, 65, 35, 5])
    d = ranking_diagnostics(out)
    assert d.top_n == 3
    assert d.n_ranked == 10
    assert d.n_tied_first == 1
    assert d.top_n_spread == pytest.approx(10.0)
    rail, power = d.criteria
    assert (rail.share_at_max, rail.share_at_min, rail.spread) == (0.8, 0.1, 1.0)
    # Top 3 all at 1; the other seven: 1, 1, 1, 1, 1, 0.5, 0 -> median 1: no separation.
    assert rail.top_mean == 1.0
    assert rail.rest_median == 1.0
    assert not rail.separates
    assert rail.saturated
    assert (power.share_at_max, power.share_at_min) == (0.1, 0.0)
    assert power.spread == pytest.approx(0.9)
    # Top 3: 1, 0.9, 0.8 (mean 0.9); rest 0.7 … 0.1 (median 0.4).
    assert power.separation == pytest.approx(0.5)
    assert power.separates
    assert not power.saturated
    assert d.discriminates
    assert d.reasons == ()
    assert d.separating == ["power"]
    assert d.saturated == ["rail"]
    assert d.message == (
        "Le classement distingue ses 3 premiers sites (écart de 10,0 points entre le 1er et le 3e)."
    )
    assert (
        "Gare fret : 10 % des sites à 0, 80 % à 1, étendue 1,00, ne sépare pas le top (saturé)."
        in d.lines()
    )
    # Stored at score time, and the same with another N on demand.
    assert out.attrs["foncier"]["diagnostics"] == d.as_dict()
    assert ranking_diagnostics(out, top_n=9).top_n_spread == pytest.approx(65.0)


def test_round_trip_through_a_dict():
    out = scored([0.0] * 8 + [6000.0, 11000.0], [1000.0 * (i + 1) for i in range(10)])
    d = ranking_diagnostics(out)
    assert RankingDiagnostics.from_dict(d.as_dict()) == d


def test_every_criterion_constant_and_everyone_tied(caplog):
    with caplog.at_level("WARNING"):
        out = scored([500.0] * 6, [0.0] * 6)
    d = ranking_diagnostics(out)
    assert not d.discriminates
    assert d.n_tied_first == 6
    assert d.reasons == (
        "aucun critère ne varie d'un site à l'autre",
        "6 sites ont le meilleur score (100,0) pour un top 3",
    )
    assert d.message.startswith("Aucun site ne se détache : aucun critère ne varie")
    assert "does not single out a top 3" in caplog.text
    # The ranks are still unique: the shortlist is the tie-break's, and says so.
    assert sorted(out["rank"]) == [1, 2, 3, 4, 5, 6]
    assert out["ex_aequo"].all()


def test_top_spread_below_the_display_resolution():
    # Scores 100 − 0.005·i: the top 3 within 0.01 point, below the 0.1 point threshold.
    out = scored([0.0] * 5, [1000.0 + i for i in range(5)])
    d = ranking_diagnostics(out)
    assert d.n_tied_first == 1
    assert d.top_n_spread == pytest.approx(0.01)
    assert d.top_n_spread < MIN_TOP_SPREAD
    assert d.reasons == ("les 3 premiers sites tiennent en 0,01 point (moins de 0,1 point)",)


def test_more_sites_tied_first_than_the_top_n():
    out = scored([0.0] * 4 + [5000.0] * 2, [0.0] * 4 + [9000.0] * 2)
    d = ranking_diagnostics(out)
    assert d.n_tied_first == 4
    assert not d.discriminates
    assert ranking_diagnostics(out, top_n=4).discriminates is False  # spread 0 among 4
    assert ranking_diagnostics(out, top_n=5).discriminates is True


def test_no_ranked_site():
    out = scored([0.0, 100.0], [0.0, 5.0], excluded=[True, True])
    d = ranking_diagnostics(out)
    assert d.n_ranked == 0
    assert not d.discriminates
    assert d.reasons == ("aucun site n'est classé (tous sont exclus)",)
    assert d.as_dict()["best_score"] is None


def test_bad_input():
    with pytest.raises(SchemaError, match=r"foncier\.score"):
        ranking_diagnostics(pd.DataFrame({"score": [1.0]}))
    out = scored([0.0, 100.0], [0.0, 5.0])
    with pytest.raises(ValueError, match="at least 1"):
        ranking_diagnostics(out, top_n=0)


def test_intended_saturation_is_named_in_the_lines():
    prof = profile_from_dict(
        {
            "profile": {"id": "t", "name": "T"},
            "criteria": [
                {"id": "port", "label": "Port fluvial", "measure": "distance", "layer": "ports",
                 "transform": {**DEC, "saturation": "aucun port à portée"}, "weight": 1},
                {"id": "power", "label": "Poste", "measure": "distance",
                 "layer": "substations", "transform": DEC, "weight": 1},
            ],
        }
    )  # fmt: skip
    idx = pd.Index(list("abcd"))
    raw = RawMeasures(
        values=pd.DataFrame(
            {"port": [np.inf] * 4, "power": [1000.0, 2000.0, 4000.0, 9000.0]}, index=idx
        ),
        nearest=pd.DataFrame(index=idx),
        exclusion_values=pd.DataFrame(index=idx),
        area_m2=pd.Series(1.0, index=idx),
    )
    d = ranking_diagnostics(score_from_raw(raw, prof, top_n=2))
    port = d.criteria[0]
    assert port.saturated
    assert port.share_at_min == 1.0
    assert port.intended == "aucun port à portée"
    assert (
        "Port fluvial : 100 % des sites à 0, 0 % à 1, étendue 0,00, ne sépare pas le top "
        "(saturé, voulu : aucun port à portée)." in d.lines()
    )
