"""On-box vision: models, person detector, tracker and counting geometry. Nothing leaves RAM."""
