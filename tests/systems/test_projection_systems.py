"""The registered projection systems: build by name, fit on tiny data, conformance checks, tgt2tgt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.data import Sentence, Span
from harness.errors import ConfigError, UnsupportedLanguageError, XnerError
from systems import BUILTIN_SYSTEMS, make_system
from systems.aligners import SurfaceAligner
from systems.base import FitContext, SystemTags
from systems.checks import run_checks
from systems.projection.backtranslation import back_translate_project
from systems.translators import BilingualLexicon, LexicalTranslator

NAMES = {"Bello": "PER", "Amina": "PER", "Kano": "LOC", "Abuja": "LOC", "Lagos": "LOC", "Nigeria": "LOC", "Reuters": "ORG"}


class NameListTagger:
    """A deterministic fake English NER system: tags a fixed list of names (and some MISC)."""

    name = "name-list"

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset({"PER", "LOC", "ORG", "MISC"}))

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        out = []
        for s in sentences:
            out.append(tuple(f"B-{NAMES[t]}" if t in NAMES else ("B-MISC" if t == "English" else "O") for t in s.tokens))
        return out


LEXICONS = {
    ("hau", "eng"): BilingualLexicon("hau", "eng", {"ya": (("he", 1.0),), "ziyarci": (("visited", 1.0),), "a": (("in", 1.0),)}),
    ("eng", "hau"): BilingualLexicon("eng", "hau", {"he": (("ya", 1.0),), "visited": (("ziyarci", 1.0),), "in": (("a", 1.0),)}),
}


def context(tmp_path: Path, data_dir: Path | None = None, languages: tuple[str, ...] = ("hau",)) -> FitContext:
    return FitContext(data_dir=data_dir, target_dataset="masakhaner2", target_languages=languages, seed=0, cache_dir=tmp_path, show_progress=False)


def hausa(tokens: str, k: int = 0) -> Sentence:
    words = tuple(tokens.split())
    return Sentence(f"t/hau/test/{k}", "hau", words, ("O",) * len(words))


def test_registered_projection_systems_build_by_name_with_shared_options() -> None:
    for name in ("proj-align-train", "proj-ilp-train", "proj-align-test", "proj-ilp-test", "proj-ilp-greedy-test", "proj-bt-test"):
        assert name in BUILTIN_SYSTEMS
        system = make_system(name, {}, shared={"backbone": "offline-tiny", "aligner": "eflomal"})
        assert system.backbone == "offline-tiny" and system.aligner in ("eflomal", "surface")
        assert system.tags.trainable and system.tags.languages is None
    assert make_system("easyproject-train", {}, shared={"backbone": "offline-tiny"}).backbone == "offline-tiny"


def test_projection_systems_reject_unknown_method() -> None:
    with pytest.raises(ConfigError, match="garcia' or 'politov"):
        make_system("proj-align-train", {"method": "magic"})
    with pytest.raises(ConfigError, match="exact' or 'greedy"):
        make_system("proj-ilp-train", {"solver": "gurobi"})


def test_predict_before_fit_says_what_to_call() -> None:
    with pytest.raises(XnerError, match="call fit"):
        make_system("proj-ilp-test", {}).predict([hausa("Bello")])


@pytest.mark.parametrize("name", ["proj-align-test", "proj-ilp-test", "proj-ilp-greedy-test", "proj-bt-test"])
def test_translate_test_systems_project_labels_back(name: str, tmp_path: Path) -> None:
    translator = LexicalTranslator(dataset="", lexicons=LEXICONS)
    system = make_system(name, {"source_system": NameListTagger(), "translator": translator})
    system.fit(context(tmp_path))
    assert system.tags.languages == frozenset({"hau"})
    [tags] = system.predict([hausa("Bello ya ziyarci Kano .")])
    assert tags == ("B-PER", "O", "O", "B-LOC", "O")
    results = run_checks(system)
    assert all(v is None for v in results.values()), results


def test_translate_test_drops_labels_outside_declared_set(tmp_path: Path) -> None:
    translator = LexicalTranslator(dataset="", lexicons=LEXICONS)
    system = make_system("proj-ilp-test", {"source_system": NameListTagger(), "translator": translator})
    system.fit(context(tmp_path))
    # "English" is MISC for the source tagger; MasakhaNER has no MISC, so it is not projected.
    assert system.predict([hausa("English a Abuja")]) == [("O", "O", "B-LOC")]


def test_translate_test_rejects_language_it_was_not_fitted_for(tmp_path: Path) -> None:
    translator = LexicalTranslator(dataset="", lexicons=LEXICONS)
    system = make_system("proj-align-test", {"source_system": NameListTagger(), "translator": translator})
    system.fit(context(tmp_path))
    with pytest.raises(UnsupportedLanguageError, match="not fitted for 'yor'"):
        system.predict([Sentence("x", "yor", ("Adé",), ("O",))])


def test_translate_test_fit_fails_when_no_language_is_translatable(tmp_path: Path) -> None:
    system = make_system("proj-align-test", {"source_system": NameListTagger(), "translator": LexicalTranslator(dataset="", pairs={})})
    with pytest.raises(UnsupportedLanguageError, match="supports none of the target languages"):
        system.fit(context(tmp_path, languages=("zul",)))


def test_back_translate_project_maps_back_translated_spans_onto_original() -> None:
    translator = LexicalTranslator(dataset="", lexicons=LEXICONS)
    sentences = [hausa("Amina ya ziyarci Lagos da Abuja", 0), hausa("ya ziyarci", 1)]
    results = back_translate_project(
        sentences, translator=translator, source_system=NameListTagger(), aligner=SurfaceAligner(), lang="hau"
    )
    assert results[0].english == ("Amina", "he", "visited", "Lagos", "da", "Abuja")
    assert results[0].spans == (Span(0, 1, "PER"), Span(3, 4, "LOC"), Span(5, 6, "LOC"))
    assert results[1].spans == ()


@pytest.fixture()
def tiny_data_dir(tmp_path: Path) -> Path:
    """A synthetic data root: a few mafand-style pairs and a CoNLL-style English file (written here)."""
    root = tmp_path / "data"
    mafand = root / "mafand_mt" / "hau"
    mafand.mkdir(parents=True)
    names = ["Bello", "Amina", "Kano", "Abuja", "Lagos"]
    en, ha = [], []
    for k in range(48):
        a, b = names[k % 5], names[(k + 2) % 5]
        en.append(f"{a} visited {b} in {k} ." if k % 2 else f"He visited {b} .")
        ha.append(f"{a} ya ziyarci {b} a {k} ." if k % 2 else f"Ya ziyarci {b} .")
    (mafand / "dev.en").write_text("\n".join(en) + "\n", encoding="utf-8")
    (mafand / "dev.hau").write_text("\n".join(ha) + "\n", encoding="utf-8")
    conll = root / "conll2003" / "eng"
    conll.mkdir(parents=True)
    rows = ["Bello B-PER\nvisited O\nKano B-LOC\n. O\n", "Reuters B-ORG\nin O\nLagos B-LOC\n", "He O\nvisited O\nAbuja B-LOC\n"]
    (conll / "train.txt").write_text("\n".join(rows * 4), encoding="utf-8")
    return root


def test_translate_train_fast_on_synthetic_parallel_text(tmp_path: Path, tiny_data_dir: Path) -> None:
    params = {"source_system": NameListTagger(), "epochs": 1, "batch_size": 8, "max_length": 32, "parallel_splits": ("dev",)}
    system = make_system("proj-align-train", params, shared={"backbone": "offline-tiny", "aligner": "eflomal"})
    system.fit(context(tmp_path / "cache", tiny_data_dir, languages=("hau", "zul")))
    report = system.projection_report_
    assert report["zul"] == {"pairs": 0}  # no parallel text: reported, not hidden
    assert report["hau"]["pairs"] == 48 and report["hau"]["source_entities"] == 72
    assert report["hau"]["projected_entities"] > 36  # names align through eflomal even on 48 pairs
    # The English tagger finds no ORG in these pairs: the report says the target model cannot learn it.
    assert report["hau"]["projected_by_label"]["ORG"] == 0 and report["hau"]["scarce_labels"] == {"ORG": 0}
    assert set(report["hau"]["projected_by_label"]) == {"LOC", "ORG", "PER"}
    assert system.tags.languages == frozenset({"hau"})
    assert all(v is None for v in run_checks(system).values())
    with pytest.raises(UnsupportedLanguageError, match="no target model for 'zul'"):
        system.predict([Sentence("z", "zul", ("Sawubona",), ("O",))])


def test_easyproject_train_fast_on_synthetic_data(tmp_path: Path, tiny_data_dir: Path) -> None:
    translator = LexicalTranslator(dataset="", lexicons={("eng", "hau"): LEXICONS[("eng", "hau")]})
    params = {"translator": translator, "epochs": 1, "batch_size": 8, "max_length": 32}
    system = make_system("easyproject-train", params, shared={"backbone": "offline-tiny"})
    system.fit(context(tmp_path / "cache", tiny_data_dir, languages=("hau", "yor")))
    report = dict(system.projection_report_["hau"])
    model = report.pop("model")  # the target model's training report, naming the trained instance
    assert report == {"total": 12, "kept": 12}
    assert model["steps"] > 0 and model["build"] == system._taggers["hau"].info["build_id"]
    assert system.projection_report_["yor"] == {"total": 0, "unsupported": 1}
    assert system.tags.languages == frozenset({"hau"})
    assert len(system.predict([hausa("Bello ya ziyarci Kano .")])[0]) == 5


class CapitalisedTagger(NameListTagger):
    """Fake English tagger for real text: every capitalised word after the first is a LOC."""

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        return [tuple("B-LOC" if i and t[:1].isupper() else "O" for i, t in enumerate(s.tokens)) for s in sentences]


def test_translate_train_skips_language_without_projected_entities(tmp_path: Path, tiny_data_dir: Path) -> None:
    class Nothing(NameListTagger):
        def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
            return [("O",) * len(s) for s in sentences]

    system = make_system("proj-align-train", {"source_system": Nothing(), "parallel_splits": ("dev",)}, shared={"backbone": "offline-tiny"})
    with pytest.raises(UnsupportedLanguageError, match="with projected entities"):
        system.fit(context(tmp_path / "cache", tiny_data_dir))
    assert system.projection_report_["hau"]["no_projected_entities"] == 1


@pytest.mark.slow
def test_translate_train_projects_mafand_and_trains_target_model(tmp_path: Path, data_dir: Path) -> None:
    system = make_system(
        "proj-ilp-train",
        {"source_system": CapitalisedTagger(), "max_pairs": 40, "epochs": 1, "batch_size": 8, "max_length": 64},
        shared={"backbone": "offline-tiny", "aligner": "eflomal"},
    )
    system.fit(context(tmp_path, data_dir, languages=("hau", "zul")))
    report = system.projection_report_
    assert report["zul"] == {"pairs": 0}  # no parallel text: reported, not hidden
    assert report["hau"]["pairs"] == 40 and report["hau"]["projected_entities"] <= report["hau"]["source_entities"]
    assert system.tags.languages == frozenset({"hau"})
    out = system.predict([hausa("Bello ya ziyarci Kano .")])
    assert len(out) == 1 and len(out[0]) == 5
    assert all(v is None for v in run_checks(system).values())
    with pytest.raises(UnsupportedLanguageError, match="no target model for 'zul'"):
        system.predict([Sentence("z", "zul", ("Sawubona",), ("O",))])
    # Refitting reuses the cached projection (eflomal is not seedable) and the cached model.
    again = make_system(
        "proj-ilp-train",
        {"source_system": CapitalisedTagger(), "max_pairs": 40, "epochs": 1, "batch_size": 8, "max_length": 64},
        shared={"backbone": "offline-tiny"},
    )
    again.fit(context(tmp_path, data_dir, languages=("hau",)))
    assert again.projection_report_["hau"] == report["hau"]
    assert again.predict([hausa("Bello ya ziyarci Kano .")]) == out


@pytest.mark.slow
def test_easyproject_train_reports_drops_and_trains(tmp_path: Path, data_dir: Path) -> None:
    translator = LexicalTranslator(dataset="", lexicons={("eng", "hau"): LEXICONS[("eng", "hau")]})
    system = make_system(
        "easyproject-train",
        {"translator": translator, "max_source_sentences": 30, "epochs": 1, "batch_size": 8, "max_length": 64},
        shared={"backbone": "offline-tiny"},
    )
    system.fit(context(tmp_path, data_dir, languages=("hau", "yor")))
    assert system.projection_report_["hau"]["total"] == 30
    assert system.projection_report_["yor"] == {"total": 0, "unsupported": 1}
    assert system.tags.languages == frozenset({"hau"})
    assert len(system.predict([hausa("Bello ya ziyarci Kano .")])[0]) == 5


def test_select_training_data_subsamples_entity_free_sentences() -> None:
    from systems.projection.systems import select_training_data

    full = [Sentence(f"s{k}", "hau", ("Kano",), ("B-LOC",) if k % 10 == 0 else ("O",)) for k in range(100)]
    kept = select_training_data(full, 0.5, seed=1)
    assert sum(bool(s.spans) for s in kept) == 10 and sum(not s.spans for s in kept) == 5
    assert [s.id for s in kept] == [s.id for s in full if s in kept]  # order preserved
    assert select_training_data(full, None) == full
    assert select_training_data(full, 0.5, seed=1) == kept  # seeded
