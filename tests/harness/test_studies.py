"""Studies: loading (good and bad files), grid expansion, and `xner study` end to end on the smoke sample."""

from __future__ import annotations

import html as stdlib_html
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import ConfigError
from harness.store import CLEAN, ResultStore
from harness.studies import available_studies, load_study
from harness.studies.analysis import POOLED, DiffRow
from harness.studies.run import expand_grid, resolve_pair
from leaderboards.study_report import diff_sentence

runner = CliRunner()
TOY = Path(__file__).parents[1] / "fixtures" / "toy_study.toml"

GOOD = """
name = "t.v1"
question = "q?"
[grid]
seeds = [0]
[[grid.systems]]
name = "gazetteer"
[[grid.systems]]
id = "toy"
name = "tests.harness.fake_systems:CapitalisedIsPerson"
[[grid.datasets]]
name = "smoke"
[[grid.perturbations]]
name = "char-typos.v1"
[[comparisons]]
kind = "f1-difference"
a = "gazetteer"
b = "toy"
"""


def test_bundled_studies_load_and_name_their_files() -> None:
    names = available_studies()
    assert len(names) == 5
    for name in names:
        spec = load_study(name)
        assert spec.name == name and spec.question.endswith("?") and spec.comparisons
        assert {"cpu", "paper"} <= set(spec.profiles)
    # Every system a bundled study names is registered (llm-tagger, the e5-small backbone's systems).
    assert not load_study("llm-teacher-vs-projection.v1").notes


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_good_study_from_a_path(tmp_path: Path) -> None:
    spec = load_study(_write(tmp_path, GOOD))
    assert [s.id for s in spec.systems] == ["gazetteer", "toy"]
    assert spec.comparisons[0].id == "gazetteer-vs-toy"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace('name = "t.v1"', 'name = "t"'), r"study\.toml: name: study names are versioned"),
        (lambda t: t.replace('name = "gazetteer"', 'name = "gazeteer"', 1), r"grid\.systems\[0\]\.name: unknown system 'gazeteer'\. Did you mean 'gazetteer'"),
        (lambda t: t.replace('name = "char-typos.v1"', 'name = "char-typo.v1"'), r"grid\.perturbations\[0\]\.name: unknown perturbation 'char-typo\.v1'\. Did you mean 'char-typos\.v1'"),
        (lambda t: t.replace('name = "smoke"', 'name = "smok"'), r"grid\.datasets\[0\]\.name: unknown dataset 'smok'"),
        (lambda t: t.replace("seeds = [0]", 'seeds = "0"'), r"grid\.seeds: must be a non-empty list of integers"),
        (lambda t: t.replace("seeds = [0]", "seedz = [0]"), r"grid\.seedz: unknown key \(did you mean 'seeds'\?\)"),
        (lambda t: t.replace('a = "gazetteer"', 'a = "gazeteer"'), r"comparisons\[0\]\.a: unknown system id 'gazeteer'"),
        (lambda t: t.replace('b = "toy"', 'b = "gazetteer"'), r"comparisons\[0\]\.b: compares a system with itself"),
        (lambda t: t.replace('id = "toy"', 'id = "gazetteer"'), r"grid\.systems\[1\]\.id: duplicate system id"),
        (lambda t: t.replace('kind = "f1-difference"', 'kind = "f1-diff"'), r"comparisons\[0\]\.kind: unknown comparison kind 'f1-diff'"),
        (lambda t: t.replace('kind = "f1-difference"', 'kind = "trend"\nsystem = "gazetteer"').replace('a = "gazetteer"\n', "").replace('b = "toy"\n', ""),
         r"comparisons\[0\]\.system: system 'gazetteer' has no 'vary'"),
        (lambda t: t.replace('question = "q?"\n', ""), r"study\.toml: question: missing required key"),
        (lambda t: t.replace("[grid]", "[grid"), r"study\.toml: invalid TOML"),
        (lambda t: t + '[profiles.cpu]\nsystem_params.gazeter = { case_fold = true }\n', r"profiles\.cpu\.system_params\.gazeter: unknown system id"),
        (lambda t: t + '[profiles.cpu]\nsystem_seeds.gazeter = [0, 1]\n', r"profiles\.cpu\.system_seeds\.gazeter: unknown system id"),
        (lambda t: t + '[profiles.cpu]\nsystem_seeds.toy = "0"\n', r"profiles\.cpu\.system_seeds\.toy: must be a non-empty list of integers"),
        (lambda t: t + '[profiles.cpu]\nsystem_seeds.gazetteer = [0, 1, 2]\n',
         r"profiles\.cpu\.system_seeds: comparison 'gazetteer-vs-toy' pairs gazetteer \(seeds \[0, 1, 2\]\) with toy \(seeds \[0\]\); paired systems need the same seeds"),
        (lambda t: t + '[profiles.cpu]\nlanguages = ["hau"]\nlanguage_seeds.yor = [0, 1]\n', r"profiles\.cpu\.language_seeds\.yor: not a language of the profile \(hau\)"),
        (lambda t: t + '[profiles.cpu]\nlanguage_seeds.hau = [0.5]\n', r"profiles\.cpu\.language_seeds\.hau: must be a non-empty list of integers"),
        (lambda t: t + '[profiles.cpu]\nsystem_seeds.gazetteer = [0]\nlanguage_seeds.hau = [0, 1, 2]\n',
         r"comparison 'gazetteer-vs-toy' pairs gazetteer \(seeds \[0\]\) with toy \(seeds \[0, 1, 2\]\) on hau; paired systems need the same seeds"),
    ],
)
def test_bad_study_is_one_line_error_naming_file_and_key(tmp_path: Path, edit: object, expected: str) -> None:
    text = edit(GOOD)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        load_study(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "study.toml") in message
    assert re.search(expected, message), message


def test_profile_seeds_per_system_reach_only_that_systems_runs(tmp_path: Path) -> None:
    """``system_seeds`` gives the systems a budget affords at more seeds their own seeds (a trend's
    varied system here, which no paired comparison ties to another system)."""
    from harness.studies.run import variant_suite

    text = TOY.read_text(encoding="utf-8").replace('languages = ["hau", "swa", "yor"]', 'languages = ["hau", "swa", "yor"]\nsystem_seeds.gazetteer-len = [0, 1, 2]')
    spec = load_study(_write(tmp_path, text))
    profile = spec.profile("cpu")
    seeds = {v.id: variant_suite(spec, v, profile, None).seeds for v in expand_grid(spec, profile)}
    assert seeds["gazetteer-len[max_length=2]"] == (0, 1, 2) and seeds["gazetteer"] == (0, 1) == seeds["capitalised"]
    # --seeds on the command line still sets every system's seeds.
    assert {variant_suite(spec, v, profile, None, [5]).seeds for v in expand_grid(spec, profile)} == {(5,)}


def test_language_seeds_give_one_languages_runs_more_seeds_and_the_pooled_row_the_shared_ones(tmp_path: Path) -> None:
    """``language_seeds``: where every system is affordable at more seeds, that language's runs carry
    them; its own rows use all of them, and the pooled rows pool the seeds every language has."""
    text = TOY.read_text(encoding="utf-8").replace('languages = ["hau", "swa", "yor"]', 'languages = ["hau", "swa", "yor"]\nlanguage_seeds.yor = [0, 1, 2]')
    path = _write(tmp_path, text)
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    result = runner.invoke(app, ["study", str(path), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "200", "--trials", "200"])
    assert result.exit_code == 0, result.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    runs = _grid_run_ids(report)
    with ResultStore(store) as s:
        assert s.manifest(runs["gazetteer"]["yor"])["seeds"] == [0, 1, 2]
        assert s.manifest(runs["gazetteer"]["hau"])["seeds"] == [0, 1]
        assert {c.key.seed for c in s.cells(run_id=runs["capitalised"]["yor"], perturbation=CLEAN)} == {0, 1, 2}
        # The pooled clean F1 of the gazetteer, recomputed from the stored counts of seeds 0 and 1.
        f1s = []
        for seed in (0, 1):
            tp = fp = fn = 0
            for lang, run_id in runs["gazetteer"].items():
                (cell,) = s.cells(run_id=run_id, lang=lang, perturbation=CLEAN, seed=seed, status="done")
                counts = s.counts(cell.key)["ALL"]
                tp, fp, fn = tp + counts.tp, fp + counts.fp, fn + counts.fn
            f1s.append(100 * 2 * tp / (2 * tp + fp + fn))
    rows = {r.split(" | ")[2]: r.split(" | ") for r in report.splitlines() if r.startswith("| gazetteer − capitalised | clean |")}
    assert {lang: row[9] for lang, row in rows.items()} == {"hau": "2", "swa": "2", "yor": "3", "pooled": "2"}
    assert float(rows["pooled"][4].split()[0]) == pytest.approx(sum(f1s) / 2, abs=0.006)
    assert "gazetteer − capitalised: pooled over seeds 0, 1, the seeds every language has (yor has 3 in its own row)" in report
    assert "trend of gazetteer-len: pooled over seeds 0, 1" in report


def test_unknown_study_suggests_close_names() -> None:
    with pytest.raises(KeyError, match="Did you mean 'teacher-ensemble-size.v1'"):
        load_study("teacher-ensemble-size.v2")


def test_grid_expands_backbones_and_varied_values() -> None:
    spec = load_study("multilingual-pretraining-ood.v1")
    ids = [v.id for v in expand_grid(spec, spec.profile("cpu"))]
    assert ids == ["direct-transfer@offline", "direct-transfer@e5-small", "ts-single@offline", "ts-single@e5-small"]
    assert resolve_pair(spec, spec.profile("paper"), "direct-transfer@*", "direct-transfer@offline") == [
        ("direct-transfer@xlm-roberta-large", "direct-transfer@offline"),
        ("direct-transfer@bert-base-multilingual-cased", "direct-transfer@offline"),
        ("direct-transfer@google/mt5-base", "direct-transfer@offline"),
    ]
    k = load_study("teacher-ensemble-size.v1")
    variants = expand_grid(k, k.profile("cpu"))
    assert variants[1].id == "ts-multi-k[max_sources=2]" and variants[1].params["max_sources"] == 2
    assert variants[1].params["epochs"] == 2  # the cpu profile's cap
    with pytest.raises(ConfigError, match="no profile 'gpu'"):
        k.profile("gpu")


# --- end to end ---------------------------------------------------------------------------------


def _grid_run_ids(markdown: str) -> dict[str, dict[str, str]]:
    """variant → language → run id, from the report's grid table (one run per variant and language)."""
    rows = re.findall(r"^\| (\S+) \| \S+ \| (\w+) \| ([0-9a-f]{16}) \| (\w+) \|", markdown, flags=re.M)
    out: dict[str, dict[str, str]] = {}
    for variant, lang, run_id, _ in rows:
        out.setdefault(variant, {})[lang] = run_id
    return out


def test_xner_study_end_to_end_on_the_smoke_sample(tmp_path: Path) -> None:
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "300", "--trials", "300"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "running" in first.output and "reusing" not in first.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    runs = _grid_run_ids(report)
    assert set(runs) == {"gazetteer", "capitalised", *(f"gazetteer-len[max_length={k}]" for k in (1, 2, 3))}

    # The answer's pooled clean F1 difference equals the one recomputed from the stored counts.
    with ResultStore(store) as s:
        def pooled_f1(run_ids: dict[str, str], system: str) -> float:
            f1s = []
            for seed in (0, 1):
                cells = [c for lang, run_id in run_ids.items() for c in s.cells(run_id=run_id, lang=lang, perturbation=CLEAN, seed=seed, status="done")]
                assert {c.key.lang for c in cells} == {"hau", "swa", "yor"}
                tp = fp = fn = 0
                for cell in cells:
                    counts = s.counts(cell.key)["ALL"]
                    tp, fp, fn = tp + counts.tp, fp + counts.fp, fn + counts.fn
                f1s.append(2 * tp / (2 * tp + fp + fn))
            return sum(f1s) / len(f1s)

        expected = 100 * (pooled_f1(runs["gazetteer"], "gazetteer") - pooled_f1(runs["capitalised"], "tests.harness.fake_systems:CapitalisedIsPerson"))
        cells_before = len(s.cells())
    answer = re.search(r"^\*\*Answer\.\*\* (.+)$", report, flags=re.M)
    assert answer is not None
    clean = re.search(r"gazetteer − capitalised F1 clean: (−?[\d.]+) \[(−?[\d.]+), (−?[\d.]+)\], p [=<] ([\d.]+)", answer.group(1))
    assert clean is not None, answer.group(1)
    assert float(clean.group(1).replace("−", "-")) == pytest.approx(expected, abs=0.006)
    assert float(clean.group(2).replace("−", "-")) <= expected <= float(clean.group(3).replace("−", "-"))
    assert "ΔF1 under char-typos.v1 (severity=3)" in answer.group(1) and "languages" in answer.group(1)
    assert "max_length: slope" in answer.group(1) and "best max_length = 3" in answer.group(1)

    # Per-language rows carry Holm-adjusted p-values (pooled rows have none), seeds and run ids.
    rows = [line for line in report.splitlines() if line.startswith("| gazetteer − capitalised | clean |")]
    assert [r.split(" | ")[2] for r in rows] == ["hau", "swa", "yor", "pooled"]
    holm_column = [r.split(" | ")[8] for r in rows]
    assert all(re.fullmatch(r"[\d.]+|< 0\.001", p) for p in holm_column[:3]) and holm_column[3] == "—"
    assert runs["gazetteer"]["hau"] in rows[0] and runs["capitalised"]["hau"] in rows[0]
    assert runs["gazetteer"]["swa"] not in rows[0] and all(r in rows[3] for r in runs["gazetteer"].values())
    assert "agrees" in report and "made up for the test" in report and "CPU time of the study's runs" in report
    assert "this invocation:" in report  # it trained and evaluated, so it states what that cost
    # Plots: F1 bars, ΔF1 bars, F1 vs severity (char-typos at 1 and 3), trend.
    pngs = sorted(p.name for p in (out / "toy-study.v1_files").glob("*.png"))
    assert pngs == ["gazetteer-vs-capitalised-f1-bars.png", "robustness-delta-bars.png", "robustness-severity.png", "trend-gazetteer-len-trend.png"]
    assert all((out / "toy-study.v1_files" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    html = (out / "toy-study.v1.html").read_text(encoding="utf-8")
    assert 'id="answer"' in html and "data:image/png;base64," in html
    # The HTML states the profile and its caveats as the Markdown does, word for word.
    md_method = re.search(r"^Profile `(.+)$", report, flags=re.M)
    html_method = re.search(r'<p id="method">Profile <code>(.+?)</p>', html)
    assert md_method is not None and html_method is not None
    assert stdlib_html.unescape(html_method.group(1).replace("</code>", "`")) == md_method.group(1)
    assert "every language of the sample, two seeds" in md_method.group(1) and "Holm over the languages" in md_method.group(1)

    # A rerun reuses every stored run and computes nothing; --report-only renders the same answer.
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("reusing stored run") == 5 * 3 and "running" not in again.output
    with ResultStore(store) as s:
        assert len(s.cells()) == cells_before
    only = runner.invoke(app, [*args, "--report-only"])
    assert only.exit_code == 0 and "running" not in only.output
    rendered = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert re.search(r"^\*\*Answer\.\*\* (.+)$", rendered, flags=re.M).group(1) == answer.group(1)  # type: ignore[union-attr]
    # A look-up-only render has no cost of its own, so re-rendering does not rewrite a committed report.
    assert "this invocation" not in rendered


def test_xner_study_report_only_without_results_says_what_is_missing(tmp_path: Path) -> None:
    store = tmp_path / "r.sqlite"
    ResultStore(store).close()
    result = runner.invoke(app, ["study", str(TOY), "--report-only", "--store", str(store), "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "toy-study.v1.md").read_text(encoding="utf-8")
    assert "No answer yet" in report and "no stored results (missing)" in report


def test_xner_study_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = _write(tmp_path, GOOD.replace('name = "gazetteer"', 'name = "gazeteer"'))
    result = runner.invoke(app, ["study", str(bad), "--store", str(tmp_path / "r.sqlite")])
    assert result.exit_code == 2 and "Did you mean 'gazetteer'" in result.output and "Traceback" not in result.output
    neither = runner.invoke(app, ["study", "--store", str(tmp_path / "r.sqlite")])
    assert neither.exit_code == 2 and "NAME or --all" in neither.output
    missing = runner.invoke(app, ["study", str(TOY), "--report-only", "--store", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no result store" in missing.output


def test_seeds_override_the_profile_and_bad_seeds_are_one_line_errors(tmp_path: Path) -> None:
    from harness.studies.run import variant_suite

    spec = load_study("ts-vs-transfer-robustness.v1")
    cpu = spec.profile("cpu")
    variant = expand_grid(spec, cpu)[0]
    assert variant_suite(spec, variant, cpu, None).seeds == (0,)  # the cpu profile: one seed
    assert variant_suite(spec, variant, cpu, None, [0, 1, 2]).seeds == (0, 1, 2)
    assert variant_suite(spec, variant, spec.profile("paper"), None).seeds == (0, 1, 2)
    bad = runner.invoke(app, ["study", str(TOY), "--seeds", "0,one", "--store", str(tmp_path / "r.sqlite")])
    assert bad.exit_code == 2 and "--seeds must be comma-separated integers" in bad.output and "Traceback" not in bad.output


ADVERSARIAL = """
name = "adv.v1"
question = "Which system does a model-aware search hurt more?"
[grid]
seeds = [0]
[[grid.systems]]
name = "gazetteer"
params = { train = "smoke/{target}/train" }
[[grid.systems]]
id = "toy"
name = "tests.harness.fake_systems:CapitalisedIsPerson"
[[grid.datasets]]
name = "smoke"
languages = ["hau", "yor"]
[[grid.perturbations]]
name = "adversarial.v1"
query_budget = 40
[[comparisons]]
kind = "delta-f1-difference"
a = "gazetteer"
b = "toy"
"""


def test_study_with_adversarial_search_reports_attacks_and_pairs_delta_f1_over_either_systems_changes(tmp_path: Path) -> None:
    from harness.studies.analysis import analyse
    from harness.studies.run import run_study

    spec = load_study(_write(tmp_path, ADVERSARIAL))
    with ResultStore(tmp_path / "r.sqlite") as store:
        result = analyse(store, run_study(spec, store), resamples=200, trials=200)
        rows = {r.lang: r for r in result.comparisons[0].rows}
        assert set(rows) == {"hau", "yor", "pooled"}
        for lang in ("hau", "yor"):
            changed = {}
            for point in result.run.points.values():
                cell = next(c for c in store.cells(run_id=point.run_id_for("smoke", lang), lang=lang, perturbation="adversarial.v1"))
                changed[point.variant.id] = {o.sentence_id for o in store.sentence_outcomes(cell.key) if o.changed}
            # ΔF1 is measured on the sentences the search changed for either system.
            assert rows[lang].n_sentences == len(changed["gazetteer"] | changed["toy"]) > 0
        attacks = {(a.variant, a.lang): a for a in result.attacks}
        assert set(attacks) == {(v, lang) for v in ("gazetteer", "toy") for lang in ("hau", "yor")}
        assert all(a.avg_queries <= 40 for a in attacks.values())
        # The gazetteer memorises exact strings: every sentence of the sample falls to one typo.
        assert all(attacks["gazetteer", lang].success_rate == 1.0 for lang in ("hau", "yor"))
        assert all(attacks["gazetteer", lang].f1_attacked < attacks["gazetteer", lang].f1_original for lang in ("hau", "yor"))
    out = tmp_path / "out"
    done = runner.invoke(app, ["study", str(tmp_path / "study.toml"), "--report-only", "--store", str(tmp_path / "r.sqlite"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    report = (out / "adv.v1.md").read_text(encoding="utf-8")
    assert "## Adversarial search" in report and "| gazetteer | adversarial.v1 (query_budget=40) | hau | 0 |" in report


def test_a_study_grows_by_languages_reusing_the_runs_of_earlier_languages(tmp_path: Path) -> None:
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0"]
    first = runner.invoke(app, [*args, "--languages", "hau"])
    assert first.exit_code == 0, first.output
    hau_runs = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    assert {lang for runs in hau_runs.values() for lang in runs} == {"hau"}
    # Rendered over the profile's languages, the answer says it covers only part of the grid.
    partial = runner.invoke(app, [*args, "--report-only"])
    assert partial.exit_code == 0, partial.output
    answer = re.search(r"^\*\*Answer\.\*\* (.+)$", (out / "toy-study.v1.md").read_text(encoding="utf-8"), flags=re.M)
    assert answer is not None and answer.group(1).endswith(
        "Only on hau of the grid's hau, swa, yor: swa, yor have no stored results yet (see the grid below)."
    )
    grown = runner.invoke(app, [*args, "--languages", "hau,swa"])
    assert grown.exit_code == 0, grown.output
    # Each variant's hau run is reused as is; only swa runs.
    assert grown.output.count("reusing stored run") == 5 and grown.output.count("(swa): running") == 5
    runs = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    assert all(runs[v]["hau"] == hau_runs[v]["hau"] and runs[v]["swa"] != runs[v]["hau"] for v in runs)
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert [line.split(" | ")[2] for line in report.splitlines() if line.startswith("| gazetteer − capitalised | clean |")] == ["hau", "swa", "pooled"]


def test_a_study_grows_by_seeds_adopting_the_seeds_a_stored_run_finished(tmp_path: Path) -> None:
    """``--seeds 0,1`` after ``--seeds 0``: each new run adopts seed 0's cells (no fit, the same
    per-sentence results, the donor's CPU time) and computes seed 1 only."""
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--languages", "hau"]
    first = runner.invoke(app, [*args, "--seeds", "0"])
    assert first.exit_code == 0, first.output
    one_seed = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    grown = runner.invoke(app, [*args, "--seeds", "0,1"])
    assert grown.exit_code == 0, grown.output
    two_seeds = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    for variant, runs in one_seed.items():
        donor, run_id = runs["hau"], two_seeds[variant]["hau"]
        assert donor != run_id and f"{variant} (hau): seed(s) 0 adopted from stored run {donor} (4 cells)" in grown.output
    assert "(seed 0): all cells already stored" in grown.output and "seed 1" in grown.output
    with ResultStore(store) as results:
        for variant, runs in one_seed.items():
            donor, run_id = runs["hau"], two_seeds[variant]["hau"]
            rows = "SELECT system, perturbation, params_hash, sentence_id, tp, fp, fn, pred FROM sentence_results WHERE run_id=? AND seed=0 ORDER BY 1, 2, 3, 4"
            assert results.execute(rows, (run_id,)) == results.execute(rows, (donor,)) != []
            assert {c.key.seed for c in results.cells(run_id=run_id, status="done")} == {0, 1}
            times = results.run_times([donor, run_id])
            # The donor's time plus seed 1's: CPU time ticks in 10 ms steps on some kernels, so a toy
            # seed may add none of it; wall time always grows.
            assert times[run_id][0] >= times[donor][0] and times[run_id][1] > times[donor][1]
    # The grown runs are now stored as they are: a third invocation reuses them, adopting nothing.
    again = runner.invoke(app, [*args, "--seeds", "0,1"])
    assert again.exit_code == 0, again.output
    assert again.output.count("reusing stored run") == 5 and "adopted" not in again.output


def test_a_seed_whose_fit_failed_leaves_the_row_to_the_seeds_both_systems_finished(tmp_path: Path) -> None:
    """One seed of one system not learning must not drop the language: its row pairs the other seeds, says so."""
    import sqlite3

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100",
            "--seeds", "0,1", "--languages", "hau,swa"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    capitalised = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["capitalised"]["hau"]
    conn = sqlite3.connect(store)  # as if seed 1's model had failed its fit floor
    conn.execute("UPDATE cells SET status='failed', error='tagger did not learn its training labels' WHERE run_id=? AND seed=1", (capitalised,))
    conn.commit()
    conn.close()
    again = runner.invoke(app, [*args, "--report-only"])
    assert again.exit_code == 0, again.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    rows = {line.split(" | ")[2]: line.split(" | ") for line in report.splitlines() if line.startswith("| gazetteer − capitalised | clean |")}
    assert set(rows) == {"hau", "swa", "pooled"}
    assert rows["hau"][9] == "1" and rows["swa"][9] == "2" and rows["pooled"][9] == "1"  # the seeds column
    assert "clean, hau: over seed 0 only, the seed both systems finished; capitalised on smoke/hau none seed 1: tagger did not learn" in report


def test_adopting_seeds_copies_once_and_refuses_seeds_the_run_does_not_have(tmp_path: Path) -> None:
    from harness.store import CellKey

    store = ResultStore(tmp_path / "r.sqlite")
    store.record_run("a" * 16, "s", {"seeds": [0], "git_revision": "old", "environment": [["cpu", "Elsewhere"]]}, "1", "1")
    store.record_run("b" * 16, "s", {"seeds": [0, 1], "git_revision": "new", "environment": [["cpu", "Here"]]}, "1", "1")
    store.record_run("c" * 16, "s", {"seeds": [1]}, "1", "1")
    key = CellKey("a" * 16, "sys", "smoke", "hau", "test", CLEAN, "h", 0)
    store.write_cell_status(key, status="skipped", error="nothing to perturb", system_fingerprint="fp", perturbation_params={})
    store.add_run_time("a" * 16, 10.0, 5.0)
    assert store.adopt_seeds("a" * 16, "b" * 16) == 1
    assert store.adopt_seeds("a" * 16, "b" * 16) == 0  # already adopted: nothing copied, no time added twice
    assert store.cell_status(CellKey("b" * 16, "sys", "smoke", "hau", "test", CLEAN, "h", 0)) == "skipped"
    assert store.run_times(["b" * 16]) == {"b" * 16: (10.0, 5.0)}
    assert store.resumptions("b" * 16) == [("old", {"cpu": "Elsewhere"})]  # where the adopted cells were computed
    with pytest.raises(ConfigError, match=r"run c{16} has no seed\(s\) \[0\] of run a{16}"):
        store.adopt_seeds("a" * 16, "c" * 16)
    with pytest.raises(ConfigError, match="no run 'zz'"):
        store.adopt_seeds("zz", "b" * 16)


def test_only_runs_the_named_variants_and_looks_the_others_up(tmp_path: Path) -> None:
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    part = runner.invoke(app, [*args, "--only", "capitalised"])
    assert part.exit_code == 0, part.output
    assert part.output.count("(hau): running") == 1 and "capitalised (hau): running" in part.output
    assert "gazetteer (hau): no stored run (not in --only: not running)" in part.output
    runs = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    assert set(runs) == {"capitalised"}
    # The rest runs later; the variant computed first is reused, not rerun.
    rest = runner.invoke(app, args)
    assert rest.exit_code == 0, rest.output
    assert "capitalised (hau): reusing stored run" in rest.output and "capitalised (hau): running" not in rest.output
    assert _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["capitalised"] == runs["capitalised"]


def test_only_naming_no_variant_is_an_error_listing_the_variants(tmp_path: Path) -> None:
    result = runner.invoke(app, ["study", str(TOY), "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path), "--only", "ts-multi"])
    assert result.exit_code != 0
    assert "--only 'ts-multi' names no variant of toy-study.v1" in result.output and "capitalised" in result.output
    both = runner.invoke(app, ["study", "--all", "--only", "direct-transfer", "--store", str(tmp_path / "r.sqlite")])
    assert both.exit_code != 0 and "give a study NAME with it" in both.output


def test_a_run_from_another_machine_is_reused_and_the_report_says_where_each_ran(tmp_path: Path) -> None:
    """The environment is recorded, not matched: a bundle from another machine is reused, and the report
    shows each run's machine and notes the comparisons whose two runs come from different machines."""
    import json
    import sqlite3

    from harness.manifest import environment_label, machine_environment

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    here = environment_label(machine_environment())
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert "| git revision | machine |" in report and here in report and "The runs come from" not in report
    capitalised = _grid_run_ids(report)["capitalised"]["hau"]

    conn = sqlite3.connect(store)  # the capitalised run as if merged from a bundle made elsewhere
    manifest = json.loads(conn.execute("SELECT manifest FROM runs WHERE run_id=?", (capitalised,)).fetchone()[0])
    manifest["environment"] = [["cpu", "Elsewhere CPU"], ["machine", "aarch64"], ["cpus", "8"], ["torch", "2.9.1"]]
    manifest["git_revision"] = "0123456789abcdef"
    conn.execute("UPDATE runs SET manifest=? WHERE run_id=?", (json.dumps(manifest), capitalised))
    conn.commit()
    conn.close()

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "capitalised (hau): reusing stored run" in again.output and "(hau): running" not in again.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert f"| capitalised | tests.harness.fake_systems:CapitalisedIsPerson | hau | {capitalised} | reused | 0123456789ab | Elsewhere CPU, aarch64, 8 CPUs, torch 2.9.1 |" in report
    assert "The runs come from 2 machines" in report
    assert f"hau: gazetteer ran on {here}, capitalised on Elsewhere CPU, aarch64, 8 CPUs, torch 2.9.1" in report
    # Runs stored before the environment was recorded say so.
    del manifest["environment"]
    assert environment_label(manifest.get("environment")) == "not recorded"


def test_cost_line_names_finished_runs_without_timings_not_interrupted_ones(tmp_path: Path) -> None:
    """A run with no stored timing is called 'made outside `xner study`' only when it is finished:
    an interrupted run has none because it has not finished, and is reported as incomplete instead."""
    import sqlite3

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    assert runner.invoke(app, args).exit_code == 0
    runs = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))
    gazetteer, capitalised = runs["gazetteer"]["hau"], runs["capitalised"]["hau"]
    conn = sqlite3.connect(store)
    conn.execute("DELETE FROM run_timings")  # as if both were made by `xner run`
    conn.execute("DELETE FROM cells WHERE run_id=? AND perturbation != ?", (gazetteer, CLEAN))  # as if interrupted
    conn.commit()
    conn.close()
    rendered = runner.invoke(app, [*args, "--report-only"])
    assert rendered.exit_code == 0, rendered.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    untimed = re.search(r"Runs made outside `xner study` have no recorded CPU time: ([0-9a-f, ]+)\.", report)
    finished = {lang_runs["hau"] for lang_runs in runs.values()} - {gazetteer}
    assert capitalised in finished and untimed is not None and set(untimed.group(1).split(", ")) == finished
    assert f"| hau | {gazetteer} | incomplete |" in report


def test_report_only_grid_table_shows_why_a_stored_run_is_incomplete(tmp_path: Path) -> None:
    """The reason a cell failed is stored with it, so a report rendered later (``--report-only``,
    another machine after ``xner merge``) shows it too, once per distinct reason."""
    import sqlite3

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    assert runner.invoke(app, args).exit_code == 0
    gazetteer = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]
    conn = sqlite3.connect(store)
    failed = conn.execute("UPDATE cells SET status='failed', error='gazetteer.fit: did not learn' WHERE run_id=?", (gazetteer,)).rowcount
    conn.commit()
    conn.close()
    assert failed >= 2

    rendered = runner.invoke(app, [*args, "--report-only"])
    assert rendered.exit_code == 0, rendered.output
    row = next(line for line in (out / "toy-study.v1.md").read_text(encoding="utf-8").splitlines() if f"| {gazetteer} | incomplete |" in line)
    assert row.count("did not learn") == 1 and f"and {failed - 1} more cell(s): gazetteer.fit: did not learn |" in row


def test_an_interrupted_run_from_an_older_checkout_is_resumed_not_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run id includes the git revision, so after a commit the grid point's fresh id differs from
    the interrupted run's: the study must resume the stored run (keeping its finished cells), not
    start a new one beside it."""
    import sqlite3

    import harness.runner

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    with monkeypatch.context() as older_checkout:
        older_checkout.setattr(harness.runner, "git_revision", lambda: "0123456789abcdef")
        assert runner.invoke(app, args).exit_code == 0
    gazetteer = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]
    conn = sqlite3.connect(store)
    clean_cells = conn.execute("SELECT COUNT(*) FROM cells WHERE run_id=? AND perturbation=?", (gazetteer, CLEAN)).fetchone()[0]
    conn.execute("DELETE FROM cells WHERE run_id=? AND perturbation != ?", (gazetteer, CLEAN))  # as if interrupted
    conn.commit()
    runs_before = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    conn.close()
    assert clean_cells > 0

    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"gazetteer (hau): resuming incomplete run {gazetteer} (made at revision 0123456789ab)" in resumed.output
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert _grid_run_ids(report)["gazetteer"]["hau"] == gazetteer and f"| hau | {gazetteer} | incomplete |" not in report
    conn = sqlite3.connect(store)
    assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == runs_before  # no fresh run beside it
    conn.close()
    # The manifest keeps the revision it was made at; the grid names the checkout that finished it,
    # also after the run travels in a bundle.
    here = harness.runner.git_revision()[:12]
    assert f"| hau | {gazetteer} | computed | 0123456789ab (resumed at {here}) |" in report
    bundle = tmp_path / "b.jsonl.gz"
    assert runner.invoke(app, ["bundle", str(bundle), "--run", gazetteer, "--store", str(store)]).exit_code == 0
    elsewhere = tmp_path / "elsewhere.sqlite"
    assert runner.invoke(app, ["merge", str(bundle), "--store", str(elsewhere)]).exit_code == 0
    with ResultStore(elsewhere) as merged:
        assert [revision[:12] for revision, _ in merged.resumptions(gazetteer)] == [here]


def _gazetteer_run_from_an_older_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str], str]:
    """A toy-study run of the gazetteer on hau made at revision 0123456789abcdef: (store, args, run id)."""
    import harness.runner

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau", "--only", "gazetteer"]
    with monkeypatch.context() as older_checkout:
        older_checkout.setattr(harness.runner, "git_revision", lambda: "0123456789abcdef")
        assert runner.invoke(app, args).exit_code == 0
    return store, args, _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]


def test_an_interrupted_run_whose_manifest_no_longer_hashes_to_its_id_is_run_afresh_not_resumed_under_another_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sqlite3

    store, args, gazetteer = _gazetteer_run_from_an_older_checkout(tmp_path, monkeypatch)
    out = tmp_path / "studies"
    conn = sqlite3.connect(store)
    conn.execute("DELETE FROM cells WHERE run_id=? AND perturbation != ?", (gazetteer, CLEAN))  # as if interrupted
    made = json.loads(conn.execute("SELECT manifest FROM runs WHERE run_id=?", (gazetteer,)).fetchone()[0])
    del made["environment"]  # recorded, not matched: the same grid point, but no longer its id's hash
    conn.execute("UPDATE runs SET manifest=? WHERE run_id=?", (json.dumps(made), gazetteer))
    conn.commit()
    conn.close()

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert f"gazetteer (hau): cannot resume incomplete run {gazetteer}: its stored manifest no longer hashes to its id; running " in again.output
    fresh = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]
    assert fresh != gazetteer
    with ResultStore(store) as s:
        assert s.manifest(fresh)["environment"] and s.manifest(fresh)["git_revision"] != "0123456789abcdef"
        assert s.cells(run_id=fresh, status="done")


def test_an_interrupted_older_run_that_finished_nothing_is_not_resumed_so_the_new_run_records_this_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    store, args, older = _gazetteer_run_from_an_older_checkout(tmp_path, monkeypatch)
    out = tmp_path / "studies"
    conn = sqlite3.connect(store)
    conn.execute("DELETE FROM cells WHERE run_id=?", (older,))  # interrupted while fitting
    conn.commit()
    conn.close()

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "resuming" not in again.output and "gazetteer (hau): running " in again.output
    fresh = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]
    with ResultStore(store) as s:
        assert fresh != older and s.manifest(fresh)["git_revision"] != "0123456789abcdef"


def test_forget_deletes_every_row_of_a_run_and_the_study_computes_it_again(tmp_path: Path) -> None:
    import sqlite3

    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    assert runner.invoke(app, args).exit_code == 0
    gazetteer = _grid_run_ids((out / "toy-study.v1.md").read_text(encoding="utf-8"))["gazetteer"]["hau"]

    unknown = runner.invoke(app, ["forget", "ffffffff", "--store", str(store)])
    assert unknown.exit_code == 2 and "'ffffffff' matches no stored run" in unknown.output and "Traceback" not in unknown.output
    forgot = runner.invoke(app, ["forget", gazetteer[:8], "--store", str(store)])
    assert forgot.exit_code == 0, forgot.output
    assert f"forgot run {gazetteer}:" in forgot.output and "sentence_results" in forgot.output
    conn = sqlite3.connect(store)
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'") if "run_id" in {c[1] for c in conn.execute(f"PRAGMA table_info({t})")}]
    assert {t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE run_id=?", (gazetteer,)).fetchone()[0] for t in tables} == dict.fromkeys(tables, 0)
    conn.close()

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "gazetteer (hau): running" in again.output and "capitalised (hau): reusing stored run" in again.output


def test_a_trend_over_an_ensemble_names_the_teachers_each_value_used(tmp_path: Path) -> None:
    """When the fit reports record teacher weights per target (ts-multi does), the trend's notes say
    which sources each value of the varied parameter put in the ensemble, heaviest first."""
    store, out = tmp_path / "r.sqlite", tmp_path / "studies"
    args = ["study", str(TOY), "--store", str(store), "--out", str(out), "--no-progress", "--resamples", "100", "--trials", "100", "--seeds", "0", "--languages", "hau"]
    assert runner.invoke(app, args).exit_code == 0
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert "teachers and their weights" not in report  # the gazetteer records none
    runs = _grid_run_ids(report)
    weights = {1: {"conll2003/eng": 1.0}, 2: {"conll2003/eng": 0.4, "masakhaner2/swa": 0.6}, 3: {"conll2003/eng": 0.2, "masakhaner2/swa": 0.5, "masakhaner2/yor": 0.3}}
    with ResultStore(store) as db:
        for k, w in weights.items():
            db.write_fit_report(runs[f"gazetteer-len[max_length={k}]"]["hau"], "gazetteer", "smoke", 0, {"fit_report": {"hau": {"teacher_weights": w}}})
    assert runner.invoke(app, [*args, "--report-only"]).exit_code == 0
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert "- hau: teachers and their weights by max_length (seed 0): 1: eng 1.00; 2: swa 0.60, eng 0.40; 3: swa 0.50, yor 0.30, eng 0.20\n" in report
    # With the number of entities the ensemble labelled (ts-multi records it), each value names it.
    with ResultStore(store) as db:
        for k, w in weights.items():
            report_k = {"fit_report": {"hau": {"teacher_weights": w, "teacher_entities": 600 - 100 * k}}}
            db.write_fit_report(runs[f"gazetteer-len[max_length={k}]"]["hau"], "gazetteer", "smoke", 0, report_k)
    assert runner.invoke(app, [*args, "--report-only"]).exit_code == 0
    report = (out / "toy-study.v1.md").read_text(encoding="utf-8")
    assert ("1: eng 1.00 (500 entities labelled); 2: swa 0.60, eng 0.40 (400 entities labelled); "
            "3: swa 0.50, yor 0.30, eng 0.20 (300 entities labelled)") in report


def _diff_row(lang: str, estimate: float, p_holm: float | None) -> DiffRow:
    return DiffRow(
        comparison="c", kind="delta-f1-difference", a="x@e5", b="x@offline", condition="char-typos.v1",
        lang=lang, estimate=estimate, low=estimate - 1, high=estimate + 1, p=0.01, p_holm=p_holm,
        n_sentences=10, a_value=0.0, a_low=0.0, a_high=0.0, b_value=0.0, b_low=0.0, b_high=0.0,
        seeds=1, seed_sd=None, bootstrap_se=1.0, dominant="sentences", run_ids=(),
    )


def test_answer_sentence_counts_significant_languages_against_the_advantage_apart() -> None:
    # ΔF1: a positive difference is a larger drop for a, so a significant one is evidence against a.
    rows = [_diff_row("ibo", 4.0, 0.5), _diff_row("swa", 6.0, 0.002), _diff_row("yor", -2.0, 0.01), _diff_row(POOLED, 4.8, None)]
    sentence = diff_sentence(rows)
    assert "lower drop in 1 of 3 languages (1 significant after Holm at 0.05; 1 significant the other way)" in sentence
    agreeing = [_diff_row("ibo", -4.0, 0.01), _diff_row(POOLED, -4.0, None)]
    assert diff_sentence(agreeing).endswith("lower drop in 1 of 1 languages (1 significant after Holm at 0.05)")
