"""Server-rendered dashboard (Jinja2, inline SVG charts, no external assets)."""
