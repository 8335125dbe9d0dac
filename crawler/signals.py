"""Signals of our own, sent through Scrapy's signal manager (``crawler.signals``)."""

# Sent with ``item=`` once an article's text file and manifest line are written.
text_file_written = object()
