"""Direct (zero-shot) model transfer: fine-tune on English CoNLL-2003, tag any language.

systems.md §4: the published system is XLM-R-large fine-tuned on CoNLL-2003 English (first-subword
labels, checkpoint chosen on English dev) applied unchanged to the target language. The label
mapping MISC→O against MasakhaNER/WikiANN gold is the runner's job, not the system's.

Departures: ``epochs``, ``lr`` and ``freeze_layers`` left at ``None`` come from the backbone
(:func:`systems.backbones.backbone_defaults`): 6 epochs at lr 2e-5 for large hub models (XTREME uses
10), 2 epochs at lr 2e-4 with frozen embeddings for ``e5-small`` on CPU, lr 1e-3 for the randomly
initialised offline backbone. There is no wall-time budget by default (``max_minutes``): a result
must not depend on how loaded the machine was; ``max_steps`` is the reproducible budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.data import Sentence
from harness.datasets import get_dataset
from harness.errors import ConfigError, XnerError
from systems.base import FitContext, SystemTags
from systems.backbones import DEFAULT_BACKBONE


def parse_source(source: str) -> tuple[str, str]:
    """``"conll2003/eng"`` → ``("conll2003", "eng")``.

    >>> parse_source("masakhaner2/hau")
    ('masakhaner2', 'hau')
    """
    parts = source.split("/")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"source {source!r} must look like 'dataset/lang', e.g. 'conll2003/eng'")
    return parts[0], parts[1]


class _BackboneSystem:
    """Shared plumbing: the fitted-or-not state and the training parameters every system here has."""

    name = "?"
    version = "1"
    _tagger: Any

    def _train_options(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,  # type: ignore[attr-defined]
            "lr": self.lr,  # type: ignore[attr-defined]
            "batch_size": self.batch_size,  # type: ignore[attr-defined]
            "max_length": self.max_length,  # type: ignore[attr-defined]
            "max_minutes": self.max_minutes,  # type: ignore[attr-defined]
            "max_steps": getattr(self, "max_steps", None),
            "bf16": getattr(self, "bf16", False),
            "freeze_layers": getattr(self, "freeze_layers", None),
        }

    def _require_fitted(self) -> None:
        if getattr(self, "_fitted", False) is not True:
            raise XnerError(f"{self.name} is not fitted: call fit(FitContext(...)) before predict")


def training_report(tagger: Any) -> dict[str, Any]:
    """What a fit report says about one trained model: steps, stop reason, dev F1, time."""
    info = tagger.info
    dev = [h["dev_f1"] for h in info.get("history", []) if "dev_f1" in h]
    report: dict[str, Any] = {
        "steps": info.get("steps"),
        "planned_steps": info.get("planned_steps"),
        "stopped": info.get("stopped"),
        "train_seconds": info.get("train_seconds"),
        "cpu_seconds": info.get("cpu_seconds"),
    }
    if dev:
        report["dev_f1"] = round(100 * max(dev), 2)
        report["best_epoch"] = info.get("best_epoch")
    if "epochs_raised_from" in info:
        report["epochs"] = f"{info['settings']['epochs']} (raised from {info['epochs_raised_from']} to reach min_steps)"
    if "training_fit" in info:  # no dev set: span F1 against its own training labels (a student: the teacher's)
        report["training_fit_f1"] = info["training_fit"]["f1"]
    if "build_id" in info:  # which trained instance predicted (the prediction cache is keyed by it)
        report["build"] = info["build_id"]
    return report


def load_source(context: FitContext, source: str, limit: int | None, split: str = "train") -> list[Sentence]:
    dataset, lang = parse_source(source)
    sentences = context.load(dataset, lang, split)
    return list(sentences[:limit]) if limit is not None else list(sentences)


class DirectTransfer(_BackboneSystem):
    """Fine-tune a multilingual encoder on a source NER dataset, predict every language zero-shot.

    Args:
        backbone: Hugging Face name or local path (``xlm-roberta-large`` for the published
            setting), ``"e5-small"`` (real pretrained, offline), or ``"offline"`` (random init).
        source: ``dataset/lang`` of the labelled source data.
        epochs, lr, freeze_layers: ``None`` = the backbone's default; batch_size, max_length.
        max_minutes: wall-time budget for fine-tuning (``None``: no budget); max_steps: step budget.
        bf16: bfloat16 autocast in training (CPUs with AVX-512 BF16).
        max_train_sentences / max_dev_sentences: use only the first N sentences (tests, learning curves).
        min_dev_f1: refuse a model whose dev F1 stays below this (``None``: backbone default).
    """

    name = "direct-transfer"
    version = "1"

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        source: str = "conll2003/eng",
        epochs: int | None = None,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        max_steps: int | None = None,
        freeze_layers: int | None = None,
        bf16: bool = False,
        max_train_sentences: int | None = None,
        max_dev_sentences: int | None = None,
        min_dev_f1: float | None = None,
    ) -> None:
        self.backbone = backbone
        self.source = source
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_minutes = max_minutes
        self.max_steps = max_steps
        self.freeze_layers = freeze_layers
        self.bf16 = bf16
        self.max_train_sentences = max_train_sentences
        self.max_dev_sentences = max_dev_sentences
        self.min_dev_f1 = min_dev_f1
        self._fitted = False

    @property
    def tags(self) -> SystemTags:
        dataset, _ = parse_source(self.source)
        return SystemTags(labels=get_dataset(dataset).labels, languages=None, deterministic=True, trainable=True, accelerator=True)

    def fit(self, context: FitContext) -> None:
        from systems.backbones import train_tagger

        train = load_source(context, self.source, self.max_train_sentences)
        dataset, lang = parse_source(self.source)
        dev = load_source(context, self.source, self.max_dev_sentences, "dev") if context.has_split(dataset, lang, "dev") else None
        self._tagger = train_tagger(
            train,
            labels=sorted(get_dataset(dataset).labels),
            backbone=self.backbone,
            dev=dev,
            seed=context.seed,
            cache_dir=context.cache_dir,
            data_dir=context.data_dir,
            show_progress=context.show_progress,
            min_dev_f1=self.min_dev_f1,
            **self._train_options(),
        )
        self.fit_report = training_report(self._tagger)
        self._fitted = True

    @property
    def tagger(self) -> Any:
        """The fitted :class:`systems.backbones.Tagger` (teachers reuse it)."""
        self._require_fitted()
        return self._tagger

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._require_fitted()
        return self._tagger.predict(sentences)
