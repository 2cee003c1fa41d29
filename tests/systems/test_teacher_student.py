"""ts-single / ts-multi: conformance, per-language students, sources, teacher weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError
from systems import make_system
from systems._toy import write_toy_data_dir
from systems.base import FitContext
from systems.checks import check_system
from systems.teacher_student import (
    MultiSourceTeacherStudent,
    SingleSourceTeacherStudent,
    lid_weights,
    project_probabilities,
    typology_weights,
    unlabelled_target_text,
)

TINY = dict(
    backbone="offline-tiny", epochs=2, lr=3e-3, batch_size=8, max_length=32,
    teacher_epochs=2, teacher_max_minutes=None,
)
# Tiny random teachers may label nothing in 24 sentences; the guard is tested on its own below.
MULTI = dict(TINY, source_teacher_epochs=2, min_teacher_entities=0)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> FitContext:
    data = write_toy_data_dir(tmp_path_factory.mktemp("toy"), n=24)
    return FitContext(
        data_dir=data, target_dataset="masakhaner2", target_languages=("hau", "swa"), seed=0,
        cache_dir=tmp_path_factory.mktemp("cache"), show_progress=False,
    )


@pytest.fixture(scope="module")
def single(context: FitContext) -> SingleSourceTeacherStudent:
    system = SingleSourceTeacherStudent(**TINY)  # type: ignore[arg-type]
    system.fit(context)
    return system


@pytest.fixture(scope="module")
def multi(context: FitContext) -> MultiSourceTeacherStudent:
    system = MultiSourceTeacherStudent(**MULTI, lid_sentences=12)  # type: ignore[arg-type]
    system.fit(context)
    return system


CHECK_NAMES = [name for name, _ in check_system(SingleSourceTeacherStudent())]


@pytest.mark.parametrize("check_name", CHECK_NAMES)
def test_ts_single_passes_conformance_check(single: SingleSourceTeacherStudent, check_name: str) -> None:
    dict(check_system(single))[check_name](single)


@pytest.mark.parametrize("check_name", CHECK_NAMES)
def test_ts_multi_passes_conformance_check(multi: MultiSourceTeacherStudent, check_name: str) -> None:
    dict(check_system(multi))[check_name](multi)


def test_ts_single_trains_one_student_per_target_language(single: SingleSourceTeacherStudent, context: FitContext) -> None:
    assert set(single.fit_report) == {"teacher", "hau", "swa"}
    hau, swa = single.student("hau"), single.student("swa")
    assert hau is not swa and hau.info["key"] != swa.info["key"]
    sentences = context.load("masakhaner2", "hau", "test")[:5] + context.load("masakhaner2", "swa", "test")[:5]
    expected = hau.predict(sentences[:5]) + swa.predict(sentences[5:])
    assert single.predict(sentences) == expected


def test_ts_single_language_without_student_uses_teacher(single: SingleSourceTeacherStudent) -> None:
    assert single.student("yor") is single._fallback


def test_unlabelled_target_text_uses_train_and_dev_never_test(context: FitContext) -> None:
    texts = unlabelled_target_text(context, "hau", "ner")
    train_dev = [s.tokens for split in ("train", "dev") for s in context.load("masakhaner2", "hau", split)]
    assert texts == train_dev
    assert len(unlabelled_target_text(context, "swa", "ner")) == len(context.load("masakhaner2", "swa", "dev"))
    assert len(unlabelled_target_text(context, "hau", "ner", limit=3)) == 3


def test_unlabelled_target_text_from_mafand_target_side(context: FitContext) -> None:
    texts = unlabelled_target_text(context, "yor", "mafand")
    pairs = context.load_parallel("mafand", "yor", "dev")
    assert texts == [tuple(target.split(" ")) for _, target in pairs]
    assert unlabelled_target_text(context, "swa", "mafand") == []  # no mafand swa in the toy dir
    with pytest.raises(ConfigError, match="unlabelled"):
        unlabelled_target_text(context, "hau", "web")


@given(st.lists(st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5), min_size=1, max_size=6))
def test_project_probabilities_preserves_mass(rows: list[list[float]]) -> None:
    probs = np.array(rows, dtype=np.float32)
    out = project_probabilities(probs, ["O", "B-MISC", "I-MISC", "B-PER", "I-PER"], ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"])
    np.testing.assert_allclose(out.sum(axis=1), probs.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(out[:, 3:], probs[:, 3:])
    assert np.all(out[:, 1:3] == 0)


def test_ts_multi_leaves_target_out_and_discovers_sources(context: FitContext) -> None:
    system = MultiSourceTeacherStudent()
    assert system.source_list(context) == ["conll2003/eng", "masakhaner2/hau", "masakhaner2/yor"]
    assert system.sources_for(context, "hau") == ["conll2003/eng", "masakhaner2/yor"]
    assert MultiSourceTeacherStudent(max_sources=1).sources_for(context, "swa") == ["conll2003/eng"]
    explicit = MultiSourceTeacherStudent(sources="masakhaner2/yor,masakhaner2/hau")
    assert explicit.sources_for(context, "yor") == ["masakhaner2/hau"]


def test_ts_multi_weights_are_a_distribution_over_sources(multi: MultiSourceTeacherStudent) -> None:
    assert set(multi.weights) == {"hau", "swa"}
    assert set(multi.weights["hau"]) == {"conll2003/eng", "masakhaner2/yor"}
    for weights in multi.weights.values():
        assert sum(weights.values()) == pytest.approx(1.0)
        assert all(w > 0 for w in weights.values())
    assert multi.tags.labels == frozenset({"PER", "ORG", "LOC"})


def test_ts_multi_uniform_weighting(context: FitContext) -> None:
    system = MultiSourceTeacherStudent(**MULTI, weighting="uniform", max_sources=2)  # type: ignore[arg-type]
    system.fit(context)
    assert system.weights["swa"] == {"conll2003/eng": 0.5, "masakhaner2/hau": 0.5}


def test_ts_multi_rejects_bad_parameters(context: FitContext) -> None:
    with pytest.raises(ConfigError, match="weighting"):
        MultiSourceTeacherStudent(weighting="random").fit(context)
    with pytest.raises(ConfigError, match="max_sources"):
        MultiSourceTeacherStudent(max_sources=0).fit(context)
    with pytest.raises(ConfigError, match="loss"):
        SingleSourceTeacherStudent(loss="ce").fit(context)


def test_typology_weights_without_lang2vec_raise_instead_of_inventing_uriel(monkeypatch: pytest.MonkeyPatch) -> None:
    from systems import teacher_student

    def missing() -> None:
        raise ImportError("No module named 'lang2vec'")

    monkeypatch.setattr(teacher_student, "_import_lang2vec", missing)
    with pytest.raises(ConfigError, match="lang2vec"):
        typology_weights(["hau", "eng"], "yor")


def test_typology_weights_from_uriel_when_lang2vec_is_installed() -> None:
    from systems.teacher_student import _import_lang2vec

    try:
        _import_lang2vec()
    except ImportError:
        pytest.skip("lang2vec is not installed (pip install lang2vec==1.1.2)")
    weights = typology_weights(["eng", "ibo", "swa"], "yor")
    assert weights.sum() == pytest.approx(1.0)
    assert int(np.argmax(weights)) == 1  # Igbo is typologically closest to Yorùbá among these
    with pytest.raises(ConfigError, match="URIEL"):
        typology_weights(["eng"], "xx-not-a-language")


class _FakeEncoder:
    """Sentence features = one-hot of a language marker word plus noise: an easy language-ID task."""

    MARKERS = ("aaa", "bbb", "ccc")

    def sentence_embeddings(self, texts: Sequence[Sequence[str]]) -> np.ndarray:
        rng = np.random.default_rng(len(texts))
        out = rng.normal(0, 0.1, size=(len(texts), 8)).astype(np.float32)
        for i, tokens in enumerate(texts):
            for k, marker in enumerate(self.MARKERS):
                out[i, k] += 3.0 * tokens.count(marker)
        return out


def test_lid_weights_favour_the_source_the_target_resembles() -> None:
    sources = [[("aaa", "x")] * 30, [("bbb", "x")] * 30, [("ccc", "x")] * 30]
    target = [("bbb", "y")] * 20 + [("ccc", "y")] * 3
    alpha = lid_weights(_FakeEncoder(), sources, target, seed=0, epochs=30)
    assert alpha.sum() == pytest.approx(1.0)
    assert int(np.argmax(alpha)) == 1 and alpha[1] > alpha[0]


def test_ts_systems_registered_with_shared_backbone() -> None:
    for name, cls in (("ts-single", SingleSourceTeacherStudent), ("ts-multi", MultiSourceTeacherStudent)):
        system = make_system(name, {}, shared={"backbone": "offline-tiny"})
        assert isinstance(system, cls) and system.backbone == "offline-tiny"


def test_a_teacher_that_labels_nothing_fails_the_fit() -> None:
    from harness.errors import UntrainedModelError
    from systems.teacher_student import require_teacher_entities

    tags = ["O", "B-PER", "I-PER"]
    silent = [np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]], dtype=np.float32)]
    with pytest.raises(UntrainedModelError, match="labelled 0 entities .* 1 unlabelled hau sentences"):
        require_teacher_entities("ts-single teacher", "hau", tags, silent)
    talking = [np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)]
    assert require_teacher_entities("ts-single teacher", "hau", tags, talking) == 1


def test_ts_single_fit_report_shows_teacher_and_student(single: SingleSourceTeacherStudent) -> None:
    report = single.fit_report
    assert report["teacher"]["steps"] > 0 and "dev_f1" in report["teacher"]
    for lang in ("hau", "swa"):
        assert report[lang]["teacher_entities"] >= 1
        assert report[lang]["student"]["steps"] > 0


def test_ts_single_teacher_is_the_direct_transfer_model(context: FitContext, single: SingleSourceTeacherStudent) -> None:
    from systems.transfer import DirectTransfer

    same = DirectTransfer(backbone="offline-tiny", epochs=2, batch_size=8, max_length=32)
    same.fit(context)
    assert same.tagger.info["key"] == single._fallback.info["key"]
