"""The failure library: recurring failure modes, found in judgments and attacks, kept up to date."""
