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

from obliviate.methods import METHODS
from obliviate.runner import RunSpec, Workspace, prepare, run
from obliviate.sequential import sequential
from obliviate.storage.records import read_record
from obliviate.views.tables import format_table

CLS_METHODS = [m.name for m in METHODS.values() if "classification" in m.tasks]
LM_METHODS = [m.name for m in METHODS.values() if "causal_lm" in m.tasks]
LM_LEGEND = ("exact-match % of forget answers, before -> after the attack (the oracle after "
             "the same attack); forms compare each form with the trained phrasing; multiple "
             "choice is chance at 25%")


def cell(v: dict[str, Any]) -> str:
    mark = {"recovered": " !", "not forgotten": " -"}.get(v["verdict"], "")
    return (f"{v['before']['unlearned']:.0f} -> {v['after']['unlearned']:.0f} "
            f"({v['after']['oracle']:.0f}){mark}")


def attack_rows(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["method"]
    for name, a in records[0]["attacks"].items():
        header += [f"{name} {v}" if name != "relearn" else name for v in a.get("variants", {})]
        header += list(a.get("values", {}))[:2]
    rows = []
    for r in records:
        row = [r["method"]["name"]]
        for a in r["attacks"].values():
            row += [cell(v) for v in a.get("variants", {}).values()]
            row += [f"{x:.2f}" for x in list(a.get("values", {}).values())[:2]]
        rows.append(row)
    return header, rows


def not_surviving(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        for name, a in r["attacks"].items():
            for variant, v in a.get("variants", {}).items():
                if v["verdict"] == "recovered":
                    out.setdefault(r["method"]["name"], []).append(
                        name if name == "relearn" else f"{name} {variant}")
    return out


def attacked(ws: Workspace, scenario: str, forget: str, seed: int, methods: list[str],
             attacks: tuple[str, ...]) -> list[dict[str, Any]]:
    trained = prepare(RunSpec(methods[0], forget, scenario, seed), ws, progress=False)
    records = []
    for m in methods:
        try:
            records.append(run(RunSpec(m, forget, scenario, seed, attacks=attacks), ws,
                               trained=trained, progress=False)[0])
        except Exception as e:  # a method that fails must not cost the others their row
            print(f"  {scenario} {forget} {m}: FAILED {type(e).__name__}: {e}", file=sys.stderr)
            continue
        print(f"  {scenario} {forget} {m} done", file=sys.stderr, flush=True)
    return records


def print_attacks(title: str, records: list[dict[str, Any]], legend: str) -> None:
    header, rows = attack_rows(records)
    print(f"### {title}\n\n{legend}\n\n```\n{format_table(header, rows)}\n```\n")
    bad = not_surviving(records)
    print("- forgetting does not survive: " + ("; ".join(
        f"{m} ({', '.join(a)})" for m, a in bad.items()) or "every method survives") + "\n")


def gap(r: dict[str, Any], role: str = "unlearned") -> float:
    return float(r["metrics"]["Avg.Gap"][role])


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
    torch.set_num_threads(1)
    ws = Workspace(args.home or Path(tempfile.mkdtemp(prefix="obliviate-robust-")))
    parts, seed = args.parts.split(","), args.seed
    methods = args.methods.split(",")
    legend = ("forget accuracy %, before -> after the attack (the oracle after the same "
              "attack); ! = recovered (more than 10 points above the oracle after the attack, "
              "not before), - = never forgotten; U-LiRA accuracy % (ideal 50) and the "
              "challenge's F (ideal 1) from 4 unlearned and 4 retrained models")
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
                         *(f"{gap(r):.2f}" for r in recs)])
        print(f"### digits · Avg. Gap on a random vs the worst-case forget set · seed {seed}\n"
              f"\n```\n{format_table(['forget', 'original', *methods], rows)}\n```\n")
    if "seq" in parts:
        rows = []
        for m in methods:
            one = run(RunSpec(m, "random:0.1", "digits", seed), ws, progress=False)[0]
            seq = sequential(RunSpec(m, "random:0.1", "digits", seed), ws, 4, progress=False)
            rows.append([m, f"{gap(one):.2f}", *(f"{gap(r):.2f}" for r in seq)])
        print(f"### digits · random:0.1 in 4 sequential requests (Avg. Gap to the oracle of "
              f"everything forgotten so far) vs in one · seed {seed}\n\n```\n"
              f"{format_table(['method', 'one request', '1/4', '2/4', '3/4', '4/4'], rows)}"
              f"\n```\n")
    if "scale" in parts:
        sizes = ("0.02", "0.05", "0.1", "0.2")
        cols: dict[str, list[str]] = {m: [] for m in ["original", *methods]}
        for f in sizes:
            t = prepare(RunSpec(methods[0], f"random:{f}", "digits", seed), ws, progress=False)
            for m in methods:
                r = run(RunSpec(m, f"random:{f}", "digits", seed), ws, trained=t,
                        progress=False)[0]
                cols[m].append(f"{gap(r):.2f}")
            cols["original"].append(f"{gap(r, 'original'):.2f}")
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
