"""The device stage's commands: ``export``, ``run`` and ``deploy``: a build directory onto devices, and the
device's answers checked."""
from __future__ import annotations

import argparse

from drsn_edge.cli.args import DATA_HELP, write_json
from drsn_edge.defaults import CHANNEL, field_default


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
                       tflm=not args.no_tflm, channel=args.channel, progress=not args.quiet, profile=args.profile)
    print(check_table(result))
    if args.json:
        write_json(args.json, result)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from firmware_export.pi.deploy import DeployOptions, deploy

    opts = DeployOptions(host=args.host, port=args.port, identity=args.identity, dest=args.dest, python=args.python,
                         install=not args.no_install, system_site_packages=args.system_site_packages,
                         known_hosts=args.known_hosts)
    summary = deploy(args.bundle, opts)
    print(f"deployed to {args.host}:{summary['dest']} ({summary['service']})")
    return 0


ORDER = 20


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from firmware_export.c_engine.runner import runner_names
    from firmware_export.device import cli as device_cli
    from firmware_export.export import TARGETS
    from firmware_export.pi.deploy import DeployOptions

    p = sub.add_parser("export", help="write what a device needs from a build directory")
    p.add_argument("build_dir", help="a directory written by `drsn-edge convert`")
    p.add_argument("--target", required=True, choices=sorted(TARGETS) or None,
                   help="; ".join(f"{name}: {what}" for name, (_, what) in sorted(TARGETS.items())))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="build an exported C engine, run it on data and compare with LiteRT int8")
    p.add_argument("fw_dir", help="a directory written by `drsn-edge export BUILD --target c`")
    p.add_argument("--runner", default="host", choices=runner_names(), help="where the engine runs")
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--split", default="test", help="train, val or test (an .npz is used whole)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many windows")
    p.add_argument("--channel", default=CHANNEL)
    p.add_argument("--no-tflm", action="store_true", help="skip the comparison with TensorFlow Lite Micro")
    p.add_argument("--profile", action="store_true",
                   help="time each op on the device and print instructions per op type (board runners)")
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("deploy", help="copy a Pi bundle over SSH, set it up, start it and check it answers")
    p.add_argument("bundle", help="a directory written by `drsn-edge export BUILD --target pi`")
    p.add_argument("--host", required=True, help="USER@HOST")
    p.add_argument("--port", type=int, default=field_default(DeployOptions, "port"))
    p.add_argument("--identity", default=None, help="SSH private key")
    p.add_argument("--dest", default=field_default(DeployOptions, "dest"),
                   help="directory on the device (relative to its home)")
    p.add_argument("--python", default=field_default(DeployOptions, "python"),
                   help="the device's Python that makes the venv")
    p.add_argument("--no-install", action="store_true", help="make the venv without pip installing the requirements")
    p.add_argument("--system-site-packages", action="store_true",
                   help="let the venv see the device's system packages (e.g. python3-numpy)")
    p.add_argument("--known-hosts", default=None, help="known_hosts file (default: ssh's own)")
    p.set_defaults(func=cmd_deploy)

    device_cli.add_parsers(sub)
