"""The edge agent: camera -> ONNX detector -> rules -> reject signal, with durable publishing to Kafka.

Runs with the ``edge`` extra only; it never imports torch or ultralytics.
"""
