"""Model-aware adversarial search: budgeted greedy search over label-safe token perturbations.

TextAttack's decomposition (goal function + constraints + transformation + search), specialised
to NER and to pre-tokenised input:

* **transformations**: registered :class:`~attacks.base.TokenPerturbation` s (character typos,
  diacritics drop, dotted letters, ...) applied to one token at a time, so gold tags stay valid by
  construction and every candidate passes the label invariant;
* **goal** (SeqAttack): ``misprediction`` = share of gold entity tokens whose predicted entity
  type differs from the gold type (B-/I- prefix ignored: SeqAttack's strict variant), or
  ``f1-loss`` = 1 - span F1 of the sentence; the attack succeeds when the score reaches
  ``threshold``. Sentences with no gold mention, or already failed on the clean input, are
  *skipped* (TextAttack's ``SkippedAttackResult``);
* **constraints**: at most ``max_fraction`` of the tokens changed (at least one), a query budget
  per sentence (``query_budget``; identical inputs are cached and not re-counted, like TextAttack's
  model cache), and ``target`` restricting edits to context or entity tokens;
* **search**: ``greedy`` evaluates every (token, perturbation) candidate each step and keeps the
  best one (TextAttack ``GreedySearch``); ``wir`` ranks tokens once by the score increase of their
  first candidate, then tries the perturbations at each token in that order (``GreedyWordSwapWIR``,
  far fewer queries). Both stop when the score no longer improves.

:class:`AdversarialSearch` (``adversarial.v1``) makes the search a perturbation of suites and
studies: a *model-aware* one, so its perturbed set is built per system (against that system's own
predictions) inside the run, cached by the system's fingerprint and seed, and scored like any other
cell; the attack statistics of each cell (success rate, queries) are stored beside it.

This is the *adaptive* track (anchors.md: keep it separate from the static, model-agnostic
perturbation suites): results depend on the victim system and are reported with the queries used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np

from harness.data import OUTSIDE, Sentence
from harness.errors import ConfigError, SystemFailure
from harness.metrics import count_sentence, total

from attacks.base import SCOPES, BasePerturbation, Edit, Perturbed, TokenPerturbation, item_seed, unchanged, verify_perturbed

Status = Literal["successful", "failed", "skipped"]
GOALS = ("misprediction", "f1-loss")
SEARCHES = ("wir", "greedy")
DEFAULT_ATTACKS = ("char-typos.v1", "diacritics-drop.v1", "dotted-letters.v1")


def misprediction_score(gold: Sequence[str], pred: Sequence[str]) -> float:
    """SeqAttack's misprediction score: mispredicted entity tokens / entity tokens (type-level).

    >>> misprediction_score(["B-PER", "I-PER", "O"], ["B-PER", "O", "O"])
    0.5
    """
    entity = [i for i, t in enumerate(gold) if t != OUTSIDE]
    if not entity:
        return 0.0
    wrong = sum(1 for i in entity if pred[i] == OUTSIDE or pred[i][2:] != gold[i][2:])
    return wrong / len(entity)


def f1_loss(gold: Sequence[str], pred: Sequence[str]) -> float:
    """1 - span F1 of one sentence (0 when both are empty).

    >>> f1_loss(["B-PER", "O"], ["B-PER", "O"]), f1_loss(["B-PER", "O"], ["O", "O"])
    (0.0, 1.0)
    """
    counts = total(count_sentence(gold, pred))
    if counts.tp + counts.fp + counts.fn == 0:
        return 0.0
    return 1.0 - counts.f1


@dataclass(frozen=True, slots=True)
class AttackResult:
    """The outcome of attacking one sentence."""

    sentence_id: str
    status: Status
    original_score: float
    final_score: float
    queries: int
    original_prediction: tuple[str, ...]
    final_prediction: tuple[str, ...]
    perturbed: Perturbed | None = None

    @property
    def perturbed_fraction(self) -> float:
        return self.perturbed.changed_token_fraction if self.perturbed is not None else 0.0


@dataclass(frozen=True, slots=True)
class AttackSummary:
    """TextAttack-style summary (anchors.md table (b)).

    ``attack_success_rate`` = S / (S + F); ``avg_perturbed_percent`` is over successful attacks;
    ``avg_queries`` over attempted (non-skipped) ones; ``original_accuracy`` is the share of
    sentences not skipped; ``accuracy_under_attack`` = F / N.
    """

    n: int
    successful: int
    failed: int
    skipped: int
    attack_success_rate: float
    avg_perturbed_percent: float
    avg_queries: float
    original_accuracy: float
    accuracy_under_attack: float
    f1_original: float
    f1_attacked: float
    params: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str]]:
        pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
        return [
            ("Number of successful attacks", str(self.successful)),
            ("Number of failed attacks", str(self.failed)),
            ("Number of skipped attacks", str(self.skipped)),
            ("Original accuracy (not skipped)", pct(self.original_accuracy)),
            ("Accuracy under attack", pct(self.accuracy_under_attack)),
            ("Attack success rate", pct(self.attack_success_rate)),
            ("Average perturbed token %", f"{self.avg_perturbed_percent:.2f}%"),
            ("Average num. queries", f"{self.avg_queries:.2f}"),
            ("Span F1 original", f"{100 * self.f1_original:.2f}"),
            ("Span F1 attacked", f"{100 * self.f1_attacked:.2f}"),
        ]


class _Oracle:
    """Counts and caches queries to the victim system."""

    def __init__(self, system: Any) -> None:
        self.system = system
        self.cache: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}

    def predict(self, sentences: Sequence[Sentence]) -> tuple[list[tuple[str, ...]], int]:
        missing = []
        for s in sentences:
            key = (s.lang, s.tokens)
            if key not in self.cache and all(m.tokens != s.tokens for m in missing):
                missing.append(s)
        if missing:
            try:
                preds = self.system.predict([m.unlabelled() for m in missing])
            except Exception as exc:  # a system error is a SystemFailure naming the system
                raise SystemFailure(f"system {getattr(self.system, 'name', self.system)!r} failed during the attack: {exc}") from exc
            if len(preds) != len(missing):
                raise SystemFailure(f"system returned {len(preds)} predictions for {len(missing)} sentences")
            for m, p in zip(missing, preds, strict=True):
                p = tuple(p)
                if len(p) != len(m.tokens):
                    raise SystemFailure(f"system returned {len(p)} tags for {len(m.tokens)} tokens of {m.id}")
                self.cache[(m.lang, m.tokens)] = p
        return [self.cache[(s.lang, s.tokens)] for s in sentences], len(missing)


class _AttackRecord:
    name = "adversarial"
    may_change_entity_count = False

    def __init__(self, scope: str) -> None:
        self.scope = scope


class GreedyAttack:
    """Budgeted greedy search over token perturbations against one system.

    Args:
        attacks: registered names of token-level perturbations to search over.
        goal: ``"misprediction"`` (SeqAttack) or ``"f1-loss"``.
        threshold: score at which an attack counts as successful.
        query_budget: maximum model queries per sentence (cached repeats are free).
        max_fraction: maximum share of tokens changed (at least one token).
        target: ``"both"``, ``"entity"`` or ``"context"`` tokens may be edited.
        search: ``"wir"`` (word-importance ranking) or ``"greedy"``.
        seed: seed of the per-candidate generators (HELM-style, per sentence and position).
    """

    def __init__(
        self,
        attacks: Sequence[str] = DEFAULT_ATTACKS,
        goal: str = "misprediction",
        threshold: float = 0.5,
        query_budget: int = 200,
        max_fraction: float = 0.2,
        target: str = "both",
        search: str = "wir",
        seed: int = 0,
    ) -> None:
        from attacks import make_perturbation

        if goal not in GOALS:
            raise ConfigError(f"goal must be one of {', '.join(GOALS)}; got {goal!r}")
        if search not in SEARCHES:
            raise ConfigError(f"search must be one of {', '.join(SEARCHES)}; got {search!r}")
        if target not in SCOPES:
            raise ConfigError(f"target must be one of {', '.join(SCOPES)}; got {target!r}")
        if not 0 < threshold <= 1:
            raise ConfigError(f"threshold must be in (0, 1]; got {threshold}")
        if query_budget < 1:
            raise ConfigError(f"query_budget must be >= 1; got {query_budget}")
        if not 0 < max_fraction <= 1:
            raise ConfigError(f"max_fraction must be in (0, 1]; got {max_fraction}")
        self.attacks = tuple(attacks)
        self.goal, self.threshold, self.query_budget = goal, float(threshold), int(query_budget)
        self.max_fraction, self.target, self.search, self.seed = float(max_fraction), target, search, int(seed)
        self._perturbations: list[TokenPerturbation] = []
        for name in self.attacks:
            p = make_perturbation(name, {"severity": 1})
            if not isinstance(p, TokenPerturbation):
                raise ConfigError(
                    f"perturbation {name!r} is not a token-level perturbation; the adversarial search "
                    "edits one token at a time (use char-*, diacritics-drop, dotted-letters, case-change ...)"
                )
            self._perturbations.append(p)
        self._score = misprediction_score if goal == "misprediction" else f1_loss

    @property
    def params(self) -> dict[str, Any]:
        return {
            "attacks": list(self.attacks),
            "goal": self.goal,
            "threshold": self.threshold,
            "query_budget": self.query_budget,
            "max_fraction": self.max_fraction,
            "target": self.target,
            "search": self.search,
            "seed": self.seed,
        }

    def _candidate(self, current: Sentence, original: Sentence, i: int, k: int) -> Sentence | None:
        p = self._perturbations[k]
        if not p.supports(current.lang) or not p.applicable(current.tokens[i]):
            return None
        rng = np.random.default_rng(item_seed(self.seed, f"adv:{p.name}", str(i), original.id))
        out = p.perturb_at(current, [i], rng)
        return out.sentence if out.changed else None

    def attack_one(self, oracle: _Oracle, sentence: Sentence) -> AttackResult:
        gold = sentence.tags
        (pred,), queries = oracle.predict([sentence])
        score0 = self._score(gold, pred)
        if not sentence.spans or score0 >= self.threshold:
            return AttackResult(sentence.id, "skipped", score0, score0, queries, pred, pred, None)
        n = len(sentence.tokens)
        max_changes = max(1, math.floor(self.max_fraction * n))
        positions = [
            i for i, tag in enumerate(gold) if self.target == "both" or (tag == OUTSIDE) == (self.target == "context")
        ]
        current, current_pred, score = sentence, pred, score0
        changed: set[int] = set()

        def evaluate(cands: list[tuple[int, Sentence]]) -> list[tuple[float, int, Sentence, tuple[str, ...]]]:
            nonlocal queries
            room = self.query_budget - queries
            if room <= 0:
                return []
            # Only uncached inputs cost a query; cut the batch so the budget is never exceeded.
            kept, new = [], 0
            for i, s in cands:
                if (s.lang, s.tokens) not in oracle.cache:
                    if new >= room:
                        break
                    new += 1
                kept.append((i, s))
            preds, used = oracle.predict([s for _, s in kept])
            queries += used
            return [(self._score(gold, p), i, s, p) for (i, s), p in zip(kept, preds, strict=True)]

        if self.search == "wir":
            probes = []
            for i in positions:
                for k in range(len(self._perturbations)):
                    cand = self._candidate(current, sentence, i, k)
                    if cand is not None:
                        probes.append((i, cand))
                        break
            ranked = sorted(evaluate(probes), key=lambda r: (-r[0], r[1]))
            order = [i for _, i, _, _ in ranked]
            for i in order:
                if score >= self.threshold or len(changed) >= max_changes or queries >= self.query_budget:
                    break
                cands = [(i, c) for k in range(len(self._perturbations)) if (c := self._candidate(current, sentence, i, k))]
                results = evaluate(cands)
                if not results:
                    continue
                best = max(results, key=lambda r: r[0])
                if best[0] > score:
                    score, _, current, current_pred = best
                    changed.add(i)
        else:
            while score < self.threshold and len(changed) < max_changes and queries < self.query_budget:
                cands = [
                    (i, c)
                    for i in positions
                    if i not in changed
                    for k in range(len(self._perturbations))
                    if (c := self._candidate(current, sentence, i, k))
                ]
                results = evaluate(cands)
                if not results:
                    break
                best = max(results, key=lambda r: (r[0], -r[1]))
                if best[0] <= score:
                    break
                score, i, current, current_pred = best
                changed.add(i)

        edits = tuple(
            Edit("adversarial", i, i, sentence.tokens[i], current.tokens[i])
            for i in sorted(changed)
            if current.tokens[i] != sentence.tokens[i]
        )
        perturbed = Perturbed(current, tuple(range(n)), edits)
        verify_perturbed(_AttackRecord(self.target), sentence, perturbed)
        status: Status = "successful" if score >= self.threshold else "failed"
        return AttackResult(sentence.id, status, score0, score, queries, pred, current_pred, perturbed)

    def attack(self, system: Any, sentences: Sequence[Sentence]) -> list[AttackResult]:
        """Attack every sentence (unsupported languages of a perturbation are simply not searched)."""
        oracle = _Oracle(system)
        return [self.attack_one(oracle, s) for s in sentences]

    def summarize(self, sentences: Sequence[Sentence], results: Sequence[AttackResult]) -> AttackSummary:
        """Aggregate results into the TextAttack-style summary, with corpus span F1 before/after."""
        ok = [r for r in results if r.status == "successful"]
        failed = [r for r in results if r.status == "failed"]
        skipped = [r for r in results if r.status == "skipped"]
        attempted = ok + failed
        n = len(results)
        gold_all = [s.tags for s in sentences]
        f1_orig = _corpus_f1(gold_all, [r.original_prediction for r in results])
        f1_att = _corpus_f1(gold_all, [r.final_prediction for r in results])
        return AttackSummary(
            n=n,
            successful=len(ok),
            failed=len(failed),
            skipped=len(skipped),
            attack_success_rate=len(ok) / len(attempted) if attempted else 0.0,
            avg_perturbed_percent=100 * float(np.mean([r.perturbed_fraction for r in ok])) if ok else 0.0,
            avg_queries=float(np.mean([r.queries for r in attempted])) if attempted else 0.0,
            original_accuracy=(n - len(skipped)) / n if n else 0.0,
            accuracy_under_attack=len(failed) / n if n else 0.0,
            f1_original=f1_orig,
            f1_attacked=f1_att,
            params=self.params,
        )


def _corpus_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    from harness.metrics import SpanCounts

    acc = SpanCounts()
    for g, p in zip(gold, pred, strict=True):
        acc = acc + total(count_sentence(g, p))
    return acc.f1


class _MappedPredictions:
    """A system whose predictions pass through the run's label harmonisation."""

    def __init__(self, system: Any, map_pred: Callable[[Sequence[str]], tuple[str, ...]]) -> None:
        self.system, self.map_pred = system, map_pred
        self.name = getattr(system, "name", type(system).__name__)

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        return [self.map_pred(tags) for tags in self.system.predict(sentences)]


class AdversarialSearch(BasePerturbation):
    """``adversarial.v1``: :class:`GreedyAttack` as a grid perturbation, built against each system.

    ``severity`` s lets the search change up to s × 10% of a sentence's tokens (2: 20%, TextAttack's
    usual budget). Only the first ``max_sentences`` sentences of a cell are attacked (the search
    costs up to ``query_budget`` predictions per sentence); the others stay clean and count as
    unchanged. Everything else is :class:`GreedyAttack`'s.

    The runner recognises it by ``model_aware`` and calls :meth:`attack_corpus` with the fitted
    system; :meth:`perturb` refuses, since there is no system to search against.
    """

    name = "adversarial.v1"
    family = "adversarial"
    description = "model-aware search (word-importance ranking) over label-safe token edits against the system under test"
    model_aware: ClassVar[bool] = True

    def __init__(
        self,
        severity: int = 2,
        attacks: str = ",".join(DEFAULT_ATTACKS),
        goal: str = "misprediction",
        threshold: float = 0.5,
        query_budget: int = 100,
        search: str = "wir",
        target: str = "both",
        max_sentences: int | None = None,
    ) -> None:
        super().__init__(severity)
        self.attacks, self.goal, self.threshold, self.query_budget = attacks, goal, threshold, query_budget
        self.search, self.target, self.max_sentences = search, target, max_sentences
        self.scope = target  # type: ignore[assignment]
        if max_sentences is not None and (not isinstance(max_sentences, int) or max_sentences < 1):
            raise ConfigError(f"{self.name}: max_sentences must be a positive integer or unset; got {max_sentences!r}")
        self.searcher(0)  # checks every parameter now, not when the first cell runs

    def searcher(self, seed: int) -> GreedyAttack:
        names = [a.strip() for a in str(self.attacks).split(",") if a.strip()]
        if not names:
            raise ConfigError(f"{self.name}: attacks must name at least one token-level perturbation")
        return GreedyAttack(
            attacks=names, goal=self.goal, threshold=self.threshold, query_budget=self.query_budget,
            max_fraction=self.severity / 10, target=self.target, search=self.search, seed=seed,
        )

    def _perturb(self, sentence: Sentence, rng: np.random.Generator) -> Perturbed:
        raise ConfigError(
            f"{self.name} searches against a system, so it cannot perturb a file on its own: use it in a "
            "suite or study (`xner run ... --attacks adversarial.v1`), or `xner adversarial --system ...`"
        )

    def attack_corpus(
        self,
        system: Any,
        sentences: Sequence[Sentence],
        seed: int,
        *,
        map_gold: Callable[[Sequence[str]], tuple[str, ...]] | None = None,
        map_pred: Callable[[Sequence[str]], tuple[str, ...]] | None = None,
    ) -> tuple[list[Perturbed], dict[str, Any]]:
        """The perturbed set against ``system`` (clean beyond ``max_sentences``) and the attack summary.

        ``map_gold``/``map_pred`` are the run's label harmonisation (e.g. DATE → O for a system
        without DATE): the search scores what the cell will score, so a type the system cannot
        predict never counts as an error the attack caused. The returned sentences keep their
        original tags (token edits never change tags).

        The summary is :class:`AttackSummary`'s fields over the attacked sentences, plus
        ``attacked`` (how many were searched) and per-sentence ``statuses`` and ``queries``.
        """
        searcher = self.searcher(seed)
        chosen = list(sentences[: self.max_sentences] if self.max_sentences else sentences)
        view = [replace(s, tags=map_gold(s.tags)) for s in chosen] if map_gold else chosen
        victim = _MappedPredictions(system, map_pred) if map_pred else system
        results = searcher.attack(victim, view)
        perturbed = [
            Perturbed(replace(s, tokens=r.perturbed.sentence.tokens), r.perturbed.alignment, r.perturbed.edits)
            if r.perturbed is not None else unchanged(s)
            for r, s in zip(results, chosen, strict=True)
        ]
        perturbed += [unchanged(s) for s in sentences[len(chosen):]]
        summary = asdict(searcher.summarize(view, results))
        summary.update(
            attacked=len(chosen),
            statuses={r.sentence_id: r.status for r in results},
            queries={r.sentence_id: r.queries for r in results},
        )
        return perturbed, summary
