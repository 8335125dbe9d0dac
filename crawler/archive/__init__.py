from crawler.archive import warcio_compat  # noqa: F401 - warcio decodes br with the installed brotli
