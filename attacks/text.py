"""Grapheme-cluster helpers: every character-level operation edits user-perceived characters.

Yoruba and Igbo write tones with combining marks, often on top of a dot below (``ọ̀`` is three
code points in NFC: ``ọ`` + U+0300). Code-point based augmenters (TextAttack, nlpaug) move such a
mark onto a neighbouring letter (dependencies.md §2b: 24-55 of 200 NFC Yoruba runs, almost all
NFD runs). We split tokens into extended grapheme clusters (UAX #29, ``regex`` ``\\X``) and only
ever insert, delete, swap or replace whole clusters, so a mark always stays with its base letter.
"""

from __future__ import annotations

import functools
import unicodedata

import regex

_CLUSTER_RE = regex.compile(r"\X")


@functools.lru_cache(maxsize=65536)
def graphemes(token: str) -> tuple[str, ...]:
    """Split ``token`` into extended grapheme clusters.

    >>> graphemes("Ọ̀gbẹ́ni")
    ('Ọ̀', 'g', 'b', 'ẹ́', 'n', 'i')
    """
    if token.isascii():
        return tuple(token)
    return tuple(_CLUSTER_RE.findall(token))


def base_and_marks(cluster: str) -> tuple[str, str]:
    """Split a cluster into its base (NFC, without combining marks) and its marks (NFD order).

    Dots below/above that are part of the letter identity in Yoruba (``ọ ẹ ṣ``) are combining marks
    in NFD too; callers that must keep them use :func:`strip_marks` with ``keep``.

    >>> base_and_marks("ẹ́")
    ('e', '̣́')
    """
    decomposed = unicodedata.normalize("NFD", cluster)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    marks = "".join(c for c in decomposed if unicodedata.combining(c))
    return unicodedata.normalize("NFC", base), marks


# Tone marks (what Yoruba/Igbo writers drop first) versus letter-forming marks (dot below, which
# distinguishes ọ/o, ẹ/e, ṣ/s and is a different letter). Igbo also uses dots below (ị ọ ụ) and
# U+0307 in ṅ. Hausa hooked letters (ɓ ɗ ƙ) are precomposed letters, not marks.
TONE_MARKS = frozenset("\u0300\u0301\u0302\u0303\u0304\u030c\u0306\u0308\u030b\u030f")
LETTER_MARKS = frozenset("\u0323\u0307\u0331\u0327\u0328")


def strip_marks(text: str, *, keep: frozenset[str] = frozenset()) -> str:
    """Remove combining marks except those in ``keep``; result is NFC.

    >>> strip_marks("Ọ̀gbẹ́ni", keep=LETTER_MARKS)
    'Ọgbẹni'
    >>> strip_marks("Ọ̀gbẹ́ni")
    'Ogbeni'
    """
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c) or c in keep)
    return unicodedata.normalize("NFC", kept)


def starts_with_mark(token: str) -> bool:
    """True when the token's first code point is a combining mark (a detached diacritic)."""
    return bool(token) and unicodedata.combining(token[0]) != 0


def has_marks(text: str) -> bool:
    return any(unicodedata.combining(c) for c in unicodedata.normalize("NFD", text))
