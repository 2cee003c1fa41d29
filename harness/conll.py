"""CoNLL reader and writer.

Files hold one token per line with the IOB2 tag in the **last** column (2-column ``token tag``
files such as MasakhaNER and WikiANN, 4-column ``token POS chunk tag`` files such as CoNLL-2003),
space- or tab-separated, blank lines between sentences, optional ``-DOCSTART-`` lines.

Orphan ``I-X`` tags (16 in the real MasakhaNER 2.0 files) are handled by an explicit policy:

* ``"repair"`` (default): the orphan becomes ``B-X``; this is what conlleval and seqeval's default
  mode do implicitly, and it keeps the annotator's mention. Every repair is counted in the report.
* ``"drop"``: the orphan becomes ``O`` (what seqeval's strict mode does when scoring).
* ``"error"``: raise :class:`DataFormatError` naming file and line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.data import OUTSIDE, Sentence
from harness.errors import DataFormatError

OrphanPolicy = Literal["repair", "drop", "error"]
ORPHAN_POLICIES: tuple[str, ...] = ("repair", "drop", "error")
_COLUMN_SEP = re.compile(r"[ \t]+")
_TAG_RE = re.compile(r"^(?:O|[BI]-\S+)$")


@dataclass(frozen=True, slots=True)
class ConllRecord:
    """One raw sentence as read from a file, before any validation of its tag sequence."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    first_line: int  # 1-based line of the first token
    columns: int


@dataclass(frozen=True, slots=True)
class OrphanRepair:
    path: str
    line: int
    sentence_id: str
    tag: str
    replacement: str


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What happened while loading one file: counts and every repair made."""

    path: str
    sha256: str
    sentences: int
    tokens: int
    entities: int
    orphan_policy: str
    repairs: tuple[OrphanRepair, ...] = field(default_factory=tuple)

    @property
    def n_repairs(self) -> int:
        return len(self.repairs)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def iter_conll_records(path: str | Path) -> Iterator[ConllRecord]:
    """Yield raw sentences from a CoNLL file; only the line structure is checked here.

    Raises:
        DataFormatError: a line with fewer than two columns, a tag that is not ``O``/``B-X``/``I-X``,
            or a column count that differs from the file's first token line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise DataFormatError(f"cannot read file: {exc.strerror}", path=path) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    expected_columns = 0
    # Split on "\n" only: str.splitlines() also breaks on U+0085/U+2028 found inside real tokens.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r").strip(" \t")
        if not line:
            if tokens:
                yield ConllRecord(tuple(tokens), tuple(tags), first, expected_columns)
                tokens, tags = [], []
            continue
        columns = _COLUMN_SEP.split(line)
        if columns[0] == "-DOCSTART-":
            if tokens:
                yield ConllRecord(tuple(tokens), tuple(tags), first, expected_columns)
                tokens, tags = [], []
            continue
        if len(columns) < 2:
            raise DataFormatError(
                f"expected 'token ... tag' (at least 2 columns), found {len(columns)} column: {line!r}",
                path=path,
                line=number,
            )
        if expected_columns == 0:
            expected_columns = len(columns)
        elif len(columns) != expected_columns:
            raise DataFormatError(
                f"expected {expected_columns} columns like the rest of the file, found {len(columns)}: {line!r}",
                path=path,
                line=number,
            )
        tag = columns[-1]
        if not _TAG_RE.match(tag):
            raise DataFormatError(
                f"expected an IOB2 tag (O, B-<type>, I-<type>) in the last column, found {tag!r}",
                path=path,
                line=number,
            )
        if not tokens:
            first = number
        tokens.append(columns[0])
        tags.append(tag)
    if tokens:
        yield ConllRecord(tuple(tokens), tuple(tags), first, expected_columns)


def read_conll(
    path: str | Path,
    *,
    lang: str,
    id_prefix: str,
    orphan_policy: OrphanPolicy = "repair",
    labels: frozenset[str] | None = None,
) -> tuple[list[Sentence], LoadReport]:
    """Read a CoNLL NER file into validated sentences with ids ``{id_prefix}/{index}``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> _ = open(p, "w").write("Adé B-PER\\nlọ O\\n\\nÈkó I-LOC\\n")
    >>> sents, report = read_conll(p, lang="yor", id_prefix="demo/yor/test")
    >>> [s.tags for s in sents], report.n_repairs
    ([('B-PER', 'O'), ('B-LOC',)], 1)

    Args:
        labels: the entity types the dataset declares; a tag of another type is an error naming
            file and line (``None``: any type, for custom data).
    """
    if orphan_policy not in ORPHAN_POLICIES:
        raise DataFormatError(
            f"orphan_policy must be one of {', '.join(ORPHAN_POLICIES)}; got {orphan_policy!r}"
        )
    path = Path(path)
    sentences: list[Sentence] = []
    repairs: list[OrphanRepair] = []
    n_tokens = 0
    for index, record in enumerate(iter_conll_records(path)):
        sentence_id = f"{id_prefix}/{index}"
        tags = list(record.tags)
        if labels is not None:
            _check_types(tags, labels, path, record.first_line, sentence_id)
        # Left to right on the tags as repaired so far: dropping an orphan can orphan the next I-.
        for position in range(len(tags)):
            tag, previous = tags[position], tags[position - 1] if position else OUTSIDE
            if not tag.startswith("I-") or (previous != OUTSIDE and previous[2:] == tag[2:]):
                continue
            line = record.first_line + position
            if orphan_policy == "error":
                raise DataFormatError(
                    f"orphan tag {tags[position]!r}: expected B-{tags[position][2:]} or a preceding "
                    f"{tags[position][2:]} span (use orphan_policy='repair' or 'drop')",
                    path=path,
                    line=line,
                    sentence_id=sentence_id,
                )
            replacement = f"B-{tags[position][2:]}" if orphan_policy == "repair" else OUTSIDE
            repairs.append(OrphanRepair(str(path), line, sentence_id, tags[position], replacement))
            tags[position] = replacement
        try:
            sentence = Sentence(sentence_id, lang, record.tokens, tuple(tags))
        except DataFormatError as exc:
            raise DataFormatError(exc.message, path=path, line=record.first_line, sentence_id=sentence_id) from None
        sentences.append(sentence)
        n_tokens += len(record.tokens)
    report = LoadReport(
        path=str(path),
        sha256=file_sha256(path),
        sentences=len(sentences),
        tokens=n_tokens,
        entities=sum(len(s.spans) for s in sentences),
        orphan_policy=orphan_policy,
        repairs=tuple(repairs),
    )
    return sentences, report


def _check_types(tags: Sequence[str], labels: frozenset[str], path: Path, first_line: int, sentence_id: str) -> None:
    import difflib

    for position, tag in enumerate(tags):
        if tag != OUTSIDE and tag[2:] not in labels:
            close = difflib.get_close_matches(tag[2:].upper(), sorted(labels), n=1, cutoff=0.6)
            hint = f"; did you mean {tag[:2]}{close[0]}?" if close else ""
            raise DataFormatError(
                f"entity type {tag[2:]!r} in tag {tag!r} is not one the dataset declares "
                f"({', '.join(sorted(labels))}){hint} (custom data: load it with labels=None / a dataset with open labels)",
                path=path, line=first_line + position, sentence_id=sentence_id,
            )


def format_conll(sentences: Sequence[Sentence], tags: Sequence[Sequence[str]] | None = None) -> str:
    """Render sentences as 2-column CoNLL text (``token tag``), blank line between sentences.

    ``tags`` overrides the sentences' own tags (e.g. to write predictions).
    """
    out: list[str] = []
    for i, sentence in enumerate(sentences):
        row_tags = sentence.tags if tags is None else tags[i]
        if len(row_tags) != len(sentence.tokens):
            raise DataFormatError(
                f"{len(sentence.tokens)} tokens but {len(row_tags)} tags to write", sentence_id=sentence.id
            )
        out.extend(f"{tok} {tag}" for tok, tag in zip(sentence.tokens, row_tags, strict=True))
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def write_conll(path: str | Path, sentences: Sequence[Sentence], tags: Sequence[Sequence[str]] | None = None) -> Path:
    """Write sentences as CoNLL atomically (temp file + rename), so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(format_conll(sentences, tags), encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        # Every failure path (a directory in the way, a full disk, Ctrl-C) removes the temporary file.
        tmp.unlink(missing_ok=True)
        raise
    return path
