"""`deconfound`: the engine's commands (jobs/cli.py) plus the service's (worker, api, up)."""
from __future__ import annotations

import sys

from jobs.cli import build_parser


def main(argv: list[str] | None = None) -> int:
    parser, sub = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
