"""The evidence vocabulary of every verdict the library prints.

A verdict (a path passes, two points are not connected, a point is a strict minimum, a
theorem applies) is only as strong as the check behind it. Every verdict-bearing result
exposes ``.verdict`` (a short string) and ``.evidence`` (an ``Evidence``), and its printed
summary shows both. The four levels, strongest first:

* ``proved``: a theorem or lemma of the paper whose conditions were checked on this
  input; the judgement cites it.
* ``certified``: a rigorous bound that covers the whole continuum claimed (every ``t`` on
  a path, every eigenvalue of a computed matrix); the judgement states the method and the
  margin. Bounds computed in floating point assume IEEE round-to-nearest for ``+ − × ÷``
  and a few ulps for XLA's ``tanh``/``exp``/``log`` (``landscape.bounds`` says how much).
* ``sampled``: checked at finitely many points (a profile on a grid, random perturbations,
  one point's derivatives); the judgement states the resolution.
* ``none``: nothing was checked that supports the statement (a search that found nothing).

``STRONG_WORDS`` maps the words that must be earned to the weakest evidence that earns
them; ``check_wording`` is the test every summary passes (see tests/test_verdicts.py and
docs/verdicts.md).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Iterable


class Evidence(str, enum.Enum):
    """How a verdict was reached; compares by strength (``PROVED > CERTIFIED > SAMPLED > NONE``)."""

    PROVED = "proved"
    CERTIFIED = "certified"
    SAMPLED = "sampled"
    NONE = "none"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other):  # strength order, not string order
        return self.rank >= Evidence(other).rank

    def __gt__(self, other):
        return self.rank > Evidence(other).rank

    def __le__(self, other):
        return self.rank <= Evidence(other).rank

    def __lt__(self, other):
        return self.rank < Evidence(other).rank

    __hash__ = str.__hash__


_RANK = {Evidence.NONE: 0, Evidence.SAMPLED: 1, Evidence.CERTIFIED: 2, Evidence.PROVED: 3}


def weakest(evidences: Iterable) -> Evidence:
    """The weakest of several evidences (a chain of checks is as strong as its weakest link)."""
    ev = [Evidence(e) for e in evidences]
    if not ev:
        return Evidence.NONE
    return min(ev, key=lambda e: e.rank)


@dataclasses.dataclass(frozen=True)
class Judgement:
    """One statement and how it was reached.

    Attributes:
      statement: what is claimed, in words (e.g. ``"no rise above 1e-9 anywhere on the path"``).
      evidence: an ``Evidence``.
      how: the citation (proved), the method and margin (certified), the resolution
        (sampled) or why nothing stronger was possible (none).
    """

    statement: str
    evidence: Evidence
    how: str = ""

    def __post_init__(self):
        object.__setattr__(self, "evidence", Evidence(self.evidence))

    @property
    def verdict(self) -> str:
        return self.statement

    def __str__(self) -> str:
        return f"{self.statement} [{self.evidence}: {self.how}]" if self.how else f"{self.statement} [{self.evidence}]"

    def to_dict(self) -> dict:
        return {"statement": self.statement, "evidence": self.evidence.value, "how": self.how}

    @classmethod
    def from_dict(cls, d: dict) -> "Judgement":
        return cls(d["statement"], Evidence(d["evidence"]), d.get("how", ""))


STRONG_WORDS = {
    "proved": Evidence.PROVED,
    "not connected": Evidence.PROVED,
    "applies": Evidence.PROVED,
    "certified": Evidence.CERTIFIED,
    "pass": Evidence.CERTIFIED,
    "connected below alpha": Evidence.CERTIFIED,
    "strict minimum": Evidence.SAMPLED,
    "strict_minimum": Evidence.SAMPLED,
    "spurious valley": Evidence.PROVED,
}
"""Words a verdict may use only with at least this evidence (case-insensitive, whole words).

``strict minimum`` needs only ``sampled``: the label is earned by an eigenvalue bound at
one point (see ``curvature.classify_critical_point``), which is a sample of the claim
"a strict local minimum is here"; the label's judgement says exactly what was checked.
``spurious valley`` and ``not connected`` are statements only the Theorem 6 proof makes.
"""

_NEGATION = re.compile(r"\b(not|no|never|cannot|nothing)\b|n't")


def check_wording(verdict: str, evidence) -> None:
    """Raises ``ValueError`` when ``verdict`` uses a strong word its ``evidence`` does not earn.

    A strong word negated earlier in its clause (``"NOT certified"``, ``"does not apply"``,
    ``"no spurious valley shown"``) makes no claim and is allowed; ``"not connected"`` is a
    claim of its own.
    """
    ev = Evidence(evidence)
    text = verdict.lower()
    for word, needed in STRONG_WORDS.items():
        for m in re.finditer(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text):
            clause = re.split(r"[;:,.()\[\]]", text[:m.start()])[-1]
            if word != "not connected" and _NEGATION.search(clause):
                continue
            if ev < needed:
                raise ValueError(f"verdict: {verdict!r} says {word!r}, which needs evidence {needed.value!r}, "
                                 f"but its evidence is {ev.value!r}")


def summary_line(verdict: str, evidence, how: str = "") -> str:
    """``"<verdict> [<evidence>: <how>]"`` after ``check_wording``: the one format of a printed verdict."""
    check_wording(verdict, evidence)
    return str(Judgement(verdict, Evidence(evidence), how))
