"""The study's analysis: every run metric declared once (``metric_catalog``), the tidy tables
(``aggregation``), intervals and fronts (``stats``), the seed claims and their verdicts
(``claims``) and the comparison with the reference tables (``replication``)."""
