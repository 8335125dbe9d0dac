"""Parts of the coverage report that live apart from ``crawler.report`` (each gathers its data and renders it)."""
