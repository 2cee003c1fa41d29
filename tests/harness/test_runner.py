from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.manifest import load_suite, parse_suite
from harness.runner import Runner, build_manifest
from harness.store import ResultStore

FAKES = "tests.harness.fake_systems"
REPO = Path(__file__).resolve().parents[2]


def smoke_manifest(systems: list[str], **kwargs: object):
    kwargs.setdefault("attacks", [])  # clean cells only, unless a test asks for perturbations
    return build_manifest(load_suite("smoke"), systems=systems, **kwargs)  # type: ignore[arg-type]


def micro_rows(store: ResultStore) -> dict[tuple[str, ...], tuple[int, int, int]]:
    frame = store.scores_frame(entity_type="ALL")
    return {
        (r.system, r.dataset, r.lang, r.perturbation, str(r.seed)): (r.tp, r.fp, r.fn)
        for r in frame.itertuples()
    }


def test_runner_scores_every_language_of_the_smoke_suite(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = Runner(smoke_manifest(["gazetteer"]), store).run()
        assert {k.lang for k in summary.computed} == {"eng", "hau", "swa", "yor"}
        rows = micro_rows(store)
        assert len(rows) == 4 and all(tp > 0 for tp, _, _ in rows.values())


def test_runner_rerun_reuses_finished_cells(tmp_path: Path) -> None:
    manifest = smoke_manifest(["gazetteer"])
    with ResultStore(tmp_path / "r.sqlite") as store:
        Runner(manifest, store).run()
        again = Runner(manifest, store).run()
    assert again.computed == [] and len(again.reused) == 4


def test_runner_prediction_cache_avoids_calling_the_system_twice(tmp_path: Path) -> None:
    from tests.harness import fake_systems

    calls: list[int] = []
    original = fake_systems.CapitalisedIsPerson.predict

    def counting(self, sentences):  # type: ignore[no-untyped-def]
        calls.append(len(sentences))
        return original(self, sentences)

    fake_systems.CapitalisedIsPerson.predict = counting  # type: ignore[method-assign]
    try:
        with ResultStore(tmp_path / "r.sqlite") as store:
            Runner(smoke_manifest([f"{FAKES}:CapitalisedIsPerson"]), store).run()
            first = sum(calls)
            # A different run (other seed) of the same system on the same inputs hits the cache.
            Runner(smoke_manifest([f"{FAKES}:CapitalisedIsPerson"], seeds=[5]), store).run()
    finally:
        fake_systems.CapitalisedIsPerson.predict = original  # type: ignore[method-assign]
    assert first == 16 and sum(calls) == first


@pytest.mark.parametrize("isolate_timeout", [None, 60.0], ids=["in-process", "isolated"])
def test_runner_prediction_cache_never_serves_a_retrained_model_the_old_models_output(tmp_path: Path, isolate_timeout: float | None) -> None:
    """Same parameters and seed, same inputs: cached predictions are reused while the fit loads the
    same trained model, and recomputed once it was retrained (a new build id in its fit report).
    Isolated (``--isolate``), the worker's fit report reaches the runner the same way."""
    model, log = tmp_path / "model.txt", tmp_path / "predicted.log"
    system = f"{FAKES}:RetrainedUnderSameParams"
    params = {system: {"model_file": str(model), "log": str(log)}}

    def predicted_languages(languages: list[str]) -> set[str]:
        log.write_text("", encoding="utf-8")
        with ResultStore(tmp_path / "r.sqlite") as store:
            Runner(smoke_manifest([system], languages=languages, system_params=params), store, isolate_timeout=isolate_timeout).run()
            build = model.read_text(encoding="utf-8")
            assert {"fit_report": {"hau": {"model": {"build": build}}}} in [r["report"] for r in store.fit_reports()]
        return set(log.read_text(encoding="utf-8").split())

    model.write_text("build-1", encoding="utf-8")
    assert predicted_languages(["hau"]) == {"hau"}
    assert predicted_languages(["hau", "yor"]) == {"yor"}  # another run, the same model: hau from the cache
    model.write_text("build-2", encoding="utf-8")  # retrained under the same parameters
    assert predicted_languages(["hau", "swa"]) == {"hau", "swa"}


def test_runner_failing_system_fails_only_its_own_cells(tmp_path: Path) -> None:
    manifest = smoke_manifest([f"{FAKES}:WrongLength", f"{FAKES}:Raises", "gazetteer"])
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = Runner(manifest, store).run()
        failed = {k.system: message for k, message in summary.failed}
        assert "wrong-length.predict returned 5 tags for sentence smoke/yor/test/0 with 6 tokens" in failed[f"{FAKES}:WrongLength"]
        assert "RuntimeError: model exploded" in failed[f"{FAKES}:Raises"]
        assert {k.system for k in summary.computed} == {"gazetteer"}
        assert len(store.cells(status="failed")) == 8


def test_runner_label_harmonisation_maps_misc_and_date(tmp_path: Path) -> None:
    manifest = smoke_manifest(["gazetteer"], system_params={"gazetteer": {"train": "conll2003/eng/train"}}, data_dir=None)
    mapping = manifest.mapping_for("gazetteer", "smoke")
    assert mapping.pred_to_outside == ("MISC",) and mapping.gold_to_outside == ("DATE",)


def test_runner_resumes_after_keyboard_interrupt_with_identical_numbers(tmp_path: Path) -> None:
    from tests.harness.fake_systems import InterruptAfter

    name = f"{FAKES}:InterruptAfter"
    InterruptAfter.budget["calls"] = 0
    with ResultStore(tmp_path / "a.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            Runner(smoke_manifest([name]), store, batch_size=2).run()
        partial = len(store.cells(status="done"))
        assert 0 < partial < 4
        InterruptAfter.budget["calls"] = 100  # no more interrupts
        Runner(smoke_manifest([name]), store, batch_size=2).run()
        resumed = micro_rows(store)
    with ResultStore(tmp_path / "b.sqlite") as store:
        Runner(smoke_manifest([name]), store, batch_size=2).run()
        assert micro_rows(store) == resumed


def test_runner_perturbed_cells_write_robustness_rows(tmp_path: Path) -> None:
    manifest = build_manifest(load_suite("smoke"), systems=["gazetteer"])
    severities = sorted(dict(p.params).get("severity", 0) for p in manifest.perturbations if p.name == "char-typos.v1")
    assert severities == [1, 3]  # the same perturbation at two severities is two cells
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = Runner(manifest, store).run()
        assert len(summary.computed) == 4 * (1 + len(manifest.perturbations)) and not summary.failed
        frame = store.robustness_frame(lang="yor")
        assert set(frame["perturbation"]) == {p.name for p in manifest.perturbations} | {"worst-case"}
        typos = frame[frame["perturbation"] == "char-typos.v1"]
        assert len(typos) == 2 and typos["coverage"].max() > 0
        worst = frame[frame["perturbation"] == "worst-case"].iloc[0]
        assert worst["perturbed_f1"] <= worst["clean_f1"]


def test_manifest_run_id_is_stable_and_sensitive_to_parameters() -> None:
    a = smoke_manifest(["gazetteer"])
    b = smoke_manifest(["gazetteer"])
    c = smoke_manifest(["gazetteer"], system_params={"gazetteer": {"case_fold": True}})
    assert a.run_id == b.run_id != c.run_id
    assert dict(c.systems[0].params)["case_fold"] is True


def test_a_stored_manifest_keeps_its_run_id_through_from_dict_also_from_before_the_environment_was_recorded() -> None:
    """A study resumes an interrupted run by rebuilding its stored manifest; a different id would
    store the new cells beside a stale manifest. Manifests written before the machine environment
    was recorded have no such key, and their id was hashed without it."""
    import hashlib

    from harness.manifest import RunManifest, canonical_json

    current = smoke_manifest(["gazetteer"])
    assert current.environment  # the runner records the machine
    assert RunManifest.from_dict(current.to_dict()).run_id == current.run_id
    older = current.to_dict()
    del older["environment"]
    older_id = hashlib.sha256(canonical_json(older).encode()).hexdigest()[:16]
    assert RunManifest.from_dict(older).run_id == older_id
    assert RunManifest.from_dict(older).to_dict() == older


def test_parse_suite_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown suite key"):
        parse_suite({"name": "x", "systems": [], "datasets": [], "sistems": []})


def test_build_manifest_rejects_unknown_system_with_suggestion() -> None:
    with pytest.raises(KeyError, match="Did you mean 'gazetteer'"):
        smoke_manifest(["gazeteer"])


def test_build_manifest_rejects_unknown_system_parameter() -> None:
    with pytest.raises(ValueError, match="has no parameter 'case'.*accepts: train, case_fold"):
        smoke_manifest(["gazetteer"], system_params={"gazetteer": {"case": True}})


def test_runner_survives_kill_9_and_resumes_to_the_same_numbers(tmp_path: Path, data_dir: Path) -> None:
    """Kill a real-data run mid-way with SIGKILL, rerun it, and compare with an uninterrupted run."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "XNER_TEST_SLOW": "1"}
    system = f"{FAKES}:SlowGazetteer"
    args = [sys.executable, "-m", "harness.cli", "run", "masakhaner2", "--systems", system, "--data-dir", str(data_dir),
            "--languages", "hau,ibo,swa,yor", "--batch-size", "400", "--no-progress"]
    killed_store = tmp_path / "killed.sqlite"
    process = subprocess.Popen([*args, "--store", str(killed_store)], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and process.poll() is None:
        if killed_store.exists():
            try:
                with ResultStore(killed_store) as store:
                    done = len(store.cells(status="done"))
            except Exception:  # noqa: BLE001 - the writer may hold the lock for a moment
                done = 0
            if done >= 1:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    total = 4 * (1 + len(load_suite("masakhaner2").perturbations))  # 4 languages, clean + each perturbation
    assert 1 <= done < total, f"expected to kill mid-run, found {done} of {total} finished cells"
    env.pop("XNER_TEST_SLOW")
    subprocess.run([*args, "--store", str(killed_store)], env=env, cwd=REPO, check=True, capture_output=True)
    fresh_store = tmp_path / "fresh.sqlite"
    subprocess.run([*args, "--store", str(fresh_store)], env=env, cwd=REPO, check=True, capture_output=True)
    with ResultStore(killed_store) as a, ResultStore(fresh_store) as b:
        assert micro_rows(a) == micro_rows(b)
        assert len(a.cells(status="done")) == total
        # no duplicated sentence rows either
        assert a.execute("SELECT COUNT(*) AS n FROM sentence_results")[0]["n"] == b.execute("SELECT COUNT(*) AS n FROM sentence_results")[0]["n"]


def test_runner_stores_fit_reports_beside_the_results(tmp_path: Path) -> None:
    manifest = smoke_manifest([f"{FAKES}:ReportsOnFit"])
    with ResultStore(tmp_path / "r.sqlite") as store:
        Runner(manifest, store).run()
        reports = store.fit_reports()
    assert reports[0]["report"] == {"projection_report": {"yor": {"total": 10, "kept": 7, "dropped_marker-count": 3}}}


def test_runner_adversarial_cells_search_each_system_and_store_the_attack(tmp_path: Path) -> None:
    """adversarial.v1 is built against each fitted system: the cell's F1 is GreedyAttack's F1 after
    attack, the summary is stored beside the cell, and each system gets its own cached set."""
    from attacks import make_perturbation
    from harness.datasets import load_ner

    systems = ["gazetteer", f"{FAKES}:CapitalisedIsPerson"]
    manifest = smoke_manifest(systems, attacks=["adversarial.v1"])
    with ResultStore(tmp_path / "r.sqlite") as store:
        summary = Runner(manifest, store).run()
        assert not summary.failed and len(summary.computed) == 2 * 4 * 2
        attacked = [c for c in store.cells(perturbation="adversarial.v1", lang="yor")]
        assert len(attacked) == 2
        tokens = {}
        for cell in attacked:
            stored = store.attack_summary(cell.key)
            assert stored is not None and stored["attacked"] == cell.n_sentences
            counts = store.counts(cell.key)["ALL"]
            # The search scored what the cell scores (the run's label harmonisation applied).
            f1 = 2 * counts.tp / max(1, 2 * counts.tp + counts.fp + counts.fn)
            assert f1 == pytest.approx(stored["f1_attacked"])
            tokens[cell.key.system] = [o.tokens for o in store.sentence_outcomes(cell.key)]
        assert tokens["gazetteer"] != tokens[f"{FAKES}:CapitalisedIsPerson"]  # searched per system

        # The gazetteer's stored cell equals a direct search with the same settings.
        from systems.gazetteer import GazetteerTagger

        gold = load_ner("smoke", "yor", "test").sentences
        gazetteer = GazetteerTagger(train="smoke/{target}/train")
        gazetteer.fit_sentences(load_ner("smoke", "yor", "train").sentences)
        perturbed, direct = make_perturbation("adversarial.v1").attack_corpus(gazetteer, gold, seed=0)  # type: ignore[attr-defined]
        assert [p.sentence.tokens for p in perturbed] == [tuple(t) for t in tokens["gazetteer"]]
        gaz = next(c for c in attacked if c.key.system == "gazetteer")
        assert store.attack_summary(gaz.key)["statuses"] == direct["statuses"]  # type: ignore[index]
