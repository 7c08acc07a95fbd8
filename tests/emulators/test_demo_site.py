"""The demo site keeps its contract: the pages say what its truth says, and nothing else."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import urllib.robotparser
from collections import deque
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from scrapy_wds.testing import DemoSite

CATEGORY_COUNT = 8
BOOKS_PER_CATEGORY = 25


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def page(url: str) -> Selector:
    status, text = fetch(url)
    assert status == 200, f"{url} answered {status}"
    return Selector(text=text)


def category_urls(site: DemoSite) -> list[str]:
    home = site.url + "/"
    return [urljoin(home, href) for href in page(home).css("ul.categories a::attr(href)").getall()]


def test_truth_has_every_book_once_ordered_by_url(demo_site: DemoSite) -> None:
    truth = demo_site.truth()
    assert len(truth) == CATEGORY_COUNT * BOOKS_PER_CATEGORY
    urls = [book["url"] for book in truth]
    assert urls == sorted(urls)
    assert len(set(urls)) == len(urls)
    assert all(url.startswith(demo_site.url + "/catalogue/book/") for url in urls)
    per_category: dict[str, int] = {}
    for book in truth:
        assert set(book) == {
            "url",
            "title",
            "price",
            "availability",
            "rating",
            "upc",
            "category",
            "description",
        }
        assert all(
            isinstance(value, str) and value == value.strip() and value for value in book.values()
        )
        per_category[book["category"]] = per_category.get(book["category"], 0) + 1
    assert per_category == dict.fromkeys(per_category, BOOKS_PER_CATEGORY)
    assert len(per_category) == CATEGORY_COUNT


def test_truth_endpoints_match_the_python_side(demo_site: DemoSite) -> None:
    status, books = fetch(demo_site.url + "/__truth__/books.json")
    assert status == 200
    assert json.loads(books) == demo_site.truth()
    status, contacts = fetch(demo_site.url + "/__truth__/contacts.json")
    assert status == 200
    assert json.loads(contacts) == demo_site.contacts_truth()


def test_listings_paginate_ten_per_page(demo_site: DemoSite) -> None:
    categories = category_urls(demo_site)
    assert len(categories) == CATEGORY_COUNT
    for first in categories:
        assert first.endswith("/page-1.html")
        sizes, url, previous = [], first, None
        while True:
            listing = page(url)
            sizes.append(len(listing.css("article.book")))
            previous_href = listing.css("li.previous a::attr(href)").get()
            assert (urljoin(url, previous_href) if previous_href else None) == previous
            next_href = listing.css("li.next a::attr(href)").get()
            if next_href is None:
                break
            previous, url = url, urljoin(url, next_href)
        assert sizes == [10, 10, 5]


def test_every_listed_book_page_matches_its_truth(demo_site: DemoSite) -> None:
    truth = {book["url"]: book for book in demo_site.truth()}
    seen = []
    for first in category_urls(demo_site):
        for n in (1, 2, 3):
            url = first.replace("page-1.html", f"page-{n}.html")
            seen += [
                urljoin(url, h) for h in page(url).css("article.book h3 a::attr(href)").getall()
            ]
    assert sorted(seen) == sorted(truth)
    for url in seen:
        detail = page(url)
        product = detail.css("div.product")
        assert {
            "url": url,
            "title": product.css("h1::text").get(),
            "price": product.css("p.price::text").get(),
            "availability": product.css("p.availability::text").get(),
            "rating": product.css("p.rating::text").get(),
            "upc": product.css("table.info td.upc::text").get(),
            "category": detail.css("ul.breadcrumb li.category a::text").get(),
            "description": detail.css("#description p::text").get(),
        } == truth[url]
        category_link = urljoin(url, detail.css("ul.breadcrumb li.category a::attr(href)").get())
        assert category_link.endswith("/page-1.html") and category_link in category_urls(demo_site)


def test_awkward_characters_are_escaped_in_pages_and_plain_in_truth(demo_site: DemoSite) -> None:
    tricky = [b for b in demo_site.truth() if "&" in b["title"] or "'" in b["title"]]
    assert any("&" in b["title"] for b in tricky) and any("'" in b["title"] for b in tricky)
    for book in tricky[:3]:
        status, text = fetch(book["url"])
        assert status == 200
        assert book["title"] not in text  # raw '&' or "'" never reaches the HTML
        assert Selector(text=text).css("div.product h1::text").get() == book["title"]


def test_whole_site_crawl_reaches_every_page_and_only_footer_links_break(
    demo_site: DemoSite,
) -> None:
    """Breadth-first crawl from / the way a polite crawler would (same host, robots obeyed)."""
    calls_before = len(demo_site.calls())
    robots = urllib.robotparser.RobotFileParser(demo_site.url + "/robots.txt")
    robots.read()
    host = urlsplit(demo_site.url).netloc
    start = demo_site.url + "/"
    queue, seen, statuses = deque([start]), {start}, {}
    off_site, disallowed = set(), set()
    for_footer_only: set[str] = set()
    while queue:
        url = queue.popleft()
        status, text = fetch(url)
        statuses[url] = status
        if status != 200:
            continue
        selector = Selector(text=text)
        for href in selector.css("div.footer a::attr(href)").getall():
            for_footer_only.add(urljoin(url, href))
        for href in selector.css("a::attr(href)").getall():
            if href.startswith(("mailto:", "tel:")):
                continue
            target = urljoin(url, href)
            if urlsplit(target).netloc != host:
                off_site.add(target)
                continue
            # Links inside the site are all relative.
            assert not urlsplit(href).scheme and not href.startswith("/"), (url, href)
            if not robots.can_fetch("*", target):
                disallowed.add(target)
            elif target not in seen:
                seen.add(target)
                queue.append(target)
    ok = {urlsplit(u).path for u, s in statuses.items() if s == 200}
    assert ok == set(demo_site.page_paths())
    broken = {u for u, s in statuses.items() if s != 200}
    assert {statuses[u] for u in broken} == {404}
    # One broken footer link per category page, never a book link.
    assert len(broken) == CATEGORY_COUNT * 3
    assert broken <= for_footer_only
    assert not broken & {b["url"] for b in demo_site.truth()}
    assert disallowed == {demo_site.url + "/admin/"}
    assert any(u.startswith("http://example.invalid/") for u in off_site)
    # The call log saw this crawl, and no request to /admin/.
    crawl_calls = demo_site.calls()[calls_before:]
    assert len(crawl_calls) == len(statuses) + 1  # + robots.txt
    assert not any(c["path"].startswith("/admin/") for c in crawl_calls)


def test_robots_txt_disallows_admin_which_still_answers(demo_site: DemoSite) -> None:
    status, text = fetch(demo_site.url + "/robots.txt")
    assert status == 200
    assert text.splitlines() == ["User-agent: *", "Disallow: /admin/"]
    # The admin area answers, so a crawler that ignores robots.txt shows up in the call log.
    assert fetch(demo_site.url + "/admin/")[0] == 200
    assert demo_site.calls()[-1]["path"] == "/admin/"
    assert demo_site.calls()[-1]["status"] == 200


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"\+\d{7,15}")
SOCIAL_HOSTS = {
    "linkedin": ("linkedin.com",),
    "xcom": ("x.com", "twitter.com"),
    "facebook": ("facebook.com",),
    "instagram": ("instagram.com",),
    "dribbble": ("dribbble.com",),
    "clutch": ("clutch.co",),
}


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def test_contacts_truth_matches_the_pages(demo_site: DemoSite) -> None:
    truth = demo_site.contacts_truth()
    assert demo_site.url + "/contact.html" in truth
    assert demo_site.url + "/about/team.html" in truth
    assert len(truth) == 2 + CATEGORY_COUNT
    kinds_missing_somewhere = set()
    for url, expected in truth.items():
        selector = page(url)
        hrefs = selector.css("a::attr(href)").getall()
        text = " ".join(selector.css("body *::text").getall())
        found = {
            "emails": _unique(
                [h[7:] for h in hrefs if h.startswith("mailto:")] + EMAIL.findall(text)
            ),
            "phoneNumbers": _unique(
                [h[4:] for h in hrefs if h.startswith("tel:")] + PHONE.findall(text)
            ),
        }
        for kind, hosts in SOCIAL_HOSTS.items():
            found[kind] = _unique(
                [h for h in hrefs if (urlsplit(h).hostname or "").removeprefix("www.") in hosts]
            )
        assert found == expected, url
        kinds_missing_somewhere |= {kind for kind, values in expected.items() if not values}
    # Some pages lack some kinds, so a finder must report empty lists.
    assert {"phoneNumbers", "xcom", "clutch", "dribbble"} <= kinds_missing_somewhere


def test_unknown_pages_answer_404_in_html(demo_site: DemoSite) -> None:
    status, text = fetch(demo_site.url + "/catalogue/book/no-such-book.html")
    assert status == 404
    assert Selector(text=text).css("title::text").get("").startswith("Not found")
    assert demo_site.calls()[-1]["status"] == 404


def test_two_sites_serve_the_same_shop() -> None:
    first, second = DemoSite(), DemoSite()
    with first, second:
        assert first.url != second.url

        def relative(data: object, site: DemoSite) -> str:
            return json.dumps(data).replace(site.url, "")

        assert relative(first.truth(), first) == relative(second.truth(), second)
        assert relative(first.contacts_truth(), first) == relative(second.contacts_truth(), second)
        for path in ["/", first.page_paths()[5], first.truth()[17]["url"][len(first.url) :]]:
            assert fetch(first.url + path) == fetch(second.url + path)
