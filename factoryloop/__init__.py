"""factoryloop: the shared package (CLI root, settings helpers, Kafka topics and wire schemas)."""

__version__ = "0.1.0"
