"""Thin wrappers over kafka-python: topic admin, an event producer that surfaces delivery errors, and a typed
consumer that sends what it cannot decode to the dead-letter topic."""

from factoryloop.kafka.admin import ensure_topics, wait_for_cluster
from factoryloop.kafka.consumer import Received, TypedConsumer
from factoryloop.kafka.producer import EventProducer

__all__ = ["EventProducer", "Received", "TypedConsumer", "ensure_topics", "wait_for_cluster"]
