"""export-suite and predictions-file submissions: same inputs as the runner, precise rejections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import Sentence
from harness.errors import DataFormatError
from harness.manifest import load_suite
from harness.store import ResultStore
from leaderboards.exports import MANIFEST_NAME, export_suite, read_predictions, suite_test_sets
from leaderboards.submissions import SubmissionMeta, inputs_manifest, submit_predictions
from tests.leaderboards.conftest import ATTACKS


def fill_with_gold(export_dir: Path, manifest) -> None:  # type: ignore[no-untyped-def]
    """Turn an export into a perfect predictions tree (gold tags in place of the O column)."""
    for test_set in suite_test_sets(manifest):
        lines = []
        for sentence in test_set.sentences:
            lines.append(f"# id = {sentence.id}")
            lines += [f"{tok} {tag}" for tok, tag in zip(sentence.tokens, sentence.tags, strict=True)]
            lines.append("")
        (export_dir / test_set.relpath).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sizes(store: ResultStore) -> dict[str, int]:
    return {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in ("runs", "cells", "sentence_results", "submissions")}


def test_export_suite_writes_the_runners_perturbed_inputs(smoke_store: ResultStore, tmp_path: Path) -> None:
    manifest = inputs_manifest(load_suite("smoke"), attacks=ATTACKS)
    written = export_suite(manifest, tmp_path / "export")
    meta = json.loads((tmp_path / "export" / MANIFEST_NAME).read_text())
    assert len(written) == 1 + 4 * 3 and len(meta["files"]) == 12
    # The stored sentence rows of the gazetteer run hold the tokens the runner scored.
    cells = [c for c in smoke_store.cells() if c.key.perturbation == "char-typos.v1" and c.key.lang == "yor"]
    outcomes = smoke_store.sentence_outcomes(cells[0].key)
    path = tmp_path / "export" / f"smoke/yor/test/char-typos.v1.{cells[0].key.params_hash}.seed0.conll"
    exported = [[line.split()[0] for line in block.splitlines() if not line.startswith("#")]
                for block in path.read_text().strip().split("\n\n")]
    assert exported == [list(o.tokens) for o in outcomes]
    assert any(o.changed for o in outcomes)


def test_submit_predictions_gold_scores_perfectly(smoke_store: ResultStore, tmp_path: Path) -> None:
    manifest = inputs_manifest(load_suite("smoke"), attacks=ATTACKS)
    export_suite(manifest, tmp_path / "p")
    fill_with_gold(tmp_path / "p", manifest)
    result = submit_predictions(smoke_store, load_suite("smoke"), tmp_path / "p", SubmissionMeta("oracle", "1"), attacks=ATTACKS)
    assert result.created and result.cells == 12
    frame = smoke_store.scores_frame(system="oracle@1", entity_type="ALL")
    assert len(frame) == 12 and (frame["f1"] == 1.0).all()
    again = submit_predictions(smoke_store, load_suite("smoke"), tmp_path / "p", SubmissionMeta("oracle", "1"), attacks=ATTACKS)
    assert not again.created


def _corrupt(tmp_path: Path, edit) -> tuple[Path, object]:  # type: ignore[no-untyped-def]
    manifest = inputs_manifest(load_suite("smoke"))
    export_suite(manifest, tmp_path / "p")
    fill_with_gold(tmp_path / "p", manifest)
    path = tmp_path / "p" / "smoke/hau/test/none.conll"
    lines = path.read_text(encoding="utf-8").split("\n")
    edit(lines)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, manifest


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda ls: ls.__setitem__(1, "Zzz " + ls[1].split()[1]), r"none\.conll:2, sentence smoke/hau/test/0: token 0 is 'Zzz'"),
        (lambda ls: ls.__setitem__(1, ls[1].split()[0] + " I-PER"), r"none\.conll:2, sentence smoke/hau/test/0: invalid IOB2: token 0: 'I-PER' continues no PER span"),
        (lambda ls: ls.__setitem__(1, ls[1].split()[0] + " PER"), r"none\.conll:2, sentence smoke/hau/test/0: expected an IOB2 tag .* found 'PER'"),
        (lambda ls: ls.__setitem__(0, "# id = smoke/hau/test/7"), r"none\.conll:1, sentence smoke/hau/test/0: sentence 1 is declared as 'smoke/hau/test/7'"),
        (lambda ls: ls.pop(2), r"none\.conll:2, sentence smoke/hau/test/0: \d+ token\(s\) but the test set has \d+"),
        (lambda ls: ls.extend(["", "# id = extra", "Kano B-LOC", ""]), r"none\.conll:\d+, sentence extra: more sentences than the test set's 4"),
    ],
    ids=["token-text", "orphan-i-tag", "bad-tag", "wrong-id", "missing-token", "extra-sentence"],
)
def test_submit_predictions_rejects_malformed_file_and_leaves_board_unchanged(
    smoke_store: ResultStore, tmp_path: Path, edit, expected: str  # type: ignore[no-untyped-def]
) -> None:
    _corrupt(tmp_path, edit)
    before = _sizes(smoke_store)
    with pytest.raises(DataFormatError, match=expected):
        submit_predictions(smoke_store, load_suite("smoke"), tmp_path / "p", SubmissionMeta("bad", "1"))
    assert _sizes(smoke_store) == before


def test_submit_predictions_rejects_missing_and_unexpected_files(store: ResultStore, tmp_path: Path) -> None:
    manifest = inputs_manifest(load_suite("smoke"))
    export_suite(manifest, tmp_path / "p")
    (tmp_path / "p/smoke/swa/test/none.conll").rename(tmp_path / "p/smoke/swa/test/typo.conll")
    with pytest.raises(DataFormatError, match=r"missing, e\.g\. smoke/swa/test/none\.conll"):
        submit_predictions(store, load_suite("smoke"), tmp_path / "p", SubmissionMeta("x", "1"))
    (tmp_path / "p/smoke/swa/test/typo.conll").rename(tmp_path / "p/smoke/swa/test/none.conll")
    (tmp_path / "p/smoke/swa/test/extra.conll").write_text("")
    with pytest.raises(DataFormatError, match=r"unexpected file smoke/swa/test/extra\.conll"):
        submit_predictions(store, load_suite("smoke"), tmp_path / "p", SubmissionMeta("x", "1"))


_token = st.text(alphabet="abcÀẹ́ọ#-", min_size=1, max_size=5)
_tag = st.sampled_from(["O", "B-PER", "B-LOC"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(_token, _tag), min_size=1, max_size=6), min_size=1, max_size=4))
def test_read_predictions_round_trips_written_tags(tmp_path_factory: pytest.TempPathFactory, rows) -> None:  # type: ignore[no-untyped-def]
    sentences = [Sentence(f"d/yor/test/{i}", "yor", tuple(t for t, _ in r), ("O",) * len(r)) for i, r in enumerate(rows)]
    text = "".join(f"# id = {s.id}\n" + "".join(f"{t} {g}\n" for t, g in r) + "\n" for s, r in zip(sentences, rows, strict=True))
    path = tmp_path_factory.mktemp("rt") / "none.conll"
    path.write_text(text, encoding="utf-8")
    assert read_predictions(path, sentences) == [tuple(g for _, g in r) for r in rows]


def test_cli_export_suite_and_submit_predictions(tmp_path: Path) -> None:
    from tests.leaderboards.conftest import xner

    out = xner("export-suite", "smoke", str(tmp_path / "e"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "e/smoke/yor/test/none.conll").read_text().startswith("# id = smoke/yor/test/0\n")
    meta = tmp_path / "m.toml"
    meta.write_text('name = "all-o"\nversion = "1"\n')
    store = tmp_path / "s.sqlite"
    done = xner("submit", "predictions", str(tmp_path / "e"), "--suite", "smoke", "--meta", str(meta), "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert "all-o@1: recorded" in done.stdout
