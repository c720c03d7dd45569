"""The report's sweep of one build, with the noise cells split over worker processes.

LiteRT and TFLite Micro hold the GIL while they run, so threads do not help.
Each worker process opens the build's runtimes itself (interpreters cannot be
pickled) and runs :func:`drsn_edge.evaluate.compare_cells`, the same loop as
``evaluate``, on its share of the cells. Every cell's noise is seeded by the
cell, so the numbers do not depend on how the cells are split.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from drsn_edge.data.dataset import Windows
from drsn_edge.errors import DrsnError
from drsn_edge.evaluate import compare_cells, summarise, sweep_cells
from drsn_edge.predictor import Predictor
from drsn_edge.buildinfo import load_build_info
from quantize.report.inputs import build_predictors, evaluation_windows

CELLS_PER_TASK = 3
_OPENED: dict[str, tuple[list[Predictor], Windows]] = {}  # per worker process: build dir -> runtimes, windows


def _one_thread() -> None:
    """Workers already fill the cores; torch's own thread pool on top would oversubscribe them
    (measured here: a 40x slowdown when several two-thread torch processes share two cores)."""
    import torch

    torch.set_num_threads(1)


def _worker_rows(build_dir: str, opts, cells: list) -> list[dict]:
    if build_dir not in _OPENED:
        windows = evaluation_windows(opts, load_build_info(build_dir))
        _OPENED[build_dir] = (build_predictors(Path(build_dir), windows.x[:4])[0], windows)
    predictors, windows = _OPENED[build_dir]
    return compare_cells(predictors, windows, cells, opts.seed, progress=False, confusion=True)


def sweep_build(build_dir: Path, predictors: list[Predictor], windows: Windows, opts) -> dict:
    """:func:`drsn_edge.evaluate.compare` of the build's runtimes, in ``opts.workers`` processes."""
    cells = sweep_cells(opts.noise_types, opts.snrs_db)
    names = [p.name for p in predictors]
    if opts.workers <= 1 or len(cells) <= CELLS_PER_TASK:
        rows = compare_cells(predictors, windows, cells, opts.seed, opts.progress, confusion=True)
        return summarise(names, rows, opts.noise_types, opts.snrs_db)
    chunks = [cells[i:i + CELLS_PER_TASK] for i in range(0, len(cells), CELLS_PER_TASK)]
    parts: list[list[dict]] = [[] for _ in chunks]
    worker_opts = replace(opts, _windows={}, progress=False)
    context = multiprocessing.get_context("spawn")  # no fork after torch/TensorFlow threads started
    with ProcessPoolExecutor(opts.workers, mp_context=context, initializer=_one_thread) as pool, \
            tqdm(total=len(cells), desc=f"sweep {len(names)} runtimes in {opts.workers} processes",
                 unit="cell", disable=not opts.progress, leave=False) as bar:
        futures = {pool.submit(_worker_rows, str(build_dir), worker_opts, chunk): i for i, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            i = futures[future]
            parts[i] = future.result()
            bar.update(len(chunks[i]))
    rows = [row for part in parts for row in part]
    if any(list(row["accuracy"]) != names for row in rows):
        raise DrsnError(f"a worker opened different runtimes than {names}")
    return summarise(names, rows, opts.noise_types, opts.snrs_db)
