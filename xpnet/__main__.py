"""``python -m xpnet``: the same as the ``xpnet`` command.

Ctrl-C while the command line is being imported prints one line and exits
with 130, as it does once a command runs. Python imports the ``xpnet``
package itself before this file runs: a Ctrl-C then is handled by
:mod:`xpnet._launch`, which the package imports first of all.
"""

import sys

try:
    from .cli import main
except KeyboardInterrupt:
    print("xpnet: interrupted.", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
