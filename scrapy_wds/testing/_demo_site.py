"""A small, deterministic book shop to crawl: the target of every demo and test.

Layout (all links relative, so the site works on whatever port it gets)::

    /  and /index.html                      home: category list, contact links, admin/, off-site links
    /robots.txt                             disallows /admin/
    /catalogue/category/<cat>/page-<n>.html 10 books per page, next/previous links,
                                            a footer link that answers 404
    /catalogue/category/<cat>/contact.html  the category desk's contact details
    /catalogue/book/<book>.html             one book: title, price, availability, rating, UPC…
    /contact.html, /about/team.html         contact details (mailto:, tel:, social links)
    /__truth__/books.json                   what a correct scraper extracts, one object per book
    /__truth__/contacts.json                what a correct contact finder reports, per page

The data comes from :mod:`scrapy_wds.testing._demo_catalogue`; this module
only turns it into HTML and serves it.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiohttp import web

from scrapy_wds.testing._demo_catalogue import (
    BOOKS_PER_PAGE,
    Book,
    Category,
    ContactPage,
    books,
    categories,
    contact_pages,
)
from scrapy_wds.testing._server import EmulatorServer, json_body

SITE_NAME = "Demo Books"

ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\n"

# Off-site links on the home page: a client that keeps to the site's domain
# never asks for them (and ".invalid" never resolves, should one try).
OFF_SITE_LINKS = (
    ("http://example.invalid/partners.html", "Our partners"),
    ("https://example.invalid/blog/", "Blog"),
)

_SOCIAL_LABELS = {
    "linkedin": "LinkedIn",
    "xcom": "X",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "dribbble": "Dribbble",
    "clutch": "Clutch",
}


def _link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def _document(title: str, body: str, footer: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)} | {SITE_NAME}</title>\n</head>\n<body>\n"
        f"{body}\n"
        f'<div class="footer">{footer}</div>\n'
        "</body>\n</html>\n"
    )


def _home_page(cats: list[Category]) -> str:
    items = "\n".join(f"<li>{_link(c.page_path(1).lstrip('/'), c.name)}</li>" for c in cats)
    off_site = " ".join(_link(href, text) for href, text in OFF_SITE_LINKS)
    body = (
        f"<h1>{SITE_NAME}</h1>\n"
        f'<ul class="categories">\n{items}\n</ul>\n'
        '<ul class="links">'
        f"<li>{_link('contact.html', 'Contact us')}</li>"
        f"<li>{_link('about/team.html', 'Our team')}</li>"
        f"<li>{_link('admin/', 'Staff area')}</li>"
        "</ul>\n"
        f'<p class="elsewhere">{off_site}</p>'
    )
    return _document("Home", body, "<p>A made-up shop for trying out crawlers.</p>")


def _category_page(category: Category, page: int, page_books: list[Book], broken: int) -> str:
    articles = "\n".join(
        f'<article class="book"><h3>{_link("../../book/" + b.slug + ".html", b.title)}</h3></article>'
        for b in page_books
    )
    pager = []
    if page > 1:
        pager.append(f'<li class="previous">{_link(f"page-{page - 1}.html", "previous")}</li>')
    pager.append(f'<li class="current">Page {page} of {category.page_count}</li>')
    if page < category.page_count:
        pager.append(f'<li class="next">{_link(f"page-{page + 1}.html", "next")}</li>')
    body = (
        f'<ul class="breadcrumb"><li>{_link("../../../index.html", "Home")}</li>'
        f'<li class="active">{escape(category.name)}</li></ul>\n'
        f"<h1>{escape(category.name)}</h1>\n"
        f'<section class="books">\n{articles}\n</section>\n'
        f'<ul class="pager">{"".join(pager)}</ul>'
    )
    footer = (
        f"{_link('contact.html', f'Contact the {category.name} desk')} "
        # Deliberately broken: a crawler must survive (and report) the 404.
        f"{_link(f'../../book/out-of-print-{broken}.html', 'Out of print')}"
    )
    return _document(f"{category.name} (page {page} of {category.page_count})", body, footer)


def _book_page(book: Book) -> str:
    body = (
        f'<ul class="breadcrumb"><li>{_link("../../index.html", "Home")}</li>'
        f'<li class="category">{_link(f"../category/{book.category.slug}/page-1.html", book.category.name)}</li></ul>\n'
        '<div class="product">'
        f"<h1>{escape(book.title)}</h1>"
        f'<p class="price">{escape(book.price)}</p>'
        f'<p class="availability">{escape(book.availability)}</p>'
        f'<p class="rating">{escape(book.rating)}</p>'
        f'<table class="info"><tr><th>UPC</th><td class="upc">{escape(book.upc)}</td></tr></table>'
        "</div>\n"
        f'<div id="description"><p>{escape(book.description)}</p></div>'
    )
    return _document(book.title, body, _link("../../contact.html", "Contact us"))


def _contact_page(page: ContactPage) -> str:
    parts = [f"<h1>{escape(page.heading)}</h1>"]
    if page.emails_linked:
        links = "".join(f"<li>{_link('mailto:' + e, e)}</li>" for e in page.emails_linked)
        parts.append(f'<ul class="emails">{links}</ul>')
    for email in page.emails_plain:
        parts.append(f"<p>You can also write to {escape(email)} at any time</p>")
    if page.phones_linked:
        links = "".join(f"<li>{_link('tel:' + p, p)}</li>" for p in page.phones_linked)
        parts.append(f'<ul class="phones">{links}</ul>')
    for phone in page.phones_plain:
        parts.append(f"<p>Call {escape(phone)} on weekdays</p>")
    if page.social:
        links = "".join(f"<li>{_link(url, _SOCIAL_LABELS[kind])}</li>" for kind, url in page.social)
        parts.append(f'<ul class="social">{links}</ul>')
    return _document(page.heading, "\n".join(parts), _link(page.home_href, "Back to the shop"))


def _not_found_page() -> str:
    return _document("Not found", "<h1>Not found</h1>\n<p>No such page.</p>", "")


def _admin_page() -> str:
    return _document("Staff area", "<h1>Staff area</h1>\n<p>Robots keep out.</p>", "")


def render_site() -> dict[str, str]:
    """Every page of the site, by path (the ``/admin/`` area and the 404s aside)."""
    cats = categories()
    all_books = books()
    pages = {"/": _home_page(cats)}
    pages["/index.html"] = pages["/"]
    broken = 0
    for category in cats:
        own = [b for b in all_books if b.category == category]
        for page in range(1, category.page_count + 1):
            broken += 1
            chunk = own[(page - 1) * BOOKS_PER_PAGE : page * BOOKS_PER_PAGE]
            pages[category.page_path(page)] = _category_page(category, page, chunk, broken)
    for book in all_books:
        pages[book.path] = _book_page(book)
    for contact in contact_pages():
        pages[contact.path] = _contact_page(contact)
    return pages


class DemoSite(EmulatorServer):
    """The demo book shop, served on loopback; see the module docstring for its map.

    ``truth()`` and ``contacts_truth()`` give, from Python, the same records as
    ``/__truth__/books.json`` and ``/__truth__/contacts.json``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self._books = books()
        self._contact_pages = contact_pages()
        self._pages = render_site()
        self._not_found = _not_found_page()
        self._admin = _admin_page()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/__truth__/books.json", self._books_truth)
        app.router.add_get("/__truth__/contacts.json", self._contacts_truth)
        app.router.add_get("/{path:.*}", self._page)

    # -- truth -------------------------------------------------------------

    def truth(self) -> list[dict[str, Any]]:
        """One record per book, ordered by URL, exactly as a correct scraper extracts it."""
        return sorted((b.truth(self.url) for b in self._books), key=lambda r: r["url"])

    def contacts_truth(self) -> dict[str, dict[str, list[str]]]:
        """Absolute URL of each contact page → the contacts on it, by kind."""
        return {self.url + page.path: page.truth() for page in self._contact_pages}

    def page_paths(self) -> list[str]:
        """Paths of every page that answers 200 (robots.txt and the admin area aside)."""
        return sorted(self._pages)

    # -- handlers ----------------------------------------------------------

    async def _robots(self, request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS_TXT, content_type="text/plain")

    async def _books_truth(self, request: web.Request) -> web.Response:
        return json_body(self.truth())

    async def _contacts_truth(self, request: web.Request) -> web.Response:
        return json_body(self.contacts_truth())

    async def _page(self, request: web.Request) -> web.Response:
        path = request.path
        if path in self._pages:
            return _html(200, self._pages[path])
        if path.startswith("/admin/"):
            return _html(200, self._admin)
        return _html(404, self._not_found)


def _html(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8")
