"""``python -m scrapy_wds.testing serve`` — see :mod:`scrapy_wds.testing._cli`."""

import sys

from scrapy_wds.testing._cli import main

if __name__ == "__main__":
    sys.exit(main())
