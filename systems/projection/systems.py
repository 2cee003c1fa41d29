"""The registered projection systems: translate-train and translate-test (systems.md §1-§3).

Translate-train (``proj-align-train``, ``proj-ilp-train``, ``easyproject-train``): labelled source
text is projected into each target language and a target model is trained on the projection with
:func:`systems.backbones.train_tagger`. The offline default pipeline uses human parallel text: the
English side of mafand is tagged by the English source system (direct transfer by default), aligned
to the target side with eflomal, projected, and the target model is trained on the result.
EasyProject instead translates labelled English data (CoNLL-2003 train) with markers.

Translate-test (``proj-align-test``, ``proj-ilp-test``, ``proj-ilp-greedy-test``, ``proj-bt-test``):
at prediction time the target sentence is translated into English, tagged by the source system,
and the labels are projected back (the seed paper's protocol). Perturbations therefore hit the MT
input. The offline translator is ``lexical`` (word by word, its own alignment); ``nllb`` with a
local model directory gives the published setting.

Every system counts what projection lost in ``projection_report_`` (per language: pairs, source
entities, projected entities, dropped sentences by reason), so nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.data import OUTSIDE, Sentence, Span, iob2_from_spans
from harness.errors import ConfigError, ModelUnavailableError, UnsupportedLanguageError, XnerError
from systems.aligners import Aligner, Alignment, make_aligner
from systems.base import FitContext, NERSystem, SystemTags, fitted_builds, system_fingerprint
from systems.backbones import DEFAULT_BACKBONE
from systems.projection.alignment import project_by_alignment
from systems.projection.backtranslation import back_translate_project
from systems.projection.easyproject import project_easyproject
from systems.projection.ilp import CANDIDATE_SOURCES, project_by_ilp, project_by_ilp_with_ner
from systems.transfer import training_report
from systems.translators import Translator, make_translator, simple_tokenize

#: EasyProject's marker-fine-tuned NLLB (Chen et al. 2023; systems.md §1).
EASYPROJECT_MODEL = "ychenNLP/nllb-200-3.3b-easyproject"

DEFAULT_LABELS = ("LOC", "ORG", "PER")  # CoNLL-2003 ∩ MasakhaNER 2.0 / WikiANN (MISC and DATE dropped)


def _keep_labels(spans: Sequence[Span], labels: Sequence[str]) -> list[Span]:
    return [s for s in spans if s.label in labels]


class _ProjectionSystem:
    """Shared plumbing: the source system, the aligner, the projection method, the fitted state."""

    name = "?"
    version = "1"

    # Set by subclasses' __init__ (sklearn rule: attributes == parameters).
    source_system: str | NERSystem
    source_params: Mapping[str, Any] | None
    backbone: str
    aligner: str
    labels: Sequence[str]

    def _init_state(self) -> None:
        self._fitted = False
        self._source: NERSystem | None = None
        self.projection_report_: dict[str, dict[str, Any]] = {}

    @property
    def tags(self) -> SystemTags:
        languages = frozenset(self._languages()) if self._fitted else None
        return SystemTags(labels=frozenset(self.labels), languages=languages, deterministic=True, trainable=True, accelerator=True)

    def _languages(self) -> list[str]:
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise XnerError(f"{self.name} is not fitted: call fit(FitContext(...)) before predict")

    def _fit_source(self, context: FitContext) -> NERSystem:
        if isinstance(self.source_system, str):
            from systems import make_system

            source = make_system(self.source_system, dict(self.source_params or {}), shared={"backbone": self.backbone})
        else:
            source = self.source_system
        if getattr(source.tags, "trainable", False):
            source.fit(context)  # type: ignore[attr-defined]
        self._source = source
        return source

    def _tag_english(self, tokens: Sequence[Sequence[str]], id_prefix: str) -> list[Sentence]:
        if self._source is None:
            raise XnerError(f"{self.name}: the source system is not fitted")
        sentences = [Sentence(f"{id_prefix}/{k}", "eng", tuple(t), (OUTSIDE,) * len(t)) for k, t in enumerate(tokens)]
        tags = self._source.predict(sentences) if sentences else []
        return [s.with_tags(t) for s, t in zip(sentences, tags, strict=True)]

    def _project(self, spans: Sequence[Span], target: Sequence[str], links: Alignment, ner: Any = None) -> list[Span]:
        raise NotImplementedError


def select_training_data(sentences: Sequence[Sentence], empty_ratio: float | None, seed: int = 0) -> list[Sentence]:
    """Keep every sentence with a projected entity and at most ``empty_ratio`` times as many without.

    Projected data is mostly entity-free: news text is sparse in names and the English tagger misses
    many, so most "empty" target sentences hide unlabelled entities. Trained on all of it, a small
    model learns to say O everywhere (we measured F1 0.0 on all four MasakhaNER languages with the
    offline backbone). Sub-sampling the empty sentences is the usual remedy; ``None`` keeps all
    (the papers' setting, sensible with a strong source tagger).

    >>> a = Sentence("a", "hau", ("Kano",), ("B-LOC",)); b = Sentence("b", "hau", ("ya",), ("O",))
    >>> [s.id for s in select_training_data([b, a, b], 1.0)]
    ['b', 'a']
    """
    if empty_ratio is None:
        return list(sentences)
    import random

    with_entities = [k for k, s in enumerate(sentences) if s.spans]
    empty = [k for k, s in enumerate(sentences) if not s.spans]
    random.Random(seed).shuffle(empty)
    keep = set(with_entities) | set(empty[: int(round(empty_ratio * len(with_entities)))])
    return [s for k, s in enumerate(sentences) if k in keep]


def scarce_labels(sentences: Sequence[Sentence], labels: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Projected spans per label, and the labels with under a third of an even share of them.

    A target model cannot learn a type the projection barely produced: on MAFAND en-hau (freely
    translated speeches) 126 of 1,457 projected spans are ORG and the hau model predicts no ORG at
    all. The fit report names such labels so a low F1 is read with its cause.

    >>> a = Sentence("a", "hau", ("Bello", "Kano"), ("B-PER", "B-LOC"))
    >>> scarce_labels([a, a, a], ["LOC", "ORG", "PER"])
    ({'LOC': 3, 'ORG': 0, 'PER': 3}, {'ORG': 0})
    """
    counts = Counter(span.label for sentence in sentences for span in sentence.spans)
    by_label = {label: counts[label] for label in sorted(labels)}
    even_share = sum(by_label.values()) / max(len(by_label), 1)
    return by_label, {label: n for label, n in by_label.items() if n < even_share / 3}


def _parallel_pairs(context_or_dir: Any, dataset: str, lang: str, splits: Sequence[str], limit: int | None) -> list[tuple[list[str], list[str]]]:
    """Tokenised, non-empty (English, target) pairs of a parallel dataset; empty when it lacks ``lang``."""
    from harness.datasets import available_splits, load_parallel

    data_dir = context_or_dir.data_dir if isinstance(context_or_dir, FitContext) else context_or_dir
    try:
        present = available_splits(dataset, lang, data_dir=data_dir)
    except XnerError:
        return []
    pairs = []
    for split in splits:
        if split in present:
            for en, tgt in load_parallel(dataset, lang, split, data_dir=data_dir):
                en_tokens, tgt_tokens = simple_tokenize(en), simple_tokenize(tgt)
                if en_tokens and tgt_tokens:
                    pairs.append((en_tokens, tgt_tokens))
    return pairs[:limit] if limit is not None else pairs


def _build_translator(translator: str | Translator, model: str | None, context: FitContext) -> Translator:
    """A registered translator by name (given the data dir and model), or the instance passed in."""
    if not isinstance(translator, str):
        return translator
    params: dict[str, Any] = {"data_dir": context.data_dir}
    if model is not None:
        params["model"] = model
    return make_translator(translator, **params)


# --- Translate-train ------------------------------------------------------------------------------


class _TranslateTrain(_ProjectionSystem):
    """Project the English side of a parallel corpus onto its target side, train a target model."""

    def _common_init(
        self,
        source_system: str | NERSystem,
        source_params: Mapping[str, Any] | None,
        backbone: str,
        aligner: str,
        parallel: str,
        parallel_splits: Sequence[str],
        max_pairs: int | None,
        labels: Sequence[str],
        epochs: int | None,
        lr: float | None,
        batch_size: int,
        max_length: int,
        max_minutes: float | None,
        empty_ratio: float | None,
    ) -> None:
        self.source_system = source_system
        self.source_params = source_params
        self.backbone = backbone
        self.aligner = aligner
        self.parallel = parallel
        self.parallel_splits = tuple(parallel_splits)
        self.max_pairs = max_pairs
        self.labels = tuple(labels)
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_minutes = max_minutes
        self.empty_ratio = empty_ratio
        self._init_state()
        self._taggers: dict[str, Any] = {}

    def _languages(self) -> list[str]:
        return sorted(self._taggers)

    def _target_ner(self, targets: Sequence[Sequence[str]]) -> list[Any]:
        """Per target sentence, what ``_project`` may use from a target NER model (``None``: nothing)."""
        return [None] * len(targets)

    def _projected_data(self, context: FitContext, lang: str) -> tuple[list[Sentence], dict[str, Any]]:
        pairs = _parallel_pairs(context, self.parallel, lang, self.parallel_splits, self.max_pairs)
        if not pairs:
            return [], {"pairs": 0}
        cache = self._cache_file(context, lang, pairs)
        if cache.is_file():
            payload = json.loads(cache.read_text(encoding="utf-8"))
            sentences = [Sentence(s["id"], lang, tuple(s["tokens"]), tuple(s["tags"])) for s in payload["sentences"]]
            return sentences, payload["report"]
        english = self._tag_english([en for en, _ in pairs], f"{self.parallel}/eng-{lang}")
        alignments = make_aligner(self.aligner).align([en for en, _ in pairs], [tgt for _, tgt in pairs])
        target_ner = self._target_ner([tgt for _, tgt in pairs])
        sentences: list[Sentence] = []
        counts: Counter[str] = Counter(pairs=len(pairs))
        for k, (source, (_, target), links, ner) in enumerate(zip(english, pairs, alignments, target_ner, strict=True)):
            spans = _keep_labels(source.spans, self.labels)
            projected = self._project(spans, target, links, ner)
            counts["source_entities"] += len(spans)
            counts["projected_entities"] += len(projected)
            counts["sentences_with_entities"] += bool(spans)
            counts["sentences_all_projected"] += bool(spans) and len(projected) == len(spans)
            sentences.append(Sentence(f"{self.name}/{lang}/{k}", lang, tuple(target), iob2_from_spans(projected, len(target))))
        report = dict(counts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"report": report, "sentences": [{"id": s.id, "tokens": s.tokens, "tags": s.tags} for s in sentences]}, ensure_ascii=False),
            encoding="utf-8",
        )
        tmp.replace(cache)
        return sentences, report

    def _cache_file(self, context: FitContext, lang: str, pairs: Sequence[tuple[list[str], list[str]]]) -> Path:
        # Projected data depends on the fitted source model (its parameters and the seed), the
        # aligner, the method and the pairs; eflomal is not seedable, so caching also makes refits stable.
        if self._source is None:
            raise XnerError(f"{self.name}: the source system must be fitted before projecting")
        digest = hashlib.sha256(
            json.dumps(
                {
                    "system": self.name,
                    "projection": {
                        k: repr(getattr(self, k, None)) for k in ("method", "solver", "max_ngram", "aligner", "labels", "version", "candidates")
                    },
                    "source": system_fingerprint(self._source),
                    # ...and the trained model behind it: a retrained source tags the pairs anew.
                    "source_builds": fitted_builds(getattr(self._source, "fit_report", None) or {}),
                    "seed": context.seed,
                    "pairs": hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest(),
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:20]
        return Path(context.cache_dir) / "projection" / f"{self.name}-{lang}-{digest}.json"

    def fit(self, context: FitContext) -> None:
        from systems.backbones import train_tagger

        self._fit_source(context)
        self._taggers = {}
        self.projection_report_ = {}
        for lang in context.target_languages:
            data, report = self._projected_data(context, lang)
            self.projection_report_[lang] = report
            if not data:
                continue  # no parallel text for this language: the runner sees it is not declared
            if not any(s.spans for s in data):
                report["no_projected_entities"] = 1  # nothing to learn from: reported, language not declared
                continue
            report["projected_by_label"], scarce = scarce_labels(data, self.labels)
            if scarce:
                report["scarce_labels"] = scarce  # the target model will barely learn these types
            self._taggers[lang] = train_tagger(
                select_training_data(data, self.empty_ratio, context.seed), labels=list(self.labels), backbone=self.backbone, seed=context.seed, epochs=self.epochs, lr=self.lr,
                batch_size=self.batch_size, max_length=self.max_length, max_minutes=self.max_minutes,
                cache_dir=context.cache_dir, data_dir=context.data_dir, show_progress=context.show_progress,
            )
            report["model"] = training_report(self._taggers[lang])
        if not self._taggers:
            raise UnsupportedLanguageError(
                f"{self.name}: none of {', '.join(context.target_languages)} has parallel text in {self.parallel!r} "
                f"with projected entities (per language: {self.projection_report_}); translate-train needs "
                "English-target pairs and a source tagger that finds entities in them"
            )
        self._fitted = True

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._require_fitted()
        out: list[tuple[str, ...] | None] = [None] * len(sentences)
        by_lang: dict[str, list[int]] = defaultdict(list)
        for k, s in enumerate(sentences):
            by_lang[s.lang].append(k)
        for lang, indices in by_lang.items():
            if lang not in self._taggers:
                raise UnsupportedLanguageError(
                    f"{self.name} has no target model for {lang!r} (fitted: {', '.join(sorted(self._taggers))})"
                )
            for k, tags in zip(indices, self._taggers[lang].predict([sentences[k] for k in indices]), strict=True):
                out[k] = tuple(tags)
        return [t if t is not None else () for t in out]


class AlignmentProjectionTrain(_TranslateTrain):
    """Translate-train with the word-alignment heuristic (García-Ferrero et al. 2022 or the Politov variant).

    Args:
        source_system: English tagger: a registered system name or an NERSystem (default direct transfer).
        source_params: parameters of the source system when given by name.
        backbone: backbone of the target models (and of the source system when built by name).
        aligner: registered aligner name (``eflomal``: trained on the parallel pairs).
        method: ``garcia`` or ``politov``.
        parallel, parallel_splits, max_pairs: the parallel corpus and how much of it to use.
        labels: entity types projected and learned.
        epochs, lr, batch_size, max_length, max_minutes: target-model training.
        empty_ratio: keep at most this many entity-free projected sentences per sentence with an
            entity (``None``: keep all); see :func:`select_training_data`.
    """

    name = "proj-align-train"

    def __init__(
        self,
        source_system: str | NERSystem = "direct-transfer",
        source_params: Mapping[str, Any] | None = None,
        backbone: str = DEFAULT_BACKBONE,
        aligner: str = "eflomal",
        method: str = "garcia",
        parallel: str = "mafand",
        parallel_splits: Sequence[str] = ("dev", "test"),
        max_pairs: int | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        empty_ratio: float | None = 0.5,
    ) -> None:
        if method not in ("garcia", "politov"):
            raise ConfigError(f"{self.name}: method must be 'garcia' or 'politov'; got {method!r}")
        self.method = method
        self._common_init(source_system, source_params, backbone, aligner, parallel, parallel_splits, max_pairs, labels, epochs, lr, batch_size, max_length, max_minutes, empty_ratio)

    def _project(self, spans: Sequence[Span], target: Sequence[str], links: Alignment, ner: Any = None) -> list[Span]:
        return project_by_alignment(spans, target, links, method=self.method)


class ILPProjectionTrain(_TranslateTrain):
    """Translate-train with n-gram candidates and exact (or greedy) ILP matching (Politov et al. 2025).

    Args: as :class:`AlignmentProjectionTrain`, plus ``solver`` (``exact``/``greedy``),
    ``max_ngram`` (M, the longest candidate) and ``candidates``: ``ngram``, ``ner`` (the source
    tagger's spans on the target side, scores fused with its probabilities) or ``ngram+ner``.
    """

    name = "proj-ilp-train"
    #: ``candidates=None`` means this: "ngram" here, "ner" in :class:`ILPNERProjectionTrain`.
    default_candidates = "ngram"

    def __init__(
        self,
        source_system: str | NERSystem = "direct-transfer",
        source_params: Mapping[str, Any] | None = None,
        backbone: str = DEFAULT_BACKBONE,
        aligner: str = "eflomal",
        solver: str = "exact",
        max_ngram: int = 10,
        parallel: str = "mafand",
        parallel_splits: Sequence[str] = ("dev", "test"),
        max_pairs: int | None = None,
        labels: Sequence[str] = DEFAULT_LABELS,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        empty_ratio: float | None = 0.5,
        candidates: str | None = None,
    ) -> None:
        candidates = self.default_candidates if candidates is None else candidates
        if solver not in ("exact", "greedy"):
            raise ConfigError(f"{self.name}: solver must be 'exact' or 'greedy'; got {solver!r}")
        if candidates not in ("ngram", *CANDIDATE_SOURCES):
            raise ConfigError(f"{self.name}: candidates must be one of ngram, {', '.join(CANDIDATE_SOURCES)}; got {candidates!r}")
        self.solver = solver
        self.max_ngram = max_ngram
        self.candidates = candidates
        self._common_init(source_system, source_params, backbone, aligner, parallel, parallel_splits, max_pairs, labels, epochs, lr, batch_size, max_length, max_minutes, empty_ratio)

    def _target_ner(self, targets: Sequence[Sequence[str]]) -> list[Any]:
        # The multilingual source tagger (direct transfer) is the target NER model: its spans are
        # the candidates and its probabilities the NER score (systems.md §3 "NER model-based").
        if self.candidates == "ngram":
            return [None] * len(targets)
        tagger = getattr(self._source, "tagger", None)
        if tagger is None or not hasattr(tagger, "predict_proba"):
            raise ConfigError(
                f"{self.name}: candidates={self.candidates!r} needs a source system with a multilingual tagger "
                f"(direct-transfer); {getattr(self._source, 'name', self.source_system)!r} has none"
            )
        names = tuple(tagger.tag_names)
        return [(p, names) for p in tagger.predict_proba(list(targets))]

    def _project(self, spans: Sequence[Span], target: Sequence[str], links: Alignment, ner: Any = None) -> list[Span]:
        if ner is not None:
            return project_by_ilp_with_ner(
                spans, target, links, ner[0], ner[1], candidates=self.candidates, solver=self.solver, max_length=self.max_ngram
            )
        return project_by_ilp(spans, target, links, solver=self.solver, max_length=self.max_ngram)


class ILPNERProjectionTrain(ILPProjectionTrain):
    """Translate-train with the ILP over a target NER model's spans, scores fused (align 0.5 + NER 0.5).

    The "NER model-based extraction" variant of Politov et al. (2025): the target NER model is the
    multilingual direct-transfer tagger (e.g. on ``e5-small``); the NMT score of the thesis' fusion
    is left out (no translation model exists offline). ``candidates="ngram+ner"`` adds the aligned
    n-grams to the model's spans.
    """

    name = "proj-ilp-ner-train"
    default_candidates = "ner"


class EasyProjectTrain(_TranslateTrain):
    """EasyProject translate-train: mark English gold entities, translate, decode, train (Chen et al. 2023).

    Args:
        source: ``dataset/lang/split`` of the labelled English data (CoNLL-2003 train).
        max_source_sentences: use only the first N source sentences.
        translator: registered translator: ``nllb`` (default, needs the model) or ``lexical``
            (word by word from MAFAND, the offline stand-in; ``--translator lexical``).
        translator_model: model id or local directory for ``nllb`` (``None``: the marker-fine-tuned
            ``ychenNLP/nllb-200-3.3b-easyproject`` of systems.md §1).
        include_source: also train on the English gold data (the paper's step 7).
        backbone, labels, epochs, lr, batch_size, max_length, max_minutes: target-model training.
    """

    name = "easyproject-train"

    def __init__(
        self,
        source: str = "conll2003/eng/train",
        max_source_sentences: int | None = 2000,
        translator: str | Translator = "nllb",
        translator_model: str | None = None,
        include_source: bool = False,
        backbone: str = DEFAULT_BACKBONE,
        labels: Sequence[str] = DEFAULT_LABELS,
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
    ) -> None:
        self.source = source
        self.max_source_sentences = max_source_sentences
        self.translator = translator
        self.translator_model = translator_model
        self.include_source = include_source
        self.backbone = backbone
        self.labels = tuple(labels)
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_minutes = max_minutes
        self._init_state()
        self._taggers = {}

    def fit(self, context: FitContext) -> None:
        from systems.backbones import train_tagger

        parts = self.source.split("/")
        if len(parts) != 3:
            raise ConfigError(f"{self.name}: source must be 'dataset/lang/split'; got {self.source!r}")
        english = context.load(*parts)[: self.max_source_sentences]
        english = [s.with_tags(iob2_from_spans(_keep_labels(s.spans, self.labels), len(s))) for s in english if len(s)]
        model = self.translator_model
        if model is None and self.translator == "nllb":
            model = EASYPROJECT_MODEL  # the paper's marker-fine-tuned MT, not plain NLLB
        translator = _build_translator(self.translator, model, context)
        self._taggers, self.projection_report_ = {}, {}
        for lang in context.target_languages:
            try:
                data, report = project_easyproject(english, translator, tgt_lang=lang, id_prefix=self.name)
            except (UnsupportedLanguageError, ModelUnavailableError):
                self.projection_report_[lang] = {"total": 0, "unsupported": 1}
                continue
            self.projection_report_[lang] = report.as_dict()
            train = data + (english if self.include_source else [])
            if train:
                self._taggers[lang] = train_tagger(
                    train, labels=list(self.labels), backbone=self.backbone, seed=context.seed, epochs=self.epochs, lr=self.lr,
                    batch_size=self.batch_size, max_length=self.max_length, max_minutes=self.max_minutes,
                    cache_dir=context.cache_dir, data_dir=context.data_dir, show_progress=context.show_progress,
                )
                self.projection_report_[lang]["model"] = training_report(self._taggers[lang])
        if not self._taggers:
            raise UnsupportedLanguageError(f"{self.name}: the translator could not translate into any of {', '.join(context.target_languages)}")
        self._fitted = True


# --- Translate-test -------------------------------------------------------------------------------


class _TranslateTest(_ProjectionSystem):
    """Translate the target sentence to English, tag it, project the labels back."""

    def _common_init(
        self,
        source_system: str | NERSystem,
        source_params: Mapping[str, Any] | None,
        backbone: str,
        translator: str | Translator,
        translator_model: str | None,
        aligner: str,
        parallel: str,
        labels: Sequence[str],
    ) -> None:
        self.source_system = source_system
        self.source_params = source_params
        self.backbone = backbone
        self.translator = translator
        self.translator_model = translator_model
        self.aligner = aligner
        self.parallel = parallel
        self.labels = tuple(labels)
        self._init_state()
        self._translator: Translator | None = None
        self._aligners: dict[str, Aligner] = {}
        self._fitted_languages: list[str] = []
        self._data_dir: Path | None = None

    def _languages(self) -> list[str]:
        return list(self._fitted_languages)

    @property
    def tags(self) -> SystemTags:
        tags = super().tags
        translator = self.translator if isinstance(self.translator, str) else self.translator.name
        if translator != "lexical" and self.aligner == "eflomal":
            reason = (
                "eflomal is retrained on each predict batch (plus the parallel corpus) and its sampler is "
                "clock-seeded, so links can differ between batches and runs"
            )
            return SystemTags(
                tags.labels, tags.languages, deterministic=False, trainable=True, accelerator=tags.accelerator,
                expected_failed_checks={"check_batch_invariance": reason, "check_order_invariance": reason, "check_deterministic": reason},
            )
        return tags

    def fit(self, context: FitContext) -> None:
        self._fit_source(context)
        self._translator = _build_translator(self.translator, self.translator_model, context)
        self._data_dir = context.data_dir
        self._fitted_languages = []
        last: Exception | None = None
        for lang in context.target_languages:
            if lang == "eng":
                self._fitted_languages.append(lang)
                continue
            lexicon = getattr(self._translator, "lexicon", None)
            try:
                if lexicon is not None:
                    lexicon(lang, "eng")  # learn now, so that predict is fast and fit reports missing data
                    if isinstance(self, BackTranslationProjectionTest):
                        lexicon("eng", lang)
                else:
                    self._translator.translate([["test"]], src_lang=lang, tgt_lang="eng")
            except (UnsupportedLanguageError, ModelUnavailableError) as exc:
                self.projection_report_[lang] = {"unsupported": 1}
                last = exc
                continue
            self._fitted_languages.append(lang)
        if not self._fitted_languages:
            raise UnsupportedLanguageError(f"{self.name}: translator {self.translator!r} supports none of the target languages: {last}")
        self._fitted = True

    def _aligner_for(self, lang: str) -> Aligner:
        if lang not in self._aligners:
            params: dict[str, Any] = {}
            if self.aligner == "eflomal":
                # eflomal learns from the text it aligns: give it the parallel corpus, English first.
                params["extra"] = _parallel_pairs(self._data_dir, self.parallel, lang, ("dev", "test"), None)
            self._aligners[lang] = make_aligner(self.aligner, **params)
        return self._aligners[lang]

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._require_fitted()
        out: list[tuple[str, ...]] = [()] * len(sentences)
        by_lang: dict[str, list[int]] = defaultdict(list)
        for k, s in enumerate(sentences):
            by_lang[s.lang].append(k)
        for lang, indices in by_lang.items():
            if lang not in self._fitted_languages:
                raise UnsupportedLanguageError(f"{self.name} was not fitted for {lang!r} (fitted: {', '.join(self._fitted_languages)})")
            batch = [sentences[k] for k in indices]
            for k, tags in zip(indices, self._predict_lang(batch, lang), strict=True):
                out[k] = tags
        return out

    def _fitted_parts(self) -> tuple[NERSystem, Translator]:
        if self._source is None or self._translator is None:
            raise XnerError(f"{self.name} is not fitted: call fit(FitContext(...)) before predict")
        return self._source, self._translator

    def _predict_lang(self, batch: Sequence[Sentence], lang: str) -> list[tuple[str, ...]]:
        source, translator = self._fitted_parts()
        nonempty = [s for s in batch if len(s)]
        if not nonempty:
            return [() for _ in batch]
        if lang == "eng":
            tags = [tuple(t) for t in source.predict(nonempty)]
        else:
            translations = translator.translate([s.tokens for s in nonempty], src_lang=lang, tgt_lang="eng")
            english = self._tag_english([t.tokens for t in translations], f"{self.name}/{lang}")
            need = [k for k, t in enumerate(translations) if t.alignment is None]
            computed = self._aligner_for(lang).align([english[k].tokens for k in need], [nonempty[k].tokens for k in need]) if need else []
            by_index = dict(zip(need, computed, strict=True))
            tags = []
            for k, (sentence, translation, tagged) in enumerate(zip(nonempty, translations, english, strict=True)):
                if translation.alignment is not None:
                    # The translator links (target index, English index); projection wants (English, target).
                    links: Alignment = tuple(sorted((j, i) for i, j in translation.alignment))
                else:
                    links = by_index[k]
                spans = self._project(_keep_labels(tagged.spans, self.labels), sentence.tokens, links)
                tags.append(iob2_from_spans(spans, len(sentence)))
        it = iter(tags)
        return [next(it) if len(s) else () for s in batch]


class AlignmentProjectionTest(_TranslateTest):
    """Translate-test with the word-alignment heuristic.

    Args:
        source_system, source_params, backbone: the English tagger (default: direct transfer).
        translator, translator_model: registered translator (``lexical`` offline, ``nllb`` + model dir).
        aligner: used when the translator gives no alignment (``eflomal`` is trained on the
            translations plus the ``parallel`` corpus).
        method: ``garcia`` or ``politov``.
        labels: entity types projected.
    """

    name = "proj-align-test"

    def __init__(
        self,
        source_system: str | NERSystem = "direct-transfer",
        source_params: Mapping[str, Any] | None = None,
        backbone: str = DEFAULT_BACKBONE,
        translator: str | Translator = "nllb",
        translator_model: str | None = None,
        aligner: str = "eflomal",
        method: str = "garcia",
        parallel: str = "mafand",
        labels: Sequence[str] = DEFAULT_LABELS,
    ) -> None:
        if method not in ("garcia", "politov"):
            raise ConfigError(f"{self.name}: method must be 'garcia' or 'politov'; got {method!r}")
        self.method = method
        self._common_init(source_system, source_params, backbone, translator, translator_model, aligner, parallel, labels)

    def _project(self, spans: Sequence[Span], target: Sequence[str], links: Alignment, ner: Any = None) -> list[Span]:
        return project_by_alignment(spans, target, links, method=self.method)


class ILPProjectionTest(_TranslateTest):
    """Translate-test with n-gram candidates and the exact ILP matching (parameters as proj-align-test)."""

    name = "proj-ilp-test"
    _solver = "exact"

    def __init__(
        self,
        source_system: str | NERSystem = "direct-transfer",
        source_params: Mapping[str, Any] | None = None,
        backbone: str = DEFAULT_BACKBONE,
        translator: str | Translator = "nllb",
        translator_model: str | None = None,
        aligner: str = "eflomal",
        max_ngram: int = 10,
        parallel: str = "mafand",
        labels: Sequence[str] = DEFAULT_LABELS,
    ) -> None:
        self.max_ngram = max_ngram
        self._common_init(source_system, source_params, backbone, translator, translator_model, aligner, parallel, labels)

    def _project(self, spans: Sequence[Span], target: Sequence[str], links: Alignment, ner: Any = None) -> list[Span]:
        return project_by_ilp(spans, target, links, solver=self._solver, max_length=self.max_ngram)


class GreedyILPProjectionTest(ILPProjectionTest):
    """Translate-test with the paper's greedy matching (its default) instead of the exact optimum."""

    name = "proj-ilp-greedy-test"
    _solver = "greedy"


class BackTranslationProjectionTest(_TranslateTest):
    """Translate-test refined by back-translation, "tgt2tgt" (Politov et al. 2025; systems.md §2c).

    The English entities are marked and translated back into the target language; the back-translation
    is aligned with the original sentence (same language: the ``surface`` aligner by default) and
    the spans are projected with ``method`` (``politov``, ``garcia``, ``ilp`` or ``ilp-greedy``).
    """

    name = "proj-bt-test"

    def __init__(
        self,
        source_system: str | NERSystem = "direct-transfer",
        source_params: Mapping[str, Any] | None = None,
        backbone: str = DEFAULT_BACKBONE,
        translator: str | Translator = "nllb",
        translator_model: str | None = None,
        aligner: str = "surface",
        method: str = "politov",
        parallel: str = "mafand",
        labels: Sequence[str] = DEFAULT_LABELS,
    ) -> None:
        if method not in ("politov", "garcia", "ilp", "ilp-greedy"):
            raise ConfigError(f"{self.name}: method must be politov, garcia, ilp or ilp-greedy; got {method!r}")
        self.method = method
        self._common_init(source_system, source_params, backbone, translator, translator_model, aligner, parallel, labels)

    def _aligner_for(self, lang: str) -> Aligner:
        # Back-translation and original are in the same language: no cross-lingual corpus needed.
        if lang not in self._aligners:
            self._aligners[lang] = make_aligner(self.aligner)
        return self._aligners[lang]

    def _predict_lang(self, batch: Sequence[Sentence], lang: str) -> list[tuple[str, ...]]:
        source, translator = self._fitted_parts()
        nonempty = [s for s in batch if len(s)]
        if lang == "eng" or not nonempty:
            return super()._predict_lang(batch, lang)
        results = back_translate_project(
            nonempty, translator=translator, source_system=_LabelFilter(source, self.labels),
            aligner=self._aligner_for(lang), lang=lang, method=self.method,
        )
        tags = iter(iob2_from_spans(r.spans, len(s)) for r, s in zip(results, nonempty, strict=True))
        return [next(tags) if len(s) else () for s in batch]


class _LabelFilter:
    """A view of an NER system that outputs only some entity types (others become O)."""

    def __init__(self, system: NERSystem, labels: Sequence[str]) -> None:
        self.system = system
        self.labels = tuple(labels)
        self.name = system.name

    @property
    def tags(self) -> SystemTags:
        return self.system.tags

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        out = []
        for s, tags in zip(sentences, self.system.predict(sentences), strict=True):
            out.append(iob2_from_spans(_keep_labels(s.with_tags(tags).spans, self.labels), len(s)))
        return out
