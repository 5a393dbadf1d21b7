"""The feature sidecar a run writes beside its record (obliviate.storage.sidecar,
obliviate.tasks.classification.features)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from conftest import untrained_lm_pair
from obliviate.errors import ObliviateError
from obliviate.runner import RunSpec, Trained, Workspace, run
from obliviate.storage import sidecar as sc

_GA = RunSpec("ga", "class:3", model="mlp", use_preset=False)  # the CNN's preset is too hot


@pytest.fixture(scope="module")
def ga_run(tiny_class: Trained, tmp_path_factory: pytest.TempPathFactory,
           ) -> tuple[dict[str, Any], Path]:
    ws = Workspace(tmp_path_factory.mktemp("side") / "home")
    return run(_GA, ws, trained=tiny_class, progress=False)


def _softmax_true(model: torch.nn.Module, x: torch.Tensor, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1).numpy()
    return p[np.arange(len(y)), y]


def test_sidecar_is_beside_the_record_with_its_hash(ga_run: tuple[dict[str, Any], Path]) -> None:
    record, path = ga_run
    side = path.parent / f"{record['run_id']}.features.npz"
    assert record["sidecar"] == {"file": side.name,
                                 "sha256": hashlib.sha256(side.read_bytes()).hexdigest()}
    assert json.loads(path.read_text())["sidecar"] == record["sidecar"]
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]
    # Kept small: the tiny MLP's sidecar (3 roles, 3 splits, 200 probes) is about a megabyte.
    assert side.stat().st_size < 1_500_000


def test_classifier_arrays_match_the_models(ga_run: tuple[dict[str, Any], Path],
                                            tiny_class: Trained) -> None:
    record, path = ga_run
    a = sc.read_sidecar(path)
    data = tiny_class.data
    for s in (data.forget, data.retain, data.test):
        ids = a[sc.ids_key(s.name)]
        assert ids.dtype == np.int64 and len(ids) == min(len(s), sc.MAX_PER_SPLIT)
        pos = np.searchsorted(s.ids, ids)  # split ids are sorted pool rows
        assert (s.ids[pos] == ids).all() and len(set(ids)) == len(ids)
        labels = s.targets.numpy()[pos]
        assert (a[sc.label_key(s.name)] == labels).all()
        x = s.inputs[torch.from_numpy(pos)]
        for role, model in (("original", tiny_class.original), ("oracle", tiny_class.oracle)):
            conf = a[sc.confidence_key(role, s.name)]
            assert conf.dtype == np.float32
            np.testing.assert_allclose(conf, _softmax_true(model, x, labels), atol=1e-6)
            with torch.no_grad():
                np.testing.assert_array_equal(a[sc.pred_key(role, s.name)],
                                              model(x).argmax(1).numpy())
                feats = model.body(x).numpy()
            f16 = a[sc.features_key(role, s.name)]
            assert f16.dtype == np.float16 and f16.shape == (len(ids), 128)
            np.testing.assert_allclose(f16, feats, rtol=1e-3, atol=1e-3)
    # The unlearned model is gone; its forget predictions agree with the record's UA.
    ua = np.array(record["metrics"]["UA"]["per_sample"]["unlearned"])
    pos = np.searchsorted(data.forget.ids, a["ids/forget"])
    wrong = a["unlearned/forget/pred"] != a["label/forget"]
    assert (wrong == (ua[pos] == 1.0)).all()


def test_layers_in_forward_order_on_the_probe_set(ga_run: tuple[dict[str, Any], Path],
                                                  tiny_class: Trained) -> None:
    _, path = ga_run
    a = sc.read_sidecar(path)
    assert list(a[sc.LAYERS]) == ["body.1", "body.3", "head"]
    probe = a[sc.PROBE_IDS]
    assert probe.dtype == np.int64 and len(probe) == sc.MAX_PROBE
    d = tiny_class.data
    split_ids = np.concatenate([d.forget.ids, d.retain.ids, d.test.ids])
    assert np.isin(probe, split_ids).all() and (np.diff(probe) > 0).all()
    x = torch.from_numpy(d.pool.x[probe])  # pool rows: the splits' inputs are pool.x rows
    with torch.no_grad():
        logits = tiny_class.original(x).numpy()
        first = tiny_class.original.body[1](tiny_class.original.body[0](x)).numpy()
    for role in sc.ROLES:
        for k, width in enumerate((128, 128, 10)):
            assert a[sc.layer_key(role, k)].shape == (len(probe), width)
            assert a[sc.layer_key(role, k)].dtype == np.float32
    np.testing.assert_allclose(a[sc.layer_key("original", 2)], logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a[sc.layer_key("original", 0)], first, rtol=1e-5, atol=1e-5)


def test_probe_set_is_shared_by_runs_of_a_scenario_and_seed(
        ga_run: tuple[dict[str, Any], Path], tiny_random: Trained, workspace: Workspace,
        ) -> None:
    """Another method and another forget set: the training set is the same, so is the probe
    set; the original model is the same, so are its activations on it."""
    _, path = ga_run
    a = sc.read_sidecar(path)
    _, other = run(RunSpec("rl", "random:0.1", model="mlp", overrides={"epochs": 1}), workspace,
                   trained=tiny_random, progress=False)
    b = sc.read_sidecar(other)
    np.testing.assert_array_equal(a[sc.PROBE_IDS], b[sc.PROBE_IDS])
    np.testing.assert_array_equal(a["original/layer/0"], b["original/layer/0"])
    assert not np.array_equal(a["oracle/layer/0"], b["oracle/layer/0"])  # other oracles


def test_missing_or_corrupt_sidecar_is_a_clear_error(tiny_class: Trained,
                                                     workspace: Workspace) -> None:
    record, path = run(_GA, workspace, trained=tiny_class, progress=False)
    side = path.parent / record["sidecar"]["file"]
    raw = bytearray(side.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    side.write_bytes(bytes(raw))
    with pytest.raises(ObliviateError, match=rf"{side.name}.* corrupt"):
        sc.read_sidecar(path)
    side.unlink()
    with pytest.raises(ObliviateError, match=rf"{side.name}.* missing"):
        sc.read_sidecar(record, path.parent)
    with pytest.raises(ObliviateError, match="no feature sidecar"):
        sc.read_sidecar({k: v for k, v in record.items() if k != "sidecar"}, path.parent)
    with pytest.raises(ObliviateError, match="plain file name"):
        sc.read_sidecar({**record, "sidecar": {"file": "../x.npz", "sha256": "0"}},
                        path.parent)


def test_write_sidecar_refuses_object_arrays_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'bad'"):
        sc.write_sidecar(tmp_path / "x.features.npz", {"bad": np.array([{}], dtype=object)})
    assert list(tmp_path.iterdir()) == []
    meta = sc.write_sidecar(tmp_path / "x.features.npz", {"a/b": np.arange(3)})
    got = sc.read_sidecar({"run_id": "x", "sidecar": meta}, tmp_path)
    assert list(got) == ["a/b"] and got["a/b"].tolist() == [0, 1, 2]


def test_sidecar_module_does_not_import_torch() -> None:
    code = "import sys, obliviate.storage.sidecar; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_lm_run_sidecar_and_examples(tmp_path: Path) -> None:
    """Untrained tiny GPT-2s with a perturbed oracle, so the truth ratios differ."""
    trained = untrained_lm_pair()
    data = trained.data
    record, path = run(RunSpec("ga", "people:0.34", "people-tiny", 0,
                               overrides={"epochs": 1}), Workspace(tmp_path), trained=trained,
                       progress=False)
    a = sc.read_sidecar(path)
    n_q = record["lm"]["forget_questions"]
    for role in sc.ROLES:
        tr = a[sc.truth_ratio_key(role)]
        assert tr.dtype == np.float32 and tr.shape == a[sc.prob_key(role)].shape == (n_q,)
        np.testing.assert_allclose(tr, record["metrics"]["Forget quality"]["per_sample"][role],
                                   rtol=1e-5)
        f, h = a[sc.mia_key(role, "forget")], a[sc.mia_key(role, "holdout")]
        assert f.shape == (len(data.forget_ids),) and h.shape == (len(data.people["holdout"]),)
        auc = roc_auc_score(np.r_[np.ones(len(f)), np.zeros(len(h))], np.r_[f, h])
        assert auc == pytest.approx(record["metrics"]["MIA AUC Min-K% (40%)"][role])
    examples = record["lm"]["examples"]
    questions = {f.questions[0]: f.answer for f in data.facts("forget")}
    assert 1 <= len(examples) <= 5 and len({e["question"] for e in examples}) == len(examples)
    for e in examples:
        assert set(e) == {"question", "answer", *sc.ROLES}
        assert questions[e["question"]] == e["answer"]
        assert all(isinstance(e[r], str) for r in sc.ROLES)
