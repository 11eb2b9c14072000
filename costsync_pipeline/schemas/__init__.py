"""pandera schemas: the data contract of each stage."""
