"""`xner` subcommands that belong to the systems package (registered into harness.cli's app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main `xner` app."""
    app.command("project-eval")(project_eval)


def _read_extra(source: Path | None, target: Path | None) -> list[tuple[list[str], list[str]]]:
    from harness.errors import ConfigError, DataFormatError
    from systems.translators import simple_tokenize

    if source is None and target is None:
        return []
    if source is None or target is None:
        raise ConfigError("--extra-source and --extra-target must be given together (line-aligned parallel text)")
    for path in (source, target):
        if not path.is_file():
            raise ConfigError(f"parallel text file {str(path)!r} does not exist")
    src = source.read_text(encoding="utf-8").splitlines()
    tgt = target.read_text(encoding="utf-8").splitlines()
    if len(src) != len(tgt):
        raise DataFormatError(f"{len(src)} lines in {source} but {len(tgt)} lines in {target}; they must be line-aligned", path=target)
    pairs = [(simple_tokenize(s), simple_tokenize(t)) for s, t in zip(src, tgt, strict=True)]
    return [(s, t) for s, t in pairs if s and t]


def _target_ner_model(backbone: str, params: list[str], data_dir: Path | None) -> object:
    """A fitted multilingual ``direct-transfer`` tagger (cached like any run's) as target NER model."""
    from harness.cli import parse_params
    from harness.datasets import resolve_data_dir
    from harness.runner import route_cli_params
    from systems import make_system
    from systems.base import FitContext, default_cache_dir

    values: dict[str, object] = {"backbone": backbone}
    items = parse_params([f"direct-transfer.{item}" for item in params])
    values.update(route_cli_params(items, ["direct-transfer"], []).get("direct-transfer", {}))
    system: Any = make_system("direct-transfer", values)
    root = resolve_data_dir(data_dir)
    system.fit(FitContext(data_dir=root, target_dataset="europarl_ner", target_languages=(), seed=0,
                          cache_dir=default_cache_dir(), show_progress=True))
    return system.tagger


def project_eval(
    dataset: Annotated[str, typer.Argument(help="Parallel gold-NER dataset (europarl_ner).")] = "europarl_ner",
    method: Annotated[
        list[str] | None, typer.Option("--method", help="garcia, politov, ilp, ilp-greedy; repeatable; default all.")
    ] = None,
    aligner: Annotated[str, typer.Option("--aligner", help="Registered aligner: eflomal, simalign, embedding.")] = "eflomal",
    aligner_model: Annotated[str | None, typer.Option("--aligner-model", help="Encoder (local dir) for simalign/embedding.")] = None,
    layer: Annotated[
        list[int] | None,
        typer.Option("--layer", help="Encoder layer for simalign/embedding; repeat it to sweep layers and report the best."),
    ] = None,
    symmetrization: Annotated[str | None, typer.Option("--symmetrization", help="eflomal: grow-diag-final-and, intersection, ...")] = None,
    languages: Annotated[str, typer.Option("--languages", help="Comma-separated target languages.")] = "deu,spa,ita",
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N sentences.")] = None,
    extra_source: Annotated[Path | None, typer.Option("--extra-source", help="Extra English text for eflomal (one sentence a line).")] = None,
    extra_target: Annotated[Path | None, typer.Option("--extra-target", help="Its line-aligned translation.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Local data root (default $XNER_DATA_DIR).")] = None,
    target_ner_backbone: Annotated[
        str | None,
        typer.Option("--target-ner-backbone", help="Backbone of the direct-transfer target NER model for ilp-ner/ilp-fusion (e.g. e5-small)."),
    ] = None,
    target_ner_param: Annotated[
        list[str] | None, typer.Option("--target-ner-param", help="direct-transfer parameter key=value for that model; repeatable.")
    ] = None,
) -> None:
    """Project English gold spans onto each target language and score them (intrinsic evaluation)."""
    from rich.table import Table

    from harness.console import console, err_console

    from harness.errors import XnerError
    from systems.projection.evaluate import (
        NER_METHODS,
        PROJECTION_METHODS,
        best_layer_per_method,
        evaluate_projection,
        sweep_aligner_layers,
    )

    params: dict[str, object] = {}
    if aligner_model is not None:
        params["model"] = aligner_model
    if symmetrization is not None:
        params["symmetrization"] = symmetrization
    try:
        extra = _read_extra(extra_source, extra_target)
        chosen = list(method or [m for m in PROJECTION_METHODS if target_ner_backbone or m not in NER_METHODS])
        target_ner = _target_ner_model(target_ner_backbone, target_ner_param or [], data_dir) if target_ner_backbone else None
        options: dict[str, Any] = {
            "dataset": dataset, "languages": [lang.strip() for lang in languages.split(",") if lang.strip()],
            "data_dir": data_dir, "extra_parallel": extra, "limit": limit, "target_ner": target_ner,
        }
        if layer:
            results = sweep_aligner_layers(chosen, aligner, layer, aligner_params=params, **options)
        else:
            results = evaluate_projection(chosen, aligner, aligner_params=params, **options)
    except XnerError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    columns = ["lang", "method", "aligner", *(["layer"] if layer else []), "P", "R", "F1", "PER", "ORG", "LOC", "MISC", "proj_ratio", "sentences"]
    table = Table(*columns, title=f"projection of English gold spans, {dataset}")
    for r in results:
        per_type = [f"{100 * r.scores.per_type[t].f1:.1f}" if t in r.scores.per_type else "-" for t in ("PER", "ORG", "LOC", "MISC")]
        table.add_row(
            r.lang, r.method, r.aligner, *([str(r.layer)] if layer else []), f"{100 * r.scores.precision:.1f}",
            f"{100 * r.scores.recall:.1f}", f"{100 * r.scores.f1:.1f}", *per_type, f"{r.proj_ratio:.3f}", str(r.sentences),
        )
    console.print(table)
    if layer and len(set(layer)) > 1:
        best = Table("method", "best layer", "mean F1 over languages", title="best aligner layer per method (ties: lower layer)")
        for method_name, (best_layer, mean_f1) in best_layer_per_method(results).items():
            best.add_row(method_name, str(best_layer), f"{100 * mean_f1:.1f}")
        console.print(best)
