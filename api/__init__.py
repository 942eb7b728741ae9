"""The defect API: sinks Kafka events into a database and serves inspections, frames, stats, reviews,
fleet status, models, retrain jobs and deployments over a versioned HTTP API and a small dashboard."""
