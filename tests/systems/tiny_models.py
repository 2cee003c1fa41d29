"""Tiny locally built models for the translator/aligner tests (never downloaded; seconds to build).

Follows ../shared/research/dependencies.md §2d/§2f: a BERT word-piece tokenizer from an explicit
vocab dict (transformers 5 ignores ``vocab_file=``), and a Unigram tokenizer trained with the
``tokenizers`` library wrapped in a fast tokenizer with NLLB language codes for an M2M100 model.
"""

from __future__ import annotations

from pathlib import Path

SENTENCES = [
    "Bello visited Kano on Monday .",
    "Bello ya ziyarci Kano ranar Litinin .",
    "Amina works in Lagos .",
    "Amina tana aiki a Lagos .",
    "The president met Amina in Abuja .",
    "Shugaban kasa ya gana da Amina a Abuja .",
]


def build_tiny_bert(directory: Path) -> Path:
    """A 2-layer BERT (hidden 32) with a lower-casing word-piece tokenizer."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w.lower() for s in SENTENCES for w in s.split()})
    chars = sorted({c for s in SENTENCES for c in s.lower() if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *[c for c in chars if c not in words], *["##" + c for c in chars]]
    vocab = list(dict.fromkeys(vocab))
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True, strip_accents=False)
    tokenizer.save_pretrained(directory)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    return directory


LANG_CODES = ["eng_Latn", "hau_Latn", "swh_Latn"]


def build_tiny_m2m100(directory: Path) -> Path:
    """A 2+2-layer M2M100 (the NLLB architecture, d_model 32) with a local Unigram tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast

    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *LANG_CODES]
    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.NFC()
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=special, unk_token="<unk>")
    tk.train_from_iterator(SENTENCES * 3, trainer)
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tk.token_to_id("<s>")), ("</s>", tk.token_to_id("</s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        additional_special_tokens=LANG_CODES, model_input_names=["input_ids", "attention_mask"],
    )
    tokenizer.save_pretrained(directory)
    config = M2M100Config(
        vocab_size=tk.get_vocab_size(), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    return directory
