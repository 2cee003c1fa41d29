"""Projection of entity spans through word alignments (systems.md §2a, §2b).

Two rule sets, selected by ``method``:

- ``garcia``: García-Ferrero, Agerri & Rigau (2022), "T-Projection"/Easy-Label-Projection
  (``ikergarcia1996/Easy-Label-Projection`` ``projection/annotation_proyection.py``): one target span
  per entity, the largest run of aligned words after gap filling, collisions resolved by type.
- ``politov``: Politov et al. (2025) / Shkalikov (thesis) variant: every aligned run long enough
  relative to the entity survives, later entities overwrite earlier ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from harness.data import Span
from harness.errors import ConfigError
from systems.translators import is_punctuation

Link = tuple[int, int]
METHODS = ("garcia", "politov")


def aligned_targets(span: Span, alignment: Iterable[Link]) -> list[int]:
    """Sorted target indices linked to any source word of ``span``.

    >>> aligned_targets(Span(1, 3, "PER"), [(0, 0), (1, 4), (2, 3), (2, 4)])
    [3, 4]
    """
    return sorted({j for i, j in alignment if span.start <= i < span.end})


def runs(indices: Sequence[int]) -> list[list[int]]:
    """Split sorted indices into runs of consecutive integers.

    >>> runs([1, 2, 4, 7, 8])
    [[1, 2], [4], [7, 8]]
    """
    out: list[list[int]] = []
    for j in indices:
        if out and j == out[-1][-1] + 1:
            out[-1].append(j)
        else:
            out.append([j])
    return out


def merge_runs(groups: list[list[int]], max_gap: int, *, no_merge_at: frozenset[int] = frozenset()) -> list[list[int]]:
    """Merge neighbouring runs separated by at most ``max_gap`` missing words, filling the gap.

    ``no_merge_at``: a run starting at one of these indices is never merged into its left
    neighbour (the thesis' ``only_i`` option).

    >>> merge_runs([[1, 2], [4], [7, 8]], 1)
    [[1, 2, 3, 4], [7, 8]]
    """
    out: list[list[int]] = []
    for group in groups:
        if out and group[0] - out[-1][-1] - 1 <= max_gap and group[0] not in no_merge_at:
            out[-1] = list(range(out[-1][0], group[-1] + 1))
        else:
            out.append(list(group))
    return out


def project_by_alignment(
    source_spans: Sequence[Span],
    target_tokens: Sequence[str],
    alignment: Iterable[Link],
    *,
    method: str = "garcia",
    fill_gap: int = 1,
    length_ratio: float = 0.8,
    only_i: bool = False,
    top_k: int | None = None,
    skip_labelled: bool = False,
) -> list[Span]:
    """Project source entity spans onto the target sentence through word links.

    Args:
        source_spans: entities over the source tokens.
        target_tokens: the target sentence (punctuation is detected on it).
        alignment: ``(source_index, target_index)`` links.
        method: ``garcia`` or ``politov``.
        fill_gap: maximal number of missing words between two runs that are merged (d).
        length_ratio: ``politov`` only: keep runs with ``len(run) / len(entity) > length_ratio``.
        only_i: ``politov`` only: do not merge a run that starts at a word aligned to the entity's first word.
        top_k: ``politov`` only: keep at most the k longest surviving runs per entity.
        skip_labelled: ``politov`` only: skip runs overlapping words labelled by earlier entities
            instead of overwriting them.

    Returns:
        Non-overlapping target spans, sorted.

    >>> src = [Span(0, 2, "PER"), Span(4, 5, "LOC")]
    >>> links = [(0, 1), (1, 2), (4, 4), (2, 0)]
    >>> project_by_alignment(src, ["Ayer", "Ana", "Pérez", "fue", "Madrid"], links)
    [Span(start=1, end=3, label='PER'), Span(start=4, end=5, label='LOC')]
    """
    links = list(alignment)
    if method == "garcia":
        return _garcia(source_spans, target_tokens, links, fill_gap)
    if method == "politov":
        return _politov(source_spans, len(target_tokens), links, fill_gap, length_ratio, only_i, top_k, skip_labelled)
    raise ConfigError(f"projection method must be one of {', '.join(METHODS)}; got {method!r}")


def _garcia(source_spans: Sequence[Span], target_tokens: Sequence[str], links: list[Link], fill_gap: int) -> list[Span]:
    kept: list[Span] = []
    for entity in source_spans:
        # Rules 1-2: aligned target words, without punctuation-only words.
        targets = [j for j in aligned_targets(entity, links) if not is_punctuation(target_tokens[j])]
        if not targets:
            continue
        # Rule 3. The reference code merges g_i and g_{i+1} when last(g_{i+1}) - first(g_i) <= fill_gap + 1,
        # which bounds the *combined* length (two 2-word runs with a 1-word gap are never merged); its
        # README states the intent "gap <= fill_gap". We implement the intent (systems.md §2a).
        groups = merge_runs(runs(targets), fill_gap)
        # Rule 4: the largest run, the first one on ties.
        best = max(groups, key=len)  # max() returns the first maximal element
        new = Span(best[0], best[-1] + 1, entity.label)
        # Rule 5: collisions, in source order. Same type -> union; different type -> the longer
        # span; a tie keeps the later entity (the reference code overwrites on ties). A union can
        # grow over a third span, so resolve until nothing overlaps.
        while True:
            clash = next((k for k in kept if k.start < new.end and new.start < k.end), None)
            if clash is None:
                kept.append(new)
                break
            if clash.label == new.label:
                kept.remove(clash)
                new = Span(min(clash.start, new.start), max(clash.end, new.end), new.label)
            elif clash.length > new.length:
                break  # the new projection loses
            else:
                kept.remove(clash)
    return sorted(kept)


def _politov(
    source_spans: Sequence[Span],
    n_target: int,
    links: list[Link],
    fill_gap: int,
    length_ratio: float,
    only_i: bool,
    top_k: int | None,
    skip_labelled: bool,
) -> list[Span]:
    # owner[j] = (entity order, run order) of the span currently labelling target word j; later
    # entities overwrite earlier ones (matching.py), and what remains of an overwritten span stays a span.
    owner: list[tuple[int, int] | None] = [None] * n_target
    labels: dict[tuple[int, int], str] = {}
    for e, entity in enumerate(source_spans):
        targets = aligned_targets(entity, links)
        if not targets:
            continue
        first_word = frozenset(j for i, j in links if i == entity.start) if only_i else frozenset()
        groups = merge_runs(runs(targets), fill_gap, no_merge_at=first_word)
        survivors = [g for g in groups if len(g) / entity.length > length_ratio]
        if top_k is not None:
            survivors = sorted(survivors, key=lambda g: (-len(g), g[0]))[:top_k]
        for r, group in enumerate(sorted(survivors)):
            if skip_labelled and any(owner[j] is not None for j in group):
                continue
            for j in group:
                owner[j] = (e, r)
            labels[(e, r)] = entity.label
    spans: list[Span] = []
    j = 0
    while j < n_target:
        key = owner[j]
        if key is None:
            j += 1
            continue
        end = j
        while end < n_target and owner[end] == key:
            end += 1
        spans.append(Span(j, end, labels[key]))
        j = end
    return spans
