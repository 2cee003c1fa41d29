"""Candidate spans + scores + matching (Politov, Shkalikov, Jäkel, Färber 2025; Shkalikov thesis; systems.md §3).

A :class:`ProjectionProblem` has ``k`` source entities, ``n`` target candidate spans and a score
matrix ``C`` (k × n). A matching picks pairs (s, t) maximising the summed score subject to

1. each source entity is matched at most once;
2. no two chosen candidates overlap (and a candidate is chosen at most once).

The paper writes (2) as one constraint per *pair* of overlapping candidates. Candidates are
intervals, so pairwise overlap is the same as sharing a token, and we use the equivalent, much
smaller clique form: for every target token, at most one chosen candidate covers it. The integer
optimum is identical.

Solvers:

- :func:`solve_exact`: our default exact path. The problem splits into independent components
  (entities whose candidate ranges cannot overlap never interact); each component with k ≤ 16
  entities is solved by dynamic programming over target positions × the set of entities already
  used (weighted interval scheduling with "each colour once"), vectorised over the 2^k masks. Larger
  components fall back to ``scipy.optimize.milp`` (HiGHS). See ``benchmarks/bench_ilp.py``.
- :func:`solve_greedy`: the paper's default approximation.
- :func:`solve_pulp` (one CBC call per problem), :func:`solve_pulp_batch` (many problems per call),
  :func:`solve_milp` (scipy/HiGHS, in-process), :func:`solve_brute_force` (tests only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.data import Span
from harness.errors import ConfigError, DataFormatError

Link = tuple[int, int]
Interval = tuple[int, int]  # [start, end) over target tokens


@dataclass(frozen=True)
class ProjectionProblem:
    """Scores of every (source entity, target candidate) pair.

    Attributes:
        candidates: target spans ``(start, end_exclusive)``.
        scores: array ``[n_entities, n_candidates]``; pairs scoring ``<= 0`` are never chosen.
        labels: the source entities' types (carried to the projected spans).
    """

    candidates: tuple[Interval, ...]
    scores: np.ndarray
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=float)
        if scores.ndim != 2 or scores.shape[1] != len(self.candidates):
            raise DataFormatError(f"score matrix of shape {scores.shape} does not match {len(self.candidates)} candidates")
        if self.labels and len(self.labels) != scores.shape[0]:
            raise DataFormatError(f"{len(self.labels)} labels for {scores.shape[0]} entities")
        for a, b in self.candidates:
            if not 0 <= a < b:
                raise DataFormatError(f"candidate [{a}, {b}) is not a non-empty span")
        object.__setattr__(self, "scores", scores)

    @property
    def n_entities(self) -> int:
        return int(self.scores.shape[0])

    def positive_pairs(self) -> list[tuple[int, int, float]]:
        """``(entity, candidate, score)`` for every pair with a positive score."""
        rows, cols = np.nonzero(self.scores > 0)
        return [(int(s), int(t), float(self.scores[s, t])) for s, t in zip(rows, cols, strict=True)]


@dataclass(frozen=True, slots=True)
class Matching:
    """Chosen ``(entity, candidate)`` pairs and their total score."""

    pairs: tuple[tuple[int, int], ...]
    objective: float

    def is_feasible(self, problem: ProjectionProblem) -> bool:
        """Both constraints hold and every chosen pair has a positive score."""
        entities = [s for s, _ in self.pairs]
        if len(set(entities)) != len(entities):
            return False
        chosen = sorted(problem.candidates[t] for _, t in self.pairs)
        if any(b1 > a2 for (_, b1), (a2, _) in zip(chosen, chosen[1:], strict=False)):
            return False
        return all(problem.scores[s, t] > 0 for s, t in self.pairs)


@dataclass(frozen=True)
class SolverStats:
    """What :func:`solve_exact` did, for benchmarks."""

    components: int = 0
    dp_components: int = 0
    milp_components: int = 0
    largest_component: int = 0
    per_component: list[int] = field(default_factory=list)


# --- Candidates and scores ------------------------------------------------------------------------


def ngram_candidates(
    n_tokens: int,
    max_length: int = 10,
    *,
    within: Interval | None = None,
    tokens: Sequence[str] | None = None,
    skip_chars: str = "",
) -> list[Interval]:
    """All target spans of 1..``max_length`` words (optionally inside ``within``).

    The thesis bounds the length at M = 10 (the 0.99 quantile of entity lengths); the paper code is
    unbounded and skips spans containing ``!`` or ``?`` (pass ``skip_chars="!?"`` and ``tokens``).

    >>> ngram_candidates(3, 2)
    [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]
    """
    lo, hi = within if within is not None else (0, n_tokens)
    bad = [any(c in skip_chars for c in tok) for tok in tokens] if tokens is not None and skip_chars else None
    out = []
    for a in range(lo, hi):
        for b in range(a + 1, min(hi, a + max_length) + 1):
            if bad is not None and bad[b - 1]:
                break
            out.append((a, b))
    return out


def alignment_scores(
    source_spans: Sequence[Span], candidates: Sequence[Interval], alignment: Iterable[Link], n_target: int
) -> np.ndarray:
    """``c(s, t) = 2·A(s,t) / (|s| + |t|)`` with A the number of links between the two spans.

    The thesis omits the factor 2 (a constant scale that changes neither the exact optimum nor the
    greedy order); we keep the paper's Dice form so scores lie in [0, 1].

    >>> alignment_scores([Span(0, 2, "PER")], [(0, 1), (0, 2), (0, 3)], [(0, 0), (1, 1)], 3).round(3)
    array([[0.667, 1.   , 0.8  ]])
    """
    links = list(alignment)
    counts = np.zeros((len(source_spans), n_target + 1))
    for e, span in enumerate(source_spans):
        for i, j in links:
            if span.start <= i < span.end:
                counts[e, j + 1] += 1
    prefix = np.cumsum(counts, axis=1)
    if not candidates:
        return np.zeros((len(source_spans), 0))
    starts = np.array([a for a, _ in candidates])
    ends = np.array([b for _, b in candidates])
    linked = prefix[:, ends] - prefix[:, starts]
    lengths = np.array([s.length for s in source_spans], dtype=float)[:, None] + (ends - starts)[None, :]
    return np.asarray(2.0 * linked / lengths)


def ner_scores(
    source_labels: Sequence[str],
    candidates: Sequence[Interval],
    probabilities: np.ndarray,
    tag_index: Mapping[str, int],
    *,
    alpha: float = 1.15,
    zero_below: float = 0.05,
    any_label: bool = False,
) -> np.ndarray:
    """The thesis' NER score of each (entity, candidate) pair.

    ``α^{|t|−1} · (p_{t1}(B-l) + Σ_{k>1} p_{tk}(I-l)) / |t|`` with l the entity's type, α = 1.15
    (rewards longer spans slightly), scores below 0.05 zeroed. ``any_label`` is the "spans" variant:
    the maximum over all labels instead of the entity's own.

    Args:
        probabilities: ``[n_tokens, n_tags]`` tag probabilities of a target-language tagger.
        tag_index: tag → column of ``probabilities``.

    >>> p = np.array([[0.1, 0.8, 0.1], [0.1, 0.0, 0.9]])
    >>> ner_scores(["PER"], [(0, 1), (0, 2)], p, {"O": 0, "B-PER": 1, "I-PER": 2}).round(4)
    array([[0.8   , 0.9775]])
    """
    labels = sorted({t[2:] for t in tag_index if t != "O"})
    out = np.zeros((len(source_labels), len(candidates)))
    for c, (a, b) in enumerate(candidates):
        per_label = {}
        for label in labels:
            begin = probabilities[a, tag_index[f"B-{label}"]] if f"B-{label}" in tag_index else 0.0
            inside = probabilities[a + 1 : b, tag_index[f"I-{label}"]].sum() if f"I-{label}" in tag_index else 0.0
            per_label[label] = alpha ** (b - a - 1) * (begin + inside) / (b - a)
        best = max(per_label.values(), default=0.0)
        for e, label in enumerate(source_labels):
            out[e, c] = best if any_label else per_label.get(label, 0.0)
    out[out < zero_below] = 0.0
    return out


def translation_scores(
    source_texts: Sequence[str],
    candidate_texts: Sequence[str],
    similarity: Callable[[Sequence[str], Sequence[str]], Sequence[float]],
    *,
    zero_below: float = 0.1,
) -> np.ndarray:
    """The thesis' translation score: a similarity of every (entity text, candidate text) pair.

    ``similarity(a_list, b_list)`` scores aligned lists; NMTScore-direct is
    :meth:`systems.translators.HFSeq2SeqTranslator.similarity`. Scores below 0.1 are zeroed.

    >>> translation_scores(["Ana"], ["Ana", "fue"], lambda a, b: [float(x == y) for x, y in zip(a, b)])
    array([[1., 0.]])
    """
    left = [s for s in source_texts for _ in candidate_texts]
    right = [c for _ in source_texts for c in candidate_texts]
    values = np.asarray(similarity(left, right), dtype=float) if left else np.zeros(0)
    out = values.reshape(len(source_texts), len(candidate_texts))
    out[out < zero_below] = 0.0
    return out


def fuse(scores: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted sum of score matrices (the thesis' "all_fusion" uses align 0.5, ner 0.5, nmt 1.0).

    >>> fuse({"align": np.ones((1, 2)), "ner": np.array([[0.0, 1.0]])}, {"align": 0.5, "ner": 0.5})
    array([[0.5, 1. ]])
    """
    missing = sorted(set(weights) - set(scores))
    if missing:
        raise ConfigError(f"fusion weights name scores that were not computed: {', '.join(missing)}")
    total = None
    for name, weight in weights.items():
        term = weight * np.asarray(scores[name], dtype=float)
        total = term if total is None else total + term
    if total is None:
        raise ConfigError("fusion needs at least one weighted score")
    return total


def build_problem(
    source_spans: Sequence[Span],
    target_tokens: Sequence[str],
    alignment: Iterable[Link],
    *,
    candidates: str | Sequence[Interval] = "ngram",
    max_length: int = 10,
) -> ProjectionProblem:
    """Candidates and alignment scores for one sentence pair.

    With the alignment score a candidate can only score for an entity if it contains one of the
    entity's aligned words, and the thesis shows that restricting each entity's n-grams to the range
    from its leftmost to its rightmost aligned word keeps the optimum; we generate only those.

    Args:
        candidates: ``"ngram"`` or explicit spans (e.g. spans predicted by a target NER model).
    """
    links = list(alignment)
    n = len(target_tokens)
    if isinstance(candidates, str):
        if candidates != "ngram":
            raise ConfigError(f"candidates must be 'ngram' or a list of spans; got {candidates!r}")
        found: set[Interval] = set()
        for span in source_spans:
            aligned = [j for i, j in links if span.start <= i < span.end]
            if aligned:
                found.update(ngram_candidates(n, max_length, within=(min(aligned), max(aligned) + 1)))
        cands = sorted(found)
    else:
        cands = sorted(set(candidates))
    scores = alignment_scores(source_spans, cands, links, n)
    return ProjectionProblem(tuple(cands), scores, tuple(s.label for s in source_spans))


def spans_from_matching(problem: ProjectionProblem, matching: Matching) -> list[Span]:
    """The projected target spans of a matching, with the source entities' types."""
    return sorted(Span(*problem.candidates[t], problem.labels[s]) for s, t in matching.pairs)


# --- Solvers --------------------------------------------------------------------------------------


def _objective(problem: ProjectionProblem, pairs: Iterable[tuple[int, int]]) -> float:
    return float(sum(problem.scores[s, t] for s, t in pairs))


def solve_greedy(problem: ProjectionProblem) -> Matching:
    """The paper's greedy matching (systems.md §3): take the best remaining pair until none is positive.

    After taking (s, t), entity s and every candidate overlapping t (t included) are removed.
    Ties go to the first pair in row-major order. Zero-score entities stay unprojected.

    >>> p = ProjectionProblem(((0, 1), (0, 2), (1, 2)), np.array([[0.5, 0.9, 0.0], [0.0, 0.0, 0.8]]), ("A", "B"))
    >>> solve_greedy(p)
    Matching(pairs=((0, 1),), objective=0.9)
    """
    c = problem.scores.copy()
    pairs = []
    cands = problem.candidates
    while c.size and c.max() > 0:
        s, t = np.unravel_index(int(np.argmax(c)), c.shape)
        pairs.append((int(s), int(t)))
        c[s, :] = 0.0
        a, b = cands[t]
        for u, (a2, b2) in enumerate(cands):
            if a2 < b and a < b2:
                c[:, u] = 0.0
    return Matching(tuple(sorted(pairs)), _objective(problem, pairs))


def solve_brute_force(problem: ProjectionProblem) -> Matching:
    """Exhaustive search over all feasible matchings (exponential; for tests on tiny problems)."""
    options = [[(t, float(problem.scores[s, t])) for t in range(len(problem.candidates)) if problem.scores[s, t] > 0] for s in range(problem.n_entities)]
    best: tuple[float, tuple[tuple[int, int], ...]] = (0.0, ())

    def search(s: int, used: list[Interval], value: float, chosen: tuple[tuple[int, int], ...]) -> None:
        nonlocal best
        if s == problem.n_entities:
            if value > best[0]:
                best = (value, chosen)
            return
        search(s + 1, used, value, chosen)
        for t, w in options[s]:
            a, b = problem.candidates[t]
            if all(b <= a2 or b2 <= a for a2, b2 in used):
                search(s + 1, [*used, (a, b)], value + w, (*chosen, (s, t)))

    search(0, [], 0.0, ())
    return Matching(tuple(sorted(best[1])), _objective(problem, best[1]))


def _components(problem: ProjectionProblem, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Groups of entities that can interact: their candidate ranges overlap (transitively)."""
    ranges: dict[int, list[int]] = {}
    for s, t, _ in pairs:
        a, b = problem.candidates[t]
        lo, hi = ranges.get(s, [a, b])
        ranges[s] = [min(lo, a), max(hi, b)]
    groups: list[list[int]] = []
    current_hi = -1
    for s, (lo, hi) in sorted(ranges.items(), key=lambda kv: kv[1]):
        if groups and lo < current_hi:
            groups[-1].append(s)
            current_hi = max(current_hi, hi)
        else:
            groups.append([s])
            current_hi = hi
    return groups


def _solve_component_dp(
    problem: ProjectionProblem, entities: list[int], pairs: list[tuple[int, int, float]]
) -> list[tuple[int, int]]:
    """Exact DP: f[p][mask] = best score using target words before p with entity set ``mask``."""
    k = len(entities)
    bit = {s: 1 << r for r, s in enumerate(entities)}
    items = [(problem.candidates[t][0], problem.candidates[t][1], s, t, w) for s, t, w in pairs]
    lo = min(a for a, *_ in items)
    hi = max(b for _, b, *_ in items)
    size = 1 << k
    masks = np.arange(size)
    without = {s: masks[(masks & bit[s]) == 0] for s in entities}
    f = np.full((hi - lo + 1, size), -np.inf)
    f[0, 0] = 0.0
    by_start: dict[int, list[tuple[int, int, int, float]]] = {}
    by_end: dict[int, list[tuple[int, int, int, float]]] = {}
    for a, b, s, t, w in items:
        by_start.setdefault(a - lo, []).append((b - lo, s, t, w))
        by_end.setdefault(b - lo, []).append((a - lo, s, t, w))
    for p in range(hi - lo):
        np.maximum(f[p + 1], f[p], out=f[p + 1])
        for q, s, _, w in by_start.get(p, ()):
            src = without[s]
            dst = src | bit[s]
            f[q, dst] = np.maximum(f[q, dst], f[p, src] + w)
    # Backtrack from the best final state; values are reproduced bit for bit, so equality is exact.
    q = hi - lo
    mask = int(np.argmax(f[q]))
    chosen = []
    while q > 0:
        value = f[q, mask]
        if f[q - 1, mask] == value:
            q -= 1
            continue
        for a, s, t, w in by_end.get(q, ()):
            if mask & bit[s] and f[a, mask ^ bit[s]] + w == value:
                chosen.append((s, t))
                mask ^= bit[s]
                q = a
                break
        else:  # pragma: no cover - would mean the DP table is inconsistent
            raise RuntimeError("exact ILP backtracking failed; please report this problem instance")
    return chosen


def solve_exact(problem: ProjectionProblem, *, max_dp_entities: int = 16, stats: list[SolverStats] | None = None) -> Matching:
    """Exact optimum (see the module docstring for the method).

    >>> p = ProjectionProblem(((0, 1), (0, 2), (1, 2)), np.array([[0.5, 0.9, 0.0], [0.0, 0.0, 0.8]]), ("A", "B"))
    >>> solve_exact(p)
    Matching(pairs=((0, 0), (1, 2)), objective=1.3)
    """
    pairs = problem.positive_pairs()
    chosen: list[tuple[int, int]] = []
    sizes = []
    n_dp = n_milp = 0
    for entities in _components(problem, pairs):
        group = set(entities)
        sub = [p for p in pairs if p[0] in group]
        sizes.append(len(entities))
        if len(entities) == 1:
            s, t, _ = max(sub, key=lambda p: (p[2], -p[1]))
            chosen.append((s, t))
        elif len(entities) <= max_dp_entities:
            n_dp += 1
            chosen.extend(_solve_component_dp(problem, entities, sub))
        else:
            n_milp += 1
            chosen.extend(_milp_pairs(problem, sub))
    if stats is not None:
        stats.append(SolverStats(len(sizes), n_dp, n_milp, max(sizes, default=0), sizes))
    return Matching(tuple(sorted(chosen)), _objective(problem, chosen))


def _constraint_rows(problem: ProjectionProblem, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Variable indices of each ≤ 1 constraint: one row per entity, one per covered target token."""
    rows: dict[tuple[str, int], list[int]] = {}
    for v, (s, t, _) in enumerate(pairs):
        rows.setdefault(("entity", s), []).append(v)
        a, b = problem.candidates[t]
        for j in range(a, b):
            rows.setdefault(("token", j), []).append(v)
    return [r for r in rows.values() if len(r) > 1]


def _milp_pairs(problem: ProjectionProblem, pairs: list[tuple[int, int, float]]) -> list[tuple[int, int]]:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    if not pairs:
        return []
    rows = _constraint_rows(problem, pairs)
    c = -np.array([w for *_, w in pairs])
    constraints = []
    if rows:
        a = lil_matrix((len(rows), len(pairs)))
        for r, variables in enumerate(rows):
            for v in variables:
                a[r, v] = 1
        constraints.append(LinearConstraint(a.tocsr(), -np.inf, 1))
    result = milp(c, constraints=constraints, integrality=np.ones(len(pairs)), bounds=Bounds(0, 1))
    if result.x is None:
        raise RuntimeError(f"scipy.optimize.milp failed on a projection problem: {result.message}")
    return [(s, t) for (s, t, _), x in zip(pairs, result.x, strict=True) if x > 0.5]


def solve_milp(problem: ProjectionProblem) -> Matching:
    """Exact optimum with ``scipy.optimize.milp`` (HiGHS, in-process), one call per problem."""
    chosen = _milp_pairs(problem, problem.positive_pairs())
    return Matching(tuple(sorted(chosen)), _objective(problem, chosen))


def solve_pulp_batch(problems: Sequence[ProjectionProblem], *, solver: str = "cbc") -> list[Matching]:
    """Exact optima of many problems in ONE pulp model (their variables never interact).

    One solver call amortises pulp's model writing and CBC's process start over all sentences.
    """
    import pulp

    model = pulp.LpProblem("projection", pulp.LpMaximize)
    objective = []
    variables: list[list[tuple[int, int, object]]] = []
    for k, problem in enumerate(problems):
        pairs = problem.positive_pairs()
        xs = [pulp.LpVariable(f"x_{k}_{s}_{t}", cat="Binary") for s, t, _ in pairs]
        objective.extend(w * x for (*_, w), x in zip(pairs, xs, strict=True))
        for row in _constraint_rows(problem, pairs):
            model += pulp.lpSum(xs[v] for v in row) <= 1
        variables.append([(s, t, x) for (s, t, _), x in zip(pairs, xs, strict=True)])
    if not objective:
        return [Matching((), 0.0) for _ in problems]
    model += pulp.lpSum(objective)
    engine = pulp.PULP_CBC_CMD(msg=False) if solver == "cbc" else pulp.HiGHS(msg=False)
    status = model.solve(engine)
    if pulp.LpStatus[status] != "Optimal":
        raise RuntimeError(f"pulp/{solver} returned status {pulp.LpStatus[status]} on a projection batch")
    out = []
    for problem, chosen in zip(problems, variables, strict=True):
        pairs = [(s, t) for s, t, x in chosen if (x.value() or 0) > 0.5]  # type: ignore[attr-defined]
        out.append(Matching(tuple(sorted(pairs)), _objective(problem, pairs)))
    return out


def solve_pulp(problem: ProjectionProblem, *, solver: str = "cbc") -> Matching:
    """Exact optimum with one pulp + CBC (subprocess) call for this problem alone."""
    return solve_pulp_batch([problem], solver=solver)[0]


SOLVERS: dict[str, Callable[[ProjectionProblem], Matching]] = {
    "exact": solve_exact,
    "greedy": solve_greedy,
    "milp": solve_milp,
    "pulp": solve_pulp,
}


def project_by_ilp(
    source_spans: Sequence[Span],
    target_tokens: Sequence[str],
    alignment: Iterable[Link],
    *,
    solver: str = "exact",
    candidates: str | Sequence[Interval] = "ngram",
    max_length: int = 10,
    extra_scores: Mapping[str, np.ndarray] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[Span]:
    """Project entities by matching them to target candidates (systems.md §3).

    Args:
        solver: ``exact`` (default), ``greedy`` (the paper's approximation), ``milp`` or ``pulp``.
        candidates: ``"ngram"`` (spans up to ``max_length`` words) or explicit candidate spans.
        extra_scores: further score matrices over the same candidates (``ner``, ``nmt``) for fusion;
            they must be computed over ``build_problem(...).candidates``.
        weights: fusion weights by score name (``align`` is the alignment score); default align only.

    >>> project_by_ilp([Span(0, 2, "PER")], ["la", "Ana", "Pérez", "vino"], [(0, 1), (1, 2)])
    [Span(start=1, end=3, label='PER')]
    """
    if solver not in SOLVERS:
        raise ConfigError(f"ILP solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    problem = build_problem(source_spans, target_tokens, alignment, candidates=candidates, max_length=max_length)
    if extra_scores or weights:
        all_scores = {"align": problem.scores, **(extra_scores or {})}
        problem = ProjectionProblem(problem.candidates, fuse(all_scores, weights or {"align": 1.0}), problem.labels)
    return spans_from_matching(problem, SOLVERS[solver](problem))


# --- Target-NER candidates and fused scores ("NER model-based extraction", systems.md §3) ---------

#: The thesis' fusion without its NMT term (no translation model exists offline): align 0.5, NER 0.5.
NER_FUSION_WEIGHTS: Mapping[str, float] = {"align": 0.5, "ner": 0.5}
CANDIDATE_SOURCES = ("ner", "ngram+ner")


def ner_candidates(probabilities: np.ndarray, tag_names: Sequence[str]) -> list[Interval]:
    """Spans a target-language NER model predicts (argmax, orphan ``I-`` repaired), labels ignored.

    >>> p = np.array([[0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]])
    >>> ner_candidates(p, ["O", "B-PER", "I-PER"])
    [(0, 2)]
    """
    from harness.data import spans_from_iob2
    from systems.backbones.labels import repair_iob2

    if len(probabilities) == 0:
        return []
    tags = repair_iob2([tag_names[i] for i in np.asarray(probabilities).argmax(axis=-1)])
    return [(s.start, s.end) for s in spans_from_iob2(tags)]


def project_by_ilp_with_ner(
    source_spans: Sequence[Span],
    target_tokens: Sequence[str],
    alignment: Iterable[Link],
    probabilities: np.ndarray,
    tag_names: Sequence[str],
    *,
    candidates: str = "ner",
    weights: Mapping[str, float] = NER_FUSION_WEIGHTS,
    solver: str = "exact",
    max_length: int = 10,
) -> list[Span]:
    """ILP projection with a target NER model: its spans as candidates, its probabilities in the score.

    Args:
        probabilities: ``[n_target_tokens, n_tags]`` of a multilingual tagger on the target sentence.
        tag_names: the columns of ``probabilities``.
        candidates: ``"ner"`` (the model's spans only: the paper's "NER model-based extraction") or
            ``"ngram+ner"`` (those plus the aligned n-gram ranges).
        weights: fusion of the alignment score (``align``) and the NER-spans score (``ner``, the
            thesis' "spans" variant: best over types, so a wrongly typed model span still counts).

    >>> p = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    >>> project_by_ilp_with_ner([Span(0, 2, "PER")], ["la", "Ana", "Pérez"], [(0, 1)], p, ["O", "B-PER", "I-PER"])
    [Span(start=1, end=3, label='PER')]
    """
    if candidates not in CANDIDATE_SOURCES:
        raise ConfigError(f"candidates must be one of {', '.join(CANDIDATE_SOURCES)}; got {candidates!r}")
    if solver not in SOLVERS:
        raise ConfigError(f"ILP solver must be one of {', '.join(SOLVERS)}; got {solver!r}")
    links = list(alignment)
    if len(probabilities) != len(target_tokens):
        raise ConfigError(f"{len(probabilities)} rows of NER probabilities for {len(target_tokens)} target tokens")
    found = set(ner_candidates(probabilities, tag_names))
    if candidates == "ngram+ner":
        found |= set(build_problem(source_spans, target_tokens, links, max_length=max_length).candidates)
    problem = build_problem(source_spans, target_tokens, links, candidates=sorted(found))
    index = {t: i for i, t in enumerate(tag_names)}
    scores = {
        "align": problem.scores,
        "ner": ner_scores(problem.labels, problem.candidates, np.asarray(probabilities), index, any_label=True),
    }
    fused = ProjectionProblem(problem.candidates, fuse(scores, weights), problem.labels)
    return spans_from_matching(fused, SOLVERS[solver](fused))
