"""Label-preserving perturbations for NER in low-resource languages, adapters, adversarial search.

``PERTURBATIONS`` maps versioned names to lazy ``module:Class`` targets (so ``import attacks``
loads neither numpy-heavy modules nor textattack/nlpaug); third-party packages register in the
``xner_bench.perturbations`` entry-point group. Build one with :func:`make_perturbation` and run it
over a corpus with :func:`attacks.base.perturb_corpus`.

>>> "char-typos.v1" in PERTURBATIONS
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.registry import Registry, build_component, factory_parameters

if TYPE_CHECKING:
    from attacks.base import Perturbation

BUILTIN_PERTURBATIONS: dict[str, str] = {
    # Character level (attacks/char.py).
    "char-typos.v1": "attacks.char:CharTypos",
    "char-keyboard.v1": "attacks.char:CharKeyboard",
    "char-insert.v1": "attacks.char:CharInsert",
    "char-delete.v1": "attacks.char:CharDelete",
    "char-substitute.v1": "attacks.char:CharSubstitute",
    "char-swap.v1": "attacks.char:CharSwap",
    "char-ocr.v1": "attacks.char:CharOCR",
    "char-homoglyph.v1": "attacks.char:CharHomoglyph",
    # Script and orthography (attacks/orthography.py).
    "diacritics-drop.v1": "attacks.orthography:DiacriticsDrop",
    "diacritic-noise.v1": "attacks.orthography:DiacriticNoise",
    "unicode-normalization.v1": "attacks.orthography:UnicodeNormalization",
    "dotted-letters.v1": "attacks.orthography:DottedLetters",
    "case-change.v1": "attacks.orthography:CaseChange",
    "punctuation-noise.v1": "attacks.orthography:PunctuationNoise",
    "whitespace-noise.v1": "attacks.orthography:WhitespaceNoise",
    # Word level on context tokens (attacks/word.py).
    "word-delete.v1": "attacks.word:WordDelete",
    "word-duplicate.v1": "attacks.word:WordDuplicate",
    "word-swap.v1": "attacks.word:WordSwap",
    "filler-insert.v1": "attacks.word:FillerInsert",
    # Entity level (attacks/entity.py).
    "entity-swap.v1": "attacks.entity:EntitySwap",
    "entity-typos.v1": "attacks.char:EntityTypos",
    "entity-casing.v1": "attacks.orthography:EntityCasing",
    # Context level (attacks/context.py).
    "code-switch.v1": "attacks.context:CodeSwitch",
    "sentence-concat.v1": "attacks.context:SentenceConcat",
    # Model-aware: searched against each system inside the run (attacks/adversarial.py).
    "adversarial.v1": "attacks.adversarial:AdversarialSearch",
    # Adapters around textattack / nlpaug (attacks/adapters.py); imported only when built.
    "textattack.v1": "attacks.adapters:TextAttackAdapter",
    "ta-char-swap.v1": "attacks.adapters:TextAttackCharSwap",
    "ta-char-delete.v1": "attacks.adapters:TextAttackCharDelete",
    "ta-char-insert.v1": "attacks.adapters:TextAttackCharInsert",
    "ta-char-substitute.v1": "attacks.adapters:TextAttackCharSubstitute",
    "ta-qwerty.v1": "attacks.adapters:TextAttackQwerty",
    "ta-homoglyph.v1": "attacks.adapters:TextAttackHomoglyph",
    "nlpaug.v1": "attacks.adapters:NlpaugAdapter",
    "nlpaug-keyboard.v1": "attacks.adapters:NlpaugKeyboard",
    "nlpaug-ocr.v1": "attacks.adapters:NlpaugOcr",
    "nlpaug-random-char.v1": "attacks.adapters:NlpaugRandomChar",
}

PERTURBATIONS: Registry[Any] = Registry(
    "perturbation", builtins=BUILTIN_PERTURBATIONS, entry_point_group="xner_bench.perturbations"
)


def accepted_params(name: str) -> list[str]:
    """Constructor parameters of the registered perturbation ``name``."""
    return factory_parameters(PERTURBATIONS.get(name))


def make_perturbation(name: str, params: Mapping[str, Any] | None = None) -> Perturbation:
    """Build the registered perturbation ``name`` with ``params``.

    Raises:
        UnknownComponentError: no such name (with close matches and the full list).
        ConfigError: an unknown parameter (listing the accepted ones) or an invalid value.

    >>> make_perturbation("char-typos.v1", {"severity": 3}).params["severity"]
    3
    >>> make_perturbation("char-typos.v1", {"strength": 3})
    Traceback (most recent call last):
    ...
    harness.errors.ConfigError: perturbation 'char-typos.v1' has no parameter 'strength'; it accepts: severity, target, layout, min_length
    """
    factory = PERTURBATIONS.get(name)
    perturbation = build_component("perturbation", name, factory, params)
    if getattr(perturbation, "name", None) != name and isinstance(factory, type):
        # A class registered under a second name (e.g. by an entry point) reports that name.
        perturbation.name = name
    return perturbation  # type: ignore[no-any-return]


def parse_param_value(text: str) -> Any:
    """Parse a ``--param k=v`` value: ints, floats, true/false/none, else the string.

    >>> parse_param_value("3"), parse_param_value("0.5"), parse_param_value("none"), parse_param_value("yor")
    (3, 0.5, None, 'yor')
    """
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


__all__ = [
    "BUILTIN_PERTURBATIONS",
    "PERTURBATIONS",
    "accepted_params",
    "make_perturbation",
    "parse_param_value",
]
