"""``python -m crawler.archive check FILE...``: warcio's command line, decoding br with the installed brotli.

The ``warcio`` script fails on every br-encoded record (see ``crawler.archive.warcio_compat``); importing
``crawler.archive`` fixes its decoder first, then warcio's own ``main`` runs unchanged.
"""

import sys

from warcio.cli import main

sys.exit(main(sys.argv[1:]))
