"""Capture order: replaying a crawl's WARC files gives its text files byte for byte, names included."""

from __future__ import annotations

import json

from tests.support.crawl import crawl
from tests.support.sites import SiteServer
from tests.support.newsroom import build_newsroom
from tests.support.processes import FAST


def snapshot(topic_dir) -> tuple[dict[str, bytes], list[dict]]:
    texts = {p.name: p.read_bytes() for p in sorted((topic_dir / "text").iterdir())}
    manifest = [json.loads(line) for line in (topic_dir / "manifest.jsonl").read_text().splitlines()]
    return texts, manifest


def test_replay_reproduces_text_files_and_manifest_of_a_multi_outlet_crawl(tmp_path):
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=5, per_month=4)
        crawl("coverage", tmp_path / "live", spider_args={"topic": str(room.topic_file)},
              settings={**FAST, "EXTRACT_WORKERS": "2", "CONCURRENT_REQUESTS_PER_DOMAIN": "4"},
              env={"http_proxy": site.proxy_url})
    live = snapshot(tmp_path / "live" / "newsroom")
    assert len(live[0]) == len(room.expected)
    for workers in ("2", "0"):
        out = tmp_path / f"replay-{workers}"
        crawl("coverage", out, spider_args={"topic": str(room.topic_file)},
              settings={**FAST, "EXTRACT_WORKERS": workers, "REPLAY_FROM": str(tmp_path / "live" / "newsroom" / "warc")})
        replayed = snapshot(out / "newsroom")
        assert replayed[0] == live[0], f"text files differ (EXTRACT_WORKERS={workers})"
        # the same lines, but pointing at the replay's own copies of the records (crawler/archive/replay/copy.py)
        copies = {path.name for path in (out / "newsroom" / "warc").glob("*.warc.gz")}
        assert {entry["warc_file"] for entry in replayed[1]} <= copies
        assert ([{**e, "warc_file": None} for e in replayed[1]] == [{**e, "warc_file": None} for e in live[1]]), \
            f"manifest differs (EXTRACT_WORKERS={workers})"


def test_the_bundled_example_numbers_its_files_the_same_whatever_the_workers(tmp_path):
    from tests.support.crawl import REPO

    example = REPO / "examples" / "lavrov-afghanistan"
    outputs = []
    for workers in ("2", "0"):
        out = tmp_path / f"out-{workers}"
        crawl("coverage", out, spider_args={"topic": str(example / "topic.toml")},
              settings={"EXTRACT_WORKERS": workers, "REPLAY_FROM": str(example / "example.warc.gz")})
        outputs.append(snapshot(out / "lavrov-afghanistan"))
    assert len(outputs[0][0]) == 7  # six articles and the later version of one (the example's second run)
    assert outputs[0][0] == outputs[1][0]
    # each run points at its own copy of the records
    assert [{**e, "warc_file": None} for e in outputs[0][1]] == [{**e, "warc_file": None} for e in outputs[1][1]]


def test_a_replay_of_more_articles_than_the_scraper_slot_holds_finishes(tmp_path):
    """A replay holds its articles until nothing else can arrive; Scrapy counts each held article's response
    against the scraper's 5 MB slot and stops downloading past it. 150 pages of 60 KB (9 MB; more than a replay downloads at once) must all come out."""
    from tests.support.sites import Reply, article_page, robots_txt, rss_feed

    host = "http://www.heavy.test"
    urls = [f"{host}/news/lavrov-{n}" for n in range(150)]
    (tmp_path / "topic.toml").write_text(f'name = "heavy"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Heavy"\n'
                                         f'url = "{host}/"\nfeeds = ["{host}/feed.xml"]\n')
    with SiteServer() as site:
        site.route(f"{host}/robots.txt", robots_txt())
        site.route(f"{host}/", "<html><body>home</body></html>")
        site.route(f"{host}/feed.xml", Reply(body=rss_feed("Heavy", [{"url": u, "title": f"Lavrov {n}"}
                                                                      for n, u in enumerate(urls)]),
                                             headers=[("Content-Type", "application/rss+xml")]))
        for n, url in enumerate(urls):
            page = article_page(f"Lavrov story {n}", [f"Story {n}: Sergei Lavrov spoke in Tashkent about Kabul.",
                                                      "He said the American mission in Afghanistan had failed."],
                                published="2021-07-16")
            site.route(url, page.replace("</body>", f"<!-- {'x' * 60_000} --></body>"))
        crawl("coverage", tmp_path / "live", spider_args={"topic": str(tmp_path / "topic.toml")},
              settings={**FAST, "EXTRACT_WORKERS": "0"}, env={"http_proxy": site.proxy_url})
    assert len(list((tmp_path / "live" / "heavy" / "text").iterdir())) == 150
    crawl("coverage", tmp_path / "replay", spider_args={"topic": str(tmp_path / "topic.toml")},
          settings={**FAST, "EXTRACT_WORKERS": "2", "REPLAY_FROM": str(tmp_path / "live" / "heavy" / "warc")},
          timeout=120)
    assert len(list((tmp_path / "replay" / "heavy" / "text").iterdir())) == 150
