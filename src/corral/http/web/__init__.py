"""The web's rules, pure (no network, no store): URL normal form, href resolution, link
extraction, robots.txt and sitemap parsing, and the crawl's rules (scope, trap guards)."""
