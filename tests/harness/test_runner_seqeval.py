"""The runner's stored counts equal seqeval's strict IOB2 mode on real data (issue 12, item 22).

``tests/harness/test_metrics.py`` compares ``score_corpus`` with seqeval; the runner scores with
``count_sentence`` per sentence, so this test compares what the runner *stores* (per cell, per
entity type and micro) with seqeval run on the gold and predicted tags stored beside them.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from harness.manifest import parse_suite
from harness.metrics import SpanCounts
from harness.runner import Runner, build_manifest
from harness.store import ResultStore

seqeval_v1 = pytest.importorskip("seqeval.metrics.v1")
from seqeval.scheme import IOB2  # noqa: E402


def test_runner_stored_counts_equal_seqeval_strict_on_real_files(tmp_path: Path, data_dir: Path) -> None:
    suite = parse_suite({
        "name": "seqeval-check", "systems": ["gazetteer"],
        "system_params": {"gazetteer": {"train": "masakhaner2/{target}/train", "case_fold": True}},
        "datasets": [{"name": "masakhaner2", "split": "test", "languages": ["hau", "yor", "swa", "ibo"]}],
        "perturbations": [{"name": "char-typos.v1", "severity": 3}],
    })
    with ResultStore(tmp_path / "s.sqlite") as store:
        manifest = build_manifest(suite, data_dir=data_dir)
        summary = Runner(manifest, store, data_dir=data_dir, bootstrap_resamples=10).run()
        assert not summary.failed and len(summary.computed) == 8
        for key in summary.computed:
            rows = store.execute(
                "SELECT gold, pred FROM sentence_results WHERE run_id=? AND system=? AND lang=? AND perturbation=? "
                "AND params_hash=? ORDER BY position",
                (key.run_id, key.system, key.lang, key.perturbation, key.params_hash),
            )
            gold = [json.loads(r["gold"]) for r in rows]
            pred = [json.loads(r["pred"]) for r in rows]
            stored = store.counts(key)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, r, f, _ = seqeval_v1.precision_recall_fscore_support(gold, pred, average="micro", scheme=IOB2, zero_division=0)
                pt, rt, ft, st = seqeval_v1.precision_recall_fscore_support(gold, pred, average=None, scheme=IOB2, zero_division=0)
                labels = sorted(seqeval_v1.unique_labels(gold, pred, IOB2, suffix=False))
            micro = stored["ALL"]
            assert micro.tp > 0, key
            assert (micro.precision, micro.recall, micro.f1) == pytest.approx((p, r, f), abs=1e-12), key
            for i, label in enumerate(labels):
                counts = stored.get(label, SpanCounts())
                assert (counts.precision, counts.recall, counts.f1) == pytest.approx((pt[i], rt[i], ft[i]), abs=1e-12), (key, label)
                assert counts.support == st[i], (key, label)
