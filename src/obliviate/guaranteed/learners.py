"""The four guaranteed learners behind one interface: train on a split, delete rows, score
inputs, and give their whole state as (tensors, JSON) and back (issue 13).

``Learner`` is what ``adapter.py`` (``obliviate run --train``) and ``run.py``
(``obliviate exact``) hold; each method keeps its own maths in its own file (``sisa.py``,
``s3t.py``, ``analytic.py``, ``certified.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from obliviate.config import config_dict
from obliviate.guaranteed.analytic import AnalyticConfig, AnalyticHead, AnalyticModel, featurize
from obliviate.guaranteed.certified import CertifiedConfig, CertifiedLogistic
from obliviate.guaranteed.checkpoints import MemoryStore
from obliviate.guaranteed.guarantee import CERTIFIED, EXACT, Deletion
from obliviate.guaranteed.s3t import S3T, S3TConfig
from obliviate.guaranteed.sisa import SISA, SISAConfig
from obliviate.tasks.classification.models import build_model
from obliviate.types import Split


@dataclasses.dataclass(frozen=True)
class LearnerSpec:
    name: str
    config: type[Any]
    paper: str
    guarantee: str


LEARNERS: dict[str, LearnerSpec] = {
    "acu": LearnerSpec("acu", AnalyticConfig, "analytic continual unlearning (ACU): ridge/RLS "
                       "head on a data-free random feature map, Woodbury downdates", EXACT),
    "sisa": LearnerSpec("sisa", SISAConfig, "Bourtoule et al. 2021, IEEE S&P (SISA)", EXACT),
    "s3t": LearnerSpec("s3t", S3TConfig, "Chowdhury et al., Towards Scalable Exact Machine "
                       "Unlearning Using Parameter-Efficient Fine-Tuning (S3T)", EXACT),
    "certified": LearnerSpec("certified", CertifiedConfig, "Guo et al. 2020, ICML (certified "
                             "removal, one-vs-rest logistic regression)", CERTIFIED),
}


class Learner:
    """One guaranteed method over a classification scenario's data (``ScenarioData``).

    ``model`` is the method's own object (``SISA``, ``S3T``, ``AnalyticModel``,
    ``CertifiedLogistic``), None until ``fit`` or ``restore``. SISA keeps its checkpoints in
    memory (``MemoryStore``), so the whole state is this object's and a copy is independent.
    """

    def __init__(self, name: str, cfg: Any, data: Any, seed: int) -> None:
        self.name, self.cfg, self.data, self.seed = name, cfg, data, seed
        self.model: Any = None

    def _sisa(self, split: Split, store: MemoryStore) -> SISA:
        d = self.data

        def factory(seed: int) -> torch.nn.Module:
            return build_model(d.model, d.pool.input_shape, d.n_classes, seed)

        return SISA(split, self.cfg, d.recipe, d.task, factory, f"{d.scenario}/{d.model}",
                    store, seed=self.seed)

    def fit(self, split: Split, *, progress: bool = False) -> dict[str, Any]:
        x, y, n = split.inputs.numpy(), split.targets.numpy(), self.data.n_classes
        if self.name == "acu":
            self.model = AnalyticModel.train(x, y, split.ids, n, self.cfg, self.seed)
            return {"rows_sha256": self.model.head.fingerprint()}
        if self.name == "certified":
            self.model = CertifiedLogistic(x, y, split.ids, n, self.cfg, seed=self.seed)
            return {}
        if self.name == "s3t":
            self.model = S3T(split, self.cfg, n, seed=self.seed)
            return self.model.fit()
        self.model = self._sisa(split, MemoryStore())
        return dict(self.model.fit(progress=progress))

    def delete(self, rows: Split) -> Deletion:
        if self.name == "acu":
            d: Deletion = self.model.delete(rows.inputs.numpy(), rows.targets.numpy(), rows.ids)
        else:
            d = self.model.delete(rows.ids)
        return d

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """(n, C) scores whose argmax is the prediction (log mean probability for the
        ensembles with mean aggregation, linear scores for acu and certified)."""
        if self.name == "acu":
            phi = featurize(x.cpu().numpy(), self.model.cfg, self.model.seed)
            return torch.from_numpy(np.asarray(self.model.head.scores(phi)))
        if self.name == "certified":
            return torch.from_numpy(np.asarray(self.model.scores(x.cpu().numpy())))
        if self.name == "s3t":
            return torch.as_tensor(self.model.scores(x))
        with torch.no_grad():
            return torch.as_tensor(self.model.ensemble()(x))

    # -- the whole state, for the model cache (adapter.py) --
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        meta: dict[str, Any] = {"method": self.name, "config": config_dict(self.cfg),
                                "seed": self.seed}
        m = self.model
        if self.name == "s3t":
            tensors, own = m.state()
            return tensors, {**meta, "s3t": own}
        if self.name == "sisa":
            meta["deleted_ids"] = [int(i) for i in m.split.ids[~m.alive]]
            # The served shard models by shard (their last checkpoints, named by content, are
            # new after a retrain): what a comparison of weights by name needs.
            served = {f"shard.{s}.{k}": v for s, sm in m.models.items()
                      for k, v in sm.state_dict().items()}
            return {**{f"ckpt/{k}": v for k, v in m.store.tensors().items()}, **served}, meta
        if self.name == "acu":
            h = m.head
            meta["ids"] = sorted(h.ids)
            return {"R": torch.from_numpy(h.R.copy()), "Q": torch.from_numpy(h.Q.copy())}, meta
        meta.update(ids=m.ids.tolist(), retrains=m.retrains, rng=m._rng.bit_generator.state)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in
                (("x", m.x), ("y", m.y), ("B", m.B), ("W", m.W), ("spent", m.spent))}, meta

    def restore(self, split: Split, tensors: dict[str, torch.Tensor],
                meta: dict[str, Any]) -> None:
        """The state ``state()`` gave, over the training rows ``split`` it was trained on."""
        if meta.get("method") != self.name:
            raise ValueError(f"state of method {meta.get('method')!r}, not {self.name!r}")
        if self.name == "s3t":
            self.model = S3T.from_state(split, tensors, meta["s3t"])
        elif self.name == "sisa":
            s = self._sisa(split, MemoryStore.from_tensors(
                {k[5:]: v for k, v in tensors.items() if k.startswith("ckpt/")}))
            s.alive = ~np.isin(s.split.ids, np.asarray(meta["deleted_ids"], dtype=np.int64))
            s.fit()  # every shard loads its last checkpoint: nothing may need training
            if s.trained_slices:
                raise ValueError("SISA state: checkpoints are missing for some shard")
            self.model = s
        elif self.name == "acu":
            x = split.inputs.numpy()
            head = AnalyticHead(featurize(x[:1], self.cfg, self.seed).shape[1],
                                self.data.n_classes, self.cfg.ridge)
            head.R, head.Q = tensors["R"].numpy(), tensors["Q"].numpy()
            head.ids = {int(i) for i in meta["ids"]}
            self.model = AnalyticModel(self.cfg, self.seed, head)
        else:
            # CertifiedLogistic trains in __init__; a restored one takes its saved arrays.
            m = CertifiedLogistic.__new__(CertifiedLogistic)
            m.cfg, m.n_classes = self.cfg, self.data.n_classes
            m.x, m.y = tensors["x"].numpy(), tensors["y"].numpy()
            m.B, m.W, m.spent = tensors["B"].numpy(), tensors["W"].numpy(), tensors["spent"].numpy()
            m.ids, m.retrains = np.asarray(meta["ids"], dtype=np.int64), int(meta["retrains"])
            m._rng = np.random.default_rng()
            m._rng.bit_generator.state = meta["rng"]
            self.model = m

    def compare(self, scratch: Learner, x: torch.Tensor) -> dict[str, Any]:
        """This learner after its deletions against ``scratch``, the same method trained from
        scratch on the retained rows: the evidence of exactness."""
        live, ref = self.model, scratch.model
        if self.name == "sisa":
            a, b = live.ensemble().state_dict(), ref.ensemble().state_dict()
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            return {"bit_identical_to_scratch": bool(same), "tensors": len(a)}
        if self.name == "s3t":
            # The served layers (each shard's order and prefix after the deletions) against
            # the same layers of S3T trained from scratch; the layers a deletion deactivated
            # are not served and differ by design.
            sel = live.selection()
            a, b = live.served_state(sel), ref.served_state(sel)
            same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            out = torch.equal(live.scores(x, sel), ref.scores(x, sel))
            return {"bit_identical_to_scratch": bool(same and out), "tensors": len(a),
                    "served_layers": {str(s): n for s, (_, n) in sel.items()},
                    "deletions_absorbed": live.absorbed, "shard_retrains": live.retrains}
        wa = live.head.weights if self.name == "acu" else live.W
        wb = ref.head.weights if self.name == "acu" else ref.W
        return {"max_abs_weight_difference_to_scratch": float(np.abs(wa - wb).max())}
