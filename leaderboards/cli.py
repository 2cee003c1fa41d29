"""`xner` subcommands that belong to the leaderboards package (registered into harness.cli's app).

``xner submit system|predictions``, ``xner export-suite``, ``xner leaderboard`` and ``xner report``.
Each parses options, calls the library, prints with rich; user errors exit with code 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.errors import XnerError
from harness.store import DEFAULT_STORE

submit_app = typer.Typer(help="Submit a system or a predictions directory to a suite's leaderboard.", no_args_is_help=True)

StoreOption = Annotated[Path, typer.Option("--store", help="Result store (SQLite).")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local data root (<dataset>/<lang>/<split>.txt).")]
SuiteOption = Annotated[str, typer.Option("--suite", help="Bundled suite name or path to a suite TOML file.")]
MetaOption = Annotated[Path, typer.Option("--meta", help="Submission metadata (TOML: name, version, authors, url, ...).")]
LanguagesOption = Annotated[str | None, typer.Option(help="Comma-separated ISO 639-3 codes (default: the suite's).")]
AttacksOption = Annotated[str | None, typer.Option(help="Comma-separated perturbations (default: the suite's).")]
MaxSentencesOption = Annotated[int | None, typer.Option(help="Score only the first N sentences per language.")]


def _console():  # type: ignore[no-untyped-def]
    from harness.cli import console

    return console


def _fail(message: str) -> typer.Exit:
    from harness.cli import fail

    return fail(message)


def _csv(value: str | None) -> list[str] | None:
    from harness.cli import split_csv

    return split_csv(value)


def _attacks(value: str | None) -> list[str] | None:
    return None if value is None else (_csv(value) or [])


@submit_app.command("system")
def submit_system_command(
    name: Annotated[str, typer.Argument(help="Entry point in group xner_bench.systems, module:Class, or a .py file[:Class].")],
    suite: SuiteOption,
    meta: MetaOption,
    languages: LanguagesOption = None,
    attacks: AttacksOption = None,
    max_sentences: MaxSentencesOption = None,
    batch_size: Annotated[int, typer.Option(help="Sentences per predict call.")] = 128,
    batch_timeout: Annotated[float, typer.Option(help="Seconds allowed per predict batch before the worker is stopped.")] = 120.0,
    pythonpath: Annotated[list[Path] | None, typer.Option("--pythonpath", help="Extra import path for the worker (repeatable).")] = None,
    data_dir: DataDirOption = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Run a submitted system on a suite out of process and record it on the leaderboard."""
    from harness.manifest import load_suite
    from harness.store import ResultStore
    from leaderboards.submissions import load_meta, submit_system

    console = _console()
    try:
        spec = load_suite(suite)
        submission_meta = load_meta(meta)
        with ResultStore(store) as result_store:
            result = submit_system(
                result_store, spec, name, submission_meta, data_dir=data_dir, languages=_csv(languages),
                attacks=_attacks(attacks), max_sentences=max_sentences, batch_size=batch_size,
                batch_timeout=batch_timeout, pythonpath=[str(p) for p in pythonpath or []], report=console.print,
            )
    except XnerError as exc:
        raise _fail(str(exc)) from None
    verb = "recorded" if result.created else "already recorded (no change)"
    console.print(f"{result.name}: {verb} as submission {result.submission_id}, run {result.run_id}")


@submit_app.command("predictions")
def submit_predictions_command(
    directory: Annotated[Path, typer.Argument(help="Predictions tree in the layout written by `xner export-suite`.")],
    suite: SuiteOption,
    meta: MetaOption,
    languages: LanguagesOption = None,
    attacks: AttacksOption = None,
    max_sentences: MaxSentencesOption = None,
    data_dir: DataDirOption = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Validate CoNLL predictions for a suite's test sets and record them on the leaderboard."""
    from harness.manifest import load_suite
    from harness.store import ResultStore
    from leaderboards.submissions import load_meta, submit_predictions

    console = _console()
    try:
        spec = load_suite(suite)
        submission_meta = load_meta(meta)
        with ResultStore(store) as result_store:
            result = submit_predictions(
                result_store, spec, directory, submission_meta, data_dir=data_dir, languages=_csv(languages),
                attacks=_attacks(attacks), max_sentences=max_sentences, report=console.print,
            )
    except XnerError as exc:
        raise _fail(str(exc)) from None
    verb = "recorded" if result.created else "already recorded (no change)"
    console.print(f"{result.name}: {verb} as submission {result.submission_id}, run {result.run_id}")


def export_suite_command(
    suite: Annotated[str, typer.Argument(help="Bundled suite name or path to a suite TOML file.")],
    out: Annotated[Path, typer.Argument(help="Directory to write the test sets to.")],
    languages: LanguagesOption = None,
    attacks: AttacksOption = None,
    max_sentences: MaxSentencesOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write a suite's clean and perturbed test sets (tokens only, fixed seeds) for outside systems."""
    from harness.manifest import load_suite
    from leaderboards.exports import export_suite
    from leaderboards.submissions import inputs_manifest

    try:
        manifest = inputs_manifest(
            load_suite(suite), data_dir=data_dir, languages=_csv(languages), attacks=_attacks(attacks), max_sentences=max_sentences,
        )
        written = export_suite(manifest, out, data_dir=data_dir)
    except XnerError as exc:
        raise _fail(str(exc)) from None
    _console().print(
        f"wrote {len(written) - 1} test set(s) and {written[-1].name} to {out}; replace the O column with your "
        f"predictions and run `xner submit predictions {out} --suite {suite} --meta meta.toml`"
    )


def leaderboard_command(
    suite: Annotated[str, typer.Argument(help="Suite name (as stored with its runs).")],
    format: Annotated[str, typer.Option("--format", help="terminal, md, csv or html.")] = "terminal",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    view: Annotated[str | None, typer.Option(help="overall, language or type (default: overall; Markdown: every view).")] = None,
    rank_by: Annotated[str, typer.Option(help="auto, clean, perturbed, worst or robustness.")] = "auto",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Render a suite's leaderboard: clean, perturbed and worst-case F1 with paired-bootstrap ranks."""
    from harness.store import ResultStore
    from leaderboards.board import build_board
    from leaderboards.render import VIEWS, render, to_rich

    if format not in ("terminal", "md", "csv", "html"):
        raise _fail(f"--format must be terminal, md, csv or html; got {format!r}")
    if view is not None and view not in VIEWS:
        raise _fail(f"--view must be one of {', '.join(VIEWS)}; got {view!r}")
    if not store.exists():
        raise _fail(f"no result store at {store}; run `xner run {suite}` or `xner submit` first, or pass --store")
    if resamples < 1:
        raise _fail(f"--resamples must be an int ≥ 1, got {resamples}")
    if out is not None and out.is_dir():
        raise _fail(f"--out {str(out)!r} is a directory; give a file path")
    suite_name = _suite_name(suite)
    try:
        with ResultStore(store) as result_store:
            board = build_board(result_store, suite_name, rank_by=rank_by, resamples=resamples)
    except XnerError as exc:
        raise _fail(str(exc)) from None
    console = _console()
    if format == "terminal":
        if out is not None:
            from rich.console import Console

            with out.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=200, highlight=False).print(to_rich(board, view or "overall"))
        else:
            console.print(to_rich(board, view or "overall"))
        return
    text = render(board, format, view)
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
        console.print(f"wrote {out}")


def report_command(
    suite: Annotated[str, typer.Argument(help="Suite name (as stored with its runs).")],
    out: Annotated[Path, typer.Option("--out", help="Report file (.html or .md).")] = Path("report.html"),
    format: Annotated[str | None, typer.Option("--format", help="html or md (default: from --out's extension).")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples for intervals.")] = 1000,
    worst_sentences: Annotated[int, typer.Option(help="Rows in the worst-hit sentences table.")] = 10,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write a robustness report with plots (F1 vs severity, ΔF1 heatmap, recall drops, worst-hit sentences)."""
    from harness.store import ResultStore
    from leaderboards.report import write_report

    if format is None and out.suffix not in (".html", ".htm", ".md"):
        raise _fail(f"--out {str(out)!r}: cannot tell the format from {out.suffix or 'no extension'!r}; use .html or .md, or pass --format")
    fmt = format or ("md" if out.suffix == ".md" else "html")
    if fmt not in ("html", "md"):
        raise _fail(f"--format must be html or md; got {fmt!r}")
    if out.is_dir():
        raise _fail(f"--out {str(out)!r} is a directory; give a file path, e.g. {str(out / ('report.' + fmt))!r}")
    if resamples < 1:
        raise _fail(f"--resamples must be an int ≥ 1, got {resamples}")
    if not store.exists():
        raise _fail(f"no result store at {store}; run `xner run {suite}` first, or pass --store")
    try:
        with ResultStore(store) as result_store:
            written = write_report(result_store, _suite_name(suite), out, fmt=fmt, resamples=resamples, worst_sentences=worst_sentences)
    except XnerError as exc:
        raise _fail(str(exc)) from None
    _console().print(f"wrote {', '.join(str(p) for p in written)}")


def _suite_name(suite: str) -> str:
    """Accept a suite file path as well as a name: boards are keyed by the suite's name."""
    path = Path(suite)
    if path.suffix == ".toml" and path.is_file():
        from harness.manifest import load_suite

        return load_suite(suite).name
    return suite


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main `xner` app."""
    app.add_typer(submit_app, name="submit")
    app.command("export-suite")(export_suite_command)
    app.command("leaderboard")(leaderboard_command)
    app.command("report")(report_command)
