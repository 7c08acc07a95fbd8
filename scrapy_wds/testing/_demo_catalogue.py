"""The demo site's data: 8 categories of 25 books and a handful of contact pages.

Everything here is pure arithmetic on fixed word lists (no random generator,
no clock), so every run, every process and every machine sees the same site:
tests can compare a crawl against :func:`books` and :func:`contact_pages`
without hard-coding a single value.

Some titles and category names contain an ampersand, an apostrophe or an
accented letter on purpose: the pages HTML-escape them, the truth holds them
plain, so a client that forgets to unescape (or mangles UTF-8) is caught.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

BOOKS_PER_CATEGORY = 25
BOOKS_PER_PAGE = 10

CATEGORY_NAMES = (
    "Travel",
    "Mystery",
    "Historical Fiction",
    "Science & Nature",
    "Poetry",
    "Children's",
    "Food & Drink",
    "Philosophy",
)

# 20 x 20 words; book n pairs adjective n % 20 with noun (n // 20 + n) % 20,
# which gives 200 distinct titles.
_ADJECTIVES = (
    "Quiet",
    "Sailor's",
    "Crimson",
    "Hidden",
    "Winter's",
    "Golden",
    "Silent",
    "Forgotten",
    "Distant",
    "Painted",
    "Broken",
    "Northern",
    "Wandering",
    "Midnight",
    "Paper",
    "Hollow",
    "Restless",
    "Copper",
    "Gentle",
    "Last",
)
_NOUNS = (
    "Garden",
    "Salt & Stone",
    "Lighthouse",
    "Café",
    "River",
    "Orchard",
    "Compass",
    "Harbour",
    "Bread & Butter",
    "Mountain",
    "Library",
    "Lantern",
    "Meadow",
    "Railway",
    "Kingdom",
    "Island",
    "Clockmaker",
    "Voyage",
    "Archive",
    "Tide",
)
_SUBJECTS = (
    "an unlikely friendship",
    "a family secret",
    "a long journey home",
    "the end of a summer",
    "a village & its keeper",
    "a stolen map",
    "the last letter",
    "a borrowed name",
    "a forgotten recipe",
    "a winter's promise",
    "a missing brother",
)
_PLACES = (
    "a coastal town",
    "the northern hills",
    "an old city",
    "a quiet valley",
    "a crowded port",
    "a mountain pass",
    "a river delta",
)

CONTACT_KINDS = (
    "emails",
    "phoneNumbers",
    "linkedin",
    "xcom",
    "facebook",
    "instagram",
    "dribbble",
    "clutch",
)


def slugify(text: str) -> str:
    """URL slug: lower case, '&' spelled out, apostrophes dropped, '-' between words."""
    text = text.lower().replace("&", " and ").replace("'", "")
    text = text.replace("é", "e")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@dataclass(frozen=True)
class Category:
    name: str
    slug: str
    index: int

    def page_path(self, page: int) -> str:
        return f"/catalogue/category/{self.slug}/page-{page}.html"

    @property
    def contact_path(self) -> str:
        return f"/catalogue/category/{self.slug}/contact.html"

    @property
    def page_count(self) -> int:
        return -(-BOOKS_PER_CATEGORY // BOOKS_PER_PAGE)


@dataclass(frozen=True)
class Book:
    number: int  # 0..199, category-major
    slug: str
    title: str
    price: str
    availability: str
    rating: str
    upc: str
    category: Category
    description: str

    @property
    def path(self) -> str:
        return f"/catalogue/book/{self.slug}.html"

    def truth(self, base_url: str) -> dict[str, str]:
        """The record a correct scraper extracts from this book's detail page."""
        return {
            "url": base_url + self.path,
            "title": self.title,
            "price": self.price,
            "availability": self.availability,
            "rating": self.rating,
            "upc": self.upc,
            "category": self.category.name,
            "description": self.description,
        }


def categories() -> list[Category]:
    return [Category(name, slugify(name), i) for i, name in enumerate(CATEGORY_NAMES)]


def _book(number: int, category: Category) -> Book:
    title = f"The {_ADJECTIVES[number % 20]} {_NOUNS[(number // 20 + number) % 20]}"
    pounds, pence = 5 + (number * 37) % 50, (number * 53 + 9) % 100
    subject = _SUBJECTS[(number * 7) % len(_SUBJECTS)]
    place = _PLACES[(number * 3) % len(_PLACES)]
    return Book(
        number=number,
        slug=f"{slugify(title)}_{number + 1}",
        title=title,
        price=f"£{pounds}.{pence:02d}",
        availability=f"In stock ({1 + (number * 7) % 23} available)",
        rating=str(1 + (number * 3) % 5),
        upc=hashlib.sha256(f"demo-book-{number}".encode()).hexdigest()[:16],
        category=category,
        description=f"A story about {subject}, set in {place}.",
    )


def books() -> list[Book]:
    """All 200 books, category by category, in listing order."""
    return [
        _book(category.index * BOOKS_PER_CATEGORY + k, category)
        for category in categories()
        for k in range(BOOKS_PER_CATEGORY)
    ]


@dataclass(frozen=True)
class ContactPage:
    """A page with contact details, each shown as a link, as plain text or both.

    E-mail addresses and phone numbers are written the same way in the link
    target (``mailto:`` / ``tel:``) and in the text, so there is exactly one
    right answer for what a contact finder should report.
    """

    path: str
    heading: str
    home_href: str
    emails_linked: tuple[str, ...] = ()
    emails_plain: tuple[str, ...] = ()
    phones_linked: tuple[str, ...] = ()
    phones_plain: tuple[str, ...] = ()
    social: tuple[tuple[str, str], ...] = field(default=())  # (kind, url)

    def truth(self) -> dict[str, list[str]]:
        """Every kind of contact, each value once, in page order (empty lists kept)."""
        found: dict[str, list[str]] = {kind: [] for kind in CONTACT_KINDS}
        values = [("emails", e) for e in self.emails_linked + self.emails_plain]
        values += [("phoneNumbers", p) for p in self.phones_linked + self.phones_plain]
        values += list(self.social)
        for kind, value in values:
            if value not in found[kind]:
                found[kind].append(value)
        return found


_DOMAIN = "demo-books.test"


def _category_contact(category: Category) -> ContactPage:
    i = category.index
    social: list[tuple[str, str]] = []
    if i % 2 == 0:
        social.append(("facebook", f"https://www.facebook.com/demobooks.{category.slug}"))
    if i % 4 == 1:
        # the old domain still counts as an X profile
        social.append(("xcom", f"https://twitter.com/demobooks_{i}"))
    if i % 3 == 0:
        social.append(("clutch", f"https://clutch.co/profile/demo-books-{category.slug}"))
    return ContactPage(
        path=category.contact_path,
        heading=f"{category.name} desk",
        home_href="../../../index.html",
        emails_linked=(f"{category.slug}@{_DOMAIN}",),
        phones_plain=(f"+4416329602{i:02d}",) if i % 2 == 0 else (),
        social=tuple(social),
    )


def contact_pages() -> list[ContactPage]:
    """The shop's contact page, the team page and one desk page per category."""
    shop = ContactPage(
        path="/contact.html",
        heading="Contact us",
        home_href="index.html",
        emails_linked=(f"info@{_DOMAIN}",),
        emails_plain=(f"sales@{_DOMAIN}",),
        phones_linked=("+441632960100",),
        phones_plain=("+441632960199",),
        social=(
            ("linkedin", "https://www.linkedin.com/company/demo-books"),
            ("xcom", "https://x.com/demobooks"),
            ("facebook", "https://www.facebook.com/demobooks"),
            ("instagram", "https://www.instagram.com/demobooks"),
        ),
    )
    team = ContactPage(
        path="/about/team.html",
        heading="Our team",
        home_href="../index.html",
        emails_linked=(f"ada.lovelace@{_DOMAIN}", f"grace.hopper@{_DOMAIN}"),
        emails_plain=(f"alan.turing@{_DOMAIN}",),
        social=(
            ("linkedin", "https://www.linkedin.com/in/ada-lovelace-demo"),
            ("linkedin", "https://www.linkedin.com/in/grace-hopper-demo"),
            ("dribbble", "https://dribbble.com/demobooks-design"),
        ),
    )
    return [shop, team] + [_category_contact(c) for c in categories()]
