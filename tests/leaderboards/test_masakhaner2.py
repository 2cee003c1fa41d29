"""The issue's done-when on real data: masakhaner2 board with an entry-point system and a predictions file."""

from __future__ import annotations

from pathlib import Path

from tests.leaderboards.conftest import TOY_META, TOY_PKG, xner

LANGS = "hau,yor"
SMALL = ["--languages", LANGS, "--max-sentences", "25"]


def test_masakhaner2_board_has_entry_point_and_predictions_submissions(data_dir: Path, tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "m.sqlite")]
    data = ["--data-dir", str(data_dir)]
    base = xner("run", "masakhaner2", "--systems", "gazetteer", "--no-progress", *SMALL, *data, *store)
    assert base.returncode == 0, base.stderr
    system = xner("submit", "system", "toy-tagger", "--suite", "masakhaner2", "--meta", str(TOY_META), *SMALL, *data, *store,
                  env={"PYTHONPATH": str(TOY_PKG)})
    assert system.returncode == 0, system.stderr
    export = xner("export-suite", "masakhaner2", str(tmp_path / "preds"), *SMALL, *data)
    assert export.returncode == 0, export.stderr
    meta = tmp_path / "meta.toml"
    meta.write_text('name = "all-outside"\nversion = "1"\nauthors = ["test"]\n')

    # A malformed file is rejected with file, line and sentence, and the board does not change.
    target = tmp_path / "preds/masakhaner2/yor/test/none.conll"
    good = target.read_text(encoding="utf-8")
    lines = good.split("\n")
    lines[1] = lines[1].split()[0] + " I-LOC"
    target.write_text("\n".join(lines), encoding="utf-8")
    before = xner("leaderboard", "masakhaner2", "--format", "csv", *store)
    bad = xner("submit", "predictions", str(tmp_path / "preds"), "--suite", "masakhaner2", "--meta", str(meta), *SMALL, *data, *store)
    assert bad.returncode == 2
    assert "none.conll:2, sentence masakhaner2/yor/test/0: invalid IOB2" in " ".join(bad.stderr.split())
    assert xner("leaderboard", "masakhaner2", "--format", "csv", *store).stdout == before.stdout

    target.write_text(good, encoding="utf-8")
    ok = xner("submit", "predictions", str(tmp_path / "preds"), "--suite", "masakhaner2", "--meta", str(meta), *SMALL, *data, *store)
    assert ok.returncode == 0, ok.stderr
    md = xner("leaderboard", "masakhaner2", "--format", "md", *store)
    html_out = tmp_path / "board.html"
    page = xner("leaderboard", "masakhaner2", "--format", "html", "--out", str(html_out), *store)
    assert md.returncode == 0 and page.returncode == 0, md.stderr + page.stderr
    text = html_out.read_text(encoding="utf-8")
    for name in ("gazetteer", "toy-tagger@0.1.0", "all-outside@1"):
        assert f"| {name} |" in md.stdout
        assert f">{name}</td>" in text
    report = xner("report", "masakhaner2", "--out", str(tmp_path / "r.html"), "--resamples", "50", *store)
    assert report.returncode == 0, report.stderr
