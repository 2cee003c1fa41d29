"""`xner` subcommands that belong to the systems package (registered into harness.cli's app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


def project_eval(
    dataset: Annotated[str, typer.Argument(help="Parallel gold-NER dataset (europarl_ner).")] = "europarl_ner",
    method: Annotated[
        list[str] | None, typer.Option("--method", help="garcia, politov, ilp, ilp-greedy; repeatable; default all.")
    ] = None,
    aligner: Annotated[str, typer.Option("--aligner", help="Registered aligner: eflomal, simalign, embedding.")] = "eflomal",
    aligner_model: Annotated[str | None, typer.Option("--aligner-model", help="Encoder (local dir) for simalign/embedding.")] = None,
    layer: Annotated[int | None, typer.Option("--layer", help="Encoder layer for simalign/embedding.")] = None,
    symmetrization: Annotated[str | None, typer.Option("--symmetrization", help="eflomal: grow-diag-final-and, intersection, ...")] = None,
    languages: Annotated[str, typer.Option("--languages", help="Comma-separated target languages.")] = "deu,spa,ita",
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N sentences.")] = None,
    extra_source: Annotated[Path | None, typer.Option("--extra-source", help="Extra English text for eflomal (one sentence a line).")] = None,
    extra_target: Annotated[Path | None, typer.Option("--extra-target", help="Its line-aligned translation.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Local data root (default $XNER_DATA_DIR).")] = None,
) -> None:
    """Project English gold spans onto each target language and score them (intrinsic evaluation)."""
    from rich.table import Table

    from harness.console import console, err_console

    from harness.errors import XnerError
    from systems.projection.evaluate import PROJECTION_METHODS, evaluate_projection

    params: dict[str, object] = {}
    if aligner_model is not None:
        params["model"] = aligner_model
    if layer is not None:
        params["layer"] = layer
    if symmetrization is not None:
        params["symmetrization"] = symmetrization
    try:
        extra = _read_extra(extra_source, extra_target)
        results = evaluate_projection(
            list(method or PROJECTION_METHODS), aligner, dataset=dataset,
            languages=[lang.strip() for lang in languages.split(",") if lang.strip()], data_dir=data_dir,
            extra_parallel=extra, limit=limit, aligner_params=params,
        )
    except XnerError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    table = Table("lang", "method", "aligner", "P", "R", "F1", "PER", "ORG", "LOC", "MISC", "proj_ratio", "sentences", title=f"projection of English gold spans, {dataset}")
    for r in results:
        per_type = [f"{100 * r.scores.per_type[t].f1:.1f}" if t in r.scores.per_type else "-" for t in ("PER", "ORG", "LOC", "MISC")]
        table.add_row(
            r.lang, r.method, r.aligner, f"{100 * r.scores.precision:.1f}", f"{100 * r.scores.recall:.1f}",
            f"{100 * r.scores.f1:.1f}", *per_type, f"{r.proj_ratio:.3f}", str(r.sentences),
        )
    console.print(table)
