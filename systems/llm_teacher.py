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

Chat prompting (OpenAI-compatible endpoints, including the bundled llama.cpp server): a system
message names the language and the dataset's entity types; ``shots`` demonstrations are real
sentences of the *target* language from its train or dev split (never test), each answered with
``{"PER": [...], "ORG": [...], "LOC": [...]}``; the answer is constrained to that JSON shape by a
JSON schema where the server supports it (llama.cpp does, via its grammar sampler), and parsed
leniently either way.

Every answer is cached under ``<cache>/llm/`` keyed by the model (the GGUF file's sha256 for bundled
models, URL and model name for other endpoints) and the full request (prompt and sentence), one JSON
line appended as each answer arrives, so an interrupted labelling run loses nothing and a rerun costs
nothing.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import time
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.data import Sentence, Span, iob2_from_spans
from harness.errors import ConfigError, ModelUnavailableError
from systems.base import FitContext, SystemTags, parse_label_list
from systems.backbones import DEFAULT_BACKBONE
from systems.teacher_student import UNLABELLED_SOURCES, unlabelled_target_text
from systems.transfer import _BackboneSystem, training_report

PROMPT_VERSION = "1"  # the plain-text prompt (local transformers models)
CHAT_PROMPT_VERSION = "1"  # the chat prompt with target-language demonstrations
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


# --- Chat prompt with target-language demonstrations -----------------------------------------


@dataclass(frozen=True)
class Demonstration:
    """One worked example for the chat prompt: a sentence and its entities by type."""

    tokens: tuple[str, ...]
    entities: tuple[tuple[str, str], ...]  # (label, surface text) in sentence order


def demonstration_from(sentence: Sentence) -> Demonstration:
    from harness.data import spans_from_iob2

    spans = spans_from_iob2(sentence.tags)
    return Demonstration(tuple(sentence.tokens), tuple((s.label, " ".join(sentence.tokens[s.start : s.end])) for s in spans))


def choose_demonstrations(sentences: Sequence[Sentence], labels: Sequence[str], shots: int, *, max_tokens: int = 40) -> list[Demonstration]:
    """``shots`` labelled sentences that together show every requested type, short ones first.

    Deterministic: greedy over the sentences in file order, each pick the one adding the most
    not-yet-shown types (ties: more entities, up to 4; then length closest to 20 tokens, a
    typical news sentence; then earlier). Sentences longer than ``max_tokens``
    are skipped so the prompt stays short; entity types outside ``labels`` are dropped from the
    shown answers (DATE when the system is asked for PER/ORG/LOC only).

    >>> from harness.data import Sentence
    >>> s = [Sentence("a", "swa", ("Juma", "yuko", "Dodoma"), ("B-PER", "O", "B-LOC")),
    ...      Sentence("b", "swa", ("Benki", "ya", "Dunia"), ("B-ORG", "I-ORG", "I-ORG"))]
    >>> [d.entities for d in choose_demonstrations(s, ["LOC", "ORG", "PER"], 2)]
    [(('PER', 'Juma'), ('LOC', 'Dodoma')), (('ORG', 'Benki ya Dunia'),)]
    """
    pool = []
    for order, sentence in enumerate(sentences):
        if len(sentence.tokens) > max_tokens:
            continue
        demo = demonstration_from(sentence)
        kept = tuple(e for e in demo.entities if e[0] in labels)
        if kept:
            pool.append((order, Demonstration(demo.tokens, kept)))
    chosen: list[Demonstration] = []
    shown: set[str] = set()
    taken: set[int] = set()
    while len(chosen) < shots and len(taken) < len(pool):
        best = min(
            (item for item in pool if item[0] not in taken),
            key=lambda item: (
                -len({lab for lab, _ in item[1].entities} - shown),
                -min(len(item[1].entities), 4),
                abs(len(item[1].tokens) - 20),
                item[0],
            ),
        )
        taken.add(best[0])
        chosen.append(best[1])
        shown |= {lab for lab, _ in best[1].entities}
    return chosen


def answer_keys(labels: Sequence[str]) -> list[str]:
    """Answer keys in the order people write them (PER, ORG, LOC, DATE, then the rest).

    The schema and the demonstrations must agree on it: a grammar forces the schema's key order,
    and a model shown another order in its demonstrations gets confused.
    """
    usual = ("PER", "ORG", "LOC", "DATE")
    return sorted(labels, key=lambda lab: (usual.index(lab) if lab in usual else len(usual), lab))


def answer_object(entities: Sequence[tuple[str, str]], labels: Sequence[str]) -> str:
    """The JSON answer shape: every requested type as a key, its distinct mentions in order.

    >>> answer_object([("PER", "Juma"), ("PER", "Juma"), ("LOC", "Dodoma")], ["LOC", "ORG", "PER"])
    '{"PER": ["Juma"], "ORG": [], "LOC": ["Dodoma"]}'
    """
    out: dict[str, list[str]] = {lab: [] for lab in answer_keys(labels)}
    for label, text in entities:
        if label in out and text not in out[label]:
            out[label].append(text)
    return json.dumps(out, ensure_ascii=False)


MAX_ENTITIES_PER_TYPE = 8
MAX_ENTITY_CHARS = 60


def answer_schema(labels: Sequence[str]) -> dict[str, Any]:
    """JSON schema of :func:`answer_object` (sent as ``response_format`` to constrain decoding)."""
    return {
        "type": "object",
        # Bounded lists and strings: a small model that starts copying the whole sentence, or
        # listing every word, is cut short by the grammar instead of running out of tokens mid-JSON.
        "properties": {
            lab: {"type": "array", "items": {"type": "string", "maxLength": MAX_ENTITY_CHARS}, "maxItems": MAX_ENTITIES_PER_TYPE}
            for lab in answer_keys(labels)
        },
        "required": answer_keys(labels),
        "additionalProperties": False,
    }


def chat_messages(tokens: Sequence[str], lang: str, labels: Sequence[str], demonstrations: Sequence[Demonstration]) -> list[dict[str, str]]:
    """The chat request for one sentence: instructions, demonstrations as turns, the sentence.

    Without target-language demonstrations (no train/dev split) the built-in English one is used.
    """
    types = ", ".join(f"{label} ({LABEL_DESCRIPTIONS.get(label, label.lower())})" for label in labels)
    language = LANGUAGE_NAMES.get(lang, lang)
    keys = ", ".join(json.loads(answer_object([], labels)))
    messages = [
        {
            "role": "system",
            "content": (
                f"You find named entities in {language} sentences. Entity types: {types}. Copy each entity exactly as "
                f"it is written in the sentence, without translating it. Answer with one JSON object with the keys "
                f"{keys}, each a list of strings (empty when there is none)."
            ),
        }
    ]
    demos = list(demonstrations)
    if not demos:
        sentence, answer = DEMONSTRATION
        demos = [Demonstration(tuple(sentence.split()), tuple((e["label"], e["text"]) for e in answer if e["label"] in labels))]
    for demo in demos:
        messages += [
            {"role": "user", "content": f"Sentence: {' '.join(demo.tokens)}"},
            {"role": "assistant", "content": answer_object(demo.entities, labels)},
        ]
    messages.append({"role": "user", "content": f"Sentence: {' '.join(tokens)}"})
    return messages


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

    ``parallel`` requests are in flight at once (llama.cpp decodes them together in its slots; vLLM
    batches them). With ``json_schema`` the answer shape is sent as ``response_format`` so servers
    with grammar-constrained decoding (llama.cpp, vLLM) can only produce the JSON object asked for.
    The API key, if the server needs one, is read from the environment variable ``api_key_env``.
    """

    def __init__(
        self,
        url: str,
        *,
        model: str = "",
        api_key_env: str = "OPENAI_API_KEY",
        max_new_tokens: int = 256,
        timeout: float = 300.0,
        parallel: int = 4,
        json_schema: bool = True,
        identity: str | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.max_new_tokens = max_new_tokens
        self.timeout = timeout
        self.parallel = max(1, parallel)
        self.json_schema = json_schema
        self.identity = identity or f"openai:{self.url}:{model}"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return [self._post([{"role": "user", "content": p}], None) for p in prompts]

    def chat(
        self,
        requests: Sequence[list[dict[str, str]]],
        schema: dict[str, Any] | None,
        on_answer: Callable[[int, str], None] | None = None,
    ) -> list[str]:
        """Answers to chat ``requests`` (same order), ``parallel`` at a time; ``on_answer`` as each arrives."""
        answers: list[str | None] = [None] * len(requests)
        schema = schema if self.json_schema else None
        pending = iter(range(len(requests)))
        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="llm")
        running: dict[Future[str], int] = {}
        try:
            for i in _take(pending, self.parallel):
                running[pool.submit(self._post, requests[i], schema)] = i
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    answers[i] = future.result()
                    if on_answer is not None:
                        on_answer(i, answers[i] or "")
                    for j in _take(pending, 1):
                        running[pool.submit(self._post, requests[j], schema)] = j
        finally:
            # On Ctrl-C or an error, do not wait for in-flight requests: answers so far are stored.
            pool.shutdown(wait=not running, cancel_futures=True)
        return [a or "" for a in answers]

    def _post(self, messages: list[dict[str, str]], schema: dict[str, Any] | None) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.max_new_tokens,
        }
        if schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "entities", "schema": schema, "strict": True}}
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


def _take(iterator: Iterator[int], n: int) -> list[int]:
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


class BundledGenerator(OpenAICompatibleGenerator):
    """A bundled GGUF model (``llm=qwen2.5-coder-1.5b``) behind a ``llama-server`` this process owns.

    The model file is assembled and verified at construction (cheap when already cached); the
    server starts on the first request and stops on :meth:`close` (and at exit, see
    :mod:`systems.llm_runtime`). Answers are cached by the model file's sha256, so the ephemeral
    port never enters a cache key.
    """

    def __init__(
        self,
        name: str,
        *,
        cache_dir: Path,
        max_new_tokens: int = 128,
        parallel: int = 4,
        threads: int | None = None,
        port: int | None = None,
        json_schema: bool = True,
    ) -> None:
        from systems.llm_runtime import bundled_model, model_file

        self.bundled = bundled_model(name)
        self.model_path = model_file(name, cache_dir)
        super().__init__(
            "http://127.0.0.1:0/v1", model=name, api_key_env="", max_new_tokens=max_new_tokens,
            parallel=parallel, json_schema=json_schema, identity=f"gguf:{self.bundled.sha256}",
            # Our own server on a shared CPU: a slow answer is load, not an outage (it died → we notice).
            timeout=3600.0,
        )
        self.threads = threads
        self.port = port
        self.server: Any = None

    def _ensure_server(self) -> None:
        from systems.llm_runtime import LlamaServer

        if self.server is not None and self.server.alive():
            return
        if self.server is not None:  # died under us: say so rather than silently restarting forever
            tail = self.server.log_tail()
            self.server.close()
            self.server = None
            raise ModelUnavailableError(f"llama-server for {self.model} stopped unexpectedly: {tail[-300:]}")
        self.server = LlamaServer(self.model_path, port=self.port, parallel=self.parallel, threads=self.threads)
        self.server.start()
        self.url = self.server.base_url + "/chat/completions"

    def chat(self, requests: Sequence[list[dict[str, str]]], schema: dict[str, Any] | None, on_answer: Callable[[int, str], None] | None = None) -> list[str]:
        if requests:
            self._ensure_server()
        return super().chat(requests, schema, on_answer)

    def generate(self, prompts: Sequence[str]) -> list[str]:
        if prompts:
            self._ensure_server()
        return super().generate(prompts)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def make_generator(
    llm: str,
    *,
    model: str = "",
    max_new_tokens: int = 128,
    batch_size: int = 8,
    parallel: int = 4,
    threads: int | None = None,
    port: int | None = None,
    json_schema: bool = True,
    cache_dir: Path | None = None,
) -> Generator:
    """A bundled llama.cpp model by name, an HTTP generator for ``http(s)://`` URLs, else transformers."""
    from systems.llm_runtime import BUNDLED_MODELS

    if not llm:
        raise ConfigError(f"llm= is required: a bundled model ({', '.join(BUNDLED_MODELS)}), an http(s):// endpoint, or a local model path")
    if llm in BUNDLED_MODELS:
        from systems.base import default_cache_dir

        return BundledGenerator(
            llm, cache_dir=cache_dir or default_cache_dir(), max_new_tokens=max_new_tokens,
            parallel=parallel, threads=threads, port=port, json_schema=json_schema,
        )
    if llm.startswith(("http://", "https://")):
        return OpenAICompatibleGenerator(llm, model=model, max_new_tokens=max_new_tokens, parallel=parallel, json_schema=json_schema)
    return TransformersGenerator(llm, max_new_tokens=max_new_tokens, batch_size=batch_size)


# --- Annotation with caching -------------------------------------------------------------------


@dataclass
class LabellingCost:
    """What labelling cost: sentences, fresh LLM calls, seconds, and answers that went wrong."""

    sentences: int = 0
    asked: int = 0  # answers not in the cache, i.e. LLM calls made
    seconds: float = 0.0
    unparseable: int = 0  # answers from which no JSON could be read at all
    not_in_sentence: int = 0  # returned entities that match no token sequence of the sentence

    def add(self, other: LabellingCost) -> None:
        self.sentences += other.sentences
        self.asked += other.asked
        self.seconds += other.seconds
        self.unparseable += other.unparseable
        self.not_in_sentence += other.not_in_sentence

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentences_labelled": self.sentences,
            "llm_calls": self.asked,
            "cached_answers": self.sentences - self.asked,
            "seconds": round(self.seconds, 2),
            "sentences_per_second": round(self.asked / self.seconds, 3) if self.seconds > 0 and self.asked else None,
            "unparseable_answers": self.unparseable,
            "entities_not_in_sentence": self.not_in_sentence,
        }


class _AnswerCache:
    """Answers by request hash in ``<cache>/llm/<model-hash>.jsonl``, appended one line per answer."""

    def __init__(self, cache_dir: Path | None, identity: str, version: str) -> None:
        self.answers: dict[str, str] = {}
        self.path = None
        if cache_dir is None:
            return
        tag = hashlib.sha256(json.dumps([identity, version]).encode()).hexdigest()[:16]
        self.path = Path(cache_dir) / "llm" / f"{tag}.jsonl"
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self.answers[record["key"]] = record["answer"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut off by a crash: that answer is simply asked again

    def put(self, key: str, answer: str) -> None:
        self.answers[key] = answer
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")


def annotate(
    generator: Generator,
    texts: Sequence[Sequence[str]],
    lang: str,
    labels: Sequence[str],
    *,
    cache_dir: Path | None = None,
    demonstration: bool = True,
    demonstrations: Sequence[Demonstration] | None = None,
    show_progress: bool = False,
    cost: LabellingCost | None = None,
) -> tuple[list[tuple[str, ...]], MatchReport]:
    """IOB2 tags from the LLM for each token list, reusing cached answers.

    Chat-capable generators (OpenAI-compatible endpoints) get :func:`chat_messages` with
    ``demonstrations`` (target-language examples) and the JSON schema; others the plain
    :func:`build_prompt`. ``cost`` (if given) is incremented with what this call cost.
    """
    chat = getattr(generator, "chat", None)
    if chat is not None:
        schema = answer_schema(labels)
        requests: list[Any] = [chat_messages(t, lang, labels, demonstrations or ()) for t in texts]
        version = CHAT_PROMPT_VERSION
        keys = [hashlib.sha256(json.dumps([r, schema], ensure_ascii=False).encode()).hexdigest() for r in requests]
    else:
        requests = [build_prompt(t, lang, labels, demonstration=demonstration) for t in texts]
        version = json.dumps([PROMPT_VERSION, sorted(labels), demonstration])
        keys = [hashlib.sha256(p.encode()).hexdigest() for p in requests]
    cache = _AnswerCache(cache_dir, generator.identity, version)
    todo = sorted({k: r for k, r in zip(keys, requests, strict=True) if k not in cache.answers}.items(), key=lambda kv: kv[0])
    started = time.perf_counter()
    if todo:
        from harness.console import ProgressBar

        bar = ProgressBar(show_progress and len(todo) > 1, f"LLM labelling {lang}", len(todo))
        try:
            if chat is not None:
                def store(i: int, answer: str) -> None:
                    cache.put(todo[i][0], answer)
                    bar.advance(1)

                chat([r for _, r in todo], schema, store)
            else:
                for key, answer in zip((k for k, _ in todo), generator.generate([r for _, r in todo]), strict=True):
                    cache.put(key, answer)
        finally:
            bar.close()
    elapsed = time.perf_counter() - started
    report = MatchReport()
    unparseable = 0
    out = []
    for tokens, key in zip(texts, keys, strict=True):
        parsed = parse_entities(cache.answers[key], labels)
        unparseable += any(p.startswith("unparseable") for p in parsed.problems)
        tags, one = match_entities(tokens, parsed.entities)
        one.problems.update(p.split(":")[0] for p in parsed.problems)
        report.add(one)
        out.append(tags)
    if cost is not None:
        cost.add(LabellingCost(len(texts), len(todo), elapsed if todo else 0.0, unparseable, report.missed))
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


def target_demonstrations(context: FitContext, lang: str, labels: Sequence[str], shots: int) -> list[Demonstration]:
    """``shots`` demonstrations from the target language's dev split, else train (never test)."""
    if shots <= 0:
        return []
    for split in ("dev", "train"):
        if context.has_split(context.target_dataset, lang, split):
            chosen = choose_demonstrations(context.load(context.target_dataset, lang, split), labels, shots)
            if chosen:
                return chosen
    return []


class _LLMParams:
    """Parameters and generator handling shared by ``llm-teacher`` and ``llm-tagger``."""

    llm: str
    llm_model: str
    max_new_tokens: int
    llm_batch_size: int
    llm_parallel: int
    llm_threads: int | None
    llm_port: int | None
    json_schema: bool
    _generator: Any = None

    def _make_generator(self, cache_dir: Path) -> Generator:
        if self._generator is None:
            self._generator = make_generator(
                self.llm, model=self.llm_model, max_new_tokens=self.max_new_tokens, batch_size=self.llm_batch_size,
                parallel=self.llm_parallel, threads=self.llm_threads, port=self.llm_port, json_schema=self.json_schema,
                cache_dir=cache_dir,
            )
        return self._generator

    def close(self) -> None:
        """Stop the bundled server if one was started (the runner calls this when done with the system)."""
        generator, self._generator = self._generator, None
        if generator is not None and hasattr(generator, "close"):
            generator.close()


def _labelling_report(cost: LabellingCost, report: MatchReport) -> dict[str, Any]:
    return {
        **cost.as_dict(),
        "matched": report.matched,
        "missed": report.missed,
        "overlapping": report.overlapping,
        "problems": dict(report.problems),
    }


class LLMTeacherStudent(_LLMParams, _BackboneSystem):
    """A generative model labels unlabelled target text; a student is trained on it as in ``ts-single``.

    Args:
        llm: a bundled model (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``: served by a local
            llama.cpp server started here), an ``http(s)://`` OpenAI-compatible endpoint, or a local
            transformers model directory / hub name (seq2seq or causal).
        llm_model: model name sent to the endpoint (ignored for local models).
        labels: comma-separated entity types asked for.
        shots: target-language demonstrations (from dev, else train) in the chat prompt.
        demonstration: include the built-in demonstration in the plain prompt (transformers models).
        max_new_tokens, llm_batch_size: generation settings.
        llm_parallel: requests in flight at once (llama.cpp server slots).
        llm_threads: CPU threads of the bundled server (default: all cores).
        llm_port: fixed loopback port for the bundled server (default: a free one).
        json_schema: constrain answers with a JSON schema (``response_format``).
        backbone, unlabelled, epochs, lr, batch_size, max_length, max_minutes, loss, freeze_layers,
        max_unlabelled_sentences: the student, as in ``ts-single``.
    """

    name = "llm-teacher"
    version = "2"

    def __init__(
        self,
        llm: str = "qwen2.5-coder-1.5b",
        llm_model: str = "",
        labels: str = "LOC,ORG,PER",
        shots: int = 3,
        demonstration: bool = True,
        max_new_tokens: int = 128,
        llm_batch_size: int = 8,
        llm_parallel: int = 4,
        llm_threads: int | None = None,
        llm_port: int | None = None,
        json_schema: bool = True,
        backbone: str = DEFAULT_BACKBONE,
        unlabelled: str = "ner",
        epochs: int = 3,
        lr: float | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        max_minutes: float | None = None,
        loss: str | None = None,
        freeze_layers: int = 3,
        max_unlabelled_sentences: int | None = 2000,
    ) -> None:
        self.llm = llm
        self.llm_model = llm_model
        self.labels = labels
        self.shots = shots
        self.demonstration = demonstration
        self.max_new_tokens = max_new_tokens
        self.llm_batch_size = llm_batch_size
        self.llm_parallel = llm_parallel
        self.llm_threads = llm_threads
        self.llm_port = llm_port
        self.json_schema = json_schema
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
        self._students: dict[str, Any] = {}
        self.fit_report: dict[str, Any] = {}
        try:
            generator = self._make_generator(context.cache_dir)
            labelled: dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]] = {}
            for lang in context.target_languages:
                texts = unlabelled_target_text(context, lang, self.unlabelled, self.max_unlabelled_sentences)
                if not texts:
                    self.fit_report[lang] = "no unlabelled text; predicts O"
                    continue
                cost = LabellingCost()
                tags, report = annotate(
                    generator, texts, lang, labels, cache_dir=context.cache_dir, demonstration=self.demonstration,
                    demonstrations=target_demonstrations(context, lang, labels, self.shots),
                    show_progress=context.show_progress, cost=cost,
                )
                self.fit_report[lang] = _labelling_report(cost, report)
                labelled[lang] = (texts, tags)
        finally:
            self.close()  # the teacher is not needed once everything is labelled: free its cores
        for lang, (texts, tags) in labelled.items():
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
            # The student's own training (steps, stop reason, fit to the LLM's labels) beside the
            # labelling cost, so an untrained student shows in the report, not only in the F1.
            self.fit_report[lang]["student"] = training_report(self._students[lang])
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


class LLMTagger(_LLMParams):
    """The LLM itself as the tagger: one prompt per test sentence, no student.

    ``fit`` only picks the target-language demonstrations (dev, else train; never test); the
    bundled server starts on the first ``predict`` and stops on ``close``. The fit report counts
    what labelling the test sentences cost (sentences, seconds, sentences/s, unparseable answers,
    entities not found in the sentence).

    Args: as ``llm-teacher``'s LLM parameters.
    """

    name = "llm-tagger"
    version = "1"

    def __init__(
        self,
        llm: str = "qwen2.5-coder-1.5b",
        llm_model: str = "",
        labels: str = "LOC,ORG,PER",
        shots: int = 3,
        max_new_tokens: int = 128,
        llm_parallel: int = 4,
        llm_threads: int | None = None,
        llm_port: int | None = None,
        json_schema: bool = True,
    ) -> None:
        self.llm = llm
        self.llm_model = llm_model
        self.labels = labels
        self.shots = shots
        self.max_new_tokens = max_new_tokens
        self.llm_batch_size = 8
        self.llm_parallel = llm_parallel
        self.llm_threads = llm_threads
        self.llm_port = llm_port
        self.json_schema = json_schema
        self._context: FitContext | None = None

    def _label_set(self) -> tuple[str, ...]:
        return parse_label_list(self.name, self.labels)

    @property
    def tags(self) -> SystemTags:
        return SystemTags(labels=frozenset(self._label_set()), languages=None, deterministic=True, trainable=True)

    def fit(self, context: FitContext) -> None:
        labels = self._label_set()
        self._context = context
        self._demos = {lang: target_demonstrations(context, lang, labels, self.shots) for lang in context.target_languages}
        self._costs: dict[str, tuple[LabellingCost, MatchReport]] = {}
        self.fit_report_: dict[str, Any] = {
            lang: {"demonstrations": [" ".join(d.tokens) for d in demos]} for lang, demos in self._demos.items()
        }

    def predict(self, sentences: Sequence[Sentence]) -> list[tuple[str, ...]]:
        if self._context is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        labels = self._label_set()
        generator = self._make_generator(self._context.cache_dir)
        out: list[tuple[str, ...]] = [()] * len(sentences)
        groups: dict[str, list[int]] = {}
        for i, sentence in enumerate(sentences):
            groups.setdefault(sentence.lang, []).append(i)
        for lang, indices in groups.items():
            demos = self._demos.get(lang)
            if demos is None:  # not a fit target: demonstrations of that language if there are any
                demos = self._demos[lang] = target_demonstrations(self._context, lang, labels, self.shots)
            cost, report = self._costs.setdefault(lang, (LabellingCost(), MatchReport()))
            tags, one = annotate(
                generator, [sentences[i].tokens for i in indices], lang, labels,
                cache_dir=self._context.cache_dir, demonstrations=demos, show_progress=False, cost=cost,
            )
            report.add(one)
            self.fit_report_.setdefault(lang, {}).update(_labelling_report(cost, report))
            for i, row in zip(indices, tags, strict=True):
                out[i] = row
        return out
