"""Reporting: what an analyst reads, downloads or passes on.

- :mod:`~finml.reporting.charts`: plotly figure builders (data in, figure out);
- :mod:`~finml.reporting.runs`: run tables, progress labels and headline tiles;
- :mod:`~finml.reporting.report`: the self-contained HTML model report (a Jinja2 template);
- :mod:`~finml.reporting.exports`: CSV downloads with formula injection neutralised;
- :mod:`~finml.reporting.exchange`: a run exported as one file, and its safe import.
"""
