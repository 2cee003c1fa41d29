"""Annotation projection: carry English entity spans onto a translation (systems.md §1-§3).

- :mod:`systems.projection.alignment`: word-alignment heuristics (García-Ferrero et al. 2022 and
  the Politov/Shkalikov variant).
- :mod:`systems.projection.ilp`: candidate spans + scores + exact/greedy matching (Politov et al. 2025).
- :mod:`systems.projection.easyproject`: mark-then-translate (Chen et al. 2023).
- :mod:`systems.projection.backtranslation`: the tgt2tgt refinement.
- :mod:`systems.projection.evaluate`: intrinsic evaluation on Europarl-NER.
- :mod:`systems.projection.systems`: the registered translate-train and translate-test systems.
"""
