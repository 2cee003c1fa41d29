"""Alignment-heuristic projection: García-Ferrero rules and the Politov variant (systems.md §2a/§2b)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.data import Span, iob2_from_spans
from harness.errors import ConfigError
from systems.projection.alignment import merge_runs, project_by_alignment, runs

WORDS = ["w"] * 12


def test_garcia_drops_entity_without_links() -> None:
    assert project_by_alignment([Span(0, 1, "PER")], WORDS[:3], [(1, 1)]) == []


def test_garcia_ignores_punctuation_targets() -> None:
    tgt = ["Ana", ",", "vino"]
    assert project_by_alignment([Span(0, 1, "PER")], tgt, [(0, 0), (0, 1)]) == [Span(0, 1, "PER")]


def test_garcia_fills_gap_of_one_word() -> None:
    assert project_by_alignment([Span(0, 2, "ORG")], WORDS, [(0, 2), (1, 4)]) == [Span(2, 5, "ORG")]


def test_garcia_merges_two_word_runs_across_one_word_gap_paper_intent() -> None:
    # Runs [1,2] and [4,5]: the reference code's bound last-first <= 2 would refuse; the intent merges.
    spans = project_by_alignment([Span(0, 4, "ORG")], WORDS, [(0, 1), (1, 2), (2, 4), (3, 5)])
    assert spans == [Span(1, 6, "ORG")]


def test_garcia_keeps_largest_run_first_on_ties() -> None:
    assert project_by_alignment([Span(0, 2, "LOC")], WORDS, [(0, 1), (1, 7)]) == [Span(1, 2, "LOC")]
    assert project_by_alignment([Span(0, 3, "LOC")], WORDS, [(0, 1), (1, 7), (2, 8)]) == [Span(7, 9, "LOC")]


def test_garcia_collision_same_type_takes_union() -> None:
    spans = project_by_alignment([Span(0, 1, "LOC"), Span(2, 3, "LOC")], WORDS, [(0, 3), (0, 4), (2, 4), (2, 5)])
    assert spans == [Span(3, 6, "LOC")]


def test_garcia_collision_different_type_keeps_longer_and_later_on_tie() -> None:
    longer = project_by_alignment([Span(0, 1, "PER"), Span(2, 3, "ORG")], WORDS, [(0, 3), (0, 4), (2, 4)])
    assert longer == [Span(3, 5, "PER")]
    tie = project_by_alignment([Span(0, 1, "PER"), Span(2, 3, "ORG")], WORDS, [(0, 4), (2, 4)])
    assert tie == [Span(4, 5, "ORG")]


def test_politov_length_ratio_rejects_short_run() -> None:
    # A 2-word entity aligned to one word: 1/2 = 0.5 <= 0.8, dropped (García keeps it).
    assert project_by_alignment([Span(0, 2, "PER")], WORDS, [(0, 3)], method="politov") == []
    assert project_by_alignment([Span(0, 2, "PER")], WORDS, [(0, 3)], method="garcia") == [Span(3, 4, "PER")]


def test_politov_labels_every_surviving_run() -> None:
    spans = project_by_alignment([Span(0, 1, "LOC")], WORDS, [(0, 2), (0, 7)], method="politov")
    assert spans == [Span(2, 3, "LOC"), Span(7, 8, "LOC")]


def test_politov_later_entity_overwrites_and_remainder_stays_a_span() -> None:
    links = [(0, 2), (0, 3), (0, 4), (1, 4), (1, 5)]
    spans = project_by_alignment([Span(0, 1, "ORG"), Span(1, 2, "PER")], WORDS, links, method="politov", length_ratio=0.5)
    assert spans == [Span(2, 4, "ORG"), Span(4, 6, "PER")]


def test_politov_only_i_blocks_merge_at_repeated_entity_start() -> None:
    links = [(0, 1), (1, 2), (0, 4), (1, 5)]
    merged = project_by_alignment([Span(0, 2, "PER")], WORDS, links, method="politov")
    assert merged == [Span(1, 6, "PER")]
    split = project_by_alignment([Span(0, 2, "PER")], WORDS, links, method="politov", only_i=True)
    assert split == [Span(1, 3, "PER"), Span(4, 6, "PER")]


def test_politov_top_k_and_skip_labelled() -> None:
    links = [(0, 1), (0, 5), (0, 6)]
    assert project_by_alignment([Span(0, 1, "LOC")], WORDS, links, method="politov", top_k=1, fill_gap=0) == [Span(5, 7, "LOC")]
    skip = project_by_alignment([Span(0, 1, "LOC"), Span(1, 2, "PER")], WORDS, [(0, 2), (1, 2)], method="politov", skip_labelled=True)
    assert skip == [Span(2, 3, "LOC")]


def test_project_by_alignment_rejects_unknown_method() -> None:
    with pytest.raises(ConfigError, match="garcia, politov"):
        project_by_alignment([], [], [], method="awesome")


def test_runs_and_merge_runs_examples() -> None:
    assert runs([]) == []
    assert merge_runs([[0], [3]], 1) == [[0], [3]]
    assert merge_runs([[0], [2]], 1, no_merge_at=frozenset({2})) == [[0], [2]]


problem = st.integers(1, 8).flatmap(
    lambda n_src: st.integers(1, 10).flatmap(
        lambda n_tgt: st.tuples(
            st.just(n_src),
            st.just(n_tgt),
            st.sets(st.tuples(st.integers(0, n_src - 1), st.integers(0, n_tgt - 1)), max_size=15),
            st.lists(st.sampled_from(["PER", "ORG", "LOC"]), min_size=n_src, max_size=n_src),
            st.lists(st.booleans(), min_size=n_src, max_size=n_src),
        )
    )
)


@given(problem, st.sampled_from(["garcia", "politov"]))
def test_projection_output_is_valid_and_nonoverlapping(case: tuple, method: str) -> None:  # type: ignore[type-arg]
    n_src, n_tgt, links, labels, starts = case
    # Source entities: break the source at every True into single-type spans.
    spans, i = [], 0
    while i < n_src:
        j = i + 1
        while j < n_src and not starts[j]:
            j += 1
        spans.append(Span(i, j, labels[i]))
        i = j
    out = project_by_alignment(spans, ["w"] * n_tgt, sorted(links), method=method)
    iob2_from_spans(out, n_tgt)  # raises on overlap or out of range
    assert all(s.label in set(labels) for s in out)
    if method == "garcia":
        assert len(out) <= len(spans)
