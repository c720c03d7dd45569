"""``drsn-edge search``: budgets read from the boards, pruning before training, the Pareto front, and two
worker processes sharing one study on a real PostgreSQL server (started here), one of them killed mid-trial.

Trials are tiny (synthetic data, 256-sample windows, one epoch, 64 scored windows) so each takes seconds
to a minute; the costs are the real ones (the micro:bit image built and run in QEMU).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("psycopg2")

from drsn_edge.models import ModelConfig  # noqa: E402
from needs import unavailable  # noqa: E402
from search.budget import board_limits, estimate, prune_reason  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TINY = {"archs": ["drsn-cw", "resnet"], "stages": [2], "base_width": [2, 4], "growth": [2], "units_per_stage": [1],
        "kernel_size": [3], "stem_kernel_size": [3], "stem_stride": [2], "batch_size": [32], "window_length": [256]}
WIDE = {**TINY, "base_width": [64], "stages": [3], "window_length": [2048]}
FAST = ["--data", "synthetic", "--board", "microbit", "--epochs", "1", "--eval-limit", "64", "--measure-windows", "1"]
# the command through drsn-edge's own main(), registered as the entry point would (until the package is reinstalled)
RUN = ("import sys, drsn_edge.cli as c, search.cli as s\n"
       "found = c.command_modules\n"
       "c.command_modules = lambda: found() if any(m.__name__ == 'search.cli' for m in found()) else found() + [s]\n"
       "sys.exit(c.main(sys.argv[1:]))\n")


def search_command(*args: str) -> list[str]:
    return [sys.executable, "-c", RUN, "search", *args]


def run_search(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(search_command(*args), capture_output=True, text=True, timeout=timeout, env=env)


def write_space(path: Path, space: dict) -> str:
    path.write_text(json.dumps(space))
    return str(path)


def test_board_limits_come_from_the_linker_scripts() -> None:
    micro, f405 = board_limits("microbit"), board_limits("stm32f405")
    assert (micro.flash_bytes, micro.ram_bytes, micro.stack_bytes) == (262144, 16384, 4352)
    assert (f405.flash_bytes, f405.ram_bytes, f405.stack_bytes) == (1048576, 131072, 8192)


def test_paper_model_estimate_matches_the_linker_on_the_microbit() -> None:
    """The linker says the paper-size model is 15,720 B over the micro:bit's RAM (arena 10,240 B, a float window
    of 8,192 B, the ring and 4,352 B of stack)."""
    micro = board_limits("microbit")
    est = estimate(ModelConfig(), micro)
    assert est.parameters == 11358 and est.arena_bytes == 10240  # exact arena: 10,240
    assert est.arena_lower_bytes == 2048 + 4096  # the stem: 2,048 samples in, 4 x 1,024 out
    over = micro.excess(est.flash_bytes, est.static_ram_bytes)[1]
    assert abs(over - 15720) < 50
    assert "RAM" in prune_reason(est, micro)
    assert prune_reason(estimate(ModelConfig(in_length=256, widths=[4, 8], units_per_stage=1), micro), micro) is None


@pytest.mark.parametrize("args, message", [
    (["--board", "microbit", "--trials", "0"], "--trials must be at least 1"),
    (["--board", "microbit", "--trials", "2", "--storage", "redis://x"], "--storage must start with"),
    (["--board", "nope", "--trials", "2"], "unknown board 'nope'"),
    (["--board", "microbit", "--trials", "2", "--resume"], "no study to resume"),
    (["--board", "microbit", "--trials", "2", "--storage", "postgresql://u@127.0.0.1:1/db"],
     "cannot open the study storage"),
    (["--board", "microbit", "--trials", "2", "--data", "cwru:/nonexistent"], "error:"),
])
def test_bad_arguments_give_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_search("--data", "synthetic", "--out", str(tmp_path / "s"), *args, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], \
        done.stderr
    assert not (tmp_path / "s").exists()  # nothing written for a refused command


def test_too_small_a_board_prunes_before_training_and_is_deterministic(tmp_path: Path) -> None:
    """A 64-wide network on 2048-sample windows cannot fit 16 KB: pruned on the estimate, nothing trained;
    two worker processes (--workers 2) share the study; the same seed draws the same models."""
    space = write_space(tmp_path / "wide.json", WIDE)
    for name, workers in (("a", "2"), ("b", "1")):
        out = tmp_path / name
        done = run_search(*FAST, "--trials", "3", "--space", space, "--out", str(out), "--workers", workers,
                          "--seed", "5", timeout=300)
        assert done.returncode == 0, done.stderr
        study = optuna.load_study(study_name="drsn-search", storage=f"sqlite:///{out / 'study.db'}")
        trials = study.get_trials()
        # two workers that find the budget open at the same moment may each start one more (documented)
        assert 3 <= len(trials) <= 2 + int(workers)
        assert done.stdout.count("pruned before training: RAM at least") == len(trials)
        assert not (out / "trials").exists()  # no trial got as far as a folder, let alone training
        assert {t.state.name for t in trials} == {"PRUNED"}
        assert all(t.user_attrs["estimate"]["static_ram_bytes"] > 16384 for t in trials)
        front = json.loads((out / "front.json").read_text())
        assert front["front"] == [] and front["pruned_before_training"] == len(trials) and front["chosen"] is None
        assert all(t.user_attrs["worker"] for t in trials)
    again = run_search(*FAST, "--trials", "3", "--space", space, "--out", str(tmp_path / "c"), "--seed", "5",
                       timeout=300)
    study_b = optuna.load_study(study_name="drsn-search", storage=f"sqlite:///{tmp_path / 'b' / 'study.db'}")
    study_c = optuna.load_study(study_name="drsn-search", storage=f"sqlite:///{tmp_path / 'c' / 'study.db'}")
    assert again.returncode == 0
    assert [t.params for t in study_b.get_trials()] == [t.params for t in study_c.get_trials()]
    # joining a study with another budget is refused: its trials would not be comparable
    other = run_search(*FAST, "--board", "stm32f405", "--trials", "3", "--space", space, "--resume",
                       "--out", str(tmp_path / "c"), timeout=300)
    assert other.returncode == 2 and other.stderr.strip() == \
        "error: study 'drsn-search' was started with other board (board=microbit)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A throwaway PostgreSQL 15 server on a free port, sockets and data in a temporary directory.
    initdb and the server refuse to run as root, so as root they run as ``nobody``."""
    if not (PG_BIN / "initdb").is_file():
        unavailable("PostgreSQL 15 is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="drsn-pg-"))
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port, data = _free_port(), root / "data"

    def pg(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)

    pg(str(PG_BIN / "initdb"), "-D", str(data), "-U", "drsn", "--auth=trust", "-E", "UTF8")
    pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
       f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
    try:
        pg(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "drsn", "study")
        yield f"postgresql://drsn@127.0.0.1:{port}/study"
    finally:
        pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _dominated(row: dict, other: dict) -> bool:
    better_or_equal = (other["accuracy"] >= row["accuracy"] and other["instructions"] <= row["instructions"]
                       and other["ram_bytes"] <= row["ram_bytes"])
    strictly = (other["accuracy"] > row["accuracy"] or other["instructions"] < row["instructions"]
                or other["ram_bytes"] < row["ram_bytes"])
    return better_or_equal and strictly


def test_two_workers_share_a_postgres_study_and_a_killed_trial_is_retried(tmp_path: Path, postgres: str) -> None:
    space = write_space(tmp_path / "tiny.json", TINY)
    common = [*FAST, "--trials", "4", "--space", space, "--storage", postgres, "--heartbeat", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("one", "two")}
    one = subprocess.Popen(search_command(*common, "--out", str(tmp_path / "one")), env=env, stdout=logs["one"],
                           stderr=subprocess.STDOUT, start_new_session=True)
    storage = optuna.storages.RDBStorage(postgres.replace("postgresql://", "postgresql+psycopg2://"))
    deadline = time.time() + 300
    while time.time() < deadline and "drsn-search" not in [s.study_name for s in optuna.get_all_study_summaries(storage)]:
        time.sleep(1)
    two = subprocess.Popen(search_command(*common, "--resume", "--out", str(tmp_path / "two")), env=env,
                           stdout=logs["two"], stderr=subprocess.STDOUT, start_new_session=True)
    study = optuna.load_study(study_name="drsn-search", storage=storage)
    killed = None
    try:
        deadline = time.time() + 600
        while killed is None and time.time() < deadline:  # worker one: one trial done, the next one running
            trials = study.get_trials()
            mine = [t for t in trials if t.user_attrs.get("worker", "").endswith(f":{one.pid}")]
            running = [t for t in mine if t.state.name == "RUNNING" and "checkpoint" not in t.user_attrs]
            if any(t.state.name == "COMPLETE" for t in mine) and running:
                time.sleep(2)
                os.killpg(one.pid, signal.SIGKILL)
                killed = running[0].number
            time.sleep(0.5)
        assert killed is not None, (tmp_path / "one.log").read_text()
        assert two.wait(timeout=900) == 0, (tmp_path / "two.log").read_text()
    finally:
        for proc in (one, two):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        one.wait()
    trials = study.get_trials()
    by_number = {t.number: t for t in trials}
    assert by_number[killed].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retries) == 1 and retries[0].state.name in ("COMPLETE", "PRUNED")
    assert retries[0].params == by_number[killed].params
    counted = [t for t in trials if t.number != killed]
    assert len(counted) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in counted)
    workers = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in counted}
    assert workers == {str(one.pid), str(two.pid)}  # both workers ran trials of the one study
    # none ran twice: each trial's folder was claimed once (a second claim fails the trial)
    claims = sorted(p.parent.name for p in tmp_path.glob("*/trials/*/claimed"))
    assert len(claims) == len(set(claims)) == 5
    front = json.loads((tmp_path / "two" / "front.json").read_text())
    complete = front["complete"]
    assert {r["trial"] for r in front["front"]} == {r["trial"] for r in complete
                                                   if not any(_dominated(r, o) for o in complete)}
    for row in complete:
        assert 0 <= row["accuracy"] <= 1 and row["instructions"] > 1e5 and row["instructions_source"] == "qemu"
        assert row["ram_bytes"] == row["static_ram_bytes"] + 4352 <= 16384 and row["flash_bytes"] < 262144
        # pruning's lower bounds stay below the truth (the 3x estimate beside them is only reported)
        assert row["estimate"]["static_ram_lower_bytes"] <= row["static_ram_bytes"]
        assert row["estimate"]["arena_lower_bytes"] <= row["arena_bytes"]
    if front["chosen"] is not None and (tmp_path / "two" / "chosen.pt").is_file():
        from drsn_edge.checkpoint import load_checkpoint

        assert load_checkpoint(tmp_path / "two" / "chosen.pt").config.in_length == 256
    assert (tmp_path / "two" / "front.png").stat().st_size > 1000
