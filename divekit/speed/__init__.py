"""Fast paths: faster formulations of the same maths, in one place, each with an off switch."""
