"""Signals of our own, sent through Scrapy's signal manager (``crawler.signals``)."""

# Sent with ``item=`` once an article's text file and manifest line are written.
text_file_written = object()

# Sent with ``exc=`` and ``path=`` by a writer that met a full disk (crawler.extensions.diskfull stops the crawl).
disk_full = object()
