"""Publishing: which frames to send (sampling), store-and-forward (buffer), Kafka (publisher)."""
