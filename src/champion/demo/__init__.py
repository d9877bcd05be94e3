"""``champion demo``: the whole lifecycle, embedded on one machine, in one command."""

from champion.demo.run import DemoOptions, DemoStory, run_demo

__all__ = ["DemoOptions", "DemoStory", "run_demo"]
