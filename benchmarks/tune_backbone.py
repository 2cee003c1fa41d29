"""Choose CPU training settings for a pretrained backbone on CoNLL-2003 dev (not a test: a measurement).

Each configuration fine-tunes on the first ``--train`` CoNLL-2003 English training sentences for a
fixed number of optimiser steps and reports dev F1 (first ``--dev`` dev sentences) and wall time.
The chosen defaults live in ``systems/backbones/sources.py`` (``BACKBONE_DEFAULTS``); the table this
prints is in ``benchmarks/README.md``.

    python benchmarks/tune_backbone.py --backbone e5-small --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

CONFIGS = [
    # (name, overrides of train_tagger settings)
    ("lr 2e-4, emb frozen", {"lr": 2e-4, "freeze_layers": 0}),
    ("lr 2e-4, emb frozen, bf16", {"lr": 2e-4, "freeze_layers": 0, "bf16": True}),
    ("lr 1e-4, emb frozen", {"lr": 1e-4, "freeze_layers": 0}),
    ("lr 5e-4, emb frozen", {"lr": 5e-4, "freeze_layers": 0}),
    ("lr 5e-5, all trained", {"lr": 5e-5, "freeze_layers": -1}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="e5-small")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--dev", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=125)
    parser.add_argument("--only", default="", help="comma-separated config indices")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    from harness.conll import read_conll
    from harness.metrics import score_corpus
    from systems.backbones import train_tagger

    root = args.data_dir / "conll2003" / "eng"
    train = read_conll(root / "train.txt", lang="eng", id_prefix="conll2003/eng/train")[0][: args.train]
    dev = read_conll(root / "dev.txt", lang="eng", id_prefix="conll2003/eng/dev")[0][: args.dev]
    labels = ["LOC", "MISC", "ORG", "PER"]
    chosen = {int(i) for i in args.only.split(",") if i} or set(range(len(CONFIGS)))
    for index, (name, overrides) in enumerate(CONFIGS):
        if index not in chosen:
            continue
        start = time.monotonic()
        tagger = train_tagger(
            train, labels=labels, backbone=args.backbone, dev=None, epochs=1, max_steps=args.steps,
            cache_dir=args.cache_dir, show_progress=False, **overrides,
        )
        seconds = time.monotonic() - start
        f1 = score_corpus([s.tags for s in dev], tagger.predict(dev)).f1
        print(json.dumps({"config": name, "dev_f1": round(100 * f1, 2), "steps": tagger.info["steps"],
                          "train_seconds": tagger.info["train_seconds"], "wall_seconds": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main()
