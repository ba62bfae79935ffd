"""Command-line flags for the emulator's faults, shared by ``local.emulator`` and ``local.stack``."""

import argparse

from local.emulator.faults import STREAM_ERROR_TYPES, Faults


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the fault-injection flags (all off by default) to ``parser``."""
    faults = parser.add_argument_group("fault injection (SageMaker-runtime emulator)")
    faults.add_argument("--throttle", type=int, default=0, metavar="N", help="throttle the next N requests")
    faults.add_argument(
        "--throttle-after",
        type=int,
        default=0,
        metavar="N",
        help="let N requests through before --throttle starts (default: %(default)s)",
    )
    faults.add_argument(
        "--stream-error-after-bytes",
        type=int,
        metavar="K",
        help="end every stream with an error event after K payload bytes",
    )
    faults.add_argument(
        "--stream-error-type",
        choices=STREAM_ERROR_TYPES,
        default="ModelStreamError",
        help="the error event sent by --stream-error-after-bytes (default: %(default)s)",
    )
    faults.add_argument(
        "--first-byte-delay", type=float, default=0.0, metavar="S", help="wait S seconds before answering"
    )
    faults.add_argument(
        "--part-delay", type=float, default=0.0, metavar="S", help="wait S seconds between stream parts"
    )
    faults.add_argument(
        "--split-every", type=int, metavar="N", help="cut every stream part into pieces of N bytes"
    )


def faults_from_arguments(args: argparse.Namespace) -> Faults:
    """Return the ``Faults`` the parsed flags ask for (``ValueError`` naming a bad value)."""
    return Faults(
        throttle_requests=args.throttle,
        throttle_after_requests=args.throttle_after,
        stream_error_after_bytes=args.stream_error_after_bytes,
        stream_error_type=args.stream_error_type,
        first_byte_delay=args.first_byte_delay,
        part_delay=args.part_delay,
        split_every=args.split_every,
    )
