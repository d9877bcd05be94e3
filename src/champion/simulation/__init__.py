"""Simulated traffic: drift injection, replay against a running API, the data router."""
