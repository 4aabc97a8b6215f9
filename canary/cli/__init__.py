"""The ``canary`` command line (click + rich). Never imports kopf or the operator."""
