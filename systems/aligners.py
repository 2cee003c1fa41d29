"""Word aligners: token sequences in, Pharaoh-style ``(source_index, target_index)`` links out.

Three families, each registered in :data:`ALIGNERS` by a short name (systems.md §2, "Aligners"):

- ``eflomal``: statistical (Bayesian IBM-style, Östling & Tiedemann 2016), trained on the very pairs
  it aligns plus any extra parallel text. Needs no pretrained model, so it is the offline default.
- ``simalign``: SimAlign (Jalili Sabet et al. 2020) over any local transformers encoder,
  mBERT by default, with its itermax / argmax / match extraction.
- ``embedding``: AWESoME-style softmax extraction (Dou & Neubig 2021) over any transformers encoder,
  without fine-tuning (Politov/Shkalikov do not fine-tune either).

Every aligner works on a batch: ``align(sources, targets)`` takes two equally long sequences of
token sequences and returns one sorted tuple of links per pair.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from harness.errors import ConfigError, DataFormatError, ModelUnavailableError
from harness.registry import Registry

Link = tuple[int, int]
Alignment = tuple[Link, ...]
Tokens = Sequence[str]

SYMMETRIZATIONS = ("grow-diag-final-and", "grow-diag-final", "intersection", "union", "forward", "reverse")


@runtime_checkable
class Aligner(Protocol):
    """Aligns a batch of sentence pairs word by word.

    Attributes:
        name: the registry name (``eflomal``, ``simalign``, ``embedding``).
    """

    name: str

    def align(self, sources: Sequence[Tokens], targets: Sequence[Tokens]) -> list[Alignment]:
        """One sorted tuple of ``(source_index, target_index)`` links per pair, same order."""
        ...


def encoder_path(model: str) -> str:
    """What ``from_pretrained`` loads for an aligner's ``model``: ``e5-small`` becomes its converted
    directory (the real pretrained encoder offline); hub ids and local directories pass through."""
    from systems.backbones import cache_root, is_e5_backbone

    if is_e5_backbone(model):
        from systems.backbones.e5 import ensure_e5_small

        return str(ensure_e5_small(cache_root(None)))
    return model


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Raise one library logger to WARNING for a block (SimAlign sets its own logger to DEBUG and logs every model load)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_checked_encoder(path: str, model: str, aligner: str) -> Any:
    """Load a plain encoder quietly, failing when the checkpoint lacks weights the aligner uses.

    The load report is silenced because a pooler-less encoder (e5-small) always reports its pooler
    missing, and no aligner uses the pooler. Any other missing weight would be silently random (a
    truncated or wrong checkpoint) and every alignment from it noise, so that is an error here.
    """
    from transformers import AutoModel

    from systems.backbones.sources import quiet_hub

    with quiet_hub():
        encoder, info = AutoModel.from_pretrained(path, output_loading_info=True)
    missing = sorted(k for k in info["missing_keys"] if not k.startswith("pooler."))
    if missing:
        shown = ", ".join(missing[:4]) + (f", … ({len(missing)} in all)" if len(missing) > 4 else "")
        where = model if model == path else f"{model} ({path})"
        raise ModelUnavailableError(
            f"{aligner} aligner: encoder {where} lacks weights its layers need: {shown}; they would be "
            "randomly initialised and every link noise. Pass a complete encoder checkpoint with --aligner-model"
        )
    return encoder


def _check_batch(sources: Sequence[Tokens], targets: Sequence[Tokens]) -> None:
    if len(sources) != len(targets):
        raise DataFormatError(f"{len(sources)} source sentences but {len(targets)} target sentences to align")


def parse_pharaoh(line: str, *, source_length: int | None = None, target_length: int | None = None) -> Alignment:
    """Parse one Pharaoh line (``"0-0 1-2"``) into sorted links, checking indices when lengths are given.

    >>> parse_pharaoh("1-2 0-0")
    ((0, 0), (1, 2))
    """
    links = set()
    for item in line.split():
        left, sep, right = item.partition("-")
        if not sep or not left.isdigit() or not right.isdigit():
            raise DataFormatError(f"alignment item {item!r} is not 'i-j' in line {line!r}")
        i, j = int(left), int(right)
        if (source_length is not None and i >= source_length) or (target_length is not None and j >= target_length):
            raise DataFormatError(
                f"alignment link {item} is outside a {source_length}x{target_length} sentence pair"
            )
        links.add((i, j))
    return tuple(sorted(links))


def format_pharaoh(alignment: Iterable[Link]) -> str:
    """Format links as a Pharaoh line.

    >>> format_pharaoh([(1, 2), (0, 0)])
    '0-0 1-2'
    """
    return " ".join(f"{i}-{j}" for i, j in sorted(alignment))


def symmetrize(forward: Iterable[Link], reverse: Iterable[Link], method: str = "grow-diag-final-and") -> Alignment:
    """Combine a source→target and a target→source alignment (both given as (src, tgt) links).

    ``grow-diag-final(-and)`` is Koehn et al.'s (2005) heuristic as in Moses: start from the
    intersection, grow into neighbouring (incl. diagonal) union links that cover an unaligned word,
    then add remaining union links whose words are unaligned (on either side for ``-final``, on both
    sides for ``-final-and``). eflomal itself ships no symmetrisation (dependencies.md §2g).

    >>> symmetrize([(0, 0), (1, 1), (2, 1)], [(0, 0), (1, 1)], "intersection")
    ((0, 0), (1, 1))
    >>> symmetrize([(0, 0), (1, 1), (2, 1)], [(0, 0), (1, 1)], "grow-diag-final-and")
    ((0, 0), (1, 1), (2, 1))
    """
    fwd, rev = set(forward), set(reverse)
    if method == "forward":
        return tuple(sorted(fwd))
    if method == "reverse":
        return tuple(sorted(rev))
    if method == "intersection":
        return tuple(sorted(fwd & rev))
    if method == "union":
        return tuple(sorted(fwd | rev))
    if method not in SYMMETRIZATIONS:
        raise ConfigError(f"symmetrization must be one of {', '.join(SYMMETRIZATIONS)}; got {method!r}")
    union = fwd | rev
    links = fwd & rev
    src_done = {i for i, _ in links}
    tgt_done = {j for _, j in links}
    neighbours = [(-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]
    added = True
    while added:
        added = False
        for i, j in sorted(links):
            for di, dj in neighbours:
                cand = (i + di, j + dj)
                if cand in union and cand not in links and (cand[0] not in src_done or cand[1] not in tgt_done):
                    links.add(cand)
                    src_done.add(cand[0])
                    tgt_done.add(cand[1])
                    added = True
    both = method == "grow-diag-final-and"
    for directional in (fwd, rev):
        for i, j in sorted(directional):
            free_src, free_tgt = i not in src_done, j not in tgt_done
            if (free_src and free_tgt) if both else (free_src or free_tgt):
                links.add((i, j))
                src_done.add(i)
                tgt_done.add(j)
    return tuple(sorted(links))


class EflomalAligner:
    """eflomal trained on the pairs to align plus optional extra parallel text.

    eflomal is unsupervised, so aligning a few sentences alone gives poor links: pass the parallel
    corpus you have (e.g. the mafand pairs, already tokenised) as ``extra`` and it is appended to
    every training run (its links are computed and discarded). eflomal's sampler is seeded from the
    clock (no seed parameter in 2.0.0), so links can differ slightly between runs.

    Args:
        extra: additional ``(source_tokens, target_tokens)`` pairs to train on.
        symmetrization: one of :data:`SYMMETRIZATIONS`.
        model: eflomal model (1 IBM1, 2 +HMM, 3 +fertility).
        lowercase: lowercase before training (links do not depend on case anyway).

    >>> links = EflomalAligner().align([["a", "house"]], [["una", "casa"]])[0]
    >>> all(0 <= i < 2 and 0 <= j < 2 for i, j in links)
    True
    """

    name = "eflomal"

    def __init__(
        self,
        extra: Sequence[tuple[Tokens, Tokens]] = (),
        symmetrization: str = "grow-diag-final-and",
        model: int = 3,
        lowercase: bool = True,
    ) -> None:
        if symmetrization not in SYMMETRIZATIONS:
            raise ConfigError(f"symmetrization must be one of {', '.join(SYMMETRIZATIONS)}; got {symmetrization!r}")
        self.extra = extra
        self.symmetrization = symmetrization
        self.model = model
        self.lowercase = lowercase

    def _line(self, tokens: Tokens) -> str:
        # eflomal splits on whitespace; tokens never contain whitespace (Sentence guarantees it),
        # but an empty sentence needs a placeholder line to keep the files line-aligned.
        text = " ".join(tokens)
        return text.lower() if self.lowercase else text

    def align(self, sources: Sequence[Tokens], targets: Sequence[Tokens]) -> list[Alignment]:
        _check_batch(sources, targets)
        if not sources:
            return []
        from eflomal import Aligner as _Eflomal

        pairs = list(zip(sources, targets, strict=True)) + [(s, t) for s, t in self.extra]
        src_lines = [self._line(s) for s, _ in pairs]
        tgt_lines = [self._line(t) for _, t in pairs]
        with tempfile.TemporaryDirectory(prefix="xner-eflomal-") as tmp:
            fwd_path, rev_path = Path(tmp) / "fwd.txt", Path(tmp) / "rev.txt"
            _Eflomal(model=self.model).align(
                src_lines, tgt_lines, links_filename_fwd=str(fwd_path), links_filename_rev=str(rev_path), quiet=True
            )
            fwd_lines = fwd_path.read_text(encoding="utf-8").split("\n")
            rev_lines = rev_path.read_text(encoding="utf-8").split("\n")
        out = []
        for k, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
            if not src or not tgt:
                out.append(())
                continue
            fwd = parse_pharaoh(fwd_lines[k], source_length=len(src), target_length=len(tgt))
            rev = parse_pharaoh(rev_lines[k], source_length=len(src), target_length=len(tgt))
            out.append(symmetrize(fwd, rev, self.symmetrization))
        return out


class SimAlignAligner:
    """SimAlign over a transformers encoder (mBERT by default; any local model directory works).

    Args:
        model: ``e5-small``, a hub id or a local directory of an encoder with a fast tokenizer that adds exactly one
            special token at each end (SimAlign slices embeddings ``[:, 1:-1]``).
        method: ``itermax`` (paper default), ``argmax`` or ``match``.
        layer: hidden layer to take embeddings from (SimAlign's default 8 fails on smaller models).
        token_type: ``bpe`` (subword level, the papers' setting) or ``word``.
    """

    name = "simalign"
    _METHODS = {"itermax": ("i", "itermax"), "argmax": ("a", "inter"), "match": ("m", "mwmf")}

    def __init__(
        self, model: str = "bert-base-multilingual-cased", method: str = "itermax", layer: int = 8, token_type: str = "bpe"
    ) -> None:
        if method not in self._METHODS:
            raise ConfigError(f"simalign method must be one of {', '.join(self._METHODS)}; got {method!r}")
        self.model = model
        self.method = method
        self.layer = layer
        self.token_type = token_type
        self._aligner: Any = None

    def _load(self) -> Any:
        if self._aligner is None:
            from simalign import SentenceAligner

            from systems.backbones.sources import quiet_hub

            try:
                path = encoder_path(self.model)
                # SimAlign loads the encoder itself and cannot report missing weights, so the
                # checkpoint is checked first (one extra load, once per aligner).
                load_checked_encoder(path, self.model, self.name)
                # quiet_hub: an encoder without a pooler (e5-small) makes transformers print a
                # "pooler MISSING" load report; SimAlign never uses the pooler.
                with quiet_hub(), _quiet_logger("simalign.simalign"):
                    self._aligner = SentenceAligner(
                        model=path, token_type=self.token_type,
                        matching_methods=self._METHODS[self.method][0], device="cpu", layer=self.layer,
                    )
            except ModelUnavailableError:
                raise  # already names the model and what is wrong (it is an OSError too)
            except OSError as exc:
                raise ModelUnavailableError(
                    f"simalign cannot load encoder {self.model!r} ({exc}); pass a local model directory "
                    "with --aligner-model or download it while online"
                ) from exc
        return self._aligner

    def align(self, sources: Sequence[Tokens], targets: Sequence[Tokens]) -> list[Alignment]:
        _check_batch(sources, targets)
        aligner = self._load()
        key = self._METHODS[self.method][1]
        out = []
        for src, tgt in zip(sources, targets, strict=True):
            if not src or not tgt:
                out.append(())
                continue
            links = aligner.get_word_aligns(list(src), list(tgt))[key]
            out.append(tuple(sorted({(int(i), int(j)) for i, j in links})))
        return out


class EmbeddingAligner:
    """AWESoME-style extraction over a plain (not fine-tuned) transformers encoder.

    Subword embeddings of one hidden layer give a similarity matrix S; softmax over rows and over
    columns gives two directional probability matrices; a subword pair is linked when both exceed
    ``threshold`` (Dou & Neubig 2021, "softmax" extraction, threshold 0.001, layer 8). A word pair
    is linked when any of their subwords are.

    Args:
        model: ``e5-small``, a hub id or a local directory of an encoder with a fast tokenizer.
        layer: hidden layer (0 = embeddings).
        threshold: probability threshold of the softmax extraction.
        max_length: subword limit per sentence (longer sentences are truncated; their tail words stay
            unaligned rather than being silently misaligned).
    """

    name = "embedding"

    def __init__(
        self, model: str = "bert-base-multilingual-cased", layer: int = 8, threshold: float = 0.001, max_length: int = 256
    ) -> None:
        self.model = model
        self.layer = layer
        self.threshold = threshold
        self.max_length = max_length
        self._loaded: Any = None

    def _load(self) -> Any:
        if self._loaded is None:
            from transformers import AutoTokenizer

            from systems.backbones.sources import quiet_hub

            try:
                path = encoder_path(self.model)
                with quiet_hub():
                    tokenizer = AutoTokenizer.from_pretrained(path)
                encoder = load_checked_encoder(path, self.model, self.name)
            except ModelUnavailableError:
                raise
            except OSError as exc:
                raise ModelUnavailableError(
                    f"embedding aligner cannot load encoder {self.model!r} ({exc}); pass a local model directory"
                ) from exc
            encoder.eval()
            n_layers = encoder.config.num_hidden_layers
            if not 0 <= self.layer <= n_layers:
                raise ConfigError(f"layer {self.layer} requested but {self.model!r} has {n_layers} layers (0..{n_layers})")
            # Subwords past the encoder's position table would crash the forward pass; words cut off
            # there get no links. RoBERTa-style encoders start positions after the padding index.
            positions = getattr(encoder.config, "max_position_embeddings", self.max_length)
            if encoder.config.model_type in {"roberta", "xlm-roberta", "camembert"}:
                positions -= 2
            self._loaded = (tokenizer, encoder, min(self.max_length, positions))
        return self._loaded

    def _embed(self, tokens: Tokens) -> tuple[np.ndarray, list[int]]:
        import torch

        tokenizer, encoder, max_length = self._load()
        enc = tokenizer(list(tokens), is_split_into_words=True, truncation=True, max_length=max_length, return_tensors="pt")
        word_ids = enc.word_ids(0)
        with torch.no_grad():
            hidden = encoder(**enc, output_hidden_states=True).hidden_states[self.layer][0]
        keep = [k for k, w in enumerate(word_ids) if w is not None]
        return hidden[keep].numpy(), [word_ids[k] for k in keep]

    def align(self, sources: Sequence[Tokens], targets: Sequence[Tokens]) -> list[Alignment]:
        _check_batch(sources, targets)
        out = []
        for src, tgt in zip(sources, targets, strict=True):
            if not src or not tgt:
                out.append(())
                continue
            src_vec, src_words = self._embed(src)
            tgt_vec, tgt_words = self._embed(tgt)
            sim = src_vec @ tgt_vec.T
            forward = _softmax(sim, axis=1)
            backward = _softmax(sim, axis=0)
            mask = (forward > self.threshold) & (backward > self.threshold)
            links = {(src_words[a], tgt_words[b]) for a, b in zip(*np.nonzero(mask), strict=True)}
            out.append(tuple(sorted((int(i), int(j)) for i, j in links)))
        return out


class SurfaceAligner:
    """Same-language aligner by string matching (for tgt2tgt: a back-translation against its original).

    Links the tokens of difflib's longest matching blocks over case-folded tokens, then, inside each
    unmatched gap, links token pairs whose character similarity is at least ``min_ratio`` (inflected
    or re-spelled names). Deterministic and model-free.

    >>> SurfaceAligner().align([["Bello", "ya", "je", "Kanu"]], [["Bello", "ya", "tafi", "Kano", "."]])
    [((0, 0), (1, 1), (3, 3))]
    """

    name = "surface"

    def __init__(self, min_ratio: float = 0.7) -> None:
        self.min_ratio = min_ratio

    def align(self, sources: Sequence[Tokens], targets: Sequence[Tokens]) -> list[Alignment]:
        from difflib import SequenceMatcher

        _check_batch(sources, targets)
        out = []
        for src, tgt in zip(sources, targets, strict=True):
            a = [t.casefold() for t in src]
            b = [t.casefold() for t in tgt]
            links: set[Link] = set()
            i0 = j0 = 0
            for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
                for i in range(i0, block.a):  # the gap before this block
                    scored = [(SequenceMatcher(None, a[i], b[j]).ratio(), j) for j in range(j0, block.b)]
                    best = max(scored, default=(0.0, -1))
                    if best[0] >= self.min_ratio:
                        links.add((i, best[1]))
                links.update((block.a + d, block.b + d) for d in range(block.size))
                i0, j0 = block.a + block.size, block.b + block.size
            out.append(tuple(sorted(links)))
        return out


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


ALIGNERS: Registry[Any] = Registry(
    "aligner",
    builtins={
        "eflomal": "systems.aligners:EflomalAligner",
        "simalign": "systems.aligners:SimAlignAligner",
        "embedding": "systems.aligners:EmbeddingAligner",
        "surface": "systems.aligners:SurfaceAligner",
    },
    entry_point_group="xner_bench.aligners",
)


def make_aligner(name: str, **params: Any) -> Aligner:
    """Build the registered aligner ``name`` with keyword parameters.

    >>> make_aligner("eflomal", symmetrization="intersection").symmetrization
    'intersection'
    """
    factory = ALIGNERS.get(name)
    try:
        return factory(**params)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"cannot build aligner {name!r} with {params}: {exc}") from exc
