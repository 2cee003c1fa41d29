"""The IOB2 tag inventory of a tagger and the repair of its argmax output."""

from __future__ import annotations

from collections.abc import Sequence

from harness.data import OUTSIDE
from harness.errors import ConfigError


def tag_names_for(labels: Sequence[str]) -> tuple[str, ...]:
    """The IOB2 tag inventory of entity types, in a fixed order (``O`` first).

    >>> tag_names_for(["PER", "LOC"])
    ('O', 'B-LOC', 'I-LOC', 'B-PER', 'I-PER')
    """
    for label in labels:
        if not label or any(c.isspace() for c in label) or label == OUTSIDE:
            raise ConfigError(f"entity type {label!r} must be a non-empty word other than 'O'")
    out = [OUTSIDE]
    for label in sorted(set(labels)):
        out += [f"B-{label}", f"I-{label}"]
    return tuple(out)


def repair_iob2(tags: Sequence[str]) -> tuple[str, ...]:
    """Turn orphan ``I-X`` tags (after ``O`` or another type) into ``B-X`` so the output is valid IOB2.

    >>> repair_iob2(["I-PER", "I-PER", "I-LOC", "O"])
    ('B-PER', 'I-PER', 'B-LOC', 'O')
    """
    out: list[str] = []
    previous = OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and (previous == OUTSIDE or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return tuple(out)
