"""Adapters: any textattack ``Transformation`` or nlpaug augmenter, made label-safe.

Neither library carries NER labels (nlpaug #19/#214, TextAttack #704/#773) and both split and
re-join text their own way (nlpaug's default tokenizer corrupts combining marks; TextAttack's word
regex breaks words at combining marks; dependencies.md §2b-2c). The adapters therefore call the
library on **one token at a time** and require one token back: the alignment is the identity and
the template's invariant check holds. When the library returns something that is not exactly one
non-empty whitespace-free token, the adapter raises :class:`ConformanceError` naming the library
component and the token; it never drops or silently repairs the output.

Grapheme safety: before calling the library, every multi-code-point grapheme cluster (``ọ̀``) is
replaced by one placeholder letter from CJK Extension B (a ``\\w`` letter both libraries treat as an
ordinary character), and mapped back afterwards, so a tone mark can never be moved or orphaned.

Determinism: both libraries draw from the global ``random``/``numpy.random`` state. Each call runs
inside :func:`seeded_globals`, which seeds them from the per-item generator and restores the
previous global state afterwards, so the caller's process is unaffected.

Offline: textattack is imported only through :func:`import_textattack_offline`, the shim of
dependencies.md §2a (pre-created post-install marker, locally written NLTK stopwords, flair stub),
after which every environment variable textattack overwrote (``HF_HOME``, ``XDG_CACHE_HOME`` ...)
is restored.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import sys
import tempfile
import types
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.errors import ConfigError, ConformanceError, ModelUnavailableError

from attacks.base import SCOPES, TokenPerturbation, _check_choice
from attacks.text import graphemes

_PLACEHOLDER_BASE = 0x20000  # CJK Unified Ideographs Extension B: letters (\w), never in our data
_PLACEHOLDER_END = 0x2A6DF


def protect(token: str) -> tuple[str, dict[str, str]]:
    """Replace multi-code-point grapheme clusters by single placeholder letters.

    >>> encoded, table = protect("ọ̀kan")
    >>> len(encoded), unprotect(encoded, table)
    (4, 'ọ̀kan')
    """
    clusters = graphemes(token)
    # A stray leading mark (a one-code-point cluster) is protected too: moved, it would attach.
    plain = [len(c) == 1 and not unicodedata.combining(c) for c in clusters]
    if all(plain):
        return token, {}
    if any(_PLACEHOLDER_BASE <= ord(ch) <= _PLACEHOLDER_END for ch in token):
        raise ConformanceError(f"token {token!r} already contains CJK Extension B letters; cannot protect its clusters")
    table: dict[str, str] = {}
    reverse: dict[str, str] = {}
    out = []
    for c, is_plain in zip(clusters, plain, strict=True):
        if is_plain:
            out.append(c)
            continue
        if c not in reverse:
            ph = chr(_PLACEHOLDER_BASE + len(reverse))
            reverse[c] = ph
            table[ph] = c
        out.append(reverse[c])
    return "".join(out), table


def unprotect(text: str, table: Mapping[str, str]) -> str:
    if not table:
        return text
    return "".join(table.get(ch, ch) for ch in text)


@contextlib.contextmanager
def seeded_globals(rng: np.random.Generator) -> Iterator[None]:
    """Seed ``random`` and ``numpy.random`` from ``rng`` for the block, then restore them."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    seed = int(rng.integers(2**32))
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _install_flair_stub() -> None:
    # textattack imports flair at module level for its POS/NER helpers; flair does not import with
    # transformers 5 (dependencies.md §2a), and those helpers need the hub anyway.
    if "flair" in sys.modules:
        return
    flair, data, models = (types.ModuleType(n) for n in ("flair", "flair.data", "flair.models"))

    class Tokenizer:
        def tokenize(self, text: str) -> list[str]:
            raise NotImplementedError

    class Sentence:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ModelUnavailableError("flair is not installed; textattack's flair-based parts are unavailable offline")

    class SequenceTagger:
        @classmethod
        def load(cls, *args: Any, **kwargs: Any) -> None:
            raise ModelUnavailableError("flair is not installed; textattack's flair taggers are unavailable offline")

    data.Tokenizer, data.Sentence, models.SequenceTagger = Tokenizer, Sentence, SequenceTagger  # type: ignore[attr-defined]
    flair.data, flair.models, flair.device = data, models, None  # type: ignore[attr-defined]
    sys.modules.update({"flair": flair, "flair.data": data, "flair.models": models})


@functools.cache
def import_textattack_offline() -> types.ModuleType:
    """Import textattack without any download and without leaking its environment changes.

    Raises:
        ModelUnavailableError: textattack is not installed (``pip install --no-deps textattack==0.3.10``).
    """
    saved = dict(os.environ)  # textattack (and torch under it) set HF_HOME, WANDB_SILENT, ...
    base = Path(tempfile.mkdtemp(prefix="xner_textattack_"))
    try:
        (base / "ta_cache").mkdir(parents=True)
        (base / "ta_cache" / "post_install_check_3").touch()  # skips nltk/stanza downloads
        os.environ["TA_CACHE_DIR"] = str(base / "ta_cache")
        stopwords = base / "nltk_data" / "corpora" / "stopwords"
        stopwords.mkdir(parents=True)
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        (stopwords / "english").write_text("\n".join(sorted(ENGLISH_STOP_WORDS)) + "\n", encoding="utf-8")
        os.environ["NLTK_DATA"] = str(base / "nltk_data")
        _install_flair_stub()
        try:
            import textattack
            import textattack.transformations  # noqa: F401
        except ImportError as exc:
            raise ModelUnavailableError(
                f"textattack is not importable ({exc}); install it with "
                "`pip install --no-deps textattack==0.3.10` plus the 'attacks' extra"
            ) from exc
        # nltk reads NLTK_DATA into nltk.data.path at import; keep our stopwords reachable.
        with contextlib.suppress(ImportError):
            import nltk

            if str(base / "nltk_data") not in nltk.data.path:
                nltk.data.path.append(str(base / "nltk_data"))
    finally:
        for k in set(os.environ) - set(saved):
            del os.environ[k]
        for k, v in saved.items():
            if os.environ.get(k) != v:
                os.environ[k] = v
    return textattack


def _single_token(adapter: str, component: str, before: str, after: Any) -> str:
    if not isinstance(after, str) or not after or len(after.split()) != 1 or after != after.strip():
        raise ConformanceError(
            f"adapter {adapter!r}: {component} turned token {before!r} into {after!r}, which is not exactly "
            "one whitespace-free token, so the tag alignment cannot be kept. Use a character-level "
            "transformation (or one that keeps word boundaries) with this adapter."
        )
    return after


class _AdapterBase(TokenPerturbation):
    family = "adapter"

    def __init__(self, severity: int = 2, target: str = "both", min_length: int = 2) -> None:
        super().__init__(severity=severity)
        self.target = target
        _check_choice(self, "target", target, SCOPES)
        self.scope = target  # type: ignore[assignment]
        self.min_length = int(min_length)

    def applicable(self, token: str) -> bool:
        return len(graphemes(token)) >= self.min_length

    def _ensure(self) -> None:
        raise NotImplementedError

    def perturb(self, sentence, rng):  # type: ignore[no-untyped-def]
        self._ensure()  # fail on a bad component even when no token is drawn
        return super().perturb(sentence, rng)

    def perturb_at(self, sentence, indices, rng):  # type: ignore[no-untyped-def]
        self._ensure()
        return super().perturb_at(sentence, indices, rng)

    def edit_token(self, token: str, rng: np.random.Generator) -> str:
        encoded, table = protect(token)
        with seeded_globals(rng):
            candidates = self._candidates(encoded)
        if not candidates:
            return token
        picked = sorted(set(candidates))[int(rng.integers(len(set(candidates))))]
        return _single_token(self.name, self._component_name(), token, unprotect(picked, table))

    def _candidates(self, encoded: str) -> list[str]:
        raise NotImplementedError

    def _component_name(self) -> str:
        raise NotImplementedError


class TextAttackAdapter(_AdapterBase):
    """Apply a textattack ``Transformation`` token by token.

    Args:
        transformation: a class name from ``textattack.transformations`` (e.g.
            ``"WordSwapNeighboringCharacterSwap"``) or a ready ``Transformation`` instance.
        transformation_params: keyword arguments for the class.
        severity, target, min_length: as for the character perturbations.

    Only transformations that need no network work offline: the character swaps
    (``WordSwapRandomCharacter*``, ``WordSwapNeighboringCharacterSwap``, ``WordSwapQWERTY``,
    ``WordSwapHomoglyphSwap`` in 0.3.10) and compositions of them (dependencies.md §2b).
    """

    name = "textattack.v1"
    description = "any textattack Transformation, applied token by token"
    edit_kind = "textattack"
    default_transformation: ClassVar[str | None] = None

    def __init__(
        self,
        transformation: Any = None,
        transformation_params: Mapping[str, Any] | None = None,
        severity: int = 2,
        target: str = "both",
        min_length: int = 2,
    ) -> None:
        super().__init__(severity=severity, target=target, min_length=min_length)
        self.transformation = transformation if transformation is not None else self.default_transformation
        if self.transformation is None:
            raise ConfigError(
                f"perturbation {self.name!r} needs a transformation, e.g. --param "
                "transformation=WordSwapNeighboringCharacterSwap"
            )
        self.transformation_params = dict(transformation_params or {})
        self._built: Any = None
        self._attacked_text: Any = None

    def _component_name(self) -> str:
        t = self.transformation
        return f"textattack {t if isinstance(t, str) else type(t).__name__}"

    def _ensure(self) -> None:
        if self._built is not None:
            return
        ta = import_textattack_offline()
        from textattack.shared import AttackedText

        self._attacked_text = AttackedText
        if isinstance(self.transformation, str):
            cls = getattr(ta.transformations, self.transformation, None)
            if cls is None:
                raise ConfigError(
                    f"textattack.transformations has no {self.transformation!r}; see "
                    "https://textattack.readthedocs.io/en/latest/apidoc/textattack.transformations.html"
                )
            self._built = cls(**self.transformation_params)
        else:
            self._built = self.transformation

    def _candidates(self, encoded: str) -> list[str]:
        self._ensure()
        results = self._built(self._attacked_text(encoded))
        return [r.text for r in results]


class TextAttackCharSwap(TextAttackAdapter):
    name = "ta-char-swap.v1"
    description = "textattack WordSwapNeighboringCharacterSwap (grapheme-protected)"
    default_transformation = "WordSwapNeighboringCharacterSwap"


class TextAttackCharDelete(TextAttackAdapter):
    name = "ta-char-delete.v1"
    description = "textattack WordSwapRandomCharacterDeletion (grapheme-protected)"
    default_transformation = "WordSwapRandomCharacterDeletion"


class TextAttackCharInsert(TextAttackAdapter):
    name = "ta-char-insert.v1"
    description = "textattack WordSwapRandomCharacterInsertion (grapheme-protected)"
    default_transformation = "WordSwapRandomCharacterInsertion"


class TextAttackCharSubstitute(TextAttackAdapter):
    name = "ta-char-substitute.v1"
    description = "textattack WordSwapRandomCharacterSubstitution (grapheme-protected)"
    default_transformation = "WordSwapRandomCharacterSubstitution"


class TextAttackQwerty(TextAttackAdapter):
    name = "ta-qwerty.v1"
    description = "textattack WordSwapQWERTY (English QWERTY only)"
    default_transformation = "WordSwapQWERTY"


class TextAttackHomoglyph(TextAttackAdapter):
    name = "ta-homoglyph.v1"
    description = "textattack WordSwapHomoglyphSwap (0.3.10)"
    default_transformation = "WordSwapHomoglyphSwap"


@functools.cache
def nlpaug_keyboard_file(layout: str = "qwerty") -> str:
    """A keyboard JSON for nlpaug built from our layout (nlpaug's own en map inserts spaces)."""
    from attacks.char import keyboards

    kb = keyboards()[layout]
    mapping = {k: list(v) for k, v in kb.neighbours.items()}
    mapping.update({k.upper(): [n.upper() for n in v] for k, v in kb.neighbours.items()})
    path = Path(tempfile.mkdtemp(prefix="xner_nlpaug_")) / f"{layout}.json"
    path.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    return str(path)


class NlpaugAdapter(_AdapterBase):
    """Apply an nlpaug character augmenter token by token (``tokenizer=str.split``).

    Args:
        augmenter: class name in ``nlpaug.augmenter.char`` (``KeyboardAug``, ``OcrAug``,
            ``RandomCharAug``) or a ready augmenter instance.
        augmenter_params: keyword arguments for the class. The adapter sets ``tokenizer=str.split``,
            ``reverse_tokenizer=" ".join`` and one word per call, unless given.
        severity, target, min_length: as for the character perturbations.
    """

    name = "nlpaug.v1"
    description = "any nlpaug character augmenter, applied token by token"
    edit_kind = "nlpaug"
    default_augmenter: ClassVar[str | None] = None
    default_params: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        augmenter: Any = None,
        augmenter_params: Mapping[str, Any] | None = None,
        severity: int = 2,
        target: str = "both",
        min_length: int = 2,
    ) -> None:
        super().__init__(severity=severity, target=target, min_length=min_length)
        self.augmenter = augmenter if augmenter is not None else self.default_augmenter
        if self.augmenter is None:
            raise ConfigError(f"perturbation {self.name!r} needs an augmenter, e.g. --param augmenter=OcrAug")
        self.augmenter_params = dict(augmenter_params or {})
        self._built: Any = None

    def _component_name(self) -> str:
        a = self.augmenter
        return f"nlpaug {a if isinstance(a, str) else type(a).__name__}"

    def _ensure(self) -> None:
        if self._built is not None:
            return
        if not isinstance(self.augmenter, str):
            self._built = self.augmenter
            return
        try:
            import nlpaug.augmenter.char as nac
        except ImportError as exc:
            raise ModelUnavailableError(f"nlpaug is not importable ({exc}); install nlpaug==1.1.11") from exc
        cls = getattr(nac, self.augmenter, None)
        if cls is None:
            raise ConfigError(f"nlpaug.augmenter.char has no {self.augmenter!r} (KeyboardAug, OcrAug, RandomCharAug)")
        params: dict[str, Any] = {
            "tokenizer": str.split,
            "reverse_tokenizer": " ".join,
            "aug_word_p": 1.0,
            "aug_word_min": 1,
            "aug_word_max": 1,
            "aug_char_min": 1,
            "aug_char_max": 1,
            "min_char": self.min_length,
        }
        params.update(self.default_params)
        if self.augmenter == "KeyboardAug" and "model_path" not in self.augmenter_params:
            params["model_path"] = nlpaug_keyboard_file("qwerty")
        params.update(self.augmenter_params)
        self._built = cls(**params)

    def _candidates(self, encoded: str) -> list[str]:
        self._ensure()
        out = self._built.augment(encoded)
        if isinstance(out, str):
            out = [out]
        return [o for o in out if o != encoded] if out else []


class NlpaugKeyboard(NlpaugAdapter):
    name = "nlpaug-keyboard.v1"
    description = "nlpaug KeyboardAug with our QWERTY map and str.split (grapheme-protected)"
    default_augmenter = "KeyboardAug"


class NlpaugOcr(NlpaugAdapter):
    name = "nlpaug-ocr.v1"
    description = "nlpaug OcrAug with str.split (grapheme-protected)"
    default_augmenter = "OcrAug"


class NlpaugRandomChar(NlpaugAdapter):
    """nlpaug RandomCharAug; ``action`` one of insert, substitute, swap, delete."""

    name = "nlpaug-random-char.v1"
    description = "nlpaug RandomCharAug (swap by default) with str.split (grapheme-protected)"
    default_augmenter = "RandomCharAug"
    default_params: ClassVar[Mapping[str, Any]] = {"action": "swap"}
