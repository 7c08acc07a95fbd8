"""Items of the example project, and where on a book page each field is."""

from __future__ import annotations

import scrapy


class Book(scrapy.Item):
    """One book of the demo site; ``url`` is the page the fields were scraped from."""

    url = scrapy.Field()
    title = scrapy.Field()
    price = scrapy.Field()
    availability = scrapy.Field()
    rating = scrapy.Field()
    upc = scrapy.Field()
    category = scrapy.Field()
    description = scrapy.Field()


#: Book field → WDS selector on a book's detail page (inner text of each element).
BOOK_FIELDS = {
    "title": "CSS: div.product h1",
    "price": "CSS: div.product p.price",
    "availability": "CSS: div.product p.availability",
    "rating": "CSS: div.product p.rating",
    "upc": "CSS: table.info td.upc",
    "category": "CSS: ul.breadcrumb li.category a",
    "description": "CSS: #description p",
}
