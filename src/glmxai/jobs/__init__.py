"""Orchestration, on top of everything else: the jobs behind train.py, explain.py and analyze.py."""
