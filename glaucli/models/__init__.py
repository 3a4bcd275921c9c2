"""Networks: the backbone registry, the classifier, ensembles. No CLI, no I/O."""
