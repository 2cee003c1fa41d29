"""Registered datasets and how they resolve: a local directory first, the Hugging Face hub otherwise.

Local layout (the one of ``../shared/data``): ``<root>/<folder>/<lang>/<split>.txt`` for NER and
``<root>/<folder>/<lang>/<split>.en`` + ``<split>.<lang>`` for parallel text. The root comes from
``--data-dir`` or ``$XNER_DATA_DIR``. Languages are discovered from what is present, never listed
in code. Without a root, the hub path is taken (the path real users with network take).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.conll import LoadReport, OrphanPolicy, file_sha256, read_conll
from harness.data import Sentence
from harness.errors import ConfigError, DataFormatError, ModelUnavailableError, UnknownComponentError

SPLITS: tuple[str, ...] = ("train", "dev", "test")
BUNDLED_ROOT = Path(__file__).parent / "sample"


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """A dataset the harness knows by name.

    Attributes:
        name: registry name, e.g. ``masakhaner2``.
        version: bumped whenever loading or content changes; recorded in every manifest.
        kind: ``ner`` (CoNLL) or ``parallel`` (line-aligned English/target text).
        folder: directory name under the data root.
        labels: entity types of the gold annotation.
        hub_id: Hugging Face dataset id for the hub path.
        license: short licence note, shown by ``xner datasets``.
    """

    name: str
    version: str
    kind: Literal["ner", "parallel"]
    folder: str
    labels: frozenset[str]
    description: str
    hub_id: str | None = None
    license: str = ""
    bundled: bool = False
    hub_lang_codes: dict[str, str] = field(default_factory=dict)
    # True for custom datasets whose entity types are not fixed: gold types are then not checked
    # against ``labels`` (the opt-out of the check in ``load_ner``).
    open_labels: bool = False


_ISO3_TO_ISO1 = {
    "amh": "am", "hau": "ha", "ibo": "ig", "kin": "rw", "swa": "sw", "yor": "yo", "eng": "en",
    "deu": "de", "spa": "es", "ita": "it", "zul": "zu", "xho": "xh", "sna": "sn", "nya": "ny",
}

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "masakhaner2", "2.0", "ner", "masakhaner2", frozenset({"PER", "ORG", "LOC", "DATE"}),
            "MasakhaNER 2.0: news NER in 20 African languages (Adelani et al., 2022)",
            hub_id="masakhane/masakhaner2", license="CC BY-NC 4.0",
        ),
        DatasetSpec(
            "conll2003", "1.0", "ner", "conll2003", frozenset({"PER", "ORG", "LOC", "MISC"}),
            "CoNLL-2003 English NER (Tjong Kim Sang & De Meulder, 2003)",
            hub_id="eriktks/conll2003", license="research use only (Reuters RCV1)",
        ),
        DatasetSpec(
            "wikiann", "rahimi-1.0", "ner", "wikiann_rahimi", frozenset({"PER", "ORG", "LOC"}),
            "WikiANN / PAN-X with the Rahimi et al. (2019) splits",
            hub_id="unimelb-nlp/wikiann", license="unknown (Wikipedia text CC BY-SA)",
            hub_lang_codes=_ISO3_TO_ISO1,
        ),
        DatasetSpec(
            "europarl_ner", "1.0", "ner", "europarl_ner", frozenset({"PER", "ORG", "LOC", "MISC"}),
            "Europarl-NER: 799 sentence-aligned sentences with gold NER in eng/deu/spa/ita",
            license="Europarl terms",
        ),
        DatasetSpec(
            "mafand", "1.0", "parallel", "mafand_mt", frozenset(),
            "MAFAND-MT news parallel text, English ↔ African languages (Adelani et al., 2022)",
            hub_id="masakhane/mafand", license="CC BY-NC 4.0",
        ),
        DatasetSpec(
            "smoke", "1.0", "ner", "smoke", frozenset({"PER", "ORG", "LOC", "DATE"}),
            "A tiny multilingual sample written for xner-bench itself (bundled; runs offline)",
            license="Apache-2.0", bundled=True,
        ),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise UnknownComponentError("dataset", name, DATASETS)
    return DATASETS[name]


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """``data_dir``, else ``$XNER_DATA_DIR``, else ``None`` (hub)."""
    chosen = data_dir if data_dir is not None else os.environ.get("XNER_DATA_DIR") or None
    if chosen is None:
        return None
    root = Path(chosen).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data directory {str(root)!r} does not exist (from --data-dir or XNER_DATA_DIR)")
    return root


def dataset_root(spec: DatasetSpec, data_dir: str | Path | None) -> Path | None:
    """The local folder of a dataset, or ``None`` when it must come from the hub."""
    if spec.bundled:
        return BUNDLED_ROOT / spec.folder
    root = resolve_data_dir(data_dir)
    if root is None:
        return None
    folder = root / spec.folder
    if not folder.is_dir():
        raise ConfigError(
            f"dataset {spec.name!r} not found: expected folder {str(folder)!r} "
            f"(layout <data-dir>/{spec.folder}/<lang>/<split>.txt)"
        )
    return folder


def _split_path(spec: DatasetSpec, folder: Path, lang: str, split: str) -> Path:
    if spec.kind == "ner":
        return folder / lang / f"{split}.txt"
    return folder / lang / f"{split}.{lang}"


def languages(name: str, *, data_dir: str | Path | None = None, split: str | None = None) -> list[str]:
    """Languages present locally (those having ``split``, when given)."""
    spec = get_dataset(name)
    folder = dataset_root(spec, data_dir)
    if folder is None:
        raise ModelUnavailableError(
            f"dataset {name!r}: no --data-dir/XNER_DATA_DIR given, and languages cannot be listed "
            f"offline from the hub ({spec.hub_id}); pass --languages explicitly or a data directory"
        )
    found = []
    for lang_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        wanted = [split] if split else list(SPLITS)
        if any(_split_path(spec, folder, lang_dir.name, s).is_file() for s in wanted):
            found.append(lang_dir.name)
    return found


def available_splits(name: str, lang: str, *, data_dir: str | Path | None = None) -> list[str]:
    spec = get_dataset(name)
    folder = dataset_root(spec, data_dir)
    if folder is None:
        return list(SPLITS)
    return [s for s in SPLITS if _split_path(spec, folder, lang, s).is_file()]


@dataclass(frozen=True, slots=True)
class LoadedSplit:
    """Sentences of one (dataset, lang, split) plus where they came from."""

    dataset: str
    lang: str
    split: str
    sentences: list[Sentence]
    report: LoadReport
    version: str

    @property
    def sha256(self) -> str:
        return self.report.sha256


def load_ner(
    name: str,
    lang: str,
    split: str,
    *,
    data_dir: str | Path | None = None,
    orphan_policy: OrphanPolicy = "repair",
    check_labels: bool = True,
) -> LoadedSplit:
    """Load one split of an NER dataset with stable ids ``{name}/{lang}/{split}/{index}``.

    Gold entity types must be among the dataset's declared ``labels`` (an unknown ``B-per`` or
    ``B-FOO`` is an error naming file and line), unless ``check_labels=False`` or the dataset is
    registered with ``open_labels=True``.
    """
    spec = get_dataset(name)
    if spec.kind != "ner":
        raise ConfigError(f"dataset {name!r} is {spec.kind} text, not NER; use load_parallel")
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    folder = dataset_root(spec, data_dir)
    if folder is None:
        return _load_ner_from_hub(spec, lang, split)
    path = _split_path(spec, folder, lang, split)
    if not path.is_file():
        present = languages(name, data_dir=data_dir)
        if lang not in present:
            raise UnknownComponentError(f"language of dataset {name!r} (in {folder})", lang, present)
        raise ConfigError(
            f"{name}/{lang} has no {split} split: {str(path)!r} is missing "
            f"(present: {', '.join(available_splits(name, lang, data_dir=data_dir))})"
        )
    labels = spec.labels if check_labels and spec.labels and not spec.open_labels else None
    return _load_ner_file(str(path), path.stat().st_mtime_ns, name, lang, split, orphan_policy, spec.version, labels)


@functools.lru_cache(maxsize=64)
def _load_ner_file(
    path: str, mtime_ns: int, name: str, lang: str, split: str, orphan_policy: OrphanPolicy, version: str,
    labels: frozenset[str] | None = None,
) -> LoadedSplit:
    sentences, report = read_conll(
        path, lang=lang, id_prefix=f"{name}/{lang}/{split}", orphan_policy=orphan_policy, labels=labels
    )
    return LoadedSplit(name, lang, split, sentences, report, version)


def load_parallel(
    name: str, lang: str, split: str, *, data_dir: str | Path | None = None
) -> list[tuple[str, str]]:
    """Line-aligned ``(english, target)`` pairs of a parallel dataset.

    Raises:
        DataFormatError: the two sides have different line counts, or a line is empty.
    """
    spec = get_dataset(name)
    if spec.kind != "parallel":
        raise ConfigError(f"dataset {name!r} is NER data, not parallel text")
    folder = dataset_root(spec, data_dir)
    if folder is None:
        return _load_parallel_from_hub(spec, lang, split)
    source, target = folder / lang / f"{split}.en", folder / lang / f"{split}.{lang}"
    for path in (source, target):
        if not path.is_file():
            raise ConfigError(f"{name}/{lang}/{split}: file {str(path)!r} is missing")
    en = source.read_text(encoding="utf-8").split("\n")
    tgt = target.read_text(encoding="utf-8").split("\n")
    for lines in (en, tgt):
        if lines and lines[-1] == "":
            lines.pop()
    if len(en) != len(tgt):
        raise DataFormatError(f"{len(en)} English lines but {len(tgt)} lines in {target}", path=source)
    return list(zip(en, tgt, strict=True))


def data_files(name: str, lang: str, split: str, *, data_dir: str | Path | None = None) -> dict[str, str]:
    """sha256 of every local file a split is read from (for the run manifest)."""
    spec = get_dataset(name)
    folder = dataset_root(spec, data_dir)
    if folder is None:
        return {f"hub:{spec.hub_id}/{lang}/{split}": "unversioned"}
    if spec.kind == "ner":
        paths = [_split_path(spec, folder, lang, split)]
    else:
        paths = [folder / lang / f"{split}.en", folder / lang / f"{split}.{lang}"]
    return {f"{spec.folder}/{lang}/{p.name}": _cached_sha(str(p), p.stat().st_mtime_ns) for p in paths}


@functools.lru_cache(maxsize=256)
def _cached_sha(path: str, mtime_ns: int) -> str:
    return file_sha256(path)


# --- Hub path ------------------------------------------------------------------------------------
# Real users with network load from the hub. It cannot run on the machines this project is built
# on, so it is kept thin: one function per kind, converting to the same Sentence objects.

_HubLoader = Callable[..., object]


def _hub_load_dataset(spec: DatasetSpec, config: str, split: str) -> Any:
    if spec.hub_id is None:
        raise ModelUnavailableError(f"dataset {spec.name!r} has no hub copy; pass --data-dir")
    try:
        import datasets  # heavy; only on this path
    except ImportError as exc:  # pragma: no cover - datasets is a dependency
        raise ModelUnavailableError(f"the hub path needs the 'datasets' package: {exc}") from exc
    hub_split = {"dev": "validation"}.get(split, split)
    try:
        return datasets.load_dataset(spec.hub_id, config, split=hub_split)
    except Exception as exc:  # noqa: BLE001 - datasets raises many unrelated types offline
        raise ModelUnavailableError(
            f"cannot load {spec.hub_id} ({config}, {hub_split}) from the Hugging Face hub: no network "
            f"and not in the local cache ({type(exc).__name__}: {exc}). Pass --data-dir with a local copy."
        ) from None


def _load_ner_from_hub(spec: DatasetSpec, lang: str, split: str) -> LoadedSplit:
    config = spec.hub_lang_codes.get(lang, lang) if spec.hub_lang_codes else lang
    if spec.name == "conll2003":
        config = "conll2003"
    rows = _hub_load_dataset(spec, config, split)
    names = rows.features["ner_tags"].feature.names
    sentences = [
        Sentence(f"{spec.name}/{lang}/{split}/{i}", lang, tuple(row["tokens"]), tuple(names[t] for t in row["ner_tags"]))
        for i, row in enumerate(rows)
    ]
    report = LoadReport(
        path=f"hub:{spec.hub_id}/{config}/{split}", sha256="unversioned", sentences=len(sentences),
        tokens=sum(len(s) for s in sentences), entities=sum(len(s.spans) for s in sentences),
        orphan_policy="repair",
    )
    return LoadedSplit(spec.name, lang, split, sentences, report, spec.version)


def _load_parallel_from_hub(spec: DatasetSpec, lang: str, split: str) -> list[tuple[str, str]]:
    rows = _hub_load_dataset(spec, f"en-{lang}", split)
    return [(row["translation"]["en"], row["translation"][lang]) for row in rows]
