"""`python -m local.tiny_model OUT_DIR`: build the tiny model directory."""

import argparse
import sys
from pathlib import Path

from local.tiny_model.builder import build


def main(argv: list[str] | None = None) -> int:
    """Build the model into the directory given on the command line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m local.tiny_model",
        description="Build the deterministic tiny Llama model (no network).",
    )
    parser.add_argument(
        "out_dir", type=Path, help="directory to write the model files into (created if missing)"
    )
    args = parser.parse_args(argv)
    try:
        out_dir = build(args.out_dir)
    except OSError as error:
        print(f"error: cannot write the tiny model to {args.out_dir}: {error}", file=sys.stderr)
        return 1
    print(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
