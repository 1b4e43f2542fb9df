"""The one interface every text classifier here implements, and its result type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Classification:
    """One decision. ``scores`` has every class of the classifier, each in [0, 1].

    All fields are plain data (str, float, list, dict): the input text is never echoed back
    unescaped into markup by this package, but evidence may quote the input, so anything that
    renders these strings (the dashboard) must escape them.
    """

    label: str
    confidence: float
    scores: dict[str, float]
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class TextClassifier(Protocol):
    """text -> Classification over a fixed label set (``labels``)."""

    labels: list[str]

    def classify(self, text: str) -> Classification: ...
