"""Alerts for the people on shift: rules over the API database (agents offline, camera health, defect rate,
rollbacks, edge buffers, late rejects), firings stored with their evidence, notices by webhook and e-mail."""
