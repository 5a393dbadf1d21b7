"""Removed or only hidden? Every method under every attack, beside the oracle under the same.

    python benchmarks/robustness.py [--parts cls,worst,seq,scale,lm] [--seed 0]
                                    [--lm-scenario people] [--lm-methods a,b] [--home DIR]

* cls: digits, forget class:3 and random:0.1, every classifier method with the relearning,
  quantization and shadow-model attacks (U-LiRA accuracy, NeurIPS-2023 forgetting quality F).
* worst: Avg. Gap on the worst-case forget set (worst:0.1) beside a random one (random:0.1).
* seq: digits random:0.1 forgotten in 4 sequential requests vs in one (MUSE sustainability).
* scale: Avg. Gap as the random forget set grows 2% -> 20% (MUSE scalability).
* lm: people forget10 (``--lm-scenario``), every LM method with relearning, quantization and
  the form attack.
Cells read "before -> after (oracle after)"; "!" marks forgetting that did not survive
(``obliviate.attacks.verdict``). Ends with the methods whose forgetting does not survive.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from obliviate.experiment import role_seed
from obliviate.methods import METHODS
from obliviate.presets import check_held_out
from obliviate.runner import RunSpec, Workspace, prepare, run
from obliviate.sequential import sequential
from obliviate.storage.records import read_record
from obliviate.views.tables import format_table

CLS_METHODS = [m.name for m in METHODS.values() if "classification" in m.tasks]
LM_METHODS = [m.name for m in METHODS.values() if "causal_lm" in m.tasks]
LM_LEGEND = ("exact-match % of forget answers, before -> after the attack (the oracle after "
             "the same attack); forms compare each form with the trained phrasing; multiple "
             "choice is chance at 25%")


ORIGINAL = "original (no unlearning)"
NOISE_FLOOR = "noise floor (independent retrain)"


def cell(v: dict[str, Any], role: str = "unlearned") -> str:
    mark = {"recovered": " !", "not forgotten": " -"}.get(v["verdict"], "") \
        if role == "unlearned" else ""
    return (f"{v['before'][role]:.0f} -> {v['after'][role]:.0f} "
            f"({v['after']['oracle']:.0f}){mark}")


def label(r: dict[str, Any]) -> str:
    return NOISE_FLOOR if r.get("noise_floor_row") else r["method"]["name"]


def attack_rows(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One row per method, after the untouched original (its own values under each attack,
    read from the first record: every run attacks the same original) and the noise floor (an
    exact retrain from another initialisation, attacked as a method is)."""
    header = ["method"]
    for name, a in records[0]["attacks"].items():
        header += [f"{name} {v}" if name != "relearn" else name for v in a.get("variants", {})]
        header += list(a.get("values", {}))[:2]
    original = [ORIGINAL]
    for a in records[0]["attacks"].values():
        original += [cell(v, "original") for v in a.get("variants", {}).values()]
        original += ["—" for _ in list(a.get("values", {}))[:2]]  # shadow models: not defined
    rows = [original]
    for r in sorted(records, key=lambda r: not r.get("noise_floor_row")):
        row = [label(r)]
        for a in r["attacks"].values():
            row += [cell(v) for v in a.get("variants", {}).values()]
            # Shadow models need a fresh unlearning per shadow seed; the noise floor's fixed
            # init_seed would make every shadow "unlearned" model the same retrain: no score.
            row += ["—" if r.get("noise_floor_row") else f"{x:.2f}"
                    for x in list(a.get("values", {}).values())[:2]]
        rows.append(row)
    return header, rows


def not_surviving(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        for name, a in r["attacks"].items():
            for variant, v in a.get("variants", {}).items():
                if v["verdict"] == "recovered":
                    out.setdefault(label(r), []).append(
                        name if name == "relearn" else f"{name} {variant}")
    return out


def noise_floor_spec(forget: str, scenario: str, seed: int, **kw: Any) -> RunSpec:
    """``retrain`` from the noise floor's initialisation: the independent exact retrain the
    run records carry, here as a method so the attacks treat it as they treat one."""
    return RunSpec("retrain", forget, scenario, seed,
                   overrides={"init_seed": role_seed(seed, "independent")}, **kw)


def attacked(ws: Workspace, scenario: str, forget: str, seed: int, methods: list[str],
             attacks: tuple[str, ...]) -> list[dict[str, Any]]:
    trained = prepare(RunSpec(methods[0], forget, scenario, seed), ws, progress=False)
    specs = [RunSpec(m, forget, scenario, seed, attacks=attacks) for m in methods]
    records = []
    for spec in [noise_floor_spec(forget, scenario, seed, attacks=attacks), *specs]:
        name = NOISE_FLOOR if spec.overrides else spec.method
        try:
            r = run(spec, ws, trained=trained, progress=False)[0]
        except Exception as e:  # a method that fails must not cost the others their row
            print(f"  {scenario} {forget} {name}: FAILED {type(e).__name__}: {e}",
                  file=sys.stderr)
            continue
        r["noise_floor_row"] = bool(spec.overrides)
        records.append(r)
        print(f"  {scenario} {forget} {name} done", file=sys.stderr, flush=True)
    return records


def print_attacks(title: str, records: list[dict[str, Any]], legend: str) -> None:
    header, rows = attack_rows(records)
    print(f"### {title}\n\n{legend}\n\n```\n{format_table(header, rows)}\n```\n")
    bad = not_surviving(records)
    print("- forgetting does not survive: " + ("; ".join(
        f"{m} ({', '.join(a)})" for m, a in bad.items()) or "every method survives") + "\n")


def gap(r: dict[str, Any], role: str = "unlearned") -> float:
    return float(r["metrics"]["Avg.Gap"][role])


def gap_or_dash(r: dict[str, Any], role: str) -> str:
    """A sequence step has no noise floor (``sequential`` trains none per step): a dash."""
    v = r["metrics"]["Avg.Gap"].get(role)
    return "—" if v is None else f"{float(v):.2f}"


def parts_of(args: argparse.Namespace) -> list[str]:
    return str(args.parts).split(",")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="cls,worst,seq,scale,lm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", default=",".join(CLS_METHODS))
    p.add_argument("--lm-scenario", default="people")
    p.add_argument("--lm-methods", default=",".join(LM_METHODS))
    p.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    p.add_argument("--report-only", action="store_true",
                   help="only print the LM attack table of the records in --home (after one "
                        "process per group of --lm-methods sharing that --home)")
    args = p.parse_args(argv)
    if args.report_only:
        if args.home is None:
            p.error("--report-only needs --home")
        found = [read_record(f) for f in sorted((args.home / "runs").glob("*.json"))]
        recs = [r for r in found if r["scenario"]["name"] == args.lm_scenario
                and r["scenario"]["forget"] == "people:0.1" and "attacks" in r]
        print_attacks(f"{args.lm_scenario} · forget people:0.1 · seed {args.seed}",
                      [r for r in recs if r["scenario"]["seed"] == args.seed], LM_LEGEND)
        return 0
    if "lm" in parts_of(args):
        check_held_out(args.lm_scenario, args.lm_methods.split(","), [args.seed], "people:0.1")
    if set(parts_of(args)) - {"lm"}:
        for forget in ("class:3", "random:0.1", "worst:0.1"):
            check_held_out("digits", args.methods.split(","), [args.seed], forget)
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-robust-")))
    parts, seed = args.parts.split(","), args.seed
    methods = args.methods.split(",")
    legend = ("forget accuracy %, before -> after the attack (the oracle after the same "
              "attack); ! = recovered (more than 10 points above the oracle after the attack, "
              "not before), - = never forgotten; U-LiRA accuracy % (ideal 50) and the "
              "challenge's F (ideal 1) from 4 unlearned and 4 retrained models (none for the "
              "original, and none for the noise floor, whose retrains share one "
              "initialisation)")
    if "cls" in parts:
        for forget in ("class:3", "random:0.1"):
            recs = attacked(ws, "digits", forget, seed, methods, ("relearn", "quantize", "shadow"))
            print_attacks(f"digits · forget {forget} · seed {seed}", recs, legend)
    if "worst" in parts:
        rows = []
        for forget in ("random:0.1", "worst:0.1"):
            t = prepare(RunSpec(methods[0], forget, "digits", seed), ws, progress=False)
            recs = [run(RunSpec(m, forget, "digits", seed), ws, trained=t, progress=False)[0]
                    for m in methods]
            rows.append([forget, f"{gap(recs[0], 'original'):.2f}",
                         f"{gap(recs[0], 'independent'):.2f}", *(f"{gap(r):.2f}" for r in recs)])
        print(f"### digits · Avg. Gap on a random vs the worst-case forget set · seed {seed}\n"
              f"\n```\n{format_table(['forget', 'original', 'noise floor', *methods], rows)}"
              f"\n```\n")
    if "seq" in parts:
        rows = []
        for m in methods:
            one = run(RunSpec(m, "random:0.1", "digits", seed), ws, progress=False)[0]
            seq = sequential(RunSpec(m, "random:0.1", "digits", seed), ws, 4, progress=False)
            if not rows:  # the references: every method's runs share them
                rows.append([ORIGINAL, f"{gap(one, 'original'):.2f}",
                             *(f"{gap(r, 'original'):.2f}" for r in seq)])
                rows.append([NOISE_FLOOR, gap_or_dash(one, "independent"),
                             *(gap_or_dash(r, "independent") for r in seq)])
            rows.append([m, f"{gap(one):.2f}", *(f"{gap(r):.2f}" for r in seq)])
        print(f"### digits · random:0.1 in 4 sequential requests (Avg. Gap to the oracle of "
              f"everything forgotten so far) vs in one · seed {seed}\n\n```\n"
              f"{format_table(['method', 'one request', '1/4', '2/4', '3/4', '4/4'], rows)}"
              f"\n```\n")
    if "scale" in parts:
        sizes = ("0.02", "0.05", "0.1", "0.2")
        cols: dict[str, list[str]] = {m: [] for m in [ORIGINAL, NOISE_FLOOR, *methods]}
        for f in sizes:
            t = prepare(RunSpec(methods[0], f"random:{f}", "digits", seed), ws, progress=False)
            for m in methods:
                r = run(RunSpec(m, f"random:{f}", "digits", seed), ws, trained=t,
                        progress=False)[0]
                cols[m].append(f"{gap(r):.2f}")
            cols[ORIGINAL].append(f"{gap(r, 'original'):.2f}")
            cols[NOISE_FLOOR].append(f"{gap(r, 'independent'):.2f}")
        table = format_table(["method", *(f"random:{f}" for f in sizes)],
                             [[m, *c] for m, c in cols.items()])
        print(f"### digits · Avg. Gap as the random forget set grows · seed {seed}\n\n```\n"
              f"{table}\n```\n")
    if "lm" in parts:
        recs = attacked(ws, args.lm_scenario, "people:0.1", seed, args.lm_methods.split(","),
                        ("relearn", "quantize", "forms"))
        print_attacks(f"{args.lm_scenario} · forget people:0.1 · seed {seed}", recs, LM_LEGEND)
    return 0


if __name__ == "__main__":
    sys.exit(main())
