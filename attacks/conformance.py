"""``check_perturbation``: property-based conformance of a perturbation (hypothesis).

Generates corpora of sentences in Latin script with combining diacritics (NFC and NFD, stacked
tone marks over dots below), Ge'ez, Arabic script with harakat, digits and punctuation, including
empty and one-token sentences, with random valid IOB2 tags, and checks for every sentence:

* the label invariant (:func:`attacks.base.verify_perturbed`, also run inside ``perturb``);
* per-item determinism: the same (seed, perturbation, params, sentence id) gives the same output,
  whatever the order of the corpus;
* the declared languages: an undeclared language raises ``UnsupportedLanguageError``.

Like scikit-learn's ``check_estimator``, it is a library function that a plugin author runs in
their own tests. hypothesis is a test dependency, so it is imported only here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from harness.data import Sentence
from harness.errors import ConformanceError, UnsupportedLanguageError

from attacks.base import Perturbation, Perturbed, _ItemRng, _seed_params, canonical_params, item_key, verify_perturbed

LABELS = ("PER", "LOC", "ORG", "DATE")
LATIN_BASES = "abcdeghijklmnoprstuwyzABDEGIKLMNOSTWYɛɔɓɗƙŋọẹṣỌẸṢ"
MARKS = ("\u0300", "\u0301", "\u0323", "\u0304", "\u0302")
GEEZ = [chr(c) for c in range(0x1200, 0x1248)] + [chr(c) for c in range(0x1260, 0x1290)]
ARABIC = [chr(c) for c in range(0x0627, 0x063B)] + [chr(c) for c in range(0x0641, 0x064B)]
HARAKAT = [chr(c) for c in range(0x064B, 0x0653)]
PUNCT = (",", ".", "!", "?", "-", "«", "»", "።", "،")
# Real words mixed into the generated text, so lexicon-driven perturbations (code-switching) fire.
REAL_WORDS = ("lọ", "sí", "ní", "ọjọ́", "Èkó", "na", "ya", "wa", "ni", "da", "kuma", "sasa", "Lagos", "Abuja")
DEFAULT_LANGUAGES = ("yor", "hau", "swa", "ibo", "amh", "ara", "eng", "fon")


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """How many generated sentences were checked and how many the perturbation changed."""

    name: str
    examples: int
    sentences: int
    changed: int


def _strategies(vocabulary: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    # Tokens are drawn as text over a script's alphabet *including* its combining marks (one draw
    # per code point keeps 10,000 examples affordable); a mark drawn first gets a base letter in
    # front, and half of the Latin tokens are NFD so decomposed input is covered.
    alphabets = {
        "latin": LATIN_BASES + "".join(MARKS) * 3,
        "geez": "".join(GEEZ),
        "arabic": "".join(ARABIC) + "".join(HARAKAT),
        "digits": "0123456789",
    }
    texts = {k: st.text(alphabet=v, min_size=1, max_size=10) for k, v in alphabets.items()}

    def fix(text: str, script: str, nfd: bool, keep_leading_mark: bool) -> str:
        # Real data has tokens that start with a stray mark (a lone U+0301 in MasakhaNER yor/test);
        # keep some of them, give the others a base letter.
        if unicodedata.combining(text[0]) and not keep_leading_mark:
            text = {"latin": "a", "arabic": ARABIC[0]}.get(script, "a") + text
        return unicodedata.normalize("NFD" if nfd else "NFC", text)

    @st.composite
    def sentence(draw, index: int, lang: str) -> Sentence:  # type: ignore[no-untyped-def]
        script = draw(st.sampled_from(("latin", "latin", "latin", "geez", "arabic", "digits")))
        n = draw(st.sampled_from((0, 1, 1, 2, 3, 5, 8, 12)))
        nfd = draw(st.booleans())
        tokens = []
        for _ in range(n):
            roll = draw(st.integers(0, 9))
            if roll == 0:
                tokens.append(draw(st.sampled_from(PUNCT)))
            elif roll == 1:
                tokens.append(draw(st.sampled_from(vocabulary)))
            else:
                tokens.append(fix(draw(texts[script]), script, nfd, roll == 2))
        codes = draw(st.lists(st.integers(0, 5 * len(LABELS) - 1), min_size=n, max_size=n))
        tags: list[str] = []
        for i, code in enumerate(codes):
            kind, label = divmod(code, len(LABELS))
            if kind >= 4 and i > 0 and tags[-1] != "O":
                tags.append("I-" + tags[-1][2:])
            elif kind >= 2:
                tags.append("B-" + LABELS[label])
            else:
                tags.append("O")
        return Sentence(f"hyp/{lang}/{index}", lang, tuple(tokens), tuple(tags))

    return st, sentence


def check_perturbation(
    perturbation: Perturbation,
    *,
    max_examples: int = 300,
    languages: tuple[str, ...] | None = None,
    derandomize: bool = True,
    vocabulary: tuple[str, ...] = (),
) -> ConformanceReport:
    """Run the property-based conformance check; raise :class:`ConformanceError` on the first failure.

    Args:
        perturbation: the instance to check.
        max_examples: hypothesis examples (each is a corpus of 1-4 sentences).
        languages: language codes to generate; defaults to the declared ones (or a mix of
            Yoruba, Hausa, Swahili, Igbo, Amharic, Arabic, English and Fon when any is accepted).
        derandomize: fixed example generation (reproducible in CI).
        vocabulary: extra real words to mix into the generated tokens (e.g. lexicon entries).
    """
    from hypothesis import HealthCheck, given, settings

    st, sentence = _strategies(tuple(vocabulary) + REAL_WORDS)
    declared = getattr(perturbation, "languages", None)
    langs = tuple(languages or (sorted(declared) if declared else DEFAULT_LANGUAGES))
    if declared:
        try:
            perturbation.check_language("zzz")
        except UnsupportedLanguageError:
            pass
        else:
            raise ConformanceError(f"perturbation {perturbation.name!r} declares languages but accepted 'zzz'")
    counts = {"examples": 0, "sentences": 0, "changed": 0}

    @st.composite
    def corpus(draw):  # type: ignore[no-untyped-def]
        lang = draw(st.sampled_from(langs))
        size = draw(st.integers(1, 4))
        return [draw(sentence(i, lang)) for i in range(size)]

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(corpus(), st.integers(0, 2**16))
    def run(sentences: list[Sentence], seed: int) -> None:
        prepare = getattr(perturbation, "prepare", None)
        if callable(prepare):
            prepare(sentences)
        first: list[Perturbed] = []
        canon = canonical_params(_seed_params(perturbation))
        rngs = _ItemRng()
        for s in sentences:
            out = perturbation.perturb(s, rngs.at(item_key(seed, perturbation.name, canon, s.id)))
            verify_perturbed(perturbation, s, out)
            first.append(out)
        for s, expected in zip(reversed(sentences), reversed(first), strict=True):
            again = perturbation.perturb(s, rngs.at(item_key(seed, perturbation.name, canon, s.id)))
            if again != expected:
                raise ConformanceError(
                    f"perturbation {perturbation.name!r} is not deterministic per item on {s.id}: "
                    f"{list(expected.sentence.tokens)} then {list(again.sentence.tokens)}"
                )
        counts["examples"] += 1
        counts["sentences"] += len(sentences)
        counts["changed"] += sum(p.changed for p in first)

    run()
    return ConformanceReport(perturbation.name, counts["examples"], counts["sentences"], counts["changed"])
