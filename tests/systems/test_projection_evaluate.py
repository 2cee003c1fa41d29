"""Intrinsic projection evaluation on Europarl-NER and the `xner project-eval` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.data import Sentence
from harness.errors import ConfigError
from systems.projection.evaluate import PROJECTION_METHODS, evaluate_projection, project, proj_ratio, sweep_aligner_layers

from .tiny_models import build_tiny_bert


class GoldDiagonal:
    """A fake aligner for sentence pairs that are identical: word k ↔ word k."""

    name = "diagonal"

    def align(self, sources, targets):  # type: ignore[no-untyped-def]
        return [tuple((i, i) for i in range(min(len(s), len(t)))) for s, t in zip(sources, targets, strict=True)]


def test_project_rejects_unknown_method() -> None:
    src = Sentence("e/0", "eng", ("A",), ("B-PER",))
    with pytest.raises(ConfigError, match="garcia, politov, ilp, ilp-greedy"):
        project("awesome", src, ("A",), ((0, 0),))


def test_proj_ratio_ignores_sentences_without_gold() -> None:
    assert proj_ratio([["O"], ["B-PER"]], [["B-LOC"], ["O"]]) == 0.0


class OracleTargetTagger:
    """A fake target NER model that knows the gold tags of the sentences it is shown."""

    tag_names = ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER")

    def __init__(self, sentences: list[Sentence]) -> None:
        self.gold = {s.tokens: s.tags for s in sentences}

    def predict_proba(self, token_lists):  # type: ignore[no-untyped-def]
        import numpy as np

        out = []
        for tokens in token_lists:
            probs = np.full((len(tokens), len(self.tag_names)), 0.01)
            for k, tag in enumerate(self.gold[tuple(tokens)]):
                probs[k, self.tag_names.index(tag)] = 0.92
            out.append(probs)
        return out


def test_evaluate_projection_english_onto_itself_is_perfect(data_dir: Path) -> None:
    from systems.projection.evaluate import load_parallel_ner

    _, target = load_parallel_ner("europarl_ner", "eng", data_dir=data_dir, limit=60)
    results = evaluate_projection(
        PROJECTION_METHODS, GoldDiagonal(), languages=["eng"], data_dir=data_dir, limit=60, target_ner=OracleTargetTagger(target)
    )
    assert len(results) == len(PROJECTION_METHODS) == 6
    for r in results:
        if r.method != "politov":  # politov may label a gold span twice; the others cannot
            assert r.scores.f1 == 1.0 and r.proj_ratio == 1.0, r.method
        assert r.sentences == 60


def test_evaluate_projection_with_eflomal_scores_all_languages(data_dir: Path) -> None:
    results = evaluate_projection(["ilp", "garcia"], "eflomal", languages=["deu", "spa"], data_dir=data_dir, limit=80)
    assert {(r.lang, r.method) for r in results} == {("deu", "ilp"), ("deu", "garcia"), ("spa", "ilp"), ("spa", "garcia")}
    for r in results:
        # 80 pairs are too few for eflomal to be good, but names align: far above chance.
        assert r.scores.f1 > 0.3 and 0.3 < r.proj_ratio <= 1.5


def test_cli_project_eval_prints_table(data_dir: Path) -> None:
    from harness.cli import app

    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["project-eval", "europarl_ner", "--method", "ilp", "--method", "politov", "--languages", "ita", "--limit", "40", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "ita" in result.output and "politov" in result.output and "proj_ratio" in result.output


def test_cli_project_eval_unknown_method_exits_2(data_dir: Path) -> None:
    from harness.cli import app

    result = CliRunner().invoke(app, ["project-eval", "--method", "magic", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "unknown projection method" in result.output


def test_cli_project_eval_extra_files_must_pair(tmp_path: Path, data_dir: Path) -> None:
    from harness.cli import app

    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["project-eval", "--extra-source", str(tmp_path / "a.en"), "--data-dir", str(data_dir)])
    assert result.exit_code == 2 and "together" in result.output


class CountingOracleTagger(OracleTargetTagger):
    """The oracle, counting how often it is asked to tag."""

    calls = 0

    def predict_proba(self, token_lists):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().predict_proba(token_lists)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_layer_sweep_labels_each_cell_with_its_layer_and_tags_once(data_dir: Path, tiny_bert: Path) -> None:
    from systems.projection.evaluate import load_parallel_ner

    _, target = load_parallel_ner("europarl_ner", "eng", data_dir=data_dir, limit=15)
    tagger = CountingOracleTagger(target)
    results = sweep_aligner_layers(
        ["garcia", "ilp-ner"], "embedding", [0, 2, 0], aligner_params={"model": str(tiny_bert)},
        languages=["eng"], data_dir=data_dir, limit=15, target_ner=tagger,
    )
    assert [(r.layer, r.method) for r in results] == [(0, "garcia"), (0, "ilp-ner"), (2, "garcia"), (2, "ilp-ner")]
    assert tagger.calls == 1  # the target NER model does not change with the aligner's layer
    # Each cell is exactly what a single run at that layer gives.
    [alone] = evaluate_projection(
        ["garcia"], "embedding", aligner_params={"model": str(tiny_bert), "layer": 2}, languages=["eng"], data_dir=data_dir, limit=15
    )
    assert next(r for r in results if r.layer == 2 and r.method == "garcia").scores == alone.scores


def test_layer_sweep_rejects_eflomal_and_no_layers() -> None:
    with pytest.raises(ConfigError, match="no encoder layers"):
        sweep_aligner_layers(["ilp"], "eflomal", [8])
    with pytest.raises(ConfigError, match="at least one layer"):
        sweep_aligner_layers(["ilp"], "simalign", [])


def test_cli_project_eval_layer_sweep_reports_best_layer(data_dir: Path, tiny_bert: Path) -> None:
    from harness.cli import app

    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app,
        ["project-eval", "--method", "garcia", "--aligner", "embedding", "--aligner-model", str(tiny_bert), "--layer", "0",
         "--layer", "1", "--languages", "eng", "--limit", "15", "--data-dir", str(data_dir)],
    )
    assert result.exit_code == 0, result.output
    assert "best aligner layer per method" in result.output and "layer" in result.output


def test_cli_project_eval_rejects_unknown_target_ner_param(data_dir: Path) -> None:
    from harness.cli import app

    result = CliRunner().invoke(
        app, ["project-eval", "--target-ner-backbone", "offline", "--target-ner-param", "epochz=2", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2, result.output
    assert "epochz" in result.output
