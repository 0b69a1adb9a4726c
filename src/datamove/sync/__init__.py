"""Stage 5, execution strategy: change capture on the source and catch-up into the target."""
