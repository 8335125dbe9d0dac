"""The example's five outlets, as a local server serves them to the crawler when the fixture is rebuilt.

The story is the one of July 2021: Russia's foreign minister Sergei Lavrov says the United States failed in
Afghanistan. The article texts are those of real coverage; the pages around them imitate what news sites wrap
articles in: navigation, bylines, photo captions, related links, cookie banners and, inside the article body,
the donation, newsletter and paywall prompts that extraction must leave out. Discovery differs per outlet:
a news sitemap found through robots.txt, a configured RSS feed, a feed found on the home page, a paginated
section, and a search page. Some pages are there to be refused: off topic, out of the window, another language.

The hosts are served over plain HTTP through the local proxy (``build_fixture.py``); nothing leaves the machine.
"""

from __future__ import annotations

from html import escape

MT = "http://www.themoscowtimes.com"
CAW = "http://www.centralasiawire.com"
ZH = "http://www.zerohedge.com"
FEH = "http://www.fareastherald.com"
RS = "http://www.rundschau24.de"

MT_FAILED = [
    "Russia on Friday said that the United States had failed in its mission in Afghanistan and blamed the withdrawal of foreign forces for the war-torn country's rapidly deteriorating stability.",
    'Taliban insurgents in Afghanistan have capitalised on the last stages of the withdrawal of foreign troops to launch offensives, capturing a swath of districts and border crossings, and encircling provincial capitals.',
    'The White House had tried to paint the drawdown of foreign troops in "the most positive colors," Russian Foreign Minister Sergei Lavrov said on Friday.',
    '"But everyone understands that the mission failed," he told reporters at a conference in Uzbekistan attended by Afghan President\xa0Ashraf Ghani.',
    'Lavrov earlier blamed the "hasty withdrawal" of U.S. and NATO troops worsening security in Afghanistan and warned of instability spreading to neighboring countries.',
    '"In recent days we have unfortunately seen a rapid deterioration of the situation in Afghanistan," he said in comments carried by Russian news agencies.',
    '"In light of the hasty withdrawal of the U.S. and NATO troops, there is huge uncertainty around the future of the political and military situation in this country," he told reporters.',
    'Russia hosted Taliban representatives in Moscow last week, where the insurgent group claimed to have control over about 85% of Afghanistan.',
    "Moscow is closely watching the Taliban's advance and concerned about the potential for instability reaching neighbouring ex-Soviet Central Asian countries where Russia maintains military bases.",
    'Lavrov said the crisis had increased the threat of terrorism and worsened problems surrounding drug trafficking, which he said had reached "an unprecedented level."',
    '"It\'s clear that, in this situation, there is a real risk of instability spreading to neighbouring countries," he said in Tashkent, according to Russian news agency TASS.',
    'Earlier this week, ex-Soviet Tajikistan said nearly 350 Afghan refugees had crossed its border fleeing Taliban advances.',
    "Tajikistan's President Emomali Rakhmon conducted inspections at border guard posts on Friday, having earlier called up 20,000 reservists to bolster defences along the country's shared border with Afghanistan.",
    "Russia's Defense Ministry said this week it was staging military drills in Tajikistan where it has a base aimed at buttressing border security with Afghanistan.",
    'The Taliban is a terrorist organization banned in Russia.',
]

MT_HASTY = [
    'Russia on Friday blamed the "hasty withdrawal" of U.S. and NATO troops for a rapid deterioration in Afghanistan\'s security and warned of instability spreading to neighbouring countries.',
    'Taliban insurgents in Afghanistan have capitalised on the last stages of the withdrawal of foreign troops to launch offensives, capturing a swath of districts and border crossings, and encircling provincial capitals.',
    '"In recent days we have unfortunately seen a rapid deterioration of the situation in Afghanistan," Russian Foreign Minister Sergei Lavrov said in comments carried by Russian news agencies.',
    '"In light of the hasty withdrawal of the U.S. and NATO troops, there is huge uncertainty around the future of the political and military situation in this country," he said at a conference in the Uzbek capital Tashkent.',
    'Russia hosted Taliban representatives in Moscow last week, where the insurgent group claimed to have control over some 85% of Afghanistan.',
    "Moscow is closely watching the Taliban's advance and concerned about the potential for instability reaching neighbouring Central Asian countries of the former Soviet Union where Russia maintains military bases.",
    'Lavrov said the crisis had increased the threat of terrorism and worsened problems surrounding drug trafficking, which he said had reached "an unprecedented level".',
    '"It\'s clear that, in this situation, there is a real risk of instability spreading to neighbouring countries," he said in Tashkent, according to the TASS news agency.',
    'Earlier this week, ex-Soviet Tajikistan said nearly 350 Afghan refugees had crossed its border fleeing Taliban advances.',
    "Tajikistan's President Emomali Rakhmon conducted inspections at border guard posts on Friday, having earlier called up 20,000 reservists to bolster defenses along the country's shared border with Afghanistan.",
    "Russia's defense ministry said this week it was staging military drills in Tajikistan where it has a base aimed at buttressing border security with Afghanistan.",
]

WIRE_FAILED = [
    'Russia on Friday said that the United States had failed in its mission in Afghanistan and blamed the withdrawal of foreign forces for the war-torn country’s rapidly deteriorating stability.',
    'Taliban insurgents in Afghanistan have capitalized on the last stages of the withdrawal of foreign troops to launch offensives, capturing a swath of districts and border crossings, and encircling provincial capitals.',
    'The White House had tried to paint the drawdown of foreign troops in “the most positive colors,” Russian Foreign Minister Sergei Lavrov said on Friday.',
    '“But everyone understands that the mission failed,” he told reporters at a conference in Uzbekistan attended by Afghan President Ashraf Ghani.',
    'Lavrov earlier blamed the “hasty withdrawal” of US and NATO troops worsening security in Afghanistan and warned of instability spreading to neighboring countries.',
    '“In recent days we have unfortunately seen a rapid deterioration of the situation in Afghanistan,” he said in comments carried by Russian news agencies.',
    '“In light of the hasty withdrawal of the US and NATO troops, there is huge uncertainty around the future of the political and military situation in this country,” he told reporters.',
    'Russia hosted Taliban representatives in Moscow last week, where the insurgent group claimed to have control over about 85 percent of Afghanistan.',
    'Moscow is closely watching the Taliban’s advance and concerned about the potential for instability reaching neighboring ex-Soviet Central Asian countries where Russia maintains military bases.',
    'Lavrov said the crisis had increased the threat of terrorism and worsened problems surrounding drug trafficking, which he said had reached “an unprecedented level.”',
    '“It’s clear that, in this situation, there is a real risk of instability spreading to neighboring countries,” he said in Tashkent, according to Russian news agency TASS.',
    'Earlier this week, ex-Soviet Tajikistan said nearly 350 Afghan refugees had crossed its border fleeing Taliban advances.',
    'Tajikistan’s President Emomali Rakhmon conducted inspections at border guard posts on Friday, having earlier called up 20,000 reservists to bolster defenses along the country’s shared border with Afghanistan.',
    'Russia’s defense ministry said this week it was staging military drills in Tajikistan where it has a base aimed at buttressing border security with Afghanistan.',
]

ZH_INSULT = [
    "Russia this week warned the United States military to stay out of Central Asian nations bordering Afghanistan, such as Tajikistan, while emphasizing this is Russia's own sphere of influence and that the window for\xa0American and NATO attempts to stabilize Afghanistan have long ago come and gone.",
    'This after earlier this month Taliban leadership boasted of having taken 85% of the country, something Kabul authorities balked at, while also admitting that clashes are growing fiercer and in many more places. President Biden last week also declared US "objectives achieved" and said the troop draw down would be "complete" by August 31st; however, the Kremlin is now declaring that Washington has utterly "failed" in Afghanistan after two decades there.',
    'The provocative comments by\xa0Foreign Minister Sergei Lavrov\xa0came in a press conference in Uzbekistan on Friday. He further strongly suggested that the US is now fumbling the draw down, which is contributing to the country once again descending into war-torn chaos. Crucially the security summit\xa0was attended\xa0Afghan President Ashraf Ghani.',
    'Lavrov said the White House is steadfast on portraying the Afghan mission in\xa0"the most positive colors"\xa0while it remains that "everyone understands that the mission failed".',
    "Among the specific dire outcomes he pointed to included the resurgence of Islamic State and al-Qaeda terrorists in the region, and that Afghan drug production and trafficking are booming. Russian officials have long maintained that instability in Central Asia has a direct impact on Russia's own border regions.",
    '"In recent days we have unfortunately seen a rapid deterioration of the situation in Afghanistan," he said according to Russian media. "In light of the hasty withdrawal of the US and NATO troops, there is huge uncertainty around the future of the political and military situation in this country," he explained to reporters.',
    '"It’s clear that, in this situation, there is a real risk of instability spreading to neighboring countries". Currently Russian allies like Tajikistan are greatly bolstering their border forces and are allowing Russian military drills. International reports indicated Tajikistan\'s army is sending some 20,000 extra reservists to the border with Afghanistan, after thousands of refugees and even hundreds of Afghan national troops have poured in amid Taliban advances.',
    "Interestingly the Russian foreign minister also called proposed Pentagon plans to deploy forces to surrounding countries a 'failure' as well...",
    '"First of all, Pakistan and Uzbekistan have already officially announced that this is out of the question, they will not place such infrastructure on their territory. […] None of our allies announced their intention to expose their territory, their population to such a risk," Lavrov said.',
    "Indeed late last month in an interview with Axios' Jonathan Swan,\xa0Pakistan's\xa0Prime Minister\xa0Imran Khan slammed the door shut on the possibility of hosting CIA or US troops for cross-border security raid from his country.",
    'When asked by Swan , Khan said bluntly:\xa0"Absolutely not. There\'s no way we\'re going to allow it,"\xa0Khan said, before repeating resolutely, "Absolutely not."',
    'Other regional countries have since followed in their voicing refusal to let the US establish a security foothold for potential future Afghan-related missions.',
]

FEFU = [
    'According to Russian Foreign Minister Sergey Lavrov, the departure of US forces from Afghanistan is a de facto acknowledgement of the failure of the US mission in the nation.',
    '“By removing its soldiers from Afghanistan, the United States is recognizing the failure of its objective,” Lavrov remarked to students at Far Eastern Federal University.',
    'The foreign minister also highlighted that the threat of terrorist strikes in Afghanistan is growing as US forces leave the country.',
    '“The primary issue is the growing threat of terrorist strikes. The Taliban is becoming increasingly bellicose “, he elaborated.',
    'The foreign minister went on to say that Kabul’s refusal to create a transitional government in accordance with the agreements struck in the aftermath of the withdrawal of US forces was encouraging a belligerent solution to the war.',
    'When asked if Russia will send soldiers to Afghanistan in the wake of the departure of US forces, Lavrov stated that the answer is apparent.',
    '“Will our troops be sent to Afghanistan? I feel the solution is self-evident “Lavrov made a rhetorical remark.',
    'Lavrov addressed the possibility of strikes on neighboring nations such as Tajikistan. He warned that any assault on Tajikistan from Afghanistan’s territory will be promptly considered by the Collective Security Treaty Organization (CSTO).',
    'Along with the Taliban’s onslaught in northern Afghanistan, Afghan government forces have lately left for Tajikistan’s region.',
    '“If there is an attack on Tajikistan, the CSTO will take swift action. The CSTO has dispatched representatives to the Tajik-Afghan border “Lavrov said.',
    'He also stated that Daesh was expanding its foothold in northern Afghanistan, close the border with Russian troops.',
    'Earlier, the US stated that it had already evacuated 90 percent of its soldiers from Afghanistan. The withdrawal of soldiers is expected to be completed by the end of August, just before the revised deadline of September 11, established by the Biden administration in April.',
    'There is a continuing conflict between Afghan government troops and Taliban insurgents, who have lately captured considerable territory in rural regions and begun an attack towards major towns.',
    'Instability in Afghanistan is increasing as American forces depart, creating legitimate fears about the national government’s survival and the country’s overall destiny.',
]

FEH_TEASER = [
    "Russia is ready to help Afghanistan's neighbours defend their borders against any spillover of the conflict, "
    "Foreign Minister Sergei Lavrov said on Thursday, as Taliban fighters pressed their offensive in the north.",
    "Speaking in Vladivostok, Lavrov said Moscow had held talks with the Taliban and with the government in Kabul "
    "and urged both sides to agree on a transitional arrangement before the last U.S. troops leave.",
    "The minister said the Collective Security Treaty Organization was prepared to act if a member state came "
    "under attack from Afghan territory.",
]

CRICKET = [
    "Afghanistan's cricket team beat Uzbekistan by six wickets in a friendly match in Tashkent on Friday, "
    "watched by diplomats attending the regional connectivity conference.",
    "Foreign Minister Sergei Lavrov was among the guests in the stands, officials said, and met the players after "
    "the match.",
    "The Afghan side, missing several senior players, chased down the target with nine balls to spare.",
    "Fans in Kabul celebrated late into the night, according to local reporters.",
]

CENTRAL_BANK = [
    "Russia's central bank is expected to raise its key interest rate sharply next week as inflation runs at its "
    "fastest pace in five years, analysts said on Friday.",
    "Consumer prices rose 6.5% year on year in June, well above the bank's 4% target, driven by food prices and "
    "a rebound in consumer demand after the pandemic.",
    "Most economists polled expect an increase of at least 75 basis points at the July 23 meeting.",
]

GERMAN = [
    "Der russische Außenminister Sergej Lavrov hat den USA ein Scheitern in Afghanistan vorgeworfen. Die Mission "
    "sei gescheitert, das wisse jeder, sagte Lavrov am Freitag in der usbekischen Hauptstadt Taschkent.",
    "Der überstürzte Abzug der amerikanischen und der Nato-Truppen habe die Lage in dem Land rasch verschlechtert. "
    "Es bestehe die reale Gefahr, dass die Instabilität auf die Nachbarländer übergreife.",
    "Die radikalislamischen Taliban haben in den vergangenen Wochen zahlreiche Bezirke und Grenzübergänge unter "
    "ihre Kontrolle gebracht. Russland beobachtet den Vormarsch mit Sorge, weil es in Zentralasien Militärbasen "
    "unterhält.",
    "Tadschikistan hatte zuvor 20.000 Reservisten einberufen, um die Grenze zu Afghanistan zu sichern.",
]

ARTICLES = {
    "mt-failed": {"url": f"{MT}/2021/07/16/russia-says-us-mission-in-afghanistan-has-failed-a74537",
                  "title": "Russia Says U.S. Mission in Afghanistan Has Failed", "published": "2021-07-16",
                  "paragraphs": MT_FAILED, "expect": "kept"},
    "mt-hasty": {"url": f"{MT}/2021/07/16/russia-says-hasty-withdrawal-put-afghanistan-at-risk-a74530",
                 "title": "Russia Says 'Hasty Withdrawal' Put Afghanistan at Risk", "published": "2021-07-16",
                 "paragraphs": MT_HASTY, "expect": "kept"},
    "mt-rates": {"url": f"{MT}/2021/07/16/central-bank-expected-to-hike-rates-a74533",
                 "title": "Central Bank Expected to Hike Rates as Inflation Soars", "published": "2021-07-16",
                 "paragraphs": CENTRAL_BANK, "expect": "off_topic"},
    "mt-early": {"url": f"{MT}/2021/07/02/lavrov-warns-on-afghanistan-a74410",
                 "title": "Lavrov Warns on Afghanistan", "published": "2021-07-02",
                 "paragraphs": MT_HASTY[:4], "expect": "not fetched (before the window)"},
    "caw-failed": {"url": f"{CAW}/news/russia-says-us-failed-in-afghanistan",
                   "title": "Russia says US failed in Afghanistan", "published": "2021-07-16",
                   "paragraphs": WIRE_FAILED, "expect": "kept (near duplicate of mt-failed)"},
    "zh-insult": {"url": f"{ZH}/geopolitical/insult-injury-russia-declares-us-has-utterly-failed-after-20-years-afghanistan",
                  "title": "Insult To Injury: Russia Declares US Has Utterly \"Failed\" After 20 Years In Afghanistan",
                  "published": "2021-07-16", "paragraphs": ZH_INSULT, "expect": "kept"},
    "feh-fefu": {"url": f"{FEH}/world/2021/07/18/lavrov-us-withdrawal-admits-failure",
                 "title": "Lavrov: US withdrawal from Afghanistan admits failure of its mission",
                 "published": "2021-07-18", "paragraphs": FEFU, "expect": "kept"},
    "feh-teaser": {"url": f"{FEH}/world/2021/07/15/russia-ready-to-help-afghan-neighbours",
                   "title": "Russia ready to help Afghanistan's neighbours defend borders, Lavrov says",
                   "published": "2021-07-15", "paragraphs": FEH_TEASER, "expect": "kept (paywalled teaser)"},
    "feh-cricket": {"url": f"{FEH}/sport/2021/07/16/afghanistan-beat-uzbekistan-in-tashkent",
                    "title": "Afghanistan beat Uzbekistan in Tashkent friendly as Lavrov looks on",
                    "published": "2021-07-16", "paragraphs": CRICKET, "expect": "off_topic (cricket)"},
    "rs-german": {"url": f"{RS}/politik/ausland/lavrov-usa-afghanistan-gescheitert-100.html",
                  "title": "Lavrov: USA sind in Afghanistan gescheitert", "published": "2021-07-16",
                  "paragraphs": GERMAN, "expect": "off_language"},
}


def _paragraphs(paragraphs: list[str], inserts: dict[int, str] | None = None) -> str:
    """The body's <p> elements, with page furniture inserted before the given paragraph numbers."""
    html = []
    for number, text in enumerate(paragraphs):
        html.append((inserts or {}).get(number, ""))
        html.append(f"<p>{escape(text)}</p>")
    return "\n".join(html)


def _head(title: str, site: str, url: str, published: str, lang: str = "en", extra: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - {escape(site)}</title>
<link rel="canonical" href="{url}">
<meta property="og:type" content="article"><meta property="og:title" content="{escape(title)}">
<meta property="og:url" content="{url}"><meta property="og:site_name" content="{escape(site)}">
<meta property="article:published_time" content="{published}T12:42:00+03:00">
<link rel="stylesheet" href="/static/main.css">
<script async src="/static/analytics.js"></script>
{extra}</head>"""


def moscow_times_page(article: dict, related: list[tuple[str, str]]) -> str:
    """The Moscow Times: an ad-free banner, a caption, 'Read more' links and a donation appeal in the body."""
    appeal = """<div class="contribution-form" data-block="support-us">
<p class="contribution-form__title">Support The Moscow Times!</p>
<p>&hellip; we have a small favor to ask. As you may have heard, The Moscow Times, an independent news source for
over 30 years, has been unjustly branded as a "foreign agent" by the Russian government. This blatant attempt to
silence our voice is a direct assault on the integrity of journalism and the values we hold dear.</p>
<p>We, the journalists of The Moscow Times, refuse to be silenced. Our commitment to providing accurate and
unbiased reporting on Russia remains unshaken. But we need your help to continue our critical mission.</p>
<p>Your support, no matter how small, makes a world of difference. If you can, please support us monthly starting
from just $2. It's quick to set up, and you can be confident that you're making a significant impact every month
by supporting open, independent journalism. Thank you.</p>
<div class="contribution-form__options"><span>Monthly</span><span>One-time</span><span>$2</span><span>$5</span>
<span>$10</span><a class="button" href="/contribute">Continue</a></div>
<p class="contribution-form__methods">paiment methods</p>
<p>Not ready to support today?<br><a href="#" class="remind-later">Remind me later.</a></p>
</div>"""
    body = list(article["paragraphs"])
    tail = ""
    if body and body[-1].startswith("The Taliban is a terrorist organization"):
        tail = f'<p class="article__disclaimer">{escape(body.pop())}</p>'
    links = "".join(f'<li class="related__item"><a href="{u}">{escape(t)}</a></li>' for u, t in related)
    return _head(article["title"], "The Moscow Times", article["url"], article["published"]) + f"""
<body class="article-page">
<div class="ad-free-banner"><p>Enjoying ad-free content?</p>
<p>Since July 1, 2024, we have disabled all ads to improve your reading experience.</p>
<p>This commitment costs us $10,000 a month. Your support can help us fill the gap.</p>
<a href="/contribute">Support us</a>
<p>Our journalism is banned in Russia. We need your help to keep providing you with the truth.</p></div>
<header class="header"><a class="header__logo" href="/">The Moscow Times</a>
<nav class="header__nav"><a href="/news">News</a> <a href="/opinion">Opinion</a> <a href="/business">Business</a>
<a href="/arts-and-life">Arts and Life</a> <a href="/podcasts">Podcasts</a> <a href="/newsletters">Newsletters</a>
<a href="/contribute" class="header__support">Support us</a></nav></header>
<main>
<article class="article">
<div class="article__header"><h1>{escape(article["title"])}</h1>
<div class="article__byline byline"><span class="byline__author">By AFP</span>
<time class="byline__datetime" datetime="{article["published"]}T12:42:00+03:00">July 16, 2021</time></div></div>
<figure class="article__featured-image"><img src="/media/bagram.jpg" alt="">
<figcaption>Bagram Airfield base in Afghanistan after all U.S. and NATO left. July 8, 2021 <span>TASS</span>
</figcaption></figure>
<div class="article__content">
{_paragraphs(body)}
{tail}
{appeal}
</div>
<div class="article__tags"><a href="/tags/afghanistan">Afghanistan</a> <a href="/tags/taliban">Taliban</a></div>
</article>
<section class="related"><h3>Read more</h3><ul>{links}</ul></section>
</main>
<footer class="footer"><p>&copy; The Moscow Times, all rights reserved.</p>
<a href="/about">About us</a> <a href="/privacy">Privacy Policy</a> <a href="/contacts">Contacts</a></footer>
</body></html>
"""


def central_asia_wire_page(article: dict, related: list[tuple[str, str]]) -> str:
    """Central Asia Wire: an agency copy with a newsletter box and a 'Read also' line inside the body."""
    newsletter = """<aside class="inline-newsletter"><form action="/newsletter" method="post">
<h4>The Central Asia Brief</h4><p>Sign up for our free weekly newsletter and get the region's top stories in your
inbox every Monday.</p><input type="email" name="email" placeholder="Your email"><button>Sign up</button>
</form></aside>"""
    read_also = f'<p><strong>Read also:</strong> <a href="{related[0][0]}">{escape(related[0][1])}</a></p>'
    links = "".join(f'<li><a href="{u}">{escape(t)}</a></li>' for u, t in related)
    return _head(article["title"], "Central Asia Wire", article["url"], article["published"]) + f"""
<body>
<div id="cookie-consent" class="cookie-banner" role="dialog"><p>We use cookies to improve your experience on our
site. By continuing to browse you accept our use of cookies.</p><button>Accept</button></div>
<header><div class="logo"><a href="/">Central Asia Wire</a></div>
<ul class="menu"><li><a href="/news/">News</a></li><li><a href="/kazakhstan/">Kazakhstan</a></li>
<li><a href="/uzbekistan/">Uzbekistan</a></li><li><a href="/tajikistan/">Tajikistan</a></li>
<li><a href="/afghanistan/">Afghanistan</a></li></ul></header>
<div class="container"><div class="content">
<h1 class="entry-title">{escape(article["title"])}</h1>
<div class="entry-meta">Agence France-Presse | <time datetime="{article["published"]}">16 July 2021</time></div>
<div class="entry-content">
{_paragraphs(article["paragraphs"], {4: read_also, 8: newsletter})}
</div>
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Share on Twitter</a></div>
</div>
<div class="sidebar"><h3>Most read</h3><ul>{links}</ul></div></div>
<footer><p>Central Asia Wire &copy; 2021</p></footer>
</body></html>
"""


def zerohedge_page(article: dict) -> str:
    """ZeroHedge: an author block with photo, and a premium subscription prompt in the middle of the text."""
    caption = ('<figure class="ArticleImage"><img src="/s3/files/ghani-lavrov.jpg" alt="">'
               "<figcaption>Ashraf Ghani and Sergei Lavrov</figcaption></figure>")
    premium = """<div class="PremiumBanner_container premium-upsell"><p>Get ZeroHedge Premium: ad-free reading,
exclusive market analysis and more.</p><p><a href="/premium">Subscribe now</a> &middot; Already a subscriber?
<a href="/user/login">Log in</a></p></div>"""
    return _head(article["title"], "ZeroHedge", article["url"], article["published"]) + f"""
<body>
<header class="Header_header"><a href="/">ZeroHedge</a>
<nav><a href="/markets">Markets</a> <a href="/political">Political</a> <a href="/geopolitical">Geopolitical</a>
<a href="/technology">Technology</a> <a href="/premium">Premium</a></nav></header>
<main class="ArticleFull_container">
<article>
<header><h1 class="ArticleFull_title">{escape(article["title"])}</h1>
<div class="ArticleFull_headerFooter"><img src="/avatar/tyler.png" alt="Tyler Durden's Photo">
<span class="ContributorArticleFull_name">by Tyler Durden</span>
<span class="ContributorArticleFull_date">Friday, Jul 16, 2021 - 10:40 PM</span></div></header>
<div class="NodeContent_body">
{_paragraphs(article["paragraphs"], {3: caption, 6: premium})}
</div>
</article>
<section class="ArticleFull_comments"><h3>Comments</h3><p>Log in to see the comments.</p></section>
</main>
<footer><p>&copy; 2009-2021 ZeroHedge.com/ABC Media, LTD</p></footer>
</body></html>
"""


def far_east_herald_page(article: dict, paywalled: bool = False) -> str:
    """Far East Herald: a plain layout; its paywalled articles show a teaser and a subscription wall."""
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
          f'"headline": "{escape(article["title"])}", "datePublished": "{article["published"]}", '
          f'"isAccessibleForFree": {"false" if paywalled else "true"}}}</script>')
    wall = """<div class="paywall" id="regwall"><h3>This article is for subscribers</h3>
<p>Subscribe to the Far East Herald for unlimited access to our journalism. Cancel any time.</p>
<p><a href="/subscribe">Subscribe for $1</a> Already a subscriber? <a href="/login">Sign in</a></p></div>"""
    return _head(article["title"], "Far East Herald", article["url"], article["published"], extra=ld) + f"""
<body>
<header><h2><a href="/">Far East Herald</a></h2><nav><a href="/world/">World</a> <a href="/russia/">Russia</a>
<a href="/asia/">Asia</a> <a href="/sport/">Sport</a></nav></header>
<article class="story">
<h1>{escape(article["title"])}</h1>
<p class="dateline">Vladivostok, {article["published"]}</p>
<div class="story-body">
{_paragraphs(article["paragraphs"])}
{wall if paywalled else ""}
</div>
</article>
<footer>Far East Herald, Vladivostok</footer>
</body></html>
"""


def rundschau_page(article: dict) -> str:
    """Rundschau 24: a German article with a German support appeal."""
    appeal = """<div class="unterstuetzen-box"><p>Unterstützen Sie unabhängigen Journalismus!</p>
<p>Mit einem freiwilligen Beitrag helfen Sie uns, weiterhin kostenlos zu berichten.</p>
<a href="/unterstuetzen">Jetzt unterstützen</a></div>"""
    return _head(article["title"], "Rundschau 24", article["url"], article["published"], lang="de") + f"""
<body>
<header><a href="/">Rundschau 24</a><nav><a href="/politik/">Politik</a> <a href="/wirtschaft/">Wirtschaft</a>
</nav></header>
<article><h1>{escape(article["title"])}</h1><p class="autor">Von Anna Becker</p>
<div class="artikel-text">{_paragraphs(article["paragraphs"], {2: appeal})}</div></article>
<footer>&copy; Rundschau 24</footer>
</body></html>
"""


def _listing(title: str, links: list[tuple[str, str]], next_url: str | None = None, feed: str | None = None) -> str:
    items = "".join(f'<li class="teaser"><h3><a href="{u}">{escape(t)}</a></h3></li>' for u, t in links)
    pager = f'<a class="next" rel="next" href="{next_url}">Next page</a>' if next_url else ""
    alternate = f'<link rel="alternate" type="application/rss+xml" title="RSS" href="{feed}">' if feed else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{alternate}'
            f'</head><body><header><a href="/">{escape(title)}</a></header><main><ul class="teasers">{items}'
            f"</ul>{pager}</main><footer>{escape(title)}</footer></body></html>")


def _rss(title: str, items: list[dict]) -> str:
    entries = "".join(
        f"<item><title>{escape(a['title'])}</title><link>{a['url']}</link><guid>{a['url']}</guid>"
        f"<pubDate>{a['rfc822']}</pubDate><description>{escape(a['paragraphs'][0][:200])}</description></item>"
        for a in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>http://example.invalid/</link><description>{escape(title)}"
            f"</description>{entries}</channel></rss>")


FEFU_EDITED = {  # the Far East Herald's story a day later: a new headline and a correction appended
    "title": "Lavrov: US pullout from Afghanistan is an admission that its mission failed",
    "paragraphs": FEFU + ["Correction: An earlier version of this article said Lavrov spoke to students in "
                          "Vladivostok on Friday. He spoke on Saturday."],
}


def build_site(server, edited: bool = False) -> None:
    """Register every page of the example's outlets on a ``tests.support.sites.SiteServer``; ``edited``: as a
    day later, when the Far East Herald has rewritten one story's headline and appended a correction."""
    from tests.support.sites import Reply, news_sitemap, robots_txt

    a = dict(ARTICLES, **({"feh-fefu": dict(ARTICLES["feh-fefu"], **FEFU_EDITED)} if edited else {}))
    html = [("Content-Type", "text/html; charset=utf-8")]
    rss = [("Content-Type", "application/rss+xml; charset=utf-8")]
    xml = [("Content-Type", "application/xml; charset=utf-8")]
    related = [(a["mt-hasty"]["url"], a["mt-hasty"]["title"]), (a["mt-rates"]["url"], a["mt-rates"]["title"])]

    # The Moscow Times: robots.txt -> Google News sitemap
    server.route(f"{MT}/robots.txt", robots_txt(disallow=["/search"], sitemaps=[f"{MT}/sitemap_news.xml"]))
    server.route(f"{MT}/", Reply(body=_listing("The Moscow Times", related), headers=html))
    server.route(f"{MT}/sitemap_news.xml", Reply(body=news_sitemap(
        [{"url": a[k]["url"], "title": a[k]["title"], "published": a[k]["published"]}
         for k in ("mt-failed", "mt-hasty", "mt-rates", "mt-early")], publication="The Moscow Times"), headers=xml))
    server.route(a["mt-failed"]["url"], Reply(body=moscow_times_page(a["mt-failed"], related), headers=html,
                                              gzip=True))
    server.route(a["mt-hasty"]["url"], Reply(body=moscow_times_page(a["mt-hasty"], related[1:] + [
        (a["mt-failed"]["url"], a["mt-failed"]["title"])]), headers=html, gzip=True))
    server.route(a["mt-rates"]["url"], Reply(body=moscow_times_page(a["mt-rates"], related[:1]), headers=html,
                                             gzip=True))
    server.route(a["mt-early"]["url"], Reply(body=moscow_times_page(a["mt-early"], related), headers=html))

    # Central Asia Wire: a configured RSS feed (the agency copy appears twice, once with tracking parameters)
    caw = dict(a["caw-failed"], rfc822="Fri, 16 Jul 2021 11:05:00 GMT")
    tracked = dict(caw, url=caw["url"] + "?utm_source=rss&utm_medium=feed")
    server.route(f"{CAW}/robots.txt", robots_txt())
    server.route(f"{CAW}/", Reply(body=_listing("Central Asia Wire", [(caw["url"], caw["title"])]), headers=html))
    server.route(f"{CAW}/feed/", Reply(body=_rss("Central Asia Wire", [caw, tracked]), headers=rss))
    server.route(caw["url"], Reply(body=central_asia_wire_page(caw, related), headers=html, chunked=True))

    # ZeroHedge: the feed is found on the home page (<link rel=alternate>)
    zh = dict(a["zh-insult"], rfc822="Fri, 16 Jul 2021 19:40:00 GMT")
    server.route(f"{ZH}/robots.txt", robots_txt(disallow=["/user/"]))
    server.route(f"{ZH}/", Reply(body=_listing("ZeroHedge", [(zh["url"], zh["title"])], feed=f"{ZH}/fullrss2.xml"),
                                 headers=html))
    server.route(f"{ZH}/fullrss2.xml", Reply(body=_rss("ZeroHedge", [zh]), headers=rss))
    server.route(zh["url"], Reply(body=zerohedge_page(zh), gzip=True, headers=html + [
        ("Set-Cookie", "session=zh1; Path=/; HttpOnly"), ("Set-Cookie", "consent=pending; Path=/")]))

    # Far East Herald: a paginated section; one article is a paywalled teaser
    server.route(f"{FEH}/robots.txt", robots_txt())
    server.route(f"{FEH}/", Reply(body=_listing("Far East Herald", []), headers=html))
    server.route(f"{FEH}/world/", Reply(body=_listing("World - Far East Herald", [
        (a["feh-teaser"]["url"], a["feh-teaser"]["title"]), (a["feh-cricket"]["url"], a["feh-cricket"]["title"])],
        next_url=f"{FEH}/world/?page=2"), headers=html))
    server.route(f"{FEH}/world/?page=2", Reply(body=_listing("World - Far East Herald, page 2", [
        (a["feh-fefu"]["url"], a["feh-fefu"]["title"])]), headers=html))
    server.route(a["feh-fefu"]["url"], Reply(body=far_east_herald_page(a["feh-fefu"]), headers=html))
    server.route(a["feh-teaser"]["url"], Reply(body=far_east_herald_page(a["feh-teaser"], paywalled=True),
                                               headers=html))
    server.route(a["feh-cricket"]["url"], Reply(body=far_east_herald_page(a["feh-cricket"]), headers=html))

    # Rundschau 24: a search page; its article is in German
    server.route(f"{RS}/robots.txt", robots_txt())
    server.route(f"{RS}/", Reply(body=_listing("Rundschau 24", []), headers=html))
    server.route(f"{RS}/suche?q=Lavrov+Afghan+Taliban", Reply(body=_listing("Suche - Rundschau 24", [
        (a["rs-german"]["url"], a["rs-german"]["title"])]), headers=html))
    server.route(a["rs-german"]["url"], Reply(body=rundschau_page(a["rs-german"]), headers=html))
