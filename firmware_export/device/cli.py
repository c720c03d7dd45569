"""The device commands (``flash``, ``monitor``, ``validate-device``), added by :mod:`firmware_export.cli`."""
from __future__ import annotations

import argparse
import json
import sys

from drsn_edge.defaults import field_default


def cmd_monitor(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from firmware_export.device.fleet import Forwarder
    from firmware_export.device.link import Link
    from firmware_export.device.monitor import MonitorOptions, stream, write_lines
    from firmware_export.device.recording import read_recording

    samples = None
    if args.send:
        samples, _ = read_recording(args.send, args.format, column=args.column, scale=args.scale)
    opts = MonitorOptions(hop=args.hop, smooth=args.smooth, alert_after=args.alert_after,
                          clear_after=args.clear_after, speed=args.speed, raw=not args.no_raw,
                          duration=args.duration, timeout=args.timeout)
    forward = Forwarder(args)  # --mqtt: connected (or queuing in the outbox) before the first line
    out = open(args.json, "w") if args.json else None
    bar = tqdm(desc="windows", unit="win", disable=args.quiet or not sys.stderr.isatty())

    def on_line(record: dict) -> None:
        tqdm.write(json.dumps(record))
        if out:
            write_lines(out, record)
        forward.window(record)

    try:
        with Link(args.port, timeout=args.timeout) as link:
            result = stream(link, samples, opts, on_line, progress=bar.update)
    finally:
        bar.close()
        forward.close()
        if out:
            out.close()
    hello, status = result["hello"], result["status"]
    print(f"{hello['board']} ({hello['model']}, timer {hello['timer']}): {status['windows']} windows, "
          f"{status['samples']} samples; bad lines {status['bad_lines']}, NaN/Inf {status['non_finite']}, "
          f"overruns {status['overruns']}, UART errors {status['uart_errors']}", file=sys.stderr)
    return 0


def cmd_flash(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from firmware_export.c_engine.target import load_fw_info
    from firmware_export.device import flash, image

    board = image.monitor_board(args.board)
    fw = load_fw_info(args.fw_dir)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="drsn-flash-"))
    print(f"building the {board.name} monitor firmware ...", file=sys.stderr)
    images = image.build(args.fw_dir, board.name, out)
    sizes = image.size(images["elf"])
    print(f"image: {', '.join(str(p) for p in images.values())} (flash {sizes['flash_bytes']:,} bytes, "
          f"static RAM {sizes['static_ram_bytes']:,} bytes)")
    if args.probe == "qemu":
        flash.boot(board, images["elf"], fw.get("model_id"), print, serve=args.serve, port=args.port)
    else:
        flash.flash(board, images, args.probe, print)
        print(f"flashed {board.name} with {args.probe}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from drsn_edge.cli.args import write_json
    from firmware_export.device.validate import validate_device, validate_table

    result = validate_device(args.fw_dir, args.board, args.data, port=args.port, split=args.split, limit=args.limit,
                             channel=args.channel, timeout=args.timeout, progress=not args.quiet)
    print(validate_table(result))
    if args.json:
        write_json(args.json, result)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from drsn_edge.cli.args import DATA_HELP
    from drsn_edge.defaults import CHANNEL
    from firmware_export.boards import BOARDS
    from firmware_export.device.fleet import add_options as add_fleet_options
    from firmware_export.device.flash import PROBES
    from firmware_export.device.link import DEFAULT_TIMEOUT
    from firmware_export.device.monitor import MonitorOptions
    from firmware_export.device.recording import FORMATS

    p = sub.add_parser("monitor", help="talk to the monitoring firmware on a serial port: stream a recording, "
                                       "print the device's JSON lines")
    p.add_argument("port", help="serial device (/dev/ttyACM0), pty, or socket://HOST:PORT")
    p.add_argument("--send", default=None, help="a recording to stream to the device")
    p.add_argument("--format", default="float32", choices=FORMATS, help="the recording's format (as the Pi runner)")
    p.add_argument("--column", type=int, default=None, help="CSV column / WAV channel (from 0)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every sample by this (e.g. counts -> g)")
    p.add_argument("--speed", type=float, default=field_default(MonitorOptions, "speed"),
                   help="send at this multiple of the model's sample rate; 0: lockstep (each hop waits for its "
                        "window: as fast as the device classifies)")
    p.add_argument("--hop", type=int, default=field_default(MonitorOptions, "hop"),
                   help="samples between windows (default: one window)")
    p.add_argument("--smooth", type=int, default=field_default(MonitorOptions, "smooth"),
                   help="majority vote over the last K windows")
    p.add_argument("--alert-after", type=int, default=field_default(MonitorOptions, "alert_after"),
                   help="raise an alarm after N windows of one fault class (0: off)")
    p.add_argument("--clear-after", type=int, default=field_default(MonitorOptions, "clear_after"),
                   help="clear it after M normal windows")
    p.add_argument("--no-raw", action="store_true", help="the device leaves out its int8 logits")
    p.add_argument("--duration", type=float, default=None, help="without --send: listen this many seconds")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the device")
    p.add_argument("--json", default=None, help="also write the window lines here (JSON lines)")
    p.add_argument("--quiet", action="store_true")
    add_fleet_options(p)  # --mqtt URL and the rest: the Pi runner's options, topics and schema
    p.set_defaults(func=cmd_monitor)

    boards = sorted(name for name, board in BOARDS.items() if board.monitor)
    p = sub.add_parser("flash", help="build the monitoring firmware for a board and flash it (or boot it in QEMU)")
    p.add_argument("fw_dir", help="a directory written by `drsn-edge export BUILD --target c`")
    p.add_argument("--board", required=True, choices=boards)
    p.add_argument("--probe", default="qemu", choices=PROBES,
                   help="openocd / pyocd / st-flash: the tool that writes the chip (its command is printed); "
                        "qemu: boot the same image in the emulator and check it answers")
    p.add_argument("--out", default=None, help="keep app.elf/.bin/.hex here (default: a temporary directory)")
    p.add_argument("--serve", action="store_true", help="qemu: keep running (UART on a TCP socket) until Ctrl-C")
    p.add_argument("--port", type=int, default=None, help="qemu: the TCP port of the UART (default: a free one)")
    p.set_defaults(func=cmd_flash)

    p = sub.add_parser("validate-device", help="stream the data's windows to the monitoring firmware; bit-exactness "
                                               "vs LiteRT int8, agreement vs float, on-device instructions/cycles")
    p.add_argument("fw_dir", help="a directory written by `drsn-edge export BUILD --target c`")
    p.add_argument("--board", required=True, choices=boards)
    p.add_argument("--data", required=True, help=DATA_HELP)
    p.add_argument("--port", default=None, help="the board's serial port (default: boot the image in QEMU)")
    p.add_argument("--split", default="test", help="train, val or test (an .npz is used whole)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many windows")
    p.add_argument("--channel", default=CHANNEL)
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for each window")
    p.add_argument("--json", default=None, help="write the full result here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_validate)
