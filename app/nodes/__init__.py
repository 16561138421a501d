"""Node backends: one module per backend behind the NodeClient base class."""
