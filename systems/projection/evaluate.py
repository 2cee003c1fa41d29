"""Intrinsic projection evaluation: project gold English spans, score against target gold.

The field's standard check (García-Ferrero et al. 2022; Politov et al. 2025) on Europarl-NER: the
English gold spans of each sentence are projected onto its German/Spanish/Italian translation
through a word alignment, and the projected spans are scored against that language's gold
annotation with strict span P/R/F1. ``proj_ratio`` is the mean over sentences (with at least one
target gold span) of #projected / #gold spans, as logged by Politov et al.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import Sentence, iob2_from_spans
from harness.errors import ConfigError, DataFormatError
from harness.metrics import Scores, score_corpus
from systems.aligners import Aligner, Alignment, make_aligner
from systems.projection.alignment import project_by_alignment
from systems.projection.ilp import project_by_ilp, project_by_ilp_with_ner

PROJECTION_METHODS = ("garcia", "politov", "ilp", "ilp-greedy", "ilp-ner", "ilp-fusion")
#: Methods that need a target-language NER model (its spans as candidates, its probabilities fused).
NER_METHODS = ("ilp-ner", "ilp-fusion")


def project(
    method: str,
    source: Sentence,
    target_tokens: Sequence[str],
    links: Alignment,
    ner: tuple[np.ndarray, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """Project the gold spans of ``source`` with one named method; IOB2 tags over the target.

    ``ner`` = (per-token tag probabilities of a target NER model, their tag names), needed by
    ``ilp-ner`` (the model's spans as candidates) and ``ilp-fusion`` (those plus aligned n-grams);
    both score candidates by 0.5 alignment + 0.5 NER-spans (systems.md §3, without the NMT term).

    >>> src = Sentence("e/0", "eng", ("Ana", "came"), ("B-PER", "O"))
    >>> project("ilp", src, ("vino", "Ana"), ((0, 1), (1, 0)))
    ('O', 'B-PER')
    """
    if method in ("garcia", "politov"):
        spans = project_by_alignment(source.spans, target_tokens, links, method=method)
    elif method in ("ilp", "ilp-greedy"):
        spans = project_by_ilp(source.spans, target_tokens, links, solver="greedy" if method == "ilp-greedy" else "exact")
    elif method in NER_METHODS:
        if ner is None:
            raise ConfigError(f"projection method {method!r} needs a target NER model (--target-ner-backbone)")
        candidates = "ner" if method == "ilp-ner" else "ngram+ner"
        spans = project_by_ilp_with_ner(source.spans, target_tokens, links, ner[0], ner[1], candidates=candidates)
    else:
        raise ConfigError(f"projection method must be one of {', '.join(PROJECTION_METHODS)}; got {method!r}")
    return iob2_from_spans(spans, len(target_tokens))


@dataclass(frozen=True)
class IntrinsicResult:
    """Scores of one (language, method, aligner) cell."""

    lang: str
    method: str
    aligner: str
    scores: Scores
    proj_ratio: float
    sentences: int
    align_seconds: float
    project_seconds: float
    #: Encoder layer of an embedding aligner (simalign, embedding) when the run chose one.
    layer: int | None = None


def proj_ratio(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Mean over sentences with gold spans of #predicted / #gold spans.

    >>> proj_ratio([["B-PER", "O"], ["O", "O"]], [["B-PER", "B-LOC"], ["B-PER", "O"]])
    2.0
    """
    from harness.data import spans_from_iob2

    ratios = [len(spans_from_iob2(p)) / len(spans_from_iob2(g)) for g, p in zip(gold, pred, strict=True) if spans_from_iob2(g)]
    return sum(ratios) / len(ratios) if ratios else 0.0


def load_parallel_ner(
    dataset: str, lang: str, *, source_lang: str = "eng", split: str = "test", data_dir: str | Path | None = None, limit: int | None = None
) -> tuple[list[Sentence], list[Sentence]]:
    """Sentence-aligned (English, target) gold sentences of a parallel NER dataset."""
    from harness.datasets import load_ner

    source = load_ner(dataset, source_lang, split, data_dir=data_dir).sentences
    target = load_ner(dataset, lang, split, data_dir=data_dir).sentences
    if len(source) != len(target):
        raise DataFormatError(f"{dataset}: {len(source)} {source_lang} sentences but {len(target)} {lang} sentences; they must be sentence-aligned")
    if limit is not None:
        source, target = source[:limit], target[:limit]
    return list(source), list(target)


def evaluate_projection(
    methods: Sequence[str],
    aligner: str | Aligner = "eflomal",
    *,
    dataset: str = "europarl_ner",
    languages: Sequence[str] = ("deu", "spa", "ita"),
    data_dir: str | Path | None = None,
    extra_parallel: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
    limit: int | None = None,
    aligner_params: dict[str, object] | None = None,
    target_ner: Any | None = None,
) -> list[IntrinsicResult]:
    """Project English gold spans onto each language with each method; one result per (lang, method).

    The alignment is computed once per language and shared by the methods. ``eflomal`` is trained
    on the evaluation pairs plus ``extra_parallel`` (token pairs) when given. ``target_ner`` (a
    :class:`systems.backbones.Tagger`, e.g. a multilingual direct-transfer model) is needed by
    the methods in :data:`NER_METHODS`; it tags the target side once per language.
    """
    unknown = [m for m in methods if m not in PROJECTION_METHODS]
    if unknown:
        raise ConfigError(f"unknown projection method(s) {', '.join(unknown)}; choose from {', '.join(PROJECTION_METHODS)}")
    if target_ner is None and any(m in NER_METHODS for m in methods):
        raise ConfigError(f"methods {', '.join(m for m in methods if m in NER_METHODS)} need a target NER model (--target-ner-backbone)")
    params = dict(aligner_params or {})
    if isinstance(aligner, str):
        name = aligner
        if aligner == "eflomal" and extra_parallel:
            params["extra"] = list(extra_parallel)
        engine = make_aligner(aligner, **params)
    else:
        name, engine = aligner.name, aligner
    results = []
    for lang in languages:
        source, target = load_parallel_ner(dataset, lang, data_dir=data_dir, limit=limit)
        started = time.perf_counter()
        alignments = engine.align([s.tokens for s in source], [t.tokens for t in target])
        align_seconds = time.perf_counter() - started
        gold = [t.tags for t in target]
        needs_ner = target_ner is not None and any(m in NER_METHODS for m in methods)
        probabilities = target_ner.predict_proba([t.tokens for t in target]) if needs_ner else [None] * len(target)
        tag_names = tuple(target_ner.tag_names) if needs_ner else ()
        for method in methods:
            started = time.perf_counter()
            pred = [
                project(method, s, t.tokens, links, (p, tag_names) if p is not None else None)
                for s, t, links, p in zip(source, target, alignments, probabilities, strict=True)
            ]
            seconds = time.perf_counter() - started
            results.append(
                IntrinsicResult(lang, method, name, score_corpus(gold, pred), proj_ratio(gold, pred), len(source), align_seconds, seconds)
            )
    return results


class _MemoisedTagger:
    """Tags each target sentence once across a layer sweep (the target NER model does not change)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.tag_names = tagger.tag_names
        self._seen: dict[tuple[tuple[str, ...], ...], list[Any]] = {}

    def predict_proba(self, token_lists: Sequence[Sequence[str]]) -> list[Any]:
        key = tuple(tuple(tokens) for tokens in token_lists)
        if key not in self._seen:
            self._seen[key] = self.tagger.predict_proba(token_lists)
        return self._seen[key]


def sweep_aligner_layers(
    methods: Sequence[str], aligner: str, layers: Sequence[int], *, aligner_params: dict[str, object] | None = None,
    target_ner: Any | None = None, **options: Any,
) -> list[IntrinsicResult]:
    """:func:`evaluate_projection` once per encoder layer of an embedding aligner; results carry their layer.

    SimAlign's layer 8 is a choice for mBERT-sized encoders; a different encoder has its own best
    layer (Jalili Sabet et al. 2020, Fig. 2), so the field picks it by sweeping. The target NER
    model, when given, tags each language once for the whole sweep.
    """
    layers = list(dict.fromkeys(layers))  # a repeated layer would only repeat its cells
    if not layers:
        raise ConfigError("a layer sweep needs at least one layer")
    if aligner == "eflomal":
        raise ConfigError("eflomal is a statistical aligner with no encoder layers; --layer applies to simalign and embedding")
    shared_tagger = _MemoisedTagger(target_ner) if target_ner is not None else None
    results: list[IntrinsicResult] = []
    for layer in layers:
        params = {**(aligner_params or {}), "layer": layer}
        cell = evaluate_projection(methods, aligner, aligner_params=params, target_ner=shared_tagger, **options)
        results.extend(replace(r, layer=layer) for r in cell)
    return results


def best_layer_per_method(results: Sequence[IntrinsicResult]) -> dict[str, tuple[int, float]]:
    """For each method, the layer with the highest F1 averaged over languages, and that mean F1.

    Ties go to the lower layer (cheaper to compute). Results without a layer are ignored.

    >>> from harness.metrics import SpanCounts
    >>> def cell(lang, layer, tp):  # 10 gold and 10 predicted spans: F1 = tp / 10
    ...     scores = Scores(SpanCounts(tp, 10 - tp, 10 - tp), {})
    ...     return IntrinsicResult(lang, "ilp", "simalign", scores, 1.0, 5, 0.0, 0.0, layer)
    >>> best_layer_per_method([cell("deu", 6, 8), cell("spa", 6, 6), cell("deu", 8, 9), cell("spa", 8, 7)])
    {'ilp': (8, 0.8)}
    >>> best_layer_per_method([cell("deu", 4, 5), cell("deu", 10, 5)])  # a tie: the lower layer
    {'ilp': (4, 0.5)}
    """
    by_method: dict[str, dict[int, list[float]]] = {}
    for r in results:
        if r.layer is not None:
            by_method.setdefault(r.method, {}).setdefault(r.layer, []).append(r.scores.f1)
    best: dict[str, tuple[int, float]] = {}
    for method, per_layer in by_method.items():
        means = {layer: round(sum(f1s) / len(f1s), 10) for layer, f1s in per_layer.items()}
        layer = min(means, key=lambda k: (-means[k], k))
        best[method] = (layer, means[layer])
    return best
