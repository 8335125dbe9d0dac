"""The garbage-collector thresholds are set for the crawl and given back after it."""

from __future__ import annotations

import gc

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions.gctuning import GcTuning


def test_thresholds_hold_during_the_crawl_and_are_restored():
    before = gc.get_threshold()
    extension = GcTuning.from_crawler(get_crawler(settings_dict={"GCTUNING_THRESHOLD": [12345, 7, 9]}))
    try:
        assert gc.get_threshold() == (12345, 7, 9)  # already for the rest of start-up
        extension.engine_started()
        assert gc.get_threshold() == (12345, 7, 9)
        assert gc.get_freeze_count() > 0
    finally:
        extension.spider_closed(None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_empty_setting_keeps_python_defaults_and_bad_values_are_refused():
    with pytest.raises(NotConfigured):
        GcTuning.from_crawler(get_crawler(settings_dict={"GCTUNING_THRESHOLD": []}))
    with pytest.raises(ValueError, match="GCTUNING_THRESHOLD"):
        GcTuning.from_crawler(get_crawler(settings_dict={"GCTUNING_THRESHOLD": ["many"]}))
    with pytest.raises(ValueError, match="GCTUNING_THRESHOLD"):
        GcTuning.from_crawler(get_crawler(settings_dict={"GCTUNING_THRESHOLD": [1, 2, 3, 4]}))
