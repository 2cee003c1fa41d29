"""`xner attacks`, `xner perturb`, `xner adversarial` through a local Typer app."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from harness.conll import read_conll

from attacks.cli import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def conll(tmp_path: Path) -> Path:
    folder = tmp_path / "demo" / "yor"
    folder.mkdir(parents=True)
    path = folder / "test.txt"
    path.write_text(
        "Ọ̀gbẹ́ni O\nAdéwálé B-PER\nlọ O\nsí O\nÈkó B-LOC\n\nWọ́n O\nṣe O\nìpàdé O\nní O\nAbuja B-LOC\n\n",
        encoding="utf-8",
    )
    return path


def test_cli_attacks_lists_names_scope_and_example(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["attacks"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    for name in ("char-typos.v1", "diacritics-drop.v1", "entity-swap.v1", "ta-char-swap.v1"):
        assert name in result.output
    assert "Soyinka" in result.output  # diacritics-drop example on the Yoruba sentence


def test_cli_perturb_writes_conll_with_labels(app: typer.Typer, conll: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    args = ["perturb", str(conll), "--attack", "diacritics-drop.v1", "--seed", "1", "--param", "severity=5", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    sentences, _ = read_conll(out, lang="yor", id_prefix="x")
    assert sentences[0].tokens == ("Ogbeni", "Adewale", "lo", "si", "Eko")
    assert sentences[0].tags == ("O", "B-PER", "O", "O", "B-LOC")
    again = tmp_path / "again.txt"
    CliRunner().invoke(app, [*args[:-1], str(again)])
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_cli_perturb_stdout_and_entity_swap(app: typer.Typer, conll: Path) -> None:
    result = CliRunner().invoke(app, ["perturb", str(conll), "--attack", "entity-swap.v1", "--param", "severity=5"])
    assert result.exit_code == 0, result.output
    assert "Abuja B-LOC" in result.output and "Èkó B-LOC" in result.output


def test_cli_perturb_bad_param_exits_2_with_message(app: typer.Typer, conll: Path) -> None:
    result = CliRunner().invoke(app, ["perturb", str(conll), "--attack", "char-typos.v1", "--param", "sev=3"])
    assert result.exit_code == 2
    assert "it accepts: severity" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["perturb", str(conll), "--attack", "char-typo.v1"])
    assert result.exit_code == 2 and "Did you mean" in result.output


def test_cli_adversarial_against_fake_system(app: typer.Typer, tmp_path: Path) -> None:
    from systems import SYSTEMS

    import tests.attacks.test_adversarial as fakes

    class Fake(fakes.ExactMatchTagger):
        def __init__(self) -> None:
            super().__init__(fakes.TABLE)

    root = tmp_path / "data"
    (root / "masakhaner2" / "yor").mkdir(parents=True)
    (root / "manifest.json").write_text("{}")
    text = "".join("".join(f"{t} {g}\n" for t, g in zip(s.tokens, s.tags, strict=True)) + "\n" for s in fakes.CORPUS)
    (root / "masakhaner2" / "yor" / "test.txt").write_text(text, encoding="utf-8")
    SYSTEMS.register("fake-exact", Fake)
    try:
        result = CliRunner().invoke(
            app,
            ["adversarial", "--system", "fake-exact", "--dataset", "masakhaner2", "--lang", "yor", "--data-dir", str(root), "--budget", "50"],
            env={"COLUMNS": "200"},
        )
    finally:
        SYSTEMS._clear("fake-exact")
    assert result.exit_code == 0, result.output
    assert "Attack success rate" in result.output and "100.00%" in result.output
    assert "Number of skipped attacks" in result.output


def test_cli_adversarial_unknown_system_exits_2(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["adversarial", "--system", "nope", "--dataset", "smoke", "--lang", "yor"])
    assert result.exit_code == 2 and "Unknown system" in result.output
