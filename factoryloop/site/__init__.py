"""A real site: Kafka node configs for systemd, offline wheelhouses, Kubernetes topics, security material.

The files that use these live in ``deploy/`` (``deploy/systemd``, ``deploy/k8s``); ``docs/operations.md``
says how.
"""
