"""Full `scrapy crawl` runs of the example project against the local emulators."""
