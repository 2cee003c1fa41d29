"""The test sets of a suite as files, and the validation of predictions written for them.

``xner export-suite SUITE DIR`` writes every test set a suite scores (clean, and each perturbation
under each seed) with the same deterministic per-sentence seeds the runner uses
(``attacks.base.perturb_corpus``), so a system run elsewhere sees exactly the inputs the harness
scores. Layout (one file per cell, tokens with a placeholder ``O`` column)::

    DIR/xner-export.json                              versions, seeds, per-file token hashes
    DIR/<dataset>/<lang>/<split>/none.conll           clean
    DIR/<dataset>/<lang>/<split>/<perturbation>.<params_hash>.seed<seed>.conll

Each sentence starts with a ``# id = <sentence id>`` line. A predictions submission is the same
tree with the ``O`` column replaced by predicted IOB2 tags (XTREME's predictions-folder flow, with
the validator its users asked for: every rejection names the file, the line and the sentence).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import Sentence, tag_errors
from harness.errors import DataFormatError, XnerError
from harness.manifest import RunManifest, params_hash
from harness.store import CLEAN

EXPORT_FORMAT = "xner-export/1"
MANIFEST_NAME = "xner-export.json"
_ID_LINE = re.compile(r"^#\s*id\s*=\s*(\S+)\s*$")
_TAG_RE = re.compile(r"^(?:O|[BI]-\S+)$")


@dataclass(frozen=True, slots=True)
class TestSet:
    """The inputs of one cell of a suite (gold tags kept; exported files carry only the tokens)."""

    dataset: str
    lang: str
    split: str
    perturbation: str
    params_hash: str
    seed: int | None  # None for the clean set, which every seed shares
    sentences: tuple[Sentence, ...]

    @property
    def relpath(self) -> str:
        """Where this set lives inside an export or predictions directory.

        >>> TestSet("d", "yor", "test", "none", "x", None, ()).relpath
        'd/yor/test/none.conll'
        """
        stem = CLEAN if self.perturbation == CLEAN else f"{self.perturbation}.{self.params_hash}.seed{self.seed}"
        return f"{self.dataset}/{self.lang}/{self.split}/{stem}.conll"


def token_digest(sentences: Sequence[Sentence]) -> str:
    """sha256 over sentence ids and token texts (never tags): what a predictions file must match."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.id.encode() + b"\x1e" + "\x1f".join(sentence.tokens).encode() + b"\n")
    return digest.hexdigest()


def suite_test_sets(manifest: RunManifest, *, data_dir: str | Path | None = None) -> list[TestSet]:
    """Every input set the manifest's cells score, built exactly as the runner builds them.

    Perturbations that do not support a language are left out (the runner records those cells as
    skipped), so exports never contain inputs that would not be scored.
    """
    from harness.datasets import load_ner

    perturbations: list[tuple[Any, Any]] = []
    if manifest.perturbations:
        from attacks import make_perturbation

        perturbations = [(config, make_perturbation(config.name, config.param_dict)) for config in manifest.perturbations]
    out: list[TestSet] = []
    for dataset in manifest.datasets:
        for lang in dataset.languages:
            loaded = load_ner(dataset.name, lang, dataset.split, data_dir=data_dir, orphan_policy=manifest.orphan_policy)  # type: ignore[arg-type]
            gold = list(loaded.sentences)
            if manifest.max_sentences is not None:
                gold = gold[: manifest.max_sentences]
            out.append(TestSet(dataset.name, lang, dataset.split, CLEAN, params_hash({}), None, tuple(gold)))
            for config, perturbation in perturbations:
                if not perturbation.supports(lang):
                    continue
                from attacks.base import perturb_corpus

                for seed in manifest.seeds:
                    perturbed = perturb_corpus(perturbation, gold, seed)
                    out.append(
                        TestSet(dataset.name, lang, dataset.split, config.name, config.params_hash, seed,
                                tuple(p.sentence for p in perturbed))
                    )
    return out


def export_versions(manifest: RunManifest) -> dict[str, Any]:
    """The version facts an export and a board must agree on."""
    return {
        "harness_version": manifest.harness_version,
        "scorer_version": manifest.scorer_version,
        "scheme": manifest.scheme,
        "datasets": {d.name: {"version": d.version, "split": d.split, "files": dict(d.data_files)} for d in manifest.datasets},
        "perturbations": {f"{p.name}.{p.params_hash}": p.param_dict for p in manifest.perturbations},
        "seeds": list(manifest.seeds),
        "max_sentences": manifest.max_sentences,
    }


def export_suite(manifest: RunManifest, out_dir: str | Path, *, data_dir: str | Path | None = None) -> list[Path]:
    """Write the suite's test sets (tokens only) plus ``xner-export.json``; returns the files written."""
    out_dir = Path(out_dir)
    written = []
    files: dict[str, Any] = {}
    for test_set in suite_test_sets(manifest, data_dir=data_dir):
        path = out_dir / test_set.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for sentence in test_set.sentences:
            lines.append(f"# id = {sentence.id}")
            lines.extend(f"{token} O" for token in sentence.tokens)
            lines.append("")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n" if lines else "", encoding="utf-8")
        tmp.replace(path)
        written.append(path)
        files[test_set.relpath] = {
            "sentences": len(test_set.sentences),
            "tokens": sum(len(s.tokens) for s in test_set.sentences),
            "token_sha256": token_digest(test_set.sentences),
            "perturbation": test_set.perturbation,
            "params": dict(next((p.params for p in manifest.perturbations if p.name == test_set.perturbation), ())),
            "seed": test_set.seed,
        }
    meta = {"format": EXPORT_FORMAT, "suite": manifest.suite, "versions": export_versions(manifest), "files": files}
    meta_path = out_dir / MANIFEST_NAME
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(meta_path)
    return written


# --- reading predictions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    sentence_id: str | None
    id_line: int | None
    first_line: int
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


def _blocks(path: Path) -> Iterator[_Block]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 ({exc.reason} at byte {exc.start})", path=path) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    sentence_id: str | None = None
    id_line: int | None = None
    first = 0
    tokens: list[str] = []
    tags: list[str] = []
    # Split on "\n" only: str.splitlines() also breaks on U+0085/U+2028, which occur inside tokens.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r").strip(" \t")
        if not line or line.startswith("-DOCSTART-"):
            if tokens:
                yield _Block(sentence_id, id_line, first, tuple(tokens), tuple(tags))
                tokens, tags, sentence_id, id_line = [], [], None, None
            elif sentence_id is not None:
                raise DataFormatError(f"sentence {sentence_id} declared at line {id_line} has no tokens", path=path, line=number)
            continue
        match = _ID_LINE.match(line)
        if match:
            if tokens:
                raise DataFormatError("a '# id =' line must follow a blank line, not a token line", path=path, line=number)
            sentence_id, id_line = match.group(1), number
            continue
        columns = line.split()
        if len(columns) != 2:
            # Exactly two: a third column is ambiguous (which one is the prediction?), never guessed.
            raise DataFormatError(f"expected 'token tag' (2 columns), found {len(columns)} column(s): {line!r}",
                                  path=path, line=number, sentence_id=sentence_id)
        if not _TAG_RE.match(columns[-1]):
            raise DataFormatError(f"expected an IOB2 tag (O, B-<type>, I-<type>) in the last column, found {columns[-1]!r}",
                                  path=path, line=number, sentence_id=sentence_id)
        if not tokens:
            first = number
        tokens.append(columns[0])
        tags.append(columns[-1])
    if tokens:
        yield _Block(sentence_id, id_line, first, tuple(tokens), tuple(tags))


def read_predictions(path: str | Path, expected: Sequence[Sentence]) -> list[tuple[str, ...]]:
    """Read one predictions file and check it against the test set it answers.

    Checks, in order, with the file, line and sentence in every message: line format and tag
    syntax, sentence ids (when the file has ``# id`` lines), token counts, token texts, valid IOB2
    (no orphan ``I-``), and the number of sentences.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "none.conll")
    >>> _ = open(p, "w").write("# id = d/yor/test/0\\nAdé B-PER\\nlọ O\\n")
    >>> read_predictions(p, [Sentence("d/yor/test/0", "yor", ("Adé", "lọ"), ("O", "O"))])
    [('B-PER', 'O')]
    """
    path = Path(path)
    out: list[tuple[str, ...]] = []
    blocks = _blocks(path)
    for index, sentence in enumerate(expected):
        block = next(blocks, None)
        if block is None:
            raise DataFormatError(
                f"file ends after {index} sentence(s); the test set has {len(expected)} (next expected: {sentence.id})",
                path=path, sentence_id=sentence.id,
            )
        if block.sentence_id is not None and block.sentence_id != sentence.id:
            raise DataFormatError(
                f"sentence {index + 1} is declared as {block.sentence_id!r} but the test set has {sentence.id!r} "
                "at this position (keep the order and ids of the exported file)",
                path=path, line=block.id_line, sentence_id=sentence.id,
            )
        if len(block.tokens) != len(sentence.tokens):
            raise DataFormatError(
                f"{len(block.tokens)} token(s) but the test set has {len(sentence.tokens)} "
                f"({' '.join(sentence.tokens[:10])}{' ...' if len(sentence.tokens) > 10 else ''})",
                path=path, line=block.first_line, sentence_id=sentence.id,
            )
        for position, (got, want) in enumerate(zip(block.tokens, sentence.tokens, strict=True)):
            if got != want:
                raise DataFormatError(
                    f"token {position} is {got!r} but the test set has {want!r} (files must keep the exported tokens exactly)",
                    path=path, line=block.first_line + position, sentence_id=sentence.id,
                )
        errors = tag_errors(block.tags)
        if errors:
            bad = int(errors[0].split(":")[0].split()[1])
            raise DataFormatError(f"invalid IOB2: {errors[0]}", path=path, line=block.first_line + bad, sentence_id=sentence.id)
        out.append(block.tags)
    extra = next(blocks, None)
    if extra is not None:
        raise DataFormatError(
            f"more sentences than the test set's {len(expected)}", path=path, line=extra.id_line or extra.first_line,
            sentence_id=extra.sentence_id,
        )
    return out


@dataclass(frozen=True, slots=True)
class PredictionFiles:
    """A validated predictions directory: one tag table keyed by the runner's sentence hash."""

    table: dict[str, tuple[str, ...]]
    digest: str
    labels: frozenset[str]
    files: tuple[str, ...]
    conflicts: int  # identical inputs (same language and tokens) given different predictions


def load_prediction_dir(directory: str | Path, test_sets: Sequence[TestSet]) -> PredictionFiles:
    """Validate every file a suite needs under ``directory`` and collect the predictions.

    Raises:
        DataFormatError: a file is missing, unexpected, or does not match its test set.
    """
    from harness.runner import sentence_hash

    directory = Path(directory)
    if not directory.is_dir():
        raise XnerError(f"predictions directory {directory} does not exist")
    expected = {t.relpath: t for t in test_sets}
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*.conll")}
    missing = sorted(set(expected) - present)
    if missing:
        raise DataFormatError(
            f"{len(missing)} predictions file(s) missing, e.g. {missing[0]} (run `xner export-suite` to see the expected tree)",
            path=directory / missing[0],
        )
    unexpected = sorted(present - set(expected))
    if unexpected:
        raise DataFormatError(
            f"unexpected file {unexpected[0]}: the suite scores no such test set (expected files: {', '.join(sorted(expected)[:4])} ...)",
            path=directory / unexpected[0],
        )
    root = directory.resolve()
    for relpath in sorted(expected):
        candidate = directory / relpath
        # A symlink out of the submission directory could make the loader read (and quote in its
        # errors) any file on the machine: refuse it without opening the target.
        if not candidate.resolve().is_relative_to(root):
            raise DataFormatError(
                "is a symlink to a file outside the submission directory; copy the file into the directory instead",
                path=candidate,
            )
    table: dict[str, tuple[str, ...]] = {}
    labels: set[str] = set()
    conflicts = 0
    digest = hashlib.sha256()
    # Clean sets first: when identical inputs got different predictions, the clean one is kept,
    # as the runner's prediction cache would do for a system run in process.
    for relpath in sorted(expected, key=lambda r: (expected[r].perturbation != CLEAN, r)):
        test_set = expected[relpath]
        predictions = read_predictions(directory / relpath, test_set.sentences)
        for sentence, tags in zip(test_set.sentences, predictions, strict=True):
            key = sentence_hash(sentence)
            previous = table.setdefault(key, tags)
            conflicts += previous != tags
            labels.update(t[2:] for t in tags if t != "O")
            digest.update(f"{relpath}\x1f{sentence.id}\x1f{' '.join(tags)}\n".encode())
    return PredictionFiles(table, digest.hexdigest()[:16], frozenset(labels), tuple(sorted(expected)), conflicts)
