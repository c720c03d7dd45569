"""The command line: options, the read -> resample -> window -> classify -> print loop, exit codes."""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from contextlib import nullcontext
from typing import TextIO

from . import fleet, output
from .decide import Decider
import numpy as np

from .messages import PROG, RunnerError, SigtermGate, Terminated, Warnings
from .model import Model, load_config, unknown_score
from .readers import FORMATS, finite, samples
from .resample import Resampler
from .windows import Windower

DESCRIPTION = "drsn-runner: bearing condition from an accelerometer stream, one JSON line per window."
BUNDLE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where drsn_runner.py and config.json are


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are the runner's one ``error:`` line (the journal shows one line per problem)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{PROG}: error: {message} (see --help)\n")


def check_args(p: Parser, args: argparse.Namespace) -> None:
    """Refuse option values the stream loop would trip over later."""
    if args.hop is not None and args.hop < 1:
        p.error("--hop must be at least 1")
    if args.smooth < 1 or args.alert_after < 0:
        p.error("--smooth must be at least 1 and --alert-after at least 0")
    if not args.delimiter:
        p.error("--delimiter must not be empty")
    if not math.isfinite(args.scale) or args.scale == 0:
        p.error(f"--scale must be a finite, non-zero number, not {args.scale:g}")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    if args.max_windows is not None and args.max_windows < 1:
        p.error("--max-windows must be at least 1")
    if args.column is not None and args.column.startswith("-"):
        p.error(f"--column {args.column!r}: give a column index from 0 or a header name")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = Parser(prog=PROG, description=DESCRIPTION)
    p.add_argument("--config", default=os.path.join(BUNDLE_DIR, "config.json"), help="the bundle's config.json")
    p.add_argument("--input", default="-", help="file or FIFO to read; '-' is stdin (default)")
    p.add_argument("--format", default="text", choices=FORMATS,
                   help="text: one value per line; csv: --column of delimited lines; "
                        "int16/float32: raw little-endian; wav: a WAV file or stream")
    p.add_argument("--column", default=None, help="CSV column (index from 0, or header name); WAV channel index")
    p.add_argument("--delimiter", default=",")
    p.add_argument("--rate", type=float, default=None, help="sample rate of the stream in Hz (default: the model's)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every sample by this (e.g. counts -> g)")
    p.add_argument("--hop", type=int, default=None, help="samples (at the model's rate) between windows; default one window")
    p.add_argument("--smooth", type=int, default=1, help="majority vote over the last K windows")
    p.add_argument("--alert-after", type=int, default=0,
                   help="alert when one fault class wins this many windows in a row (0: off)")
    p.add_argument("--normal-class", default=None, help="the healthy class (default: from config)")
    p.add_argument("--kernels", default="reference", choices=("reference", "optimized"),
                   help="reference: LiteRT's reference kernels, identical to `drsn-edge evaluate`; "
                        "optimized: LiteRT's default (XNNPACK) kernels, several times faster, rounds differently")
    p.add_argument("--threads", type=int, default=None, help="interpreter threads")
    p.add_argument("--raw", action="store_true", help="also print the model's raw (int8) outputs")
    p.add_argument("--max-windows", type=int, default=None, help="stop after this many windows")
    fleet.add_options(p)
    args = p.parse_args(argv)
    check_args(p, args)
    if args.format == "csv" and args.column is None:
        args.column = "0"
    return args


class Tally:
    """Windows classified so far (read by the shutdown message, whatever ends the loop)."""

    windows = 0
    publisher = None  # the MQTT publisher, closed (outbox flushed) however the run ends


def run(args: argparse.Namespace, out: TextIO, warn: Warnings, tally: Tally, gate: SigtermGate | None = None) -> int:
    """Classify the stream; returns the number of windows."""
    config = load_config(args.config)
    model_path = os.path.join(os.path.dirname(os.path.abspath(args.config)), config["model"])
    model = Model(config, model_path, args.kernels == "reference", args.threads)
    if gate is not None:
        gate.arm()
    normal_name = args.normal_class or config.get("normal_class")
    if normal_name is not None and normal_name not in model.classes:
        raise RunnerError(f"normal class '{normal_name}' is not one of {', '.join(model.classes)}")
    normal = model.classes.index(normal_name) if normal_name is not None else None
    chunks, rate = samples(args, warn, model.sample_rate)
    resampler = Resampler(rate, model.sample_rate)
    windower = Windower(model.window_length, args.hop or model.window_length)
    decider = Decider(args.smooth, args.alert_after, normal)
    names = [*model.classes, output.UNKNOWN]  # decider indices -> names
    tally.publisher = pub = fleet.publisher(args, warn)
    alarms = fleet.AlarmWatch()
    n = 0
    for chunk in chunks:
        with np.errstate(over="ignore"):  # a huge sample times --scale is inf, dropped by finite()
            chunk = finite(chunk * args.scale if args.scale != 1.0 else chunk, warn)
        for start, window in windower.push(resampler.process(chunk)):
            began = time.perf_counter()
            result = model.classify(window)
            if result is None:
                warn("non-finite windows", f"window at sample {start} is non-finite after preprocessing "
                     "(samples too large?); refused, not classified")
                continue
            k, confidence, raw = result
            record = output.window_record(model, n, start, k, confidence, (time.perf_counter() - began) * 1000)
            if model.unknown_threshold is not None and output.mark_unknown(record, unknown_score(raw),
                                                                           model.unknown_threshold):
                k = len(model.classes)  # "unknown" votes and alerts like a class of its own
            if args.smooth > 1 or args.alert_after:
                smoothed, alert, onset = decider.update(k)
                output.add_decision(record, names, smoothed, alert, bool(args.alert_after))
                if onset:
                    output.announce_alert(names[alert], args.alert_after, record["time"])
            if args.raw:
                record["raw"] = raw.tolist()
            with gate.held() if gate is not None else nullcontext():
                output.write_line(out, record)
                n += 1
                tally.windows = n
            if pub is not None:
                pub.window(record)
                if args.alert_after:
                    alarms.update(pub, record["alert"], record["time"])
            if args.max_windows is not None and n >= args.max_windows:
                return n
    return n


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warn = Warnings()
    tally = Tally()
    gate = SigtermGate()  # systemd stop: say so and exit 143
    gate.install()
    try:
        if sys.stdout is None:  # started with stdout closed (>&-)
            raise RunnerError("stdout is closed; nowhere to write the results")
        n = run(args, sys.stdout, warn, tally, gate)
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not interrupt the outbox flush
        problems = warn.summary()
        sys.stderr.write(f"{PROG}: stopped by SIGTERM after {tally.windows} window(s)"
                         + (f"; {problems}" if problems else "") + "\n")
        return Terminated.EXIT_CODE
    except RunnerError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except BrokenPipeError:  # whoever read our output has gone: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        sys.stderr.write(f"{PROG}: output closed, stopping\n")
        return 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except OSError as exc:
        sys.stderr.write(f"{PROG}: error: input failed: {exc.strerror or exc}\n")
        return 2
    except RuntimeError as exc:  # the interpreter refused to run the model
        sys.stderr.write(f"{PROG}: error: inference failed: {str(exc).splitlines()[0] if str(exc) else exc}\n")
        return 2
    finally:
        if tally.publisher is not None:
            tally.publisher.close(warn)
    problems = warn.summary()
    sys.stderr.write(f"{PROG}: end of stream after {n} window(s)" + (f"; {problems}" if problems else "") + "\n")
    return 0
