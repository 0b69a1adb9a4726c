"""Stage 4, validation: prove that the target equals mapping(source)."""
