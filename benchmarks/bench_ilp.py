"""ILP projection solvers on real projection problems (Europarl-NER eng→deu, eflomal links).

Problems: the English gold spans of every sentence against its German translation, candidates
built as in ``project_by_ilp`` (n-grams up to M = 10 inside each entity's aligned range), and a
harder variant with *all* n-grams of the sentence as candidates (what the paper code does).

Compared on the same problems, per problem set:
- ``exact``: our default exact path (component split + bitmask DP, milp fallback);
- ``milp``: scipy.optimize.milp (HiGHS in-process), one call per sentence;
- ``pulp-batched``: one pulp+CBC model holding all sentences;
- ``pulp-per-sentence``: one pulp+CBC call per sentence (the baseline the 10x target refers to);
- ``greedy``: the paper's approximation; its objective as a fraction of the optimum is recorded in
  ``extra_info`` (never asserted as a time).

Run: pytest benchmarks/bench_ilp.py --benchmark-only --benchmark-group-by=group
"""

from __future__ import annotations

from pathlib import Path

import pytest

from systems.aligners import EflomalAligner
from systems.projection.evaluate import load_parallel_ner
from systems.projection.ilp import (
    ProjectionProblem,
    build_problem,
    ngram_candidates,
    solve_exact,
    solve_greedy,
    solve_milp,
    solve_pulp,
    solve_pulp_batch,
)

N_PROBLEMS = 300  # per set; pulp per sentence costs ~15-20 ms each


@pytest.fixture(scope="module")
def problem_sets(data_dir: Path) -> dict[str, list[ProjectionProblem]]:
    source, target = load_parallel_ner("europarl_ner", "deu", data_dir=data_dir)
    alignments = EflomalAligner().align([s.tokens for s in source], [t.tokens for t in target])
    restricted, full = [], []
    for s, t, links in zip(source, target, alignments, strict=True):
        if not s.spans:
            continue
        problem = build_problem(s.spans, t.tokens, links)
        if problem.positive_pairs():
            restricted.append(problem)
            full.append(build_problem(s.spans, t.tokens, links, candidates=ngram_candidates(len(t), 10)))
    return {"restricted": restricted[:N_PROBLEMS], "all-ngrams": full[:N_PROBLEMS]}


def _objectives(solutions: list) -> list[float]:  # type: ignore[type-arg]
    return [m.objective for m in solutions]


SETS = ["restricted", "all-ngrams"]


@pytest.mark.parametrize("which", SETS)
def test_bench_exact(benchmark, problem_sets, which: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"ilp-{which}"
    problems = problem_sets[which]
    solutions = benchmark(lambda: [solve_exact(p) for p in problems])
    reference = _objectives([solve_milp(p) for p in problems])
    assert _objectives(solutions) == pytest.approx(reference, abs=1e-9)
    benchmark.extra_info["problems"] = len(problems)
    benchmark.extra_info["mean_pairs"] = sum(len(p.positive_pairs()) for p in problems) / len(problems)


@pytest.mark.parametrize("which", SETS)
def test_bench_milp_per_sentence(benchmark, problem_sets, which: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"ilp-{which}"
    problems = problem_sets[which]
    benchmark.pedantic(lambda: [solve_milp(p) for p in problems], rounds=2, iterations=1)


@pytest.mark.parametrize("which", SETS)
def test_bench_pulp_batched(benchmark, problem_sets, which: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"ilp-{which}"
    problems = problem_sets[which]
    solutions = benchmark.pedantic(lambda: solve_pulp_batch(problems), rounds=2, iterations=1)
    assert _objectives(solutions) == pytest.approx(_objectives([solve_exact(p) for p in problems]), abs=1e-6)


@pytest.mark.parametrize("which", SETS)
def test_bench_pulp_per_sentence(benchmark, problem_sets, which: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"ilp-{which}"
    problems = problem_sets[which]
    solutions = benchmark.pedantic(lambda: [solve_pulp(p) for p in problems], rounds=1, iterations=1)
    assert _objectives(solutions) == pytest.approx(_objectives([solve_exact(p) for p in problems]), abs=1e-6)


@pytest.mark.parametrize("which", SETS)
def test_bench_greedy(benchmark, problem_sets, which: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"ilp-{which}"
    problems = problem_sets[which]
    solutions = benchmark(lambda: [solve_greedy(p) for p in problems])
    exact = _objectives([solve_exact(p) for p in problems])
    greedy = _objectives(solutions)
    assert all(g <= e + 1e-9 for g, e in zip(greedy, exact, strict=True))
    benchmark.extra_info["objective_fraction_of_optimum"] = sum(greedy) / sum(exact)
    benchmark.extra_info["problems_below_optimum"] = sum(g < e - 1e-9 for g, e in zip(greedy, exact, strict=True))
