"""The offline backbone: an XLM-R-shaped encoder built here, for machines without model downloads.

What is built, once per (preset, corpus) and cached by content hash under
``<cache>/backbones/<preset>-<hash>/``:

* a Unigram tokenizer (``tokenizers`` library) trained on the unlabelled text of the data
  directory, all languages: tokens of every NER ``train``/``dev`` file and both sides of the
  parallel files. ``test`` NER files are left out so that no evaluation text shapes the
  vocabulary. Pipeline as in XLM-R: NFC normaliser, ``Metaspace`` pre-tokeniser and decoder,
  ``<s> $A </s>`` template; NFC (not NFKC) keeps Yoruba tone marks intact.
* ``XLMRobertaConfig`` + weights (random, seeded; or MLM-pretrained locally on the same corpus
  for ``mlm_steps`` steps), saved with ``save_pretrained``.

The directory then loads through ``AutoModelForTokenClassification.from_pretrained`` like any hub
model, so offline and real backbones share all training and inference code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from harness.errors import ConfigError

BUILD_VERSION = "1"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # XLM-R's ids 0..3, mask appended


@dataclass(frozen=True)
class OfflinePreset:
    """Size of an offline backbone."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 514
    mlm_steps: int = 0
    mlm_minutes: float | None = None
    mlm_batch_size: int = 32
    mlm_lr: float = 5e-4


PRESETS: dict[str, OfflinePreset] = {
    # What `--backbone offline` means: small enough to fine-tune on CoNLL-2003 on 2 CPU cores.
    # (A 256-wide 4-layer encoder managed less than one CoNLL epoch in 15 min on the shared CPU.)
    "offline": OfflinePreset(16000, 192, 3, 3, 768),
    # The same encoder, MLM-pretrained locally for a bounded time on the unlabelled corpus first.
    "offline-mlm": OfflinePreset(16000, 192, 3, 3, 768, mlm_steps=4000, mlm_minutes=20.0),
    # For tests: trains in seconds.
    "offline-tiny": OfflinePreset(1000, 32, 2, 2, 64, max_position_embeddings=130),
    "offline-tiny-mlm": OfflinePreset(1000, 32, 2, 2, 64, max_position_embeddings=130, mlm_steps=5),
}


def preset(name: str) -> OfflinePreset:
    if name not in PRESETS:
        raise ConfigError(f"unknown offline backbone {name!r}; available: {', '.join(PRESETS)}")
    return PRESETS[name]


def corpus_files(data_dir: Path) -> list[Path]:
    """Unlabelled-text sources in a data directory (NER train/dev files and parallel text)."""
    files: list[Path] = []
    for path in sorted(Path(data_dir).rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.name in ("README.md", "LICENSE.md", "manifest.json"):
            continue
        if path.suffix == ".txt":
            if path.stem in ("train", "dev"):
                files.append(path)
        elif path.stem in ("train", "dev", "test") and path.parent.parent.name == "mafand_mt":
            files.append(path)
    return files


def iter_corpus(data_dir: Path | None, extra_text: Sequence[Sequence[str]] = ()) -> Iterator[str]:
    """Whitespace-joined sentences of the corpus."""
    if data_dir is not None:
        from harness.conll import iter_conll_records

        for path in corpus_files(data_dir):
            if path.suffix == ".txt":
                for record in iter_conll_records(path):
                    if record.tokens:
                        yield " ".join(record.tokens)
            else:
                for line in path.read_text(encoding="utf-8").split("\n"):
                    if line.strip():
                        yield line
    for tokens in extra_text:
        if tokens:
            yield " ".join(tokens)


def corpus_digest(data_dir: Path | None, extra_text: Sequence[Sequence[str]]) -> str:
    h = hashlib.sha256()
    if data_dir is not None:
        for path in corpus_files(data_dir):
            h.update(str(path.relative_to(data_dir)).encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    else:
        for tokens in extra_text:
            h.update(json.dumps(list(tokens), ensure_ascii=False).encode())
    return h.hexdigest()


def train_tokenizer(sentences: Iterator[str], vocab_size: int, directory: Path) -> object:
    """Train and save an XLM-R-like Unigram tokenizer; returns the transformers wrapper."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.NFC()
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tk.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), unk_token="<unk>", show_progress=False
    )
    tk.train_from_iterator(sentences, trainer=trainer)
    # The trainer's EM sums in hash-map order, so scores differ in the last bits from run to run.
    # Rounding them and ordering pieces by (score, piece) makes the tokenizer a function of the
    # corpus, which the content-hash cache and seed-determinism rely on.
    trained = json.loads(tk.to_str())["model"]
    vocab = trained["vocab"]
    specials = [(p, 0.0) for p, _ in vocab if p in SPECIAL_TOKENS]
    pieces = sorted(((p, round(float(s), 6)) for p, s in vocab if p not in SPECIAL_TOKENS), key=lambda ps: (-ps[1], ps[0]))
    ordered = [(p, 0.0) for p in SPECIAL_TOKENS if (p, 0.0) in specials] + pieces
    tk.model = models.Unigram(ordered, unk_id=[p for p, _ in ordered].index("<unk>"), byte_fallback=False)
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tk.token_to_id("<s>")), ("</s>", tk.token_to_id("</s>"))],
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_input_names=["input_ids", "attention_mask"],
    )
    wrapped.save_pretrained(directory)
    return wrapped


def build_offline_backbone(
    name: str,
    *,
    cache_dir: Path,
    data_dir: Path | None,
    extra_text: Sequence[Sequence[str]] = (),
    seed: int = 0,
    show_progress: bool = False,
    overrides: dict[str, object] | None = None,
) -> Path:
    """Build (or reuse) the offline backbone ``name`` and return its directory.

    >>> # build_offline_backbone("offline-tiny", cache_dir=Path("/tmp/c"), data_dir=None, extra_text=[["a"]])
    """
    spec = preset(name)
    if overrides:
        spec = replace(spec, **overrides)
    if data_dir is None and not extra_text:
        raise ConfigError("the offline backbone needs text: pass a data directory (--data-dir) or training text")
    key = hashlib.sha256(
        json.dumps(
            {"v": BUILD_VERSION, "spec": asdict(spec), "seed": seed, "corpus": corpus_digest(data_dir, extra_text)},
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    target = Path(cache_dir) / "backbones" / f"{name}-{key}"
    if (target / "config.json").is_file() and (target / "tokenizer.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    started = time.monotonic()
    tokenizer = train_tokenizer(iter_corpus(data_dir, extra_text), spec.vocab_size, tmp)
    model = _init_model(spec, tokenizer, seed)
    if spec.mlm_steps > 0:
        _pretrain_mlm(model, tokenizer, list(iter_corpus(data_dir, extra_text)), spec, seed, show_progress)
    from systems.backbones.sources import quiet_hub

    with quiet_hub():
        model.save_pretrained(tmp)
    (tmp / "xner_backbone.json").write_text(
        json.dumps(
            {"preset": name, "spec": asdict(spec), "seed": seed, "build_seconds": round(time.monotonic() - started, 2)},
            indent=2,
        )
    )
    if not (target / "config.json").is_file():
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _init_model(spec: OfflinePreset, tokenizer: object, seed: int) -> object:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
        bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
    )
    torch.manual_seed(seed)
    return XLMRobertaForMaskedLM(config)


def _pretrain_mlm(
    model: object, tokenizer: object, corpus: list[str], spec: OfflinePreset, seed: int, show_progress: bool
) -> None:
    """Masked-LM pretraining (15% masking, 80/10/10) for ``mlm_steps`` steps or ``mlm_minutes``."""
    import random

    import torch
    from transformers import DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    rng = random.Random(seed)
    torch.manual_seed(seed)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.mlm_lr, weight_decay=0.01)  # type: ignore[attr-defined]
    scheduler = get_linear_schedule_with_warmup(optimizer, max(1, spec.mlm_steps // 20), spec.mlm_steps)
    deadline = time.monotonic() + 60 * spec.mlm_minutes if spec.mlm_minutes else None
    model.train()  # type: ignore[attr-defined]
    steps = range(spec.mlm_steps)
    if show_progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="MLM pretraining (offline backbone)", leave=False)
    # Truncation is fine here: MLM on unlabelled text needs no word alignment.
    max_len = min(128, spec.max_position_embeddings - 2)
    for _ in steps:
        batch_text = [corpus[rng.randrange(len(corpus))] for _ in range(spec.mlm_batch_size)]
        enc = tokenizer(batch_text, truncation=True, max_length=max_len)  # type: ignore[operator]
        features = [{"input_ids": ids} for ids in enc["input_ids"]]
        batch = collator(features)
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss  # type: ignore[operator]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # type: ignore[attr-defined]
        optimizer.step()
        scheduler.step()
        if deadline is not None and time.monotonic() > deadline:
            break
    model.eval()  # type: ignore[attr-defined]
