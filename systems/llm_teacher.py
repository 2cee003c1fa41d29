"""LLM teacher: a generative model labels unlabelled target text, a student learns from it.

systems.md §6 ("LLM teachers"): GPT-4 few-shot reaches 52.6 on MasakhaNER2. Here any generative
model can be the teacher:

* a local transformers model directory (seq2seq such as mT0/Aya-101, or causal), loaded with
  ``AutoModelForSeq2SeqLM``/``AutoModelForCausalLM`` from its config;
* an OpenAI-compatible HTTP endpoint (vLLM, Ollama, llama.cpp server, OpenAI) given by URL, called
  with ``urllib`` (``POST <base>/chat/completions``).

Each sentence gets one prompt (:func:`build_prompt`) asking for a JSON list of
``{"text": ..., "label": ...}``. The answer is parsed leniently (:func:`parse_entities`) and matched
back onto the tokens (:func:`match_entities`). The student is then trained exactly like
``ts-single``'s (:func:`systems.backbones.train_student`), on one-hot targets.

Matching policy (documented because LLM output rarely lines up with tokens):

* an entity string is split on whitespace and matched as a token sequence, first exactly, then
  after NFC + casefold, then ignoring punctuation glued to either side (``"Lagos,"``);
* every occurrence is labelled: a name given once denotes all its mentions in the sentence;
* **misses** (strings that occur nowhere, or only inside a token) are dropped and counted;
* **overlaps** are resolved longest span first, then leftmost, then in the model's order; a
  span overlapping an already accepted span is dropped and counted;
* labels are normalised (``PERSON``→``PER``, ``LOCATION``/``GPE``→``LOC``, ``ORGANIZATION``→``ORG``);
  unknown labels are dropped and counted.

Annotations are cached under ``<cache>/llm/`` keyed by model, prompt version and sentence.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.data import Sentence, Span, iob2_from_spans
from harness.errors import ConfigError, ModelUnavailableError
from systems.base import FitContext, SystemTags, parse_label_list
from systems.backbones import DEFAULT_BACKBONE
from systems.teacher_student import UNLABELLED_SOURCES, unlabelled_target_text
from systems.transfer import _BackboneSystem

PROMPT_VERSION = "1"
LABEL_DESCRIPTIONS = {"PER": "person", "ORG": "organisation", "LOC": "location", "DATE": "date", "MISC": "other name"}
LABEL_ALIASES = {
    "PER": "PER", "PERSON": "PER", "PERS": "PER", "PEOPLE": "PER", "B-PER": "PER",
    "ORG": "ORG", "ORGANIZATION": "ORG", "ORGANISATION": "ORG", "COMPANY": "ORG", "B-ORG": "ORG",
    "LOC": "LOC", "LOCATION": "LOC", "GPE": "LOC", "PLACE": "LOC", "B-LOC": "LOC",
    "DATE": "DATE", "TIME": "DATE", "MISC": "MISC",
}
LANGUAGE_NAMES = {
    "bam": "Bambara", "bbj": "Ghomálá'", "ewe": "Ewe", "fon": "Fon", "hau": "Hausa", "ibo": "Igbo",
    "kin": "Kinyarwanda", "lug": "Luganda", "luo": "Luo", "mos": "Mossi", "nya": "Chichewa",
    "pcm": "Nigerian Pidgin", "sna": "chiShona", "swa": "Kiswahili", "tsn": "Setswana", "twi": "Twi",
    "wol": "Wolof", "xho": "isiXhosa", "yor": "Yorùbá", "zul": "isiZulu", "eng": "English",
}
# A demonstration written for this prompt (not taken from any dataset).
DEMONSTRATION = (
    "Amina Bello joined Unilever in Lagos on Monday .",
    [{"text": "Amina Bello", "label": "PER"}, {"text": "Unilever", "label": "ORG"}, {"text": "Lagos", "label": "LOC"}],
)


def build_prompt(tokens: Sequence[str], lang: str, labels: Sequence[str], *, demonstration: bool = True) -> str:
    """The instruction sent for one sentence.

    >>> print(build_prompt(["Adé", "lọ", "sí", "Èkó"], "yor", ["PER", "LOC"], demonstration=False))
    Find the named entities in the following Yorùbá sentence. Entity types: PER (person), LOC (location).
    Answer with JSON only: a list of objects {"text": <the entity's words copied exactly from the sentence>, "label": <one of PER, LOC>}. Answer [] if there is no entity.
    Sentence: Adé lọ sí Èkó
    Answer:
    """
    types = ", ".join(f"{label} ({LABEL_DESCRIPTIONS.get(label, label.lower())})" for label in labels)
    language = LANGUAGE_NAMES.get(lang, lang)
    lines = [
        f"Find the named entities in the following {language} sentence. Entity types: {types}.",
        'Answer with JSON only: a list of objects {"text": <the entity\'s words copied exactly from the sentence>, '
        f'"label": <one of {", ".join(labels)}>}}. Answer [] if there is no entity.',
    ]
    if demonstration:
        sentence, answer = DEMONSTRATION
        shown = [e for e in answer if e["label"] in labels]
        lines += [f"Sentence: {sentence}", f"Answer: {json.dumps(shown, ensure_ascii=False)}"]
    lines += [f"Sentence: {' '.join(tokens)}", "Answer:"]
    return "\n".join(lines)


# --- Parsing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAnswer:
    """Entities read from one model answer, plus what could not be read."""

    entities: tuple[tuple[str, str], ...]  # (text, label) in the model's order
    problems: tuple[str, ...] = ()


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)
_OBJECT = re.compile(r"\{[^{}]*\}")


def parse_entities(answer: str, labels: Sequence[str]) -> ParsedAnswer:
    """Read ``(text, label)`` pairs from a model's answer, tolerating the usual malformations.

    Accepted: a JSON list of objects (keys ``text``/``entity``/``name``/``span``/``mention`` and
    ``label``/``type``/``category``/``tag``), ``[text, label]`` pairs, ``{"entities": [...]}``,
    ``{"PER": ["..."], ...}``, Markdown code fences, prose around the JSON, Python-style single
    quotes, trailing commas, and answers cut off mid-list (complete objects are kept).

    >>> parse_entities('Sure! ```json\\n[{"text": "Adé", "label": "PERSON"},]\\n```', ["PER", "LOC"]).entities
    (('Adé', 'PER'),)
    """
    problems: list[str] = []
    text = answer.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    data = _load_jsonish(text)
    if data is None:
        # Cut-off or wrapped answers: salvage every complete {...} object.
        objects = [_load_jsonish(m.group(0)) for m in _OBJECT.finditer(text)]
        data = [o for o in objects if isinstance(o, dict)]
        if not data:
            if text and text not in ("[]", "{}") and text.lower().strip(". ") not in ("none", "no entities", "[]"):
                problems.append(f"unparseable answer: {answer[:80]!r}")
            return ParsedAnswer((), tuple(problems))
        problems.append("answer was not valid JSON; complete objects salvaged")
    pairs: list[tuple[str, str]] = []
    for raw_text, raw_label in _pairs(data, problems):
        label = normalise_label(raw_label)
        if label is None or label not in labels:
            problems.append(f"unknown label {raw_label!r} for {raw_text!r}")
            continue
        value = " ".join(str(raw_text).split())
        if value:
            pairs.append((value, label))
    return ParsedAnswer(tuple(pairs), tuple(problems))


def normalise_label(label: Any) -> str | None:
    """``"Person"`` → ``"PER"``; ``None`` for labels that map to nothing.

    >>> normalise_label("organization"), normalise_label("animal")
    ('ORG', None)
    """
    if not isinstance(label, str):
        return None
    return LABEL_ALIASES.get(label.strip().upper().replace(" ", ""))


def _load_jsonish(text: str) -> Any:
    if not text:
        return None
    starts = [text]
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    if start > 0:
        starts.append(text[start:])
    candidates = list(starts)
    for candidate in starts:  # prose after the JSON: cut at the last closing bracket
        for end_char in ("]", "}"):
            end = candidate.rfind(end_char)
            if 0 <= end < len(candidate) - 1:
                candidates.append(candidate[: end + 1])
    for candidate in candidates:
        cleaned = re.sub(r",\s*([\]}])", r"\1", candidate)
        try:
            return json.loads(cleaned)
        except (json.JSONDecodeError, ValueError):
            pass
        try:
            return ast.literal_eval(cleaned)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            pass
    return None


_TEXT_KEYS = ("text", "entity", "name", "span", "mention", "word", "value")
_LABEL_KEYS = ("label", "type", "category", "tag", "entity_type", "class")


def _pairs(data: Any, problems: list[str]) -> list[tuple[Any, Any]]:
    if isinstance(data, dict):
        for key in ("entities", "named_entities", "result", "results", "answer"):
            if key in data:
                return _pairs(data[key], problems)
        if any(k in data for k in _TEXT_KEYS):
            return _pairs([data], problems)
        # {"PER": ["Adé"], "LOC": ["Èkó"]}
        out: list[tuple[Any, Any]] = []
        for label, values in data.items():
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str):
                    out.append((value, label))
        return out
    if not isinstance(data, (list, tuple)):
        problems.append(f"expected a list of entities, got {type(data).__name__}")
        return []
    out = []
    for item in data:
        if isinstance(item, dict):
            text = next((item[k] for k in _TEXT_KEYS if k in item and isinstance(item[k], str)), None)
            label = next((item[k] for k in _LABEL_KEYS if k in item), None)
            if text is None or label is None:
                problems.append(f"entity without text or label: {item!r}"[:120])
                continue
            out.append((text, label))
        elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out.append((item[0], item[1]))
        else:
            problems.append(f"unreadable entity: {item!r}"[:120])
    return out


# --- Matching onto tokens ----------------------------------------------------------------------


@dataclass
class MatchReport:
    """Counts of what happened when matching answers back onto tokens."""

    matched: int = 0
    missed: int = 0
    overlapping: int = 0
    problems: Counter[str] = field(default_factory=Counter)

    def add(self, other: MatchReport) -> None:
        self.matched += other.matched
        self.missed += other.missed
        self.overlapping += other.overlapping
        self.problems.update(other.problems)


def _strip_punct(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(token[end - 1]).startswith("P"):
        end -= 1
    return token[start:end]


def _fold(token: str) -> str:
    return unicodedata.normalize("NFC", token).casefold()


def _occurrences(tokens: Sequence[str], words: Sequence[str]) -> list[int]:
    n = len(words)
    for view in (lambda t: t, _fold, lambda t: _fold(_strip_punct(t))):
        hay = [view(t) for t in tokens]
        needle = [view(w) for w in words]
        if any(not w for w in needle):
            continue
        found = [i for i in range(len(tokens) - n + 1) if hay[i : i + n] == needle]
        if found:
            return found
    return []


def match_entities(tokens: Sequence[str], entities: Sequence[tuple[str, str]]) -> tuple[tuple[str, ...], MatchReport]:
    """IOB2 tags for ``tokens`` from ``(text, label)`` pairs, with the policy in the module docstring.

    >>> tags, report = match_entities(["Adé", "lọ", "sí", "Èkó", "."], [("Èkó", "LOC"), ("Adé", "PER"), ("Abuja", "LOC")])
    >>> tags, report.matched, report.missed
    (('B-PER', 'O', 'O', 'B-LOC', 'O'), 2, 1)
    """
    report = MatchReport()
    candidates: list[tuple[int, int, int, str]] = []  # (-length, start, order, label)
    for order, (text, label) in enumerate(entities):
        words = text.split()
        hits = _occurrences(tokens, words) if words else []
        if not hits:
            report.missed += 1
            continue
        candidates += [(-len(words), start, order, label) for start in hits]
    taken = [False] * len(tokens)
    spans: list[Span] = []
    for neg_length, start, _, label in sorted(candidates):
        end = start - neg_length
        if any(taken[start:end]):
            report.overlapping += 1
            continue
        for i in range(start, end):
            taken[i] = True
        spans.append(Span(start, end, label))
        report.matched += 1
    return iob2_from_spans(spans, len(tokens)), report


# --- Generators --------------------------------------------------------------------------------


class Generator(Protocol):
    """Prompts in, answers out (same order)."""

    identity: str

    def generate(self, prompts: Sequence[str]) -> list[str]: ...


class TransformersGenerator:
    """A local seq2seq or causal transformers model (greedy decoding, batched)."""

    def __init__(self, path: str, *, max_new_tokens: int = 128, batch_size: int = 8) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        from systems.backbones import check_hub_model_available

        if not Path(path).expanduser().is_dir():
            check_hub_model_available(path)
        config = AutoConfig.from_pretrained(path)
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Causal models continue the prompt, so pad on the left to keep prompts flush with the answer.
        self.tokenizer.padding_side = "right" if self.seq2seq else "left"
        cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
        self.model = cls.from_pretrained(path).eval()
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.identity = f"transformers:{path}"

    def _format(self, prompt: str) -> str:
        if not self.seq2seq and getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
            )
        return prompt

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self._format(p) for p in prompts[start : start + self.batch_size]]
            enc = self.tokenizer(batch, return_tensors="pt", padding=True)
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    max_new_tokens=self.max_new_tokens,
                    do_sample=False,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            if not self.seq2seq:
                generated = generated[:, enc["input_ids"].shape[1] :]
            out += self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        return out


class OpenAICompatibleGenerator:
    """``POST <base>/chat/completions`` on any OpenAI-compatible server (vLLM, Ollama, llama.cpp).

    The API key, if the server needs one, is read from the environment variable ``api_key_env``.
    """

    def __init__(self, url: str, *, model: str = "", api_key_env: str = "OPENAI_API_KEY", max_new_tokens: int = 256, timeout: float = 120.0) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.max_new_tokens = max_new_tokens
        self.timeout = timeout
        self.identity = f"openai:{self.url}:{model}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return [self._one(p) for p in prompts]

    def _one(self, prompt: str) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.max_new_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - user-given URL
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise ModelUnavailableError(f"LLM endpoint {self.url} answered HTTP {exc.code}: {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ModelUnavailableError(f"LLM endpoint {self.url} is unreachable ({exc}); is the server running?") from None
        try:
            return str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise ModelUnavailableError(f"LLM endpoint {self.url} returned no choices[0].message.content: {str(payload)[:200]}") from None


def make_generator(llm: str, *, model: str = "", max_new_tokens: int = 128, batch_size: int = 8) -> Generator:
    """An HTTP generator for ``http(s)://`` URLs, a transformers generator otherwise."""
    if not llm:
        raise ConfigError("llm-teacher needs llm=<local model path, hub name or http(s):// endpoint URL>")
    if llm.startswith(("http://", "https://")):
        return OpenAICompatibleGenerator(llm, model=model, max_new_tokens=max_new_tokens)
    return TransformersGenerator(llm, max_new_tokens=max_new_tokens, batch_size=batch_size)


# --- Annotation with caching -------------------------------------------------------------------


def annotate(
    generator: Generator,
    texts: Sequence[Sequence[str]],
    lang: str,
    labels: Sequence[str],
    *,
    cache_dir: Path | None = None,
    demonstration: bool = True,
) -> tuple[list[tuple[str, ...]], MatchReport]:
    """IOB2 tags from the LLM for each token list, reusing cached answers."""
    cache: dict[str, str] = {}
    cache_file = None
    if cache_dir is not None:
        tag = hashlib.sha256(json.dumps([generator.identity, PROMPT_VERSION, sorted(labels), demonstration]).encode()).hexdigest()[:16]
        cache_file = Path(cache_dir) / "llm" / f"{tag}.jsonl"
        if cache_file.is_file():
            for line in cache_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    cache[record["key"]] = record["answer"]
    prompts = [build_prompt(t, lang, labels, demonstration=demonstration) for t in texts]
    keys = [hashlib.sha256(p.encode()).hexdigest() for p in prompts]
    todo = sorted({k: p for k, p in zip(keys, prompts, strict=True) if k not in cache}.items())
    if todo:
        answers = generator.generate([p for _, p in todo])
        new = dict(zip((k for k, _ in todo), answers, strict=True))
        cache.update(new)
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            with cache_file.open("a", encoding="utf-8") as handle:
                for key, answer in new.items():
                    handle.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")
    report = MatchReport()
    out = []
    for tokens, key in zip(texts, keys, strict=True):
        parsed = parse_entities(cache[key], labels)
        tags, one = match_entities(tokens, parsed.entities)
        one.problems.update(p.split(":")[0] for p in parsed.problems)
        report.add(one)
        out.append(tags)
    return out, report


def one_hot_targets(tags: Sequence[Sequence[str]], tag_names: Sequence[str], smoothing: float = 0.0) -> list[np.ndarray]:
    """Hard labels as distributions (optionally label-smoothed) for :func:`train_student`.

    >>> one_hot_targets([("B-PER", "O")], ["O", "B-PER", "I-PER"])[0].tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    index = {t: i for i, t in enumerate(tag_names)}
    out = []
    k = len(tag_names)
    for row in tags:
        target = np.full((len(row), k), smoothing / k, dtype=np.float32)
        for i, tag in enumerate(row):
            target[i, index.get(tag, 0)] += 1.0 - smoothing
        out.append(target)
    return out


class LLMTeacherStudent(_BackboneSystem):
    """A generative model labels unlabelled target text; a student is trained on it as in ``ts-single``.

    Args:
        llm: local model directory / hub name (seq2seq or causal) or ``http(s)://`` endpoint URL.
        llm_model: model name sent to the endpoint (ignored for local models).
        labels: comma-separated entity types asked for.
        demonstration: include the one built-in demonstration in the prompt.
        max_new_tokens, llm_batch_size: generation settings.
        backbone, unlabelled, epochs, lr, batch_size, max_length, max_minutes, loss, freeze_layers,
        max_unlabelled_sentences: the student, as in ``ts-single``.
    """

    name = "llm-teacher"
    version = "1"

    def __init__(
        self,
        llm: str = "bigscience/mt0-xl",
        llm_model: str = "",
        labels: str = "LOC,ORG,PER",
        demonstration: bool = True,
        max_new_tokens: int = 128,
        llm_batch_size: int = 8,
        backbone: str = DEFAULT_BACKBONE,
        unlabelled: str = "ner",
        epochs: int = 3,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        loss: str = "mse",
        freeze_layers: int = 3,
        max_unlabelled_sentences: int | None = 2000,
    ) -> None:
        self.llm = llm
        self.llm_model = llm_model
        self.labels = labels
        self.demonstration = demonstration
        self.max_new_tokens = max_new_tokens
        self.llm_batch_size = llm_batch_size
        self.backbone = backbone
        self.unlabelled = unlabelled
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_minutes = max_minutes
        self.loss = loss
        self.freeze_layers = freeze_layers
        self.max_unlabelled_sentences = max_unlabelled_sentences
        self._fitted = False

    def _label_set(self) -> tuple[str, ...]:
        return parse_label_list(self.name, self.labels)

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset(self._label_set()), languages=None, deterministic=True, trainable=True, accelerator=True)

    def fit(self, context: FitContext) -> None:
        from systems.backbones import tag_names_for, train_student

        if self.unlabelled not in UNLABELLED_SOURCES:
            raise ConfigError(f"{self.name}: unlabelled must be one of {', '.join(UNLABELLED_SOURCES)}; got {self.unlabelled!r}")
        labels = self._label_set()
        generator = make_generator(self.llm, model=self.llm_model, max_new_tokens=self.max_new_tokens, batch_size=self.llm_batch_size)
        self._students: dict[str, Any] = {}
        self.fit_report: dict[str, Any] = {}
        for lang in context.target_languages:
            texts = unlabelled_target_text(context, lang, self.unlabelled, self.max_unlabelled_sentences)
            if not texts:
                self.fit_report[lang] = "no unlabelled text; predicts O"
                continue
            tags, report = annotate(generator, texts, lang, labels, cache_dir=context.cache_dir, demonstration=self.demonstration)
            self.fit_report[lang] = {
                "sentences": len(texts),
                "matched": report.matched,
                "missed": report.missed,
                "overlapping": report.overlapping,
                "problems": dict(report.problems),
            }
            self._students[lang] = train_student(
                texts,
                one_hot_targets(tags, tag_names_for(labels)),
                labels=labels,
                backbone=self.backbone,
                seed=context.seed,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                max_length=self.max_length,
                loss=self.loss,
                freeze_layers=self.freeze_layers,
                max_minutes=self.max_minutes,
                cache_dir=context.cache_dir,
                data_dir=context.data_dir,
                show_progress=context.show_progress,
                cache_tag=f"{self.name}-{lang}-{generator.identity}",
            )
        self._fitted = True

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        self._require_fitted()
        out: list[tuple[str, ...]] = [()] * len(sentences)
        groups: dict[str, list[int]] = {}
        for i, sentence in enumerate(sentences):
            groups.setdefault(sentence.lang, []).append(i)
        for lang, indices in groups.items():
            # A language without its own student (not a fit target) is tagged by the first student.
            student = self._students.get(lang) or (next(iter(self._students.values())) if self._students else None)
            if student is None:
                # Nothing was learnt (no unlabelled text anywhere): the honest answer is "no entity".
                for i in indices:
                    out[i] = ("O",) * len(sentences[i].tokens)
                continue
            for i, tags in zip(indices, student.predict([sentences[i] for i in indices]), strict=True):
                out[i] = tags
        return out
