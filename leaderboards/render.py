"""Render a :class:`~leaderboards.board.Board` as a rich table, Markdown, CSV or a static HTML page.

The HTML page is one self-contained file: inline CSS and JavaScript, no fonts, images or scripts
from anywhere else, and a Content-Security-Policy that forbids network access, so it can be
attached to a paper or served from any static host. Tables sort on a click on their header.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Sequence
from typing import Any

from leaderboards.board import Board, BoardRow

VIEWS = ("overall", "language", "type")


def pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage string; an em dash when not measured.

    >>> pct(0.12345), pct(None)
    ('12.35', '—')
    """
    return "—" if value is None else f"{100 * value:.{digits}f}"


def _ci(row: BoardRow) -> str:
    return f"[{pct(row.score_ci.low)}, {pct(row.score_ci.high)}]"


def _delta(row: BoardRow) -> str:
    if row.delta_above is None or row.delta_ci is None:
        return ""
    mark = " *" if row.significant else ""
    return f"{pct(row.delta_above)} [{pct(row.delta_ci.low)}, {pct(row.delta_ci.high)}]{mark}"


_RANK_TITLES = {"clean": "clean F1", "perturbed": "mean perturbed F1", "worst": "worst-case F1", "robustness": "relative robustness"}


def overall_table(board: Board) -> tuple[list[str], list[list[str]], list[list[Any]]]:
    """Headers, display cells and raw sort values of the overall view."""
    headers = [
        "rank", "system", "kind", "clean F1", "mean perturbed F1", "relative robustness", "worst-case F1",
        "recall drop", f"{_RANK_TITLES[board.rank_by]} 95% CI", "Δ vs row above [95% CI]", "seeds", "runs",
    ]
    shown, raw = [], []
    for row in board.rows:
        shown.append([
            str(row.rank), row.system, row.kind, pct(row.clean_f1), pct(row.perturbed_f1),
            "—" if row.relative_robustness is None else f"{row.relative_robustness:.3f}",
            pct(row.worst_f1), pct(row.recall_drop), _ci(row), _delta(row), _seeds(row, board.rank_by), " ".join(row.run_ids),
        ])
        raw.append([
            row.rank, row.system, row.kind, row.clean_f1, row.perturbed_f1, row.relative_robustness, row.worst_f1,
            row.recall_drop, row.score_ci.low, row.delta_above, len(row.seeds), " ".join(row.run_ids),
        ])
    return headers, shown, raw


def _seeds(row: BoardRow, rank_by: str) -> str:
    """``3 (sd 1.20)``: how many seeds the row averages and the spread of its ranking metric."""
    if row.seed_sd is None:
        return str(len(row.seeds))
    scale = 1 if rank_by == "robustness" else 100
    return f"{len(row.seeds)} (sd {scale * row.seed_sd:.{3 if scale == 1 else 2}f})"


def language_table(board: Board) -> tuple[list[str], list[list[str]], list[list[Any]]]:
    languages = sorted({lang for cells in board.per_language.values() for lang in cells})
    headers = ["system", *languages]
    shown, raw = [], []
    for row in board.rows:
        cells = board.per_language.get(row.system, {})
        values, texts = [row.system], [row.system]
        for lang in languages:
            cell = cells.get(lang)
            if cell is None:
                texts.append("—")
                values.append(None)
                continue
            worst = f" / {pct(cell.worst_f1)}" if cell.worst_f1 is not None else ""
            texts.append(f"{pct(cell.clean_f1)}{worst}")
            values.append(cell.clean_f1)
        shown.append(texts)
        raw.append(values)
    return headers, shown, raw


def type_table(board: Board) -> tuple[list[str], list[list[str]], list[list[Any]]]:
    headers = ["system"]
    for label in board.entity_types:
        headers += [f"{label} F1", f"{label} recall drop"]
    shown, raw = [], []
    for row in board.rows:
        cells = board.per_type.get(row.system, {})
        texts, values = [row.system], [row.system]
        for label in board.entity_types:
            cell = cells.get(label)
            texts += [pct(cell.clean_f1) if cell else "—", pct(cell.recall_drop) if cell else "—"]
            values += [cell.clean_f1 if cell else None, cell.recall_drop if cell else None]
        shown.append(texts)
        raw.append(values)
    return headers, shown, raw


_TABLES: dict[str, Callable[[Board], tuple[list[str], list[list[str]], list[list[Any]]]]] = {
    "overall": overall_table, "language": language_table, "type": type_table,
}


def _explain(board: Board) -> list[str]:
    lines = [
        f"Ranked by {_RANK_TITLES[board.rank_by]}; F1 values are strict IOB2 span micro-F1 ×100, averaged over "
        f"{len(board.languages)} language(s): {', '.join(board.languages)}.",
        f"Perturbations: {', '.join(board.perturbation_names.get(p, p) for p in board.perturbations) or 'none'}.",
        f"Intervals: 95% stratified paired bootstrap over sentences ({board.resamples} resamples); "
        "* = the difference to the row above excludes zero.",
    ]
    return lines + [f"Note: {n}" for n in board.notes]


# --- terminal ----------------------------------------------------------------------------------


def to_rich(board: Board, view: str = "overall") -> Any:
    """A rich renderable (a Table with a caption)."""
    from rich.table import Table

    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
    headers, shown, _ = _TABLES[view](board)
    from rich.markup import escape

    # Row names hold brackets (gazetteer[case_fold=true]) and notes quote data: never Rich markup.
    table = Table(
        *(escape(h) for h in headers), title=escape(f"{board.suite} leaderboard ({view})"),
        caption=escape("\n".join(_explain(board))), caption_justify="left",
    )
    for cells in shown:
        table.add_row(*(escape(c) for c in cells))
    return table


# --- Markdown ----------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(_md_escape(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return out


_MD_TITLES = {
    "overall": "Overall",
    "language": "Per language (clean F1 / worst-case F1)",
    "type": "Per entity type (clean F1 and recall drop under perturbation)",
}


def to_markdown(board: Board, view: str | None = None) -> str:
    """The board as Markdown (for a README): overall, per-language and per-entity-type tables,
    or only the one ``view`` asked for."""
    out = [f"# {board.suite} leaderboard", ""]
    out += [f"- {line}" for line in _explain(board)]
    if view is not None:
        if view not in VIEWS:
            raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
        headers, shown, _ = _TABLES[view](board)
        out += ["", f"## {_MD_TITLES[view]}", ""] + _md_table(headers, shown)
        out += ["", f"Runs: {', '.join(board.run_ids)}", ""]
        return "\n".join(out)
    out += ["", "## Overall", ""]
    headers, shown, _ = overall_table(board)
    out += _md_table(headers, shown)
    out += ["", "## Per language (clean F1 / worst-case F1)", ""]
    headers, shown, _ = language_table(board)
    out += _md_table(headers, shown)
    out += ["", "## Per entity type (clean F1 and recall drop under perturbation)", ""]
    headers, shown, _ = type_table(board)
    out += _md_table(headers, shown)
    described = [row for row in board.rows if row.meta]
    if described:
        out += ["", "## Submissions", ""]
        out += _md_table(
            ["system", "kind", "authors", "backbone", "parameters", "training data", "url"],
            [[row.system, row.kind, ", ".join(row.meta.get("authors", [])), row.meta.get("backbone", ""),
              str(row.meta.get("n_parameters") if row.meta.get("n_parameters") is not None else ""),
              ", ".join(row.meta.get("training_data", [])), row.meta.get("url", "")] for row in described],
        )
    out += ["", f"Runs: {', '.join(board.run_ids)}", ""]
    return "\n".join(out)


# --- CSV ---------------------------------------------------------------------------------------


def to_csv(board: Board, view: str = "overall") -> str:
    """One view as CSV with raw fractions (not percentages), for further analysis."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}; got {view!r}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if view == "overall":
        writer.writerow([
            "rank", "system", "kind", "clean_f1", "perturbed_f1", "relative_robustness", "worst_f1", "recall_drop",
            "rank_metric", "score", "score_ci_low", "score_ci_high", "delta_above", "delta_ci_low", "delta_ci_high",
            "significant", "run_ids", "seeds", "seed_sd",
        ])
        for row in board.rows:
            writer.writerow([
                row.rank, row.system, row.kind, row.clean_f1, _blank(row.perturbed_f1), _blank(row.relative_robustness),
                _blank(row.worst_f1), _blank(row.recall_drop), board.rank_by, row.score, row.score_ci.low, row.score_ci.high,
                _blank(row.delta_above), _blank(row.delta_ci.low if row.delta_ci else None),
                _blank(row.delta_ci.high if row.delta_ci else None), _blank(row.significant), " ".join(row.run_ids),
                " ".join(map(str, row.seeds)), _blank(row.seed_sd),
            ])
    elif view == "language":
        writer.writerow(["system", "lang", "clean_f1", "clean_ci_low", "clean_ci_high", "worst_f1", "n_sentences", "run_ids"])
        for row in board.rows:
            for lang, cell in sorted(board.per_language.get(row.system, {}).items()):
                writer.writerow([row.system, lang, cell.clean_f1, cell.clean_ci.low, cell.clean_ci.high,
                                 _blank(cell.worst_f1), cell.n_sentences, " ".join(row.run_ids)])
    else:
        writer.writerow(["system", "entity_type", "clean_f1", "support", "recall_drop", "run_ids"])
        for row in board.rows:
            for label, cell in sorted(board.per_type.get(row.system, {}).items()):
                writer.writerow([row.system, label, cell.clean_f1, cell.support, _blank(cell.recall_drop), " ".join(row.run_ids)])
    return buffer.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


# --- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b;max-width:80rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .55rem;text-align:right;white-space:nowrap}
td.text,th.text{text-align:left}
th{background:#f2f2f2;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
tbody tr:nth-child(even){background:#fafafa}
.notes{color:#444;font-size:.9rem}.runs{font-family:monospace;font-size:.8rem;color:#555}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #ddd}
"""

# Sorting: numbers compare numerically (empty cells last), text compares by locale; a second click
# on the same header reverses the order. aria-sort records the state for tests and screen readers.
_JS = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var headers = table.querySelectorAll('thead th');
    headers.forEach(function (th, column) {
      th.setAttribute('role', 'button');
      th.addEventListener('click', function () {
        var descending = th.getAttribute('aria-sort') !== 'descending';
        headers.forEach(function (other) { other.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute('data-value'), y = b.cells[column].getAttribute('data-value');
          if (x === '' && y === '') return 0;
          if (x === '') return 1;
          if (y === '') return -1;
          var nx = Number(x), ny = Number(y), order;
          if (!isNaN(nx) && !isNaN(ny)) { order = nx - ny; } else { order = x.localeCompare(y); }
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
});
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _value_attr(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def html_table(table_id: str, headers: Sequence[str], shown: Sequence[Sequence[str]], raw: Sequence[Sequence[Any]]) -> str:
    """A sortable HTML table; ``raw`` gives each cell's sort value (numbers or text)."""
    text_columns = {i for i, column in enumerate(zip(*raw, strict=True)) if any(isinstance(v, str) for v in column)} if raw else set()
    head = "".join(
        f'<th class="{"text" if i in text_columns else "num"}" scope="col">{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = []
    for texts, values in zip(shown, raw, strict=True):
        cells = "".join(
            f'<td class="{"text" if i in text_columns else "num"}" data-value="{html.escape(_value_attr(v))}">{html.escape(t)}</td>'
            for i, (t, v) in enumerate(zip(texts, values, strict=True))
        )
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def html_page(title: str, body: str) -> str:
    """Wrap ``body`` in a self-contained page (inline CSS/JS, network forbidden by CSP)."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style><script>{_JS}</script></head>"
        f"<body>{body}</body></html>\n"
    )


def board_html_sections(board: Board) -> str:
    parts = ['<ul class="notes">' + "".join(f"<li>{html.escape(line)}</li>" for line in _explain(board)) + "</ul>"]
    parts.append("<h2>Overall</h2>" + html_table("overall", *overall_table(board)))
    parts.append("<h2>Per language (clean F1 / worst-case F1)</h2>" + html_table("per-language", *language_table(board)))
    parts.append("<h2>Per entity type</h2>" + html_table("per-type", *type_table(board)))
    described = [row for row in board.rows if row.meta]
    if described:
        headers = ["system", "kind", "authors", "backbone", "parameters", "training data", "url"]
        shown = [[row.system, row.kind, ", ".join(row.meta.get("authors", [])), str(row.meta.get("backbone", "")),
                  "" if row.meta.get("n_parameters") is None else str(row.meta["n_parameters"]),
                  ", ".join(row.meta.get("training_data", [])), str(row.meta.get("url", ""))] for row in described]
        parts.append("<h2>Submissions</h2>" + html_table("submissions", headers, shown, shown))
    parts.append(f'<p class="runs">Runs: {html.escape(", ".join(board.run_ids))}</p>')
    return "".join(parts)


def to_html(board: Board) -> str:
    """The board as one self-contained, sortable HTML page."""
    return html_page(f"{board.suite} leaderboard", f"<h1>{html.escape(board.suite)} leaderboard</h1>" + board_html_sections(board))


def render(board: Board, fmt: str, view: str | None = None) -> str:
    """``md``, ``csv`` or ``html`` text (the terminal format is :func:`to_rich`).

    ``view=None`` is every view for Markdown and the overall view for CSV.
    """
    if fmt == "md":
        return to_markdown(board, view)
    if fmt == "csv":
        return to_csv(board, view or "overall")
    if fmt == "html":
        return to_html(board)
    raise ValueError(f"format must be terminal, md, csv or html; got {fmt!r}")
