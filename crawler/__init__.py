"""presswarc: crawl the whole coverage of one news story into a WARC archive and clean article text files."""

__version__ = "0.1.0"
