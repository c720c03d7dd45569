"""The quantisation stage's commands: ``finetune`` (quantisation-aware), ``convert`` (a checkpoint into a
validated build directory) and ``report`` (builds into the accuracy-vs-quantisation report)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from drsn_edge.cli.args import DATA_HELP, csv, snr_list
from drsn_edge.defaults import field_default
from drsn_edge.errors import DrsnError


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


def cmd_convert(args: argparse.Namespace) -> int:
    from drsn_edge.buildinfo import load_build_info
    from quantize.convert.pipeline import ConvertOptions, convert, summary_text
    from quantize.convert.ranges import RangeMethod

    opts = ConvertOptions(
        out=Path(args.out) if args.out else None, calib_spec=args.calib_data, calib_size=args.calib_size,
        ranges=RangeMethod.parse(args.ranges),
        val_size=args.val_size, seed=args.seed, per_tensor=args.per_tensor,
        int16_activations=args.int16_activations, force=args.force, tflm=not args.no_tflm,
        unknown_rate=args.unknown_rate, progress=not args.quiet,
    )
    out, results = convert(args.model, opts)
    print(summary_text(out, results))
    rule = load_build_info(out).unknown
    print(f"  unknown              margin < {rule.threshold} LSB ({rule.threshold * rule.scale:.3f} in logits): "
          f"{100 * rule.rate:.1f} % of the {rule.windows} validation windows flagged")
    if args.report:
        spec = args.report_data or results.calibration.validation_spec
        run_report([str(out)], out / "report", spec, args)
    if args.strict and not results.passed:
        failed = sum(not c.passed for c in results.checks)
        print(f"error: --strict: {failed} validation check(s) failed (see {out / 'validation.json'})", file=sys.stderr)
        return 1
    return 0


def run_report(build_dirs: list[str], out: str | Path, data: str, args: argparse.Namespace,
               devices: tuple[str, ...] = ()) -> Path:
    """Shared by `report` and `convert --report`."""
    from drsn_edge.data.noise import parse_noise_types
    from quantize.report import make_report
    from quantize.report.inputs import ReportOptions

    noise = () if args.report_noise.strip().lower() == "none" else tuple(parse_noise_types(args.report_noise))
    opts = ReportOptions(data=data, split=args.split, noise_types=noise, snrs_db=snr_list(args.report_snr),
                         limit=args.limit, seed=args.noise_seed, channel=args.channel, workers=args.workers,
                         progress=not args.quiet, devices=devices)
    out, report = make_report(build_dirs, out, opts, force=args.force)
    print(report["verdict"])
    print(f"report: {Path(out) / 'report.html'}")
    return Path(out)


def cmd_report(args: argparse.Namespace) -> int:
    run_report([args.build_dir, *(args.models or [])], args.out, args.data, args, tuple(args.device or ()))
    return 0


def _add_report_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """Report settings; ``convert --report`` takes them as --report-snr etc., beside its own --seed."""
    from quantize.report.inputs import ReportOptions

    def default(name: str):
        return field_default(ReportOptions, name)

    p.add_argument(f"--{prefix}split", dest="split", default=default("split"), help="data split to evaluate on")
    p.add_argument(f"--{prefix}noise", dest="report_noise", default="all", help="noise types, 'all' or 'none'")
    p.add_argument(f"--{prefix}snr", dest="report_snr", default=csv(f"{v:g}" for v in default("snrs_db")),
                   help="SNRs in dB, comma-separated")
    p.add_argument(f"--{prefix}limit", dest="limit", type=int, default=default("limit"),
                   help="evaluate on this many evenly spaced windows only")
    p.add_argument(f"--{prefix}seed" if prefix else "--seed", dest="noise_seed", type=int, default=default("seed"),
                   help="noise seed (as evaluate --seed)")
    p.add_argument(f"--{prefix}channel", dest="channel", default=default("channel"))
    # the command line uses both cores when there are two; the library default stays one process
    p.add_argument(f"--{prefix}workers", dest="workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the sweep (default: up to 2)")


ORDER = 10


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from quantize.convert.finetune import FinetuneConfig
    from quantize.convert.pipeline import ConvertOptions

    p = sub.add_parser("finetune", help="quantisation-aware fine-tuning of a checkpoint through an int8 mirror")
    p.add_argument("model", help="a drsn-edge checkpoint (.pt)")
    p.add_argument("--out", required=True, help="fine-tuned checkpoint (.pt)")
    p.add_argument("--epochs", type=int, default=field_default(FinetuneConfig, "epochs"))
    p.add_argument("--lr", type=float, default=field_default(FinetuneConfig, "lr"))
    p.add_argument("--batch-size", type=int, default=field_default(FinetuneConfig, "batch_size"))
    p.add_argument("--calib-size", type=int, default=field_default(FinetuneConfig, "calib_size"),
                   help="windows the activation ranges are measured on")
    p.add_argument("--ranges", default=field_default(FinetuneConfig, "ranges"),
                   help="activation range rule (as for convert)")
    p.add_argument("--seed", type=int, default=field_default(FinetuneConfig, "seed"))
    p.add_argument("--name", default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_finetune)

    def default(name: str):
        return field_default(ConvertOptions, name)

    p = sub.add_parser("convert", help="PyTorch -> ONNX -> TFLite float32 and int8, validated against the float model")
    p.add_argument("model", help="a drsn-edge checkpoint (.pt)")
    p.add_argument("--out", default=None, help="build directory (default build/<model name>)")
    p.add_argument("--calib-data", default=None, help=f"calibration data ({DATA_HELP}; default: the training data)")
    p.add_argument("--calib-size", type=int, default=default("calib_size"), help="calibration windows")
    p.add_argument("--ranges", default=str(default("ranges")),
                   help="activation ranges: mse (default; least int8 error per tensor), minmax, mean-minmax, percentile:P")
    p.add_argument("--val-size", type=int, default=default("val_size"),
                   help="validation windows (each used clean and noisy)")
    p.add_argument("--seed", type=int, default=default("seed"))
    p.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel weight scales")
    p.add_argument("--int16-activations", action="store_true", help="also build the int16x8 variant")
    p.add_argument("--no-tflm", action="store_true", help="skip the TensorFlow Lite Micro checks")
    p.add_argument("--unknown-rate", type=float, default=default("unknown_rate"),
                   help="share of the validation windows (training condition, clean and noisy) the 'unknown' "
                        "threshold may flag; 0 answers every window")
    p.add_argument("--strict", action="store_true", help="exit non-zero when a validation check fails")
    p.add_argument("--force", action="store_true", help="replace an existing build directory")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--report", action="store_true", help="then write the accuracy-vs-quantisation report to OUT/report")
    p.add_argument("--report-data", default=None, help="report data (default: the checkpoint's training data)")
    _add_report_options(p, "report-")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("report", help="accuracy vs quantisation for every runtime of a build: HTML, JSON, Markdown")
    p.add_argument("build_dir", help="a directory written by `drsn-edge convert`")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--models", nargs="+", default=None, help="more build directories to compare")
    p.add_argument("--out", default="report", help="output directory")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--device", action="append", default=None, metavar="RESULT.json",
                   help="a `validate-device --json` result, shown as a 'device (BOARD)' runtime (repeatable)")
    p.add_argument("--quiet", action="store_true")
    _add_report_options(p)
    p.set_defaults(func=cmd_report)
