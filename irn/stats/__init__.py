"""Statistics of comparisons (bench/STATISTICS.md): paired differences, the pooled seed
spread, verdicts. Pure numpy/scipy/statsmodels: the harness (bench) and the reports
(dashboards) both read them."""
