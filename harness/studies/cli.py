"""``xner study`` and ``xner studies`` (registered into harness.cli's app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.errors import XnerError
from harness.store import DEFAULT_STORE

DEFAULT_OUT = Path("xner-results") / "studies"


def study(
    name: Annotated[str | None, typer.Argument(help="Bundled study name (xner studies) or path to a study TOML.")] = None,
    all_studies: Annotated[bool, typer.Option("--all", help="Every bundled study, plus an index.")] = False,
    languages: Annotated[str | None, typer.Option(help="Comma-separated ISO 639-3 codes (overrides the profile).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds (overrides the profile), e.g. 0,1,2.")] = None,
    profile: Annotated[str | None, typer.Option(help="Grid profile: cpu (default when declared) or paper.")] = None,
    out: Annotated[Path, typer.Option(help="Directory for <study>.md (+ PNGs) and <study>.html.")] = DEFAULT_OUT,
    report_only: Annotated[bool, typer.Option("--report-only", help="Only render from stored results; run nothing.")] = False,
    only: Annotated[str | None, typer.Option(help="Comma-separated variants or systems to run now (e.g. direct-transfer); the rest are only looked up.")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    trials: Annotated[int, typer.Option(help="Approximate-randomisation trials.")] = 2000,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Local data root (<dataset>/<lang>/<split>.txt).")] = None,
    store: Annotated[Path, typer.Option("--store", help="Result store (SQLite).")] = DEFAULT_STORE,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Answer a research question: run or reuse its grid, then write the report with significance."""
    from rich.markup import escape

    from harness.cli import fail, split_csv
    from harness.console import console, err_console
    from harness.store import ResultStore
    from harness.studies import available_studies, load_study
    from harness.studies.analysis import analyse
    from harness.studies.run import run_study
    from leaderboards.study_report import answer, write_index, write_study_report

    if all_studies == (name is not None):
        raise fail("give a study NAME or --all (not both); `xner studies` lists them")
    if all_studies and only:
        raise fail("--only names variants of one study; give a study NAME with it, not --all")
    if report_only and not store.exists():
        raise fail(f"no result store at {store}; run the study first or pass --store")
    try:
        seed_list = [int(x) for x in split_csv(seeds) or []]
    except ValueError:
        raise fail(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    try:
        specs = [load_study(n) for n in (available_studies() if all_studies else [name or ""])]
        results = []
        with ResultStore(store) as result_store:
            for spec in specs:
                console.print(f"study [bold]{escape(spec.name)}[/]: {escape(spec.question)}")
                for note in spec.notes:
                    err_console.print(f"[yellow]note[/] {escape(note)}")
                try:
                    run = run_study(
                        spec, result_store, profile=profile, languages=split_csv(languages), seeds=seed_list or None,
                        data_dir=data_dir,
                        report_only=report_only, only=split_csv(only), report=lambda line: console.print(escape(line)), progress=progress,
                    )
                except KeyboardInterrupt:
                    err_console.print("[yellow]interrupted[/]: finished cells are stored; rerun the same command to resume.")
                    raise typer.Exit(130) from None
                result = analyse(result_store, run, resamples=resamples, trials=trials)
                results.append(result)
                for path in write_study_report(result, out):
                    if path.suffix in (".md", ".html"):
                        console.print(f"wrote {escape(str(path))}")
                console.print(f"[bold]answer[/]: {escape(answer(result))}")
        if all_studies:
            for path in write_index(results, out):
                console.print(f"wrote {path}")
    except XnerError as exc:
        raise fail(str(exc)) from None


def studies() -> None:
    """List bundled studies with their questions and profiles."""
    from rich.table import Table

    from harness.console import console
    from harness.studies import available_studies, load_study

    table = Table("name", "question", "systems", "profiles", "comparisons")
    for name in available_studies():
        spec = load_study(name)
        table.add_row(
            name, spec.question, ",".join(s.id for s in spec.systems), ",".join(spec.profiles),
            ",".join(f"{c.id} ({c.kind})" for c in spec.comparisons),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("study")(study)
    app.command("studies")(studies)
