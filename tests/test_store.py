"""The store contract: SQLite (local) and Redis (distributed) answer every question of ``TopicStore`` the same way.

Each test runs on both engines (Redis is a real redis-server on 127.0.0.1), so a promise one engine breaks shows
up as a failure of that engine's run; where the engines differ on purpose (transactions, lowering a counter) the
test names the engine.
"""

from __future__ import annotations

import sqlite3

import pytest

from crawler.store import FrontierEntry, PayloadRef, RedisStore, SqliteStore, TopicStore, TrackedArticle
from tests.support.redisserver import redis_server


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        state = SqliteStore(tmp_path / "state.sqlite")
        yield state
        state.close()
    else:
        with redis_server(tmp_path) as url:
            state = RedisStore(url, topic="t")
            yield state
            state.close()


def article(url: str, **extra) -> FrontierEntry:
    return FrontierEntry(url, "alpha", "article", via="sitemap", **extra)


def test_a_listing_settles_only_with_what_it_listed(store):
    child = FrontierEntry("https://a.test/sitemap-2021-07.xml", "alpha", "sitemap")
    store.settle_discovery("https://a.test/index.xml", [child], '"e1"', None)
    assert store.validators("https://a.test/index.xml") == ('"e1"', None)
    store.settle_discovery(child.url, [article("https://a.test/a1", published="2021-07-16"), article("https://a.test/a2")],
                           None, "Wed, 21 Jul 2021 08:00:00 GMT")
    pending = store.pending()
    assert [e.url for e in pending] == ["https://a.test/a1", "https://a.test/a2"]  # the child is done
    assert pending[0].published == "2021-07-16"


def test_pending_puts_discovery_pages_first_and_keeps_the_order_found(store):
    """The crawl schedules listings before articles; a URL listed again keeps the place it was first found."""
    store.settle_discovery(None, [article("https://a.test/a1"), FrontierEntry("https://a.test/feed", "alpha", "feed"),
                                  article("https://a.test/a2")])
    store.settle_discovery(None, [article("https://a.test/a3"), article("https://a.test/a1")])
    assert [e.url for e in store.pending()] == ["https://a.test/feed", "https://a.test/a1", "https://a.test/a2",
                                                "https://a.test/a3"]


def test_a_url_listed_again_gains_what_it_lacked(store):
    """A sitemap without dates and a feed with them may list the same article: the date evidence must not be
    lost to whichever listing came first."""
    store.settle_discovery(None, [article("https://a.test/a1", title="First", priority=1)])
    store.settle_discovery(None, [article("https://a.test/a1", title="Second", published="2021-07-16",
                                          lastmod="2021-07-17", priority=5)])
    store.settle_discovery(None, [article("https://a.test/a1", published="2020-01-01", priority=2)])
    [entry] = store.pending()
    assert (entry.title, entry.published, entry.lastmod, entry.priority) == ("First", "2021-07-16", "2021-07-17", 5)


def test_an_article_leaves_the_frontier_when_settled_not_when_it_failed(store):
    store.settle_discovery(None, [article("https://a.test/a1"), article("https://a.test/a2")])
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="error", status=503)
    store.record_outcome("https://a.test/a2", kind="article", outlet="alpha", outcome="off_topic")
    assert [e.url for e in store.pending()] == ["https://a.test/a1"]
    store.drop_pending("https://a.test/a1")
    assert store.pending() == []


def test_listings_in_flight_are_counted_per_outlet(store):
    assert store.listings_in_flight([]) == {} and store.listings_in_flight(["alpha"]) == {"alpha": 0}
    store.add_listings_in_flight("alpha", 3)
    store.add_listings_in_flight("beta", 1)
    store.add_listings_in_flight("alpha", -1)
    assert store.listings_in_flight(["alpha", "beta", "gamma"]) == {"alpha": 2, "beta": 1, "gamma": 0}


def test_the_shared_store_counts_listings_for_every_worker(tmp_path):
    """A listing one worker queued and another read: the count both see goes back to zero."""
    with redis_server(tmp_path) as url:
        first, second = RedisStore(url, topic="t"), RedisStore(url, topic="t")
        first.add_listings_in_flight("alpha", 1)
        assert second.listings_in_flight(["alpha"]) == {"alpha": 1}
        second.add_listings_in_flight("alpha", -1)
        assert first.listings_in_flight(["alpha"]) == {"alpha": 0}
        first.close()
        second.close()


def test_redirects_are_remembered_both_ways(store):
    store.save_redirect("https://a.test/s/1", "https://a.test/story", 302)
    assert store.redirect_of("https://a.test/s/1") == "https://a.test/story"
    assert store.redirect_sources("https://a.test/story") == ["https://a.test/s/1"]
    assert store.redirect_of("https://a.test/story") is None
    store.save_redirect("https://a.test/s/0", "https://a.test/story", 301)
    assert store.redirect_sources("https://a.test/story") == ["https://a.test/s/0", "https://a.test/s/1"]


def test_the_first_archived_payload_of_a_url_and_digest_stays(store):
    """A revisit record must point at the response that holds the payload, not at a later copy."""
    first = PayloadRef("https://a.test/a1", "sha1:AAA", "<urn:uuid:1>", "2021-07-16T08:00:00Z", "one.warc.gz")
    store.add_payload(first)
    store.add_payload(PayloadRef("https://a.test/a1", "sha1:AAA", "<urn:uuid:2>", "2021-07-17T08:00:00Z", "two.warc.gz"))
    assert store.find_payload("https://a.test/a1", "sha1:AAA") == first
    assert store.find_payload("https://a.test/a1", "sha1:BBB") is None
    assert store.find_payload("https://a.test/other", "sha1:AAA") is None


def test_outcomes_count_attempts_and_can_be_forgotten(store):
    """Errors are retried up to a cap counted in attempts; reconciliation forgets a ``kept`` the manifest lacks."""
    assert store.outcome_of("https://a.test/a1") is None
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="error", status=503)
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="kept", status=200,
                         fetched_at="2021-07-16T08:00:00+00:00")
    store.record_outcome("https://a.test/a2", kind="article", outlet="alpha", outcome="off_topic", status=200)
    assert store.outcome_of("https://a.test/a1") == ("kept", 2, 200, "2021-07-16T08:00:00+00:00")
    assert store.kept_urls() == ["https://a.test/a1"]
    store.forget_outcome("https://a.test/a1")
    assert store.outcome_of("https://a.test/a1") is None and store.kept_urls() == []
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="error", status=503)
    assert store.outcome_of("https://a.test/a1") == ("error", 1, 503, None)  # the attempts start again


def test_outcome_counts_are_of_articles_per_outlet(store):
    """What the report shows per outlet; pages fetched for discovery or from the index are not articles."""
    for n, outcome in enumerate(["kept", "kept", "off_topic", "too_large"]):
        store.record_outcome(f"https://a.test/{n}", kind="article", outlet="alpha", outcome=outcome)
    store.record_outcome("https://b.test/1", kind="article", outlet="beta", outcome="out_of_window")
    store.record_outcome("https://b.test/2", kind="article", outlet="", outcome="error", status=500)
    store.record_outcome("https://b.test/x.warc", kind="archived", outlet="", outcome="archived", status=200)
    store.save_validators("https://b.test/feed", '"e1"', None)
    assert store.outcome_counts() == {"alpha": {"kept": 2, "off_topic": 1, "too_large": 1},
                                      "beta": {"out_of_window": 1}, "": {"error": 1}}


def test_outcome_records_keep_the_why_and_a_later_outcome_replaces_it(store):
    """The report lists every URL not kept with its reason's detail (score, date and its source, cause)."""
    store.record_outcome("https://a.test/2", kind="article", outlet="alpha", outcome="off_topic", status=200,
                         detail={"score": 0.5, "terms": {"Lavrov": ["body"]}, "title": "Ça va"})
    store.record_outcome("https://a.test/1", kind="article", outlet="alpha", outcome="error",
                         detail={"cause": "timeout", "message": "took longer than 1.0 seconds"})
    store.record_outcome("https://a.test/3", kind="article", outlet="alpha", outcome="kept")
    store.record_outcome("https://a.test/x", kind="archived", outlet="", outcome="archived", status=200)
    records = store.outcome_records()
    assert [(r.url, r.outcome, r.attempts) for r in records] == [
        ("https://a.test/1", "error", 1), ("https://a.test/2", "off_topic", 1), ("https://a.test/3", "kept", 1)]
    assert records[0].detail == {"cause": "timeout", "message": "took longer than 1.0 seconds"}
    assert records[1].detail["terms"] == {"Lavrov": ["body"]} and records[1].detail["title"] == "Ça va"
    assert records[1].status == 200 and records[2].detail == {}
    store.record_outcome("https://a.test/1", kind="article", outlet="alpha", outcome="out_of_window",
                         detail={"published": "2020-01-01", "date_source": "page"})
    again = {r.url: r for r in store.outcome_records()}["https://a.test/1"]
    assert (again.outcome, again.attempts, again.detail) == ("out_of_window", 2,
                                                             {"published": "2020-01-01", "date_source": "page"})
    assert [r.url for r in store.outcome_records("archived")] == ["https://a.test/x"]


def test_refused_and_over_budget_articles_are_recorded_and_over_budget_stays_pending(store):
    """robots.txt's refusal settles the frontier entry (the spider drops it anyway); a budget holds it for the
    next run."""
    store.settle_discovery(None, [article("https://a.test/a1"), article("https://a.test/a2")])
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="over_budget")
    store.record_outcome("https://a.test/a2", kind="article", outlet="alpha", outcome="robots_forbidden")
    assert [e.url for e in store.pending()] == ["https://a.test/a1"]
    assert store.outcome_counts() == {"alpha": {"over_budget": 1, "robots_forbidden": 1}}


def test_an_older_sqlite_state_gains_the_detail_column(tmp_path):
    """A state.sqlite made before outcome details opens, keeps its rows and records details from then on."""
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE fetched (url TEXT PRIMARY KEY, final_url TEXT, kind TEXT, outlet TEXT, outcome TEXT, "
               "status INTEGER, warc_file TEXT, record_id TEXT, fetched_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, "
               "etag TEXT, last_modified TEXT)")
    db.execute("INSERT INTO fetched (url, kind, outlet, outcome, attempts) VALUES ('https://a.test/old', 'article', "
               "'alpha', 'off_topic', 1)")
    db.commit()
    db.close()
    store = SqliteStore(path)
    store.record_outcome("https://a.test/new", kind="article", outlet="alpha", outcome="error", detail={"cause": "dns"})
    assert [(r.url, r.detail) for r in store.outcome_records()] == [("https://a.test/new", {"cause": "dns"}),
                                                                   ("https://a.test/old", {})]
    store.close()


def test_a_later_outcome_replaces_kind_and_outlet(store):
    """``rebuild-state`` records a failed URL of the WARC index without its outlet; when a crawl fetches it again
    as an article, the report must count it under that article's outlet."""
    store.record_outcome("https://a.test/a1", kind="archived", outlet="", outcome="error", status=500)
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="kept", status=200)
    assert store.outcome_counts() == {"alpha": {"kept": 1}}


def test_validators_are_replaced(store):
    assert store.validators("https://a.test/feed") == (None, None)
    store.save_validators("https://a.test/feed", '"e1"', "Wed, 21 Jul 2021 08:00:00 GMT")
    store.save_validators("https://a.test/feed", '"e2"', None)
    assert store.validators("https://a.test/feed") == ('"e2"', None)


def test_counters_count_from_zero_and_are_only_raised(store):
    assert [store.next_value("n"), store.next_value("n")] == [0, 1]
    store.ensure_counter_at_least("n", 10)
    store.ensure_counter_at_least("n", 3)
    assert store.next_value("n") == 10
    assert store.next_value("other") == 0


def test_set_counter_lowers_only_a_counter_no_other_process_shares(store):
    """SQLite: the lock holder renumbers after reconciliation. Redis: other workers may hold lower numbers."""
    store.ensure_counter_at_least("n", 10)
    store.set_counter("n", 4)
    assert store.next_value("n") == (4 if isinstance(store, SqliteStore) else 10)


def test_one_file_per_canonical_url(store):
    """Two writers can never give one article two files, and a failed write's claim can be taken back."""
    assert store.add_file("https://a.test/a1", "000_aa.txt", "sha-1", "alpha")
    assert not store.add_file("https://a.test/a1", "001_bb.txt", "sha-2", "alpha")
    assert store.add_file("https://a.test/a2", "002_cc.txt", "sha-3", "alpha")
    assert store.file_for_url("https://a.test/a1") == "000_aa.txt"
    assert store.file_for_text("alpha", "sha-1") == "000_aa.txt"
    assert store.file_for_text("beta", "sha-1") is None and store.file_for_url("https://a.test/a3") is None
    assert sorted(store.claimed_files()) == [("https://a.test/a1", "000_aa.txt"), ("https://a.test/a2", "002_cc.txt")]
    store.forget_file("https://a.test/a1", "001_bb.txt")  # not its claim: nothing happens
    assert store.file_for_url("https://a.test/a1") == "000_aa.txt"
    store.forget_file("https://a.test/a1", "000_aa.txt")
    assert store.file_for_url("https://a.test/a1") is None
    assert store.file_for_text("alpha", "sha-1") is None  # an exact duplicate must not point at a file never written
    assert store.claimed_files() == [("https://a.test/a2", "002_cc.txt")]


def test_signatures_come_back_in_the_order_added(store):
    store.add_signature("000_aa.txt", "alpha", b"\x00\x01binary\x00")
    store.add_signature("001_bb.txt", "beta", b"\xff")
    assert store.signatures() == [("000_aa.txt", "alpha", b"\x00\x01binary\x00"), ("001_bb.txt", "beta", b"\xff")]
    assert store.signatures(skip=1) == [("001_bb.txt", "beta", b"\xff")]


def test_site_memory_only_grows(store):
    store.save_site_memory({"beta": ["k2", "k1"], "alpha": ["k9"]})
    store.save_site_memory({"beta": ["k3", "k1"], "gamma": []})
    assert store.site_memory() == {"alpha": ["k9"], "beta": ["k1", "k2", "k3"]}


def test_a_failed_transaction_leaves_the_sqlite_store_as_it_was(tmp_path):
    """An article's number, claim and outcome become durable together or not at all."""
    store = SqliteStore(tmp_path / "state.sqlite")
    assert store.next_value("n") == 0
    with pytest.raises(RuntimeError):
        with store.transaction():
            assert store.take_value("n") == 1
            store.add_file("https://a.test/a1", "001_aa.txt", "sha", "alpha")
            store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="kept")
            raise RuntimeError("the text file could not be written")
    assert store.file_for_url("https://a.test/a1") is None and store.outcome_of("https://a.test/a1") is None
    with store.transaction():
        assert store.take_value("n") == 1  # given back
        store.add_file("https://a.test/a1", "001_aa.txt", "sha", "alpha")
    store.close()
    reopened = SqliteStore(tmp_path / "state.sqlite")
    assert reopened.file_for_url("https://a.test/a1") == "001_aa.txt" and reopened.next_value("n") == 2
    reopened.close()


def test_a_redis_transaction_is_no_transaction(tmp_path):
    """No transaction spans Redis and the files: what the block wrote stays, and a number taken is not given back
    (the text-files pipeline undoes the claim itself)."""
    with redis_server(tmp_path) as url:
        store = RedisStore(url, topic="t")
        with pytest.raises(RuntimeError):
            with store.transaction():
                assert store.take_value("n") == 0
                store.add_file("https://a.test/a1", "000_aa.txt", "sha", "alpha")
                raise RuntimeError("the text file could not be written")
        assert store.file_for_url("https://a.test/a1") == "000_aa.txt"
        assert store.next_value("n") == 1
        store.close()


def test_a_read_only_sqlite_store_reads_and_creates_nothing(tmp_path):
    """``scrapy report`` reads the store while a crawl may write it, and must not create one that is missing."""
    path = tmp_path / "topic" / "state.sqlite"
    with pytest.raises(sqlite3.OperationalError):
        SqliteStore(path, read_only=True)
    assert not path.parent.exists()
    writer = SqliteStore(path)
    writer.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="kept")
    reader = SqliteStore(path, read_only=True)
    assert reader.outcome_counts() == {"alpha": {"kept": 1}}
    with pytest.raises(sqlite3.OperationalError):
        reader.forget_outcome("https://a.test/a1")
    reader.close()
    writer.close()


def test_both_engines_implement_the_whole_protocol():
    """A method the crawl calls on one engine only would fail in the other mode, far from here."""
    promised = {name for name in vars(TopicStore) if not name.startswith("_")}
    for engine in (SqliteStore, RedisStore):
        assert promised <= {name for name in dir(engine) if not name.startswith("_")}, engine


def tracked_article(url: str = "https://a.test/a1", **extra) -> TrackedArticle:
    fields = dict(request_url=url, canonical_url=url, outlet="alpha", file="000_0123456789abcdef.txt", version=1,
                  first_captured="2021-07-16T09:00:00+00:00", title="First", text_sha256="aa",
                  record_id="<urn:uuid:1>", warc_date="2021-07-16T09:00:00Z", etag='"e1"')
    return TrackedArticle(url, **{**fields, **extra})


def test_a_tracked_article_keeps_its_newest_version_and_its_checks_apart(store):
    """Tracking a new version replaces what is known of the article but never the checks taken, which only a claim
    moves: a run that writes a version must not make the schedule start again."""
    assert store.tracked("https://a.test/a1") is None and store.tracked_articles() == []
    store.track(tracked_article())
    assert store.claim_check("https://a.test/a1", 0, 2)
    store.track(tracked_article(file="000_0123456789abcdef.v2.txt", version=2, title="Second", checks=0))
    got = store.tracked("https://a.test/a1")
    assert (got.file, got.version, got.title, got.checks, got.etag) == ("000_0123456789abcdef.v2.txt", 2, "Second", 2,
                                                                       '"e1"')
    store.track(tracked_article("https://a.test/a0", removed="404", removed_at="2021-07-17T00:00:00+00:00"))
    assert [(a.url, a.removed) for a in store.tracked_articles()] == [("https://a.test/a0", "404"),
                                                                      ("https://a.test/a1", None)]


def test_a_check_is_claimed_once(store):
    """Two workers seeing the same due check: only the first claim succeeds, so the article is asked for once."""
    store.track(tracked_article())
    assert store.claim_check("https://a.test/a1", 0, 1)
    assert not store.claim_check("https://a.test/a1", 0, 1)
    assert store.claim_check("https://a.test/a1", 1, 3)
    assert store.tracked("https://a.test/a1").checks == 3
    assert not store.claim_check("https://a.test/unknown", 0, 1)
