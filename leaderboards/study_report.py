"""Study reports: the question, the answer in numbers, the evidence, and where every number came from.

Order of a report (Markdown with PNGs in ``<name>_files/``, and one self-contained HTML file):

1. the question and a one-paragraph answer in numbers (pooled estimates with CIs and p-values,
   how many languages go which way, how many survive Holm);
2. per comparison: the published direction beside ours, with its source, and whether ours agrees;
   the per-language table (paired bootstrap CI, approximate-randomisation p, Holm-adjusted p, seed
   spread beside the bootstrap standard error); the plots that fit (ΔF1 bars per system, F1 vs
   severity, F1/recall vs the varied parameter);
3. CPU time, the grid (every variant with its run id and status), notes on what is missing.

Numbers are F1 points (×100). Everything is computed by :mod:`harness.studies.analysis`.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.studies.analysis import POOLED, ComparisonResult, DiffRow, StudyResult, TrendRow, agreement, direction
from harness.studies.run import LanguageRun
from leaderboards.render import html_page, html_table
from leaderboards.report import Figure, _png


def pts(value: float | None, digits: int = 2) -> str:
    """A fraction as F1 points with a real minus sign.

    >>> pts(-0.0213), pts(0.5)
    ('−2.13', '50.00')
    """
    if value is None:
        return "—"
    return f"{100 * value:.{digits}f}".replace("-", "−")


def pval(p: float | None) -> str:
    """``0.003``, ``< 0.001``.

    >>> pval(0.0031), pval(0.0004), pval(None)
    ('0.003', '< 0.001', '—')
    """
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_is(p: float) -> str:
    """``p = 0.003`` or ``p < 0.001``.

    >>> p_is(0.0031), p_is(0.0001)
    ('p = 0.003', 'p < 0.001')
    """
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _ci(estimate: float, low: float, high: float) -> str:
    return f"{pts(estimate)} [{pts(low)}, {pts(high)}]"


def _what(row: DiffRow) -> str:
    return "ΔF1" if row.kind == "delta-f1-difference" else "F1"


def _condition_phrase(row: DiffRow) -> str:
    return "clean" if row.condition == "clean" else f"under {row.condition}"


def _groups(result: ComparisonResult) -> list[list[DiffRow]]:
    """Rows grouped by (pair, condition), pooled row last, in the order computed."""
    groups: dict[tuple[str, str, str], list[DiffRow]] = {}
    for row in result.rows:
        groups.setdefault((row.a, row.b, row.condition), []).append(row)
    return list(groups.values())


def diff_sentence(rows: Sequence[DiffRow], alpha: float = 0.05) -> str:
    """One sentence for one (pair, condition): pooled estimate, CI, p and the per-language tally."""
    pooled = next(r for r in rows if r.lang == POOLED)
    langs = [r for r in rows if r.lang != POOLED]
    # For ΔF1 a's advantage is a smaller drop (a negative difference); for F1 a higher score.
    sign = -1.0 if pooled.kind == "delta-f1-difference" else 1.0
    better = sum(sign * r.estimate > 0 for r in langs)
    if pooled.kind == "delta-f1-difference":
        tally = f"lower drop in {better} of {len(langs)} languages"
    else:
        tally = f"{pooled.a} higher in {better} of {len(langs)} languages"
    significant = [r for r in langs if (r.p_holm or 1.0) <= alpha]
    significant_for = sum(sign * r.estimate > 0 for r in significant)
    # A significant language against a's advantage must not read as evidence for it.
    against = len(significant) - significant_for
    other_way = f"; {against} significant the other way" if against else ""
    return (
        f"{pooled.a} − {pooled.b} {_what(pooled)} {_condition_phrase(pooled)}: "
        f"{_ci(pooled.estimate, pooled.low, pooled.high)}, {p_is(pooled.p)}; {tally} "
        f"({significant_for} significant after Holm at {alpha:g}{other_way})"
    )


def trend_sentence(rows: Sequence[TrendRow]) -> str:
    pooled = next(r for r in rows if r.lang == POOLED)
    langs = [r for r in rows if r.lang != POOLED]
    up = sum(r.low > 0 for r in langs)
    down = sum(r.high < 0 for r in langs)
    name = pooled.system + (f"@{pooled.backbone}" if pooled.backbone else "")
    cond = "" if pooled.condition == "clean" else f" under {pooled.condition}"
    return (
        f"{name} {pooled.metric} vs {pooled.parameter}{cond}: slope {_ci(pooled.slope, pooled.low, pooled.high)} per unit, "
        f"best {pooled.parameter} = {pooled.best_x:g} ({pts(max(pooled.values))}); slope CI above 0 in {up} "
        f"and below 0 in {down} of {len(langs)} languages"
    )


def _trend_groups(result: ComparisonResult) -> list[list[TrendRow]]:
    groups: dict[tuple[str | None, str, str], list[TrendRow]] = {}
    for row in result.trends:
        groups.setdefault((row.backbone, row.condition, row.metric), []).append(row)
    return list(groups.values())


def answer(result: StudyResult) -> str:
    """The one-paragraph answer in numbers (pooled over languages; F1 points)."""
    sentences = []
    for comparison in result.comparisons:
        for rows in _groups(comparison):
            if any(r.lang == POOLED for r in rows):
                sentences.append(diff_sentence(rows))
        for trows in _trend_groups(comparison):
            if any(r.lang == POOLED for r in trows):
                sentences.append(trend_sentence(trows))
    if not sentences:
        return "No answer yet: none of the comparisons has stored results (see the grid and notes below)."
    return "; ".join(sentences) + "." + coverage_sentence(result)


def coverage_sentence(result: StudyResult) -> str:
    """A sentence such as "Only on swa of the grid's hau, ibo, swa, yor: ..." when some grid languages have no result.

    A pooled estimate over part of the grid must not read as the grid's answer.
    """
    grid: dict[str, None] = {}
    for point in result.run.points.values():
        for dataset, lang in point.runs:
            grid.setdefault(f"{dataset}/{lang}" if len({d for d, _ in point.runs}) > 1 else lang, None)
    answered = {r.lang for c in result.comparisons for r in c.rows if r.lang != POOLED}
    answered |= {t.lang for c in result.comparisons for t in c.trends if t.lang != POOLED}
    missing = [lang for lang in grid if lang not in answered]
    if not missing:
        return ""
    covered = [lang for lang in grid if lang in answered]
    return (
        f" Only on {', '.join(covered)} of the grid's {', '.join(grid)}: {', '.join(missing)} "
        f"{'has' if len(missing) == 1 else 'have'} no stored results yet (see the grid below)."
    )


@dataclass(frozen=True)
class Verdict:
    published: str
    observed: str
    agreement: str


def verdicts(result: ComparisonResult) -> list[tuple[str, Verdict]]:
    """(what, verdict) per pooled estimate of the comparison."""
    out = []
    for rows in _groups(result):
        pooled = next((r for r in rows if r.lang == POOLED), None)
        if pooled is not None:
            observed = direction(pooled.low, pooled.high)
            label = f"{pooled.a} − {pooled.b} {_what(pooled)} {_condition_phrase(pooled)}"
            out.append((label, Verdict(result.comparison.published, observed, agreement(result.comparison.published, observed))))
    for trows in _trend_groups(result):
        pooled_t = next((r for r in trows if r.lang == POOLED), None)
        if pooled_t is not None:
            observed = direction(pooled_t.low, pooled_t.high)
            label = f"slope of {pooled_t.metric} vs {pooled_t.parameter}" + (f" ({pooled_t.backbone})" if pooled_t.backbone else "")
            out.append((label, Verdict(result.comparison.published, observed, agreement(result.comparison.published, observed))))
    return out


# --- tables -------------------------------------------------------------------------------------

DIFF_HEADERS = ["a − b", "condition", "language", "n", "a", "b", "difference [95% CI]", "p (AR)", "p (Holm)", "seeds", "seed sd", "bootstrap se", "dominates", "runs"]
TREND_HEADERS = ["system", "metric", "condition", "language", "n", "values by x", "slope [95% CI]", "best x", "runs"]


def diff_table(rows: Sequence[DiffRow]) -> list[list[str]]:
    return [
        [
            f"{r.a} − {r.b}", r.condition, r.lang, str(r.n_sentences), _ci(r.a_value, r.a_low, r.a_high), _ci(r.b_value, r.b_low, r.b_high),
            _ci(r.estimate, r.low, r.high), pval(r.p), pval(r.p_holm), str(r.seeds), pts(r.seed_sd), pts(r.bootstrap_se), r.dominant,
            ", ".join(r.run_ids),
        ]
        for r in rows
    ]


def trend_table(rows: Sequence[TrendRow]) -> list[list[str]]:
    return [
        [
            r.system + (f"@{r.backbone}" if r.backbone else ""), r.metric, r.condition, r.lang, str(r.n_sentences),
            "; ".join(f"{x:g}: {pts(v)} [{pts(lo)}, {pts(hi)}]" for x, v, lo, hi in zip(r.xs, r.values, r.value_lows, r.value_highs, strict=True)),
            _ci(r.slope, r.low, r.high), f"{r.best_x:g}", ", ".join(r.run_ids),
        ]
        for r in rows
    ]


# --- figures ------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def delta_bars(result: ComparisonResult) -> Figure | None:
    """Pooled ΔF1 per system for every perturbation (bars with 95% CIs)."""
    rows = [r for r in result.rows if r.lang == POOLED and r.kind == "delta-f1-difference"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = list(dict.fromkeys(r.condition for r in rows))
    systems = list(dict.fromkeys([s for r in rows for s in (r.a, r.b)]))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(conditions) + 2), 3.4))
    width = 0.8 / len(systems)
    for j, system in enumerate(systems):
        xs: list[float] = []
        ys: list[float] = []
        errs: list[list[float]] = [[], []]
        for i, cond in enumerate(conditions):
            row = next((r for r in rows if r.condition == cond and system in (r.a, r.b)), None)
            if row is None:
                continue
            v, lo, hi = (row.a_value, row.a_low, row.a_high) if row.a == system else (row.b_value, row.b_low, row.b_high)
            xs.append(i + (j - (len(systems) - 1) / 2) * width)
            ys.append(100 * v)
            errs[0].append(100 * (v - lo))
            errs[1].append(100 * (hi - v))
        ax.bar(xs, ys, width, yerr=errs, capsize=3, label=system)
    ax.set_xticks(range(len(conditions)), conditions, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("ΔF1 on changed sentences (points)")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=8)
    runs = sorted({run for r in rows for run in r.run_ids})
    return Figure(f"{_slug(result.comparison.id)}-delta-bars", f"{result.comparison.id}: ΔF1 per system (pooled)", _png(fig),
                  f"Clean − perturbed F1 on the changed sentences, pooled over languages, 95% paired bootstrap CIs. Runs: {', '.join(runs)}")


def severity_lines(result: ComparisonResult, severities: dict[str, list[tuple[float, str]]]) -> Figure | None:
    """F1 vs severity (0 = clean) per system for perturbations declared at several severities."""
    rows = [r for r in result.rows if r.lang == POOLED and r.kind == "delta-f1-difference"]
    families = {name: levels for name, levels in severities.items() if len(levels) >= 2}
    if not rows or not families:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), 3.2), squeeze=False)
    for ax, (name, levels) in zip(axes[0], families.items(), strict=True):
        for system in dict.fromkeys(s for r in rows for s in (r.a, r.b)):
            points = []
            for severity, label in sorted(levels):
                row = next((r for r in rows if r.condition == label and system in (r.a, r.b)), None)
                if row is not None:
                    delta = row.a_value if row.a == system else row.b_value
                    points.append((severity, -100 * delta))
            if points:
                ax.plot([0.0] + [p[0] for p in points], [0.0] + [p[1] for p in points], marker="o", label=system)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel("F1 change on changed sentences (points)")
        ax.legend(fontsize=8)
    runs = sorted({run for r in rows for run in r.run_ids})
    return Figure(f"{_slug(result.comparison.id)}-severity", f"{result.comparison.id}: F1 vs severity", _png(fig),
                  f"Perturbed − clean F1 on the changed sentences (−ΔF1), pooled over languages. Runs: {', '.join(runs)}")


def f1_bars(result: ComparisonResult) -> Figure | None:
    """F1 of a and b per language (and pooled) for each condition of an f1-difference."""
    rows = [r for r in result.rows if r.kind == "f1-difference"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r.a, r.b, r.condition) for r in rows))
    fig, axes = plt.subplots(len(groups), 1, figsize=(6.4, 2.6 * len(groups)), squeeze=False)
    for ax, (a, b, cond) in zip(axes[:, 0], groups, strict=True):
        grp = [r for r in rows if (r.a, r.b, r.condition) == (a, b, cond)]
        xs = range(len(grp))
        for offset, side in ((-0.2, "a"), (0.2, "b")):
            vals = [100 * getattr(r, f"{side}_value") for r in grp]
            err = [[100 * (getattr(r, f"{side}_value") - getattr(r, f"{side}_low")) for r in grp],
                   [100 * (getattr(r, f"{side}_high") - getattr(r, f"{side}_value")) for r in grp]]
            ax.bar([x + offset for x in xs], vals, 0.4, yerr=err, capsize=3, label=a if side == "a" else b)
        ax.set_xticks(list(xs), [r.lang for r in grp], fontsize=8)
        ax.set_ylabel("F1")
        ax.set_title(cond, fontsize=9)
        ax.legend(fontsize=8)
    runs = sorted({run for r in rows for run in r.run_ids})
    return Figure(f"{_slug(result.comparison.id)}-f1-bars", f"{result.comparison.id}: F1 per language", _png(fig),
                  f"Seed-mean F1 with 95% bootstrap CIs over sentences. Runs: {', '.join(runs)}")


def trend_lines(result: ComparisonResult) -> Figure | None:
    """F1 / recall vs the varied parameter, one line per language, pooled in black."""
    if not result.trends:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r.backbone, r.condition, r.metric) for r in result.trends))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for r in (r for r in result.trends if (r.backbone, r.condition, r.metric) == panel):
            pooled = r.lang == POOLED
            ax.errorbar(
                r.xs, [100 * v for v in r.values],
                yerr=[[100 * (v - lo) for v, lo in zip(r.values, r.value_lows, strict=True)],
                      [100 * (hi - v) for v, hi in zip(r.values, r.value_highs, strict=True)]],
                marker="o", capsize=2, label=r.lang, color="black" if pooled else None, linewidth=2 if pooled else 1,
            )
        backbone, condition, metric = panel
        ax.set_title(f"{metric}{' — ' + backbone if backbone else ''}{'' if condition == 'clean' else ' — ' + condition}", fontsize=9)
        ax.set_xlabel(result.comparison.parameter)
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
    runs = sorted({run for r in result.trends for run in r.run_ids})
    return Figure(f"{_slug(result.comparison.id)}-trend", f"{result.comparison.id}: metric vs {result.comparison.parameter}", _png(fig),
                  f"Seed-mean values with 95% bootstrap CIs; pooled over languages in black. Runs: {', '.join(runs)}")


def _severities(result: StudyResult) -> dict[str, list[tuple[float, str]]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for p in result.run.spec.perturbations:
        severity = p.params.get("severity")
        if isinstance(severity, (int, float)) and not isinstance(severity, bool):
            out.setdefault(p.name, []).append((float(severity), p.label))
    return out


def figures_for(result: StudyResult, comparison: ComparisonResult) -> list[Figure]:
    made = [delta_bars(comparison), severity_lines(comparison, _severities(result)), f1_bars(comparison), trend_lines(comparison)]
    return [f for f in made if f is not None]


# --- documents ----------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value / 3600:.2f} h" if value >= 3600 else f"{value:.1f} s"


def _cpu_line(result: StudyResult) -> str:
    line = (
        f"CPU time of the study's runs: {_seconds(result.cpu_seconds)} (fits included, as recorded by `xner study`); "
        f"evaluation time of the cells used: {_seconds(result.cell_seconds)}"
    )
    # Only an invocation that ran something has a cost worth stating; a look-up-only render would
    # otherwise rewrite the committed report with a new fraction of a second every time.
    if any(point.cpu_seconds > 0 for point in result.run.points.values()):
        line += f"; this invocation: {_seconds(result.run.cpu_seconds)}"
    line += "."
    if result.untimed_runs:
        line += f" Runs made outside `xner study` have no recorded CPU time: {', '.join(result.untimed_runs)}."
    return line


def _grid_rows(result: StudyResult) -> list[list[str]]:
    """One row per variant and language (each language is its own run), or one for a variant that failed to build."""
    rows = []
    for point in result.run.points.values():
        if not point.runs:
            revision = point.manifest.git_revision[:12] if point.manifest else "—"
            rows.append([point.variant.id, point.variant.system, "—", "—", point.status, revision, "—", point.error[:200]])
        multi_dataset = len({dataset for dataset, _ in point.runs}) > 1
        for (dataset, lang), run in point.runs.items():
            rows.append([
                point.variant.id, point.variant.system, f"{dataset}/{lang}" if multi_dataset else lang,
                run.run_id or "—", run.status, *_made_at(run), run.error[:200],
            ])
    return rows


def _made_at(run: LanguageRun) -> tuple[str, str]:
    """The git revision and machine a run was made at, and those that resumed it after an interruption."""
    def short(rev: str) -> str:  # a 12-character hash, keeping a "+dirty" mark
        commit, plus, rest = rev.partition("+")
        return commit[:12] + plus + rest

    revision, machine = short(run.git_revision) or "—", run.environment or "—"
    later_revisions = list(dict.fromkeys(short(r) for r, _ in run.resumed if short(r) != revision))
    later_machines = list(dict.fromkeys(m for _, m in run.resumed if m != machine))
    if later_revisions:
        revision += f" (resumed at {', '.join(later_revisions)})"
    if later_machines:
        machine += f" (resumed on {'; '.join(later_machines)})"
    return revision, machine


def _machines_line(result: StudyResult) -> str:
    """How many machines the stored runs come from (empty when one): their models are not bit-identical."""
    made = [run.environment for point in result.run.points.values() for run in point.runs.values() if run.run_id]
    counts = {env: made.count(env) for env in dict.fromkeys(made)}
    if len(counts) < 2:
        return ""
    listed = "; ".join(f"{env}: {n} run{'s' if n > 1 else ''}" for env, n in counts.items())
    return (
        f"The runs come from {len(counts)} machines ({listed}). A model trained on another machine is not "
        "bit-identical (the same manifest, seed and code trained direct transfer to MasakhaNER hau F1 60.29 on "
        "one and 56.22 on another), so a difference between runs of different machines includes that variance; "
        "the comparisons' notes name the languages where it applies."
    )


GRID_HEADERS = ["variant", "system", "language", "run id", "status", "git revision", "machine", "error"]
ATTACK_HEADERS = ["variant", "condition", "language", "seed", "attacked", "successful", "failed", "skipped",
                  "success rate", "avg queries", "F1 before", "F1 after", "run"]
ATTACK_NOTE = (
    "Model-aware search against each system (`adversarial.v1`, TextAttack's definitions): success rate = "
    "successful / (successful + failed); sentences without a gold entity or already mispredicted are skipped; "
    "F1 before and after are over the attacked sentences."
)


def _attack_rows(result: StudyResult) -> list[list[str]]:
    return [
        [r.variant, r.condition, r.lang, str(r.seed), str(r.attacked), str(r.successful), str(r.failed), str(r.skipped),
         f"{100 * r.success_rate:.1f}%", f"{r.avg_queries:.1f}", pts(r.f1_original), pts(r.f1_attacked), r.run_id]
        for r in result.attacks
    ]


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers), *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows), ""]


def _method_tail(result: StudyResult) -> str:
    """What follows the profile's name: its description (the grid's caveats: offline substitutes,
    seeds, caps) and how the statistics were computed."""
    described = result.run.profile.description
    return (f"{' — ' + described if described else ''}. "
            f"F1 points; paired bootstrap over sentences ({result.resamples} resamples), approximate randomisation "
            f"({result.trials} trials), Holm over the languages of each comparison.")


def render_markdown(result: StudyResult, out: Path) -> list[Path]:
    """Write ``out`` (Markdown) and its PNGs in ``<stem>_files/``; returns the files written."""
    spec = result.run.spec
    assets = out.with_name(out.stem + "_files")
    written: list[Path] = []
    lines = [f"# {spec.name}", "", f"**Question.** {spec.question}", "", f"**Answer.** {answer(result)}", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [f"Profile `{result.run.profile.name}`{_method_tail(result)}", ""]
    for comparison in result.comparisons:
        c = comparison.comparison
        lines += [f"## {c.id} ({c.kind})", ""]
        lines += [f"**Published direction:** {c.published}{' — ' + c.published_note if c.published_note else ''}"
                  f"{' (source: ' + c.source + ')' if c.source else ''}.", ""]
        for label, verdict in verdicts(comparison):
            lines.append(f"- {label}: ours is **{verdict.observed}**, published **{verdict.published}** → **{verdict.agreement}**")
        lines.append("")
        if comparison.rows:
            lines += _md_table(DIFF_HEADERS, diff_table(comparison.rows))
        if comparison.trends:
            lines += _md_table(TREND_HEADERS, trend_table(comparison.trends))
        for figure in figures_for(result, comparison):
            assets.mkdir(parents=True, exist_ok=True)
            path = assets / f"{figure.slug}.png"
            path.write_bytes(figure.png)
            written.append(path)
            lines += [f"![{figure.title}]({assets.name}/{path.name})", "", f"*{figure.caption}*", ""]
        lines += [f"- {note}" for note in comparison.notes] + ([""] if comparison.notes else [])
    if result.attacks:
        lines += ["## Adversarial search", "", ATTACK_NOTE, ""]
        lines += _md_table(ATTACK_HEADERS, _attack_rows(result))
    lines += ["## Cost and provenance", "", _cpu_line(result), ""]
    if machines := _machines_line(result):
        lines += [machines, ""]
    lines += _md_table(GRID_HEADERS, _grid_rows(result))
    if result.notes:
        lines += ["Notes:", "", *[f"- {n}" for n in result.notes], ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [out, *written]


def render_html(result: StudyResult, out: Path) -> Path:
    spec = result.run.spec
    e = html.escape
    parts = [f"<h1>{e(spec.name)}</h1>", f"<p><strong>Question.</strong> {e(spec.question)}</p>",
             f'<p id="answer"><strong>Answer.</strong> {e(answer(result))}</p>']
    if spec.description:
        parts.append(f"<p>{e(spec.description)}</p>")
    parts.append(f'<p id="method">Profile <code>{e(result.run.profile.name)}</code>{e(_method_tail(result))}</p>')
    for comparison in result.comparisons:
        c = comparison.comparison
        parts.append(f"<h2>{e(c.id)} ({e(c.kind)})</h2>")
        parts.append(f"<p><strong>Published direction:</strong> {e(c.published)} {e(c.published_note)} "
                     f"{'(source: ' + e(c.source) + ')' if c.source else ''}</p>")
        parts.append("<ul>" + "".join(f"<li>{e(label)}: ours is <b>{e(v.observed)}</b>, published <b>{e(v.published)}</b> → "
                                      f"<b>{e(v.agreement)}</b></li>" for label, v in verdicts(comparison)) + "</ul>")
        if comparison.rows:
            shown = diff_table(comparison.rows)
            parts.append(html_table(f"{_slug(c.id)}-rows", DIFF_HEADERS, shown, shown))
        if comparison.trends:
            shown = trend_table(comparison.trends)
            parts.append(html_table(f"{_slug(c.id)}-trends", TREND_HEADERS, shown, shown))
        for figure in figures_for(result, comparison):
            data = base64.b64encode(figure.png).decode()
            parts.append(f'<figure id="fig-{figure.slug}"><img alt="{e(figure.title)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{e(figure.caption)}</figcaption></figure>")
        if comparison.notes:
            parts.append("<ul class=\"notes\">" + "".join(f"<li>{e(n)}</li>" for n in comparison.notes) + "</ul>")
    if result.attacks:
        shown = _attack_rows(result)
        parts.append(f"<h2>Adversarial search</h2><p>{e(ATTACK_NOTE)}</p>")
        parts.append(html_table("attacks", ATTACK_HEADERS, shown, shown))
    parts.append(f"<h2>Cost and provenance</h2><p>{e(_cpu_line(result))}</p>")
    if machines := _machines_line(result):
        parts.append(f"<p>{e(machines)}</p>")
    grid = _grid_rows(result)
    parts.append(html_table("grid", GRID_HEADERS, grid, grid))
    if result.notes:
        parts.append("<ul class=\"notes\">" + "".join(f"<li>{e(n)}</li>" for n in result.notes) + "</ul>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page(f"{spec.name} study", "".join(parts)), encoding="utf-8")
    return out


def write_study_report(result: StudyResult, out_dir: str | Path) -> list[Path]:
    """``<out_dir>/<name>.md`` (+ PNGs) and ``<out_dir>/<name>.html``; returns the files written."""
    out_dir = Path(out_dir)
    name = result.run.spec.name
    return [*render_markdown(result, out_dir / f"{name}.md"), render_html(result, out_dir / f"{name}.html")]


def write_index(results: Sequence[StudyResult], out_dir: str | Path) -> list[Path]:
    """``index.md`` and ``index.html`` listing every study with its question and answer."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = ["# Studies", ""]
    items = []
    for result in results:
        spec = result.run.spec
        md += [f"## [{spec.name}]({spec.name}.md)", "", f"**Question.** {spec.question}", "", f"**Answer.** {answer(result)}", ""]
        items.append(f'<li><a href="{html.escape(spec.name)}.html">{html.escape(spec.name)}</a>: {html.escape(spec.question)}'
                     f"<br><strong>Answer.</strong> {html.escape(answer(result))}</li>")
    (out_dir / "index.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (out_dir / "index.html").write_text(html_page("Studies", "<h1>Studies</h1><ul>" + "".join(items) + "</ul>"), encoding="utf-8")
    return [out_dir / "index.md", out_dir / "index.html"]


__all__ = ["answer", "coverage_sentence", "diff_sentence", "pts", "pval", "trend_sentence", "verdicts", "write_index", "write_study_report"]
