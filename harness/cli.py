"""The ``xner`` command line: a thin builder of run manifests over the library.

User errors (unknown names, bad files, missing data) print one clear message and exit with code 2;
tracebacks are reserved for bugs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

# Hub lookups fail at once instead of retrying for ~23 s when there is no network; users with a
# network and a reason to download can export HF_HUB_OFFLINE=0.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from harness.console import console, err_console  # noqa: E402
from harness.errors import ConfigError, XnerError  # noqa: E402
from harness.store import DEFAULT_STORE  # noqa: E402

app = typer.Typer(
    name="xner",
    help="xner-bench: robustness evaluation of cross-lingual NER systems in low-resource languages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Local data root (<dataset>/<lang>/<split>.txt); default $XNER_DATA_DIR, else the hub."),
]
StoreOption = Annotated[Path, typer.Option("--store", help="Result store (SQLite).")]


def fail(message: str) -> typer.Exit:
    """Print a user-facing error and return the exit to raise.

    The message is printed literally: it may quote data (a token ``[red]x[/red]``), which must
    never be read as Rich markup.
    """
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def say(line: str) -> None:
    """Print one progress line literally (it names user data: tokens, files, parameters)."""
    console.print(line, markup=False, soft_wrap=True)


def open_existing_store(path: Path) -> Any:
    """Open a result store that must already exist (reading commands never create one)."""
    from harness.store import ResultStore

    if not path.exists():
        raise fail(f"no result store at {path}; run `xner run` first or pass --store")
    return ResultStore(path)


def split_csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def parse_params(items: list[str] | None) -> list[tuple[str, str]]:
    """``target.key=value`` items → ``[("target.key", "value")]``.

    The target (a system or perturbation of the run) and the value's type are resolved later,
    from the run's components and their signatures (``harness.runner.route_cli_params``).
    """
    out: list[tuple[str, str]] = []
    for item in items or []:
        target, sep, raw = item.partition("=")
        owner, dot, key = target.rpartition(".")
        if not sep or not dot or not owner or not key:
            raise XnerError(f"--param {item!r} must look like system.key=value (e.g. gazetteer.case_fold=true)")
        out.append((target.strip(), raw))
    return out


def split_resource_pairs(pairs: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    """``--param`` pairs minus the scheduling hints (``SYSTEM.num_cpus``/``num_gpus``), and those hints.

    The hints say where a fit runs (Ray), not what it computes: they never reach a system.

    >>> split_resource_pairs([("direct-transfer.num_gpus", "1"), ("gazetteer.case_fold", "true")])
    ([('gazetteer.case_fold', 'true')], {'direct-transfer': {'num_gpus': 1.0}})
    """
    from harness.executors import RESOURCE_PARAMS

    rest: list[tuple[str, str]] = []
    hints: dict[str, dict[str, Any]] = {}
    for target, raw in pairs:
        owner, _, key = target.rpartition(".")
        if key not in RESOURCE_PARAMS:
            rest.append((target, raw))
            continue
        try:
            hints.setdefault(owner, {})[key] = float(raw)
        except ValueError:
            raise XnerError(f"--param {target}={raw} must be a non-negative number") from None
    return rest, hints


def parse_seeds(value: str | None) -> list[int] | None:
    """``"0,1,2"`` → ``[0, 1, 2]``; anything else is a one-line error naming the bad item."""
    items = split_csv(value)
    if items is None:
        if value is not None:
            raise XnerError(f"--seeds {value!r} lists no seed; give comma-separated integers, e.g. --seeds 0,1,2")
        return None
    seeds = []
    for item in items:
        try:
            seeds.append(int(item))
        except ValueError:
            raise XnerError(f"--seeds must be comma-separated integers (e.g. 0,1,2); {item!r} is not an integer") from None
        if seeds[-1] < 0:
            raise XnerError(f"--seeds must be integers ≥ 0 (random generators take no negative seed); got {item}")
    if len(set(seeds)) != len(seeds):
        raise XnerError(f"--seeds lists a seed twice: {value}")
    return seeds


@app.command()
def run(
    suite: Annotated[str, typer.Argument(help="Bundled suite name or path to a suite TOML file.")] = "smoke",
    systems: Annotated[str | None, typer.Option(help="Comma-separated systems (overrides the suite).")] = None,
    attacks: Annotated[str | None, typer.Option(help="Comma-separated perturbations (overrides the suite; '' for none).")] = None,
    languages: Annotated[str | None, typer.Option(help="Comma-separated ISO 639-3 codes (default: all present).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds.")] = None,
    backbone: Annotated[str | None, typer.Option(help="Encoder for every system that has one: 'offline', a hub name or a path.")] = None,
    aligner: Annotated[str | None, typer.Option(help="Word aligner for projection systems (e.g. eflomal, simalign).")] = None,
    translator: Annotated[str | None, typer.Option(help="Translator for projection systems: nllb (default) or lexical (offline).")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="system.key=value, repeatable.")] = None,
    max_sentences: Annotated[int | None, typer.Option(help="Evaluate only the first N sentences per language (quick looks).")] = None,
    batch_size: Annotated[int, typer.Option(help="Sentences per predict call.")] = 128,
    isolate: Annotated[bool, typer.Option("--isolate", help="Run each system in a worker process: a system that exits, crashes or hangs fails only its own cells.")] = False,
    batch_timeout: Annotated[float, typer.Option(help="With --isolate: seconds allowed per predict batch before the worker is stopped.")] = 120.0,
    data_dir: DataDirOption = None,
    store: StoreOption = DEFAULT_STORE,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    executor: Annotated[str | None, typer.Option(help="Where cells run: local (default) or ray (the suite's `executor` otherwise).")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Join a Ray cluster: auto or HOST:PORT (default: start Ray on this machine).")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Trained artefacts (default $XNER_CACHE_DIR); a path every Ray node shares.")] = None,
) -> None:
    """Run a suite: every system on every language, clean and under every perturbation."""
    import dataclasses

    from harness.executors import make_executor, split_resource_params
    from harness.manifest import load_suite
    from harness.manifest import variant_label
    from harness.runner import Runner, build_manifest
    from harness.store import ResultStore

    try:
        spec = load_suite(suite)
        # num_cpus / num_gpus say where a fit runs, not what it computes: not system parameters.
        suite_params, suite_resources = split_resource_params(spec.system_params)
        cli_params, cli_resources = split_resource_pairs(parse_params(param))
        spec = dataclasses.replace(spec, system_params=suite_params)
        resources = {name: {**suite_resources.get(name, {}), **cli_resources.get(name, {})} for name in {*suite_resources, *cli_resources}}
        chosen_executor = make_executor(
            executor or spec.executor, address=ray_address, resources=resources, progress=progress, report=console.print
        )
        if cache_dir is not None:
            # Also read by components that do not get a FitContext, and inherited by local Ray workers.
            os.environ["XNER_CACHE_DIR"] = str(cache_dir.resolve())
        shared: dict[str, Any] = {}
        for option, value in (("--systems", systems), ("--languages", languages)):
            if value is not None and split_csv(value) is None:
                raise XnerError(f"{option} {value!r} lists nothing; leave it out to use the suite's, or name at least one")
        for shared_name, value in (("backbone", backbone), ("aligner", aligner), ("translator", translator)):
            if value is not None and not value.strip():
                raise XnerError(f"--{shared_name} is empty; leave it out for each system's default, or name one")
            if value:
                shared[shared_name] = value.strip()
        attack_list = None if attacks is None else (split_csv(attacks) or [])
        manifest = build_manifest(
            spec,
            data_dir=data_dir,
            systems=split_csv(systems),
            attacks=attack_list,
            languages=split_csv(languages),
            seeds=parse_seeds(seeds),
            shared_params=shared,
            cli_params=cli_params,
            max_sentences=max_sentences,
            report=say,
        )
        if batch_size < 1:
            raise XnerError(f"--batch-size must be an int ≥ 1, got {batch_size}")
        if not batch_timeout > 0:
            raise XnerError(f"--batch-timeout must be > 0 seconds, got {batch_timeout:g}")
        perturbation_names = ",".join(variant_label(p, manifest.perturbations) for p in manifest.perturbations)
        say(
            f"run {manifest.run_id} suite={manifest.suite} systems={','.join(s.name for s in manifest.systems)} "
            f"languages={','.join(l for d in manifest.datasets for l in d.languages)} "
            f"perturbations={perturbation_names or 'none'} store={store}"
        )
        with ResultStore(store) as result_store:
            runner = Runner(
                manifest, result_store, data_dir=data_dir, batch_size=batch_size, report=say, progress=progress,
                cache_dir=None if cache_dir is None else cache_dir.resolve(), executor=chosen_executor,
                isolate_timeout=batch_timeout if isolate else None,
            )
            try:
                summary = runner.run()
            except KeyboardInterrupt:
                err_console.print("[yellow]interrupted[/]: finished cells are stored; rerun the same command to resume.")
                raise typer.Exit(130) from None
    except XnerError as exc:
        raise fail(str(exc)) from None
    say(
        f"done: {len(summary.computed)} computed, {len(summary.reused)} already stored, "
        f"{len(summary.skipped)} skipped, {len(summary.failed)} failed (run {summary.run_id})"
    )
    if summary.failed:
        for key, message in summary.failed[:10]:
            err_console.print(f"[red]failed[/] {escape(runner.cell_label(key))}: {escape(message)}", soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def datasets(data_dir: DataDirOption = None) -> None:
    """List registered datasets and the languages present locally."""
    from harness.datasets import DATASETS, languages as dataset_languages

    table = Table("name", "version", "kind", "labels", "languages present", "license")
    for spec in DATASETS.values():
        try:
            present = ", ".join(dataset_languages(spec.name, data_dir=data_dir))
        except XnerError:
            present = f"(hub: {spec.hub_id})" if spec.hub_id else "(needs --data-dir)"
        table.add_row(spec.name, spec.version, spec.kind, ",".join(sorted(spec.labels)), present, spec.license)
    console.print(table)


@app.command("systems")
def list_systems() -> None:
    """List registered systems with their parameters."""
    import inspect

    from systems import SYSTEMS

    table = Table("name", "target", "parameters")
    for name in SYSTEMS.names():
        target = SYSTEMS.target(name)
        try:
            factory = SYSTEMS.get(name)
            params = ", ".join(
                f"{p.name}={p.default!r}" for p in inspect.signature(factory).parameters.values()
                if p.default is not inspect.Parameter.empty
            )
        except XnerError as exc:
            params = f"[red]unavailable: {exc}[/]"
        table.add_row(name, str(target), params)
    console.print(table)


@app.command()
def suites() -> None:
    """List bundled suites."""
    from harness.manifest import available_suites, load_suite

    table = Table("name", "systems", "datasets", "perturbations", "description")
    for name in available_suites():
        spec = load_suite(name)
        table.add_row(
            name, ",".join(spec.systems), ",".join(f"{d}/{s}" for d, s, _ in spec.datasets),
            ",".join(p.name for p in spec.perturbations), spec.description,
        )
    console.print(table)


@app.command()
def results(
    suite: Annotated[str | None, typer.Option(help="Only runs of this suite.")] = None,
    system: Annotated[str | None, typer.Option(help="Only this system.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only this language.")] = None,
    perturbation: Annotated[str | None, typer.Option(help="Only this perturbation ('none' = clean).")] = None,
    entity_type: Annotated[str, typer.Option(help="Entity type, or ALL for micro totals.")] = "ALL",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Show stored scores (F1/P/R derived from counts) with filters."""

    with open_existing_store(store) as result_store:
        frame = result_store.scores_frame(system=system, lang=lang, perturbation=perturbation, entity_type=entity_type)
        failures = result_store.cells(status="failed", system=system, lang=lang)
        reports = result_store.fit_reports(system=system)
        names = result_store.variant_names()
    if suite is not None:
        frame = frame[frame["suite"] == suite]
    if frame.empty:
        console.print("no stored results match")
    else:
        table = Table("suite", "system", "dataset", "lang", "perturbation", "seed", "type", "P", "R", "F1", "TP", "FP", "FN", "run")
        for row in frame.sort_values(["suite", "system", "dataset", "lang", "perturbation", "seed"]).itertuples():
            table.add_row(
                row.suite, escape(row.system), row.dataset, row.lang, escape(names.get((row.perturbation, row.params_hash), row.perturbation)),
                str(row.seed), row.entity_type,
                f"{100 * row.precision:.2f}", f"{100 * row.recall:.2f}", f"{100 * row.f1:.2f}",
                str(row.tp), str(row.fp), str(row.fn), row.run_id,
            )
        console.print(table)
    for row in reports:
        console.print(f"fit report of {row['system']} on {row['dataset']} (seed {row['seed']}, run {row['run_id']}): {json.dumps(row['report'], ensure_ascii=False)}")
    for cell in failures:
        err_console.print(f"[red]failed[/] {escape(cell.key.label())} (run {cell.key.run_id}): {escape(str(cell.error))}")


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Output file, .csv or .parquet.")],
    table: Annotated[str, typer.Option(help="scores, robustness or sentences.")] = "scores",
    system: Annotated[str | None, typer.Option()] = None,
    lang: Annotated[str | None, typer.Option()] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Export stored results to CSV or Parquet."""

    try:
        with open_existing_store(store) as result_store:
            path = result_store.export(out, table=table, system=system, lang=lang)
    except XnerError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {path}")


@app.command()
def bundle(
    out: Annotated[Path, typer.Argument(help="Output file, .jsonl.gz.")],
    suite: Annotated[list[str] | None, typer.Option(help="Runs of this suite (repeatable), e.g. study:projection-vs-ts-single.v1.")] = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="This run id (repeatable; the first characters suffice).")] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write stored results without their text (counts, not tokens or tags) to share or commit; see `xner merge`."""
    from harness.bundle import write_bundle

    try:
        with open_existing_store(store) as result_store:
            summary = write_bundle(result_store, out, suites=suite or (), run_ids=run or ())
    except XnerError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {summary.path}: {summary.runs} runs, {summary.cells} cells, {summary.sentences} sentence rows (no text)", soft_wrap=True)


@app.command()
def merge(
    bundles: Annotated[list[Path], typer.Argument(help="Results bundles written by `xner bundle`.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Add results bundles to a store (each in one transaction); studies then reuse their runs."""
    from harness.bundle import merge_bundle
    from harness.store import ResultStore

    try:
        with ResultStore(store) as result_store:
            for path in bundles:
                s = merge_bundle(result_store, path)
                console.print(
                    f"merged {escape(str(path))} into {escape(str(store))}: {s.runs_added} runs added ({s.runs_present} already stored),"
                    f" {s.cells_added} cells added, {s.cells_kept} kept (already finished in the store)", soft_wrap=True,
                )
    except XnerError as exc:
        raise fail(str(exc)) from None


@app.command()
def forget(
    run_ids: Annotated[list[str], typer.Argument(help="Run ids to delete (the first characters suffice).")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Delete stored runs and all their rows, so studies and suites compute them afresh."""
    from harness.params import close_names

    try:
        with open_existing_store(store) as result_store:
            stored = sorted({str(r["run_id"]) for r in result_store.runs()})
            chosen: list[str] = []
            for prefix in run_ids:
                matches = [r for r in stored if r.startswith(prefix)]
                if len(matches) != 1:
                    what = "matches several runs" if matches else "matches no stored run"
                    raise ConfigError(f"{prefix!r} {what} in {store}.{close_names(prefix, stored)}")
                chosen.append(matches[0])
            for run_id in chosen:
                removed = result_store.forget_run(run_id)
                rows = ", ".join(f"{n} {table}" for table, n in removed.items() if n and table != "runs")
                console.print(f"forgot run {run_id}: {rows or 'no rows besides the manifest'}", soft_wrap=True)
    except XnerError as exc:
        raise fail(str(exc)) from None


@app.command()
def robustness(
    suite: Annotated[str | None, typer.Option(help="Only runs of this suite.")] = None,
    system: Annotated[str | None, typer.Option()] = None,
    lang: Annotated[str | None, typer.Option()] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id (the first characters suffice).")] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Show robustness rows: F1 on changed sentences before/after, ΔF1 with CI, coverage, consistency."""

    with open_existing_store(store) as result_store:
        frame = result_store.robustness_frame(system=system, lang=lang)
        names = result_store.variant_names()
        run_ids = sorted({r["run_id"] for r in result_store.runs()})
    if run is not None:
        matches = [r for r in run_ids if r.startswith(run)]
        if len(matches) != 1:
            from harness.params import close_names

            what = "matches several runs" if matches else "matches no stored run"
            raise fail(f"--run {run!r} {what}.{close_names(run, run_ids)} Stored runs: {', '.join(run_ids) or 'none'}")
        frame = frame[frame["run_id"] == matches[0]]
    if suite is not None:
        frame = frame[frame["suite"] == suite]
    if frame.empty:
        console.print("no robustness rows stored (run a suite with perturbations)")
        return
    table = Table("run", "system", "dataset", "lang", "perturbation", "seed", "coverage", "clean F1", "pert. F1", "ΔF1 [95% CI]", "rel. drop", "recall drop", "consistency")
    for row in frame.sort_values(["run_id", "system", "dataset", "lang", "perturbation", "params_hash", "seed"]).itertuples():
        table.add_row(
            row.run_id, escape(row.system), row.dataset, row.lang, escape(names.get((row.perturbation, row.params_hash), row.perturbation)),
            str(row.seed), f"{100 * row.coverage:.1f}%",
            f"{100 * row.clean_f1:.2f}", f"{100 * row.perturbed_f1:.2f}",
            f"{100 * row.delta_f1:.2f} [{100 * row.delta_ci_low:.2f}, {100 * row.delta_ci_high:.2f}]",
            f"{100 * row.relative_drop:.1f}%", f"{100 * row.recall_drop:.2f}", f"{100 * row.consistency:.1f}%",
        )
    console.print(table)


def _register_package_commands() -> None:
    # Each package adds its own commands; this is the one place they are wired in.
    from attacks.cli import register as register_attacks
    from harness.studies.cli import register as register_studies
    from leaderboards.cli import register as register_leaderboards
    from systems.cli import register as register_systems

    for register in (register_attacks, register_systems, register_leaderboards, register_studies):
        register(app)


_register_package_commands()


def main() -> None:
    """Console-script entry point.

    Usage errors Click detects itself (``--max-sentences abc``) get the same one-line ``error:``
    form as the harness's own errors, with exit code 2.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err_console.print("[yellow]aborted[/]")
        sys.exit(130)
    except typer.TyperException as exc:  # typer's (vendored) Click usage errors derive from it
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # no_args_is_help has printed the help already and carries no message
            err_console.print(f"[bold red]error:[/] {escape(message)}{escape(where)}", soft_wrap=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except XnerError as exc:  # a package command that forgot to convert its error
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
