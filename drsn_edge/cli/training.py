"""``train``, ``evaluate`` and ``adapt``: the commands that make, measure and adapt a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from drsn_edge.cli.args import DATA_HELP, csv, int_list, write_json
from drsn_edge.defaults import CHANNEL, WINDOW_LENGTH, field_default
from drsn_edge.errors import DrsnError


def cmd_train(args: argparse.Namespace) -> int:
    from drsn_edge.checkpoint import save_checkpoint
    from drsn_edge.data.noise import parse_noise_types, parse_snr
    from drsn_edge.data.spec import load_splits
    from drsn_edge.evaluate import condition_table, evaluate
    from drsn_edge.models import ModelConfig
    from drsn_edge.predictor import TorchPredictor
    from drsn_edge.preprocess import Preprocessing
    from drsn_edge.train import TrainConfig, train

    # settings first, so a typo fails before any data is read; train() takes the length from the data
    model_config = ModelConfig(
        arch=args.arch,
        in_length=args.window_length or WINDOW_LENGTH,
        widths=int_list(args.widths),
        units_per_stage=args.units_per_stage,
        kernel_size=args.kernel_size,
        shortcut=args.shortcut,
        stem_channels=args.stem_channels,
        stem_stride=args.stem_stride,
        stem_kernel_size=args.stem_kernel_size,
    )
    snr = parse_snr(args.snr)
    noise = [] if args.noise.strip().lower() == "none" else parse_noise_types(args.noise)
    cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        weight_decay=args.weight_decay, noise=noise, snr_db=snr if isinstance(snr, tuple) else (snr, snr),
        clean_fraction=args.clean_fraction, patience=args.patience, seed=args.seed, threads=args.threads,
        val_condition=args.val_condition, speed_jitter=args.speed_jitter, time_shift=args.time_shift,
        gain_db=args.gain_db,
    )
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise DrsnError(f"--out {out} is a directory; give a file name such as {out / 'model.pt'}")
    splits = load_splits(args.data, window_length=args.window_length or WINDOW_LENGTH, channel=args.channel)
    window_length = splits.train.window_length
    if args.window_length and window_length != args.window_length:
        raise DrsnError(f"data windows have {window_length} samples but --window-length is {args.window_length}")
    pre = Preprocessing(window_length=window_length, sample_rate=splits.train.sample_rate,
                        normalisation=args.normalisation)
    summary = data_summary(args.data, args.channel, splits, cfg.val_condition)
    ckpt = train(splits, model_config, cfg, pre, data_summary=summary, progress=not args.quiet)
    ckpt.training["name"] = args.name or (out.stem if out.stem != "model" else args.arch)
    test = evaluate(TorchPredictor(ckpt), splits.test)
    ckpt.metrics["test_accuracy"] = test["accuracy"]
    if "per_condition" in test:
        ckpt.metrics["test_accuracy_by_condition"] = {c: v["accuracy"] for c, v in test["per_condition"].items()}
    save_checkpoint(ckpt, out)
    held_out = f" (held-out condition {cfg.val_condition})" if cfg.val_condition else ""
    print(f"saved {out}: {ckpt.config.arch}, {ckpt.training['parameters']} parameters, "
          f"best epoch {ckpt.training['best_epoch']}/{ckpt.training['epochs_run']}, "
          f"val accuracy {ckpt.metrics['val_accuracy']:.4f}{held_out}, clean test accuracy {test['accuracy']:.4f}")
    if "per_condition" in test:
        print(condition_table(test))
    return 0


def data_summary(spec: str, channel: str, splits, val_condition: str) -> dict:
    """What the checkpoint records about its data. With a held-out validation condition, ``spec_resolved``
    names only the training conditions (what calibration and fine-tuning reload) and ``val_spec`` the other."""
    from drsn_edge.data.dataset import hold_out
    from drsn_edge.data.spec import describe, parse

    used = hold_out(splits, val_condition) if val_condition else splits
    resolved = parse(spec).resolved()
    summary = {"spec": spec, "spec_resolved": str(resolved), "channel": channel,
               "train": describe(used.train), "val": describe(used.val), "test": describe(used.test)}
    if val_condition:
        rest = tuple(c for c in splits.train.conditions if c != val_condition)
        summary.update(spec_resolved=str(resolved.with_conditions(rest)), val_condition=val_condition,
                       val_spec=str(resolved.with_conditions((val_condition,))))
    return summary


def cmd_evaluate(args: argparse.Namespace) -> int:
    from drsn_edge.data.noise import NOISE_TYPES, parse_snr
    from drsn_edge.data.spec import load_windows
    from drsn_edge.evaluate import condition_table, confusion_table, evaluate, sweep, sweep_table
    from drsn_edge.registry import load_predictor
    from drsn_edge.unknown import unknown_text

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
    if "unknown" in result:
        print("\n" + unknown_text(result["unknown"]))
    if "per_condition" in result:
        print("\naccuracy per operating condition:")
        print(condition_table(result))
    result.update({"model_path": str(args.model), "data": args.data, "split": args.split})
    if args.json:
        write_json(args.json, result)
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    from drsn_edge.adapt import AdaptConfig, adapt
    from drsn_edge.checkpoint import load_checkpoint, save_checkpoint
    from drsn_edge.data.spec import describe, load_windows, resolve_spec

    cfg = AdaptConfig(noise=args.noise, batch_size=args.batch_size, seed=args.seed, threads=args.threads)
    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise DrsnError(f"--out {out} is a directory; give a file name such as {out / 'adapted.pt'}")
    ckpt = load_checkpoint(args.model)
    pre = ckpt.preprocessing
    windows = load_windows(args.data, split=args.split, window_length=pre.window_length, channel=args.channel)
    if abs(windows.sample_rate - pre.sample_rate) > 1e-6:
        raise DrsnError(f"data is sampled at {windows.sample_rate:g} Hz but the model expects {pre.sample_rate:g} Hz")
    seen = describe(windows)
    source = {"spec": args.data, "spec_resolved": resolve_spec(args.data), "split": args.split,
              "channel": args.channel, "n": seen["n"], "condition_counts": seen["condition_counts"]}
    adapted = adapt(ckpt, windows.x, cfg, source)  # raw windows only: the labels never reach it
    adapted.training["name"] = args.name or f"{ckpt.name}-adabn"
    save_checkpoint(adapted, out)
    info = adapted.training["adaptation"]
    print(f"saved {out}: {info['batch_norms']} batch norms re-estimated on {info['windows']} unlabelled windows "
          f"of {args.data} ({args.split} split, noise: {cfg.noise}); every weight unchanged")
    return 0


ORDER = 0  # first in the command list


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from drsn_edge.adapt import AdaptConfig
    from drsn_edge.models import ARCHS, ModelConfig
    from drsn_edge.preprocess import Preprocessing
    from drsn_edge.train_config import TrainConfig

    def train_default(name: str):
        return field_default(TrainConfig, name)

    def model_default(name: str):
        return field_default(ModelConfig, name)

    p = sub.add_parser("train", help="train a model and save a self-describing checkpoint")
    p.add_argument("--data", default="synthetic", help=DATA_HELP)
    p.add_argument("--arch", default=model_default("arch"), help=f"one of {', '.join(ARCHS)}")
    p.add_argument("--epochs", type=int, default=train_default("epochs"))
    p.add_argument("--batch-size", type=int, default=train_default("batch_size"))
    p.add_argument("--lr", type=float, default=train_default("lr"))
    p.add_argument("--optimizer", default=train_default("optimizer"), help="adamw or sgd")
    p.add_argument("--weight-decay", type=float, default=train_default("weight_decay"))
    p.add_argument("--noise", default=csv(train_default("noise")), help="training noise mix, 'all' or 'none'")
    p.add_argument("--snr", default=csv(f"{v:g}" for v in train_default("snr_db")),
                   help="SNR range in dB drawn per window, LOW,HIGH")
    p.add_argument("--clean-fraction", type=float, default=train_default("clean_fraction"),
                   help="share of windows left clean each epoch")
    p.add_argument("--patience", type=int, default=train_default("patience"),
                   help="stop after this many epochs without improvement")
    p.add_argument("--val-condition", default=train_default("val_condition"), metavar="CONDITION",
                   help="choose the best epoch on this operating condition (e.g. 1hp), held out of training, "
                        "instead of the same-recording validation split")
    p.add_argument("--speed-jitter", type=float, default=train_default("speed_jitter"),
                   help="augmentation: read each training window at a rate uniform in 1 +- this (e.g. 0.04)")
    p.add_argument("--time-shift", type=float, default=train_default("time_shift"),
                   help="augmentation: start each training window up to this share of its length later")
    p.add_argument("--gain-db", type=float, default=train_default("gain_db"),
                   help="augmentation: random gain within +- this many dB (no effect with --normalisation window)")
    p.add_argument("--seed", type=int, default=train_default("seed"))
    p.add_argument("--threads", type=int, default=train_default("threads"), help="torch threads (0: default)")
    p.add_argument("--window-length", type=int, default=None,
                   help=f"samples per window (default {WINDOW_LENGTH}; an .npz brings its own)")
    p.add_argument("--channel", default=CHANNEL, help="CWRU channel: DE, FE or BA")
    p.add_argument("--normalisation", default=field_default(Preprocessing, "normalisation"),
                   help="window (per-window z-score), global or none")
    p.add_argument("--widths", default=csv(model_default("widths")), help="channels per stage")
    p.add_argument("--units-per-stage", type=int, default=model_default("units_per_stage"))
    p.add_argument("--kernel-size", type=int, default=model_default("kernel_size"))
    p.add_argument("--shortcut", default=model_default("shortcut"), help="pad (paper) or conv (1x1)")
    p.add_argument("--stem-channels", type=int, default=model_default("stem_channels"), help="filters of the first layer")
    p.add_argument("--stem-stride", type=int, default=model_default("stem_stride"))
    p.add_argument("--stem-kernel-size", type=int, default=model_default("stem_kernel_size"),
                   help="first-layer kernel (odd; default: --kernel-size); wide, e.g. 63, as in WDCNN")
    p.add_argument("--name", default=None, help="model name used by later tools")
    p.add_argument("--out", default="model.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix")
    p.add_argument("model", help="model file (.pt, or any runtime's model file)")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--split", default="test", help="train, val or test (an .npz is used whole)")
    p.add_argument("--noise", default=None, help="gaussian, laplacian or pink")
    p.add_argument("--snr", default=None, help="SNR in dB for --noise")
    p.add_argument("--sweep", action="store_true", help="every noise type at -5 ... 5 dB")
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--channel", default=CHANNEL)
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    def adapt_default(name: str):
        return field_default(AdaptConfig, name)

    p = sub.add_parser("adapt", help="AdaBN: re-estimate batch-norm statistics on unlabelled target-condition data")
    p.add_argument("model", help="checkpoint (.pt) to adapt")
    p.add_argument("--data", required=True, help=f"unlabelled windows of the target condition: {DATA_HELP}")
    p.add_argument("--split", default="train", help="train, val or test (an .npz: all)")
    p.add_argument("--noise", default=adapt_default("noise"),
                   help="train (add the model's training noise mix, as its statistics were learned) or none")
    p.add_argument("--batch-size", type=int, default=adapt_default("batch_size"))
    p.add_argument("--seed", type=int, default=adapt_default("seed"), help="noise draw and batch order")
    p.add_argument("--threads", type=int, default=adapt_default("threads"), help="torch threads (0: default)")
    p.add_argument("--channel", default=CHANNEL)
    p.add_argument("--name", default=None, help="model name used by later tools (default: NAME-adabn)")
    p.add_argument("--out", required=True, help="the adapted checkpoint")
    p.set_defaults(func=cmd_adapt)
