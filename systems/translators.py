"""Translators: token sequences in one language in, token sequences in another out.

Three registered families (:data:`TRANSLATORS`):

- ``nllb``: any Hugging Face seq2seq model that uses NLLB language codes
  (``facebook/nllb-200-3.3B``, ``ychenNLP/nllb-200-3.3b-easyproject``, or a local directory), batched,
  with an ISO 639-3 → NLLB code map (:data:`NLLB_CODES`).
- ``parallel-corpus``: returns the human translation of sentences it knows (mafand); unknown
  sentences go to a fallback translator or raise.
- ``lexical``: word-by-word translation with a :class:`BilingualLexicon` learned from parallel text
  through word alignments. It is the honest offline stand-in when no MT model can be loaded, and
  its output carries its own alignment (word k of the output translates word k of the input).

A :class:`Translation` holds the output tokens and, when the translator knows it, the alignment
from input to output tokens (Pharaoh-style ``(input_index, output_index)``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.errors import ConfigError, DataFormatError, ModelUnavailableError, UnsupportedLanguageError, XnerError
from harness.registry import Registry
from systems.aligners import Aligner, Alignment, make_aligner

Tokens = Sequence[str]

# Word characters plus combining marks (tone marks, dots below after NFD input); apostrophes and
# hyphens inside words are kept (Hausa "kuri'a", "Abdul-Aziz"), every other symbol is a token.
_WORD = r"[\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff]"
_TOKEN_RE = re.compile(rf"{_WORD}+(?:['’\-]{_WORD}+)*|\S")


def simple_tokenize(text: str) -> list[str]:
    """Split text into words and single punctuation symbols (a language-agnostic Moses stand-in).

    sacremoses is not a dependency; this splits every non-word symbol off, which is what Moses does
    for the punctuation that matters here (brackets, commas, full stops, quotes).

    >>> simple_tokenize("Ọ̀gbẹ́ni Adéwálé lọ sí [Èkó], kuri'a 2,5.")
    ['Ọ̀gbẹ́ni', 'Adéwálé', 'lọ', 'sí', '[', 'Èkó', ']', ',', "kuri'a", '2', ',', '5', '.']
    """
    return _TOKEN_RE.findall(unicodedata.normalize("NFC", text))


def is_punctuation(token: str) -> bool:
    """True when every character is punctuation or a symbol.

    >>> is_punctuation(","), is_punctuation("a."), is_punctuation("«")
    (True, False, True)
    """
    return bool(token) and all(unicodedata.category(c)[0] in "PS" for c in token)


# ISO 639-3 → NLLB-200 (FLORES-200) codes. NLLB has no bbj or pcm (systems.md §0); Swahili is
# "swh_Latn" in NLLB, Arabic the standard "arb_Arab", Chinese the simplified script.
NLLB_CODES: dict[str, str] = {
    "eng": "eng_Latn", "deu": "deu_Latn", "spa": "spa_Latn", "ita": "ita_Latn", "fra": "fra_Latn",
    "nld": "nld_Latn", "por": "por_Latn", "rus": "rus_Cyrl", "ara": "arb_Arab", "zho": "zho_Hans",
    "jpn": "jpn_Jpan", "tha": "tha_Thai", "hin": "hin_Deva", "urd": "urd_Arab", "kaz": "kaz_Cyrl",
    "mya": "mya_Mymr", "tgl": "tgl_Latn", "jav": "jav_Latn", "amh": "amh_Ethi",
    "bam": "bam_Latn", "ewe": "ewe_Latn", "fon": "fon_Latn", "hau": "hau_Latn", "ibo": "ibo_Latn",
    "kin": "kin_Latn", "lug": "lug_Latn", "luo": "luo_Latn", "mos": "mos_Latn", "nya": "nya_Latn",
    "sna": "sna_Latn", "swa": "swh_Latn", "tsn": "tsn_Latn", "twi": "twi_Latn", "wol": "wol_Latn",
    "xho": "xho_Latn", "yor": "yor_Latn", "zul": "zul_Latn",
}


@dataclass(frozen=True, slots=True)
class Translation:
    """One translated sentence.

    Attributes:
        tokens: the output words.
        alignment: ``(input_index, output_index)`` links when the translator knows them, else ``None``.
        text: the raw output string (before tokenisation) when there was one.
    """

    tokens: tuple[str, ...]
    alignment: Alignment | None = None
    text: str | None = None


@runtime_checkable
class Translator(Protocol):
    """Translates a batch of token sequences from ``src_lang`` to ``tgt_lang`` (ISO 639-3)."""

    name: str

    def translate(self, sentences: Sequence[Tokens], *, src_lang: str, tgt_lang: str) -> list[Translation]:
        """One :class:`Translation` per input sentence, same order."""
        ...


# --- NLLB-style seq2seq --------------------------------------------------------------------------


class HFSeq2SeqTranslator:
    """A Hugging Face seq2seq model with NLLB language codes, batched.

    The input is built as NLLB's (non-legacy) tokenizer does: ``[src_code] subwords </s>``, and the
    target language code is forced as the first generated token. Building it by hand keeps any
    tokenizer (including tiny locally trained ones) working, not only ``NllbTokenizer``.

    Args:
        model: hub id or local directory.
        batch_size: sentences per ``generate`` call.
        num_beams: beam size.
        max_new_tokens: generation limit.
        lang_codes: overrides/extensions of :data:`NLLB_CODES`.
    """

    name = "nllb"

    def __init__(
        self,
        model: str = "facebook/nllb-200-3.3B",
        batch_size: int = 8,
        num_beams: int = 4,
        max_new_tokens: int = 256,
        lang_codes: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.lang_codes = dict(lang_codes or {})
        self._loaded: Any = None

    def code(self, lang: str) -> str:
        """The NLLB code of an ISO 639-3 language.

        >>> HFSeq2SeqTranslator().code("swa")
        'swh_Latn'
        """
        codes = {**NLLB_CODES, **self.lang_codes}
        if lang not in codes:
            raise UnsupportedLanguageError(
                f"translator {self.model!r} has no NLLB code for {lang!r}; known: {', '.join(sorted(codes))}. "
                "Pass lang_codes={...} to add one"
            )
        return codes[lang]

    def _load(self) -> Any:
        if self._loaded is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.model)
                model = AutoModelForSeq2SeqLM.from_pretrained(self.model)
            except OSError as exc:
                raise ModelUnavailableError(
                    f"cannot load translation model {self.model!r} ({exc}); pass a local directory "
                    "or use the offline 'lexical' translator"
                ) from exc
            model.eval()
            self._loaded = (tokenizer, model)
        return self._loaded

    def _lang_id(self, tokenizer: Any, lang: str) -> int:
        code = self.code(lang)
        token_id = tokenizer.convert_tokens_to_ids(code)
        if token_id is None or token_id == tokenizer.unk_token_id:
            raise UnsupportedLanguageError(f"tokenizer of {self.model!r} has no language token {code!r} (for {lang!r})")
        return int(token_id)

    def _encode(self, tokenizer: Any, texts: Sequence[str], lang: str) -> list[list[int]]:
        code_id = self._lang_id(tokenizer, lang)
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [[code_id, *row, tokenizer.eos_token_id] for row in ids]

    @staticmethod
    def _pad(rows: list[list[int]], pad_id: int) -> tuple[Any, Any]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, row in enumerate(rows):
            ids[k, : len(row)] = torch.tensor(row)
            mask[k, : len(row)] = 1
        return ids, mask

    def translate(self, sentences: Sequence[Tokens], *, src_lang: str, tgt_lang: str) -> list[Translation]:
        import torch

        if not sentences:
            return []
        tokenizer, model = self._load()
        forced = self._lang_id(tokenizer, tgt_lang)
        out: list[Translation] = []
        for start in range(0, len(sentences), self.batch_size):
            batch = [" ".join(s) for s in sentences[start : start + self.batch_size]]
            ids, mask = self._pad(self._encode(tokenizer, batch, src_lang), tokenizer.pad_token_id)
            with torch.no_grad():
                generated = model.generate(
                    input_ids=ids, attention_mask=mask, forced_bos_token_id=forced,
                    num_beams=self.num_beams, max_new_tokens=self.max_new_tokens, do_sample=False,
                )
            for text in tokenizer.batch_decode(generated, skip_special_tokens=True):
                text = text.strip()
                out.append(Translation(tuple(simple_tokenize(text)), None, text))
        return out

    def log_probability(self, sources: Sequence[str], targets: Sequence[str], *, src_lang: str, tgt_lang: str) -> list[float]:
        """Mean token log-probability of each target given its source (teacher forcing).

        This is ``log P(A|B)`` of NMTScore-direct (Vamvas & Sennrich 2022) used by the thesis'
        translation score (systems.md §3): ``P(A|B) = exp(mean_i log p(A_i | B, A_<i))``.
        """
        import torch

        if len(sources) != len(targets):
            raise DataFormatError(f"{len(sources)} sources but {len(targets)} targets to score")
        tokenizer, model = self._load()
        out: list[float] = []
        for start in range(0, len(sources), self.batch_size):
            src_rows = self._encode(tokenizer, sources[start : start + self.batch_size], src_lang)
            tgt_rows = self._encode(tokenizer, targets[start : start + self.batch_size], tgt_lang)
            ids, mask = self._pad(src_rows, tokenizer.pad_token_id)
            labels, label_mask = self._pad(tgt_rows, tokenizer.pad_token_id)
            start_id = model.config.decoder_start_token_id
            decoder_input = torch.cat([torch.full((len(tgt_rows), 1), start_id), labels[:, :-1]], dim=1)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_input).logits
            logp = torch.log_softmax(logits, dim=-1).gather(2, labels.unsqueeze(-1)).squeeze(-1)
            # The forced language code (position 0) is not part of the sentence: leave it out.
            label_mask[:, 0] = 0
            means = (logp * label_mask).sum(1) / label_mask.sum(1).clamp(min=1)
            out.extend(float(v) for v in means)
        return out

    def similarity(self, a: Sequence[str], b: Sequence[str], *, lang_a: str, lang_b: str) -> list[float]:
        """Symmetric NMTScore-direct similarity ``½(ŝ(a,b) + ŝ(b,a))``, ``ŝ(A,B) = P(A|B)/P(A|A)``."""
        p_ab = self.log_probability(b, a, src_lang=lang_b, tgt_lang=lang_a)
        p_aa = self.log_probability(a, a, src_lang=lang_a, tgt_lang=lang_a)
        p_ba = self.log_probability(a, b, src_lang=lang_a, tgt_lang=lang_b)
        p_bb = self.log_probability(b, b, src_lang=lang_b, tgt_lang=lang_b)
        return [
            0.5 * (math.exp(x - y) + math.exp(z - w)) for x, y, z, w in zip(p_ab, p_aa, p_ba, p_bb, strict=True)
        ]


# --- Parallel corpus ------------------------------------------------------------------------------


def _key(tokens: Tokens) -> str:
    return " ".join(simple_tokenize(unicodedata.normalize("NFC", " ".join(tokens)))).casefold()


class ParallelCorpusTranslator:
    """Returns the human translation of sentences found in a parallel corpus.

    Lookup is by the tokenised, case-folded sentence, in either direction (English ↔ target).

    Args:
        dataset: a registered parallel dataset (``mafand``).
        splits: splits to index.
        data_dir: data root (``None`` → ``$XNER_DATA_DIR`` or the hub).
        pairs: extra ``{lang: [(english, target), ...]}`` to index (tests, user corpora).
        fallback: registered translator name for unknown sentences; ``None`` raises instead.
    """

    name = "parallel-corpus"

    def __init__(
        self,
        dataset: str = "mafand",
        splits: Sequence[str] = ("dev", "test"),
        data_dir: str | Path | None = None,
        pairs: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        fallback: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.splits = tuple(splits)
        self.data_dir = data_dir
        self.pairs = pairs
        self.fallback = fallback
        self._index: dict[tuple[str, str], dict[str, str]] = {}
        self._fallback: Translator | None = None

    def _pairs_for(self, lang: str) -> list[tuple[str, str]]:
        out = list((self.pairs or {}).get(lang, ()))
        if self.dataset:
            from harness.datasets import available_splits, load_parallel

            try:
                present = available_splits(self.dataset, lang, data_dir=self.data_dir)
            except XnerError:
                present = []
            for split in self.splits:
                if split in present:
                    out.extend(load_parallel(self.dataset, lang, split, data_dir=self.data_dir))
        return out

    def _table(self, src_lang: str, tgt_lang: str) -> dict[str, str]:
        if (src_lang, tgt_lang) not in self._index:
            if "eng" not in (src_lang, tgt_lang):
                raise UnsupportedLanguageError(f"parallel corpus {self.dataset!r} pairs English with one language; got {src_lang}->{tgt_lang}")
            lang = tgt_lang if src_lang == "eng" else src_lang
            pairs = self._pairs_for(lang)
            forward = {_key([en]): tgt for en, tgt in pairs}
            backward = {_key([tgt]): en for en, tgt in pairs}
            self._index[("eng", lang)] = forward
            self._index[(lang, "eng")] = backward
        return self._index[(src_lang, tgt_lang)]

    def translate(self, sentences: Sequence[Tokens], *, src_lang: str, tgt_lang: str) -> list[Translation]:
        table = self._table(src_lang, tgt_lang)
        out: list[Translation | None] = []
        missing: list[int] = []
        for k, sentence in enumerate(sentences):
            text = table.get(_key(sentence))
            if text is None:
                missing.append(k)
                out.append(None)
            else:
                out.append(Translation(tuple(simple_tokenize(text)), None, text))
        if missing:
            if self.fallback is None:
                first = " ".join(sentences[missing[0]])
                raise XnerError(
                    f"{len(missing)} of {len(sentences)} sentences are not in parallel corpus {self.dataset!r} "
                    f"({src_lang}->{tgt_lang}), e.g. {first[:80]!r}; pass fallback='lexical' or another translator"
                )
            if self._fallback is None:
                self._fallback = make_translator(self.fallback, data_dir=self.data_dir)
            done = self._fallback.translate([sentences[k] for k in missing], src_lang=src_lang, tgt_lang=tgt_lang)
            for k, translation in zip(missing, done, strict=True):
                out[k] = translation
        return [t for t in out if t is not None]


LEXICON_VERSION = "1"  # bump when learning changes, so cached lexicons are rebuilt

# --- Lexicon and lexical translator ---------------------------------------------------------------


@dataclass(frozen=True)
class BilingualLexicon:
    """Word translation probabilities ``p(target word | source word)`` learned from aligned text.

    Attributes:
        src_lang, tgt_lang: ISO 639-3 codes.
        entries: case-folded source word → candidates ``(target word, probability)``, best first.
        counts: case-folded source word → number of aligned occurrences (evidence behind ``entries``).
    """

    src_lang: str
    tgt_lang: str
    entries: Mapping[str, tuple[tuple[str, float], ...]]
    counts: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.casefold() in self.entries

    def candidates(self, word: str) -> tuple[tuple[str, float], ...]:
        """All known translations of ``word``, best first (empty when unknown)."""
        return self.entries.get(word.casefold(), ())

    def best(self, word: str) -> str | None:
        """The most probable translation of ``word``, with the source's capitalisation, or ``None``.

        >>> lex = BilingualLexicon("eng", "swa", {"house": (("nyumba", 0.9),), "kenya": (("kenya", 1.0),)})
        >>> lex.best("House"), lex.best("Kenya"), lex.best("cat")
        ('Nyumba', 'Kenya', None)
        """
        options = self.candidates(word)
        if not options:
            return None
        target = options[0][0]
        if word[:1].isupper() and target[:1].islower():
            target = target[:1].upper() + target[1:]
        return target


def learn_bilingual_lexicon(
    pairs: Sequence[tuple[str, str]],
    *,
    src_lang: str = "eng",
    tgt_lang: str = "tgt",
    aligner: Aligner | str = "eflomal",
    min_count: int = 1,
    max_candidates: int = 5,
    keep_punctuation: bool = False,
) -> BilingualLexicon:
    """Learn a word lexicon from sentence pairs through word alignments.

    Signature (stable, reused by the code-switching perturbations)::

        learn_bilingual_lexicon(pairs: Sequence[tuple[str, str]], *, src_lang="eng", tgt_lang="tgt",
                                aligner: Aligner | str = "eflomal", min_count=1, max_candidates=5,
                                keep_punctuation=False) -> BilingualLexicon

    Both sides are tokenised with :func:`simple_tokenize` and aligned (a registered aligner name or
    an :class:`~systems.aligners.Aligner`); every link (s, t) counts one co-occurrence of the
    case-folded words. ``p(t|s) = count(s,t) / count(s)``; pairs seen fewer than ``min_count``
    times are dropped, and at most ``max_candidates`` translations are kept per word.

    Args:
        pairs: ``(source text, target text)`` sentence pairs.
        src_lang, tgt_lang: recorded in the lexicon.
        aligner: name or instance; ``eflomal`` (offline, trained on ``pairs``) by default.
        min_count: minimum count of a word pair.
        max_candidates: translations kept per source word.
        keep_punctuation: keep entries whose source or target is punctuation.

    >>> from systems.aligners import Alignment
    >>> class Diagonal:
    ...     name = "diagonal"
    ...     def align(self, sources, targets):
    ...         return [tuple((i, i) for i in range(min(len(s), len(t)))) for s, t in zip(sources, targets)]
    >>> lex = learn_bilingual_lexicon([("the house", "la casa"), ("a house", "una casa")], aligner=Diagonal())
    >>> lex.best("house"), lex.candidates("the")
    ('casa', (('la', 1.0),))
    """
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1; got {min_count}")
    src_tokens = [simple_tokenize(s) for s, _ in pairs]
    tgt_tokens = [simple_tokenize(t) for _, t in pairs]
    engine = make_aligner(aligner) if isinstance(aligner, str) else aligner
    alignments = engine.align(src_tokens, tgt_tokens)
    pair_counts: Counter[tuple[str, str]] = Counter()
    for src, tgt, links in zip(src_tokens, tgt_tokens, alignments, strict=True):
        for i, j in links:
            s, t = src[i], tgt[j]
            if not keep_punctuation and (is_punctuation(s) or is_punctuation(t)):
                continue
            pair_counts[(s.casefold(), t.casefold())] += 1
    source_counts: Counter[str] = Counter()
    for (s, _), c in pair_counts.items():
        source_counts[s] += c
    grouped: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (s, t), c in pair_counts.items():
        if c >= min_count:
            grouped[s].append((t, c / source_counts[s]))
    entries = {
        s: tuple(sorted(options, key=lambda o: (-o[1], o[0]))[:max_candidates]) for s, options in sorted(grouped.items())
    }
    return BilingualLexicon(src_lang, tgt_lang, entries, {s: source_counts[s] for s in entries})


class LexicalTranslator:
    """Word-by-word translation with lexicons learned from a parallel corpus (offline default).

    Each input word becomes its most probable translation; words without an entry (names, numbers,
    punctuation, markers such as ``[``) are copied, which is also what MT mostly does with names.
    The output has one word per input word, so the alignment is the diagonal and is returned with
    the translation. This is a deliberately weak translator: it makes translate-test and
    translate-train runnable offline, not competitive.

    Args:
        dataset: registered parallel dataset the lexicons are learned from.
        splits: its splits to use.
        data_dir: data root.
        aligner: aligner used to learn the lexicons.
        min_count: minimum link count of a lexicon entry.
        pairs: extra ``{lang: [(english, target), ...]}`` training pairs.
        lexicons: ready lexicons keyed ``(src_lang, tgt_lang)``; skips learning for those directions.
    """

    name = "lexical"

    def __init__(
        self,
        dataset: str = "mafand",
        splits: Sequence[str] = ("dev", "test"),
        data_dir: str | Path | None = None,
        aligner: str = "eflomal",
        min_count: int = 2,
        pairs: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        lexicons: Mapping[tuple[str, str], BilingualLexicon] | None = None,
    ) -> None:
        self.dataset = dataset
        self.splits = tuple(splits)
        self.data_dir = data_dir
        self.aligner = aligner
        self.min_count = min_count
        self.pairs = pairs
        self.lexicons = lexicons
        self._learned: dict[tuple[str, str], BilingualLexicon] = dict(lexicons or {})

    def lexicon(self, src_lang: str, tgt_lang: str) -> BilingualLexicon:
        """The lexicon for one direction, learned on first use."""
        key = (src_lang, tgt_lang)
        if key not in self._learned:
            if "eng" not in key:
                raise UnsupportedLanguageError(f"lexical translator pairs English with one language; got {src_lang}->{tgt_lang}")
            lang = tgt_lang if src_lang == "eng" else src_lang
            corpus = ParallelCorpusTranslator(self.dataset, self.splits, self.data_dir, self.pairs)._pairs_for(lang)
            if not corpus:
                raise ModelUnavailableError(
                    f"no parallel text for eng-{lang} in dataset {self.dataset!r} (splits {', '.join(self.splits)}); "
                    "the lexical translator needs some: pass --data-dir or pairs={...}"
                )
            oriented = corpus if src_lang == "eng" else [(t, e) for e, t in corpus]
            self._learned[key] = self._cached_learn(oriented, src_lang, tgt_lang)
        return self._learned[key]

    def _cached_learn(self, pairs: list[tuple[str, str]], src_lang: str, tgt_lang: str) -> BilingualLexicon:
        # Learning runs eflomal over the whole corpus (15-30 s per direction) and eflomal is not
        # seedable, so the lexicon is cached on disk by content: same corpus, same lexicon.
        import hashlib
        import json

        from systems.base import default_cache_dir

        blob = json.dumps([pairs, src_lang, tgt_lang, self.aligner, self.min_count, LEXICON_VERSION], ensure_ascii=False)
        path = default_cache_dir() / "lexicons" / f"{src_lang}-{tgt_lang}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}.json"
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = {w: tuple((t, p) for t, p in options) for w, options in data["entries"].items()}
            return BilingualLexicon(src_lang, tgt_lang, entries, data["counts"])
        lexicon = learn_bilingual_lexicon(pairs, src_lang=src_lang, tgt_lang=tgt_lang, aligner=self.aligner, min_count=self.min_count)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"entries": lexicon.entries, "counts": lexicon.counts}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return lexicon

    def translate(self, sentences: Sequence[Tokens], *, src_lang: str, tgt_lang: str) -> list[Translation]:
        if not sentences:
            return []
        lexicon = self.lexicon(src_lang, tgt_lang)
        out = []
        for sentence in sentences:
            tokens = []
            for token in sentence:
                translated = None if is_punctuation(token) or token.isdigit() else lexicon.best(token)
                # A lexicon entry is one word; guard against whitespace to keep tokens valid.
                tokens.append(translated if translated and not any(c.isspace() for c in translated) else token)
            out.append(Translation(tuple(tokens), tuple((i, i) for i in range(len(tokens))), " ".join(tokens)))
        return out


TRANSLATORS: Registry[Any] = Registry(
    "translator",
    builtins={
        "nllb": "systems.translators:HFSeq2SeqTranslator",
        "parallel-corpus": "systems.translators:ParallelCorpusTranslator",
        "lexical": "systems.translators:LexicalTranslator",
    },
    entry_point_group="xner_bench.translators",
)


def make_translator(name: str, **params: Any) -> Translator:
    """Build a registered translator, passing only the parameters its constructor accepts.

    ``data_dir`` is offered to every translator by the systems; translators that do not read data
    ignore it.

    >>> make_translator("nllb", data_dir=None, model="some/local-dir").model
    'some/local-dir'
    """
    import inspect

    factory = TRANSLATORS.get(name)
    accepted = set(inspect.signature(factory).parameters)
    try:
        return factory(**{k: v for k, v in params.items() if k in accepted})  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"cannot build translator {name!r} with {params}: {exc}") from exc
