"""Prometheus and cerberus verdicts on a run, as krkn gives them (performance_monitoring, resiliency, cerberus)."""
