"""The example spiders; ``scrapy list`` shows them."""
