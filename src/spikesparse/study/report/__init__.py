"""The study's report: every figure declared once (``figure_registry``) and drawn (``plots``), the
analysis notebook (``notebook``) and the report's index of the tables (``report_tables``)."""
