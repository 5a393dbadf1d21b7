"""What a deletion proves: the guarantee it carries and the evidence for it (issue 13).

Every result of a guaranteed method states one of ``GUARANTEES``:

* ``"exact"``: the model after the deletion equals the model the same procedure trains
  from scratch without the deleted rows (bit for bit for SISA; to floating-point rounding
  for the closed-form head);
* ``"(epsilon, delta)-certified"``: Guo et al. 2020's certified removal, with epsilon, delta
  and the residual budget spent as evidence;
* ``"none"``: no guarantee (for example a closed-form head on features that were trained on
  the deleted rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXACT = "exact"
CERTIFIED = "(epsilon, delta)-certified"
NONE = "none"
GUARANTEES = (EXACT, CERTIFIED, NONE)


@dataclass(frozen=True)
class Deletion:
    """One honoured deletion request: how many rows it removed, in how many seconds, the
    guarantee and the evidence (JSON-ready: str / int / float / lists / dicts)."""

    method: str
    removed: int
    seconds: float
    guarantee: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.guarantee not in GUARANTEES:
            raise ValueError(f"guarantee {self.guarantee!r}; valid: {', '.join(GUARANTEES)}")

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "removed": self.removed, "seconds": self.seconds,
                "guarantee": self.guarantee, "evidence": self.evidence}
