"""Candidates, scores and matching solvers (systems.md §3): exact == brute force, greedy <= exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import Span
from harness.errors import ConfigError, DataFormatError
from systems.projection.ilp import (
    Matching,
    ProjectionProblem,
    SolverStats,
    alignment_scores,
    build_problem,
    fuse,
    ner_scores,
    ngram_candidates,
    project_by_ilp,
    solve_brute_force,
    solve_exact,
    solve_greedy,
    solve_milp,
    solve_pulp,
    solve_pulp_batch,
    translation_scores,
)


def random_problem(rng: np.random.Generator, *, max_tokens: int = 8, max_entities: int = 4, density: float = 0.4) -> ProjectionProblem:
    n = int(rng.integers(1, max_tokens + 1))
    k = int(rng.integers(1, max_entities + 1))
    candidates = ngram_candidates(n, 4)
    scores = rng.random((k, len(candidates))) * (rng.random((k, len(candidates))) < density)
    # Ties are where solvers disagree on *which* optimum; make some.
    scores = np.round(scores, 1)
    return ProjectionProblem(tuple(candidates), scores, tuple(["PER"] * k))


def test_exact_equals_brute_force_on_thousands_of_random_problems() -> None:
    rng = np.random.default_rng(20250101)
    for _ in range(3000):
        problem = random_problem(rng)
        exact, brute = solve_exact(problem), solve_brute_force(problem)
        assert exact.is_feasible(problem)
        assert exact.objective == pytest.approx(brute.objective, abs=1e-9), problem


def test_greedy_is_feasible_and_never_beats_exact() -> None:
    rng = np.random.default_rng(7)
    below = 0
    for _ in range(3000):
        problem = random_problem(rng, max_entities=5, density=0.6)
        greedy, exact = solve_greedy(problem), solve_exact(problem)
        assert greedy.is_feasible(problem)
        assert greedy.objective <= exact.objective + 1e-9
        below += greedy.objective < exact.objective - 1e-9
    assert below > 0  # the instances are hard enough for greedy to lose sometimes


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_exact_matches_scipy_milp_on_larger_problems(seed: int) -> None:
    problem = random_problem(np.random.default_rng(seed), max_tokens=14, max_entities=7, density=0.3)
    assert solve_exact(problem).objective == pytest.approx(solve_milp(problem).objective, abs=1e-9)


def test_exact_falls_back_to_milp_for_large_components() -> None:
    rng = np.random.default_rng(3)
    problem = random_problem(rng, max_tokens=8, max_entities=4, density=1.0)
    while problem.n_entities < 3:
        problem = random_problem(rng, max_tokens=8, max_entities=4, density=1.0)
    stats: list[SolverStats] = []
    result = solve_exact(problem, max_dp_entities=1, stats=stats)
    assert stats[0].milp_components >= 1
    assert result.objective == pytest.approx(solve_brute_force(problem).objective)


def test_pulp_single_and_batched_agree_with_exact() -> None:
    rng = np.random.default_rng(11)
    problems = [random_problem(rng) for _ in range(8)]
    batched = solve_pulp_batch(problems)
    for problem, together in zip(problems, batched, strict=True):
        expected = solve_exact(problem).objective
        assert together.objective == pytest.approx(expected)
        assert together.is_feasible(problem)
    assert solve_pulp(problems[0]).objective == pytest.approx(solve_exact(problems[0]).objective)


def test_solvers_handle_problem_without_positive_scores() -> None:
    problem = ProjectionProblem(((0, 1),), np.zeros((2, 1)), ("PER", "LOC"))
    for solve in (solve_exact, solve_greedy, solve_milp, solve_pulp, solve_brute_force):
        assert solve(problem) == Matching((), 0.0)


def test_greedy_matches_paper_example_where_it_loses() -> None:
    # Entity 0 prefers the long span that blocks entity 1; the optimum gives both a short span.
    problem = ProjectionProblem(((0, 2), (0, 1), (1, 2)), np.array([[0.9, 0.6, 0.0], [0.0, 0.0, 0.6]]), ("A", "B"))
    assert solve_greedy(problem).objective == pytest.approx(0.9)
    assert solve_exact(problem).objective == pytest.approx(1.2)


def test_problem_rejects_mismatched_scores() -> None:
    with pytest.raises(DataFormatError, match="does not match 2 candidates"):
        ProjectionProblem(((0, 1), (1, 2)), np.zeros((1, 3)))


def test_ngram_candidates_respect_range_and_skip_chars() -> None:
    assert ngram_candidates(5, 2, within=(2, 4)) == [(2, 3), (2, 4), (3, 4)]
    assert ngram_candidates(3, 3, tokens=["a", "!", "b"], skip_chars="!?") == [(0, 1), (2, 3)]


def test_alignment_score_is_dice_over_links() -> None:
    scores = alignment_scores([Span(0, 1, "PER"), Span(1, 3, "LOC")], [(0, 1), (1, 3)], [(0, 0), (1, 1), (2, 2)], 3)
    assert scores.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_build_problem_keeps_optimum_inside_aligned_range() -> None:
    problem = build_problem([Span(0, 2, "PER")], ["x"] * 20, [(0, 5), (1, 7)], max_length=10)
    assert min(a for a, _ in problem.candidates) == 5 and max(b for _, b in problem.candidates) == 8
    full = build_problem([Span(0, 2, "PER")], ["x"] * 20, [(0, 5), (1, 7)], candidates=ngram_candidates(20, 10))
    assert solve_exact(problem).objective == pytest.approx(solve_exact(full).objective)


def test_ner_scores_follow_thesis_formula_and_threshold() -> None:
    index = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3, "I-LOC": 4}
    p = np.array([[0.0, 0.6, 0.0, 0.4, 0.0], [0.0, 0.0, 0.5, 0.0, 0.5], [0.98, 0.0, 0.0, 0.0, 0.02]])
    scores = ner_scores(["PER", "LOC"], [(0, 2), (2, 3)], p, index)
    assert scores[0, 0] == pytest.approx(1.15 * (0.6 + 0.5) / 2)
    assert scores[1, 0] == pytest.approx(1.15 * (0.4 + 0.5) / 2)
    assert scores[0, 1] == 0.0  # 0.0 < 0.05 zeroed
    spans_variant = ner_scores(["LOC"], [(0, 2)], p, index, any_label=True)
    assert spans_variant[0, 0] == pytest.approx(scores[0, 0])


def test_translation_scores_and_fusion() -> None:
    sim = translation_scores(["Kano", "Bello"], ["Kano", "Kanu"], lambda a, b: [1.0 if x == y else 0.05 for x, y in zip(a, b, strict=True)])
    assert sim.tolist() == [[1.0, 0.0], [0.0, 0.0]]
    fused = fuse({"align": np.array([[0.5]]), "nmt": np.array([[1.0]])}, {"align": 0.5, "nmt": 1.0})
    assert fused.tolist() == [[1.25]]
    with pytest.raises(ConfigError, match="ner"):
        fuse({"align": np.zeros((1, 1))}, {"ner": 1.0})


def test_project_by_ilp_fusion_can_change_the_choice() -> None:
    source = [Span(0, 1, "PER")]
    links = [(0, 0), (0, 1)]
    plain = project_by_ilp(source, ["Bello", "ya"], links)
    assert plain == [Span(0, 2, "PER")]
    problem = build_problem(source, ["Bello", "ya"], links)
    ner = np.array([[1.0 if c == (0, 1) else 0.0 for c in problem.candidates]])
    fused = project_by_ilp(source, ["Bello", "ya"], links, extra_scores={"ner": ner}, weights={"align": 0.5, "ner": 0.5})
    assert fused == [Span(0, 1, "PER")]


def test_project_by_ilp_rejects_unknown_solver() -> None:
    with pytest.raises(ConfigError, match="exact, greedy, milp, pulp"):
        project_by_ilp([], [], [], solver="gurobi")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_project_by_ilp_outputs_at_most_one_span_per_entity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_src, n_tgt = int(rng.integers(1, 8)), int(rng.integers(1, 12))
    links = {(int(rng.integers(n_src)), int(rng.integers(n_tgt))) for _ in range(int(rng.integers(0, 12)))}
    cuts = sorted(set(rng.integers(1, n_src + 1, size=3).tolist()) | {n_src})
    spans, start = [], 0
    for end in cuts:
        if end > start:
            spans.append(Span(start, end, "LOC"))
            start = end
    for solver in ("exact", "greedy"):
        out = project_by_ilp(spans, ["w"] * n_tgt, sorted(links), solver=solver)
        assert len(out) <= len(spans)
        assert all(a.end <= b.start for a, b in zip(out, out[1:], strict=False))


# --- Target-NER candidates with fused scores ------------------------------------------------------

TAG_NAMES = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")


@st.composite
def ner_cases(draw: st.DrawFn) -> tuple[list[Span], list[str], list[tuple[int, int]], np.ndarray]:
    n_src, n_tgt = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    starts = sorted(draw(st.sets(st.integers(0, n_src - 1), min_size=1, max_size=3)))
    spans = [Span(a, min(b, n_src), draw(st.sampled_from(["PER", "LOC"]))) for a, b in zip(starts, [*starts[1:], n_src], strict=True)]
    links = sorted(draw(st.sets(st.tuples(st.integers(0, n_src - 1), st.integers(0, n_tgt - 1)), max_size=10)))
    raw = np.array(draw(st.lists(st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5), min_size=n_tgt, max_size=n_tgt)))
    return spans, [f"t{j}" for j in range(n_tgt)], links, raw / raw.sum(axis=1, keepdims=True)


@settings(max_examples=200, deadline=None)
@given(ner_cases())
def test_ner_candidate_projection_keeps_matching_invariants(case: tuple[list[Span], list[str], list[tuple[int, int]], np.ndarray]) -> None:
    from systems.projection.ilp import ner_candidates, project_by_ilp_with_ner

    spans, target, links, probs = case
    for candidates in ("ner", "ngram+ner"):
        projected = project_by_ilp_with_ner(spans, target, links, probs, TAG_NAMES, candidates=candidates)
        assert len(projected) <= len(spans)
        covered = [j for s in projected for j in range(s.start, s.end)]
        assert len(covered) == len(set(covered)), "projected spans overlap"
        assert all(s.label in {"PER", "LOC"} for s in projected)
        if candidates == "ner":
            assert {(s.start, s.end) for s in projected} <= set(ner_candidates(probs, TAG_NAMES))
        greedy = project_by_ilp_with_ner(spans, target, links, probs, TAG_NAMES, candidates=candidates, solver="greedy")
        assert len(greedy) <= len(spans)


def test_ner_scores_rescue_an_entity_the_alignment_misses() -> None:
    from systems.projection.ilp import project_by_ilp_with_ner

    # "Ana Pérez" is linked only to "Ana": alignment alone projects one word; the NER span adds "Pérez".
    probs = np.array([[0.9, 0.02, 0.02, 0.03, 0.03], [0.05, 0.0, 0.0, 0.9, 0.05], [0.05, 0.0, 0.0, 0.05, 0.9]])
    spans = [Span(0, 2, "PER")]
    assert project_by_ilp(spans, ["la", "Ana", "Pérez"], [(0, 1)]) == [Span(1, 2, "PER")]
    assert project_by_ilp_with_ner(spans, ["la", "Ana", "Pérez"], [(0, 1)], probs, TAG_NAMES) == [Span(1, 3, "PER")]


def test_ner_candidate_projection_refuses_bad_input() -> None:
    from systems.projection.ilp import project_by_ilp_with_ner

    with pytest.raises(ConfigError, match="candidates must be one of ner, ngram\\+ner"):
        project_by_ilp_with_ner([], ["a"], [], np.ones((1, 5)) / 5, TAG_NAMES, candidates="spans")
    with pytest.raises(ConfigError, match="2 rows of NER probabilities for 1 target tokens"):
        project_by_ilp_with_ner([], ["a"], [], np.ones((2, 5)) / 5, TAG_NAMES)


def test_intrinsic_evaluation_needs_a_target_model_for_ner_methods() -> None:
    from systems.projection.evaluate import evaluate_projection

    with pytest.raises(ConfigError, match="ilp-ner need a target NER model"):
        evaluate_projection(["ilp", "ilp-ner"], "surface")
