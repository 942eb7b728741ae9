"""Shim until factoryloop/kafka/producer.py stops passing ``buffer_memory`` (removed in kafka-python 3.0.12):
declare it as a known (ignored) config so EventProducer can be built. Remove once the lead's fix lands."""

from __future__ import annotations

from kafka import KafkaProducer

KafkaProducer.DEFAULT_CONFIG.setdefault("buffer_memory", 32 * 1024 * 1024)
