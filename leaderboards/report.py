"""Robustness reports: the leaderboard plus plots and the sentences perturbations hurt most.

Sections (each figure's caption lists the run ids its numbers come from):

1. the leaderboard (:mod:`leaderboards.board`);
2. F1 vs perturbation severity, one line per system and perturbation (severity 0 = clean);
3. heatmap language × perturbation of ΔF1 on the changed sentences, one panel per system;
4. recall drop per entity type (clean minus perturbed recall, pooled over languages and perturbations);
5. F1 vs number of source languages for teacher ensembles, where such runs exist (systems with a
   list-valued ``*source*``/``*teacher*`` parameter);
6. the worst-hit sentences: original vs perturbed tokens, gold and both predictions.

HTML embeds PNGs as data URIs (one self-contained file, like the leaderboard page); Markdown writes
the PNGs to ``<report>_files/`` beside it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import spans_from_iob2
from harness.store import CLEAN, CellKey, ResultStore
from leaderboards.board import WORST_CASE, Board, build_board
from leaderboards.render import board_html_sections, html_page, html_table, pct, to_markdown

_KEY = ["system", "dataset", "lang", "split", "perturbation", "params_hash", "seed"]


@dataclass(frozen=True)
class Figure:
    slug: str
    title: str
    png: bytes
    caption: str


@dataclass(frozen=True)
class WorstSentence:
    system: str
    lang: str
    perturbation: str
    sentence_id: str
    run_id: str
    extra_errors: int
    original: str
    perturbed: str
    gold: str
    clean_pred: str
    perturbed_pred: str


def bracketed(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """Tokens with entity spans bracketed and labelled.

    >>> bracketed(["Adé", "lọ", "sí", "Èkó"], ["B-PER", "O", "O", "B-LOC"])
    '[Adé]PER lọ sí [Èkó]LOC'
    """
    starts = {s.start: s for s in spans_from_iob2(tags)}
    out, i = [], 0
    while i < len(tokens):
        span = starts.get(i)
        if span is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(f"[{' '.join(tokens[span.start:span.end])}]{span.label}")
            i = span.end
    return " ".join(out)


def _frames(store: ResultStore, board: Board) -> tuple[Any, Any]:
    """Scores (ALL and per type) and robustness rows of the board's systems, latest run per cell."""
    run_order = {r["run_id"]: i for i, r in enumerate(store.runs(board.suite))}
    run_ids = sorted(board.run_ids)
    systems = sorted({row.base_system or row.system for row in board.rows})
    scores = store.scores_frame(run_id=run_ids, system=systems)
    robustness = store.robustness_frame(run_id=run_ids, system=systems)
    # Board rows are configurations: name each stored row by the board row its run belongs to.
    row_of = {(run_id, row.base_system or row.system): row.system for row in board.rows for run_id in row.run_ids}
    for frame in (scores, robustness):
        if not frame.empty:
            frame["system"] = [row_of.get((r, s), s) for r, s in zip(frame["run_id"], frame["system"], strict=True)]
            frame["_order"] = frame["run_id"].map(run_order)
    if not scores.empty:
        scores = scores.sort_values("_order").drop_duplicates(_KEY + ["entity_type"], keep="last")
    if not robustness.empty:
        robustness = robustness.sort_values("_order").drop_duplicates(_KEY, keep="last")
    return scores, robustness


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _runs(frame: Any) -> str:
    return ", ".join(sorted(set(frame["run_id"]))) if not frame.empty else "none"


def severity_figure(scores: Any, board: Board) -> Figure | None:
    import matplotlib.pyplot as plt

    overall = scores[(scores["entity_type"] == "ALL") & (scores["lang"].isin(_plain_langs(board)))]
    perturbed = overall[overall["perturbation"] != CLEAN]
    if perturbed.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for system, group in overall.groupby("system"):
        clean = group[group["perturbation"] == CLEAN]["f1"].mean()
        for name, pgroup in group[group["perturbation"] != CLEAN].groupby("perturbation"):
            points = [(0.0, clean)]
            for params, cell in pgroup.groupby("perturbation_params"):
                severity = json.loads(params).get("severity")
                if isinstance(severity, (int, float)):
                    points.append((float(severity), cell["f1"].mean()))
            if len(points) < 2:
                continue
            points.sort()
            ax.plot([p[0] for p in points], [100 * p[1] for p in points], marker="o", label=f"{system} · {name}")
    if not ax.lines:
        plt.close(fig)
        return None
    ax.set_xlabel("perturbation severity (0 = clean)")
    ax.set_ylabel("F1 (mean over languages)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return Figure("severity", "F1 vs perturbation severity", _png(fig),
                  f"Perturbed-cell F1 averaged over the board's languages; runs {_runs(overall)}.")


def _plain_langs(board: Board) -> list[str]:
    return [lang.split("/")[-1] for lang in board.languages]


def heatmap_figure(robustness: Any, board: Board) -> Figure | None:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = robustness[robustness["perturbation"] != WORST_CASE]
    if rows.empty:
        return None
    # One panel per board row (the frames name rows by board row, see _frames).
    panels = {row.system: rows[rows["system"] == row.system] for row in board.rows}
    panels = {name: frame for name, frame in panels.items() if not frame.empty}
    if not panels:
        return None
    systems = list(panels)
    fig, axes = plt.subplots(1, len(systems), figsize=(max(4.5, 3.2 * len(systems)), 0.35 * rows["lang"].nunique() + 2.2), squeeze=False)
    image = None
    labels_x = sorted({f"{p}.{h}" for p, h in zip(rows["perturbation"], rows["params_hash"], strict=True)})
    # Column names say which variant (char-typos.v1[severity=3]); the hash stays a machine key.
    shown_x = [board.perturbation_names.get(x, x.rsplit(".", 1)[0]) for x in labels_x]
    langs = sorted(set(rows["lang"]))
    limit = max(1e-9, float(np.nanmax(np.abs(100 * rows["delta_f1"]))))
    for ax, system in zip(axes[0], systems, strict=True):
        data = np.full((len(langs), len(labels_x)), np.nan)
        for r in panels[system].itertuples():
            data[langs.index(r.lang), labels_x.index(f"{r.perturbation}.{r.params_hash}")] = 100 * r.delta_f1
        image = ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_title(system, fontsize=8)
        ax.set_xticks(range(len(labels_x)), shown_x, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(langs)), langs, fontsize=7)
        for (i, j), value in np.ndenumerate(data):
            if not np.isnan(value) and len(langs) * len(labels_x) <= 120:
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=6)
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="ΔF1 (clean − perturbed, changed sentences)")
    return Figure("heatmap", "ΔF1 by language and perturbation", _png(fig),
                  f"ΔF1 on the sentences each perturbation changed (stored robustness rows); runs {_runs(rows)}.")


def type_recall_figure(scores: Any, board: Board) -> Figure | None:
    import matplotlib.pyplot as plt
    import numpy as np

    typed = scores[(scores["entity_type"] != "ALL") & (scores["lang"].isin(_plain_langs(board)))]
    if typed.empty or (typed["perturbation"] == CLEAN).all():
        return None
    systems = [row.system for row in board.rows]
    types = sorted(set(typed["entity_type"]))
    drops = np.full((len(systems), len(types)), np.nan)
    for i, system in enumerate(systems):
        group = typed[typed["system"] == system]
        for j, label in enumerate(types):
            g = group[group["entity_type"] == label]
            clean, pert = g[g["perturbation"] == CLEAN], g[g["perturbation"] != CLEAN]
            if clean.empty or pert.empty:
                continue
            recall = lambda f: f["tp"].sum() / max(1, f["tp"].sum() + f["fn"].sum())  # noqa: E731
            # Perturbed recall pools every perturbation, so each one weighs as one clean pass.
            drops[i, j] = 100 * (recall(clean) - recall(pert))
    if np.isnan(drops).all():
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(types) * max(1, len(systems)) / 2), 3.8))
    width = 0.8 / max(1, len(systems))
    for i, system in enumerate(systems):
        ax.bar(np.arange(len(types)) + i * width, np.nan_to_num(drops[i]), width, label=system)
    ax.set_xticks(np.arange(len(types)) + width * (len(systems) - 1) / 2, types)
    ax.set_ylabel("recall drop (points)")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.legend(fontsize=7)
    return Figure("type-recall", "Recall drop per entity type", _png(fig),
                  f"Clean minus perturbed recall, counts pooled over languages and perturbations; runs {_runs(typed)}.")


def _source_count(params: Mapping[str, Any]) -> int | None:
    for key, value in params.items():
        if ("source" in key or "teacher" in key) and isinstance(value, list) and value:
            return len(value)
    return None


def ensemble_figure(store: ResultStore, scores: Any, board: Board) -> Figure | None:
    import matplotlib.pyplot as plt

    clean = scores[(scores["entity_type"] == "ALL") & (scores["perturbation"] == CLEAN)]
    points: dict[str, list[tuple[int, float, str]]] = {}
    for run_id, group in clean.groupby("run_id"):
        manifest = store.manifest(str(run_id))
        for system in manifest["systems"]:
            count = _source_count(dict(system["params"]))
            rows = group[group["system"] == system["name"]]
            if count is None or rows.empty:
                continue
            family = system["name"].split("@")[0]
            points.setdefault(family, []).append((count, float(rows["f1"].mean()), str(run_id)))
    points = {k: v for k, v in points.items() if v}
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for family, values in sorted(points.items()):
        values.sort()
        ax.plot([v[0] for v in values], [100 * v[1] for v in values], marker="o", label=family)
    ax.set_xlabel("number of source languages / teachers")
    ax.set_ylabel("clean F1 (mean over languages)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    runs = sorted({v[2] for vs in points.values() for v in vs})
    return Figure("ensembles", "F1 vs number of source languages (teacher ensembles)", _png(fig), f"Runs {', '.join(runs)}.")


def worst_sentences(store: ResultStore, board: Board, limit: int = 10) -> list[WorstSentence]:
    """Sentences whose error count (FP + FN) grew most under a perturbation, across the board."""
    found: list[WorstSentence] = []
    for row in board.rows:
        cells = [c for c in store.cells(status="done", system=row.base_system or row.system) if c.key.run_id in row.run_ids]
        clean_cells = {(c.key.run_id, c.key.dataset, c.key.lang, c.key.seed): c.key for c in cells if c.key.perturbation == CLEAN}
        for cell in cells:
            key = cell.key
            if key.perturbation == CLEAN or cell.n_changed == 0:
                continue
            clean_key: CellKey | None = clean_cells.get((key.run_id, key.dataset, key.lang, key.seed))
            if clean_key is None:
                continue
            clean = {o.sentence_id: o for o in store.sentence_outcomes(clean_key)}
            for outcome in store.sentence_outcomes(key):
                before = clean.get(outcome.sentence_id)
                # Cells merged from a results bundle (harness/bundle.py) carry counts, not text.
                if before is None or not outcome.changed or not outcome.tokens or not before.tokens:
                    continue
                extra = outcome.total.errors - before.total.errors
                if extra <= 0:
                    continue
                found.append(
                    WorstSentence(
                        system=row.system, lang=key.lang, perturbation=f"{key.perturbation}", sentence_id=outcome.sentence_id,
                        run_id=key.run_id, extra_errors=extra,
                        original=" ".join(before.tokens), perturbed=" ".join(outcome.tokens),
                        gold=bracketed(before.tokens, before.gold),
                        clean_pred=bracketed(before.tokens, before.pred),
                        perturbed_pred=bracketed(outcome.tokens, outcome.pred),
                    )
                )
    found.sort(key=lambda w: (-w.extra_errors, w.system, w.sentence_id, w.perturbation))
    return found[:limit]


_WORST_HEADERS = ["system", "lang", "perturbation", "sentence", "+errors", "original tokens", "perturbed tokens",
                  "gold", "prediction (clean)", "prediction (perturbed)", "run"]


def _worst_rows(rows: Sequence[WorstSentence]) -> list[list[str]]:
    return [[w.system, w.lang, w.perturbation, w.sentence_id, str(w.extra_errors), w.original, w.perturbed,
             w.gold, w.clean_pred, w.perturbed_pred, w.run_id] for w in rows]


def build_report(store: ResultStore, suite: str, *, resamples: int = 1000, worst_sentences_limit: int = 10) -> tuple[Board, list[Figure], list[str], list[WorstSentence]]:
    """Everything a report shows: the board, the figures, notes on sections left out, worst-hit sentences."""
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are written on servers and in CI
    board = build_board(store, suite, resamples=resamples)
    scores, robustness = _frames(store, board)
    figures, missing = [], []
    for title, make in (
        ("F1 vs perturbation severity", lambda: severity_figure(scores, board)),
        ("ΔF1 heatmap", lambda: heatmap_figure(robustness, board)),
        ("recall drop per entity type", lambda: type_recall_figure(scores, board)),
        ("F1 vs number of source languages", lambda: ensemble_figure(store, scores, board)),
    ):
        figure = make()
        if figure is None:
            reason = "no teacher-ensemble runs in the store" if "source" in title else "no perturbed cells in the store"
            missing.append(f"{title}: not drawn ({reason})")
        else:
            figures.append(figure)
    worst = worst_sentences(store, board, worst_sentences_limit)
    return board, figures, missing, worst


def write_report(
    store: ResultStore, suite: str, out: str | Path, *, fmt: str = "html", resamples: int = 1000, worst_sentences: int = 10
) -> list[Path]:
    """Write the report; returns the files written (the report, and PNGs for Markdown)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    board, figures, missing, worst = build_report(store, suite, resamples=resamples, worst_sentences_limit=worst_sentences)
    if fmt == "html":
        parts = [f"<h1>{html.escape(suite)} robustness report</h1>", "<h2>Leaderboard</h2>", board_html_sections(board)]
        for figure in figures:
            data = base64.b64encode(figure.png).decode()
            parts.append(
                f'<h2>{html.escape(figure.title)}</h2><figure id="fig-{figure.slug}"><img alt="{html.escape(figure.title)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{html.escape(figure.caption)}</figcaption></figure>'
            )
        if missing:
            parts.append("<ul class=\"notes\">" + "".join(f"<li>{html.escape(m)}</li>" for m in missing) + "</ul>")
        parts.append("<h2>Worst-hit sentences</h2>")
        if worst:
            shown = _worst_rows(worst)
            raw = [[*r[:4], int(r[4]), *r[5:]] for r in shown]
            parts.append(html_table("worst-sentences", _WORST_HEADERS, shown, raw))
        else:
            parts.append("<p>No perturbation increased the errors on any sentence.</p>")
        out.write_text(html_page(f"{suite} robustness report", "".join(parts)), encoding="utf-8")
        return [out]
    if fmt != "md":
        raise ValueError(f"report format must be html or md; got {fmt!r}")
    assets = out.with_name(out.stem + "_files")
    assets.mkdir(exist_ok=True)
    written = []
    lines = [f"# {suite} robustness report", "", to_markdown(board).split("\n", 2)[2]]
    for figure in figures:
        path = assets / f"{figure.slug}.png"
        path.write_bytes(figure.png)
        written.append(path)
        lines += [f"## {figure.title}", "", f"![{figure.title}]({assets.name}/{path.name})", "", f"*{figure.caption}*", ""]
    lines += [f"- {m}" for m in missing] + [""]
    lines += ["## Worst-hit sentences", ""]
    if worst:
        from leaderboards.render import _md_table

        lines += _md_table(_WORST_HEADERS, _worst_rows(worst))
    else:
        lines.append("No perturbation increased the errors on any sentence.")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [out, *written]


__all__ = ["Figure", "WorstSentence", "bracketed", "build_report", "pct", "worst_sentences", "write_report"]
