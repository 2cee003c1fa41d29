"""EasyProject markers, normalisation, gates and type assignment (systems.md §1)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from harness.data import Sentence, Span
from systems.projection.easyproject import (
    ProjectionReport,
    assign_types,
    decode,
    mark,
    normalise,
    parse_markers,
    project_easyproject,
)
from systems.translators import Translation


def sentence(tokens: str, tags: str) -> Sentence:
    return Sentence("src/eng/0", "eng", tuple(tokens.split()), tuple(tags.split()))


def test_mark_handles_adjacent_entities() -> None:
    assert mark(["A", "B"], [Span(0, 1, "PER"), Span(1, 2, "LOC")]) == ["[", "A", "]", "[", "B", "]"]


def test_normalise_collapses_doubled_and_spaced_brackets() -> None:
    assert normalise("[[ a ]] [ [b] ] 【c】 &quot;d&quot;") == '[ a ] [b] [c] "d"'


@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=8), st.data())
def test_parse_markers_inverts_mark(tokens: list[str], data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(tokens)), max_size=4)))
    spans = [Span(a, b, "X") for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
    parsed = parse_markers(mark(tokens, spans))
    assert parsed == (tokens, [(s.start, s.end) for s in spans])


def test_parse_markers_rejects_bad_nesting() -> None:
    assert parse_markers(["]", "a"]) is None
    assert parse_markers(["[", "a"]) is None


def test_assign_types_copies_types_for_single_type_sentences() -> None:
    assert assign_types(["x", "y"], [("A", "PER"), ("B", "PER")], ["?", "?"]) == ["PER", "PER"]


def test_assign_types_exact_then_fuzzy_then_leftover() -> None:
    entities = [("John Smith", "PER"), ("New York", "LOC"), ("United Nations", "ORG")]
    translated = ["John Smith", "Nueva York", "Naciones Unidas"]
    # exact translated; fuzzy translated ("nueva yorke"); the third unknown takes the one label left.
    assert assign_types(["Nueva Yorke", "john smith", "ONU"], entities, translated) == ["LOC", "PER", "ORG"]


def test_assign_types_fuzzy_against_english_entity() -> None:
    assert assign_types(["Kanoo", "Bello"], [("Bello", "PER"), ("Kano", "LOC")], ["zz", "qq"]) == ["LOC", "PER"]


def test_assign_types_two_unknowns_drop() -> None:
    assert assign_types(["qqq", "zzz"], [("Bello", "PER"), ("Kano", "LOC")], ["ab", "cd"]) is None


def test_decode_gates_report_reasons() -> None:
    src = sentence("Bello visited Kano", "B-PER O B-LOC")
    kwargs = {"target_id": "t/0", "target_lang": "hau"}
    assert decode(src, "[Bello] ya ziyarci Kano", ["Bello", "Kano"], **kwargs) == (None, "marker-count")
    assert decode(src, "] Bello [ ya [ Kano ]", ["Bello", "Kano"], **kwargs) == (None, "span-count")
    assert decode(src, "[ ] Bello [ya Kano]", ["Bello", "Kano"], **kwargs)[1] == "span-count"
    assert decode(src, "[", ["Bello", "Kano"], **kwargs) == (None, "empty-translation")
    assert decode(src, "[qq] ya [zz]", ["Bello", "Kano"], **kwargs) == (None, "ambiguous-type")
    kept, reason = decode(src, "[[Kano]] ne [Bello]", ["Bello", "Kano"], **kwargs)
    assert reason is None and kept is not None
    assert kept.tags == ("B-LOC", "O", "B-PER") and kept.id == "t/0" and kept.lang == "hau"


def test_decode_label_mismatch_gate() -> None:
    # Both brackets match the PER entity: the label multiset differs from the source's -> drop.
    src = sentence("Bello visited Kano", "B-PER O B-LOC")
    assert decode(src, "[Bello] ya [Bello]", ["Bello", "Kano"], target_id="t", target_lang="hau") == (None, "label-mismatch")


class MarkerEatingTranslator:
    """A fake translator: copies tokens but loses the markers of every second sentence."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def translate(self, sentences: Sequence[Sequence[str]], *, src_lang: str, tgt_lang: str) -> list[Translation]:
        out = []
        for k, tokens in enumerate(sentences):
            kept = [t for t in tokens if k % 2 == 0 or t not in "[]"]
            out.append(Translation(tuple(kept), None, " ".join(kept)))
        self.calls += 1
        return out


def test_project_easyproject_counts_drops_never_hides_them() -> None:
    sources = [
        sentence("Bello visited Kano", "B-PER O B-LOC"),
        sentence("Amina works", "B-PER O"),
        sentence("It rains", "O O"),
    ]
    translator = MarkerEatingTranslator()
    kept, report = project_easyproject(sources, translator, tgt_lang="hau")
    assert translator.calls == 2  # marked sentences + entities alone
    assert [s.tags for s in kept] == [("B-PER", "O", "B-LOC"), ("O", "O")]
    assert report.as_dict() == {"total": 3, "kept": 2, "dropped_marker-count": 1}


def test_projection_report_merges() -> None:
    a, b = ProjectionReport(), ProjectionReport()
    a.add(None)
    b.add("span-count")
    assert a.merge(b).as_dict() == {"total": 2, "kept": 1, "dropped_span-count": 1}
