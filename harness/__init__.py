"""xner-bench core: data model, datasets, metrics, runner, result store and CLI.

Importing this package is cheap: torch and transformers are imported only by the modules that
need them, when they are used.
"""

from harness.data import Sentence, Span, iob2_from_spans, spans_from_iob2
from harness.errors import (
    ConfigError,
    ConformanceError,
    DataFormatError,
    UnknownComponentError,
    XnerError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ConformanceError",
    "DataFormatError",
    "Sentence",
    "Span",
    "UnknownComponentError",
    "XnerError",
    "__version__",
    "iob2_from_spans",
    "spans_from_iob2",
]
