"""Regenerates the model table in README.md from the registry.

python scripts/update_readme.py          # rewrite the table
python scripts/update_readme.py --check  # exit 1 if README.md is stale
"""

import argparse
import os
import sys

START, END = "<!-- models:start -->", "<!-- models:end -->"
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def render(text):
    from keras_archs.registry import markdown_table

    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    with open(README) as f:
        text = f.read()
    new = render(text)
    if args.check:
        if new != text:
            print("README.md model table is stale: run python scripts/update_readme.py")
            return 1
        return 0
    if new != text:
        with open(README, "w") as f:
            f.write(new)
        print("README.md model table updated")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
