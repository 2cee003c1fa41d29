"""Property-based conformance of every registered perturbation (attacks.conformance).

The default number of hypothesis examples per perturbation is small to keep CI fast; set
XNER_HYPOTHESIS_EXAMPLES=10000 to run the full check before changing a perturbation (not part of CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attacks import BUILTIN_PERTURBATIONS, make_perturbation
from attacks.conformance import check_perturbation

EXAMPLES = int(os.environ.get("XNER_HYPOTHESIS_EXAMPLES", "200"))
ADAPTER_EXAMPLES = int(os.environ.get("XNER_HYPOTHESIS_EXAMPLES", "60"))
# Generic adapters need a component; their registered instances cover them.
GENERIC = {"textattack.v1", "nlpaug.v1"}
# adversarial.v1 searches against a system (no system here); tests/attacks/test_adversarial.py covers it.
NAMES = sorted(set(BUILTIN_PERTURBATIONS) - GENERIC - {"adversarial.v1"})
LEXICON = {"lọ": "go", "sí": "to", "ní": "in", "na": "and", "ya": "of", "wa": "come", "kuma": "and"}


def _build(name: str, severity: int, tmp_path: Path):  # type: ignore[no-untyped-def]
    params: dict[str, object] = {"severity": severity}
    if name == "code-switch.v1":
        lex = tmp_path / "lex.tsv"
        lex.write_text("".join(f"{k}\t{v}\n" for k, v in LEXICON.items()), encoding="utf-8")
        params["lexicon"] = str(lex)
    return make_perturbation(name, params)


@pytest.mark.parametrize("name", NAMES)
def test_check_perturbation_invariant_holds(name: str, tmp_path: Path) -> None:
    adapter = BUILTIN_PERTURBATIONS[name].startswith("attacks.adapters:")
    n = ADAPTER_EXAMPLES if adapter else EXAMPLES
    report = check_perturbation(_build(name, 4, tmp_path), max_examples=n, vocabulary=tuple(LEXICON))
    assert report.examples == n
    assert report.changed > 0, f"{name} never changed any of {report.sentences} generated sentences"
