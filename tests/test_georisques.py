"""Géorisques API v1 client on a local server.

No recorded Géorisques answer exists in tests/data: the paginated documents below are BUILT
IN CODE in the shape of the API's answers (``results``, ``page``, ``total_pages``, ``data``).
Values (procedure ids, dates) are illustrative, not real records.
"""

from __future__ import annotations

import json

import pytest
from test_http import LocalServer, Reply

from layers.config import settings
from layers.errors import SchemaError
from layers.georisques import azi, gaspar_ppr, risques


def page(data: list, number: int, total_pages: int) -> Reply:
    doc = {"results": len(data), "page": number, "total_pages": total_pages, "data": data}
    return Reply(json.dumps(doc).encode())


@pytest.fixture
def gr(monkeypatch: pytest.MonkeyPatch):
    with LocalServer() as server:
        monkeypatch.setattr(settings, "georisques_url", server.url + "/api/v1")
        yield server


def ppr(i: int) -> dict:
    return {
        "id_gaspar": f"60DDT2000{i:04d}",
        "libelle": f"PPR test {i}",
        "date_approbation": "2005-12-01",
        "liste_libelle_risque": [
            {"num_risque": "11", "libelle_risque_long": "Inondation"},
            {"num_risque": "112", "libelle_risque_long": "Par une crue à débordement lent"},
        ],
        "code_insee": "60159",
    }


def test_ppr_procedures_are_paged_and_flattened(gr: LocalServer) -> None:
    def pprn(query: dict, body: bytes) -> Reply:
        n = int(query["page"][0])
        return page([ppr(i) for i in range((n - 1) * 100, min(n * 100, 150))], n, 2)

    gr.script("/api/v1/gaspar/pprn", pprn)
    gr.script("/api/v1/gaspar/pprt", page([], 1, 0))
    frame = gaspar_ppr("60159", families=["pprn", "pprt"])
    assert len(frame) == 150
    assert set(frame["famille"]) == {"pprn"}
    assert frame["risques"].iloc[0] == "Inondation; Par une crue à débordement lent"
    assert "liste_libelle_risque" not in frame.columns
    assert [q["page"][0] for _, p, q, _ in gr.requests if p.endswith("pprn")] == ["1", "2"]
    assert gr.requests[0][2]["code_insee"] == ["60159"]
    assert gr.hits["/api/v1/gaspar/pprt"] == 1


def test_azi_and_risques(gr: LocalServer) -> None:
    gr.script(
        "/api/v1/gaspar/azi",
        page(
            [
                {
                    "code_national_azi": "AZI-OISE",
                    "libelle_azi": "Atlas des zones inondables de l'Oise",
                    "liste_libelle_risque": [{"libelle_risque_long": "Inondation"}],
                }
            ],
            1,
            1,
        ),
    )
    gr.script(
        "/api/v1/gaspar/risques",
        page(
            [
                {
                    "code_insee": "60159",
                    "libelle_commune": "Compiègne",
                    "risques_detail": [
                        {"num_risque": "11", "libelle_risque_long": "Inondation"},
                        {"num_risque": "13", "libelle_risque_long": "Séisme"},
                    ],
                }
            ],
            1,
            1,
        ),
    )
    atlases = azi("60159")
    assert list(atlases["code_national_azi"]) == ["AZI-OISE"]
    assert list(atlases["risques"]) == ["Inondation"]
    known = risques("60159")
    assert list(known.columns) == ["code_insee", "commune", "num_risque", "libelle_risque"]
    assert list(known["libelle_risque"]) == ["Inondation", "Séisme"]


def test_bad_input(gr: LocalServer) -> None:
    with pytest.raises(SchemaError, match="INSEE"):
        risques("601")
    with pytest.raises(SchemaError, match="famil"):
        gaspar_ppr("60159", families=["ppri"])
    gr.script("/api/v1/gaspar/azi", Reply(b'{"message": "no data key"}'))
    with pytest.raises(SchemaError, match="'data'"):
        azi("60159")


@pytest.mark.web
def test_live_risks_of_compiegne() -> None:
    known = risques("60159")
    assert known["libelle_risque"].str.contains("Inondation").any()
