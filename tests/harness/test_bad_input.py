"""Every bad input a new user tried (issue 12) gets one clear line, exit code 2, and no change to
the store; misbehaving systems fail their own cells; run bookkeeping never hides the board.

Each case runs the real ``xner`` command (in process, through typer's runner) against a small
data directory written here, into a store that already holds a finished run, and asserts: exit
code, the one ``error:`` line and its text, no traceback, and a store identical to before.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import REPO_ROOT

runner = CliRunner()

GOOD_TEST = """-DOCSTART- O

Kano B-LOC
ya O
yi O
kyau O
. O

Audu B-PER
Bello I-PER
ya O
tafi O
Abuja B-LOC
. O

Gwamnatin B-ORG
Kano I-ORG
ta O
ce O
. O

Ranar B-DATE
Litinin I-DATE
ne O
"""

GOOD_TRAIN = """Kano B-LOC
ya O

Audu B-PER
Bello I-PER
"""

FAKE = "tests.harness.fake_systems:CapitalisedIsPerson"
BAD = "tests.harness.bad_systems"


def write_data(root: Path, test: str | None = GOOD_TEST, *, lang: str = "hau", train: bool = True) -> Path:
    folder = root / "masakhaner2" / lang
    folder.mkdir(parents=True, exist_ok=True)
    if test is not None:
        (folder / "test.txt").write_text(test, encoding="utf-8")
    if train:
        (folder / "train.txt").write_text(GOOD_TRAIN, encoding="utf-8")
    return root


def write_suite(path: Path, body: str = "") -> Path:
    path.write_text(
        'name = "bad-input"\nsystems = ["gazetteer"]\n'
        '[[datasets]]\nname = "masakhaner2"\nsplit = "test"\nlanguages = ["hau"]\n'
        '[system_params.gazetteer]\ntrain = "masakhaner2/{target}/train"\n' + body,
        encoding="utf-8",
    )
    return path


def store_digest(path: Path) -> str:
    """Every row of every table: what "the store is unchanged" means."""
    if not path.exists():
        return "absent"
    conn = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """A good data dir, a suite file, and a store holding one finished run."""
    data = write_data(tmp_path / "data")
    suite = write_suite(tmp_path / "suite.toml")
    store = tmp_path / "store.sqlite"
    first = runner.invoke(app, ["run", str(suite), "--data-dir", str(data), "--store", str(store), "--no-progress"])
    assert first.exit_code == 0, first.output
    return {"data": data, "suite": suite, "store": store, "tmp": tmp_path}


@dataclass(frozen=True)
class Case:
    """One bad input: how to build the command line, and the message it must get."""

    id: str
    args: Callable[[dict[str, Path]], list[str]]
    message: str


def run_args(*extra: str, data: str | None = None) -> Callable[[dict[str, Path]], list[str]]:
    def build(w: dict[str, Path]) -> list[str]:
        return ["run", str(w["suite"]), "--data-dir", data or str(w["data"]), "--store", str(w["store"]), "--no-progress", *extra]

    return build


def bad_data(test: str | None, *extra: str, lang: str = "hau", train: bool = True) -> Callable[[dict[str, Path]], list[str]]:
    def build(w: dict[str, Path]) -> list[str]:
        root = write_data(w["tmp"] / f"bad-{hashlib.sha1(repr((test, extra, lang)).encode()).hexdigest()[:8]}", test, lang=lang, train=train)
        return run_args(*extra, data=str(root))(w)

    return build


def suite_body(body: str, *extra: str) -> Callable[[dict[str, Path]], list[str]]:
    def build(w: dict[str, Path]) -> list[str]:
        path = write_suite(w["tmp"] / f"suite-{hashlib.sha1(body.encode()).hexdigest()[:8]}.toml", body)
        return ["run", str(path), "--data-dir", str(w["data"]), "--store", str(w["store"]), "--no-progress", *extra]

    return build


def binary_suite(w: dict[str, Path]) -> list[str]:
    path = w["tmp"] / "binary.toml"
    path.write_bytes(bytes(range(256)) * 4)
    return ["run", str(path), "--data-dir", str(w["data"]), "--store", str(w["store"]), "--no-progress"]


CASES = [
    # 1-2. data errors and empty test sets: refused before any run row is written.
    Case("bad-tag-line", bad_data(GOOD_TEST + "\nKano B-\n"), "test.txt:26: expected an IOB2 tag"),
    Case("empty-file", bad_data(""), "has no sentences"),
    Case("only-docstart", bad_data("-DOCSTART- O\n\n"), "has no sentences"),
    Case("only-blank-lines", bad_data("\n\n\n"), "has no sentences"),
    Case("max-sentences-0", run_args("--max-sentences", "0"), "--max-sentences must be an int ≥ 1, got 0"),
    Case("max-sentences-negative", run_args("--max-sentences", "-5"), "--max-sentences must be an int ≥ 1, got -5"),
    # 4. a string where a list of labels is expected.
    Case("label-map-string", suite_body('[label_map.gazetteer]\ngold_to_outside = "DATE"\n'),
         'label_map.gazetteer.gold_to_outside must be a list of labels, e.g. ["DATE"]; got \'DATE\''),
    Case("label-map-unknown-key", suite_body('[label_map.gazetteer]\ngold_outside = ["DATE"]\n'),
         "label_map.gazetteer has unknown key(s) gold_outside"),
    # 5. system parameters validated by the constructor's annotations and ranges.
    Case("suite-min-count-string", suite_body('min_count = "lots"\n'), "gazetteer.min_count must be an int ≥ 1, got 'lots'"),
    Case("suite-max-length-negative", suite_body("max_length = -5\n"), "gazetteer.max_length must be an int ≥ 1, got -5"),
    Case("param-bool-maybe", run_args("--param", "gazetteer.case_fold=maybe"), "gazetteer.case_fold must be true or false, got 'maybe'"),
    Case("param-int-abc", run_args("--param", "gazetteer.min_count=abc"), "gazetteer.min_count must be an int ≥ 1, got 'abc'"),
    Case("param-int-zero", run_args("--param", "gazetteer.min_count=0"), "gazetteer.min_count must be an int ≥ 1, got '0'"),
    Case("param-unknown-key", run_args("--param", "gazetteer.min_cout=2"), "has no parameter 'min_cout' (did you mean 'min_count'?)"),
    # 6. unknown --param targets, out-of-range perturbation values.
    Case("param-unknown-target", run_args("--param", "nosuchsys.foo=1"), "'nosuchsys' is not a system or perturbation of this run"),
    Case("param-close-target", run_args("--param", "gazeteer.min_count=2"), "Did you mean 'gazetteer'?"),
    Case("param-perturbation-not-in-run", run_args("--param", "char-typos.v1.severity=99"),
         "'char-typos.v1' is not a system or perturbation of this run"),
    Case("param-perturbation-out-of-range", run_args("--attacks", "char-typos.v1", "--param", "char-typos.v1.severity=99"),
         "The 'severity' parameter of perturbation 'char-typos.v1' must be one of 1, 2, 3, 4, 5. Got 99 instead."),
    Case("param-perturbation-not-int", run_args("--attacks", "char-typos.v1", "--param", "char-typos.v1.min_length=x"),
         "char-typos.v1.min_length must be an int ≥ 1, got 'x'"),
    Case("suite-params-unknown-system", suite_body("[system_params.gazeteer]\nmin_count = 2\n"),
         "Unknown system in [system_params] 'gazeteer'. Did you mean 'gazetteer'?"),
    Case("param-syntax", run_args("--param", "case_fold=true"), "must look like system.key=value"),
    # 7. batch size.
    Case("batch-size-0", run_args("--batch-size", "0"), "--batch-size must be an int ≥ 1, got 0"),
    # 8. raw tracebacks before.
    Case("seeds-abc", run_args("--seeds", "abc"), "--seeds must be comma-separated integers (e.g. 0,1,2); 'abc' is not an integer"),
    Case("seeds-twice", run_args("--seeds", "1,1"), "--seeds lists a seed twice"),
    Case("binary-suite", binary_suite, "not a UTF-8 text file"),
    Case("class-init-raises", run_args("--systems", f"{BAD}:InitRaises"),
         f"cannot build system '{BAD}:InitRaises' with {{}}: RuntimeError: cannot find my weights"),
    Case("class-no-predict", run_args("--systems", f"{BAD}:NoPredict"), "has no predict(sentences) method"),
    Case("class-tags-raise", run_args("--systems", f"{BAD}:TagsRaise"), "reading its tags raised RuntimeError: tags are not ready"),
    Case("target-not-a-class", run_args("--systems", f"{BAD}:NOT_A_CLASS"), "is a int, not a class or factory function"),
    Case("target-missing-attribute", run_args("--systems", f"{BAD}:Nope"), "has no attribute 'Nope'"),
    Case("target-missing-module", run_args("--systems", "no_such_pkg.mod:X"), "cannot import 'no_such_pkg.mod'"),
    # 11. gold types outside the declared label set; control characters.
    Case("gold-unknown-type", bad_data("Kano B-FOO\n"), "test.txt:1, sentence masakhaner2/hau/test/0: entity type 'FOO'"),
    Case("gold-lowercase-type", bad_data("a O\nKano B-per\n"), "test.txt:2, sentence masakhaner2/hau/test/0: entity type 'per' in tag 'B-per' is not one the dataset declares (DATE, LOC, ORG, PER); did you mean B-PER?"),
    Case("gold-bracket-type", bad_data("Kano B-[/x]\n"), "entity type '[/x]' in tag 'B-[/x]'"),
    Case("nul-in-token", bad_data("Ka\x00no B-LOC\n"), "contains the control character U+0000"),
    Case("escape-in-token", bad_data("Ka\x1bno B-LOC\n"), "contains the control character U+001B"),
    # 13. user data printed literally, never as Rich markup or emoji.
    Case("markup-in-token", bad_data("[red]tafi[/red] B-\n"), "found 'B-'"),
    Case("markup-literal", bad_data("[red]tafi[/red]\n"), "found 1 column: '[red]tafi[/red]'"),
    Case("emoji-literal", bad_data(":x:\n"), "found 1 column: ':x:'"),
    # 14. a missing split lists what is present.
    Case("missing-split", bad_data(None, lang="hau", train=True), "hau has train; languages with a test split: none"),
    # Already handled before issue 12; kept so that they stay handled.
    Case("unknown-system", run_args("--systems", "gazeteer"), "Unknown system 'gazeteer'. Did you mean 'gazetteer'?"),
    Case("unknown-attack", run_args("--attacks", "char-typo.v1"), "Unknown perturbation 'char-typo.v1'. Did you mean"),
    Case("unknown-language", run_args("--languages", "xyz"), "no test split for xyz"),
    Case("missing-data-dir", run_args(data="/nonexistent/xner"), "does not exist"),
    Case("invalid-toml", suite_body("[[[\n"), "invalid TOML"),
    Case("unknown-suite-key", suite_body("[colour]\nx = 1\n"), "unknown suite key(s) colour"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line_and_leaves_the_store_unchanged(case: Case, world: dict[str, Path]) -> None:
    before = store_digest(world["store"])
    args = case.args(world)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, f"{case.id}: exit {result.exit_code}\n{result.output}"
    assert isinstance(result.exception, SystemExit), f"{case.id}: {result.exception!r}"
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"{case.id}: expected one error line, got:\n{result.output}"
    assert case.message in errors[0], f"{case.id}: {errors[0]!r} lacks {case.message!r}"
    assert store_digest(world["store"]) == before, f"{case.id}: the store changed"


def test_store_is_not_created_by_a_refused_run(tmp_path: Path, world: dict[str, Path]) -> None:
    fresh = tmp_path / "fresh.sqlite"
    result = runner.invoke(app, ["run", str(world["suite"]), "--seeds", "abc", "--store", str(fresh)])
    assert result.exit_code == 2 and not fresh.exists()


# --- 1. run bookkeeping ------------------------------------------------------------------------


def test_data_error_run_leaves_no_empty_run_and_the_board_still_builds(world: dict[str, Path]) -> None:
    bad = write_data(world["tmp"] / "bad", GOOD_TEST + "\nKano B-\n")
    refused = runner.invoke(app, ["run", str(world["suite"]), "--data-dir", str(bad), "--store", str(world["store"])])
    assert refused.exit_code == 2
    again = runner.invoke(app, ["run", str(world["suite"]), "--data-dir", str(world["data"]), "--store", str(world["store"]), "--no-progress"])
    assert again.exit_code == 0 and "0 computed, 1 already stored" in again.output
    board = runner.invoke(app, ["leaderboard", "bad-input", "--store", str(world["store"])])
    assert board.exit_code == 0, board.output
    assert "gazetteer" in board.output


def test_board_skips_a_later_run_that_finished_no_cell(world: dict[str, Path]) -> None:
    from harness.store import ResultStore
    from leaderboards.board import build_board

    # A run row with no cell, as older versions left behind after a data error.
    with ResultStore(world["store"]) as store:
        good = store.runs()[0]["run_id"]
        manifest = store.manifest(good)
        manifest["datasets"][0]["data_files"] = [["masakhaner2/hau/test.txt", "0" * 64]]
        store.record_run("f" * 16, "bad-input", manifest, manifest["harness_version"], manifest["scorer_version"])
        board = build_board(store, "bad-input", resamples=20)
    assert board.rows[0].run_ids == (good,)
    assert any("most recent with finished cells" in n and "f" * 16 in n for n in board.notes)


# --- 3. duplicates -----------------------------------------------------------------------------


def test_duplicate_attack_is_run_once_with_a_note(world: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["run", str(world["suite"]), "--attacks", "char-typos.v1,char-typos.v1", "--data-dir", str(world["data"]),
              "--store", str(world["store"]), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "char-typos.v1 is listed more than once with the same parameters; it is run once" in result.output
    assert "2 computed, 0 already stored" in result.output  # a new run: clean + one perturbed cell
    with sqlite3.connect(world["store"]) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM cells WHERE perturbation='char-typos.v1'").fetchone()
    assert n == 1


# --- 8. xner perturb --out -----------------------------------------------------------------------


def test_perturb_out_existing_directory_is_refused_without_leftovers(tmp_path: Path) -> None:
    source = write_data(tmp_path / "d") / "masakhaner2" / "hau" / "test.txt"
    target = tmp_path / "existing"
    target.mkdir()
    result = runner.invoke(app, ["perturb", str(source), "--attack", "char-typos.v1", "--out", str(target)])
    assert result.exit_code == 2 and "is a directory" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "existing"]


def test_write_conll_removes_its_temporary_file_on_failure(tmp_path: Path) -> None:
    from harness.conll import write_conll
    from harness.data import Sentence

    target = tmp_path / "dir"
    target.mkdir()
    (target / "x").write_text("keep")
    with pytest.raises(OSError):
        write_conll(target, [Sentence("a/0", "hau", ("Kano",), ("B-LOC",))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_perturb_bad_param_value_is_one_line(tmp_path: Path) -> None:
    source = write_data(tmp_path / "d") / "masakhaner2" / "hau" / "test.txt"
    result = runner.invoke(app, ["perturb", str(source), "--attack", "char-typos.v1", "--param", "severity=abc"])
    assert result.exit_code == 2 and "char-typos.v1.severity must be an int, got 'abc'" in result.output


# --- 9. systems that exit or hang -----------------------------------------------------------------


def test_sys_exit_in_predict_fails_its_cells_and_the_run_goes_on(world: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["run", str(world["suite"]), "--systems", f"{BAD}:ExitsInPredict,{FAKE}", "--data-dir", str(world["data"]),
              "--store", str(world["store"]), "--no-progress"],
    )
    assert result.exit_code == 1, result.output
    assert "called sys.exit(0)" in result.output and "1 computed" in result.output and "1 failed" in result.output


# --- 10. undeclared labels -----------------------------------------------------------------------


def test_undeclared_predicted_label_fails_the_cell_naming_label_and_sentence(world: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["run", str(world["suite"]), "--systems", f"{BAD}:UndeclaredLabel", "--data-dir", str(world["data"]),
              "--store", str(world["store"]), "--no-progress"],
    )
    assert result.exit_code == 1
    assert "returned label(s) DATE for sentence masakhaner2/hau/test/0, which its tags do not declare (declared: PER)" in result.output
    with sqlite3.connect(world["store"]) as conn:
        rows = conn.execute("SELECT status FROM cells WHERE system=?", (f"{BAD}:UndeclaredLabel",)).fetchall()
    assert rows == [("failed",)]


# --- 11. opt-out of the label check ----------------------------------------------------------------


def test_gold_label_check_has_an_opt_out(tmp_path: Path) -> None:
    from harness.datasets import load_ner

    root = write_data(tmp_path / "d", "Kano B-FOO\n")
    loaded = load_ner("masakhaner2", "hau", "test", data_dir=root, check_labels=False)
    assert loaded.sentences[0].tags == ("B-FOO",)


def test_documented_invisible_characters_are_still_accepted() -> None:
    from harness.data import Sentence

    assert len(Sentence("x/0", "hau", ("a\x85b", "c\u200bd", "e\x81", "\u200f"), ("O",) * 4)) == 4


# --- 12. predictions loader --------------------------------------------------------------------


def _one_sentence_set(tmp_path: Path) -> tuple[Path, list[object]]:
    from harness.data import Sentence

    return tmp_path, [Sentence("d/hau/test/0", "hau", ("Kano", "ya"), ("B-LOC", "O"))]


def test_predictions_file_with_three_columns_is_refused(tmp_path: Path) -> None:
    from harness.errors import DataFormatError
    from leaderboards.exports import read_predictions

    _, expected = _one_sentence_set(tmp_path)
    path = tmp_path / "p.conll"
    path.write_text("Kano NN B-LOC\nya NN O\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"p.conll:1.*expected 'token tag' \(2 columns\), found 3 column"):
        read_predictions(path, expected)  # type: ignore[arg-type]


def test_predictions_symlink_outside_the_directory_is_refused_without_echo(tmp_path: Path) -> None:
    from harness.errors import DataFormatError
    from leaderboards.exports import TestSet, load_prediction_dir

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE x y z\n", encoding="utf-8")
    submission = tmp_path / "sub"
    _, expected = _one_sentence_set(tmp_path)
    test_set = TestSet("d", "hau", "test", "none", "x", None, tuple(expected))  # type: ignore[arg-type]
    link = submission / test_set.relpath
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    with pytest.raises(DataFormatError) as info:
        load_prediction_dir(submission, [test_set])
    assert "symlink to a file outside the submission directory" in str(info.value)
    assert "TOP-SECRET" not in str(info.value)


# --- the installed console script: real process, real exit code ----------------------------------


def test_console_script_exit_code_and_single_line(world: dict[str, Path]) -> None:
    from tests.conftest import xner_executable

    before = store_digest(world["store"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [xner_executable(), "run", str(world["suite"]), "--seeds", "abc", "--store", str(world["store"])],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        "error: --seeds must be comma-separated integers (e.g. 0,1,2); 'abc' is not an integer"
    ]
    assert store_digest(world["store"]) == before


@pytest.mark.parametrize(
    ("system", "message"),
    [
        ("ExitsInPredict", "worker exited with code 0 during predict"),
        ("HardExit", "worker exited with code 3 during predict"),
        ("Sleeps", "exceeded the time limit of 2 s; the worker was stopped"),
    ],
)
def test_isolate_contains_exit_crash_and_hang_to_their_own_cells(system: str, message: str, world: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["run", str(world["suite"]), "--systems", f"{BAD}:{system},{FAKE}", "--isolate", "--batch-timeout", "2",
              "--data-dir", str(world["data"]), "--store", str(world["store"]), "--no-progress"],
    )
    assert result.exit_code == 1, result.output
    assert message in result.output and "1 computed" in result.output and "1 failed" in result.output
    with sqlite3.connect(world["store"]) as conn:
        statuses = dict(conn.execute("SELECT system, status FROM cells WHERE system LIKE 'tests.%'").fetchall())
    assert statuses == {f"{BAD}:{system}": "failed", FAKE: "done"}


def test_process_killed_in_process_keeps_finished_cells_and_is_reported_next_run(world: dict[str, Path]) -> None:
    from tests.conftest import xner_executable

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    base = [xner_executable(), "run", str(world["suite"]), "--data-dir", str(world["data"]), "--store", str(world["store"]), "--no-progress"]
    died = subprocess.run([*base, "--systems", f"{FAKE},{BAD}:HardExit"], capture_output=True, text=True, env=env, timeout=120)
    assert died.returncode == 3  # os._exit(3) in process: nothing can run after it ...
    with sqlite3.connect(world["store"]) as conn:
        done = conn.execute("SELECT status FROM cells WHERE system=?", (FAKE,)).fetchall()
    assert done == [("done",)]  # ... but the cell finished before it is stored
    again = subprocess.run([*base, "--systems", FAKE], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "was interrupted before it finished" in again.stdout and "1 finished cell(s) are stored" in again.stdout
    third = subprocess.run([*base, "--systems", FAKE], capture_output=True, text=True, env=env, timeout=120)
    assert "interrupted" not in third.stdout  # reported once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--max-sentences", "abc"], "error: Invalid value for '--max-sentences'"),
        (["run", "--nope"], "error: No such option: --nope"),
        (["nosuchcmd"], "error: No such command 'nosuchcmd'."),
    ],
)
def test_console_script_usage_errors_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    from tests.conftest import xner_executable

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([xner_executable(), *args], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(message), done.stderr


def write_suite_top(path: Path, top: str) -> Path:
    path.write_text(
        f'name = "bad-input"\nsystems = ["gazetteer"]\n{top}'
        '[[datasets]]\nname = "masakhaner2"\nsplit = "test"\nlanguages = ["hau"]\n',
        encoding="utf-8",
    )
    return path


def suite_top(top: str) -> Callable[[dict[str, Path]], list[str]]:
    def build(w: dict[str, Path]) -> list[str]:
        path = write_suite_top(w["tmp"] / f"top-{hashlib.sha1(top.encode()).hexdigest()[:8]}.toml", top)
        return ["run", str(path), "--data-dir", str(w["data"]), "--store", str(w["store"]), "--no-progress"]

    return build


def raw_suite(text: str) -> Callable[[dict[str, Path]], list[str]]:
    def build(w: dict[str, Path]) -> list[str]:
        path = w["tmp"] / f"raw-{hashlib.sha1(text.encode()).hexdigest()[:8]}.toml"
        path.write_text(text, encoding="utf-8")
        return ["run", str(path), "--data-dir", str(w["data"]), "--store", str(w["store"]), "--no-progress"]

    return build


MORE_CASES = [
    Case("seeds-negative", run_args("--seeds", "-1"), "--seeds must be integers ≥ 0"),
    Case("systems-empty", run_args("--systems", ",,"), "--systems ',,' lists nothing"),
    Case("languages-empty", run_args("--languages", ","), "--languages ',' lists nothing"),
    Case("backbone-empty", run_args("--backbone", " "), "--backbone is empty"),
    Case("batch-timeout-zero", run_args("--isolate", "--batch-timeout", "0"), "--batch-timeout must be > 0 seconds"),
    Case("suite-seeds-negative", suite_top("seeds = [-1]\n"), "'seeds' must be a non-empty list of integers ≥ 0"),
    Case("suite-systems-string", raw_suite('name = "x"\nsystems = "gazetteer"\n[[datasets]]\nname = "masakhaner2"\n'),
         "'systems' must be a list of system names"),
    Case("suite-system-params-not-table", raw_suite('name = "x"\nsystems = ["gazetteer"]\nsystem_params = 3\n[[datasets]]\nname = "masakhaner2"\n'),
         "[system_params.<system>] must be tables"),
]


@pytest.mark.parametrize("case", MORE_CASES, ids=[c.id for c in MORE_CASES])
def test_more_bad_input_is_one_clear_line(case: Case, world: dict[str, Path]) -> None:
    test_bad_input_is_one_clear_line_and_leaves_the_store_unchanged(case, world)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["leaderboard", "bad-input", "--resamples", "0"], "--resamples must be an int ≥ 1, got 0"),
        (["leaderboard", "bad-input", "--format", "md", "--out", "{tmp}"], "is a directory"),
        (["report", "bad-input", "--out", "{tmp}/r.pdf"], "cannot tell the format from '.pdf'"),
        (["robustness", "--run", "zzz"], "--run 'zzz' matches no stored run"),
    ],
)
def test_reading_commands_refuse_bad_options_in_one_line(args: list[str], message: str, world: dict[str, Path]) -> None:
    before = store_digest(world["store"])
    full = [a.replace("{tmp}", str(world["tmp"])) for a in args] + ["--store", str(world["store"])]
    result = runner.invoke(app, full)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 2 and len(errors) == 1 and message in errors[0], result.output
    assert store_digest(world["store"]) == before
    assert not (world["tmp"] / "r.pdf").exists()


def cmd(*args: str) -> Callable[[dict[str, Path]], list[str]]:
    """Any command; ``{store}``, ``{tmp}``, ``{data}`` and ``{suite}`` are filled in."""

    def build(w: dict[str, Path]) -> list[str]:
        (w["tmp"] / "a-dir").mkdir(exist_ok=True)
        (w["tmp"] / "a-file.txt").write_text("Kano B-LOC\n", encoding="utf-8")
        return [a.format(store=w["store"], tmp=w["tmp"], data=w["data"], suite=w["suite"]) for a in args]

    return build


# Inputs a new user tried that were already answered well: kept here so they stay that way.
ALREADY_HANDLED = [
    Case("param-train-malformed", run_args("--param", "gazetteer.train=nope"), "gazetteer train='nope' must look like 'dataset/lang/split'"),
    Case("param-train-unknown-dataset", run_args("--param", "gazetteer.train=a/b/c"), "Unknown dataset 'a'"),
    Case("param-float-for-int", run_args("--param", "gazetteer.max_length=1e9"), "gazetteer.max_length must be an int ≥ 1, got '1e9'"),
    Case("param-list-for-bool", run_args("--param", "gazetteer.case_fold=[1]"), "gazetteer.case_fold must be true or false"),
    Case("perturbation-choice", run_args("--attacks", "char-typos.v1", "--param", "char-typos.v1.layout=dvorak9"),
         "The 'layout' parameter of perturbation 'char-typos.v1' must be one of"),
    Case("store-is-directory", cmd("run", "{suite}", "--data-dir", "{data}", "--store", "{tmp}/a-dir"), "not a usable xner result store"),
    Case("store-is-text-file", cmd("run", "{suite}", "--data-dir", "{data}", "--store", "{tmp}/a-file.txt"), "not a usable xner result store"),
    Case("suite-is-directory", cmd("run", "{tmp}/a-dir", "--store", "{store}"), "Unknown suite"),
    Case("data-dir-is-file", cmd("run", "{suite}", "--data-dir", "{tmp}/a-file.txt", "--store", "{store}"), "does not exist"),
    Case("results-no-store", cmd("results", "--store", "{tmp}/none.sqlite"), "no result store at"),
    Case("export-bad-suffix", cmd("export", "{tmp}/out.xlsx", "--store", "{store}"), "must end in .csv or .parquet"),
    Case("export-bad-table", cmd("export", "{tmp}/o.csv", "--table", "nope", "--store", "{store}"), "export table must be scores, robustness or sentences"),
    Case("leaderboard-bad-view", cmd("leaderboard", "bad-input", "--view", "nope", "--store", "{store}"), "--view must be one of"),
    Case("leaderboard-unknown-suite", cmd("leaderboard", "nope", "--store", "{store}"), "no runs of suite 'nope'"),
    Case("leaderboard-bad-rank", cmd("leaderboard", "bad-input", "--rank-by", "x", "--store", "{store}"), "rank_by must be one of"),
    Case("perturb-unknown-attack", cmd("perturb", "{data}/masakhaner2/hau/test.txt", "--attack", "nope.v1"), "Unknown perturbation 'nope.v1'"),
    Case("perturb-unknown-param", cmd("perturb", "{data}/masakhaner2/hau/test.txt", "--attack", "char-typos.v1", "--param", "nokey=1"),
         "perturbation 'char-typos.v1' has no parameter 'nokey'"),
    Case("perturb-no-language", cmd("perturb", "{tmp}/a-file.txt", "--attack", "char-typos.v1"), "cannot infer the language"),
    Case("submit-missing-meta", cmd("submit", "predictions", "{tmp}/a-dir", "--suite", "{suite}", "--meta", "{tmp}/none.toml", "--store", "{store}"),
         "cannot read metadata file"),
]


@pytest.mark.parametrize("case", ALREADY_HANDLED, ids=[c.id for c in ALREADY_HANDLED])
def test_already_handled_input_stays_handled(case: Case, world: dict[str, Path]) -> None:
    test_bad_input_is_one_clear_line_and_leaves_the_store_unchanged(case, world)
