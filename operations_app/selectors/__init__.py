"""Reads for pages, API, websockets and the CLI, one module per topic.

Each selector owns a non-trivial read and costs a constant number of queries. Callers
import the topic they need (``from operations_app.selectors import jobs as
job_selectors``).
"""
