"""The one training loop: fine-tuning on gold tags and distillation onto teacher probabilities."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import OUTSIDE, Sentence
from harness.errors import ConfigError, UntrainedModelError
from systems.backbones.encoding import pad_windows, shuffled_buckets
from systems.backbones.sources import (
    DEFAULT_BACKBONE,
    backbone_defaults,
    backbone_identity,
    cache_root,
    is_offline_backbone,
    load_token_model,
    resolve_backbone,
)
from systems.backbones.labels import tag_names_for
from systems.backbones.tagger import INFERENCE_BATCH_SIZE, Tagger, load_or_build

#: Bumped whenever training code changes what a cached tagger would contain.
TRAINING_CODE_VERSION = "2"


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch (training and dropout become reproducible on CPU)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def sentences_digest(sentences: Sequence[Sentence]) -> str:
    """Content hash of tokens, tags and languages (ids excluded: same text, same model)."""
    h = hashlib.sha256()
    for s in sentences:
        h.update(json.dumps([s.lang, s.tokens, s.tags], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()

# --- Training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one fine-tuning run (all enter the cache key).

    Defaults follow XTREME ``train_panx.sh`` (systems.md §4) except epochs, which are fewer because
    the harness usually trains on CPU; the learning rate, epochs and freezing a system leaves at
    ``None`` come from :func:`systems.backbones.sources.backbone_defaults`. ``max_minutes`` caps
    wall time (then the best epoch so far on dev is kept, or the last state without dev) and
    ``max_steps`` caps optimiser steps (the reproducible budget: it does not depend on machine load).
    ``bf16`` runs forward and backward under bfloat16 autocast (fast on CPUs with AVX-512 BF16;
    master weights and the optimiser stay float32).
    """

    epochs: int = 3
    lr: float = 2e-5
    batch_size: int = 32
    max_length: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2
    freeze_layers: int = -1  # -1: nothing frozen; k >= 0: embeddings and the bottom k layers frozen
    max_minutes: float | None = None
    eval_batch_size: int = 64  # dev evaluation during training (part of the cache key; keep stable)
    grad_clip: float = 1.0
    max_steps: int | None = None
    bf16: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_SETTING_NAMES = {f for f in TrainSettings.__dataclass_fields__ if f != "extra"}


def make_settings(**kwargs: Any) -> TrainSettings:
    known = {k: v for k, v in kwargs.items() if k in _SETTING_NAMES and v is not None}
    extra = {k: v for k, v in kwargs.items() if k not in _SETTING_NAMES}
    return TrainSettings(**known, extra=extra)


def train_tagger(
    train: Sequence[Sentence],
    *,
    labels: Sequence[str],
    backbone: str = DEFAULT_BACKBONE,
    dev: Sequence[Sentence] | None = None,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    show_progress: bool = True,
    min_dev_f1: float | None = None,
    min_fit_f1: float | None = None,
    min_steps: int | None = None,
    **options: Any,
) -> Tagger:
    """Fine-tune ``backbone`` on IOB2-tagged sentences (cached: built once, reloaded next time).

    Tags of types not in ``labels`` are mapped to ``O`` (e.g. MISC when labels are PER/ORG/LOC).

    Args:
        train: training sentences.
        labels: entity types to learn.
        backbone: ``"offline"`` (built locally), a local directory or a Hugging Face name.
        dev: sentences for model selection and early stopping (``patience`` epochs).
        epochs, lr: ``None`` = the backbone's default (:func:`backbone_defaults`): lr 2e-5 for
            large pretrained hub models (XTREME), 2e-4 for ``e5-small``, 1e-3 for offline
            backbones, which start from random weights and need a larger step.
        min_dev_f1: refuse a model whose best dev F1 (0-100) stays below this (``None``: the
            backbone's default); a run that made no optimiser step past warm-up is refused too.
        min_fit_f1: without ``dev``, refuse a model whose span F1 on (a sample of) its own
            training data stays below this (``None``: the backbone's default).
        min_steps: raise ``epochs`` until training makes at least this many steps (``None``: the
            backbone's default; the fit report records ``epochs_raised_from``).
        options: more :class:`TrainSettings` fields (``max_minutes``, ``max_steps``, ``freeze_layers``,
            ``bf16``, ``patience``, ``weight_decay``, ``warmup_ratio``).

    Raises:
        ModelUnavailableError: the backbone cannot be loaded (hub name without network).
        UntrainedModelError: training ended (budget, bad settings) with a clearly untrained model.

    >>> # tagger = train_tagger(sentences, labels=["PER", "LOC"], backbone="offline-tiny", epochs=1)
    """
    if not train:
        raise ConfigError("train_tagger needs at least one training sentence")
    defaults = backbone_defaults(backbone)
    if options.get("freeze_layers") is None:
        options["freeze_layers"] = defaults.freeze_layers
    requested = defaults.epochs if epochs is None else epochs
    planned = epochs_for_min_steps(requested, len(train), batch_size, defaults.min_steps if min_steps is None else min_steps)
    settings = make_settings(
        epochs=planned,
        lr=defaults.lr if lr is None else lr,
        batch_size=batch_size,
        max_length=max_length,
        **options,
    )
    labels = tuple(sorted(set(labels)))
    tag_names = tag_names_for(labels)
    root = cache_root(cache_dir)
    backbone_path = resolve_backbone(
        backbone, cache_dir=root, data_dir=data_dir, extra_text=[s.tokens for s in train], seed=0, show_progress=show_progress
    )
    key = _digest(
        {
            "code": TRAINING_CODE_VERSION,
            "kind": "supervised",
            "backbone": backbone_identity(backbone, backbone_path),
            "labels": labels,
            "settings": asdict(settings),
            "seed": seed,
            "train": sentences_digest(train),
            "dev": sentences_digest(dev) if dev else None,
        }
    )[:20]
    target = root / "taggers" / key

    # Without dev, the model is judged by its fit to its own training labels (computed once).
    fit_data = None if dev else ([s.tokens for s in train], [_kept_tags(s, labels) for s in train])

    def build(directory: Path) -> None:
        index = {t: i for i, t in enumerate(tag_names)}
        targets = [np.array([index.get(_keep(t, labels), 0) for t in s.tags], dtype=np.int64) for s in train]
        tagger = fit_token_model(
            backbone_path,
            [s.tokens for s in train],
            targets,
            labels=labels,
            settings=settings,
            seed=seed,
            dev=dev,
            show_progress=show_progress,
            description=f"fine-tune {backbone}",
        )
        tagger.info.update({"backbone": backbone, "train_sentences": len(train), "key": key})
        if planned != requested:
            tagger.info["epochs_raised_from"] = requested
        if fit_data is not None:
            tagger.info["training_fit"] = training_fit(tagger, *fit_data)
        tagger.save(directory)

    tagger = load_or_build(target, build)
    what = f"fine-tuned {backbone} tagger"
    check_trained(tagger, defaults.min_dev_f1 if min_dev_f1 is None else min_dev_f1, what=what)
    if fit_data is not None:
        check_fits_training_data(
            tagger, *fit_data, what=what, against="its training labels",
            min_f1=defaults.min_fit_f1 if min_fit_f1 is None else min_fit_f1,
        )
    return tagger


def _kept_tags(sentence: Sentence, labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(_keep(t, labels) for t in sentence.tags)


def check_trained(tagger: Tagger, min_dev_f1: float, *, what: str) -> None:
    """Refuse a model that clearly did not learn, with the reason and what to change.

    A wall-time budget that stops training during warm-up, or a learning rate that never moves
    the model off "everything is O", must fail the run's cells -- never store F1 0.00 as a result.
    The model stays cached (training it was expensive and it can be inspected); only its use is
    refused.
    """
    info = tagger.info
    steps, warmup = int(info.get("steps", -1)), int(info.get("warmup_steps", 0))
    if steps >= 0 and steps <= warmup:
        raise UntrainedModelError(
            f"{what} is untrained: {steps} optimiser steps ran, none past the {warmup} warm-up steps "
            f"(stopped by {info.get('stopped', '?')}); raise max_minutes or max_steps"
        )
    dev = [h["dev_f1"] for h in info.get("history", []) if "dev_f1" in h]
    if dev and 100 * max(dev) < min_dev_f1:
        raise UntrainedModelError(
            f"{what} is clearly untrained: best dev F1 {100 * max(dev):.2f} < {min_dev_f1:g} after {steps} of "
            f"{info.get('planned_steps', '?')} planned steps (stopped by {info.get('stopped', '?')}); "
            "check lr, epochs and the time budget"
        )


def _keep(tag: str, labels: Sequence[str]) -> str:
    return tag if tag == OUTSIDE or tag[2:] in labels else OUTSIDE


def freeze_bottom(model: Any, layers: int) -> int:
    """Freeze embeddings and the bottom ``layers`` encoder layers (Wu et al. 2020 freeze 3).

    Returns the number of frozen parameters tensors.
    """
    if layers < 0:
        return 0
    base = getattr(model, model.base_model_prefix, model)
    frozen = 0
    modules = []
    for name in ("embeddings", "shared", "embed_tokens"):
        if hasattr(base, name):
            modules.append(getattr(base, name))
    encoder = getattr(base, "encoder", base)
    stack = getattr(encoder, "layer", None) or getattr(encoder, "block", None) or []
    modules += list(stack)[:layers]
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(False)
            frozen += 1
    return frozen


def fit_token_model(
    backbone_path: str,
    token_lists: Sequence[Sequence[str]],
    targets: Sequence[np.ndarray],
    *,
    labels: Sequence[str],
    settings: TrainSettings,
    seed: int,
    dev: Sequence[Sentence] | None = None,
    soft_loss: str = "mse",
    temperature: float = 1.0,
    show_progress: bool = True,
    description: str = "train",
) -> Tagger:
    """The one training loop: hard labels (int arrays, cross-entropy) or soft targets (distillation).

    ``targets[i]`` is either ``int64[n_words]`` (tag indices) or ``float32[n_words, n_tags]``
    (teacher probabilities; loss ``soft_loss`` = ``"mse"`` as in Wu et al. 2020 or ``"kl"`` with
    ``temperature``). Only first subwords enter the loss.
    """
    import torch
    from torch.nn import functional as F
    set_seed(seed)
    model, tokenizer = load_token_model(backbone_path, labels)
    freeze_bottom(model, settings.freeze_layers)
    tagger = Tagger(model, tokenizer, labels, max_length=settings.max_length, batch_size=settings.eval_batch_size)
    n_tags = len(tagger.tag_names)
    soft = bool(targets) and targets[0].ndim == 2
    windows = [w for w in tagger.encoder.windows(token_lists) if w.word_indices]
    if not windows:
        raise ConfigError("no trainable words in the training data")
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(windows) / settings.batch_size)
    total_steps = max(1, steps_per_epoch * settings.epochs)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and not _no_decay(n)]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and _no_decay(n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
    )
    if settings.max_steps is not None:
        total_steps = max(1, min(total_steps, settings.max_steps))
    start, cpu_start = time.monotonic(), time.process_time()
    deadline = start + 60 * settings.max_minutes if settings.max_minutes else None
    warmup = int(settings.warmup_ratio * total_steps)
    step = 0

    def lr_factor(step: int) -> float:
        # Linear warm-up then linear decay (XTREME); under a wall-time budget the decay also follows
        # the remaining time, so a run cut short by the budget still ends at a small learning rate.
        if step < warmup:
            return (step + 1) / (warmup + 1)
        factor = max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        if deadline is not None:
            factor = min(factor, max(0.0, (deadline - time.monotonic()) / (deadline - start)))
        return factor

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    best_score, best_state, best_epoch, bad_epochs = -1.0, None, -1, 0
    history: list[dict[str, float]] = []
    stopped = "epochs"
    for epoch in range(settings.epochs):
        model.train()
        batches = shuffled_buckets([len(w.input_ids) for w in windows], settings.batch_size, rng)
        running, seen = 0.0, 0
        for batch in _progress(batches, show_progress, f"{description} epoch {epoch + 1}/{settings.epochs}"):
            chosen = [windows[i] for i in batch]
            ids, mask = pad_windows(chosen, tagger.pad_id)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
            rows = torch.tensor([r for r, w in enumerate(chosen) for _ in w.word_positions], dtype=torch.long)
            cols = torch.tensor([p for w in chosen for p in w.word_positions], dtype=torch.long)
            picked = logits[rows, cols]
            if soft:
                goal = torch.from_numpy(np.concatenate([targets[w.sentence][list(w.word_indices)] for w in chosen]))
                loss = distillation_loss(picked, goal, soft_loss, temperature)
            else:
                goal = torch.from_numpy(np.concatenate([targets[w.sentence][list(w.word_indices)] for w in chosen]))
                loss = F.cross_entropy(picked, goal)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            running += loss.item() * len(batch)
            seen += len(batch)
            if deadline is not None and time.monotonic() > deadline:
                stopped = "time budget"
                break
            if step >= total_steps:
                stopped = "max_steps" if settings.max_steps is not None and step >= settings.max_steps else stopped
                break
        record = {"epoch": epoch + 1, "loss": running / max(seen, 1), "seconds": time.monotonic() - start}
        if dev:
            from harness.metrics import score_corpus

            gold = [tuple(_keep(t, labels) for t in s.tags) for s in dev]
            record["dev_f1"] = score_corpus(gold, tagger.predict(dev)).f1
            if record["dev_f1"] > best_score:
                best_score, best_epoch, bad_epochs = record["dev_f1"], epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
        history.append(record)
        if stopped in ("time budget", "max_steps"):
            break
        if dev and bad_epochs >= settings.patience:
            stopped = "early stopping on dev"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    tagger.batch_size = INFERENCE_BATCH_SIZE
    tagger.info.update(
        {
            "history": history,
            "best_epoch": best_epoch if dev else len(history),
            "stopped": stopped,
            "steps": step,
            "planned_steps": total_steps,
            "warmup_steps": warmup,
            "train_seconds": round(time.monotonic() - start, 2),
            # CPU seconds of this process (all threads): what the training cost, whatever the load.
            "cpu_seconds": round(time.process_time() - cpu_start, 1),
            "settings": asdict(settings),
            "seed": seed,
            "n_tags": n_tags,
        }
    )
    return tagger


def _no_decay(name: str) -> bool:
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name


def distillation_loss(student_logits: Any, teacher_probs: Any, kind: str = "mse", temperature: float = 1.0) -> Any:
    """Wu et al. 2020 (systems.md §5): mean squared error between student and teacher probabilities
    over first subwords and tags; ``"kl"`` is KL(teacher || student) at ``temperature`` (scaled by T²,
    Hinton et al. 2015), kept as the option the reference code also has.
    """
    import torch
    from torch.nn import functional as F

    if kind == "mse":
        return F.mse_loss(torch.softmax(student_logits, dim=-1), teacher_probs)
    if kind == "kl":
        log_p = F.log_softmax(student_logits / temperature, dim=-1)
        # Teacher probabilities are sharpened/softened at the same temperature.
        teacher = torch.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=-1)
        return F.kl_div(log_p, teacher, reduction="batchmean") * temperature**2
    raise ConfigError(f"distillation loss must be 'mse' or 'kl'; got {kind!r}")


def _progress(items: Sequence[Any], show: bool, description: str) -> Iterator[Any]:
    if not show:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=description, leave=False, dynamic_ncols=True)


def train_student(
    texts: Sequence[Sequence[str]],
    soft_targets: Sequence[np.ndarray],
    *,
    labels: Sequence[str],
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
    epochs: int = 3,
    lr: float | None = None,
    batch_size: int = 32,
    max_length: int = 128,
    loss: str | None = None,
    temperature: float = 1.0,
    freeze_layers: int | None = None,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
    show_progress: bool = True,
    cache_tag: str = "",
    min_fit_f1: float | None = None,
    min_steps: int | None = None,
    **options: Any,
) -> Tagger:
    """Train a fresh backbone to match teacher distributions on unlabelled text (Wu et al. 2020 §5).

    Defaults follow the paper: MSE on probabilities, lr 1e-4 for large pretrained backbones
    (2e-4 for ``e5-small``, 5e-4 for the random-init offline ones), embeddings and the bottom 3
    layers frozen (``freeze_layers=None``: the backbone's default). For offline backbones without
    MLM pretraining, freezing random layers makes no sense, so the freeze is skipped there
    (documented deviation). ``loss=None``, ``min_steps=None`` and ``min_fit_f1=None`` take the
    backbone's defaults (:class:`~systems.backbones.sources.BackboneDefaults`): e5-small students
    use KL and at least 300 steps, measured necessary on CPU. A student that does not reproduce
    its teacher's spans on its own training text (:func:`check_fits_training_data`) is refused.

    >>> # student = train_student(texts, teacher.predict_proba(texts), labels=teacher.labels)
    """
    if len(texts) != len(soft_targets):
        raise ConfigError(f"{len(texts)} texts but {len(soft_targets)} target arrays")
    defaults = backbone_defaults(backbone)
    if lr is None:
        lr = defaults.student_lr
    if freeze_layers is None:
        freeze_layers = defaults.student_freeze_layers
    if loss is None:
        loss = defaults.student_loss
    planned = epochs_for_min_steps(epochs, len(texts), batch_size, defaults.student_min_steps if min_steps is None else min_steps)
    raised_from, epochs = (epochs if planned != epochs else None), planned
    if is_offline_backbone(backbone) and "mlm" not in backbone:
        # Deviation from Wu et al.: the bottom layers of a randomly initialised offline encoder
        # carry no pretrained knowledge worth protecting, so nothing is frozen there.
        freeze_layers = -1
    settings = make_settings(
        epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length, freeze_layers=freeze_layers, **options
    )
    root = cache_root(cache_dir)
    backbone_path = resolve_backbone(backbone, cache_dir=root, data_dir=data_dir, extra_text=texts, seed=0, show_progress=show_progress)
    h = hashlib.sha256()
    for tokens, t in zip(texts, soft_targets, strict=True):
        h.update(json.dumps(list(tokens), ensure_ascii=False).encode())
        h.update(np.round(np.asarray(t, dtype=np.float32), 5).tobytes())
    key = _digest(
        {
            "code": TRAINING_CODE_VERSION,
            "kind": "student",
            "backbone": backbone_identity(backbone, backbone_path),
            "labels": sorted(labels),
            "settings": asdict(settings),
            "loss": loss,
            "temperature": temperature,
            "seed": seed,
            "data": h.hexdigest(),
            "tag": cache_tag,
        }
    )[:20]
    target = root / "taggers" / f"student-{key}"

    teacher_tags = argmax_tags(soft_targets, labels)

    def build(directory: Path) -> None:
        tagger = fit_token_model(
            backbone_path,
            texts,
            [np.asarray(t, dtype=np.float32) for t in soft_targets],
            labels=labels,
            settings=settings,
            seed=seed,
            soft_loss=loss,
            temperature=temperature,
            show_progress=show_progress,
            description=f"student {cache_tag or backbone}",
        )
        tagger.info.update({"backbone": backbone, "student_sentences": len(texts), "key": key})
        if raised_from is not None:
            tagger.info["epochs_raised_from"] = raised_from
        tagger.info["training_fit"] = training_fit(tagger, texts, teacher_tags)
        tagger.save(directory)

    student = load_or_build(target, build)
    check_trained(student, 0.0, what=f"student {cache_tag or backbone}")
    check_fits_training_data(
        student, texts, teacher_tags, what=f"student {cache_tag or backbone}",
        against="its teacher's labels", min_f1=defaults.student_min_fit_f1 if min_fit_f1 is None else min_fit_f1,
    )
    return student


FIT_SAMPLE = 300


def epochs_for_min_steps(epochs: int, n_sentences: int, batch_size: int, min_steps: int) -> int:
    """``epochs``, raised until ``n_sentences`` in batches of ``batch_size`` make ``min_steps`` steps.

    Steps are counted per sentence (long sentences add windows, so real steps are at least this).

    >>> epochs_for_min_steps(2, 2000, 32, 300), epochs_for_min_steps(2, 14041, 32, 300)
    (5, 2)
    """
    per_epoch = max(1, math.ceil(n_sentences / batch_size))
    return max(epochs, math.ceil(min_steps / per_epoch)) if min_steps > 0 else epochs


def training_fit(
    tagger: Tagger, texts: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], *, sample: int = FIT_SAMPLE
) -> dict[str, float]:
    """Span F1 of a model against its own training labels, on an evenly spread sample of them.

    For a model with no dev set (a student: the labels are its teacher's argmax; a translate-train
    model: the projected labels) this is the check that it learnt anything: a model that collapsed
    onto "everything is O" matches no span.
    """
    from harness.metrics import score_corpus

    chosen = list(range(len(texts)))[:: max(1, len(texts) // sample)][:sample]
    predicted = tagger.predict([list(texts[i]) for i in chosen])
    scores = score_corpus([tuple(tags[i]) for i in chosen], predicted)
    micro = scores.micro
    return {
        "sentences": float(len(chosen)),
        "target_entities": float(micro.tp + micro.fn),
        "predicted_entities": float(micro.tp + micro.fp),
        "f1": round(100 * scores.f1, 2),
    }


def argmax_tags(soft_targets: Sequence[np.ndarray], labels: Sequence[str]) -> list[tuple[str, ...]]:
    """The hard tags of teacher distributions (columns in :func:`tag_names_for` order)."""
    names = tag_names_for(labels)
    return [tuple(names[int(k)] for k in np.asarray(t).argmax(axis=-1)) for t in soft_targets]


def check_fits_training_data(
    tagger: Tagger,
    texts: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]],
    *,
    what: str,
    against: str,
    min_f1: float,
) -> None:
    """Refuse a model whose :func:`training_fit` F1 is below ``min_f1`` (0-100), with the numbers.

    The fit is computed once when the model is trained and kept in its info (the fit report shows
    it); like :func:`check_trained`, the refused model stays cached for inspection.
    """
    info = tagger.info
    if "training_fit" not in info:  # a model cached before the check existed
        info["training_fit"] = training_fit(tagger, texts, tags)
    fit = info["training_fit"]
    if fit["target_entities"] > 0 and fit["f1"] < min_f1:
        raise UntrainedModelError(
            f"{what} did not learn {against}: on {int(fit['sentences'])} of its own training sentences it matches "
            f"them with span F1 {fit['f1']:.2f} < {min_f1:g} ({int(fit['target_entities'])} entities in the labels, "
            f"{int(fit['predicted_entities'])} predicted) after {info.get('steps', '?')} steps; give it more steps "
            "(epochs, min_steps, more sentences)"
        )
