from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.conll import iter_conll_records, read_conll, write_conll
from harness.errors import DataFormatError


def write(tmp_path: Path, text: str, name: str = "f.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_conll_reads_two_column_files(tmp_path: Path) -> None:
    path = write(tmp_path, "Adé B-PER\nlọ O\n\nÈkó B-LOC\n")
    sentences, report = read_conll(path, lang="yor", id_prefix="d/yor/test")
    assert [s.id for s in sentences] == ["d/yor/test/0", "d/yor/test/1"]
    assert sentences[0].tokens == ("Adé", "lọ") and report.entities == 2 and report.n_repairs == 0


def test_read_conll_reads_four_column_files_with_docstart(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n")
    sentences, _ = read_conll(path, lang="eng", id_prefix="c")
    assert len(sentences) == 1 and sentences[0].tags == ("B-ORG", "O")


def test_read_conll_accepts_tab_separated_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Wiederaufnahme\tO\nBerlin\tB-LOC\n")
    sentences, _ = read_conll(path, lang="deu", id_prefix="e")
    assert sentences[0].tags == ("O", "B-LOC")


def test_read_conll_names_file_and_line_of_a_missing_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "a O\nb O\n\nc\n")
    with pytest.raises(DataFormatError) as info:
        read_conll(path, lang="yor", id_prefix="x")
    assert f"{path}:4" in str(info.value) and "at least 2 columns" in str(info.value)


def test_read_conll_names_line_of_a_bad_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "a O\nb PERSON\n")
    with pytest.raises(DataFormatError, match=r"f\.txt:2: expected an IOB2 tag .* found 'PERSON'"):
        read_conll(path, lang="yor", id_prefix="x")


def test_read_conll_rejects_changing_column_count(tmp_path: Path) -> None:
    path = write(tmp_path, "a NN O\nb O\n")
    with pytest.raises(DataFormatError, match=r":2: expected 3 columns"):
        read_conll(path, lang="yor", id_prefix="x")


def test_read_conll_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Ìbàdàn B-LOC\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_conll(path, lang="yor", id_prefix="x")


@pytest.mark.parametrize(("policy", "expected"), [("repair", ("O", "B-PER", "I-PER")), ("drop", ("O", "O", "O"))])
def test_read_conll_orphan_policy_is_applied_and_counted(tmp_path: Path, policy: str, expected: tuple[str, ...]) -> None:
    path = write(tmp_path, "a O\nb I-PER\nc I-PER\n")
    sentences, report = read_conll(path, lang="yor", id_prefix="x", orphan_policy=policy)  # type: ignore[arg-type]
    assert sentences[0].tags == expected
    if policy == "repair":
        assert report.n_repairs == 1 and report.repairs[0].line == 2
    else:
        assert report.n_repairs == 2  # the second I-PER is an orphan once the first is dropped


def test_read_conll_orphan_policy_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a O\n\nb O\nc I-LOC\n")
    with pytest.raises(DataFormatError, match=r":4, sentence x/1: orphan tag 'I-LOC'"):
        read_conll(path, lang="yor", id_prefix="x", orphan_policy="error")


def test_write_conll_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, "Ọ̀gbẹ́ni O\nAdé B-PER\n\nÈkó B-LOC\n")
    sentences, _ = read_conll(path, lang="yor", id_prefix="x")
    out = write_conll(tmp_path / "out" / "o.txt", sentences)
    again, _ = read_conll(out, lang="yor", id_prefix="x")
    assert again == sentences


def test_read_conll_matches_manifest_counts_on_every_real_file(data_dir: Path) -> None:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    checked = 0
    for relative, info in manifest.items():
        if not relative.endswith(".txt") or "sentences" not in info:
            continue
        records = list(iter_conll_records(data_dir / relative))
        assert len(records) == info["sentences"], relative
        assert sum(len(r.tokens) for r in records) == info["tokens"], relative
        checked += 1
    assert checked >= 40


def test_read_conll_repairs_exactly_the_orphans_documented_for_masakhaner(data_dir: Path) -> None:
    # The data README's per-file table lists "orphan I-: N" anomalies; every one must be repaired
    # and counted, and no other tag may be touched.
    documented: dict[tuple[str, str], int] = {}
    for line in (data_dir / "masakhaner2" / "README.md").read_text().splitlines():
        match = re.match(r"\|\s*(\w+)\s*\|\s*(train|dev|test)\s*\|.*orphan I-: (\d+)", line)
        if match:
            documented[(match.group(1), match.group(2))] = int(match.group(3))
    assert documented, "README table format changed"
    found = {}
    for path in sorted((data_dir / "masakhaner2").glob("*/*.txt")):
        _, report = read_conll(path, lang=path.parent.name, id_prefix="m")
        if report.n_repairs:
            found[(path.parent.name, path.stem)] = report.n_repairs
    assert found == documented
