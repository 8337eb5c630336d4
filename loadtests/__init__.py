"""Load tests of Todo Cloud: Locust workload, SLOs, runner and report (see run.py)."""
