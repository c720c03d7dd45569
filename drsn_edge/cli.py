"""The ``drsn-edge`` command: one sub-command per stage of the pipeline.

Every user-fixable problem surfaces as one ``error: ...`` line and exit code 2;
tracebacks are reserved for bugs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable

from drsn_edge.errors import DrsnError

EXIT_USER_ERROR = 2


def _write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DrsnError(f"expected comma-separated integers, got '{text}'") from None


def cmd_train(args: argparse.Namespace) -> int:
    from drsn_edge.checkpoint import save_checkpoint
    from drsn_edge.data.noise import parse_noise_types, parse_snr
    from drsn_edge.data.spec import describe, load_splits, resolve_spec
    from drsn_edge.evaluate import evaluate
    from drsn_edge.models import ModelConfig
    from drsn_edge.predictor import TorchPredictor
    from drsn_edge.preprocess import Preprocessing
    from drsn_edge.train import TrainConfig, train

    # settings first, so a typo fails before any data is read; train() takes the length from the data
    model_config = ModelConfig(
        arch=args.arch,
        in_length=args.window_length or 2048,
        widths=_int_list(args.widths),
        units_per_stage=args.units_per_stage,
        kernel_size=args.kernel_size,
        shortcut=args.shortcut,
    )
    snr = parse_snr(args.snr)
    noise = [] if args.noise.strip().lower() == "none" else parse_noise_types(args.noise)
    cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        weight_decay=args.weight_decay, noise=noise, snr_db=snr if isinstance(snr, tuple) else (snr, snr),
        clean_fraction=args.clean_fraction, patience=args.patience, seed=args.seed, threads=args.threads,
    )
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise DrsnError(f"--out {out} is a directory; give a file name such as {out / 'model.pt'}")
    splits = load_splits(args.data, window_length=args.window_length or 2048, channel=args.channel)
    window_length = splits.train.window_length
    if args.window_length and window_length != args.window_length:
        raise DrsnError(f"data windows have {window_length} samples but --window-length is {args.window_length}")
    pre = Preprocessing(window_length=window_length, sample_rate=splits.train.sample_rate,
                        normalisation=args.normalisation)
    summary = {"spec": args.data, "spec_resolved": resolve_spec(args.data), "channel": args.channel, "train": describe(splits.train),
               "val": describe(splits.val), "test": describe(splits.test)}
    ckpt = train(splits, model_config, cfg, pre, data_summary=summary, progress=not args.quiet)
    ckpt.training["name"] = args.name or (out.stem if out.stem != "model" else args.arch)
    test = evaluate(TorchPredictor(ckpt), splits.test)
    ckpt.metrics["test_accuracy"] = test["accuracy"]
    save_checkpoint(ckpt, out)
    print(f"saved {out}: {ckpt.config.arch}, {ckpt.training['parameters']} parameters, "
          f"best epoch {ckpt.training['best_epoch']}/{ckpt.training['epochs_run']}, "
          f"val accuracy {ckpt.metrics['val_accuracy']:.4f}, clean test accuracy {test['accuracy']:.4f}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from drsn_edge.checkpoint import load_checkpoint, save_checkpoint
    from quantize.convert.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, calib_size=args.calib_size,
                         ranges=args.ranges, seed=args.seed)
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise DrsnError(f"--out {out} is a directory; give a file name such as {out / 'model_qat.pt'}")
    ckpt = load_checkpoint(args.model)
    tuned = finetune(ckpt, cfg, progress=not args.quiet)
    tuned.training["name"] = args.name or f"{ckpt.name}-qat"
    save_checkpoint(tuned, out)
    info = tuned.training["finetune"]
    print(f"saved {out}: quantisation-aware fine-tuning, best epoch {info['best_epoch']}/{info['epochs_run']}; "
          f"clean validation accuracy of the fake-quantised model {info['clean_val_accuracy_fakequant_before']:.4f}"
          f" -> {info['clean_val_accuracy_fakequant_after']:.4f}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from drsn_edge.data.noise import NOISE_TYPES, parse_snr
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import confusion_table, evaluate, sweep, sweep_table
    from drsn_edge.registry import load_predictor

    predictor = load_predictor(args.model)
    pre = predictor.preprocessing
    windows = load_windows(args.data, split=args.split, window_length=pre.window_length, channel=args.channel)
    if abs(windows.sample_rate - pre.sample_rate) > 1e-6:
        raise DrsnError(f"data is sampled at {windows.sample_rate:g} Hz but the model expects {pre.sample_rate:g} Hz")
    pre.check(windows.x[:1])  # wrong window length -> one clear line before any work
    if args.sweep:
        result = sweep(predictor, windows, seed=args.seed, progress=not args.quiet)
        result["accuracy"] = result["clean"]
        print(sweep_table(result))
    else:
        if args.noise and args.noise not in NOISE_TYPES:
            raise DrsnError(f"unknown noise type '{args.noise}' (choose from {', '.join(NOISE_TYPES)})")
        snr = parse_snr(args.snr) if args.snr is not None else None
        if isinstance(snr, tuple):
            raise DrsnError("evaluate takes a single SNR (use --sweep for a range)")
        if args.noise and snr is None:
            raise DrsnError("--noise needs --snr DB")
        result = evaluate(predictor, windows, args.noise, snr, seed=args.seed)
        cond = "clean" if not args.noise else f"{args.noise} noise at {snr:g} dB"
        print(f"{predictor.name}: accuracy {result['accuracy']:.4f} on {result['n']} windows ({cond})")
        print(confusion_table(result))
    result.update({"model_path": str(args.model), "data": args.data, "split": args.split})
    if args.json:
        _write_json(args.json, result)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from quantize.convert.pipeline import ConvertOptions, convert, summary_text

    from quantize.convert.ranges import RangeMethod

    opts = ConvertOptions(
        out=Path(args.out) if args.out else None, calib_spec=args.calib_data, calib_size=args.calib_size,
        ranges=RangeMethod.parse(args.ranges),
        val_size=args.val_size, seed=args.seed, per_tensor=args.per_tensor,
        int16_activations=args.int16_activations, force=args.force, tflm=not args.no_tflm,
        progress=not args.quiet,
    )
    out, results = convert(args.model, opts)
    print(summary_text(out, results))
    if args.report:
        spec = args.report_data or results.calibration.validation_spec
        run_report([str(out)], out / "report", spec, args)
    if args.strict and not results.passed:
        failed = sum(not c.passed for c in results.checks)
        print(f"error: --strict: {failed} validation check(s) failed (see {out / 'validation.json'})", file=sys.stderr)
        return 1
    return 0


def _snr_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DrsnError(f"expected comma-separated SNRs in dB, got '{text}'") from None


def run_report(build_dirs: list[str], out: str | Path, data: str, args: argparse.Namespace) -> Path:
    """Shared by `report` and `convert --report`."""
    from drsn_edge.data.noise import parse_noise_types
    from quantize.report import make_report
    from quantize.report.inputs import ReportOptions

    noise = () if args.report_noise.strip().lower() == "none" else tuple(parse_noise_types(args.report_noise))
    opts = ReportOptions(data=data, split=args.split, noise_types=noise, snrs_db=_snr_list(args.report_snr),
                         limit=args.limit, seed=args.noise_seed, channel=args.channel, workers=args.workers,
                         progress=not args.quiet)
    out, report = make_report(build_dirs, out, opts, force=args.force)
    print(report["verdict"])
    print(f"report: {Path(out) / 'report.html'}")
    return Path(out)


def _add_report_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """Report settings; ``convert --report`` takes them as --report-snr etc., beside its own --seed."""
    p.add_argument(f"--{prefix}split", dest="split", default="test", help="data split to evaluate on")
    p.add_argument(f"--{prefix}noise", dest="report_noise", default="all", help="noise types, 'all' or 'none'")
    p.add_argument(f"--{prefix}snr", dest="report_snr", default="-5,-4,-3,-2,-1,0,1,2,3,4,5",
                   help="SNRs in dB, comma-separated")
    p.add_argument(f"--{prefix}limit", dest="limit", type=int, default=None,
                   help="evaluate on this many evenly spaced windows only")
    p.add_argument(f"--{prefix}seed" if prefix else "--seed", dest="noise_seed", type=int, default=0,
                   help="noise seed (as evaluate --seed)")
    p.add_argument(f"--{prefix}channel", dest="channel", default="DE")
    p.add_argument(f"--{prefix}workers", dest="workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the sweep (default: up to 2)")


def cmd_report(args: argparse.Namespace) -> int:
    run_report([args.build_dir, *(args.models or [])], args.out, args.data, args)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from firmware_export.export import export

    out, summary = export(args.build_dir, args.target, args.out, force=args.force)
    print(f"exported {args.target} to {out}")
    for key, value in summary.items():
        print(f"  {key:<20} {value}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from firmware_export.c_engine.check import check_table, run_check

    result = run_check(args.fw_dir, args.data, split=args.split, limit=args.limit, runner=args.runner,
                       tflm=not args.no_tflm, channel=args.channel, progress=not args.quiet)
    print(check_table(result))
    if args.json:
        _write_json(args.json, result)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from firmware_export.pi.deploy import DeployOptions, deploy

    opts = DeployOptions(host=args.host, port=args.port, identity=args.identity, dest=args.dest, python=args.python,
                         install=not args.no_install, system_site_packages=args.system_site_packages,
                         known_hosts=args.known_hosts)
    summary = deploy(args.bundle, opts)
    print(f"deployed to {args.host}:{summary['dest']} ({summary['service']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from drsn_edge import __version__
    from drsn_edge.models import ARCHS

    parser = argparse.ArgumentParser(prog="drsn-edge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"drsn-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    data_help = "synthetic[:SEED] | cwru:DIR | npz:FILE"
    p = sub.add_parser("train", help="train a model and save a self-describing checkpoint")
    p.add_argument("--data", default="synthetic", help=data_help)
    p.add_argument("--arch", default="drsn-cw", help=f"one of {', '.join(ARCHS)}")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--optimizer", default="adamw", help="adamw or sgd")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--noise", default="gaussian,laplacian,pink", help="training noise mix, 'all' or 'none'")
    p.add_argument("--snr", default="-5,5", help="SNR range in dB drawn per window, LOW,HIGH")
    p.add_argument("--clean-fraction", type=float, default=0.2, help="share of windows left clean each epoch")
    p.add_argument("--patience", type=int, default=20, help="stop after this many epochs without improvement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--window-length", type=int, default=None,
                   help="samples per window (default 2048; an .npz brings its own)")
    p.add_argument("--channel", default="DE", help="CWRU channel: DE, FE or BA")
    p.add_argument("--normalisation", default="window", help="window (per-window z-score), global or none")
    p.add_argument("--widths", default="4,8,16", help="channels per stage")
    p.add_argument("--units-per-stage", type=int, default=4)
    p.add_argument("--kernel-size", type=int, default=3)
    p.add_argument("--shortcut", default="pad", help="pad (paper) or conv (1x1)")
    p.add_argument("--name", default=None, help="model name used by later tools")
    p.add_argument("--out", default="model.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("finetune", help="quantisation-aware fine-tuning of a checkpoint through an int8 mirror")
    p.add_argument("model", help="a drsn-edge checkpoint (.pt)")
    p.add_argument("--out", required=True, help="fine-tuned checkpoint (.pt)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--calib-size", type=int, default=256, help="windows the activation ranges are measured on")
    p.add_argument("--ranges", default="mse", help="activation range rule (as for convert)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix")
    p.add_argument("model", help="model file (.pt, or any runtime's model file)")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--split", default="test", help="train, val or test (an .npz is used whole)")
    p.add_argument("--noise", default=None, help="gaussian, laplacian or pink")
    p.add_argument("--snr", default=None, help="SNR in dB for --noise")
    p.add_argument("--sweep", action="store_true", help="every noise type at -5 ... 5 dB")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--channel", default="DE")
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("convert", help="PyTorch -> ONNX -> TFLite float32 and int8, validated against the float model")
    p.add_argument("model", help="a drsn-edge checkpoint (.pt)")
    p.add_argument("--out", default=None, help="build directory (default build/<model name>)")
    p.add_argument("--calib-data", default=None, help=f"calibration data ({data_help}; default: the training data)")
    p.add_argument("--calib-size", type=int, default=256, help="calibration windows")
    p.add_argument("--ranges", default="mse",
                   help="activation ranges: mse (default; least int8 error per tensor), minmax, mean-minmax, percentile:P")
    p.add_argument("--val-size", type=int, default=300, help="validation windows (each used clean and noisy)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weight scales")
    p.add_argument("--int16-activations", action="store_true", help="also build the int16x8 variant")
    p.add_argument("--no-tflm", action="store_true", help="skip the TensorFlow Lite Micro checks")
    p.add_argument("--strict", action="store_true", help="exit non-zero when a validation check fails")
    p.add_argument("--force", action="store_true", help="replace an existing build directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--report", action="store_true", help="then write the accuracy-vs-quantisation report to OUT/report")
    p.add_argument("--report-data", default=None, help="report data (default: the checkpoint's training data)")
    _add_report_options(p, "report-")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("report", help="accuracy vs quantisation for every runtime of a build: HTML, JSON, Markdown")
    p.add_argument("build_dir", help="a directory written by `drsn-edge convert`")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--models", nargs="+", default=None, help="more build directories to compare")
    p.add_argument("--out", default="report", help="output directory")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--quiet", action="store_true")
    _add_report_options(p)
    p.set_defaults(func=cmd_report)

    from firmware_export.export import TARGETS

    p = sub.add_parser("export", help="write what a device needs from a build directory")
    p.add_argument("build_dir", help="a directory written by `drsn-edge convert`")
    p.add_argument("--target", required=True, choices=sorted(TARGETS) or None,
                   help="; ".join(f"{name}: {what}" for name, (_, what) in sorted(TARGETS.items())))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=cmd_export)

    from firmware_export.c_engine.runner import runner_names

    p = sub.add_parser("run", help="build an exported C engine, run it on data and compare with LiteRT int8")
    p.add_argument("fw_dir", help="a directory written by `drsn-edge export BUILD --target c`")
    p.add_argument("--runner", default="host", choices=runner_names(), help="where the engine runs")
    p.add_argument("--data", required=True, help=data_help)
    p.add_argument("--split", default="test", help="train, val or test (an .npz is used whole)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many windows")
    p.add_argument("--channel", default="DE")
    p.add_argument("--no-tflm", action="store_true", help="skip the comparison with TensorFlow Lite Micro")
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("deploy", help="copy a Pi bundle over SSH, set it up, start it and check it answers")
    p.add_argument("bundle", help="a directory written by `drsn-edge export BUILD --target pi`")
    p.add_argument("--host", required=True, help="USER@HOST")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--identity", default=None, help="SSH private key")
    p.add_argument("--dest", default="drsn-edge", help="directory on the device (relative to its home)")
    p.add_argument("--python", default="python3", help="the device's Python that makes the venv")
    p.add_argument("--no-install", action="store_true", help="make the venv without pip installing the requirements")
    p.add_argument("--system-site-packages", action="store_true",
                   help="let the venv see the device's system packages (e.g. python3-numpy)")
    p.add_argument("--known-hosts", default=None, help="known_hosts file (default: ssh's own)")
    p.set_defaults(func=cmd_deploy)
    return parser


_NEGATIVE_LIST = re.compile(r"-\d+(\.\d+)?(,-?\d+(\.\d+)?)+")


def _attach_negative_values(argv: list[str]) -> list[str]:
    """Let ``--snr -5,5`` work: argparse takes a lone negative number as a value, but reads a
    negative *list* such as ``-5,5`` as an unknown option. Any ``--option`` followed by one is joined."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" not in token and i + 1 < len(argv) and _NEGATIVE_LIST.fullmatch(argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
        else:
            out.append(token)
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except DrsnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
