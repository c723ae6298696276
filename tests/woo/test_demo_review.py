"""The Woo part of ``make demo`` on its own (``run_woo_demo``): on a captured tenant with the demo's
real-world mail, the request is exported, then assessed (openbaar, deels openbaar with the resident's
e-mail address and phone number redacted from the suggestions, niet openbaar), approved by a second
officer and published; the package verifies and its productierapport has the three judgements. A
second demo run on the same home publishes a second package without proposing anything twice."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from capstone.demo import DEMO_CASE, claim_demo_home, run_woo_demo
from capstone.demo_mail import RESIDENT, RESIDENT_MAIL, RESIDENT_PHONE, write_demo_mail
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.package import verify_package
from capstone.woo.platform_reader import read_report
from capstone.woo.review import ReviewStore
from connectors.simulator.importer import parse_import_spec
from connectors.simulator.server import run_simulator
from tests.capture.conftest import SEED, CaptureWorld, register_sample_officials, simulator_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = Settings(home=tmp_path_factory.mktemp("parent") / "demo-home", user="demo")
    claim_demo_home(settings)  # the demo acts only in its own home
    imports = write_demo_mail(settings.home / "demo-mail")
    specs = tuple(parse_import_spec(a) for a in imports[1::2])
    with run_simulator(seed=SEED, profile="small", imports=specs) as sim:
        configured = simulator_settings(settings, sim)
        open_vault(configured, create=True).close()
        register_sample_officials(configured)
        runs = CaptureWorld(configured, sim).capture(source=None)
        assert runs and all(r.status == "complete" for r in runs)
    yield settings


def packages(settings: Settings) -> list[Path]:
    return sorted((settings.home / "woo" / DEMO_CASE).glob("publicatie-*"))


def test_the_demo_publishes_a_package_that_verifies(
    demo_home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_woo_demo(demo_home)
    shown = capsys.readouterr().out
    [package] = packages(demo_home)
    assert f"publication package: {package}" in shown
    assert (
        f"productierapport: {package / 'productierapport.xlsx'}" in shown
        and "verify-export: ALL WELL" in shown
    )
    assert "suggestion:email" in shown and "suggestion:telefoon" in shown
    check = verify_package(package)
    assert check.ok and check.files > 0, check.problems
    for name in ("productierapport.xlsx", "productierapport.csv"):
        report = read_report(package / name)
        assert report.ok, report.problems
        assert {r["beoordeling"] for r in report.rows} == {"openbaar", "deels openbaar", "niet openbaar"}
    rows = read_report(package / "productierapport.xlsx").rows
    [partial] = [r for r in rows if r["beoordeling"] == "deels openbaar"]
    [withheld] = [r for r in rows if r["beoordeling"] == "niet openbaar" and r["grounds"] != ["dubbel"]]
    [copy] = [r for r in rows if r["grounds"] == ["dubbel"]]  # the mayor's copy of an openbaar mail
    assert copy["refers_to"] and {r["beoordeling"] for r in rows if r["id"] in copy["refers_to"]} == {
        "openbaar"
    }
    assert partial["grounds"] == ["5.1.2e"] and withheld["grounds"] == ["5.1.2f"]
    pdfs = {p.stem for p in (package / "documenten").iterdir()}
    assert partial["id"] in pdfs and withheld["id"] not in pdfs  # nothing non-public in the package
    text = subprocess.run(
        ["pdftotext", str(package / "documenten" / f"{partial['id']}.pdf"), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "speeltuin" in text and "5.1.2e" in text
    for secret in (RESIDENT_MAIL, RESIDENT_PHONE, RESIDENT):
        assert secret not in text
    state = ReviewStore(state_engine(demo_home)).state(DEMO_CASE)
    assert state.approval_required and state.approved and state.approval is not None
    assert state.approval.approver != "demo"  # the collegiale toets is a second officer's


def test_a_second_demo_run_publishes_again_and_proposes_nothing_twice(
    demo_home: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    if not packages(demo_home):
        run_woo_demo(demo_home)
    marks = ReviewStore(state_engine(demo_home)).marks(DEMO_CASE)
    run_woo_demo(demo_home)
    shown = capsys.readouterr().out
    assert ReviewStore(state_engine(demo_home)).marks(DEMO_CASE) == marks
    assert "accepted" in shown and "verify-export: ALL WELL" in shown
    first, second = packages(demo_home)[-2:]
    assert first != second and verify_package(second).ok
    before, after = (
        sorted((r["id"], r["beoordeling"]) for r in read_report(p / "productierapport.csv").rows)
        for p in (first, second)
    )
    assert before == after  # the same documents, numbers and judgements
