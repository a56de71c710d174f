"""``python -m xpnet.book run SCRIPT``: the same as ``xpnet book run SCRIPT``."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["book", *sys.argv[1:]]))
