"""Teacher-student distillation on unlabelled target text (Wu et al., ACL 2020; systems.md §5-§6).

Single source (``ts-single``): the teacher is a direct-transfer model (fine-tuned on CoNLL-2003
English). It labels unlabelled target-language sentences with per-word probability distributions;
a *fresh* backbone (the student) is trained to match them: mean squared error between student
and teacher probabilities on first subwords (KL with temperature as an option), embeddings and
the bottom 3 layers frozen. One student per target language; ``predict`` dispatches on
``Sentence.lang``.

Multi source (``ts-multi``): one teacher per source language (CoNLL English plus every language of
the target dataset that has a train split in the data directory, always leaving the target out),
their distributions mixed with weights α_k, then a student trained as above. Weights:

* ``"lid"``: Wu et al.'s language-identification similarity (systems.md §6). A bilinear
  language identifier s_k(x) = (U f(x))ᵀ(V μ_k), U, V ∈ ℝ^{64×h}, is trained on source sentences
  over frozen encoder features f(x); on target sentences α_k(x) = softmax_k(s_k(x)/τ) with
  τ = Var(all scores) (or ``weight_temperature``), and the domain-level α_k = mean_x α_k(x).
* ``"typology"``: URIEL typological similarity via ``lang2vec`` (1.1.2 ships URIEL in its wheel and
  works offline): cosine of the kNN-imputed syntax+phonology+inventory vectors, softmax with
  temperature. Without lang2vec a clear error is raised: no hand-made table is passed off as URIEL.
* ``"uniform"``: α_k = 1/K (the paper's ablation).

Unlabelled text: the target dataset's ``train`` and ``dev`` sentences of the language with labels
stripped (``unlabelled="ner"``), or the target side of MAFAND-MT (``unlabelled="mafand"``). Test
sentences are never used for training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import OUTSIDE, Sentence
from harness.datasets import get_dataset
from harness.datasets import languages as dataset_languages
from harness.errors import ConfigError, UntrainedModelError
from systems.base import FitContext, SystemTags, parse_label_list
from systems.backbones import DEFAULT_BACKBONE
from systems.transfer import DirectTransfer, _BackboneSystem, load_source, parse_source, training_report

UNLABELLED_SOURCES = ("ner", "mafand")
WEIGHTINGS = ("lid", "typology", "uniform")


def unlabelled_target_text(
    context: FitContext, lang: str, source: str = "ner", limit: int | None = None
) -> list[tuple[str, ...]]:
    """Unlabelled token lists of ``lang`` (never from a test split of the evaluation data).

    ``source="ner"``: train + dev sentences of ``context.target_dataset`` (labels dropped);
    ``source="mafand"``: target side of MAFAND-MT (dev and test: MAFAND is not evaluation data
    here), whitespace-tokenised.
    """
    texts: list[tuple[str, ...]] = []
    if source == "ner":
        for split in ("train", "dev"):
            if context.has_split(context.target_dataset, lang, split):
                texts += [s.tokens for s in context.load(context.target_dataset, lang, split)]
    elif source == "mafand":
        for split in ("dev", "test"):
            if context.has_split("mafand", lang, split):
                texts += [tuple(t for t in target.split(" ") if t) for _, target in context.load_parallel("mafand", lang, split)]
    else:
        raise ConfigError(f"unlabelled must be one of {', '.join(UNLABELLED_SOURCES)}; got {source!r}")
    texts = [t for t in texts if t]
    return texts[:limit] if limit is not None else texts


def count_entities(tag_names: Sequence[str], probabilities: Sequence[np.ndarray]) -> int:
    """Entity mentions in the argmax decoding of per-word distributions (a ``B-`` tag starts one)."""
    begins = np.array([t.startswith("B-") for t in tag_names])
    return int(sum(begins[p.argmax(axis=-1)].sum() for p in probabilities if len(p)))


def require_teacher_entities(
    what: str, lang: str, tag_names: Sequence[str], probabilities: Sequence[np.ndarray], minimum: int = 1
) -> int:
    """The number of entities a teacher labels; a teacher that labels none fails the fit.

    A student distilled from a teacher that says ``O`` everywhere learns to say ``O``: its F1 of
    0.00 would measure a broken teacher, not teacher-student learning.
    """
    found = count_entities(tag_names, probabilities)
    if found < minimum:
        raise UntrainedModelError(
            f"{what} labelled {found} entities (fewer than min_teacher_entities={minimum}) in "
            f"{len(probabilities)} unlabelled {lang} sentences: "
            "the student would learn to tag everything O; check the teacher's training settings"
        )
    return found


def project_probabilities(probs: np.ndarray, from_tags: Sequence[str], to_tags: Sequence[str]) -> np.ndarray:
    """Re-express per-word distributions over ``from_tags`` in the inventory ``to_tags``.

    Tags of types missing from ``to_tags`` are folded into ``O`` (their mass is marginalised, not
    dropped), so a CoNLL teacher's MISC mass and a MasakhaNER teacher's DATE mass count as "not an
    entity of the shared types".

    >>> p = np.array([[0.1, 0.6, 0.0, 0.3, 0.0]], dtype=np.float32)  # O B-MISC I-MISC B-PER I-PER
    >>> project_probabilities(p, ["O", "B-MISC", "I-MISC", "B-PER", "I-PER"], ["O", "B-PER", "I-PER"]).round(2)
    array([[0.7, 0.3, 0. ]], dtype=float32)
    """
    index = {t: i for i, t in enumerate(to_tags)}
    out = np.zeros((len(probs), len(to_tags)), dtype=np.float32)
    for j, tag in enumerate(from_tags):
        out[:, index.get(tag, index[OUTSIDE])] += probs[:, j]
    return out


class SingleSourceTeacherStudent(_BackboneSystem):
    """Wu et al. (2020) single-source teacher-student; one student per target language.

    Args:
        backbone: encoder of both teacher and student (``"offline"`` here; ``bert-base-multilingual-cased``
            in the paper).
        source: labelled source data of the teacher.
        unlabelled: ``"ner"`` (target dataset train/dev, labels stripped) or ``"mafand"``.
        epochs, lr, batch_size, max_length, max_minutes: student training (paper: 3 epochs, lr 1e-4, batch 32;
            ``lr=None``: the backbone's student default).
        loss: ``"mse"`` (paper) or ``"kl"``; ``None``: the backbone's default (``"kl"`` for
            ``e5-small``, where MSE students stayed all-O on CPU budgets; README "Backbones");
            temperature: for ``"kl"``.
        freeze_layers: embeddings and the bottom N layers of the student frozen (paper: 3; ``None``:
            the backbone's default); ignored for randomly initialised offline backbones.
        teacher_epochs, teacher_lr, teacher_max_minutes, teacher_max_steps, max_train_sentences: the
            direct-transfer teacher. Left at their defaults the teacher *is* the ``direct-transfer``
            system with the same backbone (one cached model, trained once).
        bf16: bfloat16 autocast when training teacher and student.
        max_unlabelled_sentences: cap on unlabelled sentences per language.
        min_teacher_entities: fail the fit when the teacher labels fewer entities than this in a
            language's unlabelled text (a student of a silent teacher learns to say ``O``).
    """

    name = "ts-single"
    version = "1"

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        source: str = "conll2003/eng",
        unlabelled: str = "ner",
        epochs: int = 3,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        loss: str | None = None,
        temperature: float = 1.0,
        freeze_layers: int | None = None,
        teacher_epochs: int | None = None,
        teacher_lr: float | None = None,
        teacher_max_minutes: float | None = None,
        teacher_max_steps: int | None = None,
        max_train_sentences: int | None = None,
        max_unlabelled_sentences: int | None = None,
        bf16: bool = False,
        min_teacher_entities: int = 1,
    ) -> None:
        self.backbone = backbone
        self.source = source
        self.unlabelled = unlabelled
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_minutes = max_minutes
        self.loss = loss
        self.temperature = temperature
        self.freeze_layers = freeze_layers
        self.teacher_epochs = teacher_epochs
        self.teacher_lr = teacher_lr
        self.teacher_max_minutes = teacher_max_minutes
        self.teacher_max_steps = teacher_max_steps
        self.max_train_sentences = max_train_sentences
        self.max_unlabelled_sentences = max_unlabelled_sentences
        self.bf16 = bf16
        self.min_teacher_entities = min_teacher_entities
        self._fitted = False

    @property
    def tags(self) -> SystemTags:
        dataset, _ = parse_source(self.source)
        return SystemTags(labels=get_dataset(dataset).labels, languages=None, deterministic=True, trainable=True, accelerator=True)

    def _teacher(self, source: str | None = None, epochs: int | None = None, max_train_sentences: int | None = None) -> DirectTransfer:
        """The direct-transfer teacher: with default settings, the very model ``direct-transfer`` trains."""
        return DirectTransfer(
            backbone=self.backbone,
            source=source or self.source,
            epochs=self.teacher_epochs if epochs is None else epochs,
            lr=self.teacher_lr,
            batch_size=self.batch_size,
            max_length=self.max_length,
            max_minutes=self.teacher_max_minutes,
            max_steps=self.teacher_max_steps,
            bf16=self.bf16,
            max_train_sentences=self.max_train_sentences if max_train_sentences is None else max_train_sentences,
        )

    def _validate(self) -> None:
        if self.unlabelled not in UNLABELLED_SOURCES:
            raise ConfigError(f"{self.name}: unlabelled must be one of {', '.join(UNLABELLED_SOURCES)}; got {self.unlabelled!r}")
        if self.loss not in (None, "mse", "kl"):
            raise ConfigError(f"{self.name}: loss must be 'mse' or 'kl'; got {self.loss!r}")

    def fit(self, context: FitContext) -> None:
        self._validate()
        teacher = self._teacher()
        teacher.fit(context)
        self._fallback = teacher.tagger
        self._students: dict[str, Any] = {}
        self.fit_report: dict[str, Any] = {"teacher": teacher.fit_report}
        for lang in context.target_languages:
            texts = unlabelled_target_text(context, lang, self.unlabelled, self.max_unlabelled_sentences)
            if not texts:
                # No unlabelled text for this language: the teacher answers (recorded, not hidden).
                self.fit_report[lang] = "no unlabelled text; teacher used"
                continue
            targets = teacher.tagger.predict_proba(texts)
            labelled = require_teacher_entities(
                f"{self.name} teacher ({self.source})", lang, teacher.tagger.tag_names, targets, self.min_teacher_entities
            )
            student = self._train_student(context, lang, texts, targets, teacher.tagger.labels)
            self._students[lang] = student
            self.fit_report[lang] = {
                "unlabelled_sentences": len(texts),
                "teacher_entities": labelled,
                "student": training_report(student),
            }
        self._fitted = True

    def _train_student(
        self, context: FitContext, lang: str, texts: Sequence[Sequence[str]], targets: Sequence[np.ndarray], labels: Sequence[str]
    ) -> Any:
        from systems.backbones import train_student

        return train_student(
            texts,
            targets,
            labels=labels,
            backbone=self.backbone,
            seed=context.seed,
            epochs=self.epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            max_length=self.max_length,
            loss=self.loss,
            temperature=self.temperature,
            freeze_layers=self.freeze_layers,
            max_minutes=self.max_minutes,
            cache_dir=context.cache_dir,
            data_dir=context.data_dir,
            show_progress=context.show_progress,
            cache_tag=f"{self.name}-{lang}",
        )

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._require_fitted()
        out: list[tuple[str, ...] | None] = [None] * len(sentences)
        groups: dict[str, list[int]] = {}
        for i, sentence in enumerate(sentences):
            groups.setdefault(sentence.lang, []).append(i)
        for lang, indices in groups.items():
            model = self._students.get(lang, self._fallback)
            for i, tags in zip(indices, model.predict([sentences[i] for i in indices]), strict=True):
                out[i] = tags
        return [t if t is not None else () for t in out]

    def student(self, lang: str) -> Any:
        """The student tagger of ``lang`` (the teacher when no student was trained)."""
        self._require_fitted()
        return self._students.get(lang, self._fallback)


class MultiSourceTeacherStudent(SingleSourceTeacherStudent):
    """Wu et al. (2020) multi-source teacher-student with weighted teachers.

    Args (beyond ``ts-single``'s):
        sources: ``"auto"`` = the English source plus every language of the target dataset that
            has a train split in the data directory, or a comma-separated list of ``dataset/lang``.
            The target language is always left out.
        max_sources: keep only the first N sources of that list, so the harness can plot F1
            against the number of teachers.
        source_order: which N: ``"given"`` (the list order: English first, then the others
            alphabetically for ``auto``) or ``"similarity"`` (English first, then the others by
            the weight the system itself gives them for the target -- LID or typology -- computed
            with every candidate teacher; the order is in the fit report).
        weighting: ``"lid"``, ``"typology"`` or ``"uniform"``.
        weight_temperature: τ of the softmax; ``None`` = variance of all scores (paper).
        labels: entity types shared by all teachers and learnt by the student; teacher mass on
            other types (MISC, DATE) is folded into ``O``.
        lid_sentences: source sentences per language used to train the language identifier.
        teacher_epochs, teacher_max_minutes, max_train_sentences: the main-source (English)
            teacher, identical to ``direct-transfer``'s defaults so its cached model is reused.
        source_teacher_epochs, teacher_source_sentences: the other teachers (epochs, cap on
            training sentences).
    """

    name = "ts-multi"
    version = "1"

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        source: str = "conll2003/eng",
        sources: str = "auto",
        max_sources: int | None = None,
        source_order: str = "given",
        weighting: str = "lid",
        weight_temperature: float | None = None,
        labels: str = "LOC,ORG,PER",
        unlabelled: str = "ner",
        epochs: int = 3,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        loss: str | None = None,
        temperature: float = 1.0,
        freeze_layers: int | None = None,
        teacher_epochs: int | None = None,
        teacher_lr: float | None = None,
        teacher_max_minutes: float | None = None,
        teacher_max_steps: int | None = None,
        max_train_sentences: int | None = None,
        source_teacher_epochs: int | None = None,
        teacher_source_sentences: int | None = None,
        max_unlabelled_sentences: int | None = None,
        lid_sentences: int = 500,
        bf16: bool = False,
        min_teacher_entities: int = 1,
    ) -> None:
        super().__init__(
            backbone=backbone, source=source, unlabelled=unlabelled, epochs=epochs, lr=lr, batch_size=batch_size,
            max_length=max_length, max_minutes=max_minutes, loss=loss, temperature=temperature,
            freeze_layers=freeze_layers, teacher_epochs=teacher_epochs, teacher_lr=teacher_lr,
            teacher_max_minutes=teacher_max_minutes, teacher_max_steps=teacher_max_steps,
            max_train_sentences=max_train_sentences, max_unlabelled_sentences=max_unlabelled_sentences, bf16=bf16,
            min_teacher_entities=min_teacher_entities,
        )
        self.sources = sources
        self.max_sources = max_sources
        self.source_order = source_order
        self.weighting = weighting
        self.weight_temperature = weight_temperature
        self.labels = labels
        self.source_teacher_epochs = source_teacher_epochs
        self.teacher_source_sentences = teacher_source_sentences
        self.lid_sentences = lid_sentences

    def _label_set(self) -> tuple[str, ...]:
        return parse_label_list(self.name, self.labels)

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset(self._label_set()), languages=None, deterministic=True, trainable=True, accelerator=True)

    def source_list(self, context: FitContext) -> list[str]:
        """Candidate sources before leaving the target out (discovered, never hard-coded)."""
        if self.sources != "auto":
            found = [s.strip() for s in self.sources.split(",") if s.strip()]
            for s in found:
                parse_source(s)
            return found
        found = [self.source]
        if context.data_dir is not None or get_dataset(context.target_dataset).bundled:
            with_train = dataset_languages(context.target_dataset, data_dir=context.data_dir, split="train")
            found += [f"{context.target_dataset}/{lang}" for lang in sorted(with_train)]
        return found

    def sources_for(self, context: FitContext, target: str) -> list[str]:
        chosen = [s for s in self.source_list(context) if parse_source(s)[1] != target]
        return chosen[: self.max_sources] if self.max_sources is not None else chosen

    def _validate(self) -> None:
        super()._validate()
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"{self.name}: weighting must be one of {', '.join(WEIGHTINGS)}; got {self.weighting!r}")
        if self.max_sources is not None and self.max_sources < 1:
            raise ConfigError(f"{self.name}: max_sources must be >= 1; got {self.max_sources}")
        if self.source_order not in ("given", "similarity"):
            raise ConfigError(f"{self.name}: source_order must be 'given' or 'similarity'; got {self.source_order!r}")

    def _fit_teacher(self, context: FitContext, source: str) -> Any:
        if source == self.source:
            teacher = self._teacher()
        else:
            teacher = self._teacher(source, self.source_teacher_epochs, self.teacher_source_sentences)
        teacher.fit(context)
        self.fit_report.setdefault("teachers", {})[source] = teacher.fit_report
        return teacher.tagger

    def fit(self, context: FitContext) -> None:
        from systems.backbones import tag_names_for

        self._validate()
        labels = self._label_set()
        shared_tags = tag_names_for(labels)
        teachers: dict[str, Any] = {}
        self._students = {}
        self.fit_report = {}
        self.weights: dict[str, dict[str, float]] = {}
        for lang in context.target_languages:
            sources = self.sources_for(context, lang)
            if not sources:
                raise ConfigError(f"{self.name}: no source language left for target {lang!r} (sources={self.sources!r})")
            texts = unlabelled_target_text(context, lang, self.unlabelled, self.max_unlabelled_sentences)
            if texts and self.source_order == "similarity" and self.max_sources is not None:
                sources = self._most_similar_sources(context, lang, texts, teachers)
            for source in sources:
                if source not in teachers:
                    teachers[source] = self._fit_teacher(context, source)
            if not texts:
                self.fit_report[lang] = "no unlabelled text; first teacher used"
                continue
            alphas = self._weights(context, [teachers[s] for s in sources], sources, lang, texts)
            self.weights[lang] = dict(zip(sources, (float(a) for a in alphas), strict=True))
            mixed = [np.zeros((len(t), len(shared_tags)), dtype=np.float32) for t in texts]
            for alpha, source in zip(alphas, sources, strict=True):
                tagger = teachers[source]
                for i, probs in enumerate(tagger.predict_proba(texts)):
                    mixed[i] += alpha * project_probabilities(probs, tagger.tag_names, shared_tags)
            labelled = require_teacher_entities(f"{self.name} teacher mixture", lang, shared_tags, mixed, self.min_teacher_entities)
            student = self._train_student(context, lang, texts, mixed, labels)
            self._students[lang] = student
            self.fit_report[lang] = {
                "unlabelled_sentences": len(texts),
                "teacher_weights": {k: round(v, 4) for k, v in self.weights[lang].items()},
                "teacher_entities": labelled,
                "student": training_report(student),
            }
        # Languages without a student (not among the targets, or without unlabelled text) fall back
        # to the main-source teacher, restricted to the shared types.
        if self.source not in teachers:
            teachers[self.source] = self._fit_teacher(context, self.source)
        self._fallback = _RestrictedTagger(teachers[self.source], labels)
        self._fitted = True

    def _most_similar_sources(
        self, context: FitContext, lang: str, texts: Sequence[Sequence[str]], teachers: dict[str, Any]
    ) -> list[str]:
        """English first, then the other candidates by the system's own similarity to ``lang``."""
        candidates = [s for s in self.source_list(context) if parse_source(s)[1] != lang]
        for source in candidates:
            if source not in teachers:
                teachers[source] = self._fit_teacher(context, source)
        alphas = self._weights(context, [teachers[s] for s in candidates], candidates, lang, texts)
        by_weight = dict(zip(candidates, (float(a) for a in alphas), strict=True))
        first = [s for s in candidates if s == self.source]
        others = sorted((s for s in candidates if s != self.source), key=lambda s: (-by_weight[s], s))
        order = first + others
        self.fit_report.setdefault("source_order", {})[lang] = {s: round(by_weight[s], 4) for s in order}
        assert self.max_sources is not None
        return order[: self.max_sources]

    def _weights(
        self, context: FitContext, teachers: Sequence[Any], sources: Sequence[str], target: str, texts: Sequence[Sequence[str]]
    ) -> np.ndarray:
        if self.weighting == "uniform" or len(sources) == 1:
            return np.full(len(sources), 1.0 / len(sources))
        if self.weighting == "typology":
            return typology_weights([parse_source(s)[1] for s in sources], target, self.weight_temperature)
        source_texts = [
            [s.tokens for s in load_source(context, source, self.lid_sentences)] for source in sources
        ]
        encoder = self._lid_encoder(context, teachers[0])
        return lid_weights(encoder, source_texts, list(texts[: self.lid_sentences]), seed=context.seed, temperature=self.weight_temperature)


    def _lid_encoder(self, context: FitContext, first_teacher: Any) -> Any:
        """f(x) of the language identifier: the frozen *pretrained* encoder, as in the paper (frozen
        mBERT there; e5-small or XLM-R here), read through the same windowed encoder as taggers.

        Randomly initialised offline backbones have no pretrained encoder: the first (English)
        teacher's fine-tuned encoder stands in for it (documented deviation).
        """
        from systems.backbones import Tagger, is_offline_backbone, load_token_model, resolve_backbone

        if is_offline_backbone(self.backbone):
            return first_teacher
        path = resolve_backbone(self.backbone, cache_dir=context.cache_dir, data_dir=context.data_dir)
        model, tokenizer = load_token_model(path, first_teacher.labels)
        return Tagger(model, tokenizer, first_teacher.labels, max_length=self.max_length)


class _RestrictedTagger:
    """A teacher whose output is restricted to the shared entity types (others become O)."""

    def __init__(self, tagger: Any, labels: Sequence[str]) -> None:
        self.tagger = tagger
        self.labels = tuple(labels)

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        from systems.backbones import repair_iob2, tag_names_for

        shared = tag_names_for(self.labels)
        out = []
        for probs in self.tagger.predict_proba(sentences):
            folded = project_probabilities(probs, self.tagger.tag_names, shared)
            out.append(repair_iob2([shared[i] for i in folded.argmax(axis=-1)]) if len(folded) else ())
        return out


def lid_weights(
    encoder: Any,
    source_texts: Sequence[Sequence[Sequence[str]]],
    target_texts: Sequence[Sequence[str]],
    *,
    seed: int = 0,
    temperature: float | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    projection: int = 64,
    orthogonality: float = 0.01,
) -> np.ndarray:
    """Domain-level teacher weights from a bilinear language identifier (Wu et al. 2020, §6 of systems.md).

    Features f(x) are mean-pooled last-layer states of ``encoder`` (frozen). The identifier scores
    s_k(x) = (U f(x))ᵀ (V μ_k) are trained with language-ID cross-entropy plus
    ``orthogonality``·‖MᵀM − I‖²_F on the projected language embeddings M = [V μ_k]. On the target
    sentences α_k(x) = softmax_k(s_k(x)/τ), τ = Var(scores) unless ``temperature`` is given, and the
    result is the mean over x. Departure: lr 1e-3 instead of 1e-4, because the identifier is trained
    on a few hundred sentences per language rather than full corpora.
    """
    import torch

    k = len(source_texts)
    feats = [encoder.sentence_embeddings(list(texts)) for texts in source_texts]
    x = torch.from_numpy(np.concatenate(feats)).float()
    y = torch.tensor([i for i, f in enumerate(feats) for _ in range(len(f))], dtype=torch.long)
    mean, std = x.mean(0, keepdim=True), x.std(0, keepdim=True).clamp_min(1e-6)
    x = (x - mean) / std
    g = torch.Generator().manual_seed(seed)
    h = x.shape[1]
    U = torch.nn.Parameter(torch.randn(projection, h, generator=g) / h**0.5)
    V = torch.nn.Parameter(torch.randn(projection, h, generator=g) / h**0.5)
    mu = torch.nn.Parameter(torch.randn(k, h, generator=g) / h**0.5)
    optimizer = torch.optim.Adam([U, V, mu], lr=lr)

    def scores(features: Any) -> Any:
        return (features @ U.T) @ (mu @ V.T).T  # [n, k]

    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for start in range(0, len(x), 32):
            idx = order[start : start + 32]
            m = mu @ V.T  # [k, 64]
            reg = ((m @ m.T - torch.eye(k)) ** 2).sum()
            loss = torch.nn.functional.cross_entropy(scores(x[idx]), y[idx]) + orthogonality * reg
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        t = (torch.from_numpy(encoder.sentence_embeddings(list(target_texts))).float() - mean) / std
        s = scores(t)
        tau = float(temperature) if temperature is not None else max(float(s.var()), 1e-6)
        alpha = torch.softmax(s / tau, dim=-1).mean(0)
    return alpha.numpy().astype(np.float64)


# URIEL files individual languages under ISO 639-3 codes; a few data sets use macrolanguage codes.
URIEL_CODES = {"swa": "swh", "msa": "zsm", "zho": "cmn", "ara": "arb", "fas": "pes", "aka": "twi"}
URIEL_FEATURES = "syntax_knn+phonology_knn+inventory_knn"


def _import_lang2vec() -> Any:
    """``lang2vec.lang2vec`` (1.1.2 on PyPI), which needs ``pkg_resources`` only to locate its data.

    setuptools >= 81 no longer ships ``pkg_resources``; when it is missing, a stand-in providing
    ``resource_filename`` (the one function lang2vec calls) is registered first.
    """
    import importlib
    import sys
    import types

    try:
        importlib.import_module("pkg_resources")
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, path: str(Path(sys.modules[package].__file__).parent / path)  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    return importlib.import_module("lang2vec.lang2vec")


def uriel_similarities(sources: Sequence[str], target: str) -> np.ndarray:
    """Cosine similarity of URIEL typological vectors (syntax, phonology, inventory; kNN-imputed).

    Raises:
        ConfigError: lang2vec is not installed, or URIEL lacks a language.
    """
    try:
        l2v = _import_lang2vec()
    except ImportError as exc:
        raise ConfigError(
            "weighting='typology' needs URIEL via the lang2vec package, which is not installed "
            "(pip install lang2vec==1.1.2); use weighting='lid' or 'uniform'"
        ) from exc
    codes = [URIEL_CODES.get(lang, lang) for lang in (*sources, target)]
    missing = [c for c in codes if c not in l2v.available_languages()]
    if missing:
        raise ConfigError(f"URIEL (lang2vec) has no entry for {', '.join(sorted(set(missing)))}; use weighting='lid' or 'uniform'")
    features = l2v.get_features(sorted(set(codes)), URIEL_FEATURES)
    vectors = {c: np.asarray(features[c], dtype=np.float64) for c in set(codes)}
    t = vectors[codes[-1]]
    sims = [float(vectors[c] @ t / max(np.linalg.norm(vectors[c]) * np.linalg.norm(t), 1e-12)) for c in codes[:-1]]
    return np.array(sims)


def typology_weights(sources: Sequence[str], target: str, temperature: float | None = None) -> np.ndarray:
    """Softmax over URIEL similarities between each source language and the target.

    τ defaults to 0.05: cosine similarities of URIEL vectors differ by a few hundredths between
    languages, so τ = 1 would give near-uniform weights. No hand-made table ever stands in for
    URIEL: without lang2vec this raises.

    Raises:
        ConfigError: ``lang2vec`` is not installed or lacks a language.
    """
    sims = uriel_similarities(sources, target)
    z = sims / (temperature if temperature else 0.05)
    z = np.exp(z - z.max())
    return z / z.sum()
