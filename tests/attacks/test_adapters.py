"""textattack / nlpaug adapters: offline import, env restored, alignment kept or refused."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import numpy as np
import pytest

from harness.data import Sentence
from harness.errors import ConfigError, ConformanceError

from attacks import make_perturbation
from attacks.adapters import protect, seeded_globals, unprotect
from attacks.base import perturb_corpus
from attacks.text import starts_with_mark


def test_protect_roundtrip_hides_multi_codepoint_clusters() -> None:
    encoded, table = protect("Ọ̀gbẹ́ni")
    assert len(encoded) == 6 and all(len(ch) == 1 for ch in encoded)
    assert unprotect(encoded, table) == "Ọ̀gbẹ́ni"
    assert protect("Lagos") == ("Lagos", {})


def test_seeded_globals_restores_global_random_state() -> None:
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    with seeded_globals(np.random.default_rng(0)):
        random.random()
        np.random.rand()
    assert (random.random(), np.random.rand()) == expected


def test_textattack_import_is_offline_and_restores_environment() -> None:
    code = (
        "import os, json; before = dict(os.environ);"
        "from attacks.adapters import import_textattack_offline; import_textattack_offline();"
        "changed = {k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)};"
        "print(json.dumps(sorted(changed)))"
    )
    env = {**os.environ, "HF_HOME": "/tmp/xner-hf-home-test"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900)  # generous: importing textattack takes minutes on a loaded 2-core machine
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", ["ta-char-swap.v1", "ta-char-delete.v1", "nlpaug-keyboard.v1", "nlpaug-random-char.v1"])
def test_adapter_keeps_tone_marks_attached_and_labels(name: str, yoruba: list[Sentence]) -> None:
    p = make_perturbation(name, {"severity": 5})
    outs = [o for seed in range(5) for o in perturb_corpus(p, yoruba, seed=seed)]
    assert any(o.changed for o in outs)
    for o in outs:
        assert all(not starts_with_mark(t) for t in o.sentence.tokens)
    again = [o for seed in range(5) for o in perturb_corpus(p, yoruba, seed=seed)]
    assert outs == again


class _SplittingTransformation:
    """A fake textattack-like transformation that inserts a space (breaks the token)."""

    def __call__(self, attacked_text):  # type: ignore[no-untyped-def]
        class R:
            text = attacked_text.text[:1] + " " + attacked_text.text[1:]

        return [R()]


def test_textattack_adapter_raises_when_alignment_cannot_be_kept() -> None:
    p = make_perturbation("textattack.v1", {"transformation": _SplittingTransformation(), "severity": 5})
    s = Sentence("t/yor/0", "yor", ("Adé", "lọ"), ("B-PER", "O"))
    with pytest.raises(ConformanceError, match=r"textattack.v1.*not exactly one whitespace-free token"):
        p.perturb(s, np.random.default_rng(0))


def test_generic_adapters_need_a_component() -> None:
    with pytest.raises(ConfigError, match="needs a transformation"):
        make_perturbation("textattack.v1")
    with pytest.raises(ConfigError, match="needs an augmenter"):
        make_perturbation("nlpaug.v1")
    p = make_perturbation("textattack.v1", {"transformation": "NoSuchTransformation"})
    with pytest.raises(ConfigError, match="NoSuchTransformation"):
        p.perturb(Sentence("t/yor/0", "yor", ("Adéwálé",), ("B-PER",)), np.random.default_rng(0))
