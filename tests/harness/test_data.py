from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.data import Sentence, Span, iob2_from_spans, is_valid_iob2, orphan_positions, spans_from_iob2, tag_errors
from harness.errors import DataFormatError

LABELS = ["PER", "ORG", "LOC", "DATE"]
any_tags = st.lists(st.sampled_from(["O"] + [f"{p}-{l}" for p in "BI" for l in LABELS]), max_size=30)


@st.composite
def span_sets(draw: st.DrawFn) -> tuple[list[Span], int]:
    length = draw(st.integers(0, 30))
    spans, i = [], 0
    while i < length:
        if draw(st.booleans()):
            end = draw(st.integers(i + 1, min(length, i + 5)))
            spans.append(Span(i, end, draw(st.sampled_from(LABELS))))
            i = end
        else:
            i += 1
    return spans, length


@given(span_sets())
def test_spans_from_iob2_inverts_iob2_from_spans(case: tuple[list[Span], int]) -> None:
    spans, length = case
    tags = iob2_from_spans(spans, length)
    assert spans_from_iob2(tags) == sorted(spans)
    assert is_valid_iob2(tags)


@given(any_tags)
def test_spans_from_iob2_never_starts_a_span_at_an_i_tag(tags: list[str]) -> None:
    for span in spans_from_iob2(tags):
        assert tags[span.start] == f"B-{span.label}"
        assert all(t == f"I-{span.label}" for t in tags[span.start + 1 : span.end])


def test_spans_from_iob2_ignores_orphan_i_tags() -> None:
    assert spans_from_iob2(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]) == [Span(3, 4, "LOC")]


def test_spans_from_iob2_splits_adjacent_b_tags() -> None:
    assert spans_from_iob2(["B-PER", "B-PER", "I-PER"]) == [Span(0, 1, "PER"), Span(1, 3, "PER")]


def test_orphan_positions_finds_type_changes() -> None:
    assert orphan_positions(["B-PER", "I-LOC", "I-LOC", "O", "I-PER"]) == [1, 4]


def test_sentence_rejects_length_mismatch_naming_the_sentence() -> None:
    with pytest.raises(DataFormatError, match=r"sentence x/1: 2 tokens but 1 tags"):
        Sentence("x/1", "yor", ("a", "b"), ("O",))


def test_sentence_rejects_orphan_tag_with_position() -> None:
    with pytest.raises(DataFormatError, match=r"token 1: 'I-LOC' continues no LOC span"):
        Sentence("x/2", "yor", ("a", "b"), ("B-PER", "I-LOC"))


def test_sentence_rejects_whitespace_inside_tokens() -> None:
    with pytest.raises(DataFormatError, match="contains whitespace"):
        Sentence("x/3", "yor", ("a b",), ("O",))


def test_sentence_accepts_invisible_characters_found_in_real_tokens() -> None:
    # U+0085 (NEL) and U+200B occur inside MasakhaNER tokens; they are not token separators.
    s = Sentence("x/4", "ewe", ("a\x85b", "c\u200bd"), ("O", "O"))
    assert len(s) == 2


def test_sentence_is_frozen_and_hashable() -> None:
    s = Sentence("x/5", "hau", ["Kano"], ["B-LOC"])
    assert isinstance(s.tokens, tuple) and hash(s) == hash(Sentence("x/5", "hau", ("Kano",), ("B-LOC",)))
    with pytest.raises(AttributeError):
        s.lang = "yor"  # type: ignore[misc]


def test_span_rejects_empty_range() -> None:
    with pytest.raises(DataFormatError):
        Span(3, 3, "PER")


def test_iob2_from_spans_rejects_overlap() -> None:
    with pytest.raises(DataFormatError, match="overlaps"):
        iob2_from_spans([Span(0, 2, "PER"), Span(1, 3, "LOC")], 4)


def test_tag_errors_reports_malformed_tags() -> None:
    assert tag_errors(["B-PER", "X-PER"]) == ["token 1: 'X-PER' is not O, B-<type> or I-<type>"]
