"""A registry import grows linearly with its rows (issue 16: 2 k rows took 17 s, 4 k 65 s, 100 k did
not finish), and stays all or nothing. The rate is measured in bench/registry_bench.py; here only a
generous wall-clock guard (pytest-timeout) catches a return of quadratic work."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from capstone.registry import tables as t
from capstone.registry.errors import CsvImportError
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.settings import Settings

HEADER = (
    "name,mail,function,organisation_unit,category,start_date,end_date,deciding_body,decision_date,"
    "decision_reference\n"
)


def generated_csv(rows: int, *, first: int = 0, tail: str = "") -> bytes:
    lines = [
        f"Persoon {i},p{i}@gemeente-demo.nl,Functie {i},Afdeling {i % 40},college,2024-01-01,,"
        f"Directieteam,2024-01-15,DT-{i}\n"
        for i in range(first, first + rows)
    ]
    return (HEADER + "".join(lines) + tail).encode()


def _count(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.designations)).scalar_one())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_100k_row_import_finishes_and_stays_all_or_nothing(settings: Settings) -> None:
    registry = Registry(state_engine(settings))
    result = registry.import_csv(generated_csv(100_000), filename="dt-100k.csv", actor="test")
    assert len(result.designations) == 100_000 and _count(registry) == 100_000
    assert len({d.designation_id for d in result.designations}) == 100_000

    # the next file: 100 000 new rows, of which the last covers an account registered above
    clash = "Dubbel,p5@gemeente-demo.nl,Functie,Afdeling,college,2025-01-01,,Directieteam,2024-01-15,DT-X\n"
    with pytest.raises(CsvImportError) as refused:
        registry.import_csv(
            generated_csv(100_000, first=100_000, tail=clash), filename="dt-next.csv", actor="test"
        )
    assert str(refused.value).startswith("dt-next.csv: 1 of 100001 rows refused; nothing was imported")
    assert "p5@gemeente-demo.nl is already covered by designation" in str(refused.value)
    assert _count(registry) == 100_000


def test_rows_overlapping_each_other_are_each_reported(settings: Settings) -> None:
    rows = (
        "A,a@gemeente-demo.nl,F,U,college,2024-01-01,2024-12-31,D,2024-01-15,R1\n"
        "B,b@gemeente-demo.nl,F,U,college,2024-01-01,,D,2024-01-15,R2\n"
        "A2,a@gemeente-demo.nl,F,U,college,2024-06-01,,D,2024-01-15,R3\n"
        "A3,a@gemeente-demo.nl,F,U,college,2025-01-01,,D,2024-01-15,R4\n"
    )
    with pytest.raises(CsvImportError) as refused:
        Registry(state_engine(settings)).import_csv((HEADER + rows).encode(), filename="x.csv", actor="t")
    text = str(refused.value)
    assert text.startswith("x.csv: 2 of 4 rows refused")
    assert "row 4, mail: a@gemeente-demo.nl is also covered by row 2 in an overlapping period" in text
    assert "row 5, mail: a@gemeente-demo.nl is also covered by row 4 in an overlapping period" in text


def test_a_file_level_error_does_not_count_rows_that_are_not_there(settings: Settings) -> None:
    data = b"naam;onbekend\nMarieke;x\n"
    with pytest.raises(CsvImportError) as refused:
        Registry(state_engine(settings)).import_csv(data, filename="x.csv", actor="t")
    text = str(refused.value)
    assert text.startswith("x.csv: refused; nothing was imported"), text
    assert "of 0 rows" not in text
