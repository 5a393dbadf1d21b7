"""Many runs: the cells of a grid (scenario x forget set x method x seed), run on a local
process pool or fanned out on a Ray cluster (DESIGN.md, "Scale").

Records are the checkpoints: a cell whose record is already in the store is not run again,
so a grid that was killed resumes where it stopped. ``cells`` expands and checks a grid,
``work`` is what a worker process runs, ``local`` and ``on_ray`` are the two executors and
``driver.run_grid`` ties them together.
"""

from obliviate.grid.cells import Cell, expand, parse_seeds
from obliviate.grid.driver import GridResult, cell_teller, run_grid

__all__ = ["Cell", "GridResult", "cell_teller", "expand", "parse_seeds", "run_grid"]
