"""Aligners: Pharaoh I/O, symmetrisation, eflomal, SimAlign and the embedding aligner on tiny local models."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError, DataFormatError, ModelUnavailableError, UnknownComponentError
from systems.aligners import (
    ALIGNERS,
    EflomalAligner,
    EmbeddingAligner,
    SimAlignAligner,
    SurfaceAligner,
    format_pharaoh,
    make_aligner,
    parse_pharaoh,
    symmetrize,
)

from .tiny_models import build_tiny_bert

links = st.sets(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=20)


def test_parse_pharaoh_rejects_out_of_range_link() -> None:
    with pytest.raises(DataFormatError, match="outside a 2x2"):
        parse_pharaoh("0-0 2-1", source_length=2, target_length=2)


def test_parse_pharaoh_rejects_malformed_item() -> None:
    with pytest.raises(DataFormatError, match="not 'i-j'"):
        parse_pharaoh("0-0 1:1")


@given(links)
def test_format_pharaoh_round_trips(alignment: set[tuple[int, int]]) -> None:
    assert parse_pharaoh(format_pharaoh(alignment)) == tuple(sorted(alignment))


@given(links, links)
def test_symmetrize_lies_between_intersection_and_union(fwd: set[tuple[int, int]], rev: set[tuple[int, int]]) -> None:
    for method in ("grow-diag-final-and", "grow-diag-final"):
        out = set(symmetrize(fwd, rev, method))
        assert fwd & rev <= out <= fwd | rev
    # grow-diag-final leaves no word unaligned that the union aligns.
    gdf = symmetrize(fwd, rev, "grow-diag-final")
    assert {i for i, _ in fwd | rev} == {i for i, _ in gdf} and {j for _, j in fwd | rev} == {j for _, j in gdf}


def test_symmetrize_rejects_unknown_method() -> None:
    with pytest.raises(ConfigError, match="symmetrization must be one of"):
        symmetrize([], [], "diag")


def test_make_aligner_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownComponentError, match="Did you mean 'eflomal'"):
        make_aligner("eflomall")


def test_registry_lists_all_aligner_families() -> None:
    assert {"eflomal", "simalign", "embedding", "surface"} <= set(ALIGNERS.names())


def _synthetic_corpus(n: int, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """A word-for-word 'language' with local swaps: the gold alignment is known."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)]
    src, tgt = [], []
    for _ in range(n):
        words = rng.sample(vocab, rng.randint(4, 8))
        order = list(range(len(words)))
        if rng.random() < 0.5:
            k = rng.randrange(len(words) - 1)
            order[k], order[k + 1] = order[k + 1], order[k]
        src.append(words)
        tgt.append(["t" + words[i][1:] for i in order])
    return src, tgt


def test_eflomal_aligner_recovers_synthetic_alignment() -> None:
    src, tgt = _synthetic_corpus(150)
    out = EflomalAligner().align(src, tgt)
    correct = total = 0
    for s, t, alignment in zip(src, tgt, out, strict=True):
        gold = {(i, t.index("t" + w[1:])) for i, w in enumerate(s)}
        correct += len(gold & set(alignment))
        total += len(gold)
    assert correct / total > 0.9


def test_eflomal_aligner_uses_extra_text_and_keeps_batch_size() -> None:
    src, tgt = _synthetic_corpus(120, seed=1)
    out = EflomalAligner(extra=list(zip(src[2:], tgt[2:], strict=True))).align(src[:2] + [[]], tgt[:2] + [["x"]])
    assert len(out) == 3 and out[2] == ()
    assert all(i < len(src[k]) and j < len(tgt[k]) for k in range(2) for i, j in out[k])


def test_aligners_reject_unequal_batches() -> None:
    with pytest.raises(DataFormatError, match="2 source sentences but 1 target"):
        SurfaceAligner().align([["a"], ["b"]], [["a"]])


def test_surface_aligner_links_identical_and_similar_tokens() -> None:
    [out] = SurfaceAligner().align([["Bello", "ya", "tafi", "Kanu"]], [["bello", "ya", "je", "Kano"]])
    assert out == ((0, 0), (1, 1), (3, 3))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.mark.parametrize("method", ["itermax", "argmax", "match"])
def test_simalign_aligner_runs_on_local_model(tiny_bert: Path, method: str) -> None:
    src = "Bello visited Kano on Monday .".split()
    tgt = "Bello ya ziyarci Kano ranar Litinin .".split()
    [out] = SimAlignAligner(model=str(tiny_bert), method=method, layer=2).align([src], [tgt])
    assert out and all(0 <= i < len(src) and 0 <= j < len(tgt) for i, j in out)
    # Identical words have identical input embeddings: a tiny random encoder still links them.
    assert (0, 0) in out


def test_simalign_aligner_rejects_unknown_method() -> None:
    with pytest.raises(ConfigError, match="itermax, argmax, match"):
        SimAlignAligner(method="best")


def test_embedding_aligner_links_identical_words_at_embedding_layer(tiny_bert: Path) -> None:
    src = "Amina works in Lagos .".split()
    tgt = "Amina tana aiki a Lagos .".split()
    [out] = EmbeddingAligner(model=str(tiny_bert), layer=0, threshold=0.001).align([src], [tgt])
    assert {(0, 0), (3, 4)} <= set(out)


def test_embedding_aligner_rejects_layer_beyond_model(tiny_bert: Path) -> None:
    with pytest.raises(ConfigError, match="has 2 layers"):
        EmbeddingAligner(model=str(tiny_bert), layer=5).align([["a"]], [["a"]])


def _checkpoint_without(tiny_bert: Path, target: Path, drop: str) -> Path:
    """A copy of the tiny BERT whose weights lack every tensor whose name contains ``drop``."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_bert, target)
    weights = load_file(str(tiny_bert / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if drop not in k}, str(target / "model.safetensors"), metadata={"format": "pt"})
    return target


@pytest.mark.parametrize("aligner", [SimAlignAligner, EmbeddingAligner])
def test_aligners_reject_checkpoint_missing_encoder_weights(tiny_bert: Path, tmp_path: Path, aligner: type) -> None:
    broken = _checkpoint_without(tiny_bert, tmp_path / "broken", "layer.1.")
    with pytest.raises(ModelUnavailableError, match=r"^(simalign|embedding) aligner: encoder .* lacks weights .*encoder\.layer\.1\..*--aligner-model"):
        aligner(model=str(broken), layer=1).align([["Bello"]], [["Bello"]])


@pytest.mark.parametrize("aligner", [SimAlignAligner, EmbeddingAligner])
def test_aligners_accept_checkpoint_without_pooler(tiny_bert: Path, tmp_path: Path, aligner: type) -> None:
    # e5-small ships no pooler; no aligner uses one, so its absence is not an error.
    pooler_less = _checkpoint_without(tiny_bert, tmp_path / "no-pooler", "pooler.")
    [out] = aligner(model=str(pooler_less), layer=1).align([["Bello", "."]], [["Bello", "."]])
    assert (0, 0) in out
