"""The frontier across runs, as an archive is really used: the window widened, an outlet renamed, redirect loops,
kills between a redirect and its target, conflicting dates, non-HTML candidates, and replays of archives made by
several runs (scheduled, killed and resumed)."""

from __future__ import annotations

import json
import sqlite3
import signal

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed, section_page, sitemap_index, urlset
from tests.support.newsroom import BODY, build_newsroom
from tests.support.processes import FAST, kill_when, popen_crawl


def archived(topic_dir) -> list[str]:
    path = topic_dir / "manifest.jsonl"
    return [e["url"] for e in read_manifest(path)] if path.exists() else []


def run(topic_file, archive, site, **settings):
    return crawl("coverage", archive, spider_args={"topic": str(topic_file)}, settings={**FAST, **settings},
                 env={"http_proxy": site.proxy_url})


def frontier(topic_dir):
    db = sqlite3.connect(topic_dir / "state.sqlite")
    rows = db.execute("SELECT url, kind, outlet FROM frontier").fetchall()
    db.close()
    return rows


# --- 1. the window is widened between runs (a rolling "until = today" topic): listings answer 304 -------------
@pytest.mark.parametrize("validators", [True, False])
def test_widening_the_window_finds_articles_behind_304_listings(tmp_path, validators):
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=2, validators=validators)
        run(room.topic_file, archive, site)
        assert sorted(archived(archive / "newsroom")) == sorted(room.expected)
        # the story goes on: the archivist extends the window to the end of August
        room.topic_file.write_text(room.topic_file.read_text().replace("until = 2021-07-20", "until = 2021-08-31"))
        before = len(site.requests())
        run(room.topic_file, archive, site)
        second = site.requests()[before:]
    august = [u for u in room.articles if "/2021/08/" in u and not u.endswith("-2")]  # on topic, now in window
    got = archived(archive / "newsroom")
    print("second-run requests:", sorted({r.url for r in second}))
    print("304-hidden august articles missing:", sorted(set(august) - set(got)))
    assert set(august) <= set(got), "articles inside the (widened) window lost behind 304 listings"


# --- 2. an outlet is renamed (same URL) between a killed run and the next ---------------------------------------
def test_renaming_an_outlet_after_a_kill_loses_nothing(tmp_path):
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=2, article_delay=30)
        process = popen_crawl(room.topic_file, archive, site.proxy_url)
        july = [u for u in room.sitemaps if "2021-07" in u]
        assert kill_when(process, lambda: all(site.count(u) for u in july) and any(site.count(u) for u in room.expected))
        room2 = build_newsroom(site, tmp_path, outlets=2)  # articles answer at once now
        room2.topic_file.write_text(room2.topic_file.read_text().replace('name = "Outlet 0"', 'name = "Outlet Zero"'))
        run(room2.topic_file, archive, site)
    got = archived(archive / "newsroom")
    print("pending after:", frontier(archive / "newsroom"))
    assert sorted(got) == sorted(room.expected), f"missing {sorted(set(room.expected) - set(got))}"


# --- 3. an outlet is removed for one run, then comes back ---------------------------------------------------------
def test_an_outlet_removed_then_readded_keeps_its_pending_articles(tmp_path):
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=2, article_delay=30)
        process = popen_crawl(room.topic_file, archive, site.proxy_url)
        july = [u for u in room.sitemaps if "2021-07" in u]
        assert kill_when(process, lambda: all(site.count(u) for u in july) and any(site.count(u) for u in room.expected))
        full = build_newsroom(site, tmp_path, outlets=2).topic_file.read_text()
        head, _, _ = full.partition("[[outlet]]\nname = \"Outlet 1\"")
        room.topic_file.write_text(head)  # outlet 1 gone
        run(room.topic_file, archive, site)
        room.topic_file.write_text(full)  # back
        run(room.topic_file, archive, site)
    got = archived(archive / "newsroom")
    assert sorted(got) == sorted(room.expected)
    assert len(got) == len(set(got))


# --- 4. robots-forbidden and over-budget pending entries: does the frontier shrink? ----------------------------
TOPIC = """name = "rt"
query = 'Lavrov'
since = 2021-07-10
until = 2021-07-20
{extra}
[[outlet]]
name = "Alpha"
url = "http://www.alpha.test/"
feeds = ["http://www.alpha.test/feed.xml"]
"""


def alpha_site(site, n=6, disallow=(), feed_etag=True, date="2021-07-16"):
    a = "http://www.alpha.test"
    urls = [f"{a}/world/lavrov-story-{i}" for i in range(n)]
    site.route(f"{a}/robots.txt", robots_txt(disallow=list(disallow)))
    site.route(f"{a}/", section_page("Alpha", []))
    headers = [("Content-Type", "application/rss+xml")] + ([("ETag", '"feed1"')] if feed_etag else [])
    site.route(f"{a}/feed.xml", Reply(body=rss_feed("Alpha", [
        {"url": u, "title": f"Lavrov story {i}", "published": date} for i, u in enumerate(urls)]), headers=headers))
    for i, u in enumerate(urls):
        site.route(u, article_page(f"Lavrov story {i}", [f"Story {i} words of its own."] + BODY, published=date))
    return urls


def test_robots_forbidden_pending_entries_do_not_stay_for_ever(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra=""))
    archive = tmp_path / "archive"
    with SiteServer() as site:
        urls = alpha_site(site, n=3, disallow=["/world/lavrov-story-2"])
        for _ in range(3):
            stats, _ = run(topic, archive, site)
    pending = frontier(archive / "rt")
    print("pending after 3 runs:", pending, "resumed stat:", stats.get("coverage/alpha/resumed"))
    assert not pending, "a robots-forbidden URL stays pending (and is resumed) on every run"


def test_budget_with_resumed_candidates(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra="max_pages_per_outlet = 2"))
    archive = tmp_path / "archive"
    rows = []
    with SiteServer() as site:
        urls = alpha_site(site, n=6)
        for i in range(4):
            stats, _ = run(topic, archive, site)
            rows.append((len(archived(archive / "rt")), len(frontier(archive / "rt")),
                         stats.get("coverage/alpha/resumed"), stats.get("coverage/alpha/over_budget")))
    print("per run (kept, pending, resumed, over_budget):", rows)
    assert rows[-1][0] == 6 and rows[-1][1] == 0


# --- 5. redirects -------------------------------------------------------------------------------------------------
def test_redirect_loop_and_chain_into_a_kept_article(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra=""))
    archive = tmp_path / "archive"
    a = "http://www.alpha.test"
    with SiteServer() as site:
        urls = alpha_site(site, n=2)
        loop1, loop2 = f"{a}/world/lavrov-loop-a", f"{a}/world/lavrov-loop-b"
        short1, short2 = f"{a}/s/1", f"{a}/s/2"
        site.redirect(loop1, loop2)
        site.redirect(loop2, loop1)
        site.redirect(short1, short2, 302)
        site.redirect(short2, urls[0], 302)  # a chain into an article the feed lists too
        site.route(f"{a}/", section_page("Alpha", [(loop1, "Lavrov loop"), (short1, "Lavrov short"),
                                                   (f"{a}/world/lavrov-story-0?utm_source=x", "Lavrov again")]))
        counts = []
        for _ in range(3):
            before = len(site.requests())
            run(topic, archive, site)
            counts.append(sorted(r.url for r in site.requests()[before:] if "/world/" in r.url or "/s/" in r.url))
    got = archived(archive / "rt")
    print("article-ish requests per run:", counts)
    print("pending:", frontier(archive / "rt"))
    assert sorted(got) == sorted(urls) and len(got) == len(set(got))
    assert counts[1] == [] and counts[2] == [], "a URL that redirected (or looped) was requested again"


def test_a_kill_between_a_redirect_and_its_target_leaves_no_stale_pending_entry(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra=""))
    archive = tmp_path / "archive"
    a = "http://www.alpha.test"
    with SiteServer() as site:
        alpha_site(site, n=0)
        short, target = f"{a}/news/2021-07-16/lavrov", f"{a}/world/lavrov-long-story"
        site.route(f"{a}/", section_page("Alpha", [(short, "Lavrov")]))
        site.redirect(short, target, 302)
        site.route(target, Reply(delay=30, body=article_page("Lavrov", BODY, published="2021-07-16")))
        process = popen_crawl(topic, archive, site.proxy_url)
        assert kill_when(process, lambda: site.count(target) > 0)
        site.route(target, article_page("Lavrov", BODY, published="2021-07-16"))
        requests = []
        for _ in range(2):
            before = len(site.requests())
            run(topic, archive, site)
            requests.append([r.url for r in site.requests()[before:] if "/world/" in r.url or "/news/" in r.url])
    print("pending:", frontier(archive / "rt"), "article requests per run:", requests,
          "manifest url:", archived(archive / "rt"))
    assert requests[1] == []
    assert not frontier(archive / "rt"), "the short link stays pending for ever"


# --- 6. date evidence: conflicting dates, resumed held candidates --------------------------------------------------
@pytest.mark.parametrize("slow", ["feed", "sitemap"])
def test_conflicting_dates_from_feed_and_news_sitemap(tmp_path, slow):
    """X is linked undated from the home page; the feed dates it 2021-05-02, the news sitemap 2021-07-16 (the
    article page says 2021-07-16). A listing that dates it outside the window keeps it from being fetched, whichever
    listing answers first."""
    from tests.support.sites import news_sitemap
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra="").replace('feeds = ["http://www.alpha.test/feed.xml"]',
                     'feeds = ["http://www.alpha.test/feed.xml"]\nsitemaps = ["http://www.alpha.test/sm.xml"]'))
    a = "http://www.alpha.test"
    x = f"{a}/world/lavrov-x"
    with SiteServer() as site:
        site.route(f"{a}/robots.txt", robots_txt())
        site.route(f"{a}/", section_page("Alpha", [(x, "Lavrov X")]))
        site.route(f"{a}/feed.xml", Reply(delay=1.0 if slow == "feed" else 0, body=rss_feed(
            "Alpha", [{"url": x, "title": "Lavrov X", "published": "2021-05-02"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        site.route(f"{a}/sm.xml", Reply(delay=1.0 if slow == "sitemap" else 0, body=news_sitemap(
            [{"url": x, "title": "Lavrov X", "published": "2021-07-16"}]), headers=[("Content-Type", "application/xml")]))
        site.route(x, article_page("Lavrov X", BODY, published="2021-07-16"))
        run(topic, tmp_path / "archive", site)
        print(f"slow={slow}: X fetched {site.count(x)} times, archived: {archived(tmp_path / 'archive' / 'rt')}")
        assert site.count(x) == 0, "the same listings give a different archive when only their timing differs"


# --- 7. replay of a crawl killed mid-article and resumed ------------------------------------------------------------
def snapshot(topic_dir):
    """The text files and the manifest, with each line's ``warc_file`` checked to be a file of this topic's own
    ``warc/`` and then left out: a replay points at its own copies of the records (crawler/archive/replay/copy.py),
    which are named for the replay, so only the rest of a line can be compared with the live crawl's."""
    texts = {p.name: p.read_bytes() for p in sorted((topic_dir / "text").iterdir())}
    manifest = [json.loads(line) for line in (topic_dir / "manifest.jsonl").read_text().splitlines()]
    files = {path.name for path in (topic_dir / "warc").glob("*.warc.gz")}
    assert {entry["warc_file"] for entry in manifest} <= files
    return texts, [{**entry, "warc_file": None} for entry in manifest]


@pytest.mark.parametrize("step", ["text_written", "text_partial"])
def test_replay_of_a_killed_and_resumed_crawl(tmp_path, step):
    import subprocess
    from tests.support.crashsite import with_plugin
    from tests.support.crawl import REPO
    import os, sys
    archive = tmp_path / "live"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=3, per_month=4, article_delay=0.05)
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        env.update(http_proxy=site.proxy_url, SCRAPY_SETTINGS_MODULE="crawler.settings",
                   **with_plugin("torn", PRESSWARC_KILL_AT=step, PRESSWARC_KILL_AFTER="3"))
        args = [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={room.topic_file}",
                "-s", f"ARCHIVE_DIR={archive}"] + [x for k, v in FAST.items() for x in ("-s", f"{k}={v}")]
        proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        run(room.topic_file, archive, site)
    live = snapshot(archive / "newsroom")
    assert sorted(e["url"] for e in live[1]) == sorted(room.expected)
    print("warc files:", sorted(p.name for p in (archive / "newsroom" / "warc").iterdir()))
    out = tmp_path / "replay"
    crawl("coverage", out, spider_args={"topic": str(room.topic_file)},
          settings={**FAST, "REPLAY_FROM": str(archive / "newsroom" / "warc")})
    replayed = snapshot(out / "newsroom")
    # The archive holds two captures of the articles the killed run had fetched (the resumed run's is an
    # identical-payload revisit). Replay serves a URL's first capture as its version 1 (crawler.fetch.versions),
    # so those articles are numbered by the killed run's capture order: the same articles with the same texts
    # and the same manifest lines, but not always the same file numbers (README, "Replay").
    def by_url(snap):
        texts, manifest = snap
        return {e["url"]: (texts[e["file"]].split(b"\n", 1)[1],
                           {k: v for k, v in e.items() if k not in ("file", "warc_record_id", "fetched_at",
                                                                  "captured_at", "warc_offset")})
                for e in manifest}
    assert by_url(replayed) == by_url(live)
    assert len(replayed[0]) == len(live[0]) and sorted(n.split("_", 1)[1] for n in replayed[0]) == \
        sorted(n.split("_", 1)[1] for n in live[0])  # the same files but for their numbers


def test_kills_during_the_startup_resume_and_after_304s(tmp_path):
    """Run 1 killed after its listings (articles hang); runs 2 and 3 killed as soon as the resumed article requests
    (or the 304s) arrive; then a clean run. Nothing lost, nothing twice."""
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, outlets=3, article_delay=30)
        july = [u for u in room.sitemaps if "2021-07" in u]
        p = popen_crawl(room.topic_file, archive, site.proxy_url)
        assert kill_when(p, lambda: all(site.count(u) for u in july) and any(site.count(u) for u in room.expected))
        # run 2: killed right after the first 304
        n = len(site.requests())
        p = popen_crawl(room.topic_file, archive, site.proxy_url)
        kill_when(p, lambda: any("If-None-Match" in r.headers for r in site.requests()[n:]))
        # run 3: killed at the first resumed article request
        n = len(site.requests())
        p = popen_crawl(room.topic_file, archive, site.proxy_url)
        kill_when(p, lambda: any(r.url in room.articles for r in site.requests()[n:]))
        build_newsroom(site, tmp_path, outlets=3)
        run(room.topic_file, archive, site)
    got = archived(archive / "newsroom")
    assert sorted(set(got)) == sorted(room.expected), f"missing {sorted(set(room.expected) - set(got))}"
    assert len(got) == len(set(got))


def test_a_non_html_article_candidate_is_not_fetched_on_every_run(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra=""))
    archive = tmp_path / "archive"
    a = "http://www.alpha.test"
    pdf = f"{a}/world/lavrov-statement.pdf"
    with SiteServer() as site:
        alpha_site(site, n=1)
        site.route(f"{a}/feed.xml", Reply(body=rss_feed("Alpha", [
            {"url": pdf, "title": "Lavrov statement", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml"), ("ETag", '"f"')]))
        site.route(pdf, Reply(body=b"%PDF-1.4 Lavrov", headers=[("Content-Type", "application/pdf")]))
        for _ in range(3):
            run(topic, archive, site)
        print("pdf requested", site.count(pdf), "times; pending:", frontier(archive / "rt"))
        assert site.count(pdf) == 1, "a settled non-HTML candidate is fetched again on every run"


def test_replay_of_an_incremental_two_run_archive(tmp_path):
    """Run 1: the feed lists A. Run 2 (the next day): the feed has changed and lists A and B. Replaying both runs'
    WARC files should give the archive's two files."""
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC.format(extra=""))
    a = "http://www.alpha.test"
    ua, ub = f"{a}/world/lavrov-a", f"{a}/world/lavrov-b"
    with SiteServer() as site:
        site.route(f"{a}/robots.txt", robots_txt())
        site.route(f"{a}/", section_page("Alpha", []))
        for u in (ua, ub):
            site.route(u, article_page(f"Lavrov {u[-1]}", [f"Story {u} has its own words."] + BODY, published="2021-07-16"))
        feed = lambda items, tag: Reply(body=rss_feed("Alpha", [  # noqa: E731
            {"url": u, "title": "Lavrov", "published": "2021-07-16"} for u in items]),
            headers=[("Content-Type", "application/rss+xml"), ("ETag", tag)])
        site.route(f"{a}/feed.xml", feed([ua], '"v1"'))
        run(topic, tmp_path / "live", site)
        site.route(f"{a}/feed.xml", feed([ub, ua], '"v2"'))
        run(topic, tmp_path / "live", site)
    live = snapshot(tmp_path / "live" / "rt")
    assert [e["url"] for e in live[1]] == [ua, ub]
    crawl("coverage", tmp_path / "replay", spider_args={"topic": str(topic)}, check=False,
          settings={**FAST, "REPLAY_FROM": str(tmp_path / "live" / "rt" / "warc")})
    print("replayed:", archived(tmp_path / "replay" / "rt"))
    assert snapshot(tmp_path / "replay" / "rt") == live


def test_replay_with_near_duplicates_across_outlets(tmp_path):
    """The same wire story on every outlet, each copy a few words different; replay with 0 and 2 workers."""
    from tests.support.newsroom import build_newsroom as _b
    wire = ["Russian Foreign Minister Sergei Lavrov said on Friday that the American mission in Afghanistan had "
            "failed, speaking at a regional conference in Tashkent attended by the Afghan president Ashraf Ghani "
            "and by delegations from Central Asian states, China and Pakistan."] * 1 + [
            "Lavrov said the Taliban's advance showed that the twenty-year Western presence had achieved nothing "
            "and that Moscow would keep talking to all Afghan sides, including the movement's political office."]
    with SiteServer() as site:
        room = _b(site, tmp_path, outlets=4, per_month=3)
        for n, url in enumerate(u for u in room.expected):
            site.route(url, article_page(f"Lavrov says US mission failed ({n % 3})",
                                         [f"By staff {n}."] + wire + ([f"Update {n}."] if n % 2 else []),
                                         published="2021-07-16"))
        crawl("coverage", tmp_path / "live", spider_args={"topic": str(room.topic_file)},
              settings={**FAST, "EXTRACT_WORKERS": "2", "CONCURRENT_REQUESTS_PER_DOMAIN": "4"},
              env={"http_proxy": site.proxy_url})
    live = snapshot(tmp_path / "live" / "newsroom")
    print("live files:", len(live[0]), [e.get("near_duplicate_of") for e in live[1]])
    for workers in ("2", "0"):
        out = tmp_path / f"replay-{workers}"
        crawl("coverage", out, spider_args={"topic": str(room.topic_file)},
              settings={**FAST, "EXTRACT_WORKERS": workers, "REPLAY_FROM": str(tmp_path / "live" / "newsroom" / "warc")})
        assert snapshot(out / "newsroom") == live, f"differs with EXTRACT_WORKERS={workers}"
