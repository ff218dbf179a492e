"""python -m transformer_edu.track init DIR | grade DIR | grade --reference (see __init__.py)."""
from __future__ import annotations

import argparse
import sys

from .grader import PACKAGE, grade, init


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transformer_edu.track",
                                     description="Write the Transformer yourself; the book's checks grade it.")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("init", help=f"write the skeleton package to DIR/{PACKAGE}")
    start.add_argument("directory")
    check = sub.add_parser("grade", help=f"grade DIR/{PACKAGE} part by part; exit status 0 once all pass")
    check.add_argument("directory", nargs="?")
    check.add_argument("--reference", action="store_true", help="grade the book's own package instead")
    check.add_argument("--no-capstone", action="store_true", help="skip the training run at the end")
    check.add_argument("--upto", type=int, metavar="N", help="only the parts built in chapters 1 to N")
    args = parser.parse_args(argv)
    if args.command == "init":
        try:
            target = init(args.directory)
        except ValueError as exc:
            parser.error(str(exc))
        print(f"wrote {target}: fill in the stubs, then run\n  python -m transformer_edu.track grade "
              f"{target.parent}")
        return 0
    if args.reference == (args.directory is not None):
        parser.error("grade takes a DIR, or --reference (not both)")
    try:
        results = grade(args.directory, reference_package=args.reference, with_capstone=not args.no_capstone,
                        upto=args.upto)
    except ValueError as exc:
        parser.error(str(exc))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
