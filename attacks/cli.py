"""`xner` subcommands that belong to the attacks package (registered into harness.cli's app).

* ``xner attacks``: the registered perturbations with scope, languages, default severity and an
  example on a Yoruba sentence.
* ``xner perturb FILE --attack NAME --seed N [--param k=v]``: write a perturbed CoNLL file.
* ``xner adversarial --system NAME --dataset D --lang L``: greedy adversarial search, printed as a
  TextAttack-style summary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from harness.console import console, err_console
from harness.errors import ConfigError, XnerError

_DEMO_TOKENS = ("Ọ̀gbẹ́ni", "Adéwálé", "Ṣóyínká", "lọ", "sí", "Èkó", "ní", "ọjọ́", "Ajé", ".")
_DEMO_TAGS = ("O", "B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-DATE", "I-DATE", "O")
_DEMO_OTHER = (("Wọ́n", "ṣe", "ìpàdé", "ní", "Abuja", "lánàá"), ("O", "O", "O", "O", "B-LOC", "O"))


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["severity=3", "layout=azerty"]`` → ``{"severity": "3", ...}`` as command-line text, parsed
    later by each parameter's annotated type (``harness.params``)."""
    from harness.params import CliText

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param expects key=value, got {item!r}")
        out[key.strip()] = CliText(value)
    return out


def _example(name: str) -> str:
    """The perturbation applied to the demo Yoruba sentence (first seed that changes it)."""
    from harness.data import Sentence

    from attacks import PERTURBATIONS, make_perturbation
    from attacks.base import perturb_corpus

    target = PERTURBATIONS.target(name)
    if isinstance(target, str) and target.startswith("attacks.adapters:"):
        return "(adapter: see `xner perturb`)"
    if name == "code-switch.v1":
        return "(needs a lexicon: MAFAND-MT or --param lexicon=FILE)"
    demo = Sentence("demo/yor/0", "yor", _DEMO_TOKENS, _DEMO_TAGS)
    other = Sentence("demo/yor/1", "yor", *_DEMO_OTHER)
    try:
        p = make_perturbation(name)
        if not p.supports("yor"):
            return "(Yoruba not supported)"
        for seed in range(20):
            out = perturb_corpus(p, [demo, other], seed=seed)[0]
            if out.changed:
                return " ".join(out.sentence.tokens)
    except XnerError as exc:
        return f"({exc})"
    return "(unchanged)"


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main `xner` app."""

    @app.command("attacks")
    def list_attacks(
        examples: Annotated[bool, typer.Option(help="Show an example on a Yoruba sentence.")] = True,
    ) -> None:
        """List the registered perturbations (name, family, scope, languages, severity, example)."""
        from attacks import PERTURBATIONS

        table = Table(title="Perturbations (severity 1-5; Yoruba example at default severity)")
        for col in ("name", "family", "scope", "languages", "severity", "description", "example"):
            table.add_column(col, overflow="fold")
        for name in PERTURBATIONS.names():
            try:
                cls = PERTURBATIONS.get(name)
                instance = None
                try:
                    from attacks import make_perturbation

                    instance = make_perturbation(name)
                except XnerError:
                    instance = None
                source = instance if instance is not None else cls
                langs = getattr(source, "languages", None)
                lang_text = "any" if not langs else ", ".join(sorted(langs))
                severity = str(getattr(source, "severity", "?")) if instance is not None else "1-5"
                table.add_row(
                    name,
                    getattr(cls, "family", ""),
                    str(getattr(source, "scope", "")),
                    lang_text,
                    severity,
                    getattr(cls, "description", ""),
                    _example(name) if examples else "",
                )
            except XnerError as exc:
                table.add_row(name, "", "", "", "", f"(cannot load: {exc})", "")
        console.print(table)

    @app.command("perturb")
    def perturb(
        file: Annotated[Path, typer.Argument(help="CoNLL file (token ... tag).")],
        attack: Annotated[str, typer.Option("--attack", help="Registered perturbation name, e.g. char-typos.v1.")],
        seed: Annotated[int, typer.Option(help="Run seed (per-sentence seeds derive from it).")] = 0,
        param: Annotated[list[str] | None, typer.Option("--param", help="Perturbation parameter key=value (repeatable).")] = None,
        out: Annotated[Path | None, typer.Option(help="Output CoNLL file (default: stdout).")] = None,
        lang: Annotated[str | None, typer.Option(help="ISO 639-3 language (default: the file's parent folder name).")] = None,
        id_prefix: Annotated[
            str | None, typer.Option(help="Sentence id prefix (default dataset/lang/split from the path, as the runner uses).")
        ] = None,
    ) -> None:
        """Write a perturbed copy of a CoNLL file (tokens and realigned gold tags)."""
        from harness.conll import format_conll, read_conll, write_conll

        from attacks import make_perturbation
        from attacks.base import perturb_corpus

        try:
            if out is not None and out.is_dir():
                raise ConfigError(f"--out {str(out)!r} is a directory; give a file path, e.g. {str(out / file.name)!r}")
            language = lang or file.resolve().parent.name
            if not (language.isalpha() and len(language) == 3 and language.islower()):
                raise ConfigError(f"cannot infer the language from {str(file)!r}; pass --lang (ISO 639-3, e.g. yor)")
            prefix = id_prefix or "/".join((file.resolve().parent.parent.name, language, file.stem))
            perturbation = make_perturbation(attack, parse_params(param))
            sentences, _ = read_conll(file, lang=language, id_prefix=prefix)
            results = perturb_corpus(perturbation, sentences, seed=seed)
        except XnerError as exc:
            raise _fail(str(exc)) from None
        new = [r.sentence for r in results]
        if out is None:
            sys.stdout.write(format_conll(new))
        else:
            try:
                write_conll(out, new)
            except OSError as exc:
                raise _fail(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
        changed = sum(r.changed for r in results)
        err_console.print(
            f"{attack} seed={seed} params={perturbation.params}: changed {changed}/{len(results)} sentences"
            + (f"; wrote {out}" if out else ""),
            highlight=False,
        )

    @app.command("adversarial")
    def adversarial(
        system: Annotated[str, typer.Option(help="Registered system name, e.g. gazetteer.")],
        dataset: Annotated[str, typer.Option(help="Registered NER dataset, e.g. masakhaner2.")],
        lang: Annotated[str, typer.Option(help="Language (ISO 639-3).")],
        data_dir: Annotated[Path | None, typer.Option(help="Local data root (else $XNER_DATA_DIR / hub).")] = None,
        split: Annotated[str, typer.Option(help="Split to attack.")] = "test",
        attacks: Annotated[str, typer.Option(help="Comma-separated token perturbations to search over.")] = "char-typos.v1,diacritics-drop.v1,dotted-letters.v1",
        budget: Annotated[int, typer.Option(help="Query budget per sentence.")] = 200,
        max_fraction: Annotated[float, typer.Option(help="Max share of tokens changed.")] = 0.2,
        goal: Annotated[str, typer.Option(help="misprediction (SeqAttack) or f1-loss.")] = "misprediction",
        threshold: Annotated[float, typer.Option(help="Goal score for success.")] = 0.5,
        search: Annotated[str, typer.Option(help="wir or greedy.")] = "wir",
        target: Annotated[str, typer.Option(help="both, entity or context tokens.")] = "both",
        limit: Annotated[int | None, typer.Option(help="Attack only the first N sentences.")] = None,
        seed: Annotated[int, typer.Option(help="Seed (system training and candidates).")] = 0,
        system_param: Annotated[list[str] | None, typer.Option("--system-param", help="System parameter key=value.")] = None,
    ) -> None:
        """Greedy adversarial search against a system; prints a TextAttack-style summary."""
        from harness.datasets import load_ner
        from systems import make_system
        from systems.base import FitContext

        from attacks.adversarial import GreedyAttack

        try:
            searcher = GreedyAttack(
                attacks=[a.strip() for a in attacks.split(",") if a.strip()],
                goal=goal,
                threshold=threshold,
                query_budget=budget,
                max_fraction=max_fraction,
                target=target,
                search=search,
                seed=seed,
            )
            victim = make_system(system, parse_params(system_param))
            if hasattr(victim, "fit"):
                victim.fit(FitContext(data_dir, dataset, (lang,), seed=seed, show_progress=False))
            sentences = load_ner(dataset, lang, split, data_dir=data_dir).sentences
            if limit is not None:
                sentences = sentences[:limit]
            results = searcher.attack(victim, sentences)
            summary = searcher.summarize(sentences, results)
        except XnerError as exc:
            raise _fail(str(exc)) from None
        table = Table(title=f"Adversarial attack on {system} ({dataset}/{lang}/{split}, {len(sentences)} sentences)")
        table.add_column("Attack Results")
        table.add_column("", justify="right")
        for key, value in summary.rows():
            table.add_row(key, value)
        console.print(table)
