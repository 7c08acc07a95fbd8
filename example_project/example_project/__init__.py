"""Example spiders for scrapy-wds, runnable against the local emulators."""
