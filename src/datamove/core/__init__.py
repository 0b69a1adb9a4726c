"""The bottom layer: what every other package shares and none may change from above — key
ranges and their codec (``keys``), the canonical comparison form (``canonical``), the neutral
column type (``types``) and the evidence records (``evidence``)."""
