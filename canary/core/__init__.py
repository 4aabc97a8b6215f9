"""The pure core: models, decisions, verdicts, PromQL, route patches, the route evaluator.

Nothing here performs I/O, reads the clock or the environment, or imports kopf or the
kubernetes client. Time comes in as an argument (``now``); randomness is seeded.
"""
